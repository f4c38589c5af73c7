// The device's SIP node: the HAL's UDP and TCP sockets under sip-core's UserAgent, one alarm for every timer.
//
// Subclasses are the applications (the door phone; the simulator's test endpoint): they override the
// CallListener methods and add their own deadlines through `extraDeadline`/`pollExtra`.
import type { Alarm, Platform, TcpConnection, TcpServer, UdpSocket } from "../hal/types.ts";
import {
  DEFAULT_LIMITS, DEFAULT_TIMERS, SipTransport, StreamReader, TRANSPORT_TCP, UserAgent, earliest, useSha256,
  type AccountConfig, type Call, type CallConfig, type CallListener, type CallLog, type KeepaliveListener, type Registration, type SipMessage,
  type TimerConfig, type Transaction, type TransactionLayer, type TransportPort, type UaTrace,
} from "../sip-core/index.ts";

/** TCP connections kept at once (to registrar, proxy, a peer); one more closes the oldest. */
export const MAX_CONNECTIONS = 8;
/** Accounts one device registers at most (each costs a Registration and its buffers, allocated at boot). */
export const MAX_ACCOUNTS = 4;

export interface SipNodeOptions {
  platform: Platform;
  /** Address to bind and to write into Via/Contact. */
  address: string;
  port: number;
  /** Transactions in the pool; the buffer size is the largest message (1500). */
  capacity: number;
  timers: TimerConfig | null;
  accounts: AccountConfig[];
  /** Calls: identity and policy (null: this node makes no calls) and how many at once in the pool. */
  calls: CallConfig | null;
  callCapacity: number;
  /**
   * Retransmission copies sized to each message and kept only while a retransmission can need them
   * (TransactionLayerConfig.exactCopies): ~60 variables less per transaction slot on Espruino while idle,
   * at the price of memory that follows what is in flight (a call's 2xx and a BYE's 200 are held until
   * Timers L and J, 32 s). Default false: one 1,500-byte buffer per slot, allocated at start-up.
   */
  exactCopies?: boolean;
  /**
   * The UA's log (registrations and calls). Absent: the node itself, whose subclass then has a
   * write(level, msg) (the simulator's endpoint records the lines); the phone passes the platform's log.
   */
  log?: CallLog;
}

/** One TCP connection and its stream state, by remote address:port. */
interface Flow {
  address: string;
  port: number;
  conn: TcpConnection;
  reader: StreamReader;
}

// What admit() decides for a datagram.
export const ADMIT_PASS = 0;
export const ADMIT_DROP = 1;
export const ADMIT_REFUSE = 2;

/**
 * The node is its UserAgent's port, trace and keep-alive listener itself (methods, not closures made per
 * instance that would also keep the constructor's scope alive).
 */
export abstract class SipNode implements CallListener, TransportPort, UaTrace, KeepaliveListener {
  readonly platform: Platform;
  readonly address: string;
  port: number;
  readonly ua: UserAgent;
  readonly layer: TransactionLayer;
  readonly transport: SipTransport;
  readonly registrations: Registration[];
  protected socket: UdpSocket | null = null;
  protected server: TcpServer | null = null;
  private readonly flows: Flow[] = [];
  private readonly alarm: Alarm;

  constructor(o: SipNodeOptions) {
    this.platform = o.platform;
    this.address = o.address;
    this.port = o.port;
    this.ua = new UserAgent({
      transactions: { capacity: o.capacity, bufferSize: 1500, timers: o.timers || DEFAULT_TIMERS, retryAfter: 5, exactCopies: o.exactCopies === true },
      limits: DEFAULT_LIMITS, port: this, clock: o.platform.clock, random: o.platform.random, log: o.log !== undefined ? o.log : this as unknown as CallLog,
      accounts: o.accounts, maxAccounts: MAX_ACCOUNTS, calls: o.calls, callCapacity: o.callCapacity, listener: this, trace: this,
    });
    this.layer = this.ua.layer;
    this.transport = this.ua.transport;
    this.registrations = this.ua.registrations;
    // The HAL calls onAlarm detached: a bound copy (a closure here would keep this constructor's scope, o with it).
    this.alarm = o.platform.createAlarm({ onAlarm: this.onAlarm.bind(this) });
    // A platform with a native SHA-256 (Espruino boards with crypto) serves the digests.
    if (o.platform.sha256Hex !== undefined) useSha256(o.platform.sha256Hex);
    this.transport.keepalive = this;
    // A 200 the UA leaves for later goes out from onDatagram, once the transport has returned (flushOk).
    this.layer.holdOk = true;
  }

  // --- the UserAgent's port and keep-alive listener --------------------------------------------

  /** Sends a SIP message (or keep-alive) over UDP or the TCP connection to address:port. */
  send(data: Uint8Array, length: number, address: string, p: number, transport: number): number {
    this.sentMessage();
    if (transport === TRANSPORT_TCP) return this.sendTcp(data, length, address, p);
    return this.socket === null ? -1 : this.socket.send(data, length, address, p);
  }

  /** An RFC 5626 pong came from address:port. */
  onPong(address: string, p: number): void {
    this.ua.onPong(address, p);
    this.rearm();
  }

  // --- what subclasses override --------------------------------------------------------------

  // Abstract rather than no-op defaults: each would be a function object the device keeps (~5 variables).
  /** Every request, response and transaction end the UA handles (TRACE_*; for ladders, tests, diagnostics). */
  abstract trace(kind: number, msg: SipMessage | null, tx: Transaction | null): void;
  /** A SIP message (or keep-alive) went to the transport. */
  protected abstract sentMessage(): void;
  /** The application's own next deadline (door relay, media), -1 when none. */
  protected abstract extraDeadline(): number;
  protected abstract pollExtra(now: number): void;

  abstract onIncoming(call: Call | null, msg: SipMessage): number;
  abstract onCallState(call: Call): void;
  abstract onCallMedia(call: Call): void;
  abstract onInfoDigit(call: Call, digit: number): void;

  // --- operations ----------------------------------------------------------------------------

  now(): number { return this.platform.clock.now(); }

  /** Calls target (a sip: URI); null when the call could not start. */
  call(target: string): Call | null {
    const c = this.ua.calls === null ? null : this.ua.calls.invite(target, this.now());
    this.rearm();
    return c;
  }

  hangup(call: Call): void {
    if (this.ua.calls !== null) this.ua.calls.hangup(call, this.now());
    this.rearm();
  }

  answer(call: Call): void {
    if (this.ua.calls !== null) this.ua.calls.answerCall(call, this.now());
    this.rearm();
  }

  /** Registers every account (boot). */
  registerAll(): void {
    const now = this.now();
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].start(now);
    this.rearm();
  }

  /** Unregisters every account (orderly shutdown). */
  unregisterAll(): void {
    const now = this.now();
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].unregister(now);
    this.rearm();
  }

  /** Binds the UDP socket and listens on TCP. Returns 0 or a negative HAL error. */
  open(): number {
    // The HAL calls these detached: bound copies (a closure made here would keep this method's scope).
    const s = this.platform.openUdp({ port: this.port, address: this.address, onMessage: this.onDatagram.bind(this) });
    if (typeof s === "number") return s;
    this.socket = s;
    const server = this.platform.listenTcp({ port: this.port, address: this.address, onConnection: this.onConnection.bind(this) });
    if (typeof server !== "number") this.server = server;
    return 0;
  }

  private onDatagram(data: string, address: string, p: number): void {
    const now = this.now();
    const a = this.admit(address, now);
    if (a === ADMIT_PASS) {
      this.transport.receiveDatagram(data, address, p, now);
      this.layer.flushOk();
    } else if (a === ADMIT_REFUSE) this.transport.refuseDatagram(data, address, p, 403, "Rate Limited");
    else return;
    this.rearm();
  }

  /**
   * What becomes of a datagram from address (the door phone's flood control; the simulator's endpoint: always
   * parsed): ADMIT_PASS, ADMIT_DROP (not parsed), ADMIT_REFUSE (a request is answered 403, statelessly).
   */
  protected abstract admit(address: string, now: number): number;

  private onConnection(conn: TcpConnection): { onData: (data: string) => void; onClose: () => void } {
    const self = this;
    const flow = this.addFlow(conn.remoteAddress, conn.remotePort, conn);
    return {
      onData: function (d: string): void { self.onStream(flow, d); },
      onClose: function (): void { self.dropFlow(flow); },
    };
  }

  private addFlow(address: string, port: number, conn: TcpConnection): Flow {
    if (this.flows.length >= MAX_CONNECTIONS) {
      const oldest = this.flows.shift() as Flow;
      oldest.conn.close();
    }
    const flow: Flow = { address: address, port: port, conn: conn, reader: new StreamReader() };
    this.flows.push(flow);
    return flow;
  }

  private dropFlow(flow: Flow): void {
    const i = this.flows.indexOf(flow);
    if (i < 0) return;
    this.flows.splice(i, 1);
    if (this.socket === null) return; // shutting down
    this.ua.onFlowClosed(flow.address, flow.port, this.now());
    this.rearm();
  }

  private onStream(flow: Flow, data: string): void {
    const r = this.transport.receiveStream(flow.reader, data, flow.address, flow.port, TRANSPORT_TCP, this.now());
    if (r < 0) { flow.conn.close(); this.dropFlow(flow); }
    this.rearm();
  }

  /** Sends over the connection to address:port, opening one when there is none. */
  protected sendTcp(data: Uint8Array, length: number, address: string, port: number): number {
    for (let i = 0; i < this.flows.length; i++) {
      const f = this.flows[i];
      if (f.address === address && f.port === port) return f.conn.send(data, length);
    }
    const self = this;
    let flow: Flow | null = null;
    const conn = this.platform.connectTcp({
      address: address, port: port,
      onData: function (d: string): void { if (flow !== null) self.onStream(flow, d); },
      onClose: function (): void { if (flow !== null) self.dropFlow(flow); },
    });
    if (typeof conn === "number") return conn;
    flow = this.addFlow(address, port, conn);
    flow.reader.outgoing = true;
    return conn.send(data, length);
  }

  /** The bound port (when 0 was asked, the one the platform picked). */
  boundPort(): number { return this.socket === null ? 0 : this.socket.port; }

  /** TCP is available (a listening socket): §18.1.1's size rule may switch to it. */
  hasTcp(): boolean { return this.server !== null; }

  close(): void {
    this.alarm.cancel();
    if (this.socket !== null) this.socket.close();
    this.socket = null;
    if (this.server !== null) this.server.close();
    this.server = null;
    for (let i = 0; i < this.flows.length; i++) this.flows[i].conn.close();
    this.flows.splice(0, this.flows.length); // Espruino refuses assignments to an array's length
  }

  /** Sets the one alarm to the earliest deadline of the stack and the application. */
  rearm(): void {
    const at = earliest(this.ua.nextDeadline(), this.extraDeadline());
    if (at < 0) this.alarm.cancel();
    else this.alarm.set(at);
  }

  private onAlarm(): void {
    const now = this.now();
    this.ua.poll(now);
    this.pollExtra(now);
    this.rearm();
  }
}
