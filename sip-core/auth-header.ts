// RFC 3261 §20.27/§20.44/§25.1 with RFC 7616: digest challenge and credentials header values decoded into spans.
import { CHAR_CLASS, C_TOKEN, CH_COMMA, CH_DQUOTE, CH_EQ } from "./constants.ts";
import { quotedStringEnd, skipLws, skipToken, spanEqualsIgnoreCase, unquote } from "./scan.ts";

/**
 * The parameters of one challenge (WWW-/Proxy-Authenticate) or credentials value
 * (Authorization, Proxy-Authorization). Value spans exclude the quotes; a quoted value may still
 * hold quoted-pair escapes (see text()). -1 starts mean absent.
 */
export class AuthParams {
  src = "";
  schemeStart = 0;
  schemeEnd = 0;
  /** The scheme is "Digest". */
  digest = false;
  realmStart = -1; realmEnd = -1;
  nonceStart = -1; nonceEnd = -1;
  opaqueStart = -1; opaqueEnd = -1;
  algorithmStart = -1; algorithmEnd = -1;
  qopStart = -1; qopEnd = -1;
  domainStart = -1; domainEnd = -1;
  usernameStart = -1; usernameEnd = -1;
  uriStart = -1; uriEnd = -1;
  responseStart = -1; responseEnd = -1;
  cnonceStart = -1; cnonceEnd = -1;
  ncStart = -1; ncEnd = -1;
  /** stale=true (RFC 2617 §3.2.1): the nonce expired, the credentials were fine. */
  stale = false;
  userhash = false;

  reset(src: string): void {
    this.src = src;
    this.digest = false;
    this.realmStart = this.realmEnd = this.nonceStart = this.nonceEnd = -1;
    this.opaqueStart = this.opaqueEnd = this.algorithmStart = this.algorithmEnd = -1;
    this.qopStart = this.qopEnd = this.domainStart = this.domainEnd = -1;
    this.usernameStart = this.usernameEnd = this.uriStart = this.uriEnd = -1;
    this.responseStart = this.responseEnd = this.cnonceStart = this.cnonceEnd = -1;
    this.ncStart = this.ncEnd = -1;
    this.stale = false;
    this.userhash = false;
  }

  /** A parameter value as text with quoted-pair escapes removed (allocates). */
  text(start: number, end: number): string {
    if (start < 0) return "";
    if (this.src.indexOf("\\", start) < 0 || this.src.indexOf("\\", start) >= end) return this.src.substring(start, end);
    return unquote(this.src, start - 1, end + 1);
  }
}

/**
 * Parses one challenge or credentials value starting at src[p]:
 *   auth-scheme LWS auth-param *( COMMA auth-param ), auth-param = token EQUAL ( token / quoted-string )
 * Stops at the end of the value or where a second challenge begins (a token followed by LWS
 * and a token rather than '='). Returns that position, or -1 when malformed (unbalanced
 * quotes, a parameter without '=', an empty value).
 */
export function parseAuthParams(src: string, p: number, end: number, out: AuthParams): number {
  out.reset(src);
  p = skipLws(src, p, end);
  out.schemeStart = p;
  p = skipToken(src, p, end);
  out.schemeEnd = p;
  if (p === out.schemeStart) return -1;
  out.digest = spanEqualsIgnoreCase(src, out.schemeStart, p, "digest");
  const afterScheme = p;
  p = skipLws(src, p, end);
  if (p >= end) return end; // a scheme without parameters
  if (p === afterScheme) return -1;
  const firstParam = p;
  for (;;) {
    const ns = p;
    p = skipToken(src, p, end);
    const ne = p;
    if (ne === ns) return -1;
    p = skipLws(src, p, end);
    if (p >= end || src.charCodeAt(p) !== CH_EQ) {
      // "…, Digest realm=…": after a comma, a token followed by LWS and a token (or by the end)
      // starts the next challenge at ns. Anything else is a parameter without '='.
      if (ns === firstParam) return -1;
      if (p >= end) return ns;
      return p > ne && (CHAR_CLASS[src.charCodeAt(p)] & C_TOKEN) !== 0 ? ns : -1;
    }
    p = skipLws(src, p + 1, end);
    if (p >= end) return -1;
    let vs: number;
    let ve: number;
    if (src.charCodeAt(p) === CH_DQUOTE) {
      const q = quotedStringEnd(src, p, end);
      if (q < 0) return -1;
      vs = p + 1;
      ve = q - 1;
      p = q;
    } else {
      vs = p;
      p = skipToken(src, p, end);
      ve = p;
      if (ve === vs) return -1;
    }
    storeParam(src, ns, ne, vs, ve, out);
    p = skipLws(src, p, end);
    if (p >= end) return end;
    if (src.charCodeAt(p) !== CH_COMMA) return -1;
    p = skipLws(src, p + 1, end);
    if (p >= end) return -1;
  }
}

function storeParam(src: string, ns: number, ne: number, vs: number, ve: number, out: AuthParams): void {
  switch (ne - ns) {
    case 2:
      if (spanEqualsIgnoreCase(src, ns, ne, "nc")) { out.ncStart = vs; out.ncEnd = ve; }
      break;
    case 3:
      if (spanEqualsIgnoreCase(src, ns, ne, "qop")) { out.qopStart = vs; out.qopEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "uri")) { out.uriStart = vs; out.uriEnd = ve; }
      break;
    case 5:
      if (spanEqualsIgnoreCase(src, ns, ne, "realm")) { out.realmStart = vs; out.realmEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "nonce")) { out.nonceStart = vs; out.nonceEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "stale")) out.stale = spanEqualsIgnoreCase(src, vs, ve, "true");
      break;
    case 6:
      if (spanEqualsIgnoreCase(src, ns, ne, "opaque")) { out.opaqueStart = vs; out.opaqueEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "domain")) { out.domainStart = vs; out.domainEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "cnonce")) { out.cnonceStart = vs; out.cnonceEnd = ve; }
      break;
    case 8:
      if (spanEqualsIgnoreCase(src, ns, ne, "username")) { out.usernameStart = vs; out.usernameEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "response")) { out.responseStart = vs; out.responseEnd = ve; }
      else if (spanEqualsIgnoreCase(src, ns, ne, "userhash")) out.userhash = spanEqualsIgnoreCase(src, vs, ve, "true");
      break;
    case 9:
      if (spanEqualsIgnoreCase(src, ns, ne, "algorithm")) { out.algorithmStart = vs; out.algorithmEnd = ve; }
      break;
  }
}
