// RFC 3261 §18 transport (with RFC 3581 rport and RFC 5626 §4.4.1 CRLF keep-alive): bytes in, checked messages to the transaction layer.
import { METHOD_ACK } from "./constants.ts";
import { ERR_INCOMPLETE } from "./errors.ts";
import { releaseScratch } from "./headers.ts";
import { MAX_MESSAGE_SIZE, MAX_OFFSET, SipMessage, parseMessage, validateMessage, type ParserLimits } from "./message.ts";
import { TRANSPORT_TCP, TRANSPORT_UDP, type TransportPort } from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { SipWriter, statelessToTag, writeResponseHead } from "./writer.ts";

/** Counters for status and tests. An interface: the transport makes the one literal. */
export interface TransportStats {
  received: number;
  malformed: number;
  rejected: number;
  dropped: number;
  keepalivePings: number;
  keepalivePongs: number;
}

/** What a stream connection has received and not yet consumed (one per TCP connection). */
export class StreamReader {
  pending = "";
  /** CRLF pairs seen since the last message: the first is a pong, the second makes a ping. */
  crlfRun = 0;
  /**
   * We opened the connection (we are the flow's client, RFC 5626 §4.4.1): every CRLF from the server is a
   * pong, however many arrive between messages; only an accepted connection receives pings.
   */
  outgoing = false;
}

/** Told when a keep-alive pong (a lone CRLF) arrives: the flow to that peer is alive (RFC 5626 §4.4.1). */
export interface KeepaliveListener {
  onPong(address: string, port: number): void;
}

/** Where a stream's text is cut off before the next message is parsed: MAX_OFFSET less the largest message. */
const STREAM_CUT = MAX_OFFSET - MAX_MESSAGE_SIZE - 2;
const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

/**
 * Receives datagrams (or framed stream messages), parses them into one reused view, answers what
 * is malformed but answerable (400 and friends, statelessly, §8.2 and §18.2.2), drops and counts
 * the rest, and hands the good ones to the transaction layer with where responses must go.
 */
export class SipTransport {
  readonly stats: TransportStats = { received: 0, malformed: 0, rejected: 0, dropped: 0, keepalivePings: 0, keepalivePongs: 0 };
  /** The view every message is parsed into; read it while the message is handled (it reads empty after). */
  readonly msg: SipMessage;
  private readonly writer: SipWriter;
  private readonly port: TransportPort;
  private readonly layer: TransactionLayer;
  keepalive: KeepaliveListener | null = null;
  /** Answer CRLF pings (a server that does not, to test clients' fallback, sets this false). */
  answerPings = true;

  constructor(layer: TransactionLayer, port: TransportPort, limits: ParserLimits, writerSize: number) {
    this.layer = layer;
    this.port = port;
    this.msg = new SipMessage(limits);
    // The layer's scratch writer serves the rejections too (one message at a time, sent at once).
    this.writer = writerSize <= layer.scratch.buf.length ? layer.scratch : new SipWriter(writerSize);
  }

  /** A datagram from address:port arrived. Never throws. */
  receiveDatagram(data: string, address: string, port: number, now: number): void {
    this.stats.received++;
    // RFC 5626 §4.4.1: a double CRLF is a ping, answered with one CRLF; a lone CRLF is the pong.
    if (data.length <= 4 && (data === "\r\n\r\n" || data === "\r\n")) {
      if (data.length === 4) {
        this.stats.keepalivePings++;
        if (this.answerPings) this.port.send(CRLF, 2, address, port, TRANSPORT_UDP);
      } else {
        this.stats.keepalivePongs++;
        if (this.keepalive !== null) this.keepalive.onPong(address, port);
      }
      return;
    }
    // The TU hears of it here, once dispatch's frames are gone (see TransactionLayer.deliver); a 200 held
    // (TransactionLayer.holdOk) is the caller's to flush.
    if (this.dispatch(parseMessage(data, 0, data.length, this.msg), address, port, TRANSPORT_UDP, now)) this.layer.deliver(this.msg);
    releaseScratch(this.msg);
  }

  /**
   * A datagram its owner refuses (flood control): a well-formed request other than ACK is answered
   * `status` `reason` statelessly; nothing else is answered, and nothing reaches the transaction layer.
   */
  refuseDatagram(data: string, address: string, port: number, status: number, reason: string): void {
    const msg = this.msg;
    this.stats.received++;
    if (parseMessage(data, 0, data.length, msg) > 0 && msg.isRequest && msg.method !== METHOD_ACK && validateMessage(msg) >= 0) {
      const w = this.writer.reset();
      writeResponseHead(w, msg, status, reason, statelessToTag(msg));
      const n = w.end(null, 0, 0);
      if (n > 0) this.port.send(w.buf, n, address, responsePortFor(msg, port), TRANSPORT_UDP);
    }
    releaseScratch(msg);
  }

  /** Sends a keep-alive ping (double CRLF) to a peer. */
  ping(address: string, port: number, transport: number): number {
    return this.port.send(CRLFCRLF, 4, address, port, transport);
  }

  /**
   * Bytes from a stream connection (TCP): framed by Content-Length (§18.3), several messages per
   * chunk or one message over several chunks. Keep-alive pings (CRLFCRLF) between messages are
   * answered with a pong through `port`. Returns 0, or -1 when the stream is unrecoverable
   * (a malformed message: after answering it if it can be answered, the caller closes the
   * connection, since the framing is lost).
   */
  receiveStream(reader: StreamReader, data: string, address: string, port: number, transport: number, now: number): number {
    let src = reader.pending.length === 0 ? data : reader.pending + data;
    let off = 0;
    const msg = this.msg;
    for (;;) {
      // Between messages, RFC 5626 §4.4.1: one CRLF is a pong; a second one right after makes a
      // ping (a double CRLF), answered with a pong. A ping split across chunks is still one ping.
      while (off + 1 < src.length && src.charCodeAt(off) === 13 && src.charCodeAt(off + 1) === 10) {
        off += 2;
        if (!reader.outgoing && ++reader.crlfRun === 2) {
          reader.crlfRun = 0;
          this.stats.keepalivePings++;
          this.port.send(CRLF, 2, address, port, transport);
        } else {
          this.stats.keepalivePongs++;
          if (this.keepalive !== null) this.keepalive.onPong(address, port);
        }
      }
      if (off >= src.length) break;
      // The message view keeps 16-bit offsets (MAX_OFFSET): what is parsed is cut off before it is far in.
      if (off > STREAM_CUT) { src = src.substring(off); off = 0; }
      msg.stream = true;
      const r = parseMessage(src, off, src.length - off, msg);
      msg.stream = false;
      if (r === -ERR_INCOMPLETE) break;
      this.stats.received++;
      reader.crlfRun = 0;
      const handled = this.dispatch(r, address, port, transport, now);
      if (handled) {
        this.layer.deliver(msg);
        this.layer.flushOk(); // before the next message of the chunk is answered into the scratch writer
      }
      releaseScratch(msg);
      if (!handled && r < 0) {
        reader.pending = "";
        return -1; // a framing error: the stream cannot be resynchronised
      }
      off += r;
    }
    reader.pending = off === 0 ? src : off >= src.length ? "" : src.substring(off);
    return 0;
  }

  /**
   * What follows a parse whose result is r: requests are validated; failures are answered statelessly
   * when they can be (§8.2, §18.2.2), else dropped, and counted; good messages go to the transaction layer
   * (accept: the caller delivers them to the TU next) with where responses must go. Returns whether the message was accepted.
   */
  private dispatch(r: number, address: string, port: number, transport: number, now: number): boolean {
    const msg = this.msg;
    const v = msg.via;
    msg.sourceAddress = address;
    msg.sourcePort = port;
    if (r > 0 && msg.isRequest) {
      const valid = validateMessage(msg);
      if (valid < 0) r = valid;
    }
    const responsePort = responsePortFor(msg, port);
    if (r < 0) {
      this.stats.malformed++;
      const status = msg.rejectStatus();
      if (status === 0) { this.stats.dropped++; return false; }
      this.stats.rejected++;
      const w = this.writer.reset();
      writeResponseHead(w, msg, status, msg.rejectReason(), statelessToTag(msg));
      const n = w.end(null, 0, 0);
      // When the Via cannot be trusted, answer where the request came from.
      if (n > 0) this.port.send(w.buf, n, address, responsePort, transport);
      return false;
    }
    if (msg.isRequest) {
      if (msg.method === METHOD_ACK || transport !== TRANSPORT_UDP) {
        this.layer.accept(msg, address, port, transport, now);
      } else if (msg.via.maddrStart >= 0) {
        // §18.2.2: a maddr in the Via names where responses go (at the sent-by port). Rare: the
        // address string is made only then.
        this.layer.accept(msg, msg.src.substring(v.maddrStart, v.maddrEnd), v.port > 0 ? v.port : 5060, transport, now);
      } else {
        this.layer.accept(msg, address, responsePort, transport, now);
      }
      return true;
    }
    // §18.1.2: responses go to the transaction layer, which drops those matching nothing.
    this.layer.accept(msg, address, port, transport, now);
    return true;
  }
}

/**
 * §18.2.2 with RFC 3581: responses to a UDP request go to the source address (the received address), at
 * the source port when the Via asked for rport, else at the sent-by port or 5060.
 */
function responsePortFor(msg: SipMessage, port: number): number {
  const v = msg.via;
  return !msg.viaOk || v.rport >= 0 ? port : v.port > 0 ? v.port : 5060;
}

/**
 * §18.1.1: a request within 200 bytes of the path MTU (or larger) must go over a congestion-
 * controlled transport when one is available. Returns the transport to use for `length` bytes.
 */
export function transportForSize(length: number, mtu: number, tcpAvailable: boolean): number {
  return tcpAvailable && length > mtu - 200 ? TRANSPORT_TCP : TRANSPORT_UDP;
}
