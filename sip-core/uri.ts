// RFC 3261 §19.1 SIP/SIPS URIs (with RFC 5118 IPv6 references), RFC 3966 tel URIs, other absolute URIs; §19.1.4 equality.
import {
  CHAR_CLASS, C_ALPHA, C_DIGIT, C_HEX, C_HNV, C_HOST, C_PARAM, C_USER, CH_COLON, CH_DOT, CH_EQ,
  CH_LBRACKET, CH_PERCENT, CH_QUESTION, CH_RBRACKET, CH_SEMI,
} from "./constants.ts";
import {
  NEXT_AT, NEXT_DASH, NEXT_DOTDOT, NEXT_PERCENT, hexValue, nextIndex, parseDecimal, spanEqualsIgnoreCase,
} from "./scan.ts";

export const SCHEME_OTHER = 0;
export const SCHEME_SIP = 1;
export const SCHEME_SIPS = 2;
export const SCHEME_TEL = 3;

export const HOST_NONE = 0;
export const HOST_DOMAIN = 1;
export const HOST_IPV4 = 2;
export const HOST_IPV6 = 3;

/**
 * A parsed URI as spans into src. Every span is [start, end); -1 start means absent. The
 * user and password spans are still %-escaped; use the helpers to compare or decode them.
 * Derived, not stored (a field per instance costs on Espruino): a SIP or SIPS URI's password runs
 * from after the ':' that ends the user span (when that is a ':') to the '@' before the host; the parameters
 * end at the headers' '?' or at end, the headers at end; parameters are looked up with
 * findUriParam.
 */
export class SipUri {
  src = "";
  start = 0;
  end = 0;
  scheme = SCHEME_OTHER;
  userStart = -1;
  userEnd = -1;
  hostStart = -1;
  hostEnd = -1;
  hostKind = HOST_NONE;
  /** Port number, -1 when absent. */
  port = -1;
  /** Parameters including each leading ';', up to the '?' of the headers or end. */
  paramsStart = -1;
  /** Headers after the '?', without it, up to end. */
  headersStart = -1;


  /** The host as text (IPv6 keeps its brackets). Allocates. */
  hostText(): string { return this.hostStart < 0 ? "" : this.src.substring(this.hostStart, this.hostEnd); }
  /** The user part, %-escapes decoded. Allocates. */
  userText(): string { return this.userStart < 0 ? "" : unescapeSpan(this.src, this.userStart, this.userEnd); }
  /** The whole URI as text. Allocates. */
  uriText(): string { return this.src.substring(this.start, this.end); }
}

/**
 * Clears u's spans for a new parse of src. A function, not a method: a class with no method is a plain object
 * on the device (the build flattens it), a SipUri in the message view costs no prototype link.
 */
export function resetUri(u: SipUri, src: string): void {
  u.src = src;
  u.scheme = SCHEME_OTHER;
  u.userStart = u.userEnd = u.hostStart = u.hostEnd = -1;
  u.hostKind = HOST_NONE;
  u.port = u.paramsStart = u.headersStart = -1;
}

/** True when every '%' in src[s, e) starts a valid escape (two hex digits) and every char is in mask. */
function checkEscapedClass(src: string, s: number, e: number, mask: number): boolean {
  for (let p = s; p < e; p++) {
    const c = src.charCodeAt(p);
    if (c > 255 || (CHAR_CLASS[c] & mask) === 0) return false;
    if (c === CH_PERCENT) {
      if (p + 2 >= e) return false;
      if (hexValue(src.charCodeAt(p + 1)) < 0 || hexValue(src.charCodeAt(p + 2)) < 0) return false;
      p += 2;
    }
  }
  return true;
}

/** Where parseHost writes: a URI, a Via sent-by. */
export interface HostSpan { hostStart: number; hostEnd: number; hostKind: number }

/**
 * Parses a host (IPv6 reference, IPv4 address or domain name) at src[p, end). Writes the host
 * span and kind into out and returns the position after the host, or -1.
 */
export function parseHost(src: string, p: number, end: number, out: HostSpan): number {
  const hs = p;
  if (p < end && src.charCodeAt(p) === CH_LBRACKET) {
    // IPv6reference: hex digits, ':' and '.' (an embedded IPv4). RFC 5118 §4.9 asks us to
    // tolerate the three-colon form, so colons are not counted.
    p++;
    let colons = 0;
    while (p < end) {
      const c = src.charCodeAt(p);
      if (c === CH_COLON) colons++;
      else if (c !== CH_DOT && (c > 255 || (CHAR_CLASS[c] & C_HEX) === 0)) break;
      p++;
    }
    if (p >= end || src.charCodeAt(p) !== CH_RBRACKET || colons < 2) return -1;
    p++;
    out.hostKind = HOST_IPV6;
  } else {
    // hostname = *( domainlabel "." ) toplabel [ "." ] / IPv4address: one class test per
    // character; labels are checked in a second walk only when the host has a '-' or "..".
    while (p < end && (CHAR_CLASS[src.charCodeAt(p)] & C_HOST) !== 0) p++;
    if (p === hs) return -1;
    const c0 = src.charCodeAt(hs);
    const cl = src.charCodeAt(p - 1);
    if (c0 === CH_DOT || c0 === 45 || cl === 45) return -1;
    const dash = nextIndex(NEXT_DASH, "-", src, hs);
    if (dash >= 0 && dash < p) {
      // No label starts or ends with '-' (the first and last characters are checked above).
      for (let q = hs + 1; q < p; q++) {
        const c = src.charCodeAt(q);
        const b = src.charCodeAt(q - 1);
        if ((c === 45 && b === CH_DOT) || (c === CH_DOT && b === 45)) return -1;
      }
    }
    const dots = nextIndex(NEXT_DOTDOT, "..", src, hs);
    if (dots >= 0 && dots < p - 1) return -1;
    // A top label never ends in a digit, so a host that does is an IPv4 address.
    out.hostKind = cl >= 48 && cl <= 57 ? HOST_IPV4 : HOST_DOMAIN;
  }
  out.hostStart = hs;
  out.hostEnd = p;
  return p;
}

/**
 * Scans a run of paramchar (or, with hnv, hname/hvalue characters) from p up to a delimiter;
 * escapes are checked where they stand. Returns the end, or -1 on an illegal character. Bit
 * 0x40000000 of the result is set when the run held an escape.
 */
function scanParamChars(src: string, p: number, end: number): number {
  const s = p;
  // ';', '=' and '?' are not paramchar, so the class test stops at every delimiter.
  while (p < end && (CHAR_CLASS[src.charCodeAt(p)] & C_PARAM) !== 0) p++;
  if (p < end) {
    const c = src.charCodeAt(p);
    if (c !== CH_SEMI && c !== CH_EQ && c !== CH_QUESTION) return -1;
  }
  const pct = nextIndex(NEXT_PERCENT, "%", src, s);
  if (pct < 0 || pct >= p) return p;
  return checkEscapedClass(src, s, p, C_PARAM) ? p | 0x40000000 : -1;
}

/**
 * Scans URI parameters from p (at a ';') up to '?' or end, checking each name and value; a ttl
 * must hold a number up to 255. Returns where they end, or -1.
 */
function parseUriParams(src: string, p: number, end: number): number {
  while (p < end && src.charCodeAt(p) === CH_SEMI) {
    const ns = p + 1;
    let r = scanParamChars(src, ns, end);
    if (r < 0) return -1;
    const escaped = (r & 0x40000000) !== 0;
    const ne = r & 0x3fffffff;
    if (ne === ns) return -1;
    let q = ne;
    let vs = -1;
    let ve = -1;
    if (q < end && src.charCodeAt(q) === CH_EQ) {
      vs = q + 1;
      r = scanParamChars(src, vs, end);
      if (r < 0) return -1;
      ve = q = r & 0x3fffffff;
      if (ve === vs || (q < end && src.charCodeAt(q) === CH_EQ)) return -1;
    }
    // An escaped name is decoded while comparing (RFC 4475 esc01 spells "lr" as %6C%72).
    if ((escaped || ne - ns === 3) && escapedEqualsIgnoreCase(src, ns, ne, "ttl") && (vs < 0 || parseDecimal(src, vs, ve, 255) < 0)) return -1;
    p = q;
  }
  return p;
}

/**
 * Parses the URI src[start, end) into out. Returns 0, or -1 when it is not a well-formed URI.
 * SIP and SIPS URIs are parsed fully; tel URIs into number and parameters; other schemes are
 * checked to be an absolute URI of legal characters and kept opaque (RFC 4475 §3.1.1.13).
 */
export function parseUri(src: string, start: number, end: number, out: SipUri): number {
  resetUri(out, src);
  out.start = start;
  out.end = end;
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); "sip:" first, natively.
  let p = start;
  if (src.startsWith("sip:", p)) {
    out.scheme = SCHEME_SIP;
    p += 4;
  } else {
    if (p >= end || (CHAR_CLASS[src.charCodeAt(p)] & C_ALPHA) === 0) return -1;
    p++;
    while (p < end) {
      const c = src.charCodeAt(p);
      if (c === CH_COLON) break;
      if (c > 255 || ((CHAR_CLASS[c] & (C_ALPHA | C_DIGIT)) === 0 && c !== 43 && c !== 45 && c !== 46)) return -1;
      p++;
    }
    if (p >= end) return -1;
    if (spanEqualsIgnoreCase(src, start, p, "sip")) out.scheme = SCHEME_SIP;
    else if (spanEqualsIgnoreCase(src, start, p, "sips")) out.scheme = SCHEME_SIPS;
    else if (spanEqualsIgnoreCase(src, start, p, "tel")) out.scheme = SCHEME_TEL;
    p++; // ':'
  }

  if (out.scheme === SCHEME_OTHER) {
    // absoluteURI: printable characters only, something after the colon.
    if (p >= end) return -1;
    for (let q = p; q < end; q++) {
      const c = src.charCodeAt(q);
      if (c <= 32 || c >= 127 || c === 60 || c === 62 || c === 34) return -1;
    }
    return 0;
  }
  if (out.scheme === SCHEME_TEL) {
    // telephone-subscriber: the number up to the first ';', then parameters.
    let q = p;
    while (q < end && src.charCodeAt(q) !== CH_SEMI) q++;
    if (q === p || !checkEscapedClass(src, p, q, C_PARAM | C_USER)) return -1;
    out.userStart = p;
    out.userEnd = q;
    if (q < end) out.paramsStart = q;
    if (q < end && parseUriParams(src, q, end) !== end) return -1;
    return 0;
  }

  // userinfo: everything before the '@' (user and password never contain an unescaped '@',
  // and neither do parameters or headers, so the first '@' is the delimiter).
  const at = nextIndex(NEXT_AT, "@", src, p);
  if (at >= 0 && at < end) {
    // One pass over userinfo: validate, find the password's ':', check escapes in place.
    let ue = at;
    for (let q = p; q < at; q++) {
      const c = src.charCodeAt(q);
      if (c === CH_COLON && ue === at) { ue = q; continue; }
      if (c > 255 || (CHAR_CLASS[c] & C_USER) === 0) return -1;
      if (c === CH_PERCENT) {
        if (q + 2 >= at || hexValue(src.charCodeAt(q + 1)) < 0 || hexValue(src.charCodeAt(q + 2)) < 0) return -1;
        q += 2;
      }
    }
    if (ue === p) return -1;
    out.userStart = p;
    out.userEnd = ue; // at the password's ':', or at the '@'
    p = at + 1;
  }
  p = parseHost(src, p, end, out);
  if (p < 0) return -1;
  if (p < end && src.charCodeAt(p) === CH_COLON) {
    // port = 1*DIGIT, at most 65535, read in the same pass that finds its end
    const ps = ++p;
    let port = 0;
    let c = src.charCodeAt(p);
    while (p < end && c >= 48 && c <= 57) {
      port = port * 10 + c - 48;
      if (port > 65535) return -1;
      c = src.charCodeAt(++p);
    }
    if (p === ps) return -1;
    out.port = port;
  }
  if (p < end && src.charCodeAt(p) === CH_SEMI) {
    out.paramsStart = p;
    p = parseUriParams(src, p, end);
    if (p < 0) return -1;
  }
  if (p < end && src.charCodeAt(p) === CH_QUESTION) {
    // headers = hname "=" hvalue *( "&" hname "=" hvalue ): each part has a name and an '='.
    out.headersStart = p + 1;
    let partStart = p + 1;
    let eq = -1;
    for (let q = p + 1; q <= end; q++) {
      const c = q < end ? src.charCodeAt(q) : 38;
      if (c === 38) { // '&' or the end closes a part
        if (eq <= partStart) return -1;
        partStart = q + 1;
        eq = -1;
      } else if (c === CH_EQ) {
        if (eq >= 0) return -1;
        eq = q;
      } else if (c > 255 || (CHAR_CLASS[c] & C_HNV) === 0) return -1;
    }
    if (!checkEscapedClass(src, p + 1, end, C_HNV | C_USER)) return -1;
    p = end;
  }
  return p === end ? 0 : -1;
}

/** Decodes the octet at p of an escaped span: returns (value << 8 | width) where width is 1 or 3. */
function escapedAt(src: string, p: number, e: number): number {
  const c = src.charCodeAt(p);
  if (c === CH_PERCENT && p + 2 < e) {
    const h = hexValue(src.charCodeAt(p + 1));
    const l = hexValue(src.charCodeAt(p + 2));
    if (h >= 0 && l >= 0) return (((h << 4) | l) << 8) | 3;
  }
  return (c << 8) | 1;
}

/** Compares an escaped span with a lower-case literal after %-decoding, ignoring ASCII case. */
export function escapedEqualsIgnoreCase(src: string, s: number, e: number, lowerLit: string): boolean {
  let i = 0;
  let p = s;
  while (p < e) {
    if (i >= lowerLit.length) return false;
    const d = escapedAt(src, p, e);
    let c = d >> 8;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerLit.charCodeAt(i)) return false;
    p += d & 0xff;
    i++;
  }
  return i === lowerLit.length;
}

/** Compares two escaped spans after %-decoding; ASCII case folded when ignoreCase. */
export function escapedSpansEqual(a: string, as: number, ae: number, b: string, bs: number, be: number, ignoreCase: boolean): boolean {
  let p = as;
  let q = bs;
  while (p < ae && q < be) {
    const x = escapedAt(a, p, ae);
    const y = escapedAt(b, q, be);
    let cx = x >> 8;
    let cy = y >> 8;
    if (ignoreCase) {
      if (cx >= 65 && cx <= 90) cx += 32;
      if (cy >= 65 && cy <= 90) cy += 32;
    }
    if (cx !== cy) return false;
    p += x & 0xff;
    q += y & 0xff;
  }
  return p >= ae && q >= be;
}

/** %-decodes a span into a string (allocates; for the application, not the hot path). */
export function unescapeSpan(src: string, s: number, e: number): string {
  if (src.indexOf("%", s) < 0 || src.indexOf("%", s) >= e) return src.substring(s, e);
  let out = "";
  for (let p = s; p < e;) {
    const d = escapedAt(src, p, e);
    out += String.fromCharCode(d >> 8);
    p += d & 0xff;
  }
  return out;
}

/** From p, the end of a URI parameter's name (stopAtEq) or of the whole parameter: the next ';' (or '='), or end. */
function paramStop(src: string, p: number, end: number, stopAtEq: boolean): number {
  for (; p < end; p++) {
    const c = src.charCodeAt(p);
    if (c === CH_SEMI || (stopAtEq && c === CH_EQ)) break;
  }
  return p;
}

/** Where u's parameters end: at the '?' of its headers, else at its end (the span is not stored). */
function paramsEnd(u: SipUri): number {
  return u.headersStart >= 0 ? u.headersStart - 1 : u.end;
}

/**
 * Looks up a parameter of u by lower-case name (names compare after %-decoding, ignoring case).
 * Returns where the first one's value starts, -1 when u has none; its value ends at
 * uriParamValueEnd(u, start), so a parameter without a value is an empty span.
 */
export function findUriParam(u: SipUri, lowerName: string): number {
  const src = u.src;
  const end = paramsEnd(u);
  let p = u.paramsStart;
  while (p >= 0 && p < end) {
    const ne = paramStop(src, p + 1, end, true);
    const pe = paramStop(src, ne, end, false);
    if (escapedEqualsIgnoreCase(src, p + 1, ne, lowerName)) return ne < pe ? ne + 1 : ne;
    p = pe;
  }
  return -1;
}

/** Where the value of u's parameter that starts at p (from findUriParam) ends. */
export function uriParamValueEnd(u: SipUri, p: number): number {
  return paramStop(u.src, p, paramsEnd(u), false);
}

/** Parameters that must match when present in either URI (RFC 3261 §19.1.4), each ended by '|'. */
const STRICT_PARAMS = "user|ttl|method|maddr|transport|";

/**
 * True when every parameter of a that b also has has the same value in b, and b has each of a's
 * strict parameters (§19.1.4; other parameters are compared only when both URIs carry them).
 */
function paramsIn(a: SipUri, b: SipUri): boolean {
  const ae = paramsEnd(a);
  const be = paramsEnd(b);
  let p = a.paramsStart;
  while (p >= 0 && p < ae) {
    const ne = paramStop(a.src, p + 1, ae, true);
    const pe = paramStop(a.src, ne, ae, false);
    let found = false;
    let r = b.paramsStart;
    while (r >= 0 && r < be) {
      const bne = paramStop(b.src, r + 1, be, true);
      const bpe = paramStop(b.src, bne, be, false);
      if (escapedSpansEqual(a.src, p + 1, ne, b.src, r + 1, bne, true)) {
        found = true;
        // The values with their '=': a parameter without a value differs from one with.
        if (!escapedSpansEqual(a.src, ne, pe, b.src, bne, bpe, true)) return false;
      }
      r = bpe;
    }
    for (let i = 0; !found && i < STRICT_PARAMS.length;) {
      const j = STRICT_PARAMS.indexOf("|", i);
      if (escapedSpansEqual(a.src, p + 1, ne, STRICT_PARAMS, i, j, true)) return false;
      i = j + 1;
    }
    p = pe;
  }
  return true;
}

/** Counts '&'-separated headers and checks each of a's appears in b and each of b's in a, with the same value. */
function headersMatch(a: SipUri, b: SipUri): boolean {
  if ((a.headersStart < 0) !== (b.headersStart < 0)) return false;
  if (a.headersStart < 0) return true;
  let countA = 0;
  let countB = 0;
  for (let p = a.headersStart; p <= a.end; p++) if (p === a.end || a.src.charCodeAt(p) === 38) countA++;
  for (let p = b.headersStart; p <= b.end; p++) if (p === b.end || b.src.charCodeAt(p) === 38) countB++;
  if (countA !== countB) return false;
  // Both ways: with equal counts, a duplicate in one could otherwise hide a header missing from it.
  return headersIn(a, b) && headersIn(b, a);
}

/** True when every header of a appears in b with the same value. */
function headersIn(a: SipUri, b: SipUri): boolean {
  let p = a.headersStart;
  while (p < a.end) {
    let q = p;
    while (q < a.end && a.src.charCodeAt(q) !== 38) q++;
    let eq = p;
    while (eq < q && a.src.charCodeAt(eq) !== CH_EQ) eq++;
    let found = false;
    let r = b.headersStart;
    while (r < b.end && !found) {
      let t = r;
      while (t < b.end && b.src.charCodeAt(t) !== 38) t++;
      let beq = r;
      while (beq < t && b.src.charCodeAt(beq) !== CH_EQ) beq++;
      if (escapedSpansEqual(a.src, p, eq, b.src, r, beq, true) &&
          escapedSpansEqual(a.src, eq + 1 < q ? eq + 1 : q, q, b.src, beq + 1 < t ? beq + 1 : t, t, false)) found = true;
      r = t + 1;
    }
    if (!found) return false;
    p = q + 1;
  }
  return true;
}

/**
 * URI equality as RFC 3261 §19.1.4 defines it: same scheme; user and password equal
 * case-sensitively after decoding; host equal ignoring case; ports equal (an absent port does
 * not equal 5060); user/ttl/method/maddr/transport parameters equal when either has them; other
 * parameters equal when both have them; the same set of headers. Non-SIP URIs compare as text.
 */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === SCHEME_OTHER || a.scheme === SCHEME_TEL) {
    return escapedSpansEqual(a.src, a.start, a.end, b.src, b.start, b.end, a.scheme === SCHEME_TEL);
  }
  if ((a.userStart < 0) !== (b.userStart < 0)) return false;
  if (a.userStart >= 0 && !escapedSpansEqual(a.src, a.userStart, a.userEnd, b.src, b.userStart, b.userEnd, false)) return false;
  // The password: after a ':' that ends the user span, up to the '@' before the host.
  const ap = a.userStart >= 0 && a.src.charCodeAt(a.userEnd) === CH_COLON ? a.userEnd + 1 : -1;
  const bp = b.userStart >= 0 && b.src.charCodeAt(b.userEnd) === CH_COLON ? b.userEnd + 1 : -1;
  if ((ap < 0) !== (bp < 0)) return false;
  if (ap >= 0 && !escapedSpansEqual(a.src, ap, a.hostStart - 1, b.src, bp, b.hostStart - 1, false)) return false;
  if (!escapedSpansEqual(a.src, a.hostStart, a.hostEnd, b.src, b.hostStart, b.hostEnd, true)) return false;
  if (a.port !== b.port) return false;
  return paramsIn(a, b) && paramsIn(b, a) && headersMatch(a, b);
}

/**
 * A URI for code that parses one, reads it and is done with it before anything else could parse into
 * it (resolving a call's target, a dialog's next hop): one preallocated view instead of one per user.
 * It is also where nameAddrWalker's values parse their URIs: not for use while a walk's value is read.
 */
export const scratchUri = new SipUri();
