// baresip (Debian's 1.0.0) driven headless for the interop tests: a temp config directory, `baresip -f DIR`
// in the foreground, and its ctrl_tcp socket (netstring-framed JSON) for commands and events.
//
// What 1.0.0 does, as observed on Debian 12 (see also /work/shared/peers-notes.md):
// - Commands over ctrl_tcp: {"command":"dial","params":"sip:…","token":"…"}. The reply is
//   {"response":true,"ok":bool,"data":"<text the command printed>","token":"…"}; events come on the same socket,
//   interleaved: {"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":…,"direction":…,
//   "peeruri":…,"id":<Call-ID>,"param":…}. Commands run synchronously, so events a command causes arrive
//   before its reply. ctrl_tcp takes one connection at a time (a new one replaces the old): ours is opened
//   at start-up and kept, so no event is lost.
// - Working commands: dial <uri>, accept, hangup (the current call), sndcode <digits> (RFC 4733 only, ~240 ms
//   a digit, queued), listcalls, callstat, audio_debug, reginfo, uanew <account line>, answermode <mode>, quit.
// - Received RFC 4733 digits show up as CALL_DTMF_START (param = the digit) and CALL_DTMF_END events.
// - An audio source failure closes the call: a file source at its end (AUDIO_ERROR "0,end of file", then
//   CALL_CLOSED "end of file"), or a sample rate the resampler cannot handle (44.1 kHz: "Operation not supported").
// - A ctrl_tcp port in use does not stop it (it logs and carries on, so we check the log); a SIP port in use
//   does (ua init fails). sip_listen binds UDP and TCP on the port, and TCP on port + 1.
// - A dial to a port where nothing listens stays OUTGOING (ICMP is ignored) until Timer B, 32 s; meanwhile
//   quit and SIGTERM do not end the process (stop() falls back to SIGKILL).
// - After its BYE it still sends one more RTP packet; the peer's counters may miss it.
// - RTP/RTCP sockets bind 0.0.0.0 on an even port P in [min, max-1] and P+1 (the SDP still says 127.0.0.1).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const MODULE_PATH = "/usr/lib/baresip/modules";
/** Roughly how long sndcode takes per digit: 9 packets of 20 ms, then 3 end packets. */
export const DTMF_DIGIT_MS = 240;

/**
 * Default ports for instance `slot` (0..7) of this process, derived from the pid like the other interop
 * harnesses (which use 25060–28399): SIP 20000 + 200·slot + 2·(pid % 100) (port + 1 is taken by its TCP
 * listener too), ctrl_tcp 22000 + 100·slot + pid % 100, RTP 10000 + 1000·slot + 10·(pid % 100), 10 ports
 * (up to 5 simultaneous calls). So baresip owns 10000–17999 and 20000–22799. Different test files of one run
 * are different processes; within a file, give each instance its own slot.
 */
export function baresipPorts(slot: number): { sip: number; ctrl: number; rtp: [number, number] } {
  if (!Number.isInteger(slot) || slot < 0 || slot > 7) throw new Error("baresip slot must be 0..7, not " + slot);
  const i = process.pid % 100;
  const rtp = 10000 + 1000 * slot + 10 * i;
  return { sip: 20000 + 200 * slot + 2 * i, ctrl: 22000 + 100 * slot + i, rtp: [rtp, rtp + 9] };
}

export type AudioSource =
  /** ausine: a sine of this frequency (Hz, 10..20000), generated at 48 kHz stereo and resampled. */
  | { sine: number }
  /** aufile: a 16-bit PCM WAV at 8, 16, 32 or 48 kHz. The call is closed when the file ends: make it long enough. */
  | { file: string };

export interface BaresipOptions {
  /** A label for logs and error messages (default "baresip"). */
  name?: string;
  /** Port slot for the pid-derived defaults (see baresipPorts); default 0. */
  slot?: number;
  sipPort?: number;
  ctrlPort?: number;
  /** RTP port range [min, max]; min even. [P, P+1] pins the RTP port to P (one call at a time). */
  rtpPorts?: [number, number];
  /** Account user (default "resident"); the Request-URI user must match it for an incoming call. */
  user?: string;
  /** Account domain (default "127.0.0.1"). */
  domain?: string;
  displayName?: string;
  /** auto (default), manual or early. */
  answermode?: "auto" | "manual" | "early";
  /**
   * Registration interval in seconds (default 0: no REGISTER). A registering account is added with `uanew` once
   * the harness is connected, so REGISTERING / REGISTER_OK / REGISTER_FAIL events are seen.
   */
  regint?: number;
  authUser?: string;
  authPass?: string;
  /** Outbound proxy / registrar, e.g. "sip:127.0.0.1:5060". */
  outbound?: string;
  /** More account parameters, appended as-is (e.g. "ptime=20;audio_codecs=pcma"). */
  accountParams?: string;
  /** Replaces the whole account line that the options above would build. */
  account?: string;
  /** Default { sine: 440 }. */
  source?: AudioSource;
  /** Load sndfile: each call's sent and received audio is written to WAV files in the directory (default true). */
  record?: boolean;
  /** -s: SIP messages in the log, exact bytes (default true); read them with sipTrace(). */
  sipTrace?: boolean;
  /** -t: baresip quits by itself after this many seconds, should the test die without stopping it (default 120). */
  maxLifetimeSec?: number;
  /** Extra config lines. */
  extraConfig?: string[];
  /** How long start may take (default 5000 ms). */
  startTimeoutMs?: number;
  /** Keep the directory on stop (also with DOORSIP_KEEP_BARESIP=1). */
  keepDir?: boolean;
}

export interface BaresipEvent {
  event: true;
  /** CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED, CALL_DTMF_START, CALL_DTMF_END,
   * CALL_RTPESTAB, CALL_RTCP, CALL_LOCAL_SDP, CALL_REMOTE_SDP, REGISTERING, REGISTER_OK, REGISTER_FAIL,
   * UNREGISTERING, AUDIO_ERROR, SHUTDOWN, EXIT, … */
  type: string;
  /** call, register, application, other, … */
  class: string;
  accountaor?: string;
  direction?: "incoming" | "outgoing";
  peeruri?: string;
  peerdisplayname?: string;
  /** The call's Call-ID. */
  id?: string;
  param?: string;
  rtcp_stats?: { tx: { sent: number; lost: number; jit: number }; rx: { sent: number; lost: number; jit: number }; rtt: number };
  /** performance.now() when the harness received it (added by the harness). */
  at: number;
}

export interface BaresipReply {
  response: true;
  ok: boolean;
  data: string;
  token?: string;
}

export interface SipTraceEntry {
  /** "UDP", "TCP" */
  transport: string;
  src: string;
  dst: string;
  /** The message as sent/received (CRLF line ends, body included). */
  message: string;
  /** true when baresip sent it (src is its own SIP address). */
  sent: boolean;
}

export interface CallSummary {
  txPackets: number;
  rxPackets: number;
  txErrors: number;
  rxErrors: number;
}

export interface AudioDebug {
  /** The local RTP port. */
  localPort: number;
  /** "127.0.0.1:31050" */
  remote: string;
  /** RTP packets sent (RTCP session's TX count). */
  txPackets: number;
  /** RTP packets received from the peer (RTCP member's rcvd count). */
  rxPackets: number;
  encoder: string;
  decoder: string;
  raw: string;
}

export interface Baresip {
  name: string;
  dir: string;
  pid: number;
  sipPort: number;
  ctrlPort: number;
  rtpPorts: [number, number];
  /** The account's AOR, e.g. sip:resident@127.0.0.1 */
  aor: string;
  /** Where to call it: sip:<user>@127.0.0.1:<sipPort> */
  uri: string;
  /** Every event received so far, in order. */
  events: BaresipEvent[];
  /** Sends a command and resolves with its reply (ok or not); rejects on timeout or if baresip exits. */
  command(cmd: string, params?: string, timeoutMs?: number): Promise<BaresipReply>;
  /**
   * The first event (among those already received from index `since` on, then new ones) matching the
   * predicate or type name; rejects after timeoutMs or if baresip exits.
   */
  waitEvent(pred: string | ((e: BaresipEvent) => boolean), timeoutMs?: number, since?: number): Promise<BaresipEvent>;
  /** dial; throws if the reply is not ok. Wait for CALL_ESTABLISHED (or CALL_CLOSED) yourself. */
  dial(uri: string): Promise<void>;
  /** Answers the current incoming call (answermode manual). */
  accept(): Promise<void>;
  /** Hangs up the current call. */
  hangup(): Promise<void>;
  /** sndcode: RFC 4733 events on the current call, ~DTMF_DIGIT_MS each, queued; resolves when queued. */
  sendDtmf(digits: string): Promise<void>;
  /** Digits received (CALL_DTMF_START params), optionally for one call id. */
  dtmfReceived(callId?: string): string;
  /** audio_debug of the current call, parsed; null when there is no call. */
  audioDebug(): Promise<AudioDebug | null>;
  /** `quit` over ctrl_tcp and wait for the exit (SIGTERM/SIGKILL if it hangs). Keeps the directory. */
  quit(): Promise<void>;
  /** quit (or kill), then remove the directory unless keepDir. Safe to call twice. */
  stop(): Promise<void>;
  /** stdout + stderr so far, colour codes removed. */
  log(): string;
  /** SIP messages from the -s trace. */
  sipTrace(): SipTraceEntry[];
  /** The end-of-call RTP summaries printed in the log (rtp_stats), one per finished call. */
  callSummaries(): CallSummary[];
  /** WAV files sndfile wrote (record: true): sent audio (encode) and received audio (decode), oldest first. */
  recordings(): { encode: string[]; decode: string[] };
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ANSI = /\x1b\[[0-9;]*m/g;

// Safety net: a test that crashes or forgets stop() must not leave baresip running.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(p: ChildProcess): void {
  live.add(p);
  p.on("exit", () => live.delete(p));
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => { for (const c of live) { try { c.kill("SIGKILL"); } catch { /* gone */ } } });
  }
}

/** A 16-bit PCM WAV's format (null if not one). */
function wavFormat(path: string): { rate: number; channels: number } | null {
  const b = readFileSync(path);
  if (b.length < 44 || b.toString("latin1", 0, 4) !== "RIFF" || b.toString("latin1", 8, 12) !== "WAVE") return null;
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString("latin1", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === "fmt ") {
      if (b.readUInt16LE(off + 8) !== 1 || b.readUInt16LE(off + 22) !== 16) return null;
      return { rate: b.readUInt32LE(off + 12), channels: b.readUInt16LE(off + 10) };
    }
    off += 8 + size + (size & 1);
  }
  return null;
}

function accountLine(o: BaresipOptions, user: string, domain: string): string {
  if (o.account !== undefined) return o.account;
  let s = (o.displayName ? '"' + o.displayName + '" ' : "") + "<sip:" + user + "@" + domain + ">";
  s += ";regint=" + (o.regint ?? 0) + ";answermode=" + (o.answermode ?? "auto");
  if (o.authUser) s += ";auth_user=" + o.authUser;
  if (o.authPass) s += ";auth_pass=" + o.authPass;
  if (o.outbound) s += ';outbound="' + o.outbound + '"';
  if (o.accountParams) s += ";" + o.accountParams.replace(/^;/, "");
  return s;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function tcpOpen(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.removeAllListeners("error"); resolve(s); });
    s.once("error", () => { s.destroy(); resolve(null); });
  });
}

/** Writes the config directory, starts baresip, and resolves once its ctrl_tcp socket is ours and connected. */
export async function startBaresip(options: BaresipOptions = {}): Promise<Baresip> {
  const o = options;
  const name = o.name ?? "baresip";
  const defaults = baresipPorts(o.slot ?? 0);
  const sipPort = o.sipPort ?? defaults.sip;
  const ctrlPort = o.ctrlPort ?? defaults.ctrl;
  const rtpPorts = o.rtpPorts ?? defaults.rtp;
  if (rtpPorts[0] % 2 !== 0 || rtpPorts[1] <= rtpPorts[0]) throw new Error(name + ": rtpPorts must be [even min, max > min]");
  const user = o.user ?? "resident";
  const domain = o.domain ?? "127.0.0.1";
  const source = o.source ?? { sine: 440 };
  const record = o.record ?? true;
  const timeout = o.startTimeoutMs ?? 5000;

  // Someone else on our ctrl port would get our commands (baresip only logs its own bind failure).
  const squatter = await tcpOpen(ctrlPort);
  if (squatter) { squatter.destroy(); throw new Error(name + ": ctrl_tcp port " + ctrlPort + " is already in use (a stray baresip? pgrep -a baresip)"); }

  let srcLines: string[];
  if ("sine" in source) {
    srcLines = ["audio_source\t\tausine," + Math.round(source.sine), "ausrc_srate\t\t48000", "ausrc_channels\t\t2", "module\t\t\tausine.so"];
  } else {
    const f = wavFormat(source.file);
    if (!f) throw new Error(name + ": " + source.file + " is not a 16-bit PCM WAV");
    if (![8000, 16000, 32000, 48000].includes(f.rate)) throw new Error(name + ": baresip 1.0.0 cannot resample " + f.rate + " Hz (use 8/16/32/48 kHz)");
    srcLines = ["audio_source\t\taufile," + source.file, "ausrc_srate\t\t" + f.rate, "ausrc_channels\t\t" + f.channels, "module\t\t\taufile.so"];
  }

  const dir = mkdtempSync(join(tmpdir(), "doorsip-baresip-"));
  const config = [
    "# written by test/interop/baresip.ts",
    "poll_method\t\tepoll",
    "sip_listen\t\t127.0.0.1:" + sipPort,
    "call_local_timeout\t120",
    "call_max_calls\t\t4",
    "audio_player\t\talsa,null",
    "audio_alert\t\talsa,null",
    "audio_level\t\tno",
    "ausrc_format\t\ts16",
    "auplay_format\t\ts16",
    "auenc_format\t\ts16",
    "audec_format\t\ts16",
    "rtp_ports\t\t" + rtpPorts[0] + "-" + rtpPorts[1],
    "rtcp_mux\t\tno",
    "jitter_buffer_delay\t5-10",
    "rtp_stats\t\tyes",
    "net_interface\t\t127.0.0.1",
    "module_path\t\t" + MODULE_PATH,
    "module\t\t\tg711.so",
    "module\t\t\talsa.so",
    ...srcLines,
    ...(record ? ["module\t\t\tsndfile.so", "snd_path\t\t" + dir] : []),
    "module_tmp\t\tuuid.so",
    "module_tmp\t\taccount.so",
    "module_app\t\tmenu.so",
    "module_app\t\tctrl_tcp.so",
    "ctrl_tcp_listen\t\t127.0.0.1:" + ctrlPort,
    "statmode_default\toff",
    "ringback_disabled\tyes",
    ...(o.extraConfig ?? []),
    "",
  ].join("\n");
  writeFileSync(join(dir, "config"), config);
  // A registering account would send its REGISTER before ctrl_tcp has a client, and the events would be lost:
  // such an account is created with uanew once we are connected.
  const account = accountLine(o, user, domain);
  const registers = /;\s*regint\s*=\s*0*[1-9]/.test(account);
  writeFileSync(join(dir, "accounts"), registers ? "" : account + "\n");
  writeFileSync(join(dir, "contacts"), "");
  writeFileSync(join(dir, "current_contact"), "");
  writeFileSync(join(dir, "uuid"), randomUUID()); // no newline: baresip copies the whole line into +sip.instance

  const args = ["-f", dir, "-t", String(o.maxLifetimeSec ?? 120)];
  if (o.sipTrace ?? true) args.push("-s");
  const proc = spawn("baresip", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  track(proc);
  let raw = "";
  proc.stdout!.setEncoding("latin1");
  proc.stderr!.setEncoding("latin1");
  proc.stdout!.on("data", (d: string) => { raw += d; });
  proc.stderr!.on("data", (d: string) => { raw += d; });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on("exit", (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); });
    proc.on("error", (e) => { raw += "\n[spawn error] " + e.message + "\n"; exitInfo = { code: -1, signal: null }; resolve(exitInfo); });
  });
  const log = () => raw.replace(ANSI, "");
  const keep = o.keepDir || process.env.DOORSIP_KEEP_BARESIP === "1";
  const fail = async (why: string): Promise<never> => {
    if (!exitInfo) { proc.kill("SIGKILL"); await exited; }
    if (!keep) rmSync(dir, { recursive: true, force: true });
    throw new Error(name + ": " + why + "\n--- baresip log\n" + log());
  };

  // Ready: it printed "baresip is ready." without a ctrl_tcp failure, and its ctrl port accepts us.
  const t0 = performance.now();
  let sock: Socket | null = null;
  while (!sock) {
    if (exitInfo) return fail("exited during start-up (" + JSON.stringify(exitInfo) + ")");
    if (performance.now() - t0 > timeout) return fail("not ready within " + timeout + " ms");
    const text = log();
    if (/ctrl_tcp: failed|module ctrl_tcp\.so:/.test(text)) return fail("ctrl_tcp could not listen on " + ctrlPort);
    if (text.includes("baresip is ready.")) sock = await tcpOpen(ctrlPort);
    if (!sock) await sleep(30);
  }
  const ctrl: Socket = sock;

  const events: BaresipEvent[] = [];
  const pending = new Map<string, { resolve: (r: BaresipReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  const waiters = new Set<{ check: () => boolean; reject: (e: Error) => void }>();
  let buf = Buffer.alloc(0);
  let seq = 0;
  let closed = false;

  const onMessage = (json: string) => {
    let m: Record<string, unknown>;
    try { m = JSON.parse(json); } catch { raw += "\n[harness] unparsable ctrl_tcp message: " + json + "\n"; return; }
    if (m.response === true) {
      const p = typeof m.token === "string" ? pending.get(m.token) : undefined;
      if (p) { pending.delete(m.token as string); clearTimeout(p.timer); p.resolve(m as unknown as BaresipReply); }
    } else if (m.event === true) {
      events.push({ ...(m as unknown as BaresipEvent), at: performance.now() });
      for (const w of [...waiters]) w.check();
    }
  };
  ctrl.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    // Netstrings: <length>:<payload>,
    for (;;) {
      const colon = buf.indexOf(0x3a);
      if (colon < 0) break;
      const len = Number(buf.toString("latin1", 0, colon));
      if (!Number.isInteger(len) || colon === 0 || colon > 9) {
        raw += "\n[harness] bad netstring from ctrl_tcp: " + JSON.stringify(buf.toString("latin1", 0, 40)) + "\n";
        buf = Buffer.alloc(0);
        break;
      }
      if (buf.length < colon + 1 + len + 1) break;
      const payload = buf.toString("utf8", colon + 1, colon + 1 + len);
      if (buf[colon + 1 + len] !== 0x2c) raw += "\n[harness] netstring without its comma\n";
      buf = buf.subarray(colon + 1 + len + 1);
      onMessage(payload);
    }
  });
  const failAll = (why: string) => {
    closed = true;
    for (const [tok, p] of pending) { pending.delete(tok); clearTimeout(p.timer); p.reject(new Error(name + ": " + why)); }
    for (const w of [...waiters]) w.reject(new Error(name + ": " + why + "\n--- events\n" + events.map((e) => e.type + " " + (e.param ?? "")).join("\n") + "\n--- log\n" + log()));
  };
  ctrl.on("error", () => { /* close follows */ });
  ctrl.on("close", () => failAll("ctrl_tcp connection closed"));
  void exited.then((x) => failAll("baresip exited (" + JSON.stringify(x) + ")"));

  const command = (cmd: string, params?: string, timeoutMs = 5000): Promise<BaresipReply> => {
    if (closed) return Promise.reject(new Error(name + ": ctrl_tcp is closed; cannot send " + cmd));
    const token = "t" + ++seq;
    const msg: Record<string, string> = { command: cmd, token };
    if (params !== undefined && params !== "") msg.params = params;
    const body = Buffer.from(JSON.stringify(msg), "utf8");
    return new Promise<BaresipReply>((resolve, reject) => {
      const timer = setTimeout(() => { pending.delete(token); reject(new Error(name + ": no reply to " + cmd + " within " + timeoutMs + " ms")); }, timeoutMs);
      pending.set(token, { resolve, reject, timer });
      ctrl.write(Buffer.concat([Buffer.from(body.length + ":"), body, Buffer.from(",")]));
    });
  };
  const must = async (cmd: string, params?: string) => {
    const r = await command(cmd, params);
    if (!r.ok) throw new Error(name + ": " + cmd + (params ? " " + params : "") + " failed: " + r.data);
  };

  const waitEvent = (pred: string | ((e: BaresipEvent) => boolean), timeoutMs = 5000, since = 0): Promise<BaresipEvent> => {
    const match = typeof pred === "string" ? (e: BaresipEvent) => e.type === pred : pred;
    return new Promise<BaresipEvent>((resolve, reject) => {
      let next = since;
      const w = {
        check: () => {
          for (; next < events.length; next++) {
            if (match(events[next])) { done(); resolve(events[next]); return true; }
          }
          return false;
        },
        reject: (e: Error) => { done(); reject(e); },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(name + ": no " + (typeof pred === "string" ? pred : "matching") + " event within " + timeoutMs + " ms; events: "
          + events.map((e) => e.type + (e.param ? "(" + e.param + ")" : "")).join(", ") + "\n--- log tail\n" + log().slice(-3000)));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); waiters.delete(w); };
      if (w.check()) return;
      if (closed) { done(); reject(new Error(name + ": ctrl_tcp closed before the event")); return; }
      waiters.add(w);
    });
  };

  const quit = async () => {
    if (!exitInfo) {
      if (!closed) await command("quit", undefined, 1500).catch(() => undefined);
      // With an unanswered outgoing INVITE, quit and SIGTERM both wait for the transaction (Timer B, 32 s).
      const hard = setTimeout(() => proc.kill("SIGTERM"), 1500);
      const harder = setTimeout(() => proc.kill("SIGKILL"), 2500);
      await exited;
      clearTimeout(hard);
      clearTimeout(harder);
    }
    ctrl.destroy();
  };
  let stopped = false;

  const handle: Baresip = {
    name, dir, pid: proc.pid ?? -1, sipPort, ctrlPort, rtpPorts,
    aor: "sip:" + user + "@" + domain,
    uri: "sip:" + user + "@127.0.0.1:" + sipPort,
    events,
    command,
    waitEvent,
    dial: (uri) => must("dial", uri),
    accept: () => must("accept"),
    hangup: () => must("hangup"),
    async sendDtmf(digits) {
      if (!/^[0-9*#A-Da-d]+$/.test(digits)) throw new Error(name + ": not DTMF digits: " + JSON.stringify(digits));
      await must("sndcode", digits.toLowerCase());
    },
    dtmfReceived: (callId) => events.filter((e) => e.type === "CALL_DTMF_START" && (callId === undefined || e.id === callId)).map((e) => e.param ?? "").join(""),
    async audioDebug() {
      const r = await command("audio_debug");
      const t = r.data;
      const local = /local: [^\s,]*:(\d+), remote: ([^\s/,]+)/.exec(t);
      if (!r.ok || !local) return null;
      return {
        localPort: Number(local[1]),
        remote: local[2],
        txPackets: Number(/TX: packets=(\d+)/.exec(t)?.[1] ?? NaN),
        rxPackets: Number(/rcvd=(\d+)/.exec(t)?.[1] ?? NaN),
        encoder: /encode: (\S+)/.exec(t)?.[1] ?? "",
        decoder: /decode: (\S+)/.exec(t)?.[1] ?? "",
        raw: t,
      };
    },
    quit,
    async stop() {
      if (stopped) return;
      stopped = true;
      await quit();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
    log,
    sipTrace() {
      const out: SipTraceEntry[] = [];
      const re = /\x1b\[36;1m#\n(\w+) (\S+) -> (\S+)\n([\s\S]*?)\x1b\[;m/g;
      for (let m = re.exec(raw); m; m = re.exec(raw)) {
        out.push({ transport: m[1], src: m[2], dst: m[3], message: m[4], sent: m[2].endsWith(":" + sipPort) });
      }
      return out;
    },
    callSummaries() {
      const out: CallSummary[] = [];
      const re = /packets:\s+(\d+)\s+(\d+)[\s\S]*?errors:\s+(\d+)\s+(\d+)/g;
      const text = log();
      for (let m = re.exec(text); m; m = re.exec(text)) {
        out.push({ txPackets: Number(m[1]), rxPackets: Number(m[2]), txErrors: Number(m[3]), rxErrors: Number(m[4]) });
      }
      return out;
    },
    recordings() {
      let files: string[] = [];
      try { files = readdirSync(dir).filter((f) => /^dump-.*-(enc|dec)\.wav$/.test(f)).sort(); } catch { /* removed */ }
      return {
        encode: files.filter((f) => f.endsWith("-enc.wav")).map((f) => join(dir, f)),
        decode: files.filter((f) => f.endsWith("-dec.wav")).map((f) => join(dir, f)),
      };
    },
    exited,
  };
  if (registers) {
    const r = await command("uanew", account).catch((e: Error) => ({ ok: false, data: e.message }));
    if (!r.ok) {
      await quit();
      return fail("uanew " + account + " failed: " + r.data);
    }
  }
  return handle;
}

// --- media checks -------------------------------------------------------------------------------------------

/** Samples of a 16-bit PCM WAV (first channel). sndfile fixes the header on close; a live file is read to its end. */
export function readWav(path: string): { rate: number; channels: number; samples: Int16Array } {
  const b = readFileSync(path);
  const f = wavFormat(path);
  if (!f) throw new Error(path + " is not a 16-bit PCM WAV");
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString("latin1", off, off + 4);
    let size = b.readUInt32LE(off + 4);
    if (id === "data") {
      if (size === 0 || off + 8 + size > b.length) size = b.length - off - 8;
      const n = Math.floor(size / 2 / f.channels);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = b.readInt16LE(off + 8 + 2 * i * f.channels);
      return { rate: f.rate, channels: f.channels, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(path + " has no data chunk");
}

/**
 * The share of the signal's power at `freq` (Goertzel over the samples, normalised by the total power):
 * about 1 for a pure tone at freq, near 0 for other tones or silence. Also the RMS level, to tell silence.
 */
export function toneShare(samples: Int16Array, rate: number, freq: number): { share: number; rms: number } {
  const n = samples.length;
  if (n === 0) return { share: 0, rms: 0 };
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0, s2 = 0, energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i];
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2; // |X(f)|²
  // A pure tone A·sin: |X|² ≈ (A·n/2)², energy ≈ A²·n/2, so |X|²·2/(n·energy) ≈ 1.
  return { share: energy === 0 ? 0 : (2 * power) / (n * energy), rms: Math.sqrt(energy / n) };
}

export interface RtpPacket {
  src: number;
  dst: number;
  pt: number;
  seq: number;
  ts: number;
  marker: boolean;
  ssrc: number;
  /** RFC 4733 payloads (pt === eventPt): event code (0–9, 10 = *, 11 = #, 12–15 = A–D), end bit, duration. */
  event?: { code: number; end: boolean; volume: number; duration: number };
}

/**
 * RTP packets in a pcap (e.g. from tshark.ts's startCapture on one RTP port), with the given UDP ports
 * decoded as RTP; RFC 4733 payloads (payload type eventPt, default 101) are decoded here.
 */
export function rtpPackets(pcap: string, ports: number[], eventPt = 101): RtpPacket[] {
  const args = ["-n", "-r", pcap];
  for (const p of ports) args.push("-d", "udp.port==" + p + ",rtp");
  args.push("-Y", "rtp", "-T", "fields", "-E", "separator=/t");
  for (const f of ["udp.srcport", "udp.dstport", "rtp.p_type", "rtp.seq", "rtp.timestamp", "rtp.marker", "rtp.ssrc", "rtp.payload"]) args.push("-e", f);
  const out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20000, maxBuffer: 64 << 20 });
  const packets: RtpPacket[] = [];
  for (const line of out.split("\n")) {
    if (line.trim() === "") continue;
    const [src, dst, pt, seq, ts, marker, ssrc, payload] = line.split("\t");
    const p: RtpPacket = {
      src: Number(src), dst: Number(dst), pt: Number(pt), seq: Number(seq), ts: Number(ts),
      marker: marker === "1" || marker === "True", ssrc: Number(ssrc),
    };
    if (p.pt === eventPt && payload) {
      const b = Buffer.from(payload.replace(/:/g, ""), "hex");
      if (b.length >= 4) p.event = { code: b[0], end: (b[1] & 0x80) !== 0, volume: b[1] & 0x3f, duration: b.readUInt16BE(2) };
    }
    packets.push(p);
  }
  return packets;
}

const EVENT_DIGITS = "0123456789*#ABCD";
/** The digits in a list of RFC 4733 packets: one per distinct event (its timestamp), in order. */
export function rtpEventDigits(packets: RtpPacket[]): string {
  let out = "";
  let last: number | null = null;
  for (const p of packets) {
    if (!p.event || p.ts === last) continue;
    last = p.ts;
    out += EVENT_DIGITS[p.event.code] ?? "?";
  }
  return out;
}
