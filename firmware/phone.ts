// The door-phone application: SIP node, one RTP session per call slot, the door relay and the call button, over the HAL.
import type { AudioDevice, Board, DigitalInput, DigitalOutput, Platform } from "../hal/types.ts";
import {
  CALL_ACTIVE, CALL_ENDED, type AccountConfig, type Call, type CallConfig, type SipMessage, type TimerConfig,
} from "../sip-core/index.ts";
import { DoorController, type DoorConfig } from "./door.ts";
import { MediaSession, type MediaParams } from "./media.ts";
import { SipNode } from "./sip-node.ts";

export interface PhoneConfig {
  address: string;
  port: number;
  accounts: AccountConfig[];
  calls: CallConfig;
  /** Call slots (each has its RTP session, allocated at boot). */
  callCapacity: number;
  transactions: number;
  timers: TimerConfig | null;
  door: DoorConfig;
  relayPin: number | string;
  relayActiveLow: boolean;
  /** The call button ("" for none); pressed = low (to ground, pull-up). */
  buttonPin: number | string;
  /** What a button press calls (the first target; the plan is the firmware's job). */
  callTargets: string[];
  /**
   * Callers whose calls are authorised to open the door: "user@host" matches the From URI's
   * user and host, "host" the From host or the address the INVITE came from. Outgoing calls to
   * callTargets are authorised.
   */
  trusted: string[];
  /** Answer callers who are not trusted (they can talk, the door never opens); else 403. */
  answerUntrusted: boolean;
}

/** Per-slot media parameters, reused. */
function paramsOf(c: Call, out: MediaParams): MediaParams {
  out.localPort = c.mediaPort;
  out.remoteAddress = c.mediaRemoteAddress;
  out.remotePort = c.mediaRemotePort;
  out.payload = c.mediaPayload;
  out.telephoneEvent = c.mediaTelephoneEvent;
  out.direction = c.mediaDirection;
  return out;
}

export class DoorPhone extends SipNode {
  readonly config: PhoneConfig;
  readonly door: DoorController;
  readonly sessions: MediaSession[] = [];
  readonly relay: DigitalOutput | null;
  readonly button: DigitalInput | null = null;
  readonly audio: AudioDevice | null;
  /** Digits received per source (tests and diagnostics). */
  rtpDigits = 0;
  infoDigits = 0;
  private readonly params: MediaParams = { localPort: 0, remoteAddress: "", remotePort: 0, payload: 0, telephoneEvent: -1, direction: 0 };

  constructor(platform: Platform, board: Board, config: PhoneConfig) {
    super({
      platform: platform, address: config.address, port: config.port, capacity: config.transactions, timers: config.timers,
      accounts: config.accounts, calls: config.calls, callCapacity: config.callCapacity,
    });
    this.config = config;
    const self = this;
    const relay = board.openOutput({ pin: config.relayPin, activeLow: config.relayActiveLow });
    this.relay = typeof relay === "number" ? null : relay;
    if (this.relay === null) this.note(0, "door relay on pin " + config.relayPin + " unavailable (" + relay + ")");
    this.door = new DoorController(config.door, this.relay !== null ? this.relay : NO_RELAY);
    const audio = board.openAudio({ sampleRate: 8000 });
    this.audio = typeof audio === "number" ? null : audio;
    for (let i = 0; i < config.callCapacity; i++) this.sessions.push(this.makeSession(i));
    if (config.buttonPin !== "") {
      const b = board.openInput({
        pin: config.buttonPin, activeLow: true, debounce: 50,
        onChange: function (on: boolean): void { if (on) self.buttonPressed(); },
      });
      this.button = typeof b === "number" ? null : b;
    }
  }

  private makeSession(i: number): MediaSession {
    const self = this;
    return new MediaSession({
      platform: this.platform, audio: this.audio,
      onDigit: function (digit: number): void { self.rtpDigits++; self.digit(i, digit); },
    });
  }

  private callAt(i: number): Call | null {
    const calls = this.ua.calls;
    if (calls === null) return null;
    const c = calls.calls[i];
    return c.live() ? c : null;
  }

  /** A DTMF digit in call slot i (RFC 4733 or INFO): the door decides. */
  private digit(i: number, digit: number): void {
    const c = this.callAt(i);
    if (c === null || c.state !== CALL_ACTIVE) return;
    this.door.onDigit(c.peer, c.authorised, digit, this.now());
    this.rearm();
  }

  /** The call button: call the first target unless a call is already up. */
  buttonPressed(): Call | null {
    if (this.config.callTargets.length === 0 || this.ua.calls === null || this.ua.calls.liveCount() > 0) return null;
    return this.call(this.config.callTargets[0]);
  }

  private trustedCaller(msg: SipMessage): boolean {
    const t = this.config.trusted;
    const from = msg.from;
    if (!from.decodeUri()) return false;
    const u = from.uri;
    const src = msg.src;
    const host = u.hostStart >= 0 ? src.substring(u.hostStart, u.hostEnd).toLowerCase() : "";
    const user = u.userStart >= 0 ? src.substring(u.userStart, u.userEnd) : "";
    for (let i = 0; i < t.length; i++) {
      const e = t[i];
      const at = e.indexOf("@");
      if (at >= 0) {
        if (e.substring(0, at) === user && e.substring(at + 1).toLowerCase() === host) return true;
      } else if (e.toLowerCase() === host || e === msg.sourceAddress) return true;
    }
    return false;
  }

  // --- CallListener --------------------------------------------------------------------------

  onIncoming(call: Call, msg: SipMessage): number {
    call.authorised = this.trustedCaller(msg);
    if (!call.authorised && !this.config.answerUntrusted) {
      this.note(1, "call from " + call.peer + " refused: not a trusted caller");
      return 403;
    }
    this.note(2, "call from " + call.peer + (call.authorised ? " (trusted)" : " (untrusted: the door stays shut)"));
    return 0;
  }

  onCallState(call: Call): void {
    if (call.state === CALL_ENDED) {
      this.sessions[call.index].stop();
      this.door.callEnded(call.peer);
      this.note(2, "call " + call.index + " ended: " + call.endStatus + " " + call.endReason);
    }
  }

  onCallMedia(call: Call): void {
    const s = this.sessions[call.index];
    const p = paramsOf(call, this.params);
    const r = s.isRunning() ? s.update(p) : s.start(p);
    if (r < 0) this.note(1, "call " + call.index + ": media could not start (" + r + ")");
  }

  onInfoDigit(call: Call, digit: number): void {
    this.infoDigits++;
    this.digit(call.index, digit);
  }

  protected extraDeadline(): number { return this.door.nextDeadline(); }
  protected pollExtra(now: number): void { this.door.poll(now); }

  close(): void {
    for (let i = 0; i < this.sessions.length; i++) this.sessions[i].stop();
    super.close();
  }
}

/** Stands in for a relay the board could not open: the door logic still runs and audits. */
const NO_RELAY: DigitalOutput = {
  write: function (on: boolean): void { void on; },
  read: function (): boolean { return false; },
  close: function (): void {},
};
