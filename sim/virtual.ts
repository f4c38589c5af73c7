// A deterministic virtual world for the simulator: a clock that moves only when told, a seeded random
// generator, and a network of many endpoints in one process (UDP with latency, jitter, loss,
// duplication, reordering and MTU drops; a small reliable TCP), with a capture of every datagram.
//
// Same seeds and same calls → the same run, event for event: the scheduler orders events by time and
// then by the order they were scheduled, and every random draw comes from seeded generators in the
// order the simulation makes them. Nothing here reads wall-clock time.
import type {
  Alarm, AlarmOptions, Clock, Log, Platform, Random, TcpConnection, TcpListenOptions, TcpOptions, TcpServer, UdpOptions, UdpSocket,
} from "../hal/types.ts";
import { LOG_INFO } from "../hal/types.ts";
import {
  HAL_ERR_ADDRESS_IN_USE, HAL_ERR_CLOSED, HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_ERR_REFUSED, HAL_ERR_TIMEOUT, HAL_ERR_TOO_LARGE, HAL_OK,
} from "../hal/errors.ts";

// ---------------------------------------------------------------------------------------------------
// Clock and scheduler

/** A pending event on a VirtualClock (returned by schedule(), accepted by cancel()). */
export interface ScheduledEvent {
  readonly at: number;
  readonly seq: number;
  fn: () => void;
  /** Position in the heap; -1 once run or cancelled. */
  index: number;
}

export interface VirtualClockOptions {
  /** Time at start, ms (default 0). */
  start?: number;
  /** A run (advance, runUntil, runUntilIdle) that executes more events than this throws: a livelock guard (default 10,000,000). */
  maxEventsPerRun?: number;
}

/**
 * Simulated monotonic time (ms). Time moves only inside advance/advanceTo/runUntil/runUntilIdle, jumping
 * from one due event to the next; events due at the same time run in the order they were scheduled.
 */
export class VirtualClock implements Clock {
  private t: number;
  private heap: ScheduledEvent[] = [];
  private seq = 0;
  private running = false;
  private readonly maxEvents: number;
  /** Events run since creation. */
  eventsRun = 0;

  constructor(options: VirtualClockOptions = {}) {
    this.t = options.start ?? 0;
    this.maxEvents = options.maxEventsPerRun ?? 10_000_000;
  }

  now(): number {
    return this.t;
  }

  /** Events waiting to run. */
  get pending(): number {
    return this.heap.length;
  }

  /** Time of the next pending event, or Infinity. */
  nextAt(): number {
    return this.heap.length > 0 ? this.heap[0].at : Infinity;
  }

  /** Runs fn at time `at` (a time in the past means now: it runs at the next step, never synchronously). */
  schedule(at: number, fn: () => void): ScheduledEvent {
    if (!(at >= this.t)) {
      if (Number.isNaN(at)) throw new RangeError("VirtualClock.schedule: time is NaN");
      at = this.t;
    }
    const ev: ScheduledEvent = { at, seq: this.seq++, fn, index: this.heap.length };
    this.heap.push(ev);
    this.up(ev.index);
    return ev;
  }

  /** Removes a pending event; false when it already ran or was cancelled. */
  cancel(ev: ScheduledEvent): boolean {
    const i = ev.index;
    if (i < 0 || this.heap[i] !== ev) return false;
    this.removeAt(i);
    return true;
  }

  /** Runs, in order, every event due up to now + ms (including those they schedule), then sets the time to now + ms. Returns the events run. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError("VirtualClock.advance: ms must be >= 0, got " + ms);
    return this.advanceTo(this.t + ms);
  }

  /** advance() to an absolute time (not before now). */
  advanceTo(time: number): number {
    if (!(time >= this.t)) throw new RangeError("VirtualClock.advanceTo: " + time + " is before now (" + this.t + ")");
    const n = this.run(time, null);
    this.t = time;
    return n;
  }

  /**
   * Runs events until predicate() is true (checked first, then after each event) or until limitMs have
   * passed. True when the predicate held: time is then that of the event that made it so. False when
   * the limit came first: time is then now + limitMs.
   */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    if (!(limitMs >= 0)) throw new RangeError("VirtualClock.runUntil: limitMs must be >= 0");
    if (predicate()) return true;
    const deadline = this.t + limitMs;
    this.run(deadline, predicate);
    if (predicate()) return true;
    this.t = deadline;
    return false;
  }

  /**
   * Runs events until none is pending, or until limitMs have passed. True when idle (time is then that
   * of the last event run); false when events remain past the limit (time is then now + limitMs).
   */
  runUntilIdle(limitMs: number): boolean {
    if (!(limitMs >= 0)) throw new RangeError("VirtualClock.runUntilIdle: limitMs must be >= 0");
    const deadline = this.t + limitMs;
    this.run(deadline, null);
    if (this.heap.length === 0) return true;
    this.t = deadline;
    return false;
  }

  /** Runs events due at or before `until`, stopping early when `stop` returns true. */
  private run(until: number, stop: (() => boolean) | null): number {
    if (this.running) throw new Error("VirtualClock: advance/runUntil called from inside an event");
    this.running = true;
    let n = 0;
    try {
      while (this.heap.length > 0 && this.heap[0].at <= until) {
        const ev = this.heap[0];
        this.removeAt(0);
        this.t = ev.at;
        n++;
        this.eventsRun++;
        if (n > this.maxEvents) throw new Error("VirtualClock: more than " + this.maxEvents + " events in one run (livelock?) at t=" + this.t);
        ev.fn();
        if (stop !== null && stop()) break;
      }
    } finally {
      this.running = false;
    }
    return n;
  }

  private less(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private removeAt(i: number): void {
    const h = this.heap;
    const ev = h[i];
    ev.index = -1;
    const last = h.pop()!;
    if (i < h.length) {
      h[i] = last;
      last.index = i;
      if (i > 0 && this.less(last, h[(i - 1) >> 1])) this.up(i);
      else this.down(i);
    }
  }

  private up(i: number): void {
    const h = this.heap;
    const ev = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(ev, h[p])) break;
      h[i] = h[p];
      h[i].index = i;
      i = p;
    }
    h[i] = ev;
    ev.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const ev = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r], h[l]) ? r : l;
      if (!this.less(h[c], ev)) break;
      h[i] = h[c];
      h[i].index = i;
      i = c;
    }
    h[i] = ev;
    ev.index = i;
  }
}

// ---------------------------------------------------------------------------------------------------
// Random

/** mulberry32: a small, fast 32-bit generator. Same seed → same sequence. */
export class SeededRandom implements Random {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/** A 32-bit seed from a string (FNV-1a), e.g. a per-endpoint default seed from its address. */
export function seedFromString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------------
// Network

/** Conditions of one direction of a link (from one address to another). */
export interface LinkConditions {
  /** One-way delay, ms. */
  latency: number;
  /** Extra delay drawn uniformly from [0, jitter) ms per datagram; jitter larger than the send spacing reorders. */
  jitter: number;
  /** Probability a datagram is lost (0..1; 1 = link down). */
  loss: number;
  /** Probability a delivered datagram is also delivered a second time (with its own delay). */
  duplicate: number;
  /** Probability a datagram is held back by reorderDelay, so later ones overtake it. */
  reorder: number;
  /** Extra delay of a held-back datagram, ms. */
  reorderDelay: number;
  /** IP MTU, bytes: a datagram whose payload + 28 (IPv4 + UDP headers) exceeds it is dropped (a lost fragment). */
  mtu: number;
}

/** IPv4 + UDP header bytes counted against the MTU. */
export const UDP_IP_OVERHEAD = 28;
/** Largest UDP payload over IPv4. */
export const UDP_MAX_PAYLOAD = 65507;

export const DEFAULT_LINK: Readonly<LinkConditions> = { latency: 10, jitter: 0, loss: 0, duplicate: 0, reorder: 0, reorderDelay: 50, mtu: 1500 };

/** What became of one datagram copy (or TCP segment). */
export type Fate = "pending" | "delivered" | "lost" | "mtu" | "unbound";

/** One captured datagram copy (a duplicate has its own record). */
export interface CaptureRecord {
  /** Capture sequence number, in send order. */
  id: number;
  proto: "udp" | "tcp";
  /** Send time, ms. */
  time: number;
  /** Arrival time (scheduled while pending), or -1 when dropped at send (lost, mtu). */
  arrival: number;
  from: string;
  fromPort: number;
  to: string;
  toPort: number;
  /** The bytes, as a binary string. */
  data: string;
  fate: Fate;
  /** This copy is the network's duplicate of record `original`. */
  duplicate: boolean;
  /** id of the datagram this is a copy of (its own id when not a duplicate). */
  original: number;
  /** Held back by the reorder delay. */
  reordered: boolean;
}

export interface NetworkStats {
  /** Datagrams sent (send() calls accepted). */
  sent: number;
  bytesSent: number;
  /** Copies handed to a socket. */
  delivered: number;
  bytesDelivered: number;
  /** Dropped by the loss probability. */
  lost: number;
  /** Dropped as larger than the link MTU. */
  mtuDropped: number;
  /** Arrived at an address:port with no socket bound. */
  unbound: number;
  /** Extra copies made by the duplication probability. */
  duplicated: number;
  /** Copies held back by the reorder probability. */
  reordered: number;
}

export interface VirtualNetworkOptions {
  clock: VirtualClock;
  /** Seed of the generator every link condition draws from (default 1). */
  seed?: number;
  /** Conditions of every direction without its own (merged over DEFAULT_LINK). */
  defaults?: Partial<LinkConditions>;
  /** Records kept in the capture ring (default 10,000; 0 keeps none). */
  captureLimit?: number;
  /** Called once per datagram copy when its fate is known: at send for lost/mtu, at arrival otherwise. */
  observer?: (record: CaptureRecord) => void;
  /** TCP: how long a connect to an unreachable peer (link loss 1) waits before failing with HAL_ERR_TIMEOUT (default 10,000 ms). */
  tcpConnectTimeout?: number;
}

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_LAST = 65535;

/**
 * Many endpoints in one process, addressed by IPv4 strings. Conditions apply per direction
 * (from → to); a direction without its own uses, in order, "from → *", "* → to", then the defaults.
 * Every change takes effect for datagrams sent after it.
 */
export class VirtualNetwork {
  readonly clock: VirtualClock;
  readonly random: SeededRandom;
  readonly stats: NetworkStats = { sent: 0, bytesSent: 0, delivered: 0, bytesDelivered: 0, lost: 0, mtuDropped: 0, unbound: 0, duplicated: 0, reordered: 0 };
  observer: ((record: CaptureRecord) => void) | null;
  readonly tcpConnectTimeout: number;
  private defaults: LinkConditions;
  private links = new Map<string, Partial<LinkConditions>>();
  private udp = new Map<string, VirtualUdpSocket>();
  private tcpListeners = new Map<string, VirtualTcpServer>();
  private tcpPorts = new Set<string>();
  private nextPort = new Map<string, number>();
  private ring: CaptureRecord[] = [];
  private ringStart = 0;
  private readonly captureLimit: number;
  private captureSeq = 0;
  /** Fault injection: a UDP datagram for which this returns true is lost (e.g. "the first ACK"). Draws no random number. */
  dropRule: ((record: CaptureRecord) => boolean) | null = null;

  constructor(options: VirtualNetworkOptions) {
    this.clock = options.clock;
    this.random = new SeededRandom(options.seed ?? 1);
    this.defaults = { ...DEFAULT_LINK, ...(options.defaults ?? {}) };
    this.captureLimit = options.captureLimit ?? 10_000;
    this.observer = options.observer ?? null;
    this.tcpConnectTimeout = options.tcpConnectTimeout ?? 10_000;
  }

  // --- conditions

  /** Changes the defaults (fields not given keep their value). */
  setDefaults(conditions: Partial<LinkConditions>): void {
    this.defaults = { ...this.defaults, ...conditions };
  }

  /** Sets conditions of the direction from → to ("*" matches any address); fields not given keep their value. */
  setLink(from: string, to: string, conditions: Partial<LinkConditions>): void {
    const key = from + ">" + to;
    this.links.set(key, { ...(this.links.get(key) ?? {}), ...conditions });
  }

  /** setLink in both directions between a and b. */
  setLinks(a: string, b: string, conditions: Partial<LinkConditions>): void {
    this.setLink(a, b, conditions);
    this.setLink(b, a, conditions);
  }

  /** Removes the direction's own conditions (it falls back to wildcards and defaults). */
  clearLink(from: string, to: string): void {
    this.links.delete(from + ">" + to);
  }

  /** The conditions a datagram from → to gets now. */
  conditions(from: string, to: string): LinkConditions {
    const own = this.links.get(from + ">" + to) ?? this.links.get(from + ">*") ?? this.links.get("*>" + to);
    return own ? { ...this.defaults, ...own } : { ...this.defaults };
  }

  // --- capture

  /** The captured records, oldest first (at most captureLimit). */
  capture(): CaptureRecord[] {
    return this.ring.slice(this.ringStart).concat(this.ring.slice(0, this.ringStart));
  }

  clearCapture(): void {
    this.ring = [];
    this.ringStart = 0;
  }

  private record(proto: "udp" | "tcp", from: string, fromPort: number, to: string, toPort: number, data: string, duplicateOf: number): CaptureRecord {
    const id = this.captureSeq++;
    const rec: CaptureRecord = {
      id, proto, time: this.clock.now(), arrival: -1, from, fromPort, to, toPort, data, fate: "pending",
      duplicate: duplicateOf >= 0, original: duplicateOf >= 0 ? duplicateOf : id, reordered: false,
    };
    if (this.captureLimit > 0) {
      if (this.ring.length < this.captureLimit) this.ring.push(rec);
      else {
        this.ring[this.ringStart] = rec;
        this.ringStart = (this.ringStart + 1) % this.captureLimit;
      }
    }
    return rec;
  }

  private settle(rec: CaptureRecord, fate: Fate): void {
    rec.fate = fate;
    if (this.observer !== null) this.observer(rec);
  }

  // --- ports

  /** Allocates a free ephemeral port on an address for a namespace ("u" UDP, "t" TCP); 0 when none is left. */
  private ephemeral(ns: string, address: string, inUse: (key: string) => boolean): number {
    const first = this.nextPort.get(ns + address) ?? EPHEMERAL_FIRST;
    let p = first;
    for (;;) {
      if (!inUse(address + ":" + p)) {
        this.nextPort.set(ns + address, p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1);
        return p;
      }
      p = p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
      if (p === first) return 0;
    }
  }

  /** Binds a UDP socket; returns it or a HAL error code. */
  bindUdp(address: string, options: UdpOptions): VirtualUdpSocket | number {
    let port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return HAL_ERR_INVALID;
    if (port === 0) {
      port = this.ephemeral("u", address, (k) => this.udp.has(k));
      if (port === 0) return HAL_ERR_NO_RESOURCES;
    } else if (this.udp.has(address + ":" + port)) return HAL_ERR_ADDRESS_IN_USE;
    const s = new VirtualUdpSocket(this, address, port, options);
    this.udp.set(address + ":" + port, s);
    return s;
  }

  /** @internal */
  unbindUdp(s: VirtualUdpSocket): void {
    const key = s.address + ":" + s.port;
    if (this.udp.get(key) === s) this.udp.delete(key);
  }

  /** True when a UDP socket is bound at address:port. */
  isBound(address: string, port: number): boolean {
    return this.udp.has(address + ":" + port);
  }

  // --- UDP

  /** @internal Sends one datagram (data: a binary string, already copied from the sender's buffer). */
  sendDatagram(from: string, fromPort: number, to: string, toPort: number, data: string): void {
    const st = this.stats;
    st.sent++;
    st.bytesSent += data.length;
    const c = this.conditions(from, to);
    const rec = this.record("udp", from, fromPort, to, toPort, data, -1);
    if (data.length + UDP_IP_OVERHEAD > c.mtu) {
      st.mtuDropped++;
      this.settle(rec, "mtu");
      return;
    }
    if ((this.dropRule !== null && this.dropRule(rec)) || (c.loss > 0 && (c.loss >= 1 || this.random.float() < c.loss))) {
      st.lost++;
      this.settle(rec, "lost");
      return;
    }
    this.launch(rec, c);
    if (c.duplicate > 0 && this.random.float() < c.duplicate) {
      st.duplicated++;
      this.launch(this.record("udp", from, fromPort, to, toPort, data, rec.id), c);
    }
  }

  private launch(rec: CaptureRecord, c: LinkConditions): void {
    let delay = c.latency;
    if (c.jitter > 0) delay += this.random.float() * c.jitter;
    if (c.reorder > 0 && this.random.float() < c.reorder) {
      delay += c.reorderDelay;
      rec.reordered = true;
      this.stats.reordered++;
    }
    rec.arrival = this.clock.now() + delay;
    this.clock.schedule(rec.arrival, () => this.arrive(rec));
  }

  private arrive(rec: CaptureRecord): void {
    const s = this.udp.get(rec.to + ":" + rec.toPort);
    if (s === undefined) {
      this.stats.unbound++;
      this.settle(rec, "unbound");
      return;
    }
    this.stats.delivered++;
    this.stats.bytesDelivered += rec.data.length;
    this.settle(rec, "delivered");
    s.deliver(rec.data, rec.from, rec.fromPort);
  }

  // --- TCP

  /** Listens for TCP connections; returns the server or a HAL error code. */
  listenTcp(address: string, options: TcpListenOptions): VirtualTcpServer | number {
    let port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return HAL_ERR_INVALID;
    if (port === 0) {
      port = this.ephemeral("t", address, (k) => this.tcpPorts.has(k));
      if (port === 0) return HAL_ERR_NO_RESOURCES;
    } else if (this.tcpPorts.has(address + ":" + port)) return HAL_ERR_ADDRESS_IN_USE;
    const server = new VirtualTcpServer(this, address, port, options);
    this.tcpPorts.add(address + ":" + port);
    this.tcpListeners.set(address + ":" + port, server);
    return server;
  }

  /** @internal */
  unlistenTcp(server: VirtualTcpServer): void {
    const key = server.address + ":" + server.port;
    if (this.tcpListeners.get(key) === server) {
      this.tcpListeners.delete(key);
      this.tcpPorts.delete(key);
    }
  }

  /**
   * Opens a TCP connection from `address` (an ephemeral port) to options.address:port. The SYN takes the
   * link's latency; the listener's onConnection runs when it arrives, the caller's onConnect one
   * latency later. No listener: onClose(HAL_ERR_REFUSED) after the round trip; link loss 1 at connect
   * time: onClose(HAL_ERR_TIMEOUT) after tcpConnectTimeout. Once connected, data is reliable and in
   * order (link latency only; loss, jitter, duplication and MTU do not apply).
   */
  connectTcp(address: string, options: TcpOptions): VirtualTcpConnection | number {
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535 || !options.address) return HAL_ERR_INVALID;
    const localPort = this.ephemeral("t", address, (k) => this.tcpPorts.has(k));
    if (localPort === 0) return HAL_ERR_NO_RESOURCES;
    this.tcpPorts.add(address + ":" + localPort);
    const client = new VirtualTcpConnection(this, address, localPort, options.address, options.port);
    client.onConnect = options.onConnect ?? null;
    client.onData = options.onData;
    client.onClose = options.onClose ?? null;
    const now = this.clock.now();
    const up = this.conditions(address, options.address);
    if (up.loss >= 1) {
      client.pendingEvent = this.clock.schedule(now + this.tcpConnectTimeout, () => client.fail(HAL_ERR_TIMEOUT));
      return client;
    }
    const synAt = now + up.latency;
    client.lastArrival = synAt;
    this.clock.schedule(synAt, () => {
      const listener = this.tcpListeners.get(options.address + ":" + options.port);
      const back = this.conditions(options.address, address);
      const t = this.clock.now();
      if (listener === undefined) {
        client.pendingEvent = this.clock.schedule(t + back.latency, () => client.fail(HAL_ERR_REFUSED));
        return;
      }
      const server = new VirtualTcpConnection(this, listener.address, listener.port, address, client.localPort);
      server.state = OPEN;
      server.peer = client;
      client.peer = server;
      server.lastArrival = t + back.latency;
      // SYN-ACK scheduled before onConnection runs, so it reaches the client before anything the server sends.
      this.clock.schedule(t + back.latency, () => client.established());
      const handlers = listener.onConnection(server);
      server.onData = handlers.onData;
      server.onClose = handlers.onClose ?? null;
    });
    return client;
  }

  /** @internal */
  releaseTcpPort(address: string, port: number): void {
    const key = address + ":" + port;
    if (!this.tcpListeners.has(key)) this.tcpPorts.delete(key);
  }

  /** @internal Schedules a segment (data) or FIN (data null) from conn to its peer, in order. */
  sendSegment(conn: VirtualTcpConnection, data: string | null): void {
    const c = this.conditions(conn.localAddress, conn.remoteAddress);
    const at = Math.max(this.clock.now() + c.latency, conn.lastArrival);
    conn.lastArrival = at;
    const rec = data !== null ? this.record("tcp", conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort, data, -1) : null;
    if (rec !== null) {
      rec.arrival = at;
      this.stats.sent++;
      this.stats.bytesSent += data!.length;
    }
    this.clock.schedule(at, () => {
      const peer = conn.peer;
      if (peer === null || peer.state === CLOSED) {
        if (rec !== null) {
          this.stats.unbound++;
          this.settle(rec, "unbound");
        }
        return;
      }
      if (rec !== null) {
        this.stats.delivered++;
        this.stats.bytesDelivered += rec.data.length;
        this.settle(rec, "delivered");
        peer.onData(rec.data);
      } else peer.fail(HAL_OK);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Sockets

/** Converts data[0, length) to a binary string (a copy: the caller may reuse its buffer at once). */
export function bytesToBinary(data: Uint8Array, length: number): string {
  return Buffer.from(data.buffer, data.byteOffset, length).toString("latin1");
}

/** Checks a send's buffer and length: 0, or HAL_ERR_INVALID. */
function checkLength(data: Uint8Array, length: number): number {
  return data instanceof Uint8Array && Number.isInteger(length) && length >= 0 && length <= data.length ? 0 : HAL_ERR_INVALID;
}

export class VirtualUdpSocket implements UdpSocket {
  readonly address: string;
  readonly port: number;
  closed = false;
  private readonly network: VirtualNetwork;
  private readonly onMessage: (data: string, address: string, port: number) => void;

  constructor(network: VirtualNetwork, address: string, port: number, options: UdpOptions) {
    this.network = network;
    this.address = address;
    this.port = port;
    this.onMessage = options.onMessage;
  }

  send(data: Uint8Array, length: number, address: string, port: number): number {
    if (this.closed) return HAL_ERR_CLOSED;
    if (checkLength(data, length) < 0 || typeof address !== "string" || address === "" || !Number.isInteger(port) || port <= 0 || port > 65535) return HAL_ERR_INVALID;
    if (length > UDP_MAX_PAYLOAD) return HAL_ERR_TOO_LARGE;
    this.network.sendDatagram(this.address, this.port, address, port, bytesToBinary(data, length));
    return 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.unbindUdp(this);
  }

  /** @internal */
  deliver(data: string, address: string, port: number): void {
    if (!this.closed) this.onMessage(data, address, port);
  }
}

/** VirtualTcpConnection.state values. */
export const TCP_CONNECTING = 0;
export const TCP_OPEN = 1;
export const TCP_CLOSED = 2;
const CONNECTING = TCP_CONNECTING;
const OPEN = TCP_OPEN;
const CLOSED = TCP_CLOSED;

export class VirtualTcpConnection implements TcpConnection {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** 0 connecting, 1 open, 2 closed. */
  state = CONNECTING;
  /** @internal */ peer: VirtualTcpConnection | null = null;
  /** @internal */ lastArrival = 0;
  /** @internal */ pendingEvent: ScheduledEvent | null = null;
  /** @internal */ onConnect: (() => void) | null = null;
  /** @internal */ onData: (data: string) => void = () => {};
  /** @internal */ onClose: ((code: number) => void) | null = null;
  private readonly network: VirtualNetwork;

  constructor(network: VirtualNetwork, localAddress: string, localPort: number, remoteAddress: string, remotePort: number) {
    this.network = network;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  /** Queues data[0, length) for the peer (before the connection is up it waits, as a real stack's send buffer). */
  send(data: Uint8Array, length: number): number {
    if (this.state === CLOSED) return HAL_ERR_CLOSED;
    if (checkLength(data, length) < 0) return HAL_ERR_INVALID;
    if (length > 0) this.network.sendSegment(this, bytesToBinary(data, length));
    return 0;
  }

  /** Closes both directions; the peer gets onClose(HAL_OK) after the data already sent. onClose is not called for this side. */
  close(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (this.pendingEvent !== null) this.network.clock.cancel(this.pendingEvent);
    this.network.sendSegment(this, null);
    this.network.releaseTcpPort(this.localAddress, this.localPort);
  }

  /** @internal The SYN-ACK arrived. */
  established(): void {
    if (this.state !== CONNECTING) return;
    this.state = OPEN;
    if (this.onConnect !== null) this.onConnect();
  }

  /** @internal The peer closed (HAL_OK) or the connection failed (an error code). */
  fail(code: number): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.pendingEvent = null;
    this.network.releaseTcpPort(this.localAddress, this.localPort);
    if (this.onClose !== null) this.onClose(code);
  }
}

export class VirtualTcpServer implements TcpServer {
  readonly address: string;
  readonly port: number;
  /** @internal */ readonly onConnection: TcpListenOptions["onConnection"];
  private readonly network: VirtualNetwork;

  constructor(network: VirtualNetwork, address: string, port: number, options: TcpListenOptions) {
    this.network = network;
    this.address = address;
    this.port = port;
    this.onConnection = options.onConnection;
  }

  /** Stops accepting; connections already made stay up. */
  close(): void {
    this.network.unlistenTcp(this);
  }
}

// ---------------------------------------------------------------------------------------------------
// Platform

/** One alarm on a VirtualClock: set() replaces the pending wake-up. */
export class VirtualAlarm implements Alarm {
  private ev: ScheduledEvent | null = null;
  private readonly clock: VirtualClock;
  private readonly fire: () => void;

  constructor(clock: VirtualClock, options: AlarmOptions) {
    this.clock = clock;
    const onAlarm = options.onAlarm;
    this.fire = () => {
      this.ev = null;
      onAlarm();
    };
  }

  set(at: number): void {
    if (this.ev !== null) this.clock.cancel(this.ev);
    this.ev = this.clock.schedule(at, this.fire);
  }

  cancel(): void {
    if (this.ev !== null) this.clock.cancel(this.ev);
    this.ev = null;
  }

  /** The pending wake-up time, or -1. */
  get at(): number {
    return this.ev !== null ? this.ev.at : -1;
  }
}

const LEVEL_LETTERS = ["E", "W", "I", "D"];

/** A log that keeps its lines ("<time> <name> <E|W|I|D> <msg>"), optionally echoing them. */
export class VirtualLog implements Log {
  level: number;
  readonly lines: string[] = [];
  private readonly clock: Clock;
  private readonly name: string;
  private readonly maxLines: number;
  private readonly echo: ((line: string) => void) | null;

  constructor(clock: Clock, name: string, level: number, maxLines: number, echo: ((line: string) => void) | null) {
    this.clock = clock;
    this.name = name;
    this.level = level;
    this.maxLines = maxLines;
    this.echo = echo;
  }

  write(level: number, msg: string): void {
    if (level > this.level) return;
    const line = this.clock.now().toFixed(3) + " " + this.name + " " + (LEVEL_LETTERS[level] ?? String(level)) + " " + msg;
    if (this.lines.length >= this.maxLines) this.lines.shift();
    this.lines.push(line);
    if (this.echo !== null) this.echo(line);
  }
}

export interface VirtualPlatformOptions {
  network: VirtualNetwork;
  /** This endpoint's IPv4 address, e.g. "10.0.0.2". */
  address: string;
  /** Seed of this platform's Random (default: derived from the address). */
  seed?: number;
  /** Log level (default LOG_INFO). */
  logLevel?: number;
  /** Name in log lines (default the address). */
  name?: string;
  /** Log lines kept (default 10,000; older ones are dropped). */
  maxLogLines?: number;
  /** Also pass each log line here (e.g. console.log). */
  echoLog?: (line: string) => void;
}

/** The HAL of one endpoint on a VirtualNetwork. */
export class VirtualPlatform implements Platform {
  readonly clock: VirtualClock;
  readonly random: SeededRandom;
  readonly log: VirtualLog;
  readonly network: VirtualNetwork;
  readonly address: string;
  private readonly udpSockets: VirtualUdpSocket[] = [];
  private readonly tcpServers: VirtualTcpServer[] = [];
  private readonly tcpConnections: VirtualTcpConnection[] = [];
  private readonly alarms: VirtualAlarm[] = [];

  constructor(options: VirtualPlatformOptions) {
    this.network = options.network;
    this.clock = options.network.clock;
    this.address = options.address;
    this.random = new SeededRandom(options.seed ?? seedFromString(options.address));
    this.log = new VirtualLog(this.clock, options.name ?? options.address, options.logLevel ?? LOG_INFO, options.maxLogLines ?? 10_000, options.echoLog ?? null);
  }

  createAlarm(options: AlarmOptions): VirtualAlarm {
    const a = new VirtualAlarm(this.clock, options);
    this.alarms.push(a);
    return a;
  }

  /** Binds on this endpoint's address (options.address may be absent, "0.0.0.0" or this address; another is HAL_ERR_INVALID). */
  openUdp(options: UdpOptions): VirtualUdpSocket | number {
    if (!this.ownAddress(options.address)) return HAL_ERR_INVALID;
    const s = this.network.bindUdp(this.address, options);
    if (typeof s !== "number") this.udpSockets.push(s);
    return s;
  }

  connectTcp(options: TcpOptions): VirtualTcpConnection | number {
    const c = this.network.connectTcp(this.address, options);
    if (typeof c !== "number") this.tcpConnections.push(c);
    return c;
  }

  listenTcp(options: TcpListenOptions): VirtualTcpServer | number {
    if (!this.ownAddress(options.address)) return HAL_ERR_INVALID;
    const wrapped: TcpListenOptions = {
      port: options.port,
      address: options.address,
      onConnection: (conn) => {
        this.tcpConnections.push(conn as VirtualTcpConnection);
        return options.onConnection(conn);
      },
    };
    const s = this.network.listenTcp(this.address, wrapped);
    if (typeof s !== "number") this.tcpServers.push(s);
    return s;
  }

  /** Power off: closes every socket, server and connection this platform opened and cancels its alarms. */
  shutdown(): void {
    for (const s of this.udpSockets) s.close();
    for (const s of this.tcpServers) s.close();
    for (const c of this.tcpConnections) c.close();
    for (const a of this.alarms) a.cancel();
    this.udpSockets.length = 0;
    this.tcpServers.length = 0;
    this.tcpConnections.length = 0;
    this.alarms.length = 0;
  }

  private ownAddress(address: string | undefined): boolean {
    return address === undefined || address === "" || address === "0.0.0.0" || address === this.address;
  }
}
