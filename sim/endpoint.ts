// A SIP endpoint over any HAL platform: UDP and TCP sockets, sip-core's UserAgent, one alarm for every timer.
//
// Used by the simulator and the interop tests: the UserAgent registers the accounts, answers OPTIONS
// and runs calls (incoming ones by inviteStatus or onIncomingCall); hooks report call states, media
// and INFO digits. It can also send raw OPTIONS or INVITE transactions. The same code runs on the
// virtual and the real platform.
import type { Alarm, Platform, TcpConnection, TcpServer, UdpSocket } from "../hal/types.ts";
import {
  CALL_ENDED, DEFAULT_CALL_CONFIG, DEFAULT_LIMITS, DEFAULT_TIMERS, METHOD_INVITE, METHOD_OPTIONS, SipMessage, SipTransport, SipWriter,
  StreamReader, TRANSPORT_TCP, TRANSPORT_UDP, TransactionLayer, UserAgent, transportForSize, useSha256,
  type AccountConfig, type Call, type CallConfig, type CallListener, type Registration, type TimerConfig, type Transaction,
} from "../sip-core/index.ts";

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
}

/** What the endpoint saw, for tests and the command line. */
export interface EndpointEvent {
  at: number;
  kind: string;
  detail: string;
}

/** Accounts one device registers at most (each costs a Registration and its buffers, allocated at boot). */
export const MAX_ACCOUNTS = 4;
/** TCP connections kept at once (to registrar, proxy, a peer); one more closes the oldest. */
const MAX_CONNECTIONS = 8;
/** The path MTU assumed for §18.1.1's size rule. */
const PATH_MTU = 1500;

/** One TCP connection and its stream state, by remote address:port. */
class Flow {
  constructor(readonly address: string, readonly port: number, readonly conn: TcpConnection, readonly reader: StreamReader) {}
}

export class Endpoint implements CallListener {
  readonly platform: Platform;
  readonly address: string;
  port: number;
  readonly ua: UserAgent;
  readonly layer: TransactionLayer;
  readonly transport: SipTransport;
  readonly registrations: Registration[];
  readonly events: EndpointEvent[] = [];
  inviteStatus: number;
  /** Hooks for tests and the demo (the door-phone firmware takes these roles on a device). */
  onCall: ((call: Call) => void) | null = null;
  onMedia: ((call: Call) => void) | null = null;
  onDigit: ((call: Call, digit: number) => void) | null = null;
  /** Decides incoming calls when set (else inviteStatus does). */
  onIncomingCall: ((call: Call, msg: SipMessage) => number) | null = null;
  private socket: UdpSocket | null = null;
  private server: TcpServer | null = null;
  private readonly flows: Flow[] = [];
  private readonly alarm: Alarm;
  protected readonly writer = new SipWriter(1500);
  private counter = 0;

  constructor(o: EndpointOptions) {
    this.platform = o.platform;
    this.address = o.address;
    this.port = o.port;
    this.inviteStatus = o.inviteStatus || 486;
    const self = this;
    const port = {
      send(data: Uint8Array, length: number, address: string, p: number, transport: number): number {
        if (transport === TRANSPORT_TCP) return self.sendTcp(data, length, address, p);
        return self.socket === null ? -1 : self.socket.send(data, length, address, p);
      },
    };
    const accounts = o.accounts || [];
    for (let i = MAX_ACCOUNTS; i < accounts.length; i++) this.log("reg-warn", "account " + accounts[i].user + " ignored: at most " + MAX_ACCOUNTS + " accounts");
    const calls: CallConfig = Object.assign({}, DEFAULT_CALL_CONFIG, { localAddress: o.address, localPort: o.port, rtpAddress: o.address }, o.calls || {});
    this.ua = new UserAgent({
      transactions: { capacity: o.capacity || 32, bufferSize: 1500, timers: o.timers || DEFAULT_TIMERS, retryAfter: 5 },
      limits: DEFAULT_LIMITS, port, clock: o.platform.clock, random: o.platform.random,
      log: { write: (level, msg) => this.log((msg.startsWith("call ") ? "call" : "reg") + (level <= 1 ? "-warn" : ""), msg) },
      accounts, maxAccounts: MAX_ACCOUNTS, calls, callCapacity: o.callCapacity || 2, listener: this,
      trace: { trace: (kind, detail) => this.log(kind, detail) },
    });
    this.layer = this.ua.layer;
    this.transport = this.ua.transport;
    this.registrations = this.ua.registrations;
    this.alarm = o.platform.createAlarm({ onAlarm: () => this.onAlarm() });
    // A platform with a native SHA-256 (Espruino boards with crypto) serves the digests.
    if (o.platform.sha256Hex !== undefined) useSha256(o.platform.sha256Hex);
    this.transport.keepalive = {
      onPong: (address, port) => {
        this.log("pong", address + ":" + port);
        this.ua.onPong(address, port);
        this.rearm();
      },
    };
  }

  /** Calls target (a sip: URI); null when the call could not start. */
  call(target: string): Call | null {
    const c = this.ua.calls === null ? null : this.ua.calls.invite(target, this.platform.clock.now());
    this.rearm();
    return c;
  }

  hangup(call: Call): void {
    if (this.ua.calls !== null) this.ua.calls.hangup(call, this.platform.clock.now());
    this.rearm();
  }

  answer(call: Call): void {
    if (this.ua.calls !== null) this.ua.calls.answerCall(call, this.platform.clock.now());
    this.rearm();
  }

  // --- CallListener --------------------------------------------------------------------------

  onIncoming(call: Call, msg: SipMessage): number {
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

  /** Registers every account (boot). */
  registerAll(): void {
    const now = this.platform.clock.now();
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].start(now);
    this.rearm();
  }

  /** Unregisters every account (orderly shutdown). */
  unregisterAll(): void {
    const now = this.platform.clock.now();
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].unregister(now);
    this.rearm();
  }

  /** Binds the UDP socket. Returns 0 or a negative HAL error. */
  open(): number {
    const s = this.platform.openUdp({
      port: this.port,
      address: this.address,
      onMessage: (data, address, port) => {
        this.transport.receiveDatagram(data, address, port, this.platform.clock.now());
        this.rearm();
      },
    });
    if (typeof s === "number") return s;
    this.socket = s;
    const server = this.platform.listenTcp({
      port: this.port,
      address: this.address,
      onConnection: (conn) => {
        const flow = this.addFlow(conn.remoteAddress, conn.remotePort, conn);
        return { onData: (d: string) => this.onStream(flow, d), onClose: () => this.dropFlow(flow) };
      },
    });
    if (typeof server !== "number") this.server = server;
    return 0;
  }

  private addFlow(address: string, port: number, conn: TcpConnection): Flow {
    if (this.flows.length >= MAX_CONNECTIONS) {
      const oldest = this.flows.shift() as Flow;
      oldest.conn.close();
    }
    const flow = new Flow(address, port, conn, new StreamReader());
    this.flows.push(flow);
    return flow;
  }

  private dropFlow(flow: Flow): void {
    const i = this.flows.indexOf(flow);
    if (i >= 0) this.flows.splice(i, 1);
  }

  private onStream(flow: Flow, data: string): void {
    const r = this.transport.receiveStream(flow.reader, data, flow.address, flow.port, TRANSPORT_TCP, this.platform.clock.now());
    if (r < 0) { flow.conn.close(); this.dropFlow(flow); }
    this.rearm();
  }

  /** Sends over the connection to address:port, opening one when there is none. */
  private sendTcp(data: Uint8Array, length: number, address: string, port: number): number {
    for (let i = 0; i < this.flows.length; i++) {
      const f = this.flows[i];
      if (f.address === address && f.port === port) return f.conn.send(data, length);
    }
    let flow: Flow | null = null;
    const conn = this.platform.connectTcp({
      address, port,
      onData: (d) => { if (flow !== null) this.onStream(flow, d); },
      onClose: () => { if (flow !== null) this.dropFlow(flow); },
    });
    if (typeof conn === "number") return conn;
    flow = this.addFlow(address, port, conn);
    return conn.send(data, length);
  }

  /** The bound port (when 0 was asked, the one the platform picked). */
  boundPort(): number { return this.socket === null ? 0 : this.socket.port; }

  close(): void {
    this.alarm.cancel();
    if (this.socket !== null) this.socket.close();
    this.socket = null;
    if (this.server !== null) this.server.close();
    this.server = null;
    for (let i = 0; i < this.flows.length; i++) this.flows[i].conn.close();
    this.flows.length = 0;
  }

  protected log(kind: string, detail: string): void {
    this.events.push({ at: this.platform.clock.now(), kind, detail });
  }

  protected rearm(): void {
    const at = this.ua.nextDeadline();
    if (at < 0) this.alarm.cancel();
    else this.alarm.set(at);
  }

  private onAlarm(): void {
    this.ua.poll(this.platform.clock.now());
    this.rearm();
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
    const transport = transportForSize(n, PATH_MTU, this.server !== null);
    if (transport === TRANSPORT_TCP) {
      const t = branchStart - ";branch=".length - local.length - 4;
      w.buf[t] = 84; w.buf[t + 1] = 67; w.buf[t + 2] = 80; // "UDP" → "TCP"
    }
    const tx = this.layer.sendRequest(w.buf, n, method === "INVITE" ? METHOD_INVITE : METHOD_OPTIONS, 1, branchStart, branchEnd,
      address, port, transport, this.platform.clock.now());
    this.rearm();
    return tx;
  }
}
