// RFC 3261 §22.2–22.4 digest client: the challenge a request answers, and the credentials it writes (RFC 2617/7616/8760).
import { HDR_PROXY_AUTHENTICATE, HDR_WWW_AUTHENTICATE } from "./constants.ts";
import { AuthParams, parseAuthParams } from "./auth-header.ts";
import { DIGEST_MD5, algorithmStrength, chooseQop, digestAlgorithm, digestResponse, writeCredentials } from "./digest.ts";
import type { SipMessage } from "./message.ts";
import type { SipWriter } from "./writer.ts";

// What onChallenge decided.
export const AUTH_RETRY = 0;
/** No digest challenge this client can answer (no nonce, unknown algorithm or qop). */
export const AUTH_UNUSABLE = -1;
/** A fresh challenge to credentials just sent for a fresh nonce: they were refused. */
export const AUTH_REFUSED = -2;

/** A source of 32-bit random numbers (the platform's; seeded in the simulator). */
export interface RandomSource {
  u32(): number;
}

/**
 * The last challenge of one account towards one server, reused for later requests (nc counts up).
 * Registration and calls each hold one; the credentials come from the account.
 */
export class DigestClient {
  /** "Authorization" (401) or "Proxy-Authorization" (407); "" until challenged. */
  header = "";
  realm = "";
  nonce = "";
  opaque = "";
  qop = "";
  algorithm = 0;
  nc = 0;
  /** The challenge said stale=true (a new nonce, the credentials were right). */
  stale = false;
  /** The last request written carried credentials for a nonce used for the first time. */
  sentFresh = false;
  private readonly random: RandomSource;

  constructor(random: RandomSource) {
    this.random = random;
  }

  /** Forgets the challenge (a new server, a new account). */
  reset(): void {
    this.header = this.realm = this.nonce = this.opaque = this.qop = "";
    this.algorithm = this.nc = 0;
    this.stale = this.sentFresh = false;
  }

  /**
   * Reads a 401/407: picks the strongest usable challenge (several may be offered) and keeps it.
   * Returns AUTH_RETRY (send again with credentials), AUTH_UNUSABLE or AUTH_REFUSED.
   */
  onChallenge(msg: SipMessage): number {
    const id = msg.status === 401 ? HDR_WWW_AUTHENTICATE : HDR_PROXY_AUTHENTICATE;
    // Made for this answer and dropped with it: a shared one kept ~20 variables on Espruino for good (a 401 is rare).
    const a = new AuthParams();
    let best = -1;
    let bestStrength = -1;
    for (let i = msg.findHeader(id); i >= 0; i = msg.nextHeader(id, i)) {
      if (parseAuthParams(msg.src, msg.headerValueStart(i), msg.headerValueEnd(i), a) < 0) continue;
      if (!a.digest || a.nonceStart < 0) continue;
      const alg = digestAlgorithm(msg.src, a.algorithmStart, a.algorithmEnd);
      if (alg === 0 || chooseQop(msg.src, a.qopStart, a.qopEnd) === null) continue;
      const strength = algorithmStrength(alg);
      if (strength > bestStrength) { best = i; bestStrength = strength; }
    }
    if (best < 0) return AUTH_UNUSABLE;
    parseAuthParams(msg.src, msg.headerValueStart(best), msg.headerValueEnd(best), a);
    // Challenged again, not for staleness, right after credentials for a fresh nonce: they are
    // wrong (some servers send a new nonce rather than 403). No loop.
    if (this.sentFresh && !a.stale) return AUTH_REFUSED;
    this.stale = a.stale;
    this.header = msg.status === 401 ? "Authorization" : "Proxy-Authorization";
    this.realm = a.text(a.realmStart, a.realmEnd);
    this.nonce = a.text(a.nonceStart, a.nonceEnd);
    this.opaque = a.opaqueStart >= 0 ? a.text(a.opaqueStart, a.opaqueEnd) : "";
    this.algorithm = digestAlgorithm(msg.src, a.algorithmStart, a.algorithmEnd) || DIGEST_MD5;
    this.qop = chooseQop(msg.src, a.qopStart, a.qopEnd) as string;
    this.nc = 0;
    return AUTH_RETRY;
  }

  /**
   * Writes the credentials header for a request (nothing before the first challenge). body is the
   * request's body (hashed for qop=auth-int).
   */
  write(w: SipWriter, username: string, password: string, method: string, uri: string, body: string): void {
    this.sentFresh = false;
    if (this.nonce === "") return;
    this.nc++;
    // Credentials for a nonce just received (nc 1): a fresh challenge to them is a refusal. For a
    // reused nonce (a refresh), a new challenge only means the server wants a new nonce.
    this.sentFresh = this.nc === 1;
    const cnonce = (this.random.u32() >>> 0).toString(36) + (this.random.u32() >>> 0).toString(36);
    const response = digestResponse({
      algorithm: this.algorithm, username, realm: this.realm, password,
      method, uri, nonce: this.nonce, cnonce, nc: this.nc, qop: this.qop, body,
    });
    writeCredentials(w, this.header, {
      username, realm: this.realm, nonce: this.nonce, uri, response,
      algorithm: this.algorithm, cnonce, nc: this.nc, qop: this.qop, opaque: this.opaque,
    });
  }
}
