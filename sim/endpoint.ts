// A SIP endpoint over any HAL platform: UDP socket + transport + transaction layer, one alarm for every timer, a minimal UA core.
//
// Used by the simulator and the interop tests until the firmware's UA core exists: it answers OPTIONS
// (200 with Allow/Accept/Supported), answers INVITE with a configured final status, and can send
// OPTIONS or INVITE requests of its own. The same code runs on the virtual and the real platform.
import type { Alarm, Platform, TcpConnection, TcpServer, UdpSocket } from "../hal/types.ts";
import {
  DEFAULT_LIMITS, METHOD_ACK, METHOD_CANCEL, METHOD_INVITE, METHOD_OPTIONS, SipMessage, SipTransport, SipWriter,
  DEFAULT_TIMERS, Registration, StreamReader, useSha256, TRANSPORT_TCP, TRANSPORT_UDP, TransactionLayer, transportForSize, writeResponseHead,
  type AccountConfig, type TimerConfig, type Transaction, type TransactionUser,
} from "../sip-core/index.ts";

export interface EndpointOptions {
  platform: Platform;
  /** Address the endpoint binds and writes into Via/Contact. */
  address: string;
  port: number;
  /** Final status for incoming INVITEs (e.g. 486, 603, 200). */
  inviteStatus?: number;
  capacity?: number;
  timers?: TimerConfig;
  /** Accounts to register (each keeps itself registered once start() is called). */
  accounts?: AccountConfig[];
}

/** What the endpoint saw, for tests and the command line. */
export interface EndpointEvent {
  at: number;
  kind: string;
  detail: string;
}

const ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";
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

export class Endpoint implements TransactionUser {
  readonly platform: Platform;
  readonly address: string;
  port: number;
  readonly layer: TransactionLayer;
  readonly transport: SipTransport;
  readonly events: EndpointEvent[] = [];
  inviteStatus: number;
  private socket: UdpSocket | null = null;
  private server: TcpServer | null = null;
  private readonly flows: Flow[] = [];
  readonly registrations: Registration[] = [];
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
    this.layer = new TransactionLayer({
      capacity: o.capacity || 32, bufferSize: 1500,
      timers: o.timers || DEFAULT_TIMERS, retryAfter: 5,
    }, port, this);
    this.transport = new SipTransport(this.layer, port, DEFAULT_LIMITS, 1500);
    this.alarm = o.platform.createAlarm({ onAlarm: () => this.onAlarm() });
    // A platform with a native SHA-256 (Espruino boards with crypto) serves the digests.
    if (o.platform.sha256Hex !== undefined) useSha256(o.platform.sha256Hex);
    const accounts = o.accounts || [];
    for (let i = 0; i < accounts.length; i++) {
      if (i >= MAX_ACCOUNTS) { this.log("reg-warn", "account " + accounts[i].user + " ignored: at most " + MAX_ACCOUNTS + " accounts"); continue; }
      const r = new Registration(accounts[i], this.layer, o.platform.random,
        { write: (level, msg) => this.log(level <= 1 ? "reg-warn" : "reg", msg) }, 1500);
      r.pinger = this.transport;
      this.registrations.push(r);
    }
    this.transport.keepalive = {
      onPong: (address, port) => {
        this.log("pong", address + ":" + port);
        for (let i = 0; i < this.registrations.length; i++) this.registrations[i].onPong(address, port);
        this.rearm();
      },
    };
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

  private registrationOf(tx: Transaction): Registration | null {
    for (let i = 0; i < this.registrations.length; i++) if (this.registrations[i].owns(tx)) return this.registrations[i];
    return null;
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
    let at = this.layer.nextDeadline();
    for (let i = 0; i < this.registrations.length; i++) {
      const r = this.registrations[i].nextDeadline();
      if (r >= 0 && (at < 0 || r < at)) at = r;
    }
    if (at < 0) this.alarm.cancel();
    else this.alarm.set(at);
  }

  private onAlarm(): void {
    const now = this.platform.clock.now();
    this.layer.poll(now);
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].poll(now);
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

  // --- TransactionUser ---------------------------------------------------------------------

  onRequest(tx: Transaction, msg: SipMessage): void {
    this.log("request", msg.methodName());
    const w = this.writer.reset();
    let status = 200;
    if (msg.method === METHOD_OPTIONS) {
      writeResponseHead(w, msg, 200, "OK", this.token());
      w.header("Allow", ALLOW).header("Accept", "application/sdp").header("Supported", "");
    } else if (msg.method === METHOD_INVITE) {
      status = this.inviteStatus;
      writeResponseHead(w, msg, status, status === 486 ? "Busy Here" : status === 603 ? "Decline" : status === 200 ? "OK" : "Error", this.token());
    } else if (msg.method === METHOD_CANCEL) {
      writeResponseHead(w, msg, 200, "OK", this.token());
    } else {
      status = 405;
      writeResponseHead(w, msg, 405, "Method Not Allowed", this.token());
      w.header("Allow", ALLOW);
    }
    const n = w.end(null, 0, 0);
    if (n > 0) this.layer.respond(tx, w.buf, n, status, this.platform.clock.now());
    this.rearm();
  }

  onResponse(tx: Transaction, msg: SipMessage): void {
    this.log("response", String(msg.status));
    const r = this.registrationOf(tx);
    if (r !== null) { r.onResponse(msg, this.platform.clock.now()); this.rearm(); }
  }
  onTimeout(tx: Transaction): void {
    this.log("timeout", tx.branchText());
    const r = this.registrationOf(tx);
    if (r !== null) { r.onTimeout(this.platform.clock.now(), tx); this.rearm(); }
  }
  onTransportError(tx: Transaction): void { this.log("transport-error", tx.branchText()); }
  onTerminated(_tx: Transaction): void { this.log("terminated", ""); }
  onAck(msg: SipMessage): void { if (msg.method === METHOD_ACK) this.log("ack", ""); }
  onStrayResponse(msg: SipMessage): void { this.log("stray", String(msg.status)); }
}
