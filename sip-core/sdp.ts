// RFC 4566 SDP parser and RFC 3264 offer/answer for one audio stream: spans into the body, preallocated, no exceptions.
import { ERR_BUFFER_FULL, ERR_HEADER_VALUE, ERR_TOO_MANY_HEADERS } from "./errors.ts";
import { NEXT_SPACE, nextIndex, parseDecimal, spanEqualsIgnoreCase, tokenIs } from "./scan.ts";
import type { SipWriter } from "./writer.ts";

/** parseSdp: a malformed line (no '=', bad m= port, bad payload number, bad rtpmap...). */
export const SDP_ERR_SYNTAX = -ERR_HEADER_VALUE;
/** parseSdp: more media descriptions, payload types or lines than the fixed capacity holds. */
export const SDP_ERR_LIMIT = -ERR_TOO_MANY_HEADERS;

/** Media descriptions accepted per body; one more is SDP_ERR_LIMIT. */
export const SDP_MAX_MEDIA = 4;
/** Payload types kept per m= line; one more is SDP_ERR_LIMIT. */
export const SDP_MAX_PAYLOADS = 16;
/** Lines read per body; one more is SDP_ERR_LIMIT (bounds the loop independently of the length). */
export const SDP_MAX_LINES = 256;

/** Static RTP payload types (RFC 3551). */
export const PCMU = 0;
export const PCMA = 8;
/** The packet time we send (ms), and the longest we take (our a=maxptime: a receiver's buffer is sized by it). */
export const RTP_PTIME = 20;
export const RTP_MAX_PTIME = 60;

/** Stream directions (RFC 4566 §6, RFC 3264 §5.1). SDP_DIR_NONE: no attribute given. */
export const SDP_DIR_NONE = -1;
export const SDP_SENDRECV = 0;
export const SDP_SENDONLY = 1;
export const SDP_RECVONLY = 2;
export const SDP_INACTIVE = 3;
/** The four direction names, 8 characters each, in SDP_SENDRECV… order: one string (a device keeps it in flash). */
const DIR_NAMES = "sendrecvsendonlyrecvonlyinactive";

// Per payload slot of SdpMedia.fmt: rtpmap encoding name span, clock rate, channels, fmtp span.
const F_ENC_START = 0;
const F_ENC_END = 1;
const F_CLOCK = 2;
const F_CHANNELS = 3;
const F_FMTP_START = 4;
const F_FMTP_END = 5;
const F_STRIDE = 6;

/** One m= section. Spans are offsets into SdpSession.src; -1 when absent. */
export class SdpMedia {
  typeStart = -1;
  typeEnd = -1;
  port = 0;
  /** The n of "port/n", 1 when not given. */
  portCount = 1;
  protoStart = -1;
  protoEnd = -1;
  /** The whole fmt list as received (copied into a rejecting answer). */
  fmtStart = -1;
  fmtEnd = -1;
  /** The proto is RTP/...: the fmt list is payload type numbers, held in pt. */
  rtp = false;
  ptCount = 0;
  readonly pt: Int16Array = new Int16Array(SDP_MAX_PAYLOADS);
  /** [encStart, encEnd, clock, channels, fmtpStart, fmtpEnd] per payload slot (same index as pt). */
  readonly fmt: Int32Array = new Int32Array(SDP_MAX_PAYLOADS * F_STRIDE);
  /** Media-level c= address span, IP version (4, 6, 0 unknown). */
  connStart = -1;
  connEnd = -1;
  connIp = 0;
  /** a=ptime in ms, -1 when absent. */
  ptime = -1;
  /** Media-level direction attribute, SDP_DIR_NONE when absent. */
  direction = SDP_DIR_NONE;

  reset(): void {
    this.typeStart = this.typeEnd = this.protoStart = this.protoEnd = this.fmtStart = this.fmtEnd = -1;
    this.port = 0;
    this.portCount = 1;
    this.rtp = false;
    this.ptCount = 0;
    this.fmt.fill(-1);
    this.connStart = this.connEnd = -1;
    this.connIp = 0;
    this.ptime = -1;
    this.direction = SDP_DIR_NONE;
  }

  /** Slot of payload type n in the m= list, -1 when not listed. */
  indexOfPayload(n: number): number {
    for (let i = 0; i < this.ptCount; i++) if (this.pt[i] === n) return i;
    return -1;
  }
  encStart(i: number): number { return this.fmt[i * F_STRIDE + F_ENC_START]; }
  encEnd(i: number): number { return this.fmt[i * F_STRIDE + F_ENC_END]; }
  /** rtpmap clock rate of slot i, -1 without rtpmap. */
  clockRate(i: number): number { return this.fmt[i * F_STRIDE + F_CLOCK]; }
  channels(i: number): number { return this.fmt[i * F_STRIDE + F_CHANNELS]; }
  fmtpStart(i: number): number { return this.fmt[i * F_STRIDE + F_FMTP_START]; }
  fmtpEnd(i: number): number { return this.fmt[i * F_STRIDE + F_FMTP_END]; }
}

/**
 * A parsed SDP body: spans into src. The media descriptions share one SdpMedia: media(i) parses the i-th
 * into it again when another one is there (a door phone answers one audio stream; four slots cost the
 * device ~130 variables). Allocated once and reused; parsing allocates nothing. Strings are made only by text().
 */
export class SdpSession {
  src = "";
  /** The body within src, for media(i) to parse again. */
  bodyStart = 0;
  bodyEnd = 0;
  /** o= fields (spans) and the session version as a number (-1 when longer than 15 digits). */
  originUserStart = -1;
  originUserEnd = -1;
  sessIdStart = -1;
  sessIdEnd = -1;
  sessVersionStart = -1;
  sessVersionEnd = -1;
  sessVersion = -1;
  originAddrStart = -1;
  originAddrEnd = -1;
  /** Session-level c= address span and IP version (4, 6, 0 unknown). */
  connStart = -1;
  connEnd = -1;
  connIp = 0;
  /** Session-level direction attribute, SDP_DIR_NONE when absent. */
  direction = SDP_DIR_NONE;
  /** Session-level a=ptime, -1 when absent. */
  ptime = -1;
  mediaCount = 0;
  /** The media description last parsed, and its index (-1: none). */
  readonly slot: SdpMedia = new SdpMedia();
  slotIndex = -1;
  /** Offset of the line that failed, -1 after success. */
  errorOffset = -1;

  reset(src: string): void {
    this.src = src;
    this.slotIndex = -1;
    this.originUserStart = this.originUserEnd = this.sessIdStart = this.sessIdEnd = -1;
    this.sessVersionStart = this.sessVersionEnd = this.sessVersion = -1;
    this.originAddrStart = this.originAddrEnd = -1;
    this.connStart = this.connEnd = -1;
    this.connIp = 0;
    this.direction = SDP_DIR_NONE;
    this.ptime = -1;
    this.mediaCount = 0;
    this.errorOffset = -1;
  }

  /** src[s, e) as a string (allocates); "" for an absent span. */
  text(s: number, e: number): string {
    return s < 0 || e < s ? "" : this.src.substring(s, e);
  }

  /**
   * Media description i (0 ≤ i < mediaCount) of the body parsed last, in the shared slot: valid until
   * another index is asked for.
   */
  media(i: number): SdpMedia {
    if (i !== this.slotIndex) {
      this.slot.reset();
      this.slotIndex = -1;
      scanSdp(this.src, this.bodyStart, this.bodyEnd, this, i);
    }
    return this.slot;
  }

  /** Effective direction of media i: its attribute, else the session's, else sendrecv. */
  mediaDirection(i: number): number {
    const d = this.media(i).direction;
    if (d !== SDP_DIR_NONE) return d;
    return this.direction !== SDP_DIR_NONE ? this.direction : SDP_SENDRECV;
  }

  /** Slot of the telephone-event/8000 payload of media i, -1 when not offered. */
  telephoneEventIndex(i: number): number {
    const m = this.media(i);
    const src = this.src;
    for (let k = 0; k < m.ptCount; k++) {
      // The fmt table read directly: the accessors are for tools and tests (each method costs the device ~5 variables).
      const f = m.fmt;
      const s = f[k * F_STRIDE + F_ENC_START];
      if (s >= 0 && f[k * F_STRIDE + F_CLOCK] === 8000 && spanEqualsIgnoreCase(src, s, f[k * F_STRIDE + F_ENC_END], "telephone-event")) return k;
    }
    return -1;
  }
}


/** End of the space-separated field starting at p (the next space, or end). */
function fieldEnd(src: string, p: number, end: number): number {
  const i = nextIndex(NEXT_SPACE, " ", src, p);
  return i < 0 || i > end ? end : i;
}

/** First position from p that is not a space, at most end. */
function skipSpaces(src: string, p: number, end: number): number {
  while (p < end && src.charCodeAt(p) === 32) p++;
  return p;
}

/** Parses "IN IP4|IP6 addr[/ttl[/n]]" in src[p, end) into target; false when malformed. */
function parseConnection(src: string, p: number, end: number, target: SdpSession | SdpMedia): boolean {
  const nt = fieldEnd(src, p, end);
  if (!tokenIs(src, p, nt, "in")) return nt > p; // another network type: kept out, not an error
  p = skipSpaces(src, nt, end);
  const at = fieldEnd(src, p, end);
  let ip = 0;
  if (spanEqualsIgnoreCase(src, p, at, "ip4")) ip = 4;
  else if (spanEqualsIgnoreCase(src, p, at, "ip6")) ip = 6;
  else if (at === p) return false;
  p = skipSpaces(src, at, end);
  let ae = fieldEnd(src, p, end);
  const slash = src.indexOf("/", p);
  if (slash >= 0 && slash < ae) ae = slash;
  if (ae === p) return false;
  target.connStart = p;
  target.connEnd = ae;
  target.connIp = ip;
  return true;
}

/** Parses the m= value in src[p, end) into m; 0 or a negative SDP_ERR_. */
function parseMediaLine(src: string, p: number, end: number, m: SdpMedia): number {
  m.reset();
  let e = fieldEnd(src, p, end);
  if (e === p) return SDP_ERR_SYNTAX;
  m.typeStart = p;
  m.typeEnd = e;
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  const slash = src.indexOf("/", p);
  if (slash >= 0 && slash < e) {
    m.portCount = parseDecimal(src, slash + 1, e, 65535);
    if (m.portCount < 1) return SDP_ERR_SYNTAX;
    m.port = parseDecimal(src, p, slash, 65535);
  } else m.port = parseDecimal(src, p, e, 65535);
  if (m.port < 0) return SDP_ERR_SYNTAX;
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  if (e === p) return SDP_ERR_SYNTAX;
  m.protoStart = p;
  m.protoEnd = e;
  m.rtp = e - p >= 4 && spanEqualsIgnoreCase(src, p, p + 4, "rtp/");
  p = skipSpaces(src, e, end);
  if (p >= end) return SDP_ERR_SYNTAX; // at least one fmt
  m.fmtStart = p;
  m.fmtEnd = end;
  if (!m.rtp) return 0;
  for (let n = 0; p < end; n++) {
    if (n >= SDP_MAX_PAYLOADS) return SDP_ERR_LIMIT;
    e = fieldEnd(src, p, end);
    const v = parseDecimal(src, p, e, 127);
    if (v < 0) return SDP_ERR_SYNTAX;
    m.pt[n] = v;
    m.ptCount = n + 1;
    p = skipSpaces(src, e, end);
  }
  return 0;
}

/** Parses an a= value in src[p, end) for session s (media m, or null at session level). */
function parseAttribute(src: string, p: number, end: number, s: SdpSession, m: SdpMedia | null): number {
  let colon = src.indexOf(":", p);
  if (colon < 0 || colon > end) colon = end;
  // A direction (all four names are 8 chars long).
  if (colon - p === 8) {
    for (let d = 0; d < 4; d++) {
      if (!tokenIs(src, p, colon, DIR_NAMES.substring(d * 8, d * 8 + 8))) continue;
      if (m !== null) m.direction = d;
      else s.direction = d;
      return 0;
    }
  }
  if (colon === end) return 0; // another property attribute
  const v = colon + 1;
  if (tokenIs(src, p, colon, "ptime")) {
    // "a=ptime:20" (some stacks write "20.0"; the integer part is kept)
    let e = v;
    while (e < end && src.charCodeAt(e) >= 48 && src.charCodeAt(e) <= 57) e++;
    const t = parseDecimal(src, v, e, 10000);
    if (t < 0) return SDP_ERR_SYNTAX;
    if (m !== null) m.ptime = t;
    else s.ptime = t;
    return 0;
  }
  const isRtpmap = tokenIs(src, p, colon, "rtpmap");
  if (!isRtpmap && !tokenIs(src, p, colon, "fmtp")) return 0;
  if (m === null || !m.rtp) return 0; // only meaningful inside an RTP media description
  const pe = fieldEnd(src, v, end);
  const pt = parseDecimal(src, v, pe, 127);
  if (pt < 0) return SDP_ERR_SYNTAX;
  const k = m.indexOfPayload(pt);
  if (k < 0) return 0; // a payload type not in the m= list: ignored
  const q = skipSpaces(src, pe, end);
  const f = m.fmt;
  const b = k * F_STRIDE;
  if (!isRtpmap) {
    f[b + F_FMTP_START] = q;
    f[b + F_FMTP_END] = end;
    return 0;
  }
  // <encoding name>/<clock rate>[/<encoding parameters>]
  let s1 = src.indexOf("/", q);
  if (s1 < 0 || s1 > end) s1 = end;
  if (s1 === q) return SDP_ERR_SYNTAX;
  f[b + F_ENC_START] = q;
  f[b + F_ENC_END] = s1;
  // RFC 4475 esc01 has "a=rtpmap:31 LPC": a name alone is kept, with no clock rate
  if (s1 === end) return 0;
  let s2 = src.indexOf("/", s1 + 1);
  if (s2 < 0 || s2 > end) s2 = end;
  const clock = parseDecimal(src, s1 + 1, s2, 100000000);
  if (clock < 0) return SDP_ERR_SYNTAX;
  let ch = 1;
  if (s2 < end) {
    ch = parseDecimal(src, s2 + 1, end, 255);
    if (ch < 0) return SDP_ERR_SYNTAX;
  }
  f[b + F_CLOCK] = clock;
  f[b + F_CHANNELS] = ch;
  return 0;
}

/** Parses the o= value in src[p, end); 0 or SDP_ERR_SYNTAX. */
function parseOrigin(src: string, p: number, end: number, out: SdpSession): number {
  let e = fieldEnd(src, p, end);
  if (e === p) return SDP_ERR_SYNTAX;
  out.originUserStart = p;
  out.originUserEnd = e;
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  if (e === p) return SDP_ERR_SYNTAX;
  out.sessIdStart = p;
  out.sessIdEnd = e;
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  if (e <= p) return SDP_ERR_SYNTAX; // sess-version: digits
  for (let i = p; i < e; i++) if (src.charCodeAt(i) < 48 || src.charCodeAt(i) > 57) return SDP_ERR_SYNTAX;
  out.sessVersionStart = p;
  out.sessVersionEnd = e;
  out.sessVersion = e - p <= 15 ? parseDecimal(src, p, e, 999999999999999) : -1;
  // nettype, addrtype, unicast-address: the address is the last field
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  p = skipSpaces(src, e, end);
  e = fieldEnd(src, p, end);
  if (e === p) return SDP_ERR_SYNTAX;
  out.originAddrStart = p;
  out.originAddrEnd = e;
  return 0;
}

/**
 * Parses the SDP body src[start, end) into out (RFC 4566 §5). Lines end in CRLF or a bare LF;
 * the first line must be v=0; unknown line types and attributes are skipped. Returns 0, or a
 * negative SDP_ERR_ code with out.errorOffset at the failing line. Never throws.
 */
export function parseSdp(src: string, start: number, end: number, out: SdpSession): number {
  out.reset(src);
  if (end > src.length) end = src.length;
  out.bodyStart = start;
  out.bodyEnd = end;
  return scanSdp(src, start, end, out, -1);
}

/**
 * The parser. want < 0: the whole body (each media description passes through out.slot, which keeps the
 * last); else only media description want of a body parsed before, into out.slot (its other lines skipped).
 */
function scanSdp(src: string, start: number, end: number, out: SdpSession, want: number): number {
  let p = start;
  let first = want < 0;
  let m: SdpMedia | null = null;
  /** m= lines seen. */
  let k = 0;
  for (let lines = 0; p < end; lines++) {
    if (lines >= SDP_MAX_LINES) { out.errorOffset = p; return SDP_ERR_LIMIT; }
    let nl = src.indexOf("\n", p);
    if (nl < 0 || nl > end) nl = end;
    let le = nl;
    if (le > p && src.charCodeAt(le - 1) === 13) le--;
    const ls = p;
    p = nl + 1;
    if (le === ls) continue; // an empty line (a trailing CRLF)
    const type = src.charCodeAt(ls);
    if (le - ls < 2 || src.charCodeAt(ls + 1) !== 61 || type < 97 || type > 122) { out.errorOffset = ls; return SDP_ERR_SYNTAX; }
    const v = ls + 2;
    let r = 0;
    if (want >= 0) {
      // Only media description want: its m= line, then its a= and c= lines up to the next m= line.
      if (type === 109) {
        if (k > want) break;
        if (k++ === want) {
          m = out.slot;
          out.slotIndex = want;
          parseMediaLine(src, v, le, m);
        }
      } else if (m !== null) {
        if (type === 97) parseAttribute(src, v, le, out, m);
        else if (type === 99) parseConnection(src, v, le, m);
      }
      continue;
    }
    if (first) {
      // v=0 must come first (RFC 4566 §5.1)
      if (type !== 118 || le !== v + 1 || src.charCodeAt(v) !== 48) r = SDP_ERR_SYNTAX;
      first = false;
    } else if (type === 109) { // m=
      if (out.mediaCount >= SDP_MAX_MEDIA) r = SDP_ERR_LIMIT;
      else {
        m = out.slot;
        out.slotIndex = out.mediaCount++;
        r = parseMediaLine(src, v, le, m);
      }
    } else if (type === 97) { // a=
      r = parseAttribute(src, v, le, out, m);
    } else if (type === 99) { // c=
      if (!parseConnection(src, v, le, m !== null ? m : out)) r = SDP_ERR_SYNTAX;
    } else if (type === 111 && m === null) { // o=
      r = parseOrigin(src, v, le, out);
    }
    if (r < 0) { out.errorOffset = ls; return r; }
  }
  if (first) { out.errorOffset = start; return SDP_ERR_SYNTAX; } // empty body
  return 0;
}

/** Outcome of negotiateAudio: the stream to answer and how. Allocated once, reused. */
export class AudioAnswer {
  /** Index of the accepted m= line in the offer, -1 when none. */
  mediaIndex = -1;
  /** Payload type number chosen (the offer's number, RFC 3264 §6.1). */
  payload = -1;
  /** The offer's telephone-event/8000 payload type, -1 when not offered. */
  telephoneEvent = -1;
  /** Its fmtp events span in the offer ("0-15"), -1 when absent. */
  eventsStart = -1;
  eventsEnd = -1;
  /** Remote RTP address span in the offer (media c= else session c=), its IP version, and port. */
  addrStart = -1;
  addrEnd = -1;
  addrIp = 0;
  port = 0;
  /** Direction for the answer: the offer's, mirrored (RFC 3264 §6.1). */
  direction = SDP_SENDRECV;
  /** The offer's ptime for this stream, -1 when absent. */
  ptime = -1;

}

/** Clears an answer for negotiateAudio (a function: a class with no method is a plain object on the device). */
function resetAnswer(a: AudioAnswer): void {
  a.mediaIndex = a.payload = a.telephoneEvent = a.eventsStart = a.eventsEnd = -1;
  a.addrStart = a.addrEnd = -1;
  a.addrIp = 0;
  a.port = 0;
  a.direction = SDP_SENDRECV;
  a.ptime = -1;
}

/** The answer's direction for an offered one (RFC 3264 §6.1). */
export function mirrorDirection(d: number): number {
  if (d === SDP_SENDONLY) return SDP_RECVONLY;
  if (d === SDP_RECVONLY) return SDP_SENDONLY;
  if (d === SDP_INACTIVE) return SDP_INACTIVE;
  return SDP_SENDRECV;
}

/**
 * Picks the stream to answer: the first audio m= line with a non-zero port, RTP/AVP and a
 * payload type in prefs (static numbers such as PCMU and PCMA), choosing the first such payload
 * in the OFFER's order. Fills out and returns true; false when nothing is acceptable (answer 488).
 */
export function negotiateAudio(offer: SdpSession, prefs: number[], out: AudioAnswer): boolean {
  resetAnswer(out);
  const src = offer.src;
  for (let i = 0; i < offer.mediaCount; i++) {
    const m = offer.media(i);
    if (m.port === 0 || !tokenIs(src, m.typeStart, m.typeEnd, "audio") || !spanEqualsIgnoreCase(src, m.protoStart, m.protoEnd, "rtp/avp")) continue;
    let chosen = -1;
    for (let k = 0; k < m.ptCount && chosen < 0; k++) {
      for (let j = 0; j < prefs.length; j++) if (prefs[j] === m.pt[k]) { chosen = m.pt[k]; break; }
    }
    if (chosen < 0) continue;
    if (m.connStart >= 0) {
      out.addrStart = m.connStart; out.addrEnd = m.connEnd; out.addrIp = m.connIp;
    } else if (offer.connStart >= 0) {
      out.addrStart = offer.connStart; out.addrEnd = offer.connEnd; out.addrIp = offer.connIp;
    } else continue; // no address to send to: not a usable stream
    out.mediaIndex = i;
    out.payload = chosen;
    out.port = m.port;
    const te = offer.telephoneEventIndex(i);
    if (te >= 0) {
      out.telephoneEvent = m.pt[te];
      out.eventsStart = m.fmt[te * F_STRIDE + F_FMTP_START];
      out.eventsEnd = m.fmt[te * F_STRIDE + F_FMTP_END];
    }
    out.direction = mirrorDirection(offer.mediaDirection(i));
    out.ptime = m.ptime >= 0 ? m.ptime : offer.ptime;
    return true;
  }
  return false;
}

/** What writeSdp describes: our session and one audio stream. */
export interface SdpAudioParams {
  username: string;
  sessionId: string;
  version: number;
  /** Our RTP address (IP6 when it contains ':'). */
  address: string;
  port: number;
  /** Payload types in preference order (PCMU and PCMA get an rtpmap). */
  payloads: number[];
  /** telephone-event payload type, -1 for none. */
  telephoneEvent: number;
  direction: number;
  /** Milliseconds; 0 or less writes no a=ptime. */
  ptime: number;
  /** The longest packet time we take, ms (RFC 4566 §6 a=maxptime); 0 or less writes none. */
  maxptime: number;
}

function addrType(a: string): string {
  return a.indexOf(":") >= 0 ? " IP6 " : " IP4 ";
}

/** v=, o=, s=, c= and t= lines. */
function writeSessionPart(w: SipWriter, o: SdpAudioParams): void {
  const at = addrType(o.address);
  w.str("v=0\r\no=").str(o.username).byte(32).str(o.sessionId).byte(32).num(o.version).str(" IN").str(at).str(o.address).crlf();
  w.str("s=-\r\nc=IN").str(at).str(o.address).str("\r\nt=0 0\r\n");
}

/** The m=audio section of our answer or offer. */
function writeAudioPart(w: SipWriter, o: SdpAudioParams): void {
  const te = o.telephoneEvent;
  w.str("m=audio ").num(o.port).str(" RTP/AVP");
  for (let i = 0; i < o.payloads.length; i++) w.byte(32).num(o.payloads[i]);
  if (te >= 0) w.byte(32).num(te);
  w.crlf();
  for (let i = 0; i < o.payloads.length; i++) {
    const pt = o.payloads[i];
    if (pt === PCMU) w.str("a=rtpmap:0 PCMU/8000\r\n");
    else if (pt === PCMA) w.str("a=rtpmap:8 PCMA/8000\r\n");
  }
  if (te >= 0) {
    w.str("a=rtpmap:").num(te).str(" telephone-event/8000\r\n");
    w.str("a=fmtp:").num(te).str(" 0-15\r\n");
  }
  if (o.ptime > 0) w.str("a=ptime:").num(o.ptime).crlf();
  if (o.maxptime > 0) w.str("a=maxptime:").num(o.maxptime).crlf();
  const d = o.direction >= 0 && o.direction < 4 ? o.direction : SDP_SENDRECV;
  w.str("a=").span(DIR_NAMES, d * 8, d * 8 + 8).crlf();
}

/**
 * Writes an SDP body with one audio stream (v=, o=, s=-, c=, t=0 0, m=audio, rtpmap for PCMU,
 * PCMA and telephone-event, fmtp 0-15, ptime, direction). Returns the bytes written, or
 * -ERR_BUFFER_FULL.
 */
export function writeSdp(w: SipWriter, o: SdpAudioParams): number {
  const at = w.pos;
  writeSessionPart(w, o);
  writeAudioPart(w, o);
  return w.overflow ? -ERR_BUFFER_FULL : w.pos - at;
}

/**
 * The offer's m= lines other than the one negotiateAudio accepted, as the answer repeats them rejected
 * (RFC 3264 §6: port 0, the media type, proto and fmt list kept), in order; "" when the offer has one
 * stream. Made when the offer arrives, so the answer can be written later without the offer's text.
 */
export function rejectedMedia(offer: SdpSession, answer: AudioAnswer): string {
  let out = "";
  const src = offer.src;
  for (let i = 0; i < offer.mediaCount; i++) {
    if (i === answer.mediaIndex) continue;
    const m = offer.media(i);
    out += "m=" + src.substring(m.typeStart, m.typeEnd) + " 0 " + src.substring(m.protoStart, m.protoEnd) + " " + src.substring(m.fmtStart, m.fmtEnd) + "\r\n";
  }
  return out;
}

/**
 * Writes the answer to an offer (RFC 3264 §6): one m= line per offered one, in order: `rejected`
 * (rejectedMedia) with ours, described by o, after its first `audioAt` lines (answer.mediaIndex).
 * Returns the bytes written, or -ERR_BUFFER_FULL.
 */
export function writeSdpAnswer(w: SipWriter, o: SdpAudioParams, rejected: string, audioAt: number): number {
  const at = w.pos;
  writeSessionPart(w, o);
  let p = 0;
  for (let i = 0; i < audioAt && p < rejected.length; i++) {
    const e = rejected.indexOf("\n", p) + 1;
    w.span(rejected, p, e > 0 ? e : rejected.length);
    p = e > 0 ? e : rejected.length;
  }
  writeAudioPart(w, o);
  w.span(rejected, p, rejected.length);
  return w.overflow ? -ERR_BUFFER_FULL : w.pos - at;
}
