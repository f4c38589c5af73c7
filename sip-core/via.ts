// RFC 3261 §20.42 Via (with RFC 3581 rport and RFC 5118 received forms): one via-parm decoded into spans.
import { CH_COLON, CH_COMMA, CH_CR, CH_SEMI, CH_SLASH, CH_SP, CH_TAB } from "./constants.ts";
import { paramSpan, scanParam } from "./params.ts";
import { parseDecimal, skipLws, skipToken, tokenIs } from "./scan.ts";
import { HOST_NONE, parseHost } from "./uri.ts";

/** One Via value as spans; -1 starts mean absent. The sent-protocol's name and version are checked, not kept. */
export class ViaValue {
  src = "";
  start = 0;
  end = 0;
  transportStart = 0;
  transportEnd = 0;
  hostStart = -1;
  hostEnd = -1;
  hostKind = HOST_NONE;
  /** sent-by port, -1 when absent. */
  port = -1;
  branchStart = -1;
  branchEnd = -1;
  receivedStart = -1;
  receivedEnd = -1;
  /** -1 absent, 0 present without a value (a request for RFC 3581), else the port. */
  rport = -1;
  /** Where the "rport" parameter name ends (a server fills in "=port" there). */
  rportNameEnd = -1;
  maddrStart = -1;
  maddrEnd = -1;
  ttl = -1;
  /** The parameter list, from the first ';' to the end of the value. */
  paramsStart = -1;
  paramsEnd = -1;

  /** The sent-by host as text (allocates). */
  hostText(): string { return this.src.substring(this.hostStart, this.hostEnd); }
  /** The branch as text, "" when absent (allocates). */
  branchText(): string { return this.branchStart < 0 ? "" : this.src.substring(this.branchStart, this.branchEnd); }
  /** The transport token as text, upper case as sent (allocates). */
  transportText(): string { return this.src.substring(this.transportStart, this.transportEnd); }
  /** True when the branch carries the RFC 3261 magic cookie "z9hG4bK". */
  hasMagicCookie(): boolean {
    const s = this.branchStart;
    return s >= 0 && this.branchEnd - s >= 7 && this.src.startsWith("z9hG4bK", s);
  }
}

/**
 * Parses one via-parm at src[p, end):
 *   sent-protocol LWS sent-by *( SEMI via-params ), sent-protocol = name SLASH version SLASH transport
 * with LWS allowed around each '/', ':' and ';'. Returns the position of the ',' that ends the
 * value (or end), or -1 when the value is malformed.
 */
export function parseViaValue(src: string, p: number, end: number, out: ViaValue): number {
  out.src = src;
  out.port = -1;
  out.branchStart = out.branchEnd = out.receivedStart = out.receivedEnd = -1;
  out.rport = -1;
  out.rportNameEnd = -1;
  out.maddrStart = out.maddrEnd = -1;
  out.ttl = -1;
  out.paramsStart = out.paramsEnd = -1;
  let c = src.charCodeAt(p);
  if (c === CH_SP || c === CH_TAB || c === CH_CR) p = skipLws(src, p, end);
  out.start = p;
  if (src.startsWith("SIP/2.0/", p)) {
    // The form every sender uses: one native comparison instead of three tokens and two slashes.
    p += 8;
  } else {
    p = skipToken(src, p, end);
    if (p === out.start) return -1;
    p = skipLws(src, p, end);
    if (p >= end || src.charCodeAt(p) !== CH_SLASH) return -1;
    p = skipLws(src, p + 1, end);
    const versionStart = p;
    p = skipToken(src, p, end);
    if (p === versionStart) return -1;
    p = skipLws(src, p, end);
    if (p >= end || src.charCodeAt(p) !== CH_SLASH) return -1;
    p = skipLws(src, p + 1, end);
  }
  out.transportStart = p;
  p = skipToken(src, p, end);
  if (p === out.transportStart) return -1;
  out.transportEnd = p;
  const afterTransport = p;
  p = skipLws(src, p, end);
  if (p === afterTransport) return -1; // LWS is required before sent-by
  p = parseHost(src, p, end, out);
  if (p < 0) return -1;
  let valueEnd = p;
  let q = p;
  c = src.charCodeAt(q);
  if (c === CH_SP || c === CH_TAB || c === CH_CR) { q = skipLws(src, q, end); c = src.charCodeAt(q); }
  if (q < end && c === CH_COLON) {
    q++;
    c = src.charCodeAt(q);
    if (c === CH_SP || c === CH_TAB || c === CH_CR) { q = skipLws(src, q, end); c = src.charCodeAt(q); }
    const ps = q;
    let port = 0;
    while (q < end && c >= 48 && c <= 57) {
      port = port * 10 + c - 48;
      if (port > 65535) return -1;
      c = src.charCodeAt(++q);
    }
    if (q === ps) return -1;
    out.port = port;
    p = valueEnd = q;
  }
  c = src.charCodeAt(p);
  if (c === CH_SP || c === CH_TAB || c === CH_CR) p = skipLws(src, p, end);
  if (p < end && src.charCodeAt(p) === CH_SEMI) out.paramsStart = p;
  while (p < end) {
    c = src.charCodeAt(p);
    if (c === CH_COMMA) break;
    if (c !== CH_SEMI) return -1;
    p = scanParam(src, p + 1, end, paramSpan);
    if (p < 0) return -1;
    const ns = paramSpan.nameStart;
    const len = paramSpan.nameEnd - ns;
    const vs = paramSpan.valueStart;
    const ve = paramSpan.valueEnd;
    if (len === 6 && tokenIs(src, ns, paramSpan.nameEnd, "branch")) {
      if (vs < 0) return -1;
      out.branchStart = vs;
      out.branchEnd = ve;
    } else if (len === 8 && tokenIs(src, ns, paramSpan.nameEnd, "received")) {
      if (vs < 0) return -1;
      out.receivedStart = vs;
      out.receivedEnd = ve;
    } else if (len === 5 && tokenIs(src, ns, paramSpan.nameEnd, "rport")) {
      out.rportNameEnd = paramSpan.nameEnd;
      if (vs < 0) out.rport = 0;
      else {
        out.rport = parseDecimal(src, vs, ve, 65535);
        if (out.rport < 0) return -1;
      }
    } else if (len === 5 && tokenIs(src, ns, paramSpan.nameEnd, "maddr")) {
      if (vs < 0) return -1;
      out.maddrStart = vs;
      out.maddrEnd = ve;
    } else if (len === 3 && tokenIs(src, ns, paramSpan.nameEnd, "ttl")) {
      out.ttl = vs < 0 ? -1 : parseDecimal(src, vs, ve, 255);
      if (out.ttl < 0) return -1;
    }
    out.paramsEnd = valueEnd = p;
    c = src.charCodeAt(p);
    if (c === CH_SP || c === CH_TAB || c === CH_CR) p = skipLws(src, p, end);
  }
  out.end = valueEnd;
  return p;
}
