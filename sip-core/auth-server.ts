// RFC 3261 §22.4 / RFC 7616 digest as a UAS: the 401 challenge for direct calls and the check of the credentials that answer it.
import { HDR_AUTHORIZATION } from "./constants.ts";
import { AuthParams, parseAuthParams } from "./auth-header.ts";
import type { RandomSource } from "./auth.ts";
import { DIGEST_MD5, digestAlgorithm, digestResponse } from "./digest.ts";
import type { SipMessage } from "./message.ts";
import { md5Hex } from "./md5.ts";
import { hexValue, spanEquals } from "./scan.ts";
import type { SipWriter } from "./writer.ts";

/** Nonces whose last nonce count is remembered (those that have let a caller in); see `floor`. */
const USED = 4;
/** A nonce is good this long, ms. */
const NONCE_LIFE = 60000;

/**
 * One set of credentials (user, password, realm) guarding direct calls. A nonce proves itself: its issue
 * time and a keyed MD5 of it (a secret drawn at start), so the server keeps nothing per challenge and no
 * stream of INVITEs can push a caller's nonce out before it answers. A nonce that has let a caller in is
 * remembered with its nonce count, so a replayed Authorization (same nonce and nc) is refused; when that
 * ring of USED is full, the oldest is forgotten and every nonce issued up to it stops being accepted (its
 * caller is challenged again): a replay never outlives its record. MD5 with qop=auth.
 */
export class DigestServer {
  readonly user: string;
  readonly password: string;
  readonly realm: string;
  /** Keys the nonces: drawn once from the platform's random source, which is not kept. */
  private readonly secret: string;
  /** The nonces that have let a caller in ("" free), their issue times and last nonce counts (typed: a plain array keeps a variable per element). */
  private readonly used: string[] = [];
  private readonly usedAt = new Float64Array(USED);
  private readonly lastNc = new Uint32Array(USED);
  /** Nonces issued at or before this time (ms) are no longer accepted (-1: none refused so). */
  private floor = -1;
  /** Time for issuing (the owner sets it before writeChallenge: writers get no clock). */
  now = 0;
  /** INVITEs without credentials that verify (none, wrong, stale or replayed): each got a 401. */
  refused = 0;

  constructor(user: string, password: string, realm: string, random: RandomSource) {
    this.user = user;
    this.password = password;
    this.realm = realm;
    this.secret = (random.u32() >>> 0).toString(36) + (random.u32() >>> 0).toString(36) + (random.u32() >>> 0).toString(36);
    for (let i = 0; i < USED; i++) this.used.push("");
  }

  /** The nonce for issue time t (ms): "t.k", t in base 36, k the first 16 hex digits of MD5(secret:t). */
  private nonceAt(t36: string): string {
    return t36 + "." + md5Hex(this.secret + ":" + t36).substring(0, 16);
  }

  /** Writes a WWW-Authenticate line with a fresh nonce. */
  writeChallenge(w: SipWriter): void {
    w.str("WWW-Authenticate: Digest realm=\"").str(this.realm).str("\", nonce=\"").str(this.nonceAt(Math.floor(this.now).toString(36)))
      .str("\", algorithm=MD5, qop=\"auth\"\r\n");
  }

  /**
   * True when msg carries an Authorization for our user and realm, answering one of our live nonces
   * with the right digest for its method and uri (and a nonce count above the last one used).
   */
  verify(msg: SipMessage, now: number): boolean {
    const src = msg.src;
    // Made for this request and dropped with it (a shared one kept ~20 variables on Espruino for good).
    const a = new AuthParams();
    for (let h = msg.findHeader(HDR_AUTHORIZATION); h >= 0; h = msg.nextHeader(HDR_AUTHORIZATION, h)) {
      if (parseAuthParams(src, msg.headerValueStart(h), msg.headerValueEnd(h), a) < 0 || !a.digest) continue;
      if (a.nonceStart < 0 || a.responseStart < 0 || a.uriStart < 0 || a.usernameStart < 0) continue;
      if (a.text(a.usernameStart, a.usernameEnd) !== this.user || a.text(a.realmStart, a.realmEnd) !== this.realm) continue;
      const alg = a.algorithmStart < 0 ? DIGEST_MD5 : digestAlgorithm(src, a.algorithmStart, a.algorithmEnd);
      if (alg !== DIGEST_MD5) continue;
      const nonce = a.text(a.nonceStart, a.nonceEnd);
      // Ours (its key matches its time), live, and not issued at or before the floor.
      const dot = nonce.indexOf(".");
      if (dot <= 0 || nonce !== this.nonceAt(nonce.substring(0, dot))) continue;
      const issued = parseInt(nonce.substring(0, dot), 36);
      if (!(issued <= now && now - issued <= NONCE_LIFE && issued > this.floor)) continue;
      let k = -1;
      for (let i = 0; i < USED; i++) if (this.used[i] === nonce) k = i;
      const qop = a.qopStart >= 0 ? a.text(a.qopStart, a.qopEnd) : "";
      if (qop !== "auth") continue;
      // The nonce count: 8 hex digits (-1 when absent or malformed).
      let nc = a.ncStart >= 0 && a.ncEnd - a.ncStart === 8 ? 0 : -1;
      for (let i = a.ncStart; nc >= 0 && i < a.ncEnd; i++) {
        const d = hexValue(src.charCodeAt(i));
        nc = d < 0 ? -1 : nc * 16 + d;
      }
      if (nc <= (k < 0 ? 0 : this.lastNc[k])) continue; // a replay (or no count)
      const expected = digestResponse({
        algorithm: DIGEST_MD5, username: this.user, realm: this.realm, password: this.password,
        method: msg.cseqMethodStart >= 0 ? src.substring(msg.cseqMethodStart, msg.cseqMethodEnd) : "INVITE",
        uri: a.text(a.uriStart, a.uriEnd), nonce, cnonce: a.cnonceStart >= 0 ? a.text(a.cnonceStart, a.cnonceEnd) : "",
        nc, qop, body: "",
      });
      if (spanEquals(src, a.responseStart, a.responseEnd, expected)) {
        if (k < 0) k = this.remember(nonce, issued);
        this.lastNc[k] = nc;
        return true;
      }
    }
    this.refused++;
    return false;
  }

  /** A slot for a nonce that just let a caller in: a free one, else the oldest, whose time becomes the floor. */
  private remember(nonce: string, issued: number): number {
    let k = 0;
    for (let i = 0; i < USED; i++) {
      if (this.used[i] === "") { k = i; break; }
      if (this.usedAt[i] < this.usedAt[k]) k = i;
    }
    if (this.used[k] !== "" && this.usedAt[k] > this.floor) this.floor = this.usedAt[k];
    this.used[k] = nonce;
    this.usedAt[k] = issued;
    return k;
  }
}
