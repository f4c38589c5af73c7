// RFC 3261 §22.4 / RFC 7616 digest as a UAS: the 401 challenge for direct calls and the check of the credentials that answer it.
import { HDR_AUTHORIZATION } from "./constants.ts";
import { parseAuthParams, scratchAuthParams } from "./auth-header.ts";
import type { RandomSource } from "./auth.ts";
import { DIGEST_MD5, digestAlgorithm, digestResponse } from "./digest.ts";
import type { SipMessage } from "./message.ts";
import { hexValue, spanEquals } from "./scan.ts";
import type { SipWriter } from "./writer.ts";

/** Nonces remembered at once; an older one is forgotten (its caller is challenged again). */
const NONCES = 4;
/** A nonce is good this long, ms. */
const NONCE_LIFE = 60000;


/**
 * One set of credentials (user, password, realm) guarding direct calls. Nonces are random, kept in a
 * small ring with their issue time, and each answers at most one request per nonce count: a replayed
 * Authorization (same nonce and nc) is refused. MD5 with qop=auth.
 */
export class DigestServer {
  readonly user: string;
  readonly password: string;
  readonly realm: string;
  private readonly random: RandomSource;
  private readonly nonces: string[] = [];
  /** Per nonce: when it was issued (ms) and the last nonce count used; typed, a plain array keeps a variable per element. */
  private readonly issuedAt = new Float64Array(NONCES);
  private readonly lastNc = new Uint32Array(NONCES);
  private next = 0;
  /** Time for issuing (the owner sets it before writeChallenge: writers get no clock). */
  now = 0;
  /** Credentials checked and refused. */
  refused = 0;

  constructor(user: string, password: string, realm: string, random: RandomSource) {
    this.user = user;
    this.password = password;
    this.realm = realm;
    this.random = random;
    for (let i = 0; i < NONCES; i++) this.nonces.push("");
  }

  /** Writes a WWW-Authenticate line with a fresh nonce. */
  writeChallenge(w: SipWriter): void {
    const i = this.next;
    this.next = (i + 1) % NONCES;
    const nonce = (this.random.u32() >>> 0).toString(36) + (this.random.u32() >>> 0).toString(36) + (this.random.u32() >>> 0).toString(36);
    this.nonces[i] = nonce;
    this.issuedAt[i] = this.now;
    this.lastNc[i] = 0;
    w.str("WWW-Authenticate: Digest realm=\"").str(this.realm).str("\", nonce=\"").str(nonce)
      .str("\", algorithm=MD5, qop=\"auth\"\r\n");
  }

  /**
   * True when msg carries an Authorization for our user and realm, answering one of our live nonces
   * with the right digest for its method and uri (and a nonce count above the last one used).
   */
  verify(msg: SipMessage, now: number): boolean {
    const src = msg.src;
    for (let h = msg.findHeader(HDR_AUTHORIZATION); h >= 0; h = msg.nextHeader(HDR_AUTHORIZATION, h)) {
      const a = scratchAuthParams;
      if (parseAuthParams(src, msg.headerValueStart(h), msg.headerValueEnd(h), a) < 0 || !a.digest) continue;
      if (a.nonceStart < 0 || a.responseStart < 0 || a.uriStart < 0 || a.usernameStart < 0) continue;
      if (a.text(a.usernameStart, a.usernameEnd) !== this.user || a.text(a.realmStart, a.realmEnd) !== this.realm) continue;
      const alg = a.algorithmStart < 0 ? DIGEST_MD5 : digestAlgorithm(src, a.algorithmStart, a.algorithmEnd);
      if (alg !== DIGEST_MD5) continue;
      const nonce = a.text(a.nonceStart, a.nonceEnd);
      let k = -1;
      for (let i = 0; i < NONCES; i++) if (this.nonces[i] !== "" && this.nonces[i] === nonce) k = i;
      if (k < 0 || now - this.issuedAt[k] > NONCE_LIFE) continue;
      const qop = a.qopStart >= 0 ? a.text(a.qopStart, a.qopEnd) : "";
      if (qop !== "auth") continue;
      // The nonce count: 8 hex digits (-1 when absent or malformed).
      let nc = a.ncStart >= 0 && a.ncEnd - a.ncStart === 8 ? 0 : -1;
      for (let i = a.ncStart; nc >= 0 && i < a.ncEnd; i++) {
        const d = hexValue(src.charCodeAt(i));
        nc = d < 0 ? -1 : nc * 16 + d;
      }
      if (nc <= this.lastNc[k]) continue; // a replay (or no count)
      const expected = digestResponse({
        algorithm: DIGEST_MD5, username: this.user, realm: this.realm, password: this.password,
        method: msg.cseqMethodStart >= 0 ? src.substring(msg.cseqMethodStart, msg.cseqMethodEnd) : "INVITE",
        uri: a.text(a.uriStart, a.uriEnd), nonce, cnonce: a.cnonceStart >= 0 ? a.text(a.cnonceStart, a.cnonceEnd) : "",
        nc, qop, body: "",
      });
      if (spanEquals(src, a.responseStart, a.responseEnd, expected)) {
        this.lastNc[k] = nc;
        return true;
      }
    }
    this.refused++;
    return false;
  }
}
