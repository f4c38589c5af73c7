// `doorsip-sim fleet`: N door phones (the full firmware each, own port and account) registering against a real SIP server from one process, with a report.
import { writeFileSync } from "node:fs";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../firmware/media.ts";
import type { PhoneConfig } from "../firmware/phone-config.ts";
import { DoorPhone } from "../firmware/phone.ts";
import { CALL_ACTIVE, CALL_ENDED, CALL_FREE, DEFAULT_ACCOUNT, DEFAULT_TIMERS, REG_BACKOFF, REG_FAILED, REG_REGISTERED, REG_REGISTERING, REG_UNREGISTERED, REG_UNREGISTERING,
  type Call } from "../sip-core/index.ts";
import { pushRecord, sleep, writeOutputs } from "./cli-support.ts";
import type { LadderMessage } from "./html-ladder.ts";
import { NodePlatform } from "./node-platform.ts";
import { Registrar } from "./registrar.ts";
import { simPhoneConfig } from "./phone-setup.ts";
import { ToneAudio } from "./virtual-audio.ts";
import { VirtualBoard } from "./virtual-board.ts";
import type { CaptureRecord } from "./virtual.ts";

export const FLEET_USAGE = `usage: doorsip-sim fleet --devices N --registrar host:port [options]

N door phones in this process, each the whole firmware with its own UDP port and account, register with the
registrar; then a report: registrations per second, successes, failures by status code, latency percentiles
(first REGISTER to registered, the digest challenge included), retransmissions, memory per device.

  --devices N          how many (required)
  --registrar h:p      the SIP registrar (required), e.g. 127.0.0.1:5060
  --rate R             devices started per second (default 1000)
  --concurrency L      at most L registrations in progress at once (default 300; sipp's -l)
  --warmup W           before the clock starts, W registrations against a registrar in this process so that
                       V8 has compiled the firmware's hot paths (default 2000; 0: measure a cold start)
  --duration S         stop waiting for registrations after S seconds from the first start (default 30)
  --user PATTERN       each device's user; {n} is its number from 1 (default door{n})
  --password PATTERN   each device's password; {n} as above (default secret)
  --domain D           the accounts' domain (default: the registrar's host)
  --address A          local address to bind (default 127.0.0.1)
  --port-base P        device n binds P + n - 1 (default 40000)
  --expires S          the expiry asked for (default 600)
  --json FILE          also write the report as JSON (- : standard output, instead of the text)
  --calls pairs        once registered, device 1 calls device 2's account through the server, 3 calls 4, …
                       (each answered by the callee's auto-answer, RTP both ways, hung up by the caller)
  --call-hold MS       how long an answered call lasts before the caller hangs up (default 1000)
  --rtp-port-base R    with --calls, device n's RTP port is R + 2(n - 1) (default: after the SIP and warm-up ports)
  --pcap FILE          write every datagram the devices sent and received (the warm-up's not) as a pcap file
  --html FILE          write the SIP exchange as a ladder diagram (devices | server) in one HTML file
`;

export interface FleetOptions {
  devices: number;
  host: string;
  port: number;
  rate: number;
  /** Registrations in progress at once, at most (a load generator's window: what the server's queue holds). */
  concurrency: number;
  /** Registrations made in this process, against its own registrar, before the clock starts (JIT warm-up). */
  warmup: number;
  /** "pairs": once registered, device 2k+1 calls device 2k+2 through the server; "": no calls. */
  calls: string;
  /** ms an answered call lasts before the caller hangs up. */
  callHoldMs: number;
  /** Device i's RTP port is rtpPortBase + 2i (with calls). */
  rtpPortBase: number;
  durationS: number;
  user: string;
  password: string;
  domain: string;
  address: string;
  portBase: number;
  expires: number;
}

export interface FleetReport {
  devices: number;
  registered: number;
  failed: number;
  /** Devices neither registered nor failed when the time was up. */
  pending: number;
  /** By final status of the devices that did not register ("timeout" when no answer came). */
  failures: Record<string, number>;
  /** Registered devices per second, from the first start to the last registration. */
  registrationsPerSecond: number;
  elapsedMs: number;
  latencyMs: Spread;
  retransmissions: number;
  requestsSent: number;
  /** Heap (V8) growth per device once all were made, in bytes. */
  heapBytesPerDevice: number;
  unregistered: number;
  /** With --calls: the calls made once registered (null without). */
  calls: FleetCalls | null;
  /** This process's CPU time (every thread: user + system) while the clock ran, per registered device, in µs. */
  cpuMicrosPerRegistration: number;
  /** The most registrations in progress at once (at most --concurrency). */
  maxInProgress: number;
  /** Registrations made against the in-process registrar before the clock started (--warmup). */
  warmupRegistrations: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round = (x: number) => Math.round(x * 10) / 10;

export interface Spread { p50: number; p95: number; p99: number; max: number }

/** p50, p95, p99 and max of sorted times, in ms to a tenth. */
function spread(sorted: number[]): Spread {
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1] : 0) };
}

const fill = (pattern: string, n: number) => pattern.split("{n}").join(String(n));

/**
 * The door phone, telling the fleet after every event it handled (each datagram and alarm ends in rearm()):
 * the outcome of a registration is taken as it happens. One method of one class, not two wrapper closures
 * per device over its registration's methods.
 */
class FleetPhone extends DoorPhone {
  readonly index: number;
  // Set once, at construction: a field V8 has seen hold one value and is then written again (null, or a no-op,
  // then the fleet's callback) makes it discard the code compiled during the warm-up (seen with --trace-deopt).
  readonly onEvent: (index: number) => void;

  constructor(platform: NodePlatform, board: VirtualBoard, config: PhoneConfig, index: number, onEvent: (index: number) => void) {
    super(platform, board, config);
    this.index = index;
    this.onEvent = onEvent;
  }

  rearm(): void {
    super.rearm();
    if (this.onEvent !== undefined) this.onEvent(this.index); // undefined while DoorPhone's constructor runs
  }
}

const ignoreEvent = (index: number): void => { void index; };

/** One device: the door-phone firmware with one account, no button, one call, `transactions` transactions (4 for a
 *  registration and its refreshes; 8 with calls, whose INVITE transactions linger 32 s after the answer, Timer D). */
function fleetPhone(platform: NodePlatform, audio: ToneAudio, o: FleetOptions, port: number, user: string, password: string, domain: string, host: string, hostPort: number,
  transactions: number, index: number, onEvent: (index: number) => void, rtpPort: number): FleetPhone {
  const account = {
    ...DEFAULT_ACCOUNT, user, password, domain, registrar: host, registrarPort: hostPort, expires: o.expires, localAddress: o.address, localPort: port, keepalive: 0,
  };
  // Calls (with --calls) as the account's user, with its credentials for a proxy's challenge; answered at once.
  return new FleetPhone(platform, new VirtualBoard(platform.clock, audio),
    simPhoneConfig(o.address, { port, accounts: [account], buttonPin: "", callCapacity: 1, transactions, user, autoAnswer: { delayMs: 0 },
      calls: { rtpPortBase: rtpPort, domain, password } }), index, onEvent);
}

/** Starts items 0..count-1 with at most `window` of them unfinished at once; resolves when all are done or ms passed. */
async function windowed(count: number, window: number, start: (i: number) => void, done: (i: number) => boolean, ms: number): Promise<boolean> {
  let next = 0;
  const end = performance.now() + ms;
  for (;;) {
    let busy = 0;
    for (let i = 0; i < next; i++) if (!done(i)) busy++;
    for (; next < count && busy < window; next++, busy++) start(next);
    if (next === count && busy === 0) return true;
    if (performance.now() > end) return false;
    await sleep(1);
  }
}

/** The warm-up before the clock starts: V8 compiles the registration path's functions only after thousands of
 *  calls, so a cold run's first second measures its compiler (~2,500/s rising to ~6,000/s over the first 5,000).
 *  `o.warmup` phones built like the fleet's, on the ports after it, register (401, credentials, 200) and
 *  unregister against a registrar in this process; the server under test sees none of it. Returns the
 *  registrations made and what closes the warm-up's phones and registrar. */
async function warmUp(o: FleetOptions, platform: NodePlatform, audio: ToneAudio): Promise<{ made: number; close: () => void }> {
  const count = o.warmup;
  const none = { made: 0, close: () => {} };
  if (count <= 0) return none;
  const base = o.portBase + o.devices + count < 65536 ? o.portBase + o.devices : o.portBase - count - 1;
  if (base < 1024) return none;
  // An account each, as in the fleet (one AOR for all would grow every 200's Contact list past a datagram).
  const users: Record<string, string> = {};
  for (let i = 0; i < count; i++) users["warmup" + i] = "secret" + i;
  // Its transactions (3 a phone) linger 64·T1 after answering (Timer J): a short T1 on loopback, a pool for all.
  const registrar = new Registrar({ platform, address: o.address, port: base + count, realm: "warmup", users, maxExpires: 3600,
    capacity: 3 * count + 16, timers: { ...DEFAULT_TIMERS, t1: 20 }, exactCopies: true });
  const phones: FleetPhone[] = [];
  for (let i = 0; i < count; i++) phones.push(fleetPhone(platform, audio, o, base + i, "warmup" + i, "secret" + i, "warmup", o.address, base + count, 4, i, ignoreEvent, 0));
  let made = 0;
  if (registrar.open() === 0 && phones.map((p) => p.open()).every((r) => r === 0)) {
    await sleep(50 + count / 20);
    const state = (i: number) => phones[i].registrations[0].state;
    const settled = (i: number) => state(i) !== REG_REGISTERING && state(i) !== REG_UNREGISTERING;
    await windowed(count, 100, (i) => phones[i].registerAll(), settled, 10_000);
    made = phones.filter((p) => p.registrations[0].state === REG_REGISTERED).length;
    await windowed(count, 100, (i) => phones[i].unregisterAll(), settled, 10_000);
  }
  // Closed after the measured run: closing a socket stores null where V8 had only seen sockets, and the code
  // compiled for the registration path is thrown away with that assumption (seen with --trace-deopt).
  return { made, close: () => { for (const p of phones) p.close(); registrar.close(); } };
}

/**
 * --calls pairs: device 2k+1 calls device 2k+2's account through the server once both registered (at the
 * fleet's rate, within its window), the callee answers, the caller hangs up after the hold; then the report.
 */
class PairCalls {
  private readonly o: FleetOptions;
  private readonly phones: FleetPhone[];
  private readonly callers: number[] = [];
  private readonly call: (Call | null)[];
  private readonly startAt: Float64Array;
  private readonly answerAt: Float64Array;
  private readonly endAt: Float64Array;
  /** Callers answered, in order: each hangs up callHoldMs after its answer (one hold: a FIFO is enough). */
  private readonly holding: number[] = [];
  private holdHead = 0;
  private started = 0;
  private answered = 0;
  private ended = 0;
  private readonly failures: Record<string, number> = {};

  constructor(o: FleetOptions, phones: FleetPhone[]) {
    this.o = o;
    this.phones = phones;
    for (let i = 0; i + 1 < phones.length; i += 2) {
      if (phones[i].registrations[0].state === REG_REGISTERED && phones[i + 1].registrations[0].state === REG_REGISTERED) this.callers.push(i);
    }
    this.call = new Array<Call | null>(phones.length).fill(null);
    this.startAt = new Float64Array(phones.length).fill(-1);
    this.answerAt = new Float64Array(phones.length).fill(-1);
    this.endAt = new Float64Array(phones.length).fill(-1);
  }

  /** After an event of device i: its call answered, or ended. */
  check(i: number): void {
    const c = this.call[i];
    if (c === null || this.endAt[i] >= 0) return;
    const now = performance.now();
    if (c.state === CALL_ACTIVE && this.answerAt[i] < 0) {
      this.answerAt[i] = now;
      this.answered++;
      this.holding.push(i);
    } else if (c.state === CALL_ENDED || c.state === CALL_FREE) this.finish(i, now, c.endStatus > 0 ? String(c.endStatus) : "local");
  }

  private finish(i: number, now: number, why: string): void {
    this.endAt[i] = now;
    this.ended++;
    if (this.answerAt[i] < 0) this.failures[why] = (this.failures[why] || 0) + 1;
  }

  run(): Promise<FleetCalls> {
    const o = this.o, n = this.callers.length;
    const t0 = performance.now();
    const deadline = t0 + o.durationS * 1000 + o.callHoldMs;
    return new Promise<FleetCalls>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(n, Math.floor(((now - t0) / 1000) * o.rate) + 1, this.ended + o.concurrency);
        for (; this.started < due; this.started++) {
          const i = this.callers[this.started];
          const callee = this.phones[i + 1].registrations[0].config;
          this.startAt[i] = now;
          const c = this.phones[i].call("sip:" + callee.user + "@" + o.host + ":" + o.port);
          if (c === null) this.finish(i, now, "local");
          else this.call[i] = c;
        }
        for (; this.holdHead < this.holding.length && this.answerAt[this.holding[this.holdHead]] + o.callHoldMs <= now; this.holdHead++) {
          const i = this.holding[this.holdHead];
          const c = this.call[i];
          if (c !== null && this.endAt[i] < 0) this.phones[i].hangup(c);
        }
        if (this.ended === n || now > deadline) resolve(this.report(t0, now));
        else setTimeout(tick, 1);
      };
      tick();
    });
  }

  private report(t0: number, now: number): FleetCalls {
    const setup: number[] = [];
    let completed = 0, lastAnswer = t0, rtpSent = 0, rtpReceived = 0;
    for (const i of this.callers) {
      if (this.answerAt[i] >= 0) {
        setup.push(this.answerAt[i] - this.startAt[i]);
        if (this.answerAt[i] > lastAnswer) lastAnswer = this.answerAt[i];
        if (this.endAt[i] >= 0) completed++;
      } else if (this.endAt[i] < 0 && this.startAt[i] >= 0) this.finish(i, now, "timeout");
      for (const d of [i, i + 1]) {
        rtpSent += this.phones[d].sessions[0].stats[MEDIA_PACKETS_SENT];
        rtpReceived += this.phones[d].sessions[0].stats[MEDIA_PACKETS_RECEIVED];
      }
    }
    setup.sort((a, b) => a - b);
    const span = lastAnswer - t0;
    return {
      attempted: this.started, answered: this.answered, completed, failed: this.callers.length - this.answered, failures: this.failures,
      answeredPerSecond: span > 0 ? round((this.answered * 1000) / span) : 0,
      setupMs: spread(setup),
      rtpSent, rtpReceived,
    };
  }
}

/** Runs a fleet and resolves with its report (progress on stderr when it is a terminal). */
export async function runFleet(o: FleetOptions, progress: (started: number, registered: number, failed: number) => void = () => {},
  trace: FleetTrace | null = null): Promise<FleetReport> {
  const start = performance.now();
  const record = (out: boolean, from: string, fromPort: number, to: string, toPort: number, data: string) => {
    if (trace === null) return;
    const time = performance.now() - start;
    pushRecord(trace.records, time, from, fromPort, to, toPort, data);
    trace.messages.push({ time, from: out ? 0 : 1, to: out ? 1 : 0, data });
  };
  const platform = new NodePlatform({ address: o.address, logLevel: 0, logSink: () => {},
    capture: trace === null ? undefined : (d) => record(true, d.from, d.fromPort, d.to, d.toPort, d.data),
    captureReceived: trace === null ? undefined : (d) => record(false, d.from, d.fromPort, d.to, d.toPort, d.data) });
  const audio = new ToneAudio({ frequencies: 440 });
  const gc = (globalThis as { gc?: () => void }).gc;
  // The warm-up first (on a platform of its own: not recorded): phones made after it are made with the object
  // layouts it settled (made before, each would be migrated to them on first use, inside the measured run).
  const warm = await warmUp(o, new NodePlatform({ address: o.address, logLevel: 0, logSink: () => {} }), audio);
  if (gc) gc();
  const heap0 = process.memoryUsage().heapUsed;
  const startedAt = new Float64Array(o.devices).fill(-1);
  const doneAt = new Float64Array(o.devices).fill(-1);
  let t0 = 0, started = 0, registered = 0, failed = 0, lastDone = 0, maxInProgress = 0;
  // A registration's outcome (then, with --calls, a call's) is taken after each event its device handles.
  let calling: ((i: number) => void) | null = null;
  const check = (i: number) => {
    if (calling !== null) { calling(i); return; }
    if (doneAt[i] >= 0 || startedAt[i] < 0) return;
    const st = phones[i].registrations[0].state;
    const now = performance.now();
    if (st === REG_REGISTERED) { doneAt[i] = now; registered++; lastDone = now; }
    else if (st === REG_FAILED || st === REG_BACKOFF) { doneAt[i] = now; failed++; }
  };
  const phones: FleetPhone[] = [];
  for (let i = 0; i < o.devices; i++) {
    phones.push(fleetPhone(platform, audio, o, o.portBase + i, fill(o.user, i + 1), fill(o.password, i + 1), o.domain, o.host, o.port, o.calls === "pairs" ? 8 : 4, i, check,
      o.calls === "pairs" ? o.rtpPortBase + 2 * i : 0));
  }
  if (gc) gc();
  const heapBytesPerDevice = Math.round((process.memoryUsage().heapUsed - heap0) / Math.max(1, o.devices));
  // Every device's sockets are open before the clock starts (as a load generator's are): the rate is the
  // registrations', not socket set-up's (a UDP bind and a TCP listen each, ~0.15 ms).
  const opened = phones.map((p) => p.open() === 0);
  await sleep(100 + o.devices / 20);
  t0 = lastDone = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + o.durationS * 1000;
  // A timeout re-armed each millisecond, not setInterval: the first repeating timer of the process changes the
  // layout of Node's timer objects and its compiled timer code is thrown away inside the measured run.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Start the devices due by now at the rate asked for, within the window of registrations in progress.
      const due = Math.min(o.devices, Math.floor(((now - t0) / 1000) * o.rate) + 1, registered + failed + o.concurrency);
      for (; started < due; started++) {
        const p = phones[started];
        if (!opened[started]) { doneAt[started] = now; failed++; continue; }
        startedAt[started] = now;
        p.registerAll();
      }
      if (started - registered - failed > maxInProgress) maxInProgress = started - registered - failed;
      progress(started, registered, failed);
      if (registered + failed === o.devices || now > deadline) {
        for (let i = 0; i < started; i++) check(i); // timeouts end in FAILED/BACKOFF without a response
        resolve();
      } else setTimeout(tick, 1);
    };
    tick();
  });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let retransmissions = 0, requestsSent = 0;
  phones.forEach((p, i) => {
    const r = p.registrations[0];
    retransmissions += p.layer.stats.retransmissionsSent;
    requestsSent += p.layer.stats.created;
    if (r.state === REG_REGISTERED && doneAt[i] >= 0) latencies.push(doneAt[i] - startedAt[i]);
    else if (doneAt[i] >= 0) { const k = r.lastStatus > 0 ? String(r.lastStatus) : "timeout"; failures[k] = (failures[k] || 0) + 1; }
  });
  latencies.sort((a, b) => a - b);
  const elapsedMs = lastDone - t0;
  const cpu = process.cpuUsage(cpu0);
  let calls: FleetCalls | null = null;
  if (o.calls === "pairs") {
    const c = new PairCalls(o, phones);
    calling = (i) => c.check(i);
    calls = await c.run();
    calling = null;
  }
  // Unregister everyone registered (what a fleet leaves behind is the server's business otherwise), then close.
  const leaving = phones.filter((p) => p.registrations[0].state === REG_REGISTERED);
  // Within the same window as the registrations: a flood of 5,000 at once overflows the server's receive queue.
  const gone = (i: number) => leaving[i].registrations[0].state !== REG_UNREGISTERING;
  await windowed(leaving.length, o.concurrency, (i) => leaving[i].unregisterAll(), gone, 10_000 + (leaving.length * 1000) / o.rate);
  const unregistered = leaving.filter((p) => p.registrations[0].state === REG_UNREGISTERED).length;
  await sleep(50);
  for (const p of phones) p.close();
  warm.close();
  return {
    devices: o.devices, registered, failed, pending: o.devices - registered - failed, failures,
    registrationsPerSecond: elapsedMs > 0 ? round((registered * 1000) / elapsedMs) : 0, elapsedMs: Math.round(elapsedMs),
    latencyMs: spread(latencies),
    retransmissions, requestsSent, heapBytesPerDevice, unregistered, maxInProgress, warmupRegistrations: warm.made, calls,
    cpuMicrosPerRegistration: registered > 0 ? Math.round((cpu.user + cpu.system) / registered) : 0,
  };
}

/** The calls of --calls pairs: set-up time is the INVITE to the 200 (the digest challenge included). */
export interface FleetCalls {
  attempted: number;
  answered: number;
  /** Answered, held, hung up by the caller and ended. */
  completed: number;
  failed: number;
  /** By the final status of the calls not answered ("local" when the caller could not start it, "timeout" still going). */
  failures: Record<string, number>;
  /** Answered calls per second, from the first INVITE to the last answer. */
  answeredPerSecond: number;
  setupMs: Spread;
  /** RTP packets the callers and callees sent and received (media flowed both ways). */
  rtpSent: number;
  rtpReceived: number;
}

/** What a fleet run sent and received, when asked (--pcap, --html): the datagrams and the SIP messages. */
export interface FleetTrace {
  records: CaptureRecord[];
  messages: LadderMessage[];
}

/** The report as text. */
export function fleetText(r: FleetReport): string {
  const fails = Object.keys(r.failures).sort().map((k) => k + " ×" + r.failures[k]).join(", ") || "none";
  return [
    `devices: ${r.devices}; registered ${r.registered}, failed ${r.failed}, still pending ${r.pending}`,
    `registrations per second: ${r.registrationsPerSecond} (${r.registered} in ${(r.elapsedMs / 1000).toFixed(2)} s)`,
    `latency (first REGISTER to registered), ms: p50 ${r.latencyMs.p50}, p95 ${r.latencyMs.p95}, p99 ${r.latencyMs.p99}, max ${r.latencyMs.max}`,
    `failures by status: ${fails}`,
    `transactions: ${r.requestsSent} requests, ${r.retransmissions} retransmissions; at most ${r.maxInProgress} registrations in progress; unregistered at the end: ${r.unregistered}`,
    `cost: ${r.cpuMicrosPerRegistration} µs of CPU per registration (this process); ${(r.heapBytesPerDevice / 1024).toFixed(1)} KB of heap per device (the whole firmware each)`,
    `warm-up before the clock: ${r.warmupRegistrations} registrations against a registrar in this process`,
    ...(r.calls === null ? [] : [
      `calls (pairs): ${r.calls.attempted} attempted, ${r.calls.answered} answered (${r.calls.answeredPerSecond}/s), ${r.calls.completed} completed, ${r.calls.failed} failed` +
        (Object.keys(r.calls.failures).length ? " (" + Object.keys(r.calls.failures).sort().map((k) => k + " ×" + r.calls!.failures[k]).join(", ") + ")" : ""),
      `call set-up (INVITE to 200), ms: p50 ${r.calls.setupMs.p50}, p95 ${r.calls.setupMs.p95}, p99 ${r.calls.setupMs.p99}, max ${r.calls.setupMs.max}; RTP ${r.calls.rtpSent} packets sent, ${r.calls.rtpReceived} received`,
    ]),
  ].join("\n");
}

/** The command: options from the command line, the run, the report. */
export async function fleetCommand(args: string[]): Promise<number> {
  if (args.indexOf("--help") >= 0) { process.stdout.write(FLEET_USAGE); return 0; }
  const v: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith("--") || args[i + 1] === undefined) { process.stderr.write("fleet: bad option " + args[i] + "\n" + FLEET_USAGE); return 2; }
    v[args[i]] = args[i + 1];
  }
  const known = ["--devices", "--registrar", "--rate", "--concurrency", "--warmup", "--duration", "--user", "--password", "--domain", "--address", "--port-base", "--expires", "--json", "--pcap", "--html", "--calls", "--call-hold", "--rtp-port-base"];
  for (const k of Object.keys(v)) if (known.indexOf(k) < 0) { process.stderr.write("fleet: unknown option " + k + "\n" + FLEET_USAGE); return 2; }
  const reg = /^([^:]+):(\d+)$/.exec(v["--registrar"] || "");
  const devices = Number(v["--devices"]);
  if (!reg || !Number.isInteger(devices) || devices <= 0) { process.stderr.write("fleet: --devices N and --registrar host:port are required\n" + FLEET_USAGE); return 2; }
  const num = (k: string, d: number) => (v[k] !== undefined ? Number(v[k]) : d);
  const o: FleetOptions = {
    devices, host: reg[1], port: Number(reg[2]), rate: num("--rate", 1000), concurrency: num("--concurrency", 300), warmup: num("--warmup", 2000), durationS: num("--duration", 30), user: v["--user"] || "door{n}",
    password: v["--password"] || "secret", domain: v["--domain"] || reg[1], address: v["--address"] || "127.0.0.1", portBase: num("--port-base", 40000),
    expires: num("--expires", 600), calls: v["--calls"] || "", callHoldMs: num("--call-hold", 1000), rtpPortBase: 0,
  };
  o.rtpPortBase = num("--rtp-port-base", o.portBase + devices + o.warmup + 1);
  for (const k of ["rate", "concurrency", "durationS", "portBase", "expires"] as const) {
    if (!Number.isFinite(o[k]) || o[k] <= 0) { process.stderr.write("fleet: a bad number for " + k + "\n"); return 2; }
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) { process.stderr.write("fleet: a bad number for warmup\n"); return 2; }
  if (o.portBase + devices - 1 > 65535) { process.stderr.write("fleet: ports past 65535 (lower --port-base)\n"); return 2; }
  if (o.calls !== "" && o.calls !== "pairs") { process.stderr.write("fleet: --calls takes pairs\n"); return 2; }
  if (o.calls === "pairs" && (!Number.isInteger(o.rtpPortBase) || o.rtpPortBase < 1024 || o.rtpPortBase + 2 * devices > 65535 || !(o.callHoldMs >= 0))) {
    process.stderr.write("fleet: RTP ports " + o.rtpPortBase + "… do not fit below 65535, or a bad --call-hold (set --rtp-port-base)\n");
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const trace: FleetTrace | null = v["--pcap"] || v["--html"] ? { records: [], messages: [] } : null;
  const report = await runFleet(o, (started, registered, failed) => {
    if (!tty || performance.now() - last < 200) return;
    last = performance.now();
    const w = 30, filled = Math.round(((registered + failed) / devices) * w);
    process.stderr.write("\r[" + "#".repeat(filled) + " ".repeat(w - filled) + "] " + `${started}/${devices} started, ${registered} registered, ${failed} failed` + "   ");
  }, trace);
  if (tty) process.stderr.write("\n");
  const json = JSON.stringify(report, null, 2) + "\n";
  if (v["--json"] === "-") process.stdout.write(json);
  else {
    console.log(fleetText(report));
    if (v["--json"]) writeFileSync(v["--json"], json);
  }
  // With the JSON on standard output, what was written is said on stderr.
  const say = v["--json"] === "-" ? (line: string) => process.stderr.write(line + "\n") : (line: string) => console.log(line);
  if (trace !== null && !writeOutputs("fleet", v["--pcap"] || "", v["--html"] || "", trace.records, trace.messages,
    `doorsip fleet: ${devices} door phones and ${o.host}:${o.port}`, ["door phones", "server"], say)) return 2;
  return report.registered === devices && (report.calls === null || report.calls.answered === report.calls.attempted && report.calls.attempted > 0) ? 0 : 1;
}
