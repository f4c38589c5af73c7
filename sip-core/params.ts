// Header parameters (RFC 3261 §25.1 generic-param: token [ EQUAL gen-value ]) walked as spans.
import { CHAR_CLASS, C_GENVALUE, C_TOKEN, CH_CR, CH_DQUOTE, CH_EQ, CH_SP, CH_TAB } from "./constants.ts";
import { quotedStringEnd, skipLws } from "./scan.ts";

/**
 * One scanned parameter: name span and value span (valueStart = -1 when the parameter has no
 * value; a quoted value keeps its quotes).
 */
export interface ParamSpan {
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * The one ParamSpan the header parsers (Via, name-addr, media type, Event) scan into: each reads a
 * parameter before it scans the next, and none runs inside another. No allocation, no object each.
 */
export const paramSpan: ParamSpan = { nameStart: 0, nameEnd: 0, valueStart: -1, valueEnd: -1 };

/**
 * Scans one generic-param starting at p (just after its ';'), allowing LWS around the name,
 * the '=' and the value. gen-value = token / host / quoted-string; host adds ':' '[' ']' so
 * IPv6 references (and RFC 5118's unbracketed received=) fit. Returns the position after the
 * parameter, or -1 when the name or value is missing or malformed.
 */
export function scanParam(src: string, p: number, end: number, out: ParamSpan): number {
  let c = src.charCodeAt(p);
  if (c === CH_SP || c === CH_TAB || c === CH_CR) { p = skipLws(src, p, end); c = src.charCodeAt(p); }
  const nameStart = p;
  while (p < end && (CHAR_CLASS[src.charCodeAt(p)] & C_TOKEN) !== 0) p++;
  c = src.charCodeAt(p);
  if (p === nameStart) return -1;
  out.nameStart = nameStart;
  out.nameEnd = p;
  out.valueStart = -1;
  out.valueEnd = -1;
  if (p >= end) return p;
  if (c !== CH_EQ) {
    if (c !== CH_SP && c !== CH_TAB && c !== CH_CR) return p;
    const q = skipLws(src, p, end);
    if (q >= end || src.charCodeAt(q) !== CH_EQ) return p;
    p = q;
  }
  p++;
  c = src.charCodeAt(p);
  if (c === CH_SP || c === CH_TAB || c === CH_CR) { p = skipLws(src, p, end); c = src.charCodeAt(p); }
  if (p >= end) return -1;
  const vs = p;
  if (c === CH_DQUOTE) {
    p = quotedStringEnd(src, p, end);
    if (p < 0) return -1;
  } else {
    // gen-value = token / host: one table test per character.
    while (p < end && (CHAR_CLASS[src.charCodeAt(p)] & C_GENVALUE) !== 0) p++;
    if (p === vs) return -1;
  }
  out.valueStart = vs;
  out.valueEnd = p;
  return p;
}
