// `npm start`: the door-phone firmware on real UDP sockets on 127.0.0.1 — a built-in registrar (digest) and a resident's phone in this process — the story live as a ladder.
import * as dgram from "node:dgram";
import { INSTANCE_FILE, boot } from "../firmware/boot.ts";
import { CONFIG_FILE } from "../firmware/config.ts";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../firmware/media.ts";
import { DoorPhone } from "../firmware/phone.ts";
import { CALL_ACTIVE, REG_REGISTERED, REG_UNREGISTERED } from "../sip-core/index.ts";
import { MemoryStorage } from "./file-storage.ts";
import { ladder, ladderHeader } from "./ladder.ts";
import { NodePlatform, type CapturedDatagram } from "./node-platform.ts";
import type { LadderMessage } from "./html-ladder.ts";
import { optionValue, pushRecord, sleep, until, writeOutputs } from "./cli-support.ts";
import { simPhoneConfig } from "./phone-setup.ts";
import { Registrar } from "./registrar.ts";
import { ToneAudio } from "./virtual-audio.ts";
import { VirtualBoard } from "./virtual-board.ts";
import { VirtualLink } from "./virtual-link.ts";
import type { CaptureRecord } from "./virtual.ts";

export const LIVE_DEMO_USAGE = `usage: npm start [-- options]   (doorsip-sim demo [options])

The door phone on real UDP sockets on 127.0.0.1, with a built-in registrar (digest) and a resident's phone:
registration, the button, the call, RTP, the door code 1234# (RFC 4733), the relay, the hang-up; then it
stays registered (refreshes, keep-alive) until Ctrl-C, which unregisters and exits.

  --once           exit after the story (unregistering first): 0 when the door opened and all went as told
  --verbose        print every SIP message under its ladder line
  --pcap out.pcap  write the run's SIP and RTP datagrams as a pcap file (Wireshark, tshark)
  --html out.html  write the run's SIP exchange as a ladder diagram in one HTML file
  --virtual        the same story on the deterministic virtual network and clock instead (demo --virtual --help)
`;

const HOST = "127.0.0.1";
const COLUMNS = ["door", "registrar", "phone"];
const WIDTH = 22;
const USER = "1001";
const SECRET = "front-door-secret";
const DOMAIN = "sip.example.com";

/** A UDP port nothing on 127.0.0.1 holds right now (bound, read, released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.once("error", reject);
    s.bind(0, HOST, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** An even port p with p + 1 free too (an RTP session and the port above it), found by trying. */
async function freePair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = (await freePort()) & ~1;
    if (p < 1024) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const a = dgram.createSocket("udp4");
      const b = dgram.createSocket("udp4");
      let n = 0, bad = false;
      const done = () => { if (++n === 2) { a.close(); b.close(); resolve(!bad); } };
      for (const [s, port] of [[a, p], [b, p + 1]] as [dgram.Socket, number][]) {
        s.once("error", () => { bad = true; done(); });
        s.bind(port, HOST, done);
      }
    });
    if (ok) return p;
  }
  throw new Error("no free pair of UDP ports on " + HOST);
}

export async function runLiveDemo(args: string[]): Promise<number> {
  if (args.indexOf("--help") >= 0) { process.stdout.write(LIVE_DEMO_USAGE); return 0; }
  const known = new Set(["--once", "--verbose", "--pcap", "--html"]);
  for (let i = 0; i < args.length; i++) {
    if (!known.has(args[i])) { process.stderr.write("demo: unknown option " + args[i] + "\n" + LIVE_DEMO_USAGE); return 2; }
    if (args[i] === "--pcap" || args[i] === "--html") i++;
  }
  const once = args.indexOf("--once") >= 0;
  const verbose = args.indexOf("--verbose") >= 0;
  const pcap = optionValue(args, "--pcap");
  const html = optionValue(args, "--html");
  if (pcap === null || html === null) { process.stderr.write("demo: an option lacks its file\n" + LIVE_DEMO_USAGE); return 2; }

  const [regPort, phonePort, doorPort, doorRtp, phoneRtp] = [await freePort(), await freePort(), await freePort(), await freePair(), await freePair()];
  const columnOf = (port: number) => (port === doorPort || port === doorRtp ? 0 : port === regPort ? 1 : 2);
  const start = performance.now();
  const records: CaptureRecord[] = [];
  let rtp = 0;
  const ladderMessages: LadderMessage[] = [];
  // Every datagram any of the three sends: the SIP ones drawn as they go, all kept for the pcap.
  const capture = (d: CapturedDatagram) => {
    const time = performance.now() - start;
    pushRecord(records, time, d.from, d.fromPort, d.to, d.toPort, d.data);
    const sip = d.fromPort === doorPort || d.fromPort === regPort || d.fromPort === phonePort;
    if (!sip) { rtp++; return; }
    ladderMessages.push({ time, from: columnOf(d.fromPort), to: columnOf(d.toPort), data: d.data });
    console.log(ladder(time, columnOf(d.fromPort), columnOf(d.toPort), d.data, COLUMNS.length, WIDTH) + (verbose ? "\n" + d.data : ""));
  };
  const logs: string[] = [];
  const platform = (who: string) => new NodePlatform({ address: HOST, capture, logSink: (l) => logs.push(who + ": " + l) });

  const registrar = new Registrar({ platform: platform("registrar"), address: HOST, port: regPort, realm: DOMAIN, users: { [USER]: SECRET }, maxExpires: 120 });
  const phonePlatform = platform("phone");
  const phone = new DoorPhone(phonePlatform, new VirtualBoard(phonePlatform.clock, new ToneAudio({ frequencies: 1000 })),
    simPhoneConfig(HOST, { user: "resident", port: phonePort, relayPin: "D5", buttonPin: "", allow: [HOST], autoAnswer: { delayMs: 2000 },
      calls: { rtpPortBase: phoneRtp }, callCapacity: 1 }));
  // The door boots as the firmware does: its configuration file from storage, then the link.
  const storage = new MemoryStorage();
  storage.write(CONFIG_FILE, JSON.stringify({
    sip: { address: HOST, port: doorPort },
    rtp: { address: HOST, portBase: doorRtp },
    accounts: [{ user: USER, password: SECRET, domain: DOMAIN, registrar: HOST, registrarPort: regPort, expires: 120, keepalive: 28 }],
    buttons: [{ pin: "D0", plan: { mode: "single", targets: ["sip:resident@" + HOST + ":" + phonePort] } }],
    door: { code: "1234#", relayPin: "D4" },
  }));
  storage.write(INSTANCE_FILE, "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21");
  if (registrar.open() !== 0 || phone.open() !== 0) { console.error("demo: could not open the registrar's or the phone's socket"); return 1; }
  const doorPlatform = platform("door");
  const doorBoard = new VirtualBoard(doorPlatform.clock, new ToneAudio({ frequencies: 440 }));
  const clock0 = doorPlatform.clock.now() - (performance.now() - start); // the ladder's time 0 on the door's clock

  console.log(`doorsip: the door (${HOST}:${doorPort}) registers with a registrar (:${regPort}, digest); a visitor presses the button;`);
  console.log(`the door calls the resident's phone (:${phonePort}), which answers and keys 1234# (RFC 4733): the relay opens the door.`);
  console.log("real UDP sockets on 127.0.0.1, real time" + (once ? "; exits after the story (--once)" : "; Ctrl-C to stop") + "\n");
  console.log(ladderHeader(COLUMNS, WIDTH));
  const booted = boot(doorPlatform, doorBoard, storage, new VirtualLink(HOST, (fn) => setImmediate(fn)));
  for (const p of booted.problems) console.error("demo config: " + p.path + ": " + p.why);
  const door = booted.phone;
  const status = (what: string) => {
    const r = door.registrations[0];
    const call = door.ua.calls !== null ? door.ua.calls.calls[0] : null;
    console.log(`   -- ${what}: registration ${r.stateName()}, call ${call !== null ? call.stateName() : "-"}, door opened ${door.door.opens}×, ` +
      `RTP ${rtp} datagrams`);
  };
  let failed = "";
  const step = async (ok: () => boolean, ms: number, what: string) => {
    if (failed === "" && !(await until(ok, ms))) failed = what;
  };
  await step(() => door.registrations[0].state === REG_REGISTERED, 5000, "the door did not register");
  if (failed === "") {
    status("registered; the visitor presses the button");
    door.buttonPressed();
  }
  const phoneCall = () => (phone.ua.calls !== null ? phone.ua.calls.calls[0] : null);
  await step(() => { const c = phoneCall(); return c !== null && c.state === CALL_ACTIVE; }, 10000, "the resident's phone did not answer");
  if (failed === "") {
    await sleep(1500); // they talk
    status("in the call; the resident keys 1234#");
    for (const d of "1234#") phone.sessions[0].sendDigit(d.charCodeAt(0), 120);
  }
  await step(() => door.door.opens === 1, 5000, "the door did not open");
  if (failed === "") {
    await sleep(1000);
    const c = phoneCall();
    if (c !== null && c.live()) phone.hangup(c);
  }
  const doorCall = () => (door.ua.calls !== null ? door.ua.calls.calls[0] : null);
  await step(() => { const c = doorCall(); return c === null || !c.live(); }, 5000, "the call did not end");
  const media = door.sessions[0];
  status("the call ended");
  console.log(`call: RTP ${media.stats[MEDIA_PACKETS_SENT]} packets sent and ${media.stats[MEDIA_PACKETS_RECEIVED]} received by the door; digits received ${door.rtpDigits}`);

  const finish = async (): Promise<number> => {
    await until(() => doorBoard.transitions("D4").length >= 2, 3000); // the pulse's end
    const relay = doorBoard.transitions("D4").map((t) => (t.on ? "on" : "off") + " at " + ((t.at - clock0) / 1000).toFixed(3) + " s");
    console.log(`door relay: ${relay.join(", ") || "never opened"}; audit: ${door.door.auditText().trim().split("\n").join(" | ")}`);
    door.unregisterAll();
    await until(() => door.registrations[0].state === REG_UNREGISTERED, 5000);
    const reg = door.registrations[0];
    console.log(`registration: ${reg.stateName()} (last status ${reg.lastStatus} ${reg.lastReason}); registrar bindings: ${registrar.bindings.length}`);
    await sleep(50);
    door.close();
    phone.close();
    registrar.close();
    if (!writeOutputs("demo", pcap, html, records, ladderMessages, "doorsip: the door phone on 127.0.0.1 (real UDP)", COLUMNS)) return 1;
    if (failed !== "") {
      console.error("demo: " + failed + "\n" + logs.slice(-30).join("\n"));
      return 1;
    }
    return reg.state === REG_UNREGISTERED && registrar.bindings.length === 0 && door.door.opens === 1 ? 0 : 1;
  };
  if (once || failed !== "") return finish();
  console.log("\nthe door stays registered (refresh at half the 120 s grant, keep-alive every 28 s); Ctrl-C unregisters and exits");
  return new Promise<number>((resolve) => {
    process.once("SIGINT", () => { console.log(""); finish().then(resolve); });
  });
}
