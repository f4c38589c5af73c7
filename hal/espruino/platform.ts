// The HAL on Espruino: dgram and net sockets, getTime() clock, one setTimeout per alarm, E.hwRand().
//
// Device code: no default/rest/spread/destructuring, no Map/Set, no regexes; closures are made once per
// socket or alarm, never per message. What Espruino's modules do (measured on 2v29, see
// /work/shared/espruino-facts.md and libs/network/socketserver.c):
// - dgram delivers a binary string and sends only strings: a send converts its bytes with E.toString.
// - Received datagrams are cut at 528 bytes unless a socket was created with recvBufferSize (a global
//   setting, kept after that socket closes): the first openUdp raises it (2048 by default) with a socket
//   it closes at once; the sockets kept are plain "udp4" ones.
// - bind() takes a port only (it binds every interface) and the bound port of port 0 cannot be read
//   back, so port 0 here means "a random port in 49152..65535" that this code chose. A failed bind
//   throws (and Espruino prints "ERROR: Socket bind failed"): it becomes HAL_ERR_ADDRESS_IN_USE.
// - A send is queued and goes out from the idle loop, from the bound port; send() after close() throws.
// - Sockets report failures as an 'error' event with a negative code, then 'close' (twice for a bound
//   dgram socket); accepted TCP connections do not know their peer's address.
import type {
  Alarm, AlarmOptions, Clock, Log, Platform, Random, TcpConnection, TcpListenOptions, TcpOptions, TcpServer, UdpOptions, UdpSocket,
} from "../types.ts";
import { LOG_INFO } from "../types.ts";
import {
  HAL_ERR_ADDRESS_IN_USE, HAL_ERR_CLOSED, HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_ERR_PLATFORM, HAL_ERR_REFUSED, HAL_ERR_RESET,
  HAL_ERR_TIMEOUT, HAL_ERR_TOO_LARGE, HAL_ERR_UNREACHABLE, HAL_OK,
} from "../errors.ts";

// Espruino globals (no @types for them; the device tsconfig has no DOM or Node types either).
declare const E: {
  hwRand(): number;
  /** A binary string of the bytes, or undefined when out of memory. */
  toString(data: Uint8Array): string | undefined;
};
declare function getTime(): number;
/** Espruino passes the arguments after ms to fn, as browsers and Node do. */
declare function setTimeout<A>(fn: (arg: A) => void, ms: number, arg: A): number;
declare function clearTimeout(id: number): void;
declare function require(name: string): any;
declare const console: { log(msg: string): void };

/** What Espruino passes to 'error' handlers. */
interface EspruinoSocketError {
  code: number;
  message: string;
}

/** Espruino socket error codes (-1 closed … -14) as HAL codes; index = -code. -9 and -11 depend on whether the socket was connected. */
const ESPRUINO_ERRORS = new Int8Array([
  HAL_ERR_PLATFORM, // 0: not an Espruino code
  HAL_OK, // -1 closed (not an error)
  HAL_ERR_NO_RESOURCES, // -2 out of memory
  HAL_ERR_TIMEOUT, // -3 timeout
  HAL_ERR_UNREACHABLE, // -4 no route
  HAL_ERR_NO_RESOURCES, // -5 busy
  HAL_ERR_UNREACHABLE, // -6 not found (DNS)
  HAL_ERR_NO_RESOURCES, // -7 max sockets
  HAL_ERR_RESET, // -8 unsent data
  HAL_ERR_RESET, // -9 connection reset (or refused)
  HAL_ERR_PLATFORM, // -10 unknown
  HAL_ERR_RESET, // -11 no connection
  HAL_ERR_INVALID, // -12 bad argument
  HAL_ERR_PLATFORM, // -13 SSL handshake failed
  HAL_ERR_PLATFORM, // -14 invalid SSL data
]); // typed: a plain array would keep a variable per element

/** An Espruino socket error code as a HAL code; `connected` tells a reset from a refusal. */
export function halErrorFromEspruino(code: number, connected: boolean): number {
  if (typeof code !== "number" || code >= 0 || -code >= ESPRUINO_ERRORS.length) return HAL_ERR_PLATFORM;
  if (!connected && (code === -9 || code === -11)) return HAL_ERR_REFUSED;
  return ESPRUINO_ERRORS[-code];
}

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 16384;
/** Random ports tried for port 0 before giving up. */
const EPHEMERAL_TRIES = 8;

/**
 * An alarm's timeout (setTimeout passes the alarm along: one function for every alarm, not a closure each).
 * Timers and getTime() may round differently: never call back early. @keepParams: under every timer's send.
 */
function alarmTick(alarm: EspruinoAlarm): void {
  alarm.id = 0;
  if (alarm.clock.now() < alarm.at) alarm.set(alarm.at);
  else alarm.onAlarm();
}

/** One setTimeout, re-armed by set(); onAlarm never runs before the time asked for. */
export class EspruinoAlarm implements Alarm {
  /** @internal */ clock: Clock;
  /** @internal */ onAlarm: () => void;
  /** @internal */ at: number;
  /** @internal The pending timeout; 0 when none (Espruino's timer ids start at 1). */
  id: number;

  constructor(clock: Clock, options: AlarmOptions) {
    this.clock = clock;
    this.onAlarm = options.onAlarm;
    this.at = 0;
    this.id = 0;
  }

  set(at: number): void {
    this.cancel();
    this.at = at;
    let delay = at - this.clock.now();
    if (delay < 0) delay = 0;
    this.id = setTimeout(alarmTick, delay, this);
  }

  cancel(): void {
    // clearTimeout(undefined) throws on Espruino, and a fired timeout's id may be reused: clear only our own.
    if (this.id) clearTimeout(this.id);
    this.id = 0;
  }
}

/**
 * A listening server's close(), set on Espruino's server object: Espruino's own close() warns "Server not
 * found!" when called again. Espruino removes the server's socket number (`sckt`) when it closes it.
 */
/**
 * A connection accepted by a server of listenTcp's (Espruino calls it with the server as `this`, which holds
 * the listener's onConnection as `w`): one function for every server rather than a closure keeping
 * listenTcp's scope.
 */
function tcpAccept(this: { w: TcpListenOptions["onConnection"] }, sock: any): void {
  const conn = new EspruinoTcpConnection(sock, "", 0, undefined);
  const handlers = this.w(conn);
  conn.onData = handlers.onData;
  conn.onClose = handlers.onClose;
}

function serverClose(this: any): void {
  if (this.sckt === undefined) return;
  delete this.close; // Espruino's close() shows through again
  this.close();
  this.close = serverClose;
}

/** binary()'s max for a stream: no limit but the buffer's. */
const NO_LIMIT = 0x7fffffff;

/**
 * data[0, length) as a binary string ("" for nothing), or a HAL error: HAL_ERR_INVALID for a bad buffer or
 * length, HAL_ERR_TOO_LARGE past max, HAL_ERR_NO_RESOURCES when out of memory. `copy`: from a copy of the
 * bytes (E.toString of a whole typed array can share its memory; see EspruinoTcpConnection.send).
 */
function binary(data: Uint8Array, length: number, max: number, copy: boolean): string | number {
  if (!(data instanceof Uint8Array) || typeof length !== "number" || length < 0 || length > data.length || length !== Math.floor(length)) return HAL_ERR_INVALID;
  if (length > max) return HAL_ERR_TOO_LARGE;
  if (length === 0) return "";
  let bytes = length === data.length ? data : data.subarray(0, length);
  if (copy) bytes = new Uint8Array(bytes);
  const s = E.toString(bytes);
  return s === undefined ? HAL_ERR_NO_RESOURCES : s;
}

/** A datagram, to its socket's wrapper. @keepParams: under every answer to a datagram. */
function udpMessage(this: { w: EspruinoUdpSocket }, msg: string, rinfo: { address: string; port: number }): void {
  // No local for this.w: its frame is under every handler of a datagram (a local is 2 variables more there).
  if (!this.w.closed) this.w.onReceive(msg, rinfo.address, rinfo.port);
}

/**
 * A socket's 'error' (an object with Espruino's code: reported as its HAL code) or 'close' (a boolean,
 * hadError: a close we did not ask for, as Espruino closes a socket whose send failed, reported once as
 * HAL_ERR_CLOSED). One listener for both events: a function less on the device.
 */
function udpTrouble(this: { w: EspruinoUdpSocket }, e: EspruinoSocketError | boolean): void {
  const self = this.w;
  if (self.closed) return;
  if (typeof e === "object") {
    if (self.onError !== undefined) self.onError(halErrorFromEspruino(e.code, true));
    return;
  }
  self.closed = true;
  if (self.onError !== undefined) self.onError(HAL_ERR_CLOSED);
}

export class EspruinoUdpSocket implements UdpSocket {
  /** The bound port (chosen here when 0 was asked for). */
  port: number;
  closed: boolean;
  private sock: any;
  private maxSend: number;
  /** @internal options.onMessage (not so named: the options' name keeps its 9 characters, a variable more). */
  onReceive: (data: string, address: string, port: number) => void;
  /** @internal */ onError: ((code: number) => void) | undefined;

  constructor(sock: any, port: number, options: UdpOptions, maxSend: number) {
    this.sock = sock;
    this.port = port;
    this.closed = false;
    this.maxSend = maxSend;
    this.onReceive = options.onMessage;
    this.onError = options.onError;
    // Espruino calls a listener with the socket as `this`: two functions shared by every socket find
    // their wrapper there, instead of closures per socket (~14 variables each socket). on() keeps a
    // listener in a one-element array under "#on" + the event; Espruino's event queue (jsiQueueEvents)
    // takes a function there as well as an array: stored directly, 2 variables less a listener.
    sock.w = this;
    sock["#onmessage"] = udpMessage;
    sock["#onerror"] = udpTrouble;
    sock["#onclose"] = udpTrouble;
  }

  send(data: Uint8Array, length: number, address: string, port: number): number {
    if (this.closed) return HAL_ERR_CLOSED;
    if (typeof address !== "string" || address === "" || typeof port !== "number" || port <= 0 || port > 65535) return HAL_ERR_INVALID;
    const s = binary(data, length, this.maxSend, false);
    if (typeof s === "number") return s;
    try {
      this.sock.send(s, port, address);
    } catch (e) {
      return HAL_ERR_PLATFORM;
    }
    return 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch (e) {
      // already closed by Espruino
    }
  }
}

export class EspruinoTcpConnection implements TcpConnection {
  /** The peer's address: the one connected to; "" for an accepted connection (Espruino does not say). */
  remoteAddress: string;
  /** The peer's port; 0 for an accepted connection. */
  remotePort: number;
  closed: boolean;
  connected: boolean;
  /** @internal Set by the platform right after construction (no events come before). */
  onData!: (data: string) => void;
  /** @internal */ onClose!: ((code: number) => void) | undefined;
  private sock: any;
  private error: number;

  /** Wires the Espruino socket's events (closures made once per connection). */
  constructor(sock: any, remoteAddress: string, remotePort: number, onConnect: (() => void) | undefined) {
    this.sock = sock;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.closed = false;
    // An accepted connection (no address) is connected already.
    this.connected = remoteAddress === "";
    this.error = HAL_OK;
    const self = this;
    if (!this.connected) {
      sock.on("connect", function () {
        self.connected = true;
        if (onConnect !== undefined && !self.closed) onConnect();
      });
    }
    sock.on("data", function (d: string) {
      if (!self.closed) self.onData(d);
    });
    sock.on("error", function (e: EspruinoSocketError) {
      self.error = halErrorFromEspruino(e.code, self.connected);
    });
    sock.on("close", function () {
      if (self.closed) return;
      self.closed = true;
      if (self.onClose !== undefined) self.onClose(self.error);
    });
  }

  send(data: Uint8Array, length: number): number {
    if (this.closed) return HAL_ERR_CLOSED;
    // net may still hold the string after write() returns (a queued send) while the stack reuses its
    // buffer: send a copy.
    const s = binary(data, length, NO_LIMIT, true);
    if (typeof s === "number") return s;
    if (s === "") return 0;
    try {
      this.sock.write(s);
    } catch (e) {
      return HAL_ERR_CLOSED;
    }
    return 0;
  }

  /** Sends what is queued, then closes; onClose is not called for this side. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.end();
    } catch (e) {
      // already closed
    }
  }
}

export interface EspruinoPlatformOptions {
  /** Log level (default LOG_INFO). */
  logLevel?: number;
  /** Receive buffer for every dgram socket (Espruino's default cuts datagrams at 528 bytes); default 2048. */
  recvBufferSize?: number;
  /** Largest datagram send() accepts (Espruino copies it onto the C stack); default 4096. */
  maxDatagram?: number;
}

const LEVEL_LETTERS = "EWID";

/**
 * The HAL on an Espruino board (and on Espruino's Linux build). The platform is its own clock, random
 * source and log (each a single method: separate objects would cost a class and an instance apiece).
 */
export class EspruinoPlatform implements Platform, Clock, Random, Log {
  /**
   * The board's native SHA-256, when its firmware includes crypto (ESP32 IDF3, ESP32-S3/C3 do; the
   * facts file lists which): hex of require("crypto").SHA256(data). Absent when there is none.
   */
  sha256Hex?: (data: string) => string;
  clock: Clock;
  random: Random;
  log: Log;
  /** The log level: lines above it are dropped. */
  level: number;
  private recvBufferSize: number;
  /** Espruino's receive limit is one setting for every socket: raised once, by a socket made and closed at once. */
  private bufferRaised: boolean;
  private maxDatagram: number;
  /** The clock: getTime() at the start, and the last time given (see now). */
  private origin: number;
  private last: number;
  /** The boot time mixed into u32(): Espruino's Linux build gives the same E.hwRand() sequence on every start. */
  private salt: number;

  constructor(options?: EspruinoPlatformOptions) {
    const o = options || {};
    this.clock = this.random = this.log = this;
    this.origin = getTime();
    this.last = 0;
    this.salt = Math.floor((this.origin * 1000) % 4294967296) | 0;
    this.level = o.logLevel !== undefined ? o.logLevel : LOG_INFO;
    this.recvBufferSize = o.recvBufferSize !== undefined ? o.recvBufferSize : 2048;
    this.bufferRaised = false;
    this.maxDatagram = o.maxDatagram !== undefined ? o.maxDatagram : 4096;
    let crypto: any = null;
    try { crypto = require("crypto"); } catch (e) { /* no crypto in this firmware */ }
    if (crypto !== null && typeof crypto.SHA256 === "function") {
      this.sha256Hex = function (data: string): string {
        const bytes = new Uint8Array(crypto.SHA256(data));
        let out = "";
        for (let i = 0; i < bytes.length; i++) out += "0123456789abcdef".charAt(bytes[i] >> 4) + "0123456789abcdef".charAt(bytes[i] & 15);
        return out;
      };
    }
  }

  /** Monotonic ms since the platform started: getTime() (seconds), held from going backwards if the time is set. */
  now(): number {
    let t = (getTime() - this.origin) * 1000;
    if (t < this.last) {
      // setTime() moved the clock back: keep counting from where we were.
      this.origin -= (this.last - t) / 1000;
      t = this.last;
    }
    this.last = t;
    return t;
  }

  u32(): number {
    return (E.hwRand() ^ this.salt) >>> 0;
  }

  write(level: number, msg: string): void {
    if (level <= this.level) console.log(LEVEL_LETTERS.charAt(level) + " " + msg);
  }

  createAlarm(options: AlarmOptions): EspruinoAlarm {
    return new EspruinoAlarm(this, options);
  }

  /** Binds on every interface (options.address is not supported by Espruino and is ignored). */
  openUdp(options: UdpOptions): EspruinoUdpSocket | number {
    const port = options.port;
    if (typeof port !== "number" || port < 0 || port > 65535 || port !== Math.floor(port)) return HAL_ERR_INVALID;
    const dgram = require("dgram");
    // recvBufferSize, given to any socket, sets the limit for every socket (and it outlives the socket): one
    // made and closed here sets it, and the sockets kept are made with "udp4" (an options object would stay
    // with each: 4 variables a socket).
    if (!this.bufferRaised && this.recvBufferSize > 0) {
      try {
        dgram.createSocket({ type: "udp4", recvBufferSize: this.recvBufferSize }).close();
        this.bufferRaised = true;
      } catch (e) {
        return HAL_ERR_NO_RESOURCES;
      }
    }
    const tries = port === 0 ? EPHEMERAL_TRIES : 1;
    for (let i = 0; i < tries; i++) {
      const p = port === 0 ? EPHEMERAL_FIRST + ((E.hwRand() >>> 0) % EPHEMERAL_COUNT) : port;
      let sock: any;
      try {
        sock = dgram.createSocket("udp4");
      } catch (e) {
        return HAL_ERR_NO_RESOURCES;
      }
      try {
        sock.bind(p);
      } catch (e) {
        continue; // Espruino closes the failed socket itself
      }
      return new EspruinoUdpSocket(sock, p, options, this.maxDatagram);
    }
    return HAL_ERR_ADDRESS_IN_USE;
  }

  /**
   * Connects; onConnect when connected, onClose(code) when it fails or the peer closes. A connection
   * that fails at once (Linux refuses a closed local port synchronously) returns HAL_ERR_REFUSED.
   */
  connectTcp(options: TcpOptions): EspruinoTcpConnection | number {
    if (typeof options.port !== "number" || options.port <= 0 || options.port > 65535 || !options.address) return HAL_ERR_INVALID;
    let sock: any;
    try {
      sock = require("net").connect({ host: options.address, port: options.port });
    } catch (e) {
      return HAL_ERR_REFUSED;
    }
    const conn = new EspruinoTcpConnection(sock, options.address, options.port, options.onConnect);
    conn.onData = options.onData;
    conn.onClose = options.onClose;
    return conn;
  }

  /**
   * Listens on every interface. Port 0 picks a random port. Espruino sets SO_REUSEADDR on TCP servers,
   * so a port already in use may not be detected.
   */
  listenTcp(options: TcpListenOptions): TcpServer | number {
    const port = options.port;
    if (typeof port !== "number" || port < 0 || port > 65535 || port !== Math.floor(port)) return HAL_ERR_INVALID;
    const server = require("net").createServer(tcpAccept);
    server.w = options.onConnection;
    const tries = port === 0 ? EPHEMERAL_TRIES : 1;
    for (let i = 0; i < tries; i++) {
      const p = port === 0 ? EPHEMERAL_FIRST + ((E.hwRand() >>> 0) % EPHEMERAL_COUNT) : port;
      try {
        server.listen(p);
      } catch (e) {
        continue;
      }
      // Espruino's server is the TcpServer: its close() stops accepting (connections made stay up).
      server.port = p;
      server.close = serverClose;
      return server;
    }
    return HAL_ERR_ADDRESS_IN_USE;
  }
}
