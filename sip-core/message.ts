// RFC 3261 §7 and §18.3 message parser: one pass over a datagram or stream buffer into a preallocated view of spans.
import {
  CHAR_CLASS, C_CALLID, C_DIGIT, CH_CR, CH_LF, CH_SP, CH_TAB, HDR_CALL_ID, HDR_CONTACT,
  HDR_CONTENT_LENGTH, HDR_COUNT, HDR_CSEQ, HDR_DATE, HDR_EXPIRES, HDR_FROM, HDR_MAX_FORWARDS, HDR_OTHER, HDR_RECORD_ROUTE, HDR_ROUTE,
  HDR_TO, HDR_VIA, HEADER_IS_SINGLE, headerName, METHOD_ACK, METHOD_OTHER, resolveHeaderName, resolveMethod,
} from "./constants.ts";
import {
  ERR_BODY_TOO_LARGE, ERR_BODY_TRUNCATED, ERR_CALL_ID, ERR_CONTACT, ERR_CONTENT_LENGTH, ERR_CSEQ,
  ERR_CSEQ_METHOD, ERR_DATE, ERR_DUPLICATE_HEADER, ERR_EMPTY, ERR_EXPIRES, ERR_FROM, ERR_HEADER_LINE,
  ERR_INCOMPLETE, ERR_MAX_FORWARDS, ERR_MESSAGE_TOO_LARGE, ERR_METHOD, ERR_MISSING_CALL_ID, ERR_MISSING_CSEQ,
  ERR_MISSING_FROM, ERR_MISSING_TO, ERR_MISSING_VIA, ERR_REQUEST_URI, ERR_START_LINE, ERR_STATUS_CODE,
  ERR_HEADER_VALUE, ERR_TO, ERR_TOO_MANY_HEADERS, ERR_URI_TOO_LONG, ERR_VERSION, ERR_VIA, errorReason, errorStatus,
} from "./errors.ts";
import { NA_LAZY_URI, NameAddr, parseNameAddr } from "./nameaddr.ts";
import { nameAddrWalker } from "./headers.ts";
import { UINT32_MAX, parseDecimal, skipLws, skipToken, spanEquals, spanEqualsIgnoreCase, trimLwsEnd } from "./scan.ts";
import { SCHEME_SIP, SCHEME_SIPS, SipUri, parseUri, resetUri } from "./uri.ts";
import { ViaValue, parseViaValue } from "./via.ts";

/** Capacities of one message view. Every limit has a defined answer when exceeded. */
export interface ParserLimits {
  /** Header lines kept; one more is ERR_TOO_MANY_HEADERS (513). */
  maxHeaders: number;
  /** Bytes of one message (headers and body); more is ERR_MESSAGE_TOO_LARGE (513). */
  maxMessageSize: number;
  /** Bytes of the Request-URI; more is ERR_URI_TOO_LONG (414). */
  maxUriLength: number;
  /** Bytes of the body; more is ERR_BODY_TOO_LARGE (413). */
  maxBodySize: number;
}

/** The largest maxMessageSize honoured: a message's offsets must fit the header table's 16 bits. */
export const MAX_MESSAGE_SIZE = 32767;
/** The last offset parseMessage can keep: a message must start before MAX_OFFSET - maxMessageSize. */
export const MAX_OFFSET = 65535;

export const DEFAULT_LIMITS: ParserLimits = { maxHeaders: 64, maxMessageSize: 8192, maxUriLength: 1024, maxBodySize: 4096 };

// Fields of one header entry in SipMessage.headers.
const H_ID = 0;
const H_NAME_START = 1;
const H_VALUE_START = 2;
const H_VALUE_END = 3;
// The name's end is not kept: the name is a token (checked, or matched in the name table), so it ends
// where token characters do (a fifth int per line cost ~10 variables on Espruino at 64 lines).
const H_STRIDE = 4;

/**
 * A parsed SIP message: spans into the source string, decoded scalars and the essential
 * headers (top Via, From, To, Call-ID, CSeq). One instance is allocated at start-up and reused
 * for every message; parsing allocates nothing. Strings are made only by the accessors that say
 * they allocate.
 */
export class SipMessage {
  readonly limits: ParserLimits;
  /** Stream framing (TCP): Content-Length is required and a partial message is ERR_INCOMPLETE. */
  stream = false;

  src = "";
  /** Offset of the message in src (after any leading CRLFs) and the bytes it consumed. */
  start = 0;
  length = 0;

  isRequest = false;
  method = METHOD_OTHER;
  methodStart = 0;
  methodEnd = 0;
  uriStart = 0;
  uriEnd = 0;
  /** The Request-URI; its span is always set, its fields once decodeRequestUri() has run. */
  readonly requestUri: SipUri = new SipUri();
  /** The Request-URI's decoding: -1 not yet, 0 malformed, 1 good. */
  ruriState = -1;
  status = 0;
  reasonStart = 0;
  reasonEnd = 0;

  headerCount = 0;
  /**
   * [id, name start, value start, value end] per header line, in order. Offsets fit 16 bits (half the memory of 32):
   * parseMessage reads no further than maxMessageSize + 1 (at most MAX_MESSAGE_SIZE) past off, and refuses an
   * off that would take an offset past 65,535 (a stream is cut as it is parsed, see SipTransport).
   */
  readonly headers: Uint16Array;
  /** Index of the first header line with each id, -1 when absent. */
  readonly firstHeader: Int16Array = new Int16Array(HDR_COUNT).fill(-1);

  bodyStart = 0;
  bodyEnd = 0;
  /** Content-Length value, -1 when the header is absent. */
  contentLength = -1;

  /**
   * The topmost Via value. The others are decoded on demand: by a ViaCursor, or by validateMessage and
   * countVia, which parse each into this view in turn and then the top one again.
   */
  readonly via: ViaValue = new ViaValue();
  readonly from: NameAddr = new NameAddr();
  readonly to: NameAddr = new NameAddr();
  callIdStart = -1;
  callIdEnd = -1;
  /** CSeq number, -1 when absent. */
  cseq = -1;
  cseqMethod = METHOD_OTHER;
  cseqMethodStart = -1;
  cseqMethodEnd = -1;
  /** Max-Forwards, -1 when absent. */
  maxForwards = -1;
  /** Expires header, -1 when absent. */
  expires = -1;

  /** Where the message came from, set by the transport ("" when unknown): §18.2.1 received/rport. */
  sourceAddress = "";
  sourcePort = 0;

  /** First error met (an ERR_ code), 0 when the message was accepted. */
  error = 0;
  errorOffset = -1;
  /** The start line was understood (the message is known to be a request or a response). */
  startLineOk = false;
  /** The top Via parsed: a response could be routed back. */
  viaOk = false;

  constructor(limits?: ParserLimits) {
    this.limits = limits || DEFAULT_LIMITS;
    this.headers = new Uint16Array(this.limits.maxHeaders * H_STRIDE);
  }

  /** Header id of header line i. */
  headerId(i: number): number { return this.headers[i * H_STRIDE + H_ID]; }
  headerNameStart(i: number): number { return this.headers[i * H_STRIDE + H_NAME_START]; }
  headerNameEnd(i: number): number { return skipToken(this.src, this.headerNameStart(i), this.headerValueStart(i)); }
  headerValueStart(i: number): number { return this.headers[i * H_STRIDE + H_VALUE_START]; }
  headerValueEnd(i: number): number { return this.headers[i * H_STRIDE + H_VALUE_END]; }

  /** Index of the first header line with this id, -1 when absent. */
  findHeader(id: number): number { return this.firstHeader[id]; }
  /** Index of the next header line with this id after line i, -1 when none. */
  nextHeader(id: number, i: number): number {
    for (let j = i + 1; j < this.headerCount; j++) if (this.headers[j * H_STRIDE] === id) return j;
    return -1;
  }
  /** Index of the first header line named lowerName (for unknown headers), -1 when absent. */
  findHeaderByName(lowerName: string): number {
    for (let j = 0; j < this.headerCount; j++) {
      const b = j * H_STRIDE;
      if (spanEqualsIgnoreCase(this.src, this.headers[b + H_NAME_START], this.headerNameEnd(j), lowerName)) return j;
    }
    return -1;
  }

  /** The canonical name of header line i (the name as sent for unknown headers). Allocates for unknown ones. */
  headerName(i: number): string {
    const id = this.headerId(i);
    return id !== HDR_OTHER ? headerName(id) : this.src.substring(this.headerNameStart(i), this.headerNameEnd(i));
  }
  /** The raw value of header line i (folds included). Allocates. */
  headerValue(i: number): string { return this.src.substring(this.headerValueStart(i), this.headerValueEnd(i)); }
  /** The value of the first header with this id, or "" (allocates). */
  header(id: number): string { const i = this.firstHeader[id]; return i < 0 ? "" : this.headerValue(i); }

  /** Method token as text (allocates). */
  methodName(): string { return this.src.substring(this.methodStart, this.methodEnd); }
  /** Request-URI as text (allocates). */
  uriText(): string { return this.src.substring(this.uriStart, this.uriEnd); }
  /** Reason phrase as text (allocates). */
  reason(): string { return this.src.substring(this.reasonStart, this.reasonEnd); }
  /** Call-ID as text (allocates). */
  callId(): string { return this.callIdStart < 0 ? "" : this.src.substring(this.callIdStart, this.callIdEnd); }
  /** Body as a binary string (allocates). */
  bodyText(): string { return this.src.substring(this.bodyStart, this.bodyEnd); }

  // Methods, not getters: Espruino's E.getSizeOf calls getters with the prototype as `this`.
  /** Number of Via values, counted on demand (stops at a malformed one). */
  countVia(): number { return walkVias(this, false); }
  /** Number of Contact values, counted on demand (stops at a malformed one). */
  countContacts(): number {
    let n = 0;
    nameAddrCursor.begin(this, HDR_CONTACT);
    while (nameAddrCursor.next()) n++;
    return n;
  }

  /**
   * Parses the Request-URI on first use; false when it is malformed or, for SIP and SIPS, has
   * a headers component (§19.1.5 forbids it in a Request-URI). Cheap to call again.
   */
  decodeRequestUri(): boolean {
    if (this.ruriState < 0) {
      const u = this.requestUri;
      this.ruriState = this.isRequest && this.uriEnd > this.uriStart &&
        parseUri(this.src, this.uriStart, this.uriEnd, u) === 0 &&
        !((u.scheme === SCHEME_SIP || u.scheme === SCHEME_SIPS) && u.headersStart >= 0) ? 1 : 0;
    }
    return this.ruriState === 1;
  }

  /** True when the CSeq method is the same token as src[s, e). */
  cseqMethodIs(s: number, e: number): boolean {
    const n = e - s;
    if (this.cseqMethodEnd - this.cseqMethodStart !== n) return false;
    for (let i = 0; i < n; i++) if (this.src.charCodeAt(this.cseqMethodStart + i) !== this.src.charCodeAt(s + i)) return false;
    return true;
  }

  /**
   * The status a rejected request is answered with, or 0 when it must be dropped (a response,
   * an ACK, an unroutable request, or an error with no answer).
   */
  rejectStatus(): number {
    // Answerable: a request whose method is known and that carries a Via. A Via that did not
    // parse is still copied; the transport then answers the packet's source (§18.2.2 fallback).
    if (this.error === 0 || !this.isRequest || this.methodEnd <= this.methodStart || this.method === METHOD_ACK) return 0;
    if (this.firstHeader[HDR_VIA] < 0) return 0;
    // RFC 4475 §3.4.2: an unknown method with a mismatched CSeq is better answered 501.
    if (this.error === ERR_CSEQ_METHOD && this.method === METHOD_OTHER) return 501;
    return errorStatus(this.error);
  }
  /** The reason phrase that names the problem, for the rejection response. */
  rejectReason(): string {
    if (this.error === ERR_CSEQ_METHOD && this.method === METHOD_OTHER) return "Not Implemented";
    return errorReason(this.error);
  }
}

/** The header section did not end inside the input: more bytes are needed, or it is too large. */
/** The largest message parseMessage reads headers for: maxMessageSize, honoured up to MAX_MESSAGE_SIZE. */
function sizeLimit(limits: ParserLimits): number {
  return limits.maxMessageSize < MAX_MESSAGE_SIZE ? limits.maxMessageSize : MAX_MESSAGE_SIZE;
}

function incomplete(msg: SipMessage, off: number, limit: number): number {
  // This outranks any error met in the lines so far: the message is not all here, so nothing
  // else about it is final (a stream reader waits for more; a datagram is dropped). Past the size
  // limit nothing more will help (and parseMessage looks no further than one character beyond it).
  msg.error = limit - off > sizeLimit(msg.limits) ? ERR_MESSAGE_TOO_LARGE : ERR_INCOMPLETE;
  msg.errorOffset = limit;
  return -msg.error;
}

function fail(msg: SipMessage, code: number, offset: number): void {
  if (msg.error === 0) {
    msg.error = code;
    msg.errorOffset = offset;
  }
}


/** Parses the start line src[p, e) (without its CRLF). */
function parseStartLine(src: string, p: number, e: number, msg: SipMessage): void {
  if (e - p >= 8 && src.startsWith("SIP/", p)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    msg.isRequest = false;
    const sp = src.indexOf(" ", p);
    if (sp < 0 || sp > e) { fail(msg, ERR_START_LINE, p); return; }
    if (!spanEquals(src, p, sp, "SIP/2.0")) { fail(msg, ERR_VERSION, p); return; }
    let q = sp + 1;
    const cs = q;
    while (q < e && (CHAR_CLASS[src.charCodeAt(q)] & C_DIGIT) !== 0) q++;
    if (q - cs !== 3 || (q < e && src.charCodeAt(q) !== CH_SP)) { fail(msg, ERR_STATUS_CODE, cs); return; }
    const status = parseDecimal(src, cs, q, 999);
    if (status < 100 || status > 699) { fail(msg, ERR_STATUS_CODE, cs); return; }
    msg.status = status;
    msg.reasonStart = q < e ? q + 1 : e;
    msg.reasonEnd = e;
    msg.startLineOk = true;
    return;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (single SPs, no other whitespace)
  msg.isRequest = true;
  const sp1 = src.indexOf(" ", p);
  if (sp1 < 0 || sp1 > e) { fail(msg, ERR_START_LINE, p); return; }
  if (sp1 === p || skipToken(src, p, sp1) !== sp1) { fail(msg, ERR_METHOD, p); return; }
  msg.methodStart = p;
  msg.methodEnd = sp1;
  msg.method = resolveMethod(src, p, sp1);
  const us = sp1 + 1;
  const sp2 = src.indexOf(" ", us);
  if (sp2 < 0 || sp2 > e || sp2 === us) { fail(msg, ERR_START_LINE, us); return; }
  msg.uriStart = us;
  msg.uriEnd = sp2;
  const vs = sp2 + 1;
  if (!(e - vs === 7 && src.startsWith("SIP/2.0", vs)) && !spanEqualsIgnoreCase(src, vs, e, "sip/2.0")) {
    // A well-formed other version earns 505; anything else is a malformed line.
    let q = vs;
    if (e - vs > 4 && spanEqualsIgnoreCase(src, vs, vs + 4, "sip/")) {
      q = vs + 4;
      const ds = q;
      while (q < e && (CHAR_CLASS[src.charCodeAt(q)] & C_DIGIT) !== 0) q++;
      if (q > ds && q < e && src.charCodeAt(q) === 46) {
        const ms = ++q;
        while (q < e && (CHAR_CLASS[src.charCodeAt(q)] & C_DIGIT) !== 0) q++;
        if (q > ms && q === e) { fail(msg, ERR_VERSION, vs); msg.startLineOk = true; return; }
      }
    }
    fail(msg, ERR_START_LINE, vs);
    return;
  }
  msg.startLineOk = true;
  if (sp2 - us > msg.limits.maxUriLength) { fail(msg, ERR_URI_TOO_LONG, us); return; }
  // The Request-URI is decoded on first use (decodeRequestUri, validateMessage); here only its
  // first character is checked, which turns away '<' and spaces (RFC 4475 ltgtruri, lwsstart).
  const u = msg.requestUri;
  u.start = us;
  u.end = sp2;
  const c0 = src.charCodeAt(us) | 0x20;
  if (c0 < 97 || c0 > 122) fail(msg, ERR_REQUEST_URI, us);
}

/** Decodes the value of one header line that the parser validates, recording any error. */
function decodeHeader(src: string, id: number, vs: number, ve: number, msg: SipMessage): void {
  switch (id) {
    case HDR_VIA:
      // Only the top value is needed to route a response; it alone is decoded here: the first Via line's (a
      // later line decoded after a broken first had a response copy bytes across lines, found by fuzzing).
      if (msg.viaOk || msg.firstHeader[HDR_VIA] !== msg.headerCount - 1) return;
      if (parseViaValue(src, vs, ve, msg.via) < 0) { fail(msg, ERR_VIA, vs); return; }
      msg.viaOk = true;
      return;
    case HDR_FROM:
      if (parseNameAddr(src, vs, ve, msg.from, NA_LAZY_URI) !== ve) fail(msg, ERR_FROM, vs);
      return;
    case HDR_TO:
      if (parseNameAddr(src, vs, ve, msg.to, NA_LAZY_URI) !== ve) fail(msg, ERR_TO, vs);
      return;
    case HDR_CALL_ID: {
      // Call-ID = word [ "@" word ]: at most one '@', with a word on each side.
      let p = vs;
      while (p < ve && (CHAR_CLASS[src.charCodeAt(p)] & C_CALLID) !== 0) p++;
      const at = src.indexOf("@", vs);
      if (p !== ve || vs === ve || (at >= 0 && at < ve &&
        (at === vs || at === ve - 1 || (src.indexOf("@", at + 1) >= 0 && src.indexOf("@", at + 1) < ve)))) {
        fail(msg, ERR_CALL_ID, vs);
        return;
      }
      msg.callIdStart = vs;
      msg.callIdEnd = ve;
      return;
    }
    case HDR_CSEQ: {
      // CSeq = 1*DIGIT LWS Method
      let p = vs;
      while (p < ve && (CHAR_CLASS[src.charCodeAt(p)] & C_DIGIT) !== 0) p++;
      const n = parseDecimal(src, vs, p, UINT32_MAX);
      const q = skipLws(src, p, ve);
      const me = skipToken(src, q, ve);
      if (n < 0 || q === p || me === q || me !== ve) { fail(msg, ERR_CSEQ, vs); return; }
      msg.cseq = n;
      msg.cseqMethodStart = q;
      msg.cseqMethodEnd = me;
      msg.cseqMethod = resolveMethod(src, q, me);
      return;
    }
    case HDR_MAX_FORWARDS:
      msg.maxForwards = parseDecimal(src, vs, ve, 255);
      if (msg.maxForwards < 0) fail(msg, ERR_MAX_FORWARDS, vs);
      return;
    case HDR_CONTENT_LENGTH:
      msg.contentLength = parseDecimal(src, vs, ve, UINT32_MAX);
      if (msg.contentLength < 0) fail(msg, ERR_CONTENT_LENGTH, vs);
      return;
    case HDR_EXPIRES:
      msg.expires = parseDecimal(src, vs, ve, UINT32_MAX);
      if (msg.expires < 0) fail(msg, ERR_EXPIRES, vs);
      return;
    case HDR_DATE:
      // rfc1123-date ends in "GMT" (§20.17); other zones are not allowed.
      if (ve - vs < 5 || src.charCodeAt(ve - 4) !== CH_SP || !spanEquals(src, ve - 3, ve, "GMT")) fail(msg, ERR_DATE, vs);
      return;
  }
}

/**
 * Parses one SIP message from src[off, off + len) into msg.
 *
 * Return contract (one, for every caller): the number of bytes consumed (> 0) when the message
 * is accepted, or a negative error code (-ERR_*) when it is rejected. On rejection msg.error
 * and msg.errorOffset say why and where, and msg.rejectStatus() gives the response a request
 * earns (0: drop it). Whatever spans were understood stay readable, so a rejected request can
 * still be answered. Bytes after the message (a datagram's trailing octets, the next message
 * on a stream) are not consumed. In stream mode -ERR_INCOMPLETE means "feed more bytes".
 * Never throws; the work is bounded by len.
 */
export function parseMessage(src: string, off: number, len: number, msg: SipMessage): number {
  const limits = msg.limits;
  // Header lines are looked for no further than off + maxMessageSize + 1 (a header section reaching past it is
  // ERR_MESSAGE_TOO_LARGE however it ends), so their offsets fit the table's 16 bits; the body's framing
  // still sees the whole input (fullLimit), as the verdicts do.
  const fullLimit = off + len;
  const size = sizeLimit(limits);
  const limit = len > size + 1 ? off + size + 1 : fullLimit;
  msg.src = src;
  msg.error = 0;
  msg.errorOffset = -1;
  msg.startLineOk = false;
  msg.viaOk = false;
  msg.isRequest = false;
  msg.method = METHOD_OTHER;
  msg.methodStart = msg.methodEnd = 0;
  msg.status = 0;
  // Clear the ids the previous message set (fewer writes than clearing every id).
  const first = msg.firstHeader;
  for (let i = msg.headerCount - 1; i >= 0; i--) first[msg.headers[i * H_STRIDE + H_ID]] = -1;
  msg.headerCount = 0;
  msg.contentLength = -1;
  msg.callIdStart = msg.callIdEnd = -1;
  msg.cseq = -1;
  msg.cseqMethod = METHOD_OTHER;
  msg.cseqMethodStart = msg.cseqMethodEnd = -1;
  msg.maxForwards = -1;
  msg.expires = -1;
  msg.from.clear();
  msg.to.clear();
  msg.length = 0;
  msg.bodyStart = msg.bodyEnd = 0;
  resetUri(msg.requestUri, src);
  msg.requestUri.start = msg.requestUri.end = -1;
  msg.ruriState = -1;
  msg.uriStart = msg.uriEnd = 0;

  // The header table keeps 16-bit offsets: a message starting this far into src cannot be read (SipTransport
  // cuts a stream before it gets here; a datagram starts at 0).
  if (limit > MAX_OFFSET) {
    fail(msg, ERR_MESSAGE_TOO_LARGE, off);
    return -msg.error;
  }

  // Leading CRLFs are ignored (§7.5); a datagram of nothing else is a keep-alive, not a message.
  let p = off;
  while (p + 1 < fullLimit && src.charCodeAt(p) === CH_CR && src.charCodeAt(p + 1) === CH_LF) p += 2;
  msg.start = p;
  if (p >= fullLimit || (fullLimit - p === 1 && src.charCodeAt(p) === CH_CR)) {
    fail(msg, msg.stream ? ERR_INCOMPLETE : ERR_EMPTY, p);
    return -msg.error;
  }

  // Lines are found with single-character searches (the engines' fastest native scan): each
  // LF, then a check for the CR before it. The first empty line ends the header section.
  let lf = src.indexOf("\n", p);
  if (lf < 0 || lf >= limit) return incomplete(msg, off, limit);
  let lineEnd = lf - 1;
  if (src.charCodeAt(lineEnd) !== CH_CR) { fail(msg, ERR_START_LINE, lf); lineEnd = lf; }
  parseStartLine(src, p, lineEnd, msg);

  // Header lines, each possibly folded onto continuation lines starting with SP or HTAB.
  let pos = lf + 1;
  const headers = msg.headers;
  const maxHeaders = limits.maxHeaders;
  let bodyStart = -1;
  // Every line counts against maxHeaders, malformed ones too, so work stays bounded; the next
  // ':' is remembered, so lines without one do not each search to the end of the input.
  let lines = 0;
  let nextColon = -1;
  for (;;) {
    lf = src.indexOf("\n", pos);
    if (lf < 0 || lf >= limit) return incomplete(msg, off, limit);
    if (lf === pos + 1 && src.charCodeAt(pos) === CH_CR) { bodyStart = lf + 1; break; }
    // Continuation lines belong to this header; until the next line is here, that is unknown.
    if (lf + 1 >= limit) return incomplete(msg, off, limit);
    let c = src.charCodeAt(lf + 1);
    while (c === CH_SP || c === CH_TAB) {
      lf = src.indexOf("\n", lf + 1);
      if (lf < 0 || lf + 1 >= limit) return incomplete(msg, off, limit);
      c = src.charCodeAt(lf + 1);
    }
    if (++lines > maxHeaders) { fail(msg, ERR_TOO_MANY_HEADERS, pos); pos = lf + 1; continue; }
    const lineStart = pos;
    pos = lf + 1;
    lineEnd = lf - 1;
    if (src.charCodeAt(lineEnd) !== CH_CR) { fail(msg, ERR_HEADER_LINE, lf); lineEnd = lf; }
    if (lineEnd === lineStart) { fail(msg, ERR_HEADER_LINE, lineStart); continue; } // a bare LF line
    if (nextColon < lineStart && nextColon !== -2) {
      nextColon = src.indexOf(":", lineStart);
      if (nextColon < 0) nextColon = -2; // none left anywhere
    }
    const colon = nextColon;
    if (colon < 0 || colon > lineEnd) { fail(msg, ERR_HEADER_LINE, lineStart); continue; }
    // header-name HCOLON: a token, optionally followed by SP/HTAB before the ':'.
    let nameEnd = colon;
    c = src.charCodeAt(nameEnd - 1);
    while (nameEnd > lineStart && (c === CH_SP || c === CH_TAB)) c = src.charCodeAt(--nameEnd - 1);
    if (nameEnd === lineStart) { fail(msg, ERR_HEADER_LINE, lineStart); continue; }
    const id = resolveHeaderName(src, lineStart, nameEnd);
    // A known name matched a table entry, so it is a token; only unknown names are checked here.
    if (id === HDR_OTHER && skipToken(src, lineStart, nameEnd) !== nameEnd) { fail(msg, ERR_HEADER_LINE, lineStart); continue; }
    // Value: LWS after the colon skipped (one space is the common case), trailing LWS trimmed.
    let vs = colon + 1;
    c = src.charCodeAt(vs);
    if (c === CH_SP && vs + 1 < lineEnd) {
      c = src.charCodeAt(vs + 1);
      vs = c === CH_SP || c === CH_TAB || c === CH_CR ? skipLws(src, vs, lineEnd) : vs + 1;
    } else if (c === CH_SP || c === CH_TAB || c === CH_CR) vs = skipLws(src, vs, lineEnd);
    c = src.charCodeAt(lineEnd - 1);
    const ve = c === CH_SP || c === CH_TAB || c === CH_LF ? trimLwsEnd(src, vs, lineEnd) : lineEnd;
    const idx = msg.headerCount++;
    const b = idx * H_STRIDE;
    headers[b + H_ID] = id;
    headers[b + H_NAME_START] = lineStart;
    headers[b + H_VALUE_START] = vs;
    headers[b + H_VALUE_END] = ve;
    if (msg.firstHeader[id] < 0) msg.firstHeader[id] = idx;
    else if (HEADER_IS_SINGLE[id] !== 0) { fail(msg, ERR_DUPLICATE_HEADER, lineStart); continue; }
    if (id !== HDR_OTHER) decodeHeader(src, id, vs, ve, msg);
  }
  if (bodyStart - off > limits.maxMessageSize) fail(msg, ERR_MESSAGE_TOO_LARGE, p);
  msg.firstHeader[HDR_OTHER] = -1;

  const hdrEnd = bodyStart - 2;
  // Mandatory headers (§8.1.1; Max-Forwards is tolerated missing for RFC 2543 peers).
  if (msg.firstHeader[HDR_VIA] < 0) fail(msg, ERR_MISSING_VIA, hdrEnd);
  if (msg.firstHeader[HDR_FROM] < 0) fail(msg, ERR_MISSING_FROM, hdrEnd);
  if (msg.firstHeader[HDR_TO] < 0) fail(msg, ERR_MISSING_TO, hdrEnd);
  if (msg.firstHeader[HDR_CALL_ID] < 0) fail(msg, ERR_MISSING_CALL_ID, hdrEnd);
  if (msg.firstHeader[HDR_CSEQ] < 0) fail(msg, ERR_MISSING_CSEQ, hdrEnd);
  if (msg.isRequest && msg.startLineOk && msg.cseq >= 0 && !msg.cseqMethodIs(msg.methodStart, msg.methodEnd)) {
    fail(msg, ERR_CSEQ_METHOD, msg.cseqMethodStart);
  }

  // Body framing (§18.3): by Content-Length; on a datagram, a missing one means "to the end",
  // a larger one is an error and a smaller one truncates.
  let bodyEnd: number;
  if (msg.contentLength >= 0) {
    bodyEnd = bodyStart + msg.contentLength;
    if (bodyEnd > fullLimit) {
      if (msg.stream && msg.error === 0) {
        fail(msg, msg.contentLength > limits.maxBodySize ? ERR_BODY_TOO_LARGE
          : bodyEnd - off > limits.maxMessageSize ? ERR_MESSAGE_TOO_LARGE : ERR_INCOMPLETE, fullLimit);
        return -msg.error;
      }
      fail(msg, ERR_BODY_TRUNCATED, fullLimit);
      bodyEnd = fullLimit;
    }
  } else {
    if (msg.stream) fail(msg, ERR_CONTENT_LENGTH, hdrEnd);
    bodyEnd = fullLimit;
  }
  if (bodyEnd - bodyStart > limits.maxBodySize) fail(msg, ERR_BODY_TOO_LARGE, bodyStart);
  // maxMessageSize bounds headers and body together, not only the header section.
  if (bodyEnd - off > limits.maxMessageSize) fail(msg, ERR_MESSAGE_TOO_LARGE, bodyStart);
  msg.bodyStart = bodyStart;
  msg.bodyEnd = bodyEnd;
  msg.length = bodyEnd - off;
  return msg.error === 0 ? msg.length : -msg.error;
}

const nameAddrCursor = nameAddrWalker;

/**
 * Parses each Via value of msg into msg.via in turn, then the top one again, so msg.via is left as
 * parseMessage made it (a walk without a ViaValue of its own). Returns how many values parsed up to the
 * first malformed one; with failOnMalformed, that one is recorded as ERR_VIA and the answer is -1.
 */
function walkVias(msg: SipMessage, failOnMalformed: boolean): number {
  const h = msg.headers;
  const top = msg.firstHeader[HDR_VIA];
  let n = 0;
  let bad = -1;
  for (let line = top; line >= 0 && bad < 0; line = msg.nextHeader(HDR_VIA, line)) {
    const e = h[line * H_STRIDE + H_VALUE_END];
    // Values run to a ',' or the line's end; an empty line, or a ',' at its end, holds no further value.
    for (let p = h[line * H_STRIDE + H_VALUE_START]; p < e && bad < 0;) {
      const q = parseViaValue(msg.src, p, e, msg.via);
      if (q < 0) bad = p;
      else { n++; p = q + 1; }
    }
  }
  if (top >= 0) parseViaValue(msg.src, h[top * H_STRIDE + H_VALUE_START], h[top * H_STRIDE + H_VALUE_END], msg.via);
  if (bad >= 0 && failOnMalformed) { fail(msg, ERR_VIA, bad); return -1; }
  return n;
}

/**
 * The checks parseMessage leaves to the layer that acts on a message: the Request-URI, the
 * From and To URIs, every Via value, every Contact, Route and Record-Route value. A UAS runs it before it processes a request, so a
 * malformed one is answered 400 like any parse error. Returns 0 or a negative error code, and
 * records the error in msg as parseMessage does.
 */
export function validateMessage(msg: SipMessage): number {
  if (msg.error !== 0) return -msg.error;
  if (msg.isRequest && !msg.decodeRequestUri()) { fail(msg, ERR_REQUEST_URI, msg.uriStart); return -ERR_REQUEST_URI; }
  if (!msg.from.decodeUri()) { fail(msg, ERR_FROM, msg.from.start); return -ERR_FROM; }
  if (!msg.to.decodeUri()) { fail(msg, ERR_TO, msg.to.start); return -ERR_TO; }
  if (walkVias(msg, true) < 0) return -ERR_VIA;
  for (let k = 0; k < 3; k++) {
    const id = k === 0 ? HDR_CONTACT : k === 1 ? HDR_ROUTE : HDR_RECORD_ROUTE;
    nameAddrCursor.begin(msg, id);
    while (nameAddrCursor.next()) { /* as above */ }
    if (nameAddrCursor.malformed) {
      const code = id === HDR_CONTACT ? ERR_CONTACT : ERR_HEADER_VALUE;
      fail(msg, code, nameAddrCursor.failedAt);
      return -code;
    }
  }
  return 0;
}
