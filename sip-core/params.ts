// Header parameters (RFC 3261 §25.1 generic-param: token [ EQUAL gen-value ]) walked as spans.
import { CHAR_CLASS, C_TOKEN, CH_COLON, CH_DQUOTE, CH_EQ, CH_LBRACKET, CH_RBRACKET } from "./constants.ts";
import { quotedStringEnd, skipLws, skipToken } from "./scan.ts";

/**
 * One scanned parameter: name span and value span (valueStart = -1 when the parameter has no
 * value; a quoted value keeps its quotes). Reused for every parameter: no allocation.
 */
export class ParamSpan {
  nameStart = 0;
  nameEnd = 0;
  valueStart = -1;
  valueEnd = -1;
}

/**
 * Scans one generic-param starting at p (just after its ';'), allowing LWS around the name,
 * the '=' and the value. gen-value = token / host / quoted-string; host adds ':' '[' ']' so
 * IPv6 references (and RFC 5118's unbracketed received=) fit. Returns the position after the
 * parameter, or -1 when the name or value is missing or malformed.
 */
export function scanParam(src: string, p: number, end: number, out: ParamSpan): number {
  p = skipLws(src, p, end);
  const nameStart = p;
  p = skipToken(src, p, end);
  if (p === nameStart) return -1;
  out.nameStart = nameStart;
  out.nameEnd = p;
  out.valueStart = -1;
  out.valueEnd = -1;
  const afterName = p;
  p = skipLws(src, p, end);
  if (p >= end || src.charCodeAt(p) !== CH_EQ) return afterName;
  p = skipLws(src, p + 1, end);
  if (p >= end) return -1;
  const vs = p;
  if (src.charCodeAt(p) === CH_DQUOTE) {
    p = quotedStringEnd(src, p, end);
    if (p < 0) return -1;
  } else {
    while (p < end) {
      const c = src.charCodeAt(p);
      if (c < 256 && (CHAR_CLASS[c] & C_TOKEN) !== 0) p++;
      else if (c === CH_COLON || c === CH_LBRACKET || c === CH_RBRACKET) p++;
      else break;
    }
    if (p === vs) return -1;
  }
  out.valueStart = vs;
  out.valueEnd = p;
  return p;
}
