// A simulated registrar (RFC 3261 §10.3) with digest authentication, for the simulator and its tests.
//
// It challenges with 401 (or 407), verifies the credentials by recomputing the digest, keeps bindings
// with their expiry, grants at most maxExpires and refuses less than minExpires (423), and can be told
// to misbehave: answer a status for the next requests, stay silent, or restart (forgetting bindings
// and nonces, as a rebooted server does).
import {
  DIGEST_MD5, HDR_AUTHORIZATION, HDR_CONTACT, HDR_PROXY_AUTHORIZATION, METHOD_REGISTER, NameAddrCursor, AuthParams,
  SipMessage, algorithmName, digestAlgorithm, digestResponse, parseAuthParams, writeResponseHead, type Transaction,
} from "../sip-core/index.ts";
import { Endpoint, type EndpointOptions } from "./endpoint.ts";

export interface RegistrarOptions extends EndpointOptions {
  realm: string;
  /** user → password. */
  users: Record<string, string>;
  /** Digest algorithm offered ("MD5", "SHA-256", …) and qop ("auth", "auth-int,auth", or "" for none). */
  algorithm?: string;
  qop?: string;
  /** Challenge with 407 Proxy-Authenticate instead of 401 WWW-Authenticate. */
  proxy?: boolean;
  minExpires?: number;
  maxExpires?: number;
}

export interface Binding {
  aor: string;
  contact: string;
  expiresAt: number;
}

/** A scripted answer for the next `count` REGISTERs: a status (with headers), or silence (status 0). */
interface Scripted {
  status: number;
  reason: string;
  headers: string[];
  count: number;
}

export class Registrar extends Endpoint {
  readonly realm: string;
  readonly users: Record<string, string>;
  algorithm: string;
  qop: string;
  proxy: boolean;
  minExpires: number;
  maxExpires: number;
  readonly bindings: Binding[] = [];
  /** Every REGISTER seen: time, CSeq, whether it carried credentials, and the answer given. */
  readonly history: { at: number; cseq: number; authorized: boolean; status: number; expires: number }[] = [];
  private nonceGeneration = 0;
  private readonly issued: string[] = [];
  private readonly script: Scripted[] = [];
  private readonly auth = new AuthParams();
  private readonly contacts = new NameAddrCursor();

  constructor(o: RegistrarOptions) {
    super(o);
    this.realm = o.realm;
    this.users = o.users;
    this.algorithm = o.algorithm || "MD5";
    this.qop = o.qop === undefined ? "auth" : o.qop;
    this.proxy = !!o.proxy;
    this.minExpires = o.minExpires || 60;
    this.maxExpires = o.maxExpires || 3600;
    this.ua.requestFilter = { onRequest: (tx, msg) => this.onRegister(tx, msg) };
  }

  /** The next `count` REGISTERs get this status (0: no answer at all), with extra header lines. */
  answerNext(count: number, status: number, reason: string, headers: string[] = []): void {
    this.script.push({ status, reason, headers, count });
  }

  /** Forgets every binding and nonce, as a rebooted server does. */
  restart(): void {
    this.bindings.length = 0;
    this.issued.length = 0;
    this.nonceGeneration++;
  }

  /** The live binding of a user, or null. */
  binding(user: string): Binding | null {
    const now = this.platform.clock.now();
    for (const b of this.bindings) if (b.aor === "sip:" + user + "@" + this.realm && b.expiresAt > now) return b;
    return null;
  }

  private newNonce(): string {
    const n = "n" + this.nonceGeneration + "x" + this.token() + this.token();
    this.issued.push(n);
    return n;
  }

  /** Answers a REGISTER (digest, bindings, the script); false for other requests (the UA answers). */
  private onRegister(tx: Transaction, msg: SipMessage): boolean {
    if (msg.method !== METHOD_REGISTER) return false;
    const now = this.platform.clock.now();
    const record = { at: now, cseq: msg.cseq, authorized: false, status: 0, expires: -1 };
    this.history.push(record);
    const w = this.writer.reset();
    const s = this.script[0];
    if (s !== undefined) {
      if (--s.count <= 0) this.script.shift();
      record.status = s.status;
      if (s.status === 0) return true; // silence: the client's Timer F decides
      writeResponseHead(w, msg, s.status, s.reason, this.token());
      for (const h of s.headers) w.str(h).crlf();
      this.finish(tx, w.end(null, 0, 0), s.status);
      return true;
    }
    // Credentials.
    const user = msg.to.decodeUri() ? msg.to.uri.userText() : "";
    const password = this.users[user];
    const credId = this.proxy ? HDR_PROXY_AUTHORIZATION : HDR_AUTHORIZATION;
    const ci = msg.findHeader(credId);
    // "none": no credentials; "ok": right for a nonce we issued; "stale": right, but for a nonce we do
    // not know (we restarted); "wrong": a wrong response for a nonce we issued (a bad password).
    let verdict = "none";
    if (ci >= 0 && parseAuthParams(msg.src, msg.headerValueStart(ci), msg.headerValueEnd(ci), this.auth) > 0) {
      const a = this.auth;
      const nonce = a.text(a.nonceStart, a.nonceEnd);
      const known = this.issued.indexOf(nonce) >= 0;
      let right = false;
      if (password !== undefined) {
        const alg = digestAlgorithm(msg.src, a.algorithmStart, a.algorithmEnd) || DIGEST_MD5;
        const expected = digestResponse({
          algorithm: alg, username: a.text(a.usernameStart, a.usernameEnd), realm: a.text(a.realmStart, a.realmEnd),
          password, method: "REGISTER", uri: a.text(a.uriStart, a.uriEnd), nonce, cnonce: a.text(a.cnonceStart, a.cnonceEnd),
          nc: a.ncStart >= 0 ? parseInt(a.text(a.ncStart, a.ncEnd), 16) : 0, qop: a.qopStart >= 0 ? a.text(a.qopStart, a.qopEnd) : "", body: "",
        });
        right = a.text(a.responseStart, a.responseEnd) === expected;
      }
      verdict = right ? (known ? "ok" : "stale") : (known ? "wrong" : "none");
    }
    if (verdict !== "ok") {
      const code = verdict === "wrong" ? 403 : (this.proxy ? 407 : 401);
      record.status = code;
      writeResponseHead(w, msg, code, code === 403 ? "Forbidden" : code === 407 ? "Proxy Authentication Required" : "Unauthorized", this.token());
      if (code !== 403) {
        const alg = digestAlgorithm(this.algorithm, 0, this.algorithm.length) || DIGEST_MD5;
        w.str(this.proxy ? "Proxy-Authenticate: " : "WWW-Authenticate: ")
          .str("Digest realm=\"" + this.realm + "\", nonce=\"" + this.newNonce() + "\", algorithm=" + algorithmName(alg))
          .str(this.qop !== "" ? ", qop=\"" + this.qop + "\"" : "")
          .str(verdict === "stale" ? ", stale=true" : "").crlf();
      }
      this.finish(tx, w.end(null, 0, 0), code);
      return true;
    }
    record.authorized = true;
    // Expiry: the Contact's expires, else Expires, else 3600; 423 under the minimum; capped.
    // Every Contact: those with expires 0 remove their binding; the first other one is (re)bound.
    const c = this.contacts.begin(msg, HDR_CONTACT);
    const aor = "sip:" + user + "@" + this.realm;
    let contact = "";
    let expires = 0;
    while (c.next()) {
      const e = c.value.expires >= 0 ? c.value.expires : (msg.expires >= 0 ? msg.expires : 3600);
      const uri = c.value.uri.uriText();
      if (e === 0) {
        for (let i = this.bindings.length - 1; i >= 0; i--) if (this.bindings[i].aor === aor && this.bindings[i].contact === uri) this.bindings.splice(i, 1);
      } else if (contact === "") {
        contact = uri;
        expires = e;
      }
    }
    if (expires > 0 && expires < this.minExpires) {
      record.status = 423;
      writeResponseHead(w, msg, 423, "Interval Too Brief", this.token());
      w.headerNum("Min-Expires", this.minExpires);
      this.finish(tx, w.end(null, 0, 0), 423);
      return true;
    }
    if (expires > this.maxExpires) expires = this.maxExpires;
    if (contact !== "") {
      for (let i = this.bindings.length - 1; i >= 0; i--) if (this.bindings[i].aor === aor && this.bindings[i].contact === contact) this.bindings.splice(i, 1);
      this.bindings.push({ aor, contact, expiresAt: now + expires * 1000 });
    }
    record.status = 200;
    record.expires = expires;
    writeResponseHead(w, msg, 200, "OK", this.token());
    for (const b of this.bindings) {
      if (b.aor === aor && b.expiresAt > now) w.str("Contact: <" + b.contact + ">;expires=" + Math.round((b.expiresAt - now) / 1000)).crlf();
    }
    this.finish(tx, w.end(null, 0, 0), 200);
    return true;
  }

  private finish(tx: Transaction, n: number, status: number): void {
    if (n > 0) this.layer.respond(tx, this.writer.buf, n, status, this.platform.clock.now());
    this.rearm();
  }
}

