// `demo --virtual`: the `npm start` story on the virtual network — registration with digest, a visitor's call, the door code, the relay — as a ladder.
//
// npm start plays it on real sockets (live-demo.ts); this plays the firmware on a deterministic virtual clock:
// boot from an embedded configuration file (firmware/boot.ts), REGISTER / 401 / REGISTER / 200 with a simulated registrar; the visitor presses the button; the
// door calls the resident's phone, which answers; they talk (RTP both ways); the resident keys 1234#
// (RFC 4733) and the relay pulses; the resident hangs up; keep-alive and refresh; the orderly unregister.
import { readFileSync, writeFileSync } from "node:fs";
import { INSTANCE_FILE, boot } from "../firmware/boot.ts";
import { CONFIG_FILE } from "../firmware/config.ts";
import { DoorPhone } from "../firmware/phone.ts";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../firmware/media.ts";
import { MemoryStorage } from "./file-storage.ts";
import { VirtualLink } from "./virtual-link.ts";
import { simPhoneConfig } from "./phone-setup.ts";
import { Registrar } from "./registrar.ts";
import { ToneAudio, WavAudio, wavBytes, type RecordingSpeaker } from "./virtual-audio.ts";
import { VirtualBoard } from "./virtual-board.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform, type CaptureRecord } from "./virtual.ts";
import { ladder } from "./ladder.ts";
import type { LadderMessage } from "./html-ladder.ts";
import { optionValue, writeOutputs } from "./cli-support.ts";


const NAMES: Record<string, string> = { "10.0.0.1": "door", "10.0.0.100": "registrar", "10.0.0.2": "phone" };
const COLUMNS = ["door", "registrar", "phone"];
const WIDTH = 22;

/** One ladder line of a virtual-network record (columns by address). */
function ladderLine(r: CaptureRecord): string {
  const fate = r.fate === "delivered" ? "" : "  [" + r.fate + "]";
  return ladder(r.time, COLUMNS.indexOf(NAMES[r.from] || r.from), COLUMNS.indexOf(NAMES[r.to] || r.to), r.data, COLUMNS.length, WIDTH) + fate;
}

/** The door's configuration file, as a device stores it (README: "The configuration file"). */
const DEMO_CONFIG = {
  sip: { address: "10.0.0.1", port: 5060 },
  accounts: [{ user: "1001", password: "front-door-secret", domain: "sip.example.com", registrar: "10.0.0.100", expires: 120, keepalive: 28 }],
  buttons: [{ pin: "D0", plan: { mode: "single", targets: ["sip:resident@10.0.0.2:5060"] } }],
  door: { code: "1234#", relayPin: "D4" },
};

export const DEMO_USAGE = `usage: doorsip-sim demo --virtual [--verbose] [--mic in.wav] [--record door.wav] [--phone-record phone.wav]

The npm start story on the deterministic virtual network and clock (every run prints the same).


  --verbose             print every SIP message under its ladder line
  --pcap out.pcap       write the run's SIP and RTP datagrams (as sent, lost ones too) as a pcap file
  --html out.html       write the run's SIP exchange as a ladder diagram in one HTML file
  --mic in.wav          the door's microphone plays this file (PCM 16-bit mono, 8000 Hz; looped) instead of a 440 Hz tone
  --record door.wav     write what the door's speaker played (the resident's side) as a WAV file
  --phone-record p.wav  write what the resident's phone played (the door's side) as a WAV file
`;

export function runDemo(args: string[]): number {
  if (args.indexOf("--help") >= 0) { process.stdout.write(DEMO_USAGE); return 0; }
  const verbose = args.indexOf("--verbose") >= 0;
  const mic = optionValue(args, "--mic");
  const record = optionValue(args, "--record");
  const phoneRecord = optionValue(args, "--phone-record");
  const pcap = optionValue(args, "--pcap");
  const html = optionValue(args, "--html");
  if (mic === null || record === null || phoneRecord === null || pcap === null || html === null) { process.stderr.write("demo: an option lacks its file\n" + DEMO_USAGE); return 2; }
  let doorAudio: ToneAudio | WavAudio;
  try {
    doorAudio = mic === "" ? new ToneAudio({ frequencies: 440 }) : new WavAudio({ wav: new Uint8Array(readFileSync(mic)), loop: true });
  } catch (e) {
    process.stderr.write("demo: --mic " + mic + ": " + (e instanceof Error ? e.message : String(e)) + "\n");
    return 2;
  }
  const phoneAudio = new ToneAudio({ frequencies: 1000 });
  const clock = new VirtualClock();
  const lines: string[] = [];
  let rtp = 0;
  const records: CaptureRecord[] = [];
  const messages: LadderMessage[] = [];
  const network = new VirtualNetwork({
    clock, seed: 2026, defaults: { latency: 12, jitter: 6 },
    observer: (r) => {
      if (r.proto !== "udp" || r.fate === "pending") return;
      records.push(r);
      if (r.fromPort !== 5060 || r.toPort !== 5060) { rtp++; return; } // RTP: counted, not drawn
      messages.push({ time: r.time, from: COLUMNS.indexOf(NAMES[r.from] || r.from), to: COLUMNS.indexOf(NAMES[r.to] || r.to), data: r.data });
      lines.push(ladderLine(r) + (verbose ? "\n" + r.data : ""));
    },
  });
  const registrar = new Registrar({
    platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
    realm: "sip.example.com", users: { "1001": "front-door-secret" }, maxExpires: 120,
  });
  const doorBoard = new VirtualBoard(clock, doorAudio);
  // The door boots as the firmware does: its configuration from storage (the embedded default below), then the link.
  const storage = new MemoryStorage();
  storage.write(CONFIG_FILE, JSON.stringify(DEMO_CONFIG));
  storage.write(INSTANCE_FILE, "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21");
  const booted = boot(new VirtualPlatform({ network, address: "10.0.0.1" }), doorBoard, storage,
    new VirtualLink("10.0.0.1", (fn) => clock.schedule(clock.now(), fn)));
  for (const p of booted.problems) console.error("demo config: " + p.path + ": " + p.why);
  const door = booted.phone;
  const phone = new DoorPhone(new VirtualPlatform({ network, address: "10.0.0.2" }), new VirtualBoard(clock, phoneAudio),
    simPhoneConfig("10.0.0.2", { user: "resident", relayPin: "D5", buttonPin: "", allow: ["10.0.0.1"], autoAnswer: { delayMs: 2000 } }));
  if (registrar.open() !== 0 || phone.open() !== 0) { console.error("demo: could not open sockets"); return 1; }

  console.log("doorsip demo: the door (10.0.0.1) registers with a registrar (10.0.0.100, digest); a visitor presses the button;");
  console.log("the door calls the resident's phone (10.0.0.2), which answers and keys 1234# (RFC 4733): the relay opens the door.");
  console.log("virtual network: 12 ms latency, 6 ms jitter; virtual time, seeded: every run is the same\n");
  console.log(`   time s  ${COLUMNS.map((c, i) => (i === COLUMNS.length - 1 ? c : c.padEnd(WIDTH))).join("")}  Call-ID`);
  clock.advance(2000); // boot: the link comes up, the sockets open, the account registers
  doorBoard.pressButton("D0", 300);
  clock.advance(6000); // rings 2 s, then the call is up and audio flows
  for (const d of "1234#") phone.sessions[0].sendDigit(d.charCodeAt(0), 120);
  clock.advance(4000);
  const call = phone.ua.calls !== null ? phone.ua.calls.calls[0] : null;
  if (call !== null && call.live()) phone.hangup(call);
  const media = door.sessions[0];
  const sent = media.stats[MEDIA_PACKETS_SENT];
  const received = media.stats[MEDIA_PACKETS_RECEIVED];
  clock.advance(60000); // keep-alive and the refresh at half the 120 s grant
  door.unregisterAll();
  clock.advance(6000); // past Timer K, so every transaction has ended
  for (const l of lines) console.log(l);
  const reg = door.registrations[0];
  const relay = doorBoard.transitions("D4").map((t) => (t.on ? "on" : "off") + " at " + (t.at / 1000).toFixed(3) + " s").join(", ");
  console.log(`\ncall: RTP ${sent} packets sent and ${received} received by the door (${rtp} RTP datagrams in all); digits received ${door.rtpDigits}`);
  console.log(`door relay: ${relay || "never opened"}; audit: ${door.door.auditText().trim().split("\n").join(" | ")}`);
  console.log(`registration: ${reg.stateName()} (last status ${reg.lastStatus} ${reg.lastReason}); registrar bindings: ${registrar.bindings.length}`);
  console.log(`transactions: ${door.layer.stats.created} created, ${door.layer.active} still live; datagrams: ${network.stats.sent} sent, ${network.stats.lost} lost`);
  const saved = saveRecording(record, doorAudio, "door") && saveRecording(phoneRecord, phoneAudio, "phone") &&
    writeOutputs("demo", pcap, html, records, messages, "doorsip: the door phone on the virtual network", COLUMNS);
  return saved && reg.stateName() === "unregistered" && registrar.bindings.length === 0 && door.door.opens === 1 ? 0 : 1;
}

/** Writes what a speaker played as a WAV file (nothing when no file was asked for); false when it cannot. */
function saveRecording(file: string, speaker: RecordingSpeaker, who: string): boolean {
  if (file === "") return true;
  const samples = speaker.recorded();
  try {
    writeFileSync(file, wavBytes(samples));
  } catch (e) {
    process.stderr.write("demo: cannot write " + file + ": " + (e instanceof Error ? e.message : String(e)) + "\n");
    return false;
  }
  console.log(`${who} speaker: ${(samples.length / 8000).toFixed(2)} s written to ${file}`);
  return true;
}
