// RFC 3261 §7 message writer: requests and responses serialised straight into a fixed send buffer (§8.2.6 responses).
import { HDR_CALL_ID, HDR_CONTENT_LENGTH, HDR_CSEQ, HDR_FROM, HDR_OTHER, HDR_ROUTE, HDR_TIMESTAMP, HDR_TO, HDR_VIA, HEADER_NAME_AT, HEADER_TEXT, resolveHeaderName } from "./constants.ts";
import { ERR_BUFFER_FULL, ERR_MISSING_CALL_ID, ERR_MISSING_CSEQ, ERR_MISSING_FROM, ERR_MISSING_VIA, ERR_START_LINE } from "./errors.ts";
import { FNV_BASIS, fnv1aSpan, listItemEnd, skipLws, trimLwsEnd } from "./scan.ts";
import type { SipMessage } from "./message.ts";

/**
 * Writes one message at a time into a buffer allocated once. Strings are binary strings (one
 * char per byte, as the parser reads them); nothing is concatenated. When the buffer fills,
 * further writes are ignored and end() returns -ERR_BUFFER_FULL: the caller gets a typed error,
 * never a truncated message.
 */
export class SipWriter {
  readonly buf: Uint8Array;
  pos = 0;
  overflow = false;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  reset(): this {
    this.pos = 0;
    this.overflow = false;
    return this;
  }

  /** Appends a binary string. */
  str(s: string): this {
    const n = s.length;
    const p = this.pos;
    if (p + n > this.buf.length) { this.overflow = true; return this; }
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
    this.pos = p + n;
    return this;
  }

  /** Appends src[s, e). */
  span(src: string, s: number, e: number): this {
    const n = e - s;
    const p = this.pos;
    if (n <= 0) return this;
    if (p + n > this.buf.length) { this.overflow = true; return this; }
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[p + i] = src.charCodeAt(s + i);
    this.pos = p + n;
    return this;
  }

  /** Appends a non-negative integer in decimal without making a string. */
  num(v: number): this {
    if (v < 0) { this.byte(45); v = -v; }
    v = Math.floor(v);
    let div = 1;
    let digits = 1;
    while (div * 10 <= v) { div *= 10; digits++; }
    if (this.pos + digits > this.buf.length) { this.overflow = true; return this; }
    for (; div >= 1; div = Math.floor(div / 10)) {
      const d = Math.floor(v / div);
      this.buf[this.pos++] = 48 + d;
      v -= d * div;
    }
    return this;
  }

  byte(b: number): this {
    if (this.pos >= this.buf.length) { this.overflow = true; return this; }
    this.buf[this.pos++] = b;
    return this;
  }

  crlf(): this { return this.byte(13).byte(10); }

  /** Request-Line: method SP Request-URI SP SIP/2.0 CRLF */
  requestLine(method: string, uri: string): this {
    return this.str(method).byte(32).str(uri).str(" SIP/2.0\r\n");
  }

  /** Status-Line: SIP/2.0 SP code SP reason CRLF */
  statusLine(status: number, reason: string): this {
    return this.str("SIP/2.0 ").num(status).byte(32).str(reason).crlf();
  }

  /** name ": " value CRLF */
  header(name: string, value: string): this {
    return this.str(name).str(": ").str(value).crlf();
  }

  /** name ": " src[s, e) CRLF */
  headerSpan(name: string, src: string, s: number, e: number): this {
    return this.str(name).str(": ").span(src, s, e).crlf();
  }

  /** name ": " number CRLF */
  headerNum(name: string, v: number): this {
    return this.str(name).str(": ").num(v).crlf();
  }

  /**
   * Finishes the message: Content-Length for the body src[s, e) (empty when src is null), the
   * blank line, then the body. Returns the message length, or -ERR_BUFFER_FULL.
   */
  end(src: string | null, s: number, e: number): number {
    const n = src === null || e < s ? 0 : e - s;
    this.str("Content-Length: ").num(n).str("\r\n\r\n");
    if (src !== null) this.span(src, s, e);
    return this.overflow ? -ERR_BUFFER_FULL : this.pos;
  }
}

/**
 * Starts a response to a parsed request (RFC 3261 §8.2.6): status line, every Via value in
 * order, From, To (with toTag added when the request's To has none and the status is not
 * 100), Call-ID, CSeq, and Timestamp for 100 (§8.2.6.1). Values are copied as received. The
 * caller adds its own headers and calls end().
 */
/** The Server line of our responses. */
export const SERVER_LINE = "Server: doorsip\r\n";

/**
 * 200 OK to req with nothing but its head and the Server line: what a non-INVITE server transaction writes
 * again from a retransmission of req (§17.2.2: the same headers) instead of keeping a copy. Returns end()'s
 * length.
 */
export function writeOk(w: SipWriter, req: SipMessage): number {
  writeResponseHead(w.reset(), req, 200, "OK", null);
  return w.str(SERVER_LINE).end(null, 0, 0);
}

export function writeResponseHead(w: SipWriter, req: SipMessage, status: number, reason: string, toTag: string | null): SipWriter {
  const src = req.src;
  w.statusLine(status, reason);
  let topVia = true;
  for (let i = 0; i < req.headerCount; i++) {
    const id = req.headerId(i);
    // From, To, Call-ID and CSeq once each (their first line): a request that repeated one (400 Duplicate
    // Header) is answered with its first, so the answer itself has each once.
    if (id === HDR_VIA && topVia && req.sourceAddress !== "" && req.viaOk) {
      topVia = false;
      writeTopVia(w, req, req.headerValueStart(i), req.headerValueEnd(i));
    } else if (id === HDR_VIA || (id === HDR_TIMESTAMP && status === 100) ||
        ((id === HDR_FROM || id === HDR_CALL_ID || id === HDR_CSEQ) && req.findHeader(id) === i)) {
      w.span(HEADER_TEXT, HEADER_NAME_AT[id], HEADER_NAME_AT[id + 1] - 1).str(": ").span(src, req.headerValueStart(i), req.headerValueEnd(i)).crlf();
    } else if (id === HDR_TO && req.findHeader(id) === i) {
      w.headerSpan("To", src, req.headerValueStart(i), req.headerValueEnd(i));
      // Only when the line was written: after an overflow there is no CRLF to take back.
      if (toTag !== null && status !== 100 && req.to.tagStart < 0 && !w.overflow) {
        w.pos -= 2; // reopen the line to append the tag
        w.str(";tag=").str(toTag).crlf();
      }
    }
  }
  return w;
}

/** True when the sent-by host is the address the request came from (IPv6 brackets ignored). */
function sentByIsSource(req: SipMessage): boolean {
  const v = req.via;
  let s = v.hostStart;
  let e = v.hostEnd;
  if (req.src.charCodeAt(s) === 91) { s++; e--; } // [IPv6]
  const a = req.sourceAddress;
  if (e - s !== a.length) return false;
  for (let i = 0; i < a.length; i++) if ((req.src.charCodeAt(s + i) | 0x20) !== (a.charCodeAt(i) | 0x20)) return false;
  return true;
}

/**
 * The top Via of a response to a request from sourceAddress:sourcePort: RFC 3581 fills in an empty
 * rport with the source port and then always adds received; RFC 3261 §18.2.1 adds received when
 * the sent-by host is not the source address. Other values on the same line follow unchanged.
 */
function writeTopVia(w: SipWriter, req: SipMessage, vs: number, ve: number): void {
  const v = req.via;
  const src = req.src;
  w.str("Via: ");
  if (v.rport === 0) w.span(src, vs, v.rportNameEnd).byte(61).num(req.sourcePort).span(src, v.rportNameEnd, v.end);
  else w.span(src, vs, v.end);
  if (v.receivedStart < 0 && (v.rport >= 0 || !sentByIsSource(req))) w.str(";received=").str(req.sourceAddress);
  w.span(src, v.end, ve).crlf();
}

/**
 * Re-serialises a parsed message: its start line, every header line (canonical names for
 * known headers, values as received) except Content-Length, which end() writes from the body.
 * write → parse → write is byte-identical.
 */
export function writeMessage(w: SipWriter, msg: SipMessage): number {
  const src = msg.src;
  if (msg.isRequest) {
    w.span(src, msg.methodStart, msg.methodEnd).byte(32).span(src, msg.uriStart, msg.uriEnd).str(" SIP/2.0\r\n");
  } else {
    w.str("SIP/2.0 ").num(msg.status).byte(32).span(src, msg.reasonStart, msg.reasonEnd).crlf();
  }
  for (let i = 0; i < msg.headerCount; i++) {
    const id = msg.headerId(i);
    if (id === HDR_CONTENT_LENGTH) continue;
    if (id === HDR_OTHER) w.span(src, msg.headerNameStart(i), msg.headerNameEnd(i));
    else w.span(HEADER_TEXT, HEADER_NAME_AT[id], HEADER_NAME_AT[id + 1] - 1);
    w.str(": ").span(src, msg.headerValueStart(i), msg.headerValueEnd(i)).crlf();
  }
  return w.end(src, msg.bodyStart, msg.bodyEnd);
}

/**
 * A To tag for a stateless answer (RFC 3261 §8.2.7): derived from Call-ID, From tag and CSeq, so
 * a retransmitted request gets the same tag again. Eight hex digits (allocates; reject path only).
 */
export function statelessToTag(req: SipMessage): string {
  let h = FNV_BASIS;
  if (req.callIdStart >= 0) h = fnv1aSpan(req.src, req.callIdStart, req.callIdEnd, h);
  if (req.from.tagStart >= 0) h = fnv1aSpan(req.src, req.from.tagStart, req.from.tagEnd, h);
  h = (h ^ req.cseq) >>> 0;
  const hex = "0123456789abcdef";
  let out = "";
  for (let i = 28; i >= 0; i -= 4) out += hex.charAt((h >>> i) & 15);
  return out;
}

// Where headerAt found its value.
let hvStart = 0;
let hvEnd = 0;

/**
 * The next header line of `id` in a message's text from position p (the start of a header line): returns
 * the start of the line after it (folded lines included), or -1 at the blank line or the end; the value's
 * span is left in hvStart/hvEnd. Names are resolved as the parser does (any case, compact forms).
 */
function headerAt(src: string, id: number, p: number): number {
  for (;;) {
    let e = src.indexOf("\r\n", p);
    if (e <= p) return -1;
    while (e + 2 < src.length && (src.charCodeAt(e + 2) === 32 || src.charCodeAt(e + 2) === 9)) {
      const f = src.indexOf("\r\n", e + 2);
      if (f < 0) break;
      e = f;
    }
    const colon = src.indexOf(":", p);
    if (colon > p && colon < e) {
      let ne = colon;
      while (ne > p && (src.charCodeAt(ne - 1) === 32 || src.charCodeAt(ne - 1) === 9)) ne--;
      if (resolveHeaderName(src, p, ne) === id) {
        hvStart = skipLws(src, colon + 1, e);
        hvEnd = trimLwsEnd(src, hvStart, e);
        return e + 2;
      }
    }
    p = e + 2;
  }
}

/**
 * The ACK an INVITE client transaction sends for a non-2xx final response (RFC 3261 §17.1.1.3), from the
 * request's text as it was sent (what the transaction keeps), without a message view: its Request-URI, top Via value, Route lines, From, Call-ID and CSeq number, and
 * the response's To. Returns the length, or a negative error (-ERR_BUFFER_FULL, or the ERR_ code of what
 * the request lacks).
 */
export function writeAckForNon2xxFrom(w: SipWriter, req: string, resp: SipMessage): number {
  const sp1 = req.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : req.indexOf(" ", sp1 + 1);
  const head = req.indexOf("\r\n") + 2;
  if (sp2 < 0 || head < sp2) return -ERR_START_LINE;
  w.str("ACK ").span(req, sp1 + 1, sp2).str(" SIP/2.0\r\n");
  if (headerAt(req, HDR_VIA, head) < 0) return -ERR_MISSING_VIA;
  const viaEnd = listItemEnd(req, hvStart, hvEnd); // the top Via value (an unclosed quote: the whole line)
  w.headerSpan("Via", req, hvStart, trimLwsEnd(req, hvStart, viaEnd < 0 ? hvEnd : viaEnd));
  for (let p = headerAt(req, HDR_ROUTE, head); p >= 0; p = headerAt(req, HDR_ROUTE, p)) w.headerSpan("Route", req, hvStart, hvEnd);
  w.str("Max-Forwards: 70\r\n");
  if (headerAt(req, HDR_FROM, head) < 0) return -ERR_MISSING_FROM;
  w.headerSpan("From", req, hvStart, hvEnd);
  const ti = resp.findHeader(HDR_TO);
  w.headerSpan("To", resp.src, resp.headerValueStart(ti), resp.headerValueEnd(ti));
  if (headerAt(req, HDR_CALL_ID, head) < 0) return -ERR_MISSING_CALL_ID;
  w.headerSpan("Call-ID", req, hvStart, hvEnd);
  if (headerAt(req, HDR_CSEQ, head) < 0) return -ERR_MISSING_CSEQ;
  let numberEnd = hvStart;
  while (numberEnd < hvEnd && req.charCodeAt(numberEnd) >= 48 && req.charCodeAt(numberEnd) <= 57) numberEnd++;
  w.str("CSeq: ").span(req, hvStart, numberEnd).str(" ACK\r\n");
  return w.end(null, 0, 0);
}

/** Bytes as a binary string (allocates; for rare paths such as re-reading a kept request). */
export function bytesToBinaryString(buf: Uint8Array, length: number): string {
  let s = "";
  for (let i = 0; i < length; i += 1024) {
    const end = i + 1024 < length ? i + 1024 : length;
    let chunk = "";
    for (let j = i; j < end; j++) chunk += String.fromCharCode(buf[j]);
    s += chunk;
  }
  return s;
}
