// RFC 3261 §20.10/§20.20/§20.39 name-addr / addr-spec values (From, To, Contact, Route, Record-Route) as spans.
import { CHAR_CLASS, C_TOKEN, CH_COLON, CH_COMMA, CH_DQUOTE, CH_LT, CH_SEMI, CH_STAR } from "./constants.ts";
import { paramSpan, scanParam } from "./params.ts";
import { NEXT_GT, UINT32_MAX, nextIndex, parseDecimal, quotedStringEnd, skipLws, tokenIs, trimLwsEnd, unquote } from "./scan.ts";
import { SipUri, parseUri, resetUri } from "./uri.ts";

/** The value may be one of a comma-separated list (Contact, Route, Record-Route). */
export const NA_LIST = 1;
/** The value may be "*" (Contact in REGISTER, §10.2.2). */
export const NA_STAR = 2;
/** Find the URI's span but parse it on first use (decodeUri): From and To at parse time. */
export const NA_LAZY_URI = 4;

/** One name-addr or addr-spec with its header parameters, as spans; -1 starts mean absent. */
export class NameAddr {
  src = "";
  start = 0;
  end = 0;
  /** The value was "*". */
  star = false;
  /** Display name span; a quoted one keeps its quotes. */
  displayStart = -1;
  displayEnd = -1;
  /** The URI was inside '<' '>'. */
  bracketed = false;
  /** The URI; its span is always set, its fields once decodeUri() has run. */
  readonly uri: SipUri;
  /** The URI's decoding: -1 not yet, 0 malformed, 1 good (one number: two booleans cost four variables). */
  uriState = -1;
  tagStart = -1;
  tagEnd = -1;
  /** expires parameter (Contact), -1 when absent. */
  expires = -1;
  qStart = -1;
  qEnd = -1;
  /** Header parameters from the first ';' after the URI. */
  paramsStart = -1;
  paramsEnd = -1;

  /** uri: a view to parse the URI into (a shared one, see nameAddrWalker), else one of its own. */
  constructor(uri?: SipUri) { this.uri = uri || new SipUri(); }

  /** Marks the value absent (start -1) and clears every span. */
  clear(): void {
    this.start = this.end = -1;
    this.star = this.bracketed = false;
    this.displayStart = this.displayEnd = this.tagStart = this.tagEnd = -1;
    this.expires = -1;
    this.qStart = this.qEnd = this.paramsStart = this.paramsEnd = -1;
    resetUri(this.uri, this.src);
    this.uri.start = this.uri.end = -1;
    this.uriState = -1;
  }

  /**
   * Parses the URI on first use; false when it is malformed (including URI headers outside
   * angle brackets, §20.10). Cheap to call again.
   */
  decodeUri(): boolean {
    if (this.uriState < 0) {
      const u = this.uri;
      this.uriState = u.start >= 0 && parseUri(this.src, u.start, u.end, u) === 0 && (this.bracketed || u.headersStart < 0) ? 1 : 0;
    }
    return this.uriState === 1;
  }

  /** The display name, unquoted and unescaped, "" when absent (allocates). */
  displayNameText(): string {
    if (this.displayStart < 0) return "";
    return unquote(this.src, this.displayStart, this.displayEnd);
  }
  /** The tag, "" when absent (allocates). */
  tagText(): string { return this.tagStart < 0 ? "" : this.src.substring(this.tagStart, this.tagEnd); }
}

/**
 * Parses one ( name-addr / addr-spec ) *( SEMI param ) at src[p, end). flags: NA_LIST lets a
 * ',' end the value; NA_STAR allows "*". Returns the position of the terminating ',' (or end),
 * or -1 when malformed: an unclosed quote, an unquoted display name with separators, spaces
 * inside the angle brackets, an addr-spec holding URI headers (§20.10), an empty parameter.
 */
export function parseNameAddr(src: string, p: number, end: number, out: NameAddr, flags: number): number {
  out.src = src;
  out.star = false;
  out.displayStart = out.displayEnd = -1;
  out.bracketed = false;
  out.tagStart = out.tagEnd = -1;
  out.expires = -1;
  out.qStart = out.qEnd = -1;
  out.paramsStart = out.paramsEnd = -1;
  p = skipLws(src, p, end);
  out.start = p;
  if (p >= end) return -1;
  let c = src.charCodeAt(p);
  if (c === CH_STAR && (flags & NA_STAR) !== 0) {
    out.star = true;
    resetUri(out.uri, src);
    out.end = p + 1;
    p = skipLws(src, p + 1, end);
    return p === end ? p : -1;
  }
  let uriStart = -1;
  let uriEnd = -1;
  let valueEnd = -1;
  if (c === CH_DQUOTE) {
    const qe = quotedStringEnd(src, p, end);
    if (qe < 0) return -1;
    out.displayStart = p;
    out.displayEnd = qe;
    p = skipLws(src, qe, end);
    if (p >= end || src.charCodeAt(p) !== CH_LT) return -1;
  } else if (c !== CH_LT) {
    // Either *(token LWS) before '<', or an addr-spec whose scheme is the first token.
    const ds = p;
    let words = 0;
    let lastWordEnd = p;
    for (;;) {
      const ws = p;
      while (p < end && (c = src.charCodeAt(p)) < 256 && (CHAR_CLASS[c] & C_TOKEN) !== 0) p++;
      if (p > ws) { words++; lastWordEnd = p; }
      if (p >= end) return -1;
      c = src.charCodeAt(p);
      if (c === CH_COLON && words === 1 && p === lastWordEnd && ws === ds) {
        // addr-spec: the URI runs to the first ';' (header parameters), ',' (next value) or LWS.
        uriStart = ds;
        while (p < end) {
          c = src.charCodeAt(p);
          if (c === CH_SEMI || c === 32 || c === 9 || c === 13) break;
          if (c === CH_COMMA && (flags & NA_LIST) !== 0) break;
          p++;
        }
        uriEnd = p;
        break;
      }
      if (c === CH_LT) {
        if (words === 0) return -1;
        out.displayStart = ds;
        out.displayEnd = lastWordEnd;
        break;
      }
      const before = p;
      p = skipLws(src, p, end);
      if (p === before) return -1; // a separator that is not LWS, '<' or the scheme's ':'
    }
  }
  if (uriStart < 0) {
    // p is at '<'
    const gt = nextIndex(NEXT_GT, ">", src, p + 1);
    if (gt < 0 || gt >= end) return -1;
    out.bracketed = true;
    uriStart = p + 1;
    uriEnd = gt;
    p = gt + 1;
  }
  const u = out.uri;
  resetUri(u, src);
  u.start = uriStart;
  u.end = uriEnd;
  out.uriState = -1;
  if ((flags & NA_LAZY_URI) === 0 && !out.decodeUri()) return -1;
  valueEnd = p;
  p = skipLws(src, p, end);
  if (p < end && src.charCodeAt(p) === CH_SEMI) out.paramsStart = p;
  while (p < end) {
    c = src.charCodeAt(p);
    if (c === CH_COMMA) {
      if ((flags & NA_LIST) === 0) return -1;
      break;
    }
    if (c !== CH_SEMI) return -1;
    p = scanParam(src, p + 1, end, paramSpan);
    if (p < 0) return -1;
    const ns = paramSpan.nameStart;
    const ne = paramSpan.nameEnd;
    const len = ne - ns;
    if (len === 3 && tokenIs(src, ns, ne, "tag")) {
      if (paramSpan.valueStart < 0) return -1;
      out.tagStart = paramSpan.valueStart;
      out.tagEnd = paramSpan.valueEnd;
    } else if (len === 7 && tokenIs(src, ns, ne, "expires")) {
      if (paramSpan.valueStart < 0) return -1;
      out.expires = parseDecimal(src, paramSpan.valueStart, paramSpan.valueEnd, UINT32_MAX);
      if (out.expires < 0) return -1;
    } else if (len === 1 && (src.charCodeAt(ns) | 0x20) === 113) {
      if (paramSpan.valueStart < 0) return -1;
      out.qStart = paramSpan.valueStart;
      out.qEnd = paramSpan.valueEnd;
    }
    out.paramsEnd = valueEnd = p;
    p = skipLws(src, p, end);
  }
  out.end = trimLwsEnd(src, out.start, valueEnd);
  return p;
}

