// Span scanning primitives shared by every header codec (RFC 3261 §25.1 LWS, quoted-string, token, scalars).
import { CHAR_CLASS, C_TOKEN, CH_BACKSLASH, CH_COMMA, CH_CR, CH_DQUOTE, CH_LF, CH_SP, CH_TAB } from "./constants.ts";

/** Largest value a 32-bit unsigned scalar may take (CSeq, Expires, delta-seconds). */
export const UINT32_MAX = 4294967295;

/**
 * Skips linear white space from p: SP, HTAB and line folds (CRLF followed by SP or HTAB).
 * Returns the first position that is not LWS, at most end.
 */
export function skipLws(src: string, p: number, end: number): number {
  while (p < end) {
    const c = src.charCodeAt(p);
    if (c === CH_SP || c === CH_TAB) p++;
    else if (c === CH_CR && p + 2 < end && src.charCodeAt(p + 1) === CH_LF) {
      const n = src.charCodeAt(p + 2);
      if (n !== CH_SP && n !== CH_TAB) break;
      p += 3;
    } else break;
  }
  return p;
}

/** Moves end back over trailing SP, HTAB, CR and LF (a folded value can end in them). */
export function trimLwsEnd(src: string, start: number, end: number): number {
  while (end > start) {
    const c = src.charCodeAt(end - 1);
    if (c !== CH_SP && c !== CH_TAB && c !== CH_CR && c !== CH_LF) break;
    end--;
  }
  return end;
}

/** Advances over token characters; returns the first non-token position. */
export function skipToken(src: string, p: number, end: number): number {
  // Binary strings hold no code unit above 255; a larger one reads undefined, which stops the loop.
  while (p < end && (CHAR_CLASS[src.charCodeAt(p)] & C_TOKEN) !== 0) p++;
  return p;
}


/**
 * Given p at a DQUOTE, returns the position after the closing DQUOTE, honouring quoted-pair
 * (backslash escapes any octet but CR and LF), or -1 when the string never closes.
 */
export function quotedStringEnd(src: string, p: number, end: number): number {
  // Fast path, native: the closing quote with no backslash or CR before it.
  const q = nextIndex(NEXT_QUOTE, "\"", src, p + 1);
  if (q < 0 || q >= end) return -1;
  const bs = nextIndex(NEXT_BACKSLASH, "\\", src, p + 1);
  const cr = src.indexOf("\r", p + 1);
  if ((bs < 0 || bs > q) && (cr < 0 || cr > q)) return q + 1;
  p++;
  while (p < end) {
    const c = src.charCodeAt(p);
    if (c === CH_DQUOTE) return p + 1;
    if (c === CH_BACKSLASH) {
      if (p + 1 >= end) return -1;
      const n = src.charCodeAt(p + 1);
      if (n === CH_CR || n === CH_LF) return -1;
      p += 2;
    } else if (c === CH_CR) {
      // Only a fold may break a quoted string across lines.
      if (p + 2 >= end || src.charCodeAt(p + 1) !== CH_LF) return -1;
      const f = src.charCodeAt(p + 2);
      if (f !== CH_SP && f !== CH_TAB) return -1;
      p += 3;
    } else if (c === CH_LF) return -1;
    else p++;
  }
  return -1;
}

/**
 * The end of the list item starting at p in src[p, end): the position of the ',' that ends it (commas in
 * quoted strings do not count), end when it is the last, -1 when a quoted string never closes.
 */
export function listItemEnd(src: string, p: number, end: number): number {
  while (p < end) {
    const c = src.charCodeAt(p);
    if (c === CH_COMMA) return p;
    if (c === CH_DQUOTE) {
      p = quotedStringEnd(src, p, end);
      if (p < 0) return -1;
    } else p++;
  }
  return end;
}

/**
 * Parses src[start, end) as 1*DIGIT with a ceiling; leading zeros are allowed. Returns the
 * value, or -1 when the span is empty, holds a non-digit or exceeds max.
 */
export function parseDecimal(src: string, start: number, end: number, max: number): number {
  if (start >= end) return -1;
  let v = 0;
  for (let p = start; p < end; p++) {
    const d = src.charCodeAt(p) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
    if (v > max) return -1;
  }
  return v;
}

/** True when src[start, end) equals lit exactly. */
export function spanEquals(src: string, start: number, end: number, lit: string): boolean {
  const len = lit.length;
  if (end - start !== len) return false;
  for (let i = 0; i < len; i++) if (src.charCodeAt(start + i) !== lit.charCodeAt(i)) return false;
  return true;
}

/**
 * True when the token src[start, end) is lowerLit ignoring case: one native comparison for the
 * usual lower-case spelling, a folding loop otherwise.
 */
export function tokenIs(src: string, start: number, end: number, lowerLit: string): boolean {
  return end - start === lowerLit.length && (src.startsWith(lowerLit, start) || spanEqualsIgnoreCase(src, start, end, lowerLit));
}

/** True when src[start, end) equals lowerLit ignoring ASCII case (lowerLit must be lower case). */
export function spanEqualsIgnoreCase(src: string, start: number, end: number, lowerLit: string): boolean {
  const len = lowerLit.length;
  if (end - start !== len) return false;
  for (let i = 0; i < len; i++) {
    let c = src.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerLit.charCodeAt(i)) return false;
  }
  return true;
}



/** Value of a hex digit, or -1. */
export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Unquotes a quoted-string span (quotes included) into a new string: the one allocation,
 * made only when the application asks for the text.
 */
export function unquote(src: string, start: number, end: number): string {
  if (end - start < 2 || src.charCodeAt(start) !== CH_DQUOTE) return src.substring(start, end);
  let out = "";
  let run = start + 1;
  for (let p = start + 1; p < end - 1; p++) {
    if (src.charCodeAt(p) === CH_BACKSLASH) {
      out += src.substring(run, p);
      run = p + 1;
      p++;
    }
  }
  return out + src.substring(run, end - 1);
}

// The string every remembered search answers for, and a number that changes with it: one string kept
// alive for all of them (each keeping its own last input held up to eight old messages in memory).
let cachedSrc = "";
let cachedEpoch = 1;

// The remembered searches, one slot each: the pattern every caller of a slot passes is named here.
export const NEXT_QUOTE = 0; // '"'
export const NEXT_BACKSLASH = 1; // '\\'
export const NEXT_AT = 2; // '@'
export const NEXT_DASH = 3; // '-'
export const NEXT_DOTDOT = 4; // ".."
export const NEXT_PERCENT = 5; // '%'
export const NEXT_GT = 6; // '>'
export const NEXT_SPACE = 7; // ' '
// [epoch, from, answer] per slot, in one typed array (an object per pattern cost ~8 variables on Espruino).
const nextCache = new Int32Array(8 * 3);

/**
 * src.indexOf(pattern, p), remembered in a slot: the next occurrence after `from` answers every
 * search that starts between `from` and it. Repeated searches for a pattern that is absent (a '@' in
 * URIs without one, a '>' after many '<') stay linear in the input instead of quadratic.
 */
export function nextIndex(slot: number, pattern: string, src: string, p: number): number {
  // Epochs stay positive: a slot never used (epoch 0) never answers.
  if (src !== cachedSrc) { cachedSrc = src; cachedEpoch = ((cachedEpoch + 1) & 0x7fffffff) || 1; }
  const b = slot * 3;
  const at = nextCache[b + 2];
  if (nextCache[b] === cachedEpoch && p >= nextCache[b + 1] && (at < 0 || p <= at)) return at;
  nextCache[b] = cachedEpoch;
  nextCache[b + 1] = p;
  return nextCache[b + 2] = src.indexOf(pattern, p);
}

/** FNV-1a offset basis, as a signed 32-bit integer. */
export const FNV_BASIS = 0x811c9dc5 | 0;

/**
 * One FNV-1a step: xor a byte, multiply by the prime 16777619 = 2^24 + 403 with shifts (Espruino has
 * no Math.imul). Kept signed (`| 0`): an unsigned value above 2^31 stored in an object field would be
 * a boxed double on V8, an allocation.
 */
export function fnv1aStep(h: number, byte: number): number {
  h ^= byte;
  return (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) | 0;
}

/** FNV-1a over src[s, e), continuing from h (the step written inline: a call per byte costs on Espruino). */
export function fnv1aSpan(src: string, s: number, e: number, h: number): number {
  for (let i = s; i < e; i++) {
    h ^= src.charCodeAt(i);
    h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) | 0;
  }
  return h;
}
