// The simulator's SIP endpoint: a SipNode (sockets + UserAgent) with an event log and hooks, for tests, the demo and the CLI.
//
// Incoming calls are decided by inviteStatus (200 answers, anything else refuses) or onIncomingCall;
// hooks report call states, media and INFO digits. It can also send raw OPTIONS or INVITE
// transactions. The same code runs on the virtual and the real platform.
import type { Platform } from "../hal/types.ts";
import { ADMIT_PASS, MAX_ACCOUNTS, SipNode } from "../firmware/sip-node.ts";
import {
  CALL_ENDED, DEFAULT_CALL_CONFIG, METHOD_INVITE, METHOD_OPTIONS, SipMessage, SipWriter, TRACE_REQUEST, TRACE_RESPONSE, traceName,
  TRACE_STRAY, TRACE_TIMEOUT, TRACE_TRANSPORT_ERROR, TRANSPORT_TCP, transportForSize,
  type AccountConfig, type Call, type CallConfig, type TimerConfig, type Transaction,
} from "../sip-core/index.ts";

export { MAX_ACCOUNTS };

export interface EndpointOptions {
  platform: Platform;
  /** Address the endpoint binds and writes into Via/Contact. */
  address: string;
  port: number;
  /** Final status for incoming INVITEs: 200 answers (with SDP), anything else refuses (e.g. 486, 603). */
  inviteStatus?: number;
  capacity?: number;
  timers?: TimerConfig;
  /** Accounts to register (each keeps itself registered once start() is called). */
  accounts?: AccountConfig[];
  /** Call settings over DEFAULT_CALL_CONFIG (identity, RTP ports, timers, answering policy). */
  calls?: Partial<CallConfig>;
  /** Calls in the pool. */
  callCapacity?: number;
  /** Keep exact-size copies for retransmission (as the door phone does) instead of a buffer per slot. */
  exactCopies?: boolean;
}

/** What the endpoint saw, for tests and the command line. */
export interface EndpointEvent {
  at: number;
  kind: string;
  detail: string;
}

/** The path MTU assumed for §18.1.1's size rule. */
const PATH_MTU = 1500;

export class Endpoint extends SipNode {
  readonly events: EndpointEvent[] = [];
  inviteStatus: number;
  /** Hooks for tests and the demo (the door-phone firmware takes these roles on a device). */
  onCall: ((call: Call) => void) | null = null;
  onMedia: ((call: Call) => void) | null = null;
  onDigit: ((call: Call, digit: number) => void) | null = null;
  /** Decides incoming calls when set (else inviteStatus does). */
  onIncomingCall: ((call: Call | null, msg: SipMessage) => number) | null = null;
  protected readonly writer = new SipWriter(1500);
  private counter = 0;

  constructor(o: EndpointOptions) {
    super({
      platform: o.platform, address: o.address, port: o.port, capacity: o.capacity || 32, timers: o.timers || null,
      accounts: o.accounts || [],
      calls: Object.assign({}, DEFAULT_CALL_CONFIG, { localAddress: o.address, localPort: o.port, rtpAddress: o.address }, o.calls || {}),
      callCapacity: o.callCapacity || 2, exactCopies: o.exactCopies === true,
    });
    this.inviteStatus = o.inviteStatus || 486;
    const accounts = o.accounts || [];
    for (let i = MAX_ACCOUNTS; i < accounts.length; i++) this.log("reg-warn", "account " + accounts[i].user + " ignored: at most " + MAX_ACCOUNTS + " accounts");
  }

  write(level: number, msg: string): void {
    this.log((msg.startsWith("call ") ? "call" : "reg") + (level <= 1 ? "-warn" : ""), msg);
  }
  /** Every datagram is parsed: the simulator's endpoints have no flood control. */
  protected admit(address: string, now: number): number {
    void address;
    void now;
    return ADMIT_PASS;
  }

  trace(kind: number, msg: SipMessage | null, tx: Transaction | null): void {
    let detail = "";
    if (msg !== null && (kind === TRACE_REQUEST)) detail = msg.methodName();
    else if (msg !== null && (kind === TRACE_RESPONSE || kind === TRACE_STRAY)) detail = String(msg.status);
    else if (tx !== null && (kind === TRACE_TIMEOUT || kind === TRACE_TRANSPORT_ERROR)) detail = this.layer.branchText(tx);
    this.log(traceName(kind), detail);
  }
  onPong(address: string, port: number): void {
    this.log("pong", address + ":" + port);
    super.onPong(address, port);
  }
  protected sentMessage(): void {}
  protected extraDeadline(): number { return -1; }
  protected pollExtra(now: number): void { void now; }

  protected log(kind: string, detail: string): void {
    this.events.push({ at: this.platform.clock.now(), kind, detail });
  }

  // --- CallListener --------------------------------------------------------------------------

  onIncoming(call: Call | null, msg: SipMessage): number {
    if (this.onIncomingCall !== null) return this.onIncomingCall(call, msg);
    return this.inviteStatus === 200 ? 0 : this.inviteStatus;
  }
  onCallState(call: Call): void {
    this.log("call-state", call.index + " " + call.stateName() + (call.state === CALL_ENDED ? " " + call.endStatus + " " + call.endReason : ""));
    if (this.onCall !== null) this.onCall(call);
  }
  onCallMedia(call: Call): void {
    this.log("media", call.index + " " + call.mediaRemoteAddress + ":" + call.mediaRemotePort + " pt " + call.mediaPayload + " dir " + call.mediaDirection);
    if (this.onMedia !== null) this.onMedia(call);
  }
  onInfoDigit(call: Call, digit: number): void {
    this.log("info-digit", String.fromCharCode(digit));
    if (this.onDigit !== null) this.onDigit(call, digit);
  }

  protected token(): string {
    return (this.platform.random.u32() >>> 0).toString(16) + (++this.counter).toString(16);
  }

  /**
   * Sends an OPTIONS or INVITE to address:port, with `padding` bytes of an X-Padding header (to
   * exercise §18.1.1: a request near the MTU goes over TCP). Returns the transaction or null.
   */
  sendRequest(method: "OPTIONS" | "INVITE", target: string, address: string, port: number, padding = 0): Transaction | null {
    const branch = "z9hG4bK" + this.token();
    const w = this.writer.reset();
    const local = this.address + ":" + this.boundPort();
    w.requestLine(method, target).str("Via: SIP/2.0/UDP " + local + ";branch=");
    const branchStart = w.pos;
    w.str(branch);
    const branchEnd = w.pos;
    w.str(";rport\r\n")
      .header("Max-Forwards", "70")
      .header("From", "<sip:door@" + local + ">;tag=" + this.token())
      .header("To", "<" + target + ">")
      .header("Call-ID", this.token() + "@" + this.address)
      .header("CSeq", "1 " + method)
      .header("Contact", "<sip:door@" + local + ">")
      .header("User-Agent", "doorsip");
    if (padding > 0) w.header("X-Padding", "x".repeat(padding));
    const n = w.end(null, 0, 0);
    if (n < 0) return null;
    // §18.1.1: near the MTU, TCP; the Via's transport token has the same length either way.
    const transport = transportForSize(n, PATH_MTU, this.hasTcp());
    if (transport === TRANSPORT_TCP) {
      const t = branchStart - ";branch=".length - local.length - 4;
      w.buf[t] = 84; w.buf[t + 1] = 67; w.buf[t + 2] = 80; // "UDP" → "TCP"
    }
    const tx = this.layer.sendRequest(w.buf, n, method === "INVITE" ? METHOD_INVITE : METHOD_OPTIONS, branchStart, branchEnd,
      address, port, transport, this.platform.clock.now());
    this.rearm();
    return tx;
  }
}
