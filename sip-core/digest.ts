// HTTP digest authentication for SIP: RFC 2617 (MD5, MD5-sess, qop), RFC 7616 (SHA-256), RFC 8760 (SIP
// with SHA-256), RFC 3261 §22.4 (RFC 2069 compatibility without qop). Challenge values come as spans from
// parseAuthParams (auth-header.ts); credentials go out through a SipWriter.
import { hex8, md5Hex } from "./md5.ts";
import { sha256Hex } from "./sha256.ts";
import { skipLws, spanEqualsIgnoreCase, trimLwsEnd } from "./scan.ts";
import type { SipWriter } from "./writer.ts";

export const DIGEST_MD5 = 1;
export const DIGEST_MD5_SESS = 2;
export const DIGEST_SHA256 = 3;
export const DIGEST_SHA256_SESS = 4;

/**
 * The algorithm id of a challenge's algorithm value src[start, end), compared ignoring case:
 * DIGEST_MD5 when absent (start < 0, RFC 2617 §3.2.1), 0 for an algorithm this stack does not
 * implement (SHA-512-256 and its -sess, anything unknown, an empty value).
 */
export function digestAlgorithm(src: string, start: number, end: number): number {
  if (start < 0) return DIGEST_MD5;
  switch (end - start) {
    case 3: return spanEqualsIgnoreCase(src, start, end, "md5") ? DIGEST_MD5 : 0;
    case 7: return spanEqualsIgnoreCase(src, start, end, "sha-256") ? DIGEST_SHA256 : 0;
    case 8: return spanEqualsIgnoreCase(src, start, end, "md5-sess") ? DIGEST_MD5_SESS : 0;
    case 12: return spanEqualsIgnoreCase(src, start, end, "sha-256-sess") ? DIGEST_SHA256_SESS : 0;
  }
  return 0;
}

/** The algorithm's name as written in credentials ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess"); "" for 0. */
export function algorithmName(algorithm: number): string {
  switch (algorithm) {
    case DIGEST_MD5: return "MD5";
    case DIGEST_MD5_SESS: return "MD5-sess";
    case DIGEST_SHA256: return "SHA-256";
    case DIGEST_SHA256_SESS: return "SHA-256-sess";
  }
  return "";
}

/**
 * How strong an algorithm is, for choosing among several challenges for one realm: 2 for the SHA-256
 * variants, 1 for the MD5 ones, 0 for unsupported (never answer those). RFC 7616 §3.7 and RFC 8760
 * §2.4 have the client take the topmost challenge it supports unless local policy says otherwise;
 * "strongest, and the topmost among equals" is such a policy (a server listing SHA-256 first gets
 * the same choice either way).
 */
export function algorithmStrength(algorithm: number): number {
  return algorithm === DIGEST_SHA256 || algorithm === DIGEST_SHA256_SESS ? 2
    : algorithm === DIGEST_MD5 || algorithm === DIGEST_MD5_SESS ? 1 : 0;
}

/** H(data) for the algorithm as lower-case hex: MD5 for the MD5 variants, SHA-256 for the others; "" for 0. */
/**
 * The SHA-256 used for digests: ours by default; a platform with a native one (Espruino boards whose
 * firmware includes crypto) installs it with useSha256: 0.015 ms against 3.2 ms in JavaScript for 100 bytes on
 * Espruino 2v29 (Linux build, -Os).
 */
let sha256Impl: (data: string) => string = sha256Hex;

/** Installs a platform SHA-256 (binary string in, 64 lowercase hex digits out); null restores ours. */
export function useSha256(fn: ((data: string) => string) | null): void {
  sha256Impl = fn === null ? sha256Hex : fn;
}

export function hashHex(algorithm: number, data: string): string {
  if (algorithm === DIGEST_MD5 || algorithm === DIGEST_MD5_SESS) return md5Hex(data);
  if (algorithm === DIGEST_SHA256 || algorithm === DIGEST_SHA256_SESS) return sha256Impl(data);
  return "";
}

/** nc as sent and hashed: 8 lower-case hex digits ("00000001"); md5.ts's hex8, which the hashes use. */
export { hex8 as formatNc };

/**
 * What digestResponse hashes. Strings are binary (one char per byte): a non-ASCII username or
 * password must already be its UTF-8 bytes (RFC 7616 §4 charset=UTF-8). realm, nonce and the other
 * challenge values are unquoted (AuthParams.text(), escapes removed).
 */
export interface DigestInput {
  /** DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256 or DIGEST_SHA256_SESS. */
  algorithm: number;
  username: string;
  realm: string;
  password: string;
  /** The request method (REGISTER, INVITE, …; "ACK" and "CANCEL" use the INVITE's credentials, §22.1). */
  method: string;
  /** The digest-uri: the Request-URI as written in the credentials' uri parameter. */
  uri: string;
  nonce: string;
  /** The client nonce: used with a qop and by the -sess algorithms; ignored otherwise. */
  cnonce: string;
  /** The nonce count (1 for the first request with this nonce); used with a qop. */
  nc: number;
  /** "" (RFC 2069 mode: the challenge had no qop), "auth" or "auth-int" — see chooseQop. */
  qop: string;
  /** The message body, hashed for qop=auth-int only. */
  body: string;
}

/**
 * The request-digest (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1) as lower-case hex, "" for an unsupported
 * algorithm:
 *   HA1 = H(username:realm:password), for -sess H(H(username:realm:password):nonce:cnonce)
 *   HA2 = H(method:uri), for qop=auth-int H(method:uri:H(body))
 *   response = H(HA1:nonce:nc:cnonce:qop:HA2) with a qop, H(HA1:nonce:HA2) without (RFC 2069).
 * For -sess, RFC 2617 computes HA1 once per session (first nonce and cnonce); this recomputes it from
 * the nonce and cnonce given, which is what servers that accept a fresh cnonce per nonce expect.
 */
export function digestResponse(d: DigestInput): string {
  const alg = d.algorithm;
  if (algorithmStrength(alg) === 0) return "";
  let ha1 = hashHex(alg, d.username + ":" + d.realm + ":" + d.password);
  if (alg === DIGEST_MD5_SESS || alg === DIGEST_SHA256_SESS) ha1 = hashHex(alg, ha1 + ":" + d.nonce + ":" + d.cnonce);
  const ha2 = d.qop === "auth-int"
    ? hashHex(alg, d.method + ":" + d.uri + ":" + hashHex(alg, d.body))
    : hashHex(alg, d.method + ":" + d.uri);
  if (d.qop === "") return hashHex(alg, ha1 + ":" + d.nonce + ":" + ha2);
  return hashHex(alg, ha1 + ":" + d.nonce + ":" + hex8(d.nc) + ":" + d.cnonce + ":" + d.qop + ":" + ha2);
}

/**
 * The qop to answer a challenge's qop list src[start, end) with (the unquoted value: tokens
 * separated by commas, optional linear white space around them, compared ignoring case):
 *   "auth"     when offered (preferred: it does not depend on the body),
 *   "auth-int" when that is the only supported option offered,
 *   ""         when the challenge has no qop (start < 0): answer in RFC 2069 mode, without qop/nc/cnonce,
 *   null       when a qop list is present but offers neither (only unknown tokens, or empty): the
 *              challenge cannot be answered (RFC 2617 §3.2.1 makes qop mandatory to honour once offered).
 */
export function chooseQop(src: string, start: number, end: number): string | null {
  if (start < 0) return "";
  let authInt = false;
  let p = start;
  while (p < end) {
    p = skipLws(src, p, end);
    let comma = src.indexOf(",", p);
    if (comma < 0 || comma > end) comma = end;
    const e = trimLwsEnd(src, p, comma);
    if (spanEqualsIgnoreCase(src, p, e, "auth")) return "auth";
    if (spanEqualsIgnoreCase(src, p, e, "auth-int")) authInt = true;
    p = comma + 1;
  }
  return authInt ? "auth-int" : null;
}

/** What writeCredentials writes. */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  /** The digest-uri, as hashed. */
  uri: string;
  /** digestResponse(...) */
  response: string;
  /** An algorithm id (written as its name, algorithmName) or the name itself. */
  algorithm: number | string;
  cnonce: string;
  nc: number;
  /** "" (then cnonce, qop and nc are left out), "auth" or "auth-int". */
  qop: string;
  /** The challenge's opaque, returned unchanged; "" when the challenge had none (then left out). */
  opaque: string;
}

/**
 * Writes one credentials header line (RFC 2617 §3.2.2, RFC 3261 §22.4), e.g. for headerName "Authorization":
 *   Authorization: Digest username="1001", realm="…", nonce="…", uri="…", response="…", algorithm=MD5,
 *     cnonce="…", qop=auth, nc=00000001, opaque="…"
 * on one line, then CRLF. Quoted values get `"` and `\` escaped with a backslash (RFC 3261 §25.1
 * quoted-pair), so a realm read with AuthParams.text() goes back as the server sent it.
 */
export function writeCredentials(w: SipWriter, headerName: string, p: DigestCredentials): void {
  w.str(headerName).str(": Digest username=");
  writeQuoted(w, p.username);
  w.str(", realm=");
  writeQuoted(w, p.realm);
  w.str(", nonce=");
  writeQuoted(w, p.nonce);
  w.str(", uri=");
  writeQuoted(w, p.uri);
  w.str(", response=");
  writeQuoted(w, p.response);
  w.str(", algorithm=").str(typeof p.algorithm === "number" ? algorithmName(p.algorithm) : p.algorithm);
  if (p.qop !== "") {
    w.str(", cnonce=");
    writeQuoted(w, p.cnonce);
    w.str(", qop=").str(p.qop).str(", nc=").str(hex8(p.nc));
  }
  if (p.opaque !== "") {
    w.str(", opaque=");
    writeQuoted(w, p.opaque);
  }
  w.crlf();
}

/** `"` value `"` with `"` and `\` escaped; the common case (nothing to escape) is one str(). */
function writeQuoted(w: SipWriter, v: string): void {
  w.byte(34);
  if (v.indexOf("\"") < 0 && v.indexOf("\\") < 0) {
    w.str(v);
  } else {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 34 || c === 92) w.byte(92);
      w.byte(c);
    }
  }
  w.byte(34);
}
