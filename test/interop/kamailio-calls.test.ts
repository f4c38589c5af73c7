// Issue 6 acceptance: the door-phone firmware on the Node HAL (real sockets, 127.0.0.1) against Kamailio 5.6 as
// registrar and record-routing proxy for doorsip.test (test/interop/kamailio/proxy.cfg.tmpl, no database) and
// baresip 1.0.0 registered there as "resident". Both ways through the proxy: the door's button calls
// sip:resident@doorsip.test (407, then the INVITE with Proxy-Authorization; Kamailio's location lookup finds
// baresip), and baresip calls sip:door@doorsip.test (the door trusts it because it comes from its registrar
// and auto-answers). In each call baresip keys 1234# as RFC 4733 events, the relay pulses, RTP flows both ways
// and the BYE goes through Kamailio (Record-Route). tshark checks every datagram on the door's SIP port.
// The door's 180 and 200 copy Kamailio's Record-Route (RFC 3261 §12.1.1), so every in-dialog request of both
// sides, baresip's ACK included, goes through Kamailio.
//
// Each test has its own Kamailio (bindings live as long as the process), baresip, door and ports, and takes
// about 6.5–8 s, plus up to ~2.5 s in afterEach (Kamailio exits ~1.6 s after SIGTERM; it is waited for).
import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../../firmware/media.ts";
import { CALL_ACTIVE, REG_REGISTERED, type AccountConfig, type Call } from "../../sip-core/index.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { ToneAudio } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { startBaresip, type Baresip } from "./baresip.ts";
import { startKamailio, stopAllKamailio, stopKamailioAndWait, ulDump, type Kamailio } from "./kamailio.ts";
import { type Capture, decodeProblems, sipFields, sipSummary, startCapture } from "./tshark.ts";

const template = readFileSync(new URL("./kamailio/proxy.cfg.tmpl", import.meta.url), "utf8");
const DOMAIN = "doorsip.test";
const USERS: Record<string, string> = { door: "front-door-secret", resident: "flat-3b-secret", guest: "guest-secret" };
const INSTANCE = "urn:uuid:6d1b1a0e-3c5f-4a8e-9f4e-2b7c0d9e1a35";
const CODE = "1234#";
const PULSE_MS = 800;

// Ports, clear of the other interop files (baresip 10000–17999 and 20000–22799 with slots 0–5, the door in
// baresip.test.ts 18000–18999 and 23500–23899, sipp 25060–26259, kamailio.test.ts 27000–28399, sipp-calls
// 29000–30999) and below the ephemeral range (32768+): SIP 31000 + 10·(pid % 100) + 2·t (Kamailio) and + 1
// (the door); the door's RTP 19000 + 10·(pid % 100) + 4·t (two call slots); baresip slot 6 + t.
const SLOT = process.pid % 100;
const kamPort = (t: number) => 31000 + 10 * SLOT + 2 * t;
const doorPort = (t: number) => 31000 + 10 * SLOT + 2 * t + 1;
const doorRtp = (t: number) => 19000 + 10 * SLOT + 4 * t;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 25) await sleep(25);
  return cond();
};

interface World {
  kam: Kamailio;
  baresip: Baresip;
  door: DoorPhone;
  board: VirtualBoard;
  capture: Capture;
  /** The door's log lines. */
  log: string[];
  dport: number;
  kport: number;
  relay(): boolean[];
  /** What every side saw, for a failing assertion's message. */
  why(): string;
}

let world: World | null = null;
let pcapDir = "";

afterEach(async () => {
  const w = world;
  world = null;
  if (w === null) return;
  w.door.close();
  await Promise.all([w.baresip.stop(), stopKamailioAndWait(w.kam), w.capture.stop().then((p) => { pcapDir = dirname(p); })]);
  if (pcapDir !== "" && process.env.DOORSIP_KEEP_PCAP !== "1") rmSync(pcapDir, { recursive: true, force: true });
  else if (pcapDir !== "") console.log("[kamailio-calls] capture kept in " + pcapDir);
  pcapDir = "";
}, 15000);

afterAll(async () => { await stopAllKamailio(); }, 15000);

/** Kamailio, the tshark capture on the door's port, baresip registered as resident, the door registered as door. */
async function setup(t: number): Promise<World> {
  const kport = kamPort(t);
  const dport = doorPort(t);
  const users = Object.entries(USERS).map(([u, p]) => "$sht(users=>" + u + ') = "' + p + '";').join("\n\t");
  const kam = await startKamailio({ template, port: kport, values: { DOMAIN, USERS: users } });
  const log: string[] = [];
  let baresip: Baresip | null = null;
  let capture: Capture | null = null;
  let door: DoorPhone | null = null;
  try {
    capture = await startCapture(dport);
    baresip = await startBaresip({
      name: "resident", slot: 6 + t, user: "resident", domain: DOMAIN, regint: 600, authUser: "resident",
      authPass: USERS.resident, outbound: "sip:127.0.0.1:" + kport, source: { sine: 1000 },
    });
    await baresip.waitEvent("REGISTER_OK", 5000);

    const platform = new NodePlatform({ logSink: (line) => log.push(Math.round(performance.now()) + " " + line) });
    const board = new VirtualBoard(platform.clock, new ToneAudio({ frequencies: 600 }));
    const account: AccountConfig = {
      user: "door", authUser: "", password: USERS.door, domain: DOMAIN, registrar: "127.0.0.1", registrarPort: kport, transport: 0,
      expires: 600, instanceId: INSTANCE, localAddress: "127.0.0.1", localPort: dport, backoffBase: 30, backoffMax: 1800, keepalive: 0,
    };
    door = new DoorPhone(platform, board, simPhoneConfig("127.0.0.1", {
      port: dport, accounts: [account], targets: ["sip:resident@" + DOMAIN], code: CODE, door: { pulseMs: PULSE_MS },
      calls: {
        user: "door", domain: DOMAIN, authUser: "door", password: USERS.door,
        outboundProxy: "127.0.0.1", outboundPort: kport, rtpPortBase: doorRtp(t),
      },
      // Only the registrar's calls are trusted (no allow list) and auto-answered.
      trust: { registrar: true, allow: [] },
      autoAnswer: { enabled: true, delayMs: 500, from: ["registrar"] },
    }));
    const rc = door.open();
    if (rc !== 0) throw new Error("the door cannot open its socket on " + dport + ": " + rc);
    await sleep(100);
    door.registerAll();
    const d = door;
    const b = baresip;
    const w: World = {
      kam, baresip: b, door: d, board, capture, log, dport, kport,
      relay: () => board.transitions("D4").map((x) => x.on),
      why: () => "\n--- door log\n" + log.join("\n") + "\n--- door status\n" + d.status()
        + "\n--- kamailio\n" + kam.lines(/ (RX|AUTH|AUTHOK|SAVED|LOOKUP|RELAY|INDLG|CANCEL|REPLY|SANITY|DENIED) |ERROR|WARN/).join("\n")
        + "\n--- baresip events\n" + b.events.map((e) => e.type + (e.param ? "(" + e.param + ")" : "")).join(", "),
    };
    world = w;
    expect(await until(() => d.registrations[0].state === REG_REGISTERED, 5000), "the door did not register" + w.why()).toBe(true);
    return w;
  } catch (e) {
    door?.close();
    await Promise.all([baresip?.stop(), stopKamailioAndWait(kam), capture?.stop().then((p) => rmSync(dirname(p), { recursive: true, force: true }))]);
    world = null;
    throw e;
  }
}


/** Stops the door's capture (tshark.ts waits for the last datagrams to reach the file). */
async function stopCapture(w: World): Promise<string> {
  return w.capture.stop();
}

/** Kamailio writes its xlog lines to stderr a moment after the SIP: wait for a line. */
const logged = (k: Kamailio, re: RegExp, n = 1, ms = 2000) => until(() => k.lines(re).length >= n, ms);

/** RTP both ways: the door's counters and baresip's (after a couple of seconds of call). */
async function checkMedia(w: World, call: Call): Promise<void> {
  const session = w.door.sessions[call.index];
  expect(await until(() => session.stats[MEDIA_PACKETS_RECEIVED] > 50, 3000), "door RTP in: " + session.stats[MEDIA_PACKETS_RECEIVED] + w.why()).toBe(true);
  expect(session.stats[MEDIA_PACKETS_SENT]).toBeGreaterThan(50);
  const debug = await w.baresip.audioDebug();
  expect(debug, "baresip has no call").not.toBe(null);
  expect(debug!.rxPackets).toBeGreaterThan(50);
  expect(debug!.remote).toBe("127.0.0.1:" + call.mediaPort); // baresip sends to the door's RTP port (no media relay)
}

/** baresip keys the code; the relay pulses once (on, then off after PULSE_MS). */
async function keyCode(w: World): Promise<void> {
  const t0 = performance.now();
  await w.baresip.sendDtmf(CODE);
  expect(await until(() => w.relay().length >= 1, 5000), "relay never switched; digits " + w.door.rtpDigits + "\n" + w.door.door.auditText() + w.why()).toBe(true);
  const onAt = performance.now() - t0;
  expect(w.door.rtpDigits).toBe(CODE.length);
  expect(w.door.door.opens).toBe(1);
  expect(await until(() => w.relay().length === 2, PULSE_MS + 1500)).toBe(true);
  expect(w.relay()).toEqual([true, false]);
  const [on, off] = w.board.transitions("D4");
  expect(off.at - on.at).toBeGreaterThanOrEqual(PULSE_MS - 5);
  expect(off.at - on.at).toBeLessThan(PULSE_MS + 300);
  console.log("[kamailio-calls] relay on " + Math.round(onAt) + " ms after sndcode, pulse " + Math.round(off.at - on.at) + " ms");
}

describe("the door through Kamailio (registrar + record-routing proxy for " + DOMAIN + ") to and from baresip", () => {
  it("button press: 407, INVITE with credentials, Kamailio finds resident; baresip answers, keys 1234#, the relay pulses; baresip's BYE comes via Kamailio", async () => {
    const t0 = performance.now();
    const w = await setup(0);
    const { kam, baresip, door, dport, kport } = w;
    const setupMs = performance.now() - t0;

    // Both registered at Kamailio, the door with its own port and instance.
    expect(await logged(kam, /SAVED aor=sip:door@doorsip\.test /)).toBe(true);
    const dump = await ulDump(kam);
    expect(dump).toMatch(/AoR: door\b/);
    expect(dump).toMatch(/AoR: resident\b/);
    expect(dump).toContain("Address: sip:door@127.0.0.1:" + dport);
    expect(dump).toContain(INSTANCE);

    const since = baresip.events.length;
    const call = door.buttonPressed();
    expect(call, "the button did not start a call" + w.why()).not.toBe(null);
    const incoming = await baresip.waitEvent((e) => e.type === "CALL_INCOMING" || e.type === "CALL_ESTABLISHED", 5000, since);
    await baresip.waitEvent("CALL_ESTABLISHED", 5000, since);
    expect(await until(() => call!.state === CALL_ACTIVE, 2000), "door call state " + call!.state + w.why()).toBe(true);
    expect(incoming.peeruri).toBe("sip:door@" + DOMAIN);
    // The dialog's route set is Kamailio's Record-Route, and in-dialog requests go to Kamailio.
    const routes = call!.dialog.routes.slice(0, call!.dialog.routeCount);
    expect(routes.length, "route set " + JSON.stringify(routes)).toBe(1);
    expect(routes[0]).toMatch(new RegExp("^<?sip:127\\.0\\.0\\.1:" + kport + ";lr"));
    expect([call!.dialog.hopAddress, call!.dialog.hopPort]).toEqual(["127.0.0.1", kport]);

    // Kamailio's view: the first INVITE without credentials got 407, the second carried them, the lookup
    // found baresip's contact and the INVITE was relayed with Record-Route.
    expect(await logged(kam, /RELAY INVITE /)).toBe(true);
    const invites = kam.lines(/ RX INVITE sip:resident@doorsip\.test /);
    expect(invites.length, w.why()).toBe(2);
    expect(invites[0]).toContain(" pauth= "); // no Proxy-Authorization (the length of nothing is empty)
    expect(invites[0]).toContain("route=<sip:127.0.0.1:" + kport + ";lr>");
    expect(invites[1]).toMatch(/ pauth=[1-9]\d* /);
    expect(kam.lines(/AUTH 407 rc=-5 INVITE from=sip:door@doorsip\.test/).length).toBe(1);
    expect(kam.lines(/AUTHOK INVITE au=door$/).length).toBe(1);
    expect(kam.lines(/LOOKUP sip:resident@doorsip\.test -> sip:resident-0x[0-9a-f]+@127\.0\.0\.1:/).length, w.why()).toBe(1);
    // baresip received it from Kamailio, record-routed.
    const got = baresip.sipTrace().find((m) => !m.sent && m.message.startsWith("INVITE "));
    expect(got, "baresip's trace has no INVITE").toBeDefined();
    expect(got!.src).toBe("127.0.0.1:" + kport);
    expect(got!.message).toMatch(new RegExp("\\r\\nRecord-Route: <sip:127\\.0\\.0\\.1:" + kport + ";lr;ftag=[^>]+>\\r\\n", "i"));
    expect(got!.message).toMatch(/\r\nFrom: [^\r]*<sip:door@doorsip\.test>;tag=/);

    await sleep(800);
    await keyCode(w);
    await checkMedia(w, call!);
    expect(baresip.dtmfReceived()).toBe(""); // nothing the other way

    // baresip hangs up: its BYE goes to Kamailio (loose_route) and on to the door.
    const closed = baresip.events.length;
    await baresip.hangup();
    await baresip.waitEvent("CALL_CLOSED", 3000, closed);
    expect(await until(() => door.ua.calls!.liveCount() === 0, 3000), "the door's call did not end" + w.why()).toBe(true);
    expect(call!.endStatus === 0 || call!.endStatus === 200).toBe(true);
    expect(door.sessions[call!.index].isRunning()).toBe(false);
    expect(await logged(kam, /INDLG BYE -> sip:door@127\.0\.0\.1:\d+\S* via loose_route/), w.why()).toBe(true);
    expect(await logged(kam, /REPLY 200 OK BYE .* src=127\.0\.0\.1:(\d+) /)).toBe(true);
    expect(kam.lines(/REPLY 200 OK BYE /)[0]).toContain("src=127.0.0.1:" + dport + " ");
    // The ACK of the 2xx also went through Kamailio.
    expect(kam.lines(/INDLG ACK -> sip:resident-0x/).length, w.why()).toBe(1);

    // tshark: every datagram on the door's port is clean SIP; the ladder as the door saw it.
    const pcap = await stopCapture(w);
    pcapDir = dirname(pcap);
    const ports = [dport, kport];
    const problems = decodeProblems(pcap, ports);
    expect(problems, problems.join("\n")).toEqual([]);
    const ladder = sipFields(pcap, ports, "sip", ["udp.srcport", "udp.dstport", "sip.Method", "sip.Status-Code", "sip.CSeq.method"]);
    const summary = sipSummary(pcap, ports).join("\n");
    // Everything the door sent went to Kamailio, and everything it received came from Kamailio.
    for (const [src, dst] of ladder) expect([src, dst].sort(), summary).toEqual([String(dport), String(kport)].sort());
    const sentInvites = sipFields(pcap, ports, "sip.Method == \"INVITE\" && udp.srcport == " + dport, ["sip.Proxy-Authorization", "sip.Route"]);
    expect(sentInvites.length, summary).toBe(2);
    expect(sentInvites[0][0]).toBe("");
    expect(sentInvites[1][0]).toMatch(/^Digest .*username="door".*realm="doorsip\.test"/);
    expect(sentInvites.every((f) => f[1] === "<sip:127.0.0.1:" + kport + ";lr>"), summary).toBe(true);
    const bye = sipFields(pcap, ports, "sip.Method == \"BYE\"", ["udp.srcport", "udp.dstport"]);
    expect(bye, summary).toEqual([[String(kport), String(dport)]]);
    console.log("[kamailio-calls] door → resident: set up (Kamailio, baresip and door registered) in " + Math.round(setupMs) + " ms, "
      + ladder.length + " SIP messages on the door's port, tshark-clean; test " + Math.round(performance.now() - t0) + " ms");
  }, 20000);

  it("baresip calls sip:door@" + DOMAIN + ": Kamailio relays it to the door's binding, the door trusts its registrar and auto-answers; 1234# pulses the relay; the door's BYE goes via Kamailio", async () => {
    const t0 = performance.now();
    const w = await setup(1);
    const { kam, baresip, door, dport, kport } = w;

    const since = baresip.events.length;
    await baresip.dial("sip:door@" + DOMAIN);
    await baresip.waitEvent("CALL_ESTABLISHED", 5000, since);
    const calls = door.ua.calls!.calls;
    expect(await until(() => calls.some((c) => c.state === CALL_ACTIVE), 2000), w.why()).toBe(true);
    const call = calls.find((c) => c.state === CALL_ACTIVE)!;
    expect(call.outgoing).toBe(false);
    expect(call.authorised).toBe(true);
    expect(call.peer).toMatch(/^sip:resident@doorsip\.test/);
    expect(door.counters.accepted).toBe(1);
    expect(door.counters.refused).toBe(0);
    expect(w.log.some((l) => /call from sip:resident@doorsip\.test.*: answering/.test(l)), w.why()).toBe(true);
    const routes = call.dialog.routes.slice(0, call.dialog.routeCount);
    expect(routes.length, "route set " + JSON.stringify(routes)).toBe(1);
    expect(routes[0]).toMatch(new RegExp("^<?sip:127\\.0\\.0\\.1:" + kport + ";lr"));

    // Kamailio: baresip was challenged (407), then its INVITE was looked up to the door's contact.
    expect(await logged(kam, /RELAY INVITE /)).toBe(true);
    expect(kam.lines(/AUTH 407 rc=-5 INVITE from=sip:resident@doorsip\.test/).length, w.why()).toBe(1);
    expect(kam.lines(/AUTHOK INVITE au=resident$/).length).toBe(1);
    expect(kam.lines(new RegExp("LOOKUP sip:door@doorsip\\.test -> sip:door@127\\.0\\.0\\.1:" + dport)).length, w.why()).toBe(1);

    await sleep(800);
    await keyCode(w);
    await checkMedia(w, call);

    // The door hangs up: BYE to Kamailio (the route set), relayed to baresip.
    const closed = baresip.events.length;
    door.hangup(call);
    const ev = await baresip.waitEvent("CALL_CLOSED", 3000, closed);
    expect(ev.param).toMatch(/reset by peer|Connection reset/i);
    expect(await until(() => door.ua.calls!.liveCount() === 0, 3000), w.why()).toBe(true);
    expect(await logged(kam, /INDLG BYE -> sip:resident-0x[0-9a-f]+@127\.0\.0\.1:\d+\S* via loose_route/), w.why()).toBe(true);
    expect(kam.lines(/ RX BYE /)[0]).toContain("src=127.0.0.1:" + dport + " ");
    expect(await logged(kam, /REPLY 200 OK BYE /)).toBe(true);

    const pcap = await stopCapture(w);
    pcapDir = dirname(pcap);
    const ports = [dport, kport];
    const problems = decodeProblems(pcap, ports);
    expect(problems, problems.join("\n")).toEqual([]);
    const summary = sipSummary(pcap, ports).join("\n");
    const ladder = sipFields(pcap, ports, "sip", ["udp.srcport", "udp.dstport", "sip.Method", "sip.Status-Code", "sip.CSeq.method", "sip.Record-Route"]);
    const rr = new RegExp("^<sip:127\\.0\\.0\\.1:" + kport + ";lr;ftag=[^>]+>$");
    // The door's 180 and 200 to the INVITE: RFC 3261 §12.1.1 says they MUST carry the INVITE's Record-Route.
    const answers = ladder.filter(([src, , , status, cseq]) => src === String(dport) && (status === "180" || status === "200") && cseq === "INVITE");
    expect(answers.map((f) => f[3]), summary).toEqual(["180", "200"]);
    for (const a of answers) expect(a[5], "the door's " + a[3] + " lacks Kamailio's Record-Route\n" + summary).toMatch(rr);
    for (const [src, dst] of ladder) expect([src, dst].sort(), summary).toEqual([String(dport), String(kport)].sort());
    const bye = sipFields(pcap, ports, "sip.Method == \"BYE\"", ["udp.srcport", "udp.dstport", "sip.Route"]);
    expect(bye.length, summary).toBe(1);
    expect(bye[0].slice(0, 2)).toEqual([String(dport), String(kport)]);
    expect(bye[0][2]).toMatch(new RegExp("^<sip:127\\.0\\.0\\.1:" + kport + ";lr;ftag="));
    console.log("[kamailio-calls] resident → door: " + ladder.length + " SIP messages on the door's port, tshark-clean; test "
      + Math.round(performance.now() - t0) + " ms");
  }, 20000);
});
