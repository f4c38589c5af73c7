// `doorsip-sim fuzz`: a mutation fuzzer over SIP messages driving the whole door phone (parser, transactions, dialogs, registration, SDP, RTP/DTMF) on the virtual network.
//
// One world for the whole run: a registrar, the door (the firmware, registered, a door code, the registrar
// trusted as a caller), and spoofed senders — many addresses, the registrar's among them. Each case takes a
// seed message (the corpus, the torture messages, what the stack itself wrote while registering and taking
// a call), applies 1–3 mutations, sends it to the door (now and then RTP to a live call's media port) and
// lets the virtual clock run a little. Invariants, per case: nothing thrown; the door answers one datagram
// with a bounded number of messages; never a response to a response; everything the door sends parses
// (every 4xx is well formed); the clock's queue stays bounded. At the end, once the timers have run out:
// no transaction, call or media session left, and the door never opened.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DoorPhone } from "../firmware/phone.ts";
import { DEFAULT_ACCOUNT, SipMessage, parseMessage, type AccountConfig } from "../sip-core/index.ts";
import { simPhoneConfig } from "./phone-setup.ts";
import { Registrar } from "./registrar.ts";
import { VirtualBoard } from "./virtual-board.ts";
import { SeededRandom, VirtualClock, VirtualNetwork, VirtualPlatform } from "./virtual.ts";

export const FUZZ_USAGE = `usage: doorsip-sim fuzz [--cases N] [--seed S] [--corpus DIR] [--save DIR]

Mutates SIP messages (bit and byte flips, truncation, duplicated headers and lines, huge values, deep nesting
of quotes and brackets, NUL and 8-bit bytes, spliced headers) and sends them to a registered door phone (the
whole firmware) on the virtual network, from many spoofed sources. Checks, per case: nothing thrown, a
bounded answer, no response to a response, every message the door sends parses; at the end: no
transaction, call or media session left, the door never opened. Exit 0 when nothing was found, 1 otherwise.

  --cases N      how many (default 100000)
  --seed S       the run's seed (default 1): the same seed replays the same cases
  --corpus DIR   seed messages: every .sip and .dat file under DIR (default test/fixtures)
  --save DIR     write each finding's input there as <seed>-<case>.sip, for a regression fixture
`;

const DOOR = "10.0.0.1";
const REGISTRAR = "10.0.0.100";
const PEER = "10.0.0.2";
/** Spoofed sources: strangers, and the registrar (a trusted caller) now and then. */
const SOURCES = ["10.9.0.1", "10.9.0.2", "172.16.5.5", "192.168.1.50", "10.0.0.3", REGISTRAR];
/** Messages the door may send in direct answer to one datagram (a provisional and a final, a retransmission). */
const MAX_ANSWERS = 4;
/** The virtual clock's queue: timers and datagrams in flight. */
const MAX_PENDING = 20_000;
const DOOR_CODE = "4826#";

export interface FuzzFinding {
  case: number;
  /** What broke: "threw …", "answered N times", "answered a response", "sent unparsable …", … */
  invariant: string;
  /** The datagram sent in that case (a binary string). */
  input: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  /** Datagrams sent to the door, of which RTP. */
  sent: number;
  rtp: number;
  /** SIP messages the door sent, and its responses by status class. */
  doorSent: number;
  responses: Record<string, number>;
  /** The largest answer to one datagram, and the clock's largest queue. */
  maxAnswers: number;
  maxPending: number;
  findings: FuzzFinding[];
  /** Calls the door took (from the registrar's spoofed address) during the run: the call layer was reached. */
  callsAccepted: number;
}

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Seed messages (binary strings). */
  seeds: string[];
  /** Called with each finding as it is found (e.g. to save it). */
  onFinding?: (f: FuzzFinding) => void;
  /** Inputs to send as they are, one a case, instead of mutated seeds (a regression fixture's replay). */
  replay?: string[];
  /** For the fuzzer's own tests: wraps the door after it is made (e.g. to plant a fault). */
  tamper?: (door: DoorPhone) => void;
}

// --- mutations ---------------------------------------------------------------------------------------------

const NEST = ["<", "\"", "(", "[", "\\\"", "%", ";", ","];
const HUGE = ["4294967296", "99999999999999999999", "-1", "0", "18446744073709551616", "1e9", "0x10"];

function lines(s: string): string[] {
  return s.split("\r\n");
}

/** One mutation of a binary string. */
function mutate(r: SeededRandom, s: string, seeds: string[]): string {
  if (s.length === 0) return String.fromCharCode(r.below(256));
  const i = r.below(s.length);
  switch (r.below(12)) {
    case 0: // a bit flipped
      return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << r.below(8))) + s.slice(i + 1);
    case 1: // a byte replaced: NUL, 8-bit, control, anything
      return s.slice(0, i) + String.fromCharCode([0, 0x80 + r.below(128), r.below(32), r.below(256)][r.below(4)]) + s.slice(i + 1);
    case 2: // truncated
      return s.slice(0, i);
    case 3: { // a header line duplicated (or any line)
      const ls = lines(s);
      const k = r.below(ls.length);
      ls.splice(k, 0, ls[k]);
      return ls.join("\r\n");
    }
    case 4: // a span duplicated in place
      return s.slice(0, i) + s.slice(i, i + 1 + r.below(64)) + s.slice(i);
    case 5: // a huge value
      return s.slice(0, i) + "x".repeat(1 + r.below(r.below(2) === 0 ? 200 : 70_000)) + s.slice(i);
    case 6: { // deep nesting of quotes and brackets
      const open = NEST[r.below(NEST.length)];
      return s.slice(0, i) + open.repeat(1 + r.below(5000)) + s.slice(i);
    }
    case 7: { // a line deleted
      const ls = lines(s);
      ls.splice(r.below(ls.length), 1);
      return ls.join("\r\n");
    }
    case 8: // line ends changed
      return r.below(2) === 0 ? s.split("\r\n").join("\n") : s.replace("\r\n", "\r\n\t" + "y".repeat(r.below(100)) + "\r\n");
    case 9: { // a header from another message spliced in
      const other = lines(seeds[r.below(seeds.length)]);
      const ls = lines(s);
      ls.splice(1 + r.below(Math.max(1, ls.length - 1)), 0, other[r.below(other.length)]);
      return ls.join("\r\n");
    }
    case 10: { // a number replaced by an absurd one
      const m = /\d+/g;
      const spots: number[] = [];
      let x: RegExpExecArray | null;
      while ((x = m.exec(s)) !== null && spots.length < 64) spots.push(x.index, x[0].length);
      if (spots.length === 0) return s + HUGE[r.below(HUGE.length)];
      const k = 2 * r.below(spots.length / 2);
      return s.slice(0, spots[k]) + HUGE[r.below(HUGE.length)] + s.slice(spots[k] + spots[k + 1]);
    }
    default: { // the method or status replaced
      const sp = s.indexOf(" ");
      const heads = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "PRACK", "UPDATE", "SUBSCRIBE", "MESSAGE", "SIP/2.0", "X" + r.below(1000)];
      return sp < 0 ? s : heads[r.below(heads.length)] + s.slice(sp);
    }
  }
}

/** An RTP packet for a call's media port: audio, RFC 4733 events (random digits, never the code's end), or junk. */
function rtpPacket(r: SeededRandom): string {
  const pt = [0, 8, 101, 13, r.below(128)][r.below(5)];
  let s = String.fromCharCode(0x80, pt | (r.below(2) << 7), r.below(256), r.below(256), 0, 0, r.below(256), r.below(256), 1, 2, 3, 4);
  if (pt === 101) s += String.fromCharCode([0, 1, 2, 9, 10][r.below(5)], r.below(256), 0, 160); // no # (11): the code never completes
  else for (let k = r.below(200); k > 0; k--) s += String.fromCharCode(r.below(256));
  return r.below(8) === 0 ? s.slice(0, r.below(s.length)) : s;
}

/** Lines the stack copies from a request into its response (§8.2.6.2), by name and compact form. */
const COPIED: Record<string, string> = {
  via: "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz", v: "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz",
  from: "From: <sip:a@example.com>;tag=a", f: "From: <sip:a@example.com>;tag=a", to: "To: <sip:b@example.com>;tag=b", t: "To: <sip:b@example.com>;tag=b",
  "call-id": "Call-ID: fuzz", i: "Call-ID: fuzz",
};

/**
 * "" when a message the door sent is well formed, else why not. A response must parse whole, except where it
 * echoes what a malformed request carried in the lines §8.2.6.2 has it copy (RFC 4475 asks a 400 for a
 * request whose To is broken, and that 400 carries the To): with those lines' values replaced by valid ones
 * it must then parse — its status line, framing, the lines it writes itself, each header once.
 */
function malformed(d: string, m: SipMessage, request: string): string {
  const n = parseMessage(d, 0, d.length, m);
  if (n > 0 && n === d.length) return "";
  const end = d.indexOf("\r\n\r\n");
  if (end < 0) return "sent a message without the end of its header section";
  const ls = d.substring(0, end).split("\r\n");
  const method = /^([A-Z]+) /.exec(ls[0]);
  const have = new Set<string>();
  let replacing = false;
  for (let k = 1; k < ls.length; k++) {
    if (ls[k].charCodeAt(0) === 32 || ls[k].charCodeAt(0) === 9) { // a folded continuation of the line above
      if (replacing) ls.splice(k--, 1);
      continue;
    }
    const name = ls[k].substring(0, ls[k].indexOf(":")).trim().toLowerCase();
    const full = COPIED[name] !== undefined ? COPIED[name].substring(0, COPIED[name].indexOf(":")).toLowerCase() : name;
    have.add(full);
    replacing = COPIED[name] !== undefined || name === "cseq";
    if (COPIED[name] !== undefined) ls[k] = COPIED[name];
    else if (name === "cseq") ls[k] = "CSeq: 1 " + (method !== null ? method[1] : "OPTIONS");
  }
  // A line the request lacked is lacking in its rejection too (RFC 4475 §3.1.2.18 asks a 400 even then).
  if (/^SIP\/2\.0 [3-6]/.test(ls[0])) {
    // The request's header section ends at its first empty line (CRLF or, leniently read, bare LF).
    const ends = /\r?\n\r?\n/.exec(request);
    const reqHead = ends === null ? request : request.substring(0, ends.index);
    for (const [full, re] of [["from", /\n(from|f)[ \t]*:/i], ["to", /\n(to|t)[ \t]*:/i], ["call-id", /\n(call-id|i)[ \t]*:/i], ["cseq", /\ncseq[ \t]*:/i]] as const) {
      if (!have.has(full) && !re.test(reqHead)) ls.push(full === "cseq" ? "CSeq: 1 OPTIONS" : COPIED[full]);
    }
  }
  const fixed = ls.join("\r\n") + d.substring(end);
  const r = parseMessage(fixed, 0, fixed.length, m);
  if (r > 0 && r === fixed.length) return "";
  return "sent a malformed message (" + (n <= 0 ? n : "framing") + ", " + (r <= 0 ? r : "framing") + " with the copied lines made valid)";
}

// --- the run -----------------------------------------------------------------------------------------------

/** Runs the fuzzer; never throws (what the stack throws is a finding). */
export function runFuzz(o: FuzzOptions): FuzzReport {
  const r = new SeededRandom(o.seed);
  const clock = new VirtualClock();
  // The door's SIP output, as it leaves: checked against the current case.
  let caseIsResponse = false, answers = 0;
  const report: FuzzReport = { seed: o.seed, cases: 0, sent: 0, rtp: 0, doorSent: 0, responses: {}, maxAnswers: 0, maxPending: 0, findings: [], callsAccepted: 0 };
  const found = (n: number, invariant: string, input: string) => {
    const f = { case: n, invariant, input };
    report.findings.push(f);
    if (o.onFinding) o.onFinding(f);
  };
  let current = -1, currentInput = "", delivering = false;
  const parsed = new SipMessage();
  const network = new VirtualNetwork({ clock, seed: o.seed, defaults: { latency: 1 }, captureLimit: 16 });
  // Everything the door sends, as it sends it: the messages it answers the case's datagram with are those sent
  // while that datagram is being handled (timers of earlier cases fire between cases' deliveries, not inside).
  const doorSent = (d: string, port: number) => {
    if (port !== 5060) return; // RTP
    report.doorSent++;
    if (d === "\r\n\r\n" || d === "\r\n") return; // keep-alive ping or pong
    if (delivering) answers++;
    const problem = malformed(d, parsed, currentInput);
    if (problem !== "") found(current, problem + ": " + JSON.stringify(d.slice(0, 300)), currentInput);
    if (!parsed.isRequest && parsed.status > 0) {
      const k = Math.floor(parsed.status / 100) + "xx";
      report.responses[k] = (report.responses[k] || 0) + 1;
      if (delivering && caseIsResponse) found(current, "answered a response with " + parsed.status, currentInput);
    }
  };
  const registrar = new Registrar({ platform: new VirtualPlatform({ network, address: REGISTRAR }), address: REGISTRAR, port: 5060,
    realm: "sip.example.com", users: { door: "door-secret", resident: "resident-secret" }, maxExpires: 3600 });
  const account: AccountConfig = { ...DEFAULT_ACCOUNT, user: "door", password: "door-secret", domain: "sip.example.com", registrar: REGISTRAR,
    registrarPort: 5060, expires: 3600, localAddress: DOOR, localPort: 5060, keepalive: 0 };
  const board = new VirtualBoard(clock, null);
  const doorPlatform = new VirtualPlatform({ network, address: DOOR, seed: o.seed + 1 });
  const openUdp = doorPlatform.openUdp.bind(doorPlatform);
  doorPlatform.openUdp = (opts) => {
    const onMessage = opts.onMessage;
    const sock = openUdp({
      ...opts,
      onMessage: (data, address, port) => {
        // Only the case's own datagram: a peer's request arriving in the same window (a BYE retransmitted,
        // answered 481 once a spoofed BYE ended the call) is not an answer to the case.
        delivering = opts.port === 5060 && current >= 0 && data === currentInput;
        try {
          onMessage(data, address, port);
        } finally {
          delivering = false;
        }
      },
    });
    if (typeof sock === "number") return sock;
    const send = sock.send.bind(sock);
    sock.send = (data, length, address, port) => {
      doorSent(Buffer.from(data.buffer, data.byteOffset, length).toString("latin1"), opts.port);
      return send(data, length, address, port);
    };
    return sock;
  };
  const door = new DoorPhone(doorPlatform, board,
    // Flood control off: it would drop most of the cases unparsed, and the parsing and handling are what is fuzzed.
    simPhoneConfig(DOOR, { code: DOOR_CODE, accounts: [account], autoAnswer: { delayMs: 0 }, targets: ["sip:resident@" + PEER + ":5060"], callCapacity: 2,
      flood: { rate: 0, total: 0 } }));
  const peer = new DoorPhone(new VirtualPlatform({ network, address: PEER, seed: o.seed + 2 }), new VirtualBoard(clock, null),
    simPhoneConfig(PEER, { user: "resident", buttonPin: "", allow: [DOOR], autoAnswer: { delayMs: 0 } }));
  if (o.tamper) o.tamper(door);
  if (registrar.open() !== 0 || door.open() !== 0 || peer.open() !== 0) throw new Error("fuzz: the world's sockets did not open");

  // The stack's own messages join the seeds: a registration (401, credentials, 200) and a call answered and
  // hung up, as they crossed the network.
  const seeds = o.seeds.slice();
  network.observer = (rec) => {
    if (rec.proto === "udp" && rec.fromPort === 5060 && rec.toPort === 5060 && seeds.length < o.seeds.length + 40) seeds.push(rec.data);
  };
  const step = (n: number, input: string, fn: () => void) => {
    current = n;
    currentInput = input;
    try {
      fn();
    } catch (e) {
      found(n, "threw " + (e instanceof Error ? e.stack || e.message : String(e)).split("\n").slice(0, 4).join(" | "), input);
    }
  };
  step(-1, "", () => {
    door.registerAll();
    clock.advance(2000);
    door.buttonPressed();
    clock.advance(3000);
    for (const c of door.ua.calls!.calls) if (c.live()) door.hangup(c);
    clock.advance(1000);
  });
  network.observer = null;
  if (seeds.length === o.seeds.length) found(-1, "the stack's own messages were not seen (the world did not run)", "");

  const cases = o.replay !== undefined ? o.replay.length : o.cases;
  for (let n = 0; n < cases; n++) {
    report.cases++;
    const live = door.ua.calls!.calls.find((c) => c.live() && c.mediaPort > 0);
    if (live !== undefined && o.replay === undefined && r.below(10) === 0) {
      const pkt = rtpPacket(r);
      report.rtp++;
      report.sent++;
      step(n, pkt, () => {
        network.sendDatagram(SOURCES[r.below(SOURCES.length)], 30000 + 2 * r.below(4), DOOR, live.mediaPort, pkt);
        clock.advance(2);
      });
      continue;
    }
    let msg = o.replay !== undefined ? o.replay[n] : seeds[r.below(seeds.length)];
    const rounds = o.replay !== undefined || r.below(10) === 0 ? 0 : 1 + r.below(3); // a tenth go unmutated: the paths valid traffic takes
    for (let k = 0; k < rounds; k++) msg = mutate(r, msg, seeds);
    caseIsResponse = msg.startsWith("SIP/2.0 ");
    answers = 0;
    report.sent++;
    const input = msg;
    step(n, input, () => {
      network.sendDatagram(SOURCES[r.below(SOURCES.length)], r.below(4) === 0 ? 1024 + r.below(60000) : 5060, DOOR, 5060, input);
      clock.advance(1 + r.below(8));
    });
    if (answers > report.maxAnswers) report.maxAnswers = answers;
    if (answers > MAX_ANSWERS) found(n, "answered one datagram with " + answers + " messages", input);
    const pending = clock.pending;
    if (pending > report.maxPending) report.maxPending = pending;
    if (pending > MAX_PENDING) found(n, "the clock's queue holds " + pending + " events", input);
    current = -1;
  }
  // The door unregisters (no refresh left to come), then the timers run out: every transaction (Timers J, K,
  // H, I, D), every call (no ACK, no RTP, the longest call: 300 s).
  step(cases, "", () => {
    door.unregisterAll();
    clock.advance(600_000);
  });
  const calls = door.ua.calls!;
  report.callsAccepted = door.counters.accepted;
  if (door.layer.active !== 0) found(cases, door.layer.active + " transactions left after the timers ran out", "");
  if (calls.liveCount() !== 0) found(cases, calls.liveCount() + " calls left after the timers ran out", "");
  if (door.sessions.some((s) => s.isRunning())) found(cases, "a media session still running", "");
  if (door.door.opens !== 0 || board.transitions("D4").length !== 0) found(cases, "the door opened " + door.door.opens + "×", "");
  return report;
}

/** Every .sip and .dat file under dir (sorted), as binary strings. */
export function loadSeeds(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".sip") || e.name.endsWith(".dat")) out.push(readFileSync(p).toString("latin1"));
    }
  };
  walk(dir);
  return out;
}

/** The command: options, the run, a summary; each finding saved when asked. */
export function fuzzCommand(args: string[]): number {
  if (args.indexOf("--help") >= 0) { process.stdout.write(FUZZ_USAGE); return 0; }
  const v: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    if (["--cases", "--seed", "--corpus", "--save"].indexOf(args[i]) < 0 || args[i + 1] === undefined) {
      process.stderr.write("fuzz: bad option " + args[i] + "\n" + FUZZ_USAGE);
      return 2;
    }
    v[args[i]] = args[i + 1];
  }
  const cases = Number(v["--cases"] ?? 100000), seed = Number(v["--seed"] ?? 1);
  if (!Number.isInteger(cases) || cases < 0 || !Number.isInteger(seed)) { process.stderr.write("fuzz: --cases and --seed take integers\n"); return 2; }
  let seeds: string[];
  try {
    seeds = loadSeeds(v["--corpus"] ?? "test/fixtures");
  } catch (e) {
    process.stderr.write("fuzz: cannot read the corpus: " + (e instanceof Error ? e.message : String(e)) + "\n");
    return 2;
  }
  if (seeds.length === 0) { process.stderr.write("fuzz: no .sip or .dat file in the corpus\n"); return 2; }
  const save = v["--save"];
  if (save) mkdirSync(save, { recursive: true });
  const t0 = performance.now();
  const report = runFuzz({
    cases, seed, seeds,
    onFinding: (f) => {
      process.stdout.write(`finding, case ${f.case}: ${f.invariant}\n`);
      if (save && f.input !== "") writeFileSync(join(save, seed + "-" + f.case + ".sip"), Buffer.from(f.input, "latin1"));
    },
  });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const classes = Object.keys(report.responses).sort().map((k) => k + " " + report.responses[k]).join(", ");
  process.stdout.write(`fuzz: seed ${seed}, ${report.cases} cases (${report.rtp} RTP) from ${seeds.length} seed files in ${s} s; ` +
    `the door sent ${report.doorSent} messages (responses: ${classes}), at most ${report.maxAnswers} for one datagram; ` +
    `${report.callsAccepted} calls accepted; ${report.findings.length} finding(s)\n`);
  return report.findings.length === 0 ? 0 : 1;
}
