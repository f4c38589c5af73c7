// The HAL over real Node sockets and timers: the simulator on a real network (loopback tests, interop
// with real SIP servers). Node errors become HAL error codes; nothing here throws at the caller.
import { randomFillSync } from "node:crypto";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import type {
  Alarm, AlarmOptions, Clock, Log, Platform, Random, TcpConnection, TcpListenOptions, TcpOptions, TcpServer, UdpOptions, UdpSocket,
} from "../hal/types.ts";
import { LOG_INFO } from "../hal/types.ts";
import {
  HAL_ERR_ADDRESS_IN_USE, HAL_ERR_CLOSED, HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_ERR_PLATFORM, HAL_ERR_REFUSED, HAL_ERR_RESET,
  HAL_ERR_TIMEOUT, HAL_ERR_TOO_LARGE, HAL_ERR_UNREACHABLE, HAL_OK,
} from "../hal/errors.ts";
import { SeededRandom } from "./virtual.ts";

/** A Node error (its `code`, e.g. "EADDRINUSE") as a HAL error code. */
export function halErrorFromNode(err: unknown): number {
  const code = err && typeof err === "object" && typeof (err as { code?: unknown }).code === "string" ? (err as { code: string }).code : "";
  switch (code) {
    case "EADDRINUSE":
      return HAL_ERR_ADDRESS_IN_USE;
    case "ECONNREFUSED":
      return HAL_ERR_REFUSED;
    case "ECONNRESET":
    case "ECONNABORTED":
    case "EPIPE":
      return HAL_ERR_RESET;
    case "ETIMEDOUT":
      return HAL_ERR_TIMEOUT;
    case "ENETUNREACH":
    case "EHOSTUNREACH":
    case "ENETDOWN":
    case "EHOSTDOWN":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return HAL_ERR_UNREACHABLE;
    case "EMSGSIZE":
    case "ERR_OUT_OF_RANGE":
      return HAL_ERR_TOO_LARGE;
    case "ENOBUFS":
    case "ENOMEM":
    case "EMFILE":
    case "ENFILE":
    case "EAGAIN":
      return HAL_ERR_NO_RESOURCES;
    case "EINVAL":
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
    case "EACCES":
    case "EPERM":
    case "ERR_SOCKET_BAD_PORT":
    case "ERR_INVALID_ARG_TYPE":
    case "ERR_INVALID_ARG_VALUE":
    case "ERR_INVALID_IP_ADDRESS":
    case "ERR_SOCKET_BAD_TYPE":
    case "ERR_SOCKET_BAD_BUFFER_SIZE":
      return HAL_ERR_INVALID;
    case "EBADF":
    case "ENOTCONN":
    case "ERR_SOCKET_DGRAM_NOT_RUNNING":
    case "ERR_SOCKET_CLOSED":
    case "ERR_STREAM_DESTROYED":
    case "ERR_STREAM_WRITE_AFTER_END":
    case "ERR_SERVER_NOT_RUNNING":
      return HAL_ERR_CLOSED;
    default:
      return HAL_ERR_PLATFORM;
  }
}

/** Monotonic ms from performance.now(). */
export class NodeClock implements Clock {
  now(): number {
    return performance.now();
  }
}

/** u32 from the OS random source, drawn 256 at a time. */
export class CryptoRandom implements Random {
  private pool = new Uint32Array(256);
  private next = 256;

  u32(): number {
    if (this.next >= this.pool.length) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++];
  }
}

const LEVEL_LETTERS = ["E", "W", "I", "D"];

/** Log lines "<E|W|I|D> <msg>" to a sink (console.log by default). */
export class NodeLog implements Log {
  level: number;
  private readonly sink: (line: string) => void;
  private readonly prefix: string;

  constructor(level: number, sink: (line: string) => void, prefix: string) {
    this.level = level;
    this.sink = sink;
    this.prefix = prefix;
  }

  write(level: number, msg: string): void {
    if (level <= this.level) this.sink(this.prefix + (LEVEL_LETTERS[level] ?? String(level)) + " " + msg);
  }
}

/** Longest delay setTimeout accepts; longer waits re-arm on the way. */
const MAX_TIMEOUT = 0x7fffffff;

/** One setTimeout, re-armed on set(). onAlarm never runs before the time asked for. */
export class NodeAlarm implements Alarm {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private at = 0;
  private readonly clock: Clock;
  private readonly onAlarm: () => void;
  private readonly tick: () => void;
  private readonly unref: boolean;

  constructor(clock: Clock, options: AlarmOptions, unref: boolean) {
    this.clock = clock;
    this.onAlarm = options.onAlarm;
    this.unref = unref;
    this.tick = () => {
      this.timer = null;
      // Node may fire a timer slightly before performance.now() reaches the deadline; wait out the rest.
      if (this.clock.now() < this.at) this.arm();
      else this.onAlarm();
    };
  }

  set(at: number): void {
    this.at = at;
    this.arm();
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const delay = Math.min(MAX_TIMEOUT, Math.max(0, Math.ceil(this.at - this.clock.now())));
    this.timer = setTimeout(this.tick, delay);
    if (this.unref) this.timer.unref();
  }
}

/** Copies data[0, length) into a new Buffer (Node sends asynchronously and the stack reuses its buffer). */
function copyOut(data: Uint8Array, length: number): Buffer {
  return Buffer.from(data.subarray(0, length));
}

function validLength(data: Uint8Array, length: number): boolean {
  return data instanceof Uint8Array && Number.isInteger(length) && length >= 0 && length <= data.length;
}

const UDP_MAX_PAYLOAD = 65507;

/** A UDP datagram a socket sent or received (NodePlatformOptions.capture, captureReceived): for ladders and pcap files. */
export interface CapturedDatagram {
  /** ms on the platform's clock. */
  time: number;
  from: string;
  fromPort: number;
  to: string;
  toPort: number;
  /** The bytes, as a binary string. */
  data: string;
}

export class NodeUdpSocket implements UdpSocket {
  /** The bound port: 0 until bound. */
  port = 0;
  /** Resolves with 0 once bound, or with the HAL error code when binding failed. */
  readonly ready: Promise<number>;
  closed = false;
  /** @internal Where errors after binding go (openUdpAsync installs the caller's once bound). */
  onError: ((code: number) => void) | null;
  private readonly sock: dgram.Socket;
  private readonly bound: string;
  private readonly asked: number;
  /** @internal Told of every datagram sent (NodePlatformOptions.capture). */
  capture: ((d: CapturedDatagram) => void) | null = null;
  /** @internal Told of every datagram received, before the socket's owner (NodePlatformOptions.captureReceived). */
  captureReceived: ((d: CapturedDatagram) => void) | null = null;
  /** @internal The clock capture times come from. */
  clock: Clock | null = null;

  constructor(options: UdpOptions, defaultAddress: string) {
    this.bound = options.address || defaultAddress;
    this.asked = options.port;
    this.onError = options.onError ?? null;
    const onMessage = options.onMessage;
    const sock = dgram.createSocket({ type: "udp4" });
    this.sock = sock;
    sock.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (this.closed) return;
      const data = msg.toString("latin1");
      if (this.captureReceived !== null) {
        this.captureReceived({ time: this.clock !== null ? this.clock.now() : 0, from: rinfo.address, fromPort: rinfo.port, to: this.bound, toPort: this.port, data });
      }
      onMessage(data, rinfo.address, rinfo.port);
    });
    let settle: (code: number) => void = () => {};
    this.ready = new Promise<number>((resolve) => {
      settle = resolve;
    });
    sock.once("listening", () => {
      this.port = sock.address().port;
      settle(HAL_OK);
    });
    sock.on("error", (err: Error) => {
      const code = halErrorFromNode(err);
      settle(code); // a no-op once bound
      if (this.port === 0) this.shut(); // binding failed: the socket is dead
      if (this.onError !== null) this.onError(code);
    });
    try {
      sock.bind({ port: options.port, address: options.address || defaultAddress });
    } catch (e) {
      // Bad arguments throw synchronously; report them like a failed bind.
      const code = halErrorFromNode(e);
      this.shut();
      settle(code);
      queueMicrotask(() => {
        if (this.onError !== null) this.onError(code);
      });
    }
  }

  send(data: Uint8Array, length: number, address: string, port: number): number {
    if (this.closed) return HAL_ERR_CLOSED;
    if (!validLength(data, length) || !Number.isInteger(port) || port <= 0 || port > 65535 || typeof address !== "string" || address === "") return HAL_ERR_INVALID;
    if (length > UDP_MAX_PAYLOAD) return HAL_ERR_TOO_LARGE;
    if (this.capture !== null) {
      this.capture({ time: this.clock !== null ? this.clock.now() : 0, from: this.bound, fromPort: this.port || this.asked, to: address, toPort: port,
        data: Buffer.from(data.buffer, data.byteOffset, length).toString("latin1") });
    }
    try {
      this.sock.send(copyOut(data, length), port, address, (err) => {
        if (err && this.onError !== null && !this.closed) this.onError(halErrorFromNode(err));
      });
    } catch (e) {
      return halErrorFromNode(e);
    }
    return 0;
  }

  close(): void {
    this.shut();
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }
}

export class NodeTcpConnection implements TcpConnection {
  remoteAddress: string;
  remotePort: number;
  closed = false;
  /** @internal */ onData: (data: string) => void = () => {};
  /** @internal */ onClose: ((code: number) => void) | null = null;
  private readonly sock: net.Socket;
  private error = HAL_OK;

  constructor(sock: net.Socket, remoteAddress: string, remotePort: number) {
    this.sock = sock;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    sock.on("data", (chunk: Buffer) => {
      if (!this.closed) this.onData(chunk.toString("latin1"));
    });
    sock.on("error", (err: Error) => {
      this.error = halErrorFromNode(err);
    });
    sock.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      if (this.onClose !== null) this.onClose(this.error);
    });
  }

  send(data: Uint8Array, length: number): number {
    if (this.closed || this.sock.destroyed || !this.sock.writable) return HAL_ERR_CLOSED;
    if (!validLength(data, length)) return HAL_ERR_INVALID;
    if (length > 0) this.sock.write(copyOut(data, length));
    return 0;
  }

  /** Sends what is queued, then closes; onClose is not called for this side. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.end();
    // If the peer never answers our FIN, do not keep the handle forever.
    setTimeout(() => this.sock.destroy(), 5000).unref();
  }
}

export class NodeTcpServer implements TcpServer {
  /** The listening port: 0 until listening. */
  port = 0;
  /** Resolves with 0 once listening, or with the HAL error code when listening failed. */
  readonly ready: Promise<number>;
  closed = false;
  private readonly server: net.Server;

  constructor(options: TcpListenOptions, defaultAddress: string) {
    const server = net.createServer((sock) => {
      const conn = new NodeTcpConnection(sock, normaliseAddress(sock.remoteAddress), sock.remotePort ?? 0);
      const handlers = options.onConnection(conn);
      conn.onData = handlers.onData;
      conn.onClose = handlers.onClose ?? null;
    });
    this.server = server;
    let settle: (code: number) => void = () => {};
    this.ready = new Promise<number>((resolve) => {
      settle = resolve;
    });
    server.once("listening", () => {
      const a = server.address();
      this.port = a !== null && typeof a === "object" ? a.port : 0;
      settle(HAL_OK);
    });
    server.on("error", (err: Error) => {
      settle(halErrorFromNode(err));
      this.closed = true;
    });
    try {
      server.listen({ port: options.port, host: options.address || defaultAddress });
    } catch (e) {
      this.closed = true;
      settle(halErrorFromNode(e));
    }
  }

  /** Stops accepting; connections already made stay up. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1". */
function normaliseAddress(a: string | undefined): string {
  if (a === undefined) return "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

export interface NodePlatformOptions {
  /** Seed a SeededRandom instead of the OS random source (reproducible branches, tags and Call-IDs). */
  seed?: number;
  /** Log level (default LOG_INFO). */
  logLevel?: number;
  /** Where log lines go (default console.log). */
  logSink?: (line: string) => void;
  /** Prefix of every log line (default ""). */
  logPrefix?: string;
  /** Address sockets bind to when their options give none (default "0.0.0.0"). */
  address?: string;
  /** Alarms do not keep the process alive (default false). */
  unrefAlarms?: boolean;
  /** Told of every UDP datagram a socket of this platform sends (default none). */
  capture?: (d: CapturedDatagram) => void;
  /** Told of every UDP datagram a socket of this platform receives, before the socket's owner is (default none). */
  captureReceived?: (d: CapturedDatagram) => void;
}

/** The HAL over Node: real time, real sockets. */
export class NodePlatform implements Platform {
  readonly clock: NodeClock;
  readonly random: Random;
  readonly log: NodeLog;
  readonly address: string;
  private readonly unrefAlarms: boolean;
  private readonly capture: ((d: CapturedDatagram) => void) | null;
  private readonly captureReceived: ((d: CapturedDatagram) => void) | null;

  constructor(options: NodePlatformOptions = {}) {
    this.capture = options.capture ?? null;
    this.captureReceived = options.captureReceived ?? null;
    this.clock = new NodeClock();
    this.random = options.seed !== undefined ? new SeededRandom(options.seed) : new CryptoRandom();
    this.log = new NodeLog(options.logLevel ?? LOG_INFO, options.logSink ?? ((line) => console.log(line)), options.logPrefix ?? "");
    this.address = options.address ?? "0.0.0.0";
    this.unrefAlarms = options.unrefAlarms ?? false;
  }

  createAlarm(options: AlarmOptions): NodeAlarm {
    return new NodeAlarm(this.clock, options, this.unrefAlarms);
  }

  /**
   * Opens a UDP socket; binding completes asynchronously: `port` is 0 until then, sends made before are
   * queued by Node, and a failed bind closes the socket and reports onError(code). Use openUdpAsync to
   * wait for the outcome.
   */
  openUdp(options: UdpOptions): NodeUdpSocket {
    return this.captured(new NodeUdpSocket(options, this.address));
  }

  private captured(s: NodeUdpSocket): NodeUdpSocket {
    s.capture = this.capture;
    s.captureReceived = this.captureReceived;
    s.clock = this.clock;
    return s;
  }

  /** openUdp, resolved once bound: the socket, or the HAL error code binding failed with. */
  async openUdpAsync(options: UdpOptions): Promise<NodeUdpSocket | number> {
    const s = this.captured(new NodeUdpSocket({ ...options, onError: undefined }, this.address));
    const code = await s.ready;
    if (code < 0) return code;
    s.onError = options.onError ?? null; // bind errors were returned above; later ones go to the caller

    return s;
  }

  /** Connects; onConnect when connected, onClose(code) when it fails or the peer closes (HAL_OK: closed cleanly). */
  connectTcp(options: TcpOptions): NodeTcpConnection | number {
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535 || !options.address) return HAL_ERR_INVALID;
    let sock: net.Socket;
    try {
      sock = net.connect({ host: options.address, port: options.port });
    } catch (e) {
      return halErrorFromNode(e);
    }
    const conn = new NodeTcpConnection(sock, options.address, options.port);
    conn.onData = options.onData;
    conn.onClose = options.onClose ?? null;
    const onConnect = options.onConnect;
    if (onConnect) sock.once("connect", () => onConnect());
    return conn;
  }

  /** Listens; `port` is 0 until listening (see listenTcpAsync); a failed listen leaves it closed. */
  listenTcp(options: TcpListenOptions): NodeTcpServer {
    return new NodeTcpServer(options, this.address);
  }

  /** listenTcp, resolved once listening: the server, or the HAL error code listening failed with. */
  async listenTcpAsync(options: TcpListenOptions): Promise<NodeTcpServer | number> {
    const s = new NodeTcpServer(options, this.address);
    const code = await s.ready;
    return code < 0 ? code : s;
  }
}
