// The door-phone application: SIP node, one RTP session per call slot, the door relay, buttons with call plans, trust policy, status LED and diagnostics, over the HAL.
import type { Board, DigitalOutput, Platform } from "../hal/types.ts";
import {
  CALL_ACTIVE, CALL_CALLING, CALL_CANCELLING, CALL_CONNECTING, CALL_ENDED, CALL_INCOMING, CALL_RINGING, DigestServer,
  INCOMING_ANSWER, INCOMING_DROP, INCOMING_RING, REG_BACKOFF, REG_FAILED, REG_REGISTERED, SDP_INACTIVE, SDP_SENDONLY,
  TRACE_ACK, TRACE_REQUEST, TRACE_RESPONSE, TRACE_TERMINATED, TRACE_TIMEOUT, earliest, methodName, traceName, type Call, type Transaction, type SipMessage,
} from "../sip-core/index.ts";
import { DoorController } from "./door.ts";
import { ANSWERED, DROPPED_SOURCE, DROPPED_TOTAL, floodAllow, floodAnswer, floodState } from "./flood.ts";
import { MediaSession } from "./media.ts";
import { PLAN_RUNNING, PlanRunner } from "./plan.ts";
import { REFUSE_DROP, REFUSE_REJECT, type ButtonConfig, type PhoneConfig } from "./phone-config.ts";
import { ADMIT_DROP, ADMIT_PASS, ADMIT_REFUSE, SipNode } from "./sip-node.ts";

export type { PhoneConfig };

// Status LED patterns: half-period in ms, 0 steady on, -1 steady off.
const LED_OFF = -1;
const LED_ON = 0;
const LED_CALLING = 250;
const LED_IN_CALL = 1000;
const LED_ERROR = 100;

/** What the trust policy and the UA counted (an object literal: a class would cost ~10 variables more). */
export interface PhoneCounters {
  /** SIP messages (datagrams and stream writes) sent. */
  sent: number;
  accepted: number;
  refused: number;
  dropped: number;
  challenged: number;
  buttonPresses: number;
}

// The trace ring's entries: kind (TRACE_*) * TRACE_KIND + a number (the method of a request or ACK, the status of a response).
const TRACE_KIND = 1000;
// Indexes into DoorPhone.times.
const T_LED_AT = 0;
const T_TRACE = 1;

export class DoorPhone extends SipNode {
  readonly config: PhoneConfig;
  readonly door: DoorController;
  readonly sessions: MediaSession[] = [];
  readonly led: DigitalOutput | null = null;
  readonly plan: PlanRunner;
  readonly counters: PhoneCounters = { sent: 0, accepted: 0, refused: 0, dropped: 0, challenged: 0, buttonPresses: 0 };
  /** Digest for direct calls (trust.challengeUser set), else null. */
  readonly digest: DigestServer | null = null;
  /** Digits received per source (tests and diagnostics). */
  rtpDigits = 0;
  infoDigits = 0;
  /**
   * The trace ring, one entry per SIP event, the newest config.traceSize kept: when (times[T_TRACE + slot]),
   * and what (see TRACE_KIND); traceSeen counts every event (the next slot and how many are kept follow).
   * Text is made only when status() asks.
   */
  private readonly traceEvent: Int16Array;
  private traceSeen = 0;
  /** The LED's next blink (times[T_LED_AT]; -1 none) and the trace's times: one array, not a float field each. */
  private readonly times: Float64Array;
  private ledOn = false;
  /** The last SIP failure seen (a call that ended with a status ≥ 400, a registration that failed), for status(). */
  lastError = "";
  /** Flood control's state (firmware/flood.ts): made when an untrusted source first sends (null until then, and when config.flood sets no limit). */
  flood: Float64Array | null = null;

  constructor(platform: Platform, board: Board, config: PhoneConfig) {
    super({
      platform: platform, address: config.address, port: config.port, capacity: config.transactions, timers: config.timers,
      // The call settings with the auto-answer delay: a copy when they differ (the configured object is not
      // changed); loadConfig sets it, so the device keeps one (~45 variables).
      accounts: config.accounts, callCapacity: config.callCapacity,
      calls: config.calls.answerDelay === config.autoAnswer.delayMs ? config.calls : Object.assign({}, config.calls, { answerDelay: config.autoAnswer.delayMs }),
      // Retransmission copies sized to their message and dropped when no longer needed (~60 variables per idle slot).
      exactCopies: true,
      // The platform's log is a log: the phone needs no write() of its own.
      log: platform.log,
    });
    this.config = config;
    platform.log.level = config.logLevel;
    const n = config.traceSize > 0 ? config.traceSize : 1;
    this.times = new Float64Array(T_TRACE + n);
    this.times[T_LED_AT] = -1;
    this.traceEvent = new Int16Array(n);
    this.plan = new PlanRunner(this);
    const relay = board.openOutput({ pin: config.relayPin, activeLow: config.relayActiveLow });
    if (typeof relay === "number") this.platform.log.write(0, "door relay on pin " + config.relayPin + " unavailable (" + relay + ")");
    this.door = new DoorController(config.door, typeof relay === "number" ? null : relay);
    if (this.door.configError !== "") this.platform.log.write(1, "door code: " + this.door.configError + "; DTMF opening is off");
    const a = board.openAudio({ sampleRate: 8000 });
    const audio = typeof a === "number" ? null : a;
    // Bound copies (digit(i, d), press(b, on)), not closures: a closure would keep this constructor's scope.
    for (let i = 0; i < config.callCapacity; i++) {
      this.sessions.push(new MediaSession({ platform: platform, audio: audio, onDigit: this.digit.bind(this, i) }));
    }
    // The board keeps each input (its watch calls press()); the phone needs no list of them.
    for (let i = 0; i < config.buttons.length; i++) {
      const b = config.buttons[i];
      const input = board.openInput({ pin: b.pin, activeLow: true, debounce: 50, onChange: this.press.bind(this, b) });
      if (typeof input === "number") this.platform.log.write(0, "button on pin " + b.pin + " unavailable (" + input + ")");
    }
    if (config.statusLed !== "") {
      const led = board.openOutput({ pin: config.statusLed, activeLow: config.ledActiveLow });
      this.led = typeof led === "number" ? null : led;
    }
    const t = config.trust;
    if (t.challengeUser !== "") {
      this.digest = new DigestServer(t.challengeUser, t.challengePassword, t.challengeRealm, platform.random);
      if (this.ua.calls !== null) this.ua.calls.challenger = this.digest;
    }
  }

  /**
   * Button b changed (on: pressed; a release does nothing). A press answers an incoming call that rings;
   * during a call hangs up (when configured) or is ignored; when idle starts the button's plan.
   */
  press(b: ButtonConfig, on: boolean): void {
    if (!on) return;
    this.counters.buttonPresses++;
    const calls = this.ua.calls;
    if (calls === null) return;
    for (let i = 0; i < calls.calls.length; i++) {
      const c = calls.calls[i];
      if (c.state === CALL_INCOMING) { this.answer(c); return; }
    }
    if (calls.liveCount() > 0 || this.plan.state === PLAN_RUNNING) {
      if (!b.hangupDuringCall) return;
      this.plan.stop(calls.calls);
      for (let i = 0; i < calls.calls.length; i++) if (calls.calls[i].live()) this.hangup(calls.calls[i]);
      return;
    }
    if (!this.plan.start(b.plan)) this.platform.log.write(1, "button " + b.pin + ": nothing could be called");
    this.rearm();
  }

  /** The first button's press (the simulator and tests; a board's buttons call press() themselves). */
  buttonPressed(): Call | null {
    if (this.config.buttons.length === 0) return null;
    this.press(this.config.buttons[0], true);
    const calls = this.ua.calls;
    if (calls === null) return null;
    for (let i = 0; i < calls.calls.length; i++) if (calls.calls[i].live() && calls.calls[i].outgoing) return calls.calls[i];
    return null;
  }

  /** A DTMF digit in call slot i, RFC 4733 (duration: its ms, as the session passes it) or INFO (-1): the door decides. */
  private digit(i: number, digit: number, duration: number): void {
    if (duration < 0) this.infoDigits++;
    else this.rtpDigits++;
    const calls = this.ua.calls;
    if (calls === null) return;
    const c = calls.calls[i];
    if (c.state !== CALL_ACTIVE) return;
    this.door.onDigit(c.peer, c.authorised, digit, this.now());
    this.rearm();
  }

  // --- the trust policy ----------------------------------------------------------------------

  /** An entry of list matches the caller: "host" (From host or source address), "user@host", or "sip:user@host". */
  private inList(list: string[], msg: SipMessage, user: string, host: string): boolean {
    for (let i = 0; i < list.length; i++) {
      let e = list[i];
      if (e.indexOf("sip:") === 0) e = e.substring(4);
      else if (e.indexOf("sips:") === 0) e = e.substring(5);
      const at = e.indexOf("@");
      if (at >= 0 ? e.substring(0, at) === user && e.substring(at + 1).toLowerCase() === host : e.toLowerCase() === host || e === msg.sourceAddress) return true;
    }
    return false;
  }

  // --- CallListener --------------------------------------------------------------------------

  onIncoming(call: Call | null, msg: SipMessage): number {
    const t = this.config.trust;
    const from = msg.from;
    const ok = from.decodeUri();
    const src = msg.src;
    const host = ok && from.uri.hostStart >= 0 ? src.substring(from.uri.hostStart, from.uri.hostEnd).toLowerCase() : "";
    const user = ok && from.uri.userStart >= 0 ? src.substring(from.uri.userStart, from.uri.userEnd) : "";
    // Through the registrar or outbound proxy (address and port) of an account that is registered.
    const a = msg.sourceAddress;
    const p = msg.sourcePort;
    const c = this.config.calls;
    let viaRegistrar = false;
    for (let i = 0; t.registrar && i < this.registrations.length; i++) {
      const r = this.registrations[i].config;
      if (this.registrations[i].state === REG_REGISTERED && ((r.registrar === a && r.registrarPort === p) || (c.outboundProxy === a && c.outboundPort === p))) viaRegistrar = true;
    }
    let accepted = viaRegistrar || this.inList(t.allow, msg, user, host);
    if (!accepted && this.digest !== null) {
      if (this.digest.verify(msg, this.now())) accepted = true;
      else {
        this.counters.challenged++;
        this.digest.now = this.now();
        return 401;
      }
    }
    if (!accepted) {
      if (t.refuse === REFUSE_DROP) { this.counters.dropped++; return INCOMING_DROP; }
      this.counters.refused++;
      this.platform.log.write(1, "call from " + (ok ? src.substring(from.uri.start, from.uri.end) : "?") + " (" + msg.sourceAddress + ") refused: not allowed by the trust policy");
      return 403;
    }
    if (call === null) { this.platform.log.write(1, "call from " + msg.sourceAddress + ": busy"); return 486; }
    this.counters.accepted++;
    call.authorised = true;
    const aa = this.config.autoAnswer;
    const auto = aa.enabled && (aa.from.length === 0 || this.inList(aa.from, msg, user, host) ||
      (viaRegistrar && aa.from.indexOf("registrar") >= 0));
    this.platform.log.write(2, "call from " + call.peer + (auto ? ": answering" : ": ringing until the button answers"));
    return auto ? INCOMING_ANSWER : INCOMING_RING;
  }

  onCallState(call: Call): void {
    const calls = this.ua.calls;
    if (calls !== null) this.plan.onCallState(call, calls.calls);
    if (call.state === CALL_ENDED) {
      if (call.endStatus >= 400) this.lastError = "call " + call.peer + ": " + call.endStatus + " " + call.endReason;
      this.sessions[call.index].stop();
      this.door.callEnded(call.peer); // (the call layer logs the end, with its status and reason)
    }
    this.updateLed();
  }

  onCallMedia(call: Call): void {
    const s = this.sessions[call.index];
    // Made for this change only (a few per call): kept, it would cost ~15 variables for the device's life.
    const p = {
      localPort: call.mediaPort, remoteAddress: call.mediaRemoteAddress, remotePort: call.mediaRemotePort, payload: call.mediaPayload,
      telephoneEvent: call.mediaTelephoneEvent, telephoneEventIn: call.mediaTelephoneEventIn, direction: call.mediaDirection,
    };
    const r = s.isRunning() ? s.update(p) : s.start(p);
    if (r < 0) this.platform.log.write(1, "call " + call.index + ": media could not start (" + r + ")");
  }

  onInfoDigit(call: Call, digit: number): void {
    this.digit(call.index, digit, -1);
  }

  // --- status LED, diagnostics ---------------------------------------------------------------

  /** The LED pattern for the current state. */
  ledPattern(): number {
    if (this.door.relayOn) return LED_ON;
    const calls = this.ua.calls;
    if (calls !== null) {
      let calling = false;
      for (let i = 0; i < calls.calls.length; i++) {
        const s = calls.calls[i].state;
        if (s === CALL_ACTIVE || s === CALL_CONNECTING) return LED_IN_CALL;
        if (s === CALL_CALLING || s === CALL_RINGING || s === CALL_INCOMING || s === CALL_CANCELLING) calling = true;
      }
      if (calling) return LED_CALLING;
    }
    let registered = this.registrations.length === 0;
    for (let i = 0; i < this.registrations.length; i++) {
      const st = this.registrations[i].state;
      if (st === REG_FAILED) return LED_ERROR;
      if (st === REG_REGISTERED) registered = true;
      if (st === REG_BACKOFF && !registered) return LED_ERROR;
    }
    return registered ? LED_ON : LED_OFF;
  }

  private updateLed(): void {
    if (this.led === null) return;
    const p = this.ledPattern();
    if (p <= 0) {
      this.times[T_LED_AT] = -1;
      const on = p === LED_ON;
      if (on !== this.ledOn) { this.ledOn = on; this.led.write(on); }
      return;
    }
    if (this.times[T_LED_AT] < 0) this.times[T_LED_AT] = this.now();
  }

  /**
   * When an active call whose media we should be receiving has heard no RTP for calls.rtpTimeout, it is
   * over (the peer vanished, its BYE was lost or refused): the earliest such time, -1 when none.
   */
  private rtpDeadline(hangupNow: number): number {
    const limit = this.config.calls.rtpTimeout * 1000;
    const calls = this.ua.calls;
    if (limit <= 0 || calls === null) return -1;
    let at = -1;
    for (let i = 0; i < calls.calls.length; i++) {
      const c = calls.calls[i];
      const s = this.sessions[i];
      if (c.state !== CALL_ACTIVE || !s.isRunning() || c.mediaDirection === SDP_SENDONLY || c.mediaDirection === SDP_INACTIVE) continue;
      const due = s.lastReceivedAt + limit;
      if (hangupNow >= 0 && due <= hangupNow) {
        this.platform.log.write(1, "call " + i + ": no RTP for " + this.config.calls.rtpTimeout + " s; hanging up");
        this.hangup(c);
        continue;
      }
      at = earliest(at, due);
    }
    return at;
  }

  protected extraDeadline(): number {
    if (this.plan.pending) return this.now();
    return earliest(earliest(this.door.nextDeadline(), this.times[T_LED_AT]), this.rtpDeadline(-1));
  }

  protected pollExtra(now: number): void {
    this.plan.poll();
    this.door.poll(now);
    this.rtpDeadline(now);
    const ledAt = this.times[T_LED_AT];
    if (this.led !== null && ledAt >= 0 && ledAt <= now) {
      const p = this.ledPattern();
      if (p > 0) {
        this.ledOn = !this.ledOn;
        this.led.write(this.ledOn);
        this.times[T_LED_AT] = now + p;
      } else this.times[T_LED_AT] = -1;
    }
    this.updateLed();
  }

  protected sentMessage(): void { this.counters.sent++; }

  trace(kind: number, msg: SipMessage | null, tx: Transaction | null): void {
    if (kind === TRACE_TERMINATED) return; // every transaction ends: not worth a slot of the ring
    const size = this.config.traceSize;
    if (size > 0) {
      const slot = this.traceSeen % size;
      this.times[T_TRACE + slot] = this.now();
      this.traceEvent[slot] = kind * TRACE_KIND + (msg === null ? 0 : msg.isRequest ? msg.method : msg.status);
      this.traceSeen++;
    }
    if (kind === TRACE_RESPONSE || kind === TRACE_TIMEOUT) this.updateLed();
    void tx;
  }

  /**
   * Flood control: an untrusted source over its rate, or all of them over theirs, is not parsed (dropped,
   * counted), or with flood.refuse "reject" answered 403 while the answers' own rate allows.
   */
  protected admit(address: string, now: number): number {
    const c = this.config;
    const f = c.flood;
    if (f.rate <= 0 && f.total <= 0) return ADMIT_PASS;
    // Spared: the accounts' registrars, the outbound proxy, the allow list's addresses (no list kept for it).
    for (let i = 0; i < c.accounts.length; i++) if (c.accounts[i].registrar === address) return ADMIT_PASS;
    if (c.calls.outboundProxy === address || c.trust.allow.indexOf(address) >= 0) return ADMIT_PASS;
    if (this.flood === null) this.flood = floodState(f);
    if (floodAllow(this.flood, f, address, now)) return ADMIT_PASS;
    return f.refuse === REFUSE_REJECT && floodAnswer(this.flood, f, now) ? ADMIT_REFUSE : ADMIT_DROP;
  }

  /** Writes status() to the HAL log (info), for a device read over its console. */
  logStatus(): void {
    this.platform.log.write(2, "status " + this.status());
  }

  /** Status and diagnostics as one JSON text (on demand: it allocates). */
  status(): string {
    const regs: object[] = [];
    for (let i = 0; i < this.registrations.length; i++) {
      const r = this.registrations[i];
      regs.push({ user: r.config.user, domain: r.config.domain, state: r.stateName(), lastStatus: r.lastStatus, lastReason: r.lastReason });
    }
    const t = this.transport.stats;
    const l = this.layer.stats;
    let lastError = this.lastError;
    for (let i = 0; i < this.registrations.length; i++) {
      const r = this.registrations[i];
      if (r.state === REG_FAILED || r.state === REG_BACKOFF) lastError = r.config.user + " registration: " + r.lastStatus + " " + r.lastReason;
    }
    let trace = "";
    const size = this.config.traceSize;
    const count = this.traceSeen < size ? this.traceSeen : size;
    for (let i = 0; i < count; i++) {
      const k = (this.traceSeen - count + i) % size;
      const kind = Math.floor(this.traceEvent[k] / TRACE_KIND);
      const code = this.traceEvent[k] % TRACE_KIND;
      const detail = kind === TRACE_REQUEST || kind === TRACE_ACK ? methodName(code) || "other" : code > 0 ? String(code) : "";
      trace += (this.times[T_TRACE + k] / 1000).toFixed(3) + " " + traceName(kind) + (detail !== "" ? " " + detail : "") + "\n";
    }
    return JSON.stringify({
      registrations: regs,
      lastError: lastError,
      calls: this.ua.calls === null ? 0 : this.ua.calls.liveCount(),
      // PhoneCounters' fields (all of them, as they are) with the stack's own counters beside them.
      counters: Object.assign({ transport: t, transactions: l, ua: this.ua.stats }, this.counters),
      door: { opens: this.door.opens, wrongCodes: this.door.wrongCodes, lockouts: this.door.lockouts, lockedOut: this.door.locked },
      flood: this.flood === null ? null : { droppedSource: this.flood[DROPPED_SOURCE], droppedTotal: this.flood[DROPPED_TOTAL], answered: this.flood[ANSWERED] },
      audit: this.door.auditText(),
      trace: trace,
    });
  }

  /**
   * The network is up with address: calls and registrations use it in Contact/Via, and every account
   * registers (moved: the address changed, so the old binding is removed in the same REGISTER).
   */
  linkUp(address: string, moved: boolean): void {
    const now = this.now();
    const usable = address !== "" && address !== "0.0.0.0";
    if (usable && this.ua.calls !== null) this.ua.calls.contactAddress = address;
    for (let i = 0; i < this.registrations.length; i++) {
      const r = this.registrations[i];
      if (moved && usable) r.setLocalAddress(address, this.port, now);
      else {
        if (usable) r.contactAddress = address;
        r.start(now);
      }
    }
    this.rearm();
  }

  /** The network dropped: bindings cannot be trusted until it is back. */
  linkDown(): void {
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].networkLost();
    this.updateLed();
    this.rearm();
  }

  open(): number {
    const r = super.open();
    this.updateLed();
    return r;
  }

  close(): void {
    for (let i = 0; i < this.sessions.length; i++) this.sessions[i].stop();
    super.close();
  }
}
