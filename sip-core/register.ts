// RFC 3261 §10 registration client with digest (RFC 2617/7616/8760), RFC 5626 §4.5 backoff and instance id, RFC 3581 address learning.
import { HDR_CONTACT, METHOD_OPTIONS, METHOD_REGISTER, field } from "./constants.ts";
import { AUTH_REFUSED, AUTH_UNUSABLE, DigestClient, type RandomSource } from "./auth.ts";
import { algorithmName } from "./digest.ts";
import { minExpires, nameAddrWalker, retryAfter } from "./headers.ts";
import type { SipMessage } from "./message.ts";
import { spanEquals } from "./scan.ts";
import { earliest } from "./deadline.ts";
import { TRANSPORT_TCP, TRANSPORT_UDP, type Transaction } from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { SipWriter } from "./writer.ts";

// States, as the application sees them.
export const REG_UNREGISTERED = 0;
export const REG_REGISTERING = 1;
export const REG_REGISTERED = 2;
export const REG_FAILED = 3;
export const REG_BACKOFF = 4;
export const REG_UNREGISTERING = 5;
const STATE_NAMES = "unregistered|registering|registered|failed|backing off|unregistering";

export type { RandomSource };

/** Where a registration reports what happened (a log line per decision, with the reason). */
export interface RegistrationLog {
  write(level: number, msg: string): void;
}

export interface AccountConfig {
  /** User part of the address of record (sip:user@domain). */
  user: string;
  /** Digest username, when it differs from user. */
  authUser: string;
  password: string;
  domain: string;
  /** Where REGISTER goes: the registrar or an outbound proxy. */
  registrar: string;
  registrarPort: number;
  /** How it is reached (TRANSPORT_UDP or TRANSPORT_TCP: one connection, kept alive with CRLF pings). */
  transport: number;
  /** Expiry to ask for, seconds. */
  expires: number;
  /** RFC 5626 instance id (urn:uuid:…), stable for the device. */
  instanceId: string;
  /** Local address and port written in Contact and Via until the registrar tells another (rport/received). */
  localAddress: string;
  localPort: number;
  /** RFC 5626 §4.5 backoff: base and ceiling, seconds. */
  backoffBase: number;
  backoffMax: number;
  /** Keep-alive period while registered, seconds (a CRLF ping, or OPTIONS where pings are not answered); 0 = off. */
  keepalive: number;
}

/** The defaults, made fresh (see defaultCallConfig). */
export function defaultAccount(): AccountConfig {
  return {
    user: "", authUser: "", password: "", domain: "", registrar: "", registrarPort: 5060, transport: TRANSPORT_UDP, expires: 3600,
    instanceId: "", localAddress: "", localPort: 5060, backoffBase: 30, backoffMax: 1800, keepalive: 28,
  };
}
/** The defaults as one shared object, never changed. */
export const DEFAULT_ACCOUNT: AccountConfig = /* @__PURE__ */ defaultAccount();

/** Sends a RFC 5626 keep-alive ping (CRLFCRLF) on the flow to a server. */
export interface KeepalivePinger {
  ping(address: string, port: number, transport: number): number;
}

/** RFC 5626 §4.4.1: a pong must come within 10 s, or the flow is dead. */
const PONG_WAIT = 10000;

const LOG_WARN = 1;
const LOG_INFO = 2;

/** Registration attempts, challenges and refreshes of one account. Driven by `now` (ms); never reads a clock. */
export class Registration {
  readonly config: AccountConfig;
  state = REG_UNREGISTERED;
  /** Last final status and its reason phrase (for "failed" and diagnostics). */
  lastStatus = 0;
  lastReason = "";
  /** Expiry the registrar granted (s) and when the binding lapses (ms); -1 when not registered. */
  granted = 0;
  expiresAt = -1;
  /** When the next REGISTER goes out (ms); -1 when nothing is scheduled. */
  nextAttemptAt = -1;
  /** Consecutive failures, for the backoff. */
  failures = 0;
  /** The address and port the registrar sees us at (from received/rport), written into Contact. */
  contactAddress: string;
  contactPort: number;
  /** A contact being replaced (address change), "address:port": removed with expires=0 in the next REGISTER. */
  private oldContact = "";

  private readonly layer: TransactionLayer;
  private readonly random: RandomSource;
  private readonly log: RegistrationLog;
  private readonly writer: SipWriter;
  private readonly callId: string;
  private readonly fromTag: string;
  private cseq = 0;
  private tx: Transaction | null = null;
  private targetAddress: string;
  private targetPort: number;
  private redirected = false;
  /** The last digest challenge, answered in every later REGISTER. */
  private readonly digest: DigestClient;
  /** Where writeHead put the branch of the request being written. */
  private branchStart = 0;
  private branchEnd = 0;
  /** Keep-alive: the pinger, when the next ping goes, the pong deadline, and whether pongs ever came. */
  pinger: KeepalivePinger | null = null;
  private keepaliveAt = -1;
  private pongDeadline = -1;
  private pongsSeen = false;
  private useOptions = false;
  /** When a closed connection last made this account register again (-1: never). */
  private flowClosedAt = -1;
  private optionsTx: Transaction | null = null;

  constructor(config: AccountConfig, layer: TransactionLayer, random: RandomSource, log: RegistrationLog, bufferSize: number) {
    this.config = config;
    this.layer = layer;
    this.random = random;
    this.log = log;
    // REGISTER and OPTIONS are written and handed to sendRequest (which copies them) at once: the layer's
    // scratch writer serves, unless this registration was given a larger buffer. An OPTIONS is the head of
    // a REGISTER: what holds a REGISTER holds it.
    this.writer = bufferSize <= layer.scratch.buf.length ? layer.scratch : new SipWriter(bufferSize);
    this.digest = new DigestClient(random);
    this.callId = this.token() + this.token() + "@" + config.localAddress;
    this.fromTag = this.token();
    this.contactAddress = config.localAddress;
    this.contactPort = config.localPort;
    this.targetAddress = config.registrar;
    this.targetPort = config.registrarPort;
  }

  /** The state as text. */
  stateName(): string { return field(STATE_NAMES, this.state); }

  private token(): string { return (this.random.u32() >>> 0).toString(36); }

  private note(level: number, msg: string): void {
    this.log.write(level, this.config.user + "@" + this.config.domain + ": " + msg);
  }

  /** Registers now (boot, network back, address changed). */
  start(now: number): void {
    this.failures = 0;
    this.redirected = false;
    this.targetAddress = this.config.registrar;
    this.targetPort = this.config.registrarPort;
    this.send(this.config.expires, now);
  }

  /** Removes the binding (expires=0), for an orderly shutdown. */
  unregister(now: number): void {
    this.nextAttemptAt = this.keepaliveAt = this.pongDeadline = -1;
    this.send(0, now);
  }

  /**
   * The device's own address changed (DHCP renewal, another network): register the new contact
   * now and remove the old binding in the same REGISTER.
   */
  setLocalAddress(address: string, port: number, now: number): void {
    if (address === this.contactAddress && port === this.contactPort) return;
    this.oldContact = this.contactAddress + ":" + this.contactPort;
    this.contactAddress = address;
    this.contactPort = port;
    this.note(LOG_INFO, "local address is now " + address + ":" + port + "; registering it");
    this.failures = 0;
    this.send(this.config.expires, now);
  }

  /** The network went down: the binding cannot be trusted; register again when it is back. */
  networkLost(): void {
    this.keepaliveAt = this.pongDeadline = -1;
    this.state = REG_UNREGISTERED;
    this.expiresAt = -1;
    this.nextAttemptAt = -1;
    this.tx = null;
  }

  /** The earliest time poll() has work, -1 when none. */
  nextDeadline(): number {
    return earliest(earliest(this.nextAttemptAt, this.keepaliveAt), this.pongDeadline);
  }

  /** A pong (lone CRLF) arrived from address:port: the flow to the registrar is alive. */
  onPong(address: string, port: number): void {
    if (address !== this.targetAddress || port !== this.targetPort) return;
    if (this.pongDeadline >= 0) {
      this.pongDeadline = -1;
      this.pongsSeen = true;
    }
    if (this.probing()) this.nextAttemptAt = 0; // the registrar is reachable again: the next poll registers
  }

  /**
   * In backoff because the registrar did not answer at all (an outage, not a refusal): the keep-alive goes
   * on as a probe, and its answer ends the wait, so the device is back within a keep-alive period of the
   * network, however long the outage made the backoff (UDP only: over TCP a new connection is the probe).
   */
  private probing(): boolean {
    return this.state === REG_BACKOFF && this.lastStatus === 408 && this.config.transport !== TRANSPORT_TCP;
  }

  private scheduleKeepalive(now: number): void {
    const k = this.config.keepalive;
    if (k <= 0 || (this.pinger === null && !this.useOptions)) { this.keepaliveAt = -1; return; }
    // 80–100 % of the period, so a fleet of devices does not ping in step.
    const ms = k * 1000;
    this.keepaliveAt = now + ms - ((this.random.u32() >>> 0) % (ms / 5 + 1));
  }

  /**
   * The connection to address:port closed. Over TCP the binding rides on it (RFC 5626 §4.4.1): register
   * again now, on a new one. At most once per backoff base, so a server that closes every connection
   * cannot make a loop of it (the keep-alive and the refresh still run).
   */
  onFlowClosed(address: string, port: number, now: number): void {
    if (this.config.transport !== TRANSPORT_TCP || address !== this.targetAddress || port !== this.targetPort) return;
    if (this.state !== REG_REGISTERED || this.tx !== null) return;
    if (this.flowClosedAt >= 0 && now - this.flowClosedAt < this.config.backoffBase * 1000) return;
    this.flowClosedAt = now;
    this.flowFailed(now, "the connection to the registrar closed");
  }

  /** The flow died (no pong, OPTIONS unanswered): register again now, the address may have changed. */
  private flowFailed(now: number, why: string): void {
    this.keepaliveAt = this.pongDeadline = -1;
    this.note(LOG_WARN, why + "; registering again");
    this.send(this.config.expires, now);
  }

  private sendOptions(now: number): void {
    const w = this.writer.reset();
    this.writeHead(w, "OPTIONS", false);
    const n = w.end(null, 0, 0);
    const tx = n > 0 ? this.layer.sendRequest(w.buf, n, METHOD_OPTIONS, this.branchStart, this.branchEnd,
      this.targetAddress, this.targetPort, this.config.transport, now) : null;
    if (tx !== null) this.optionsTx = tx;
  }

  /** Runs a due refresh, retry or keep-alive. @keepParams: under the send. */
  poll(now: number): void {
    if (this.pongDeadline >= 0 && this.pongDeadline <= now) {
      this.pongDeadline = -1;
      if (this.pongsSeen) { this.flowFailed(now, "no pong within 10 s"); return; }
      // Never a pong from this server: it does not do RFC 5626 keep-alive; OPTIONS instead.
      this.useOptions = true;
      this.note(LOG_INFO, "no pong to CRLF keep-alive; using OPTIONS");
      this.sendOptions(now);
      this.scheduleKeepalive(now); // the next OPTIONS a full period after this one
    }
    if (this.keepaliveAt >= 0 && this.keepaliveAt <= now) {
      this.keepaliveAt = -1;
      if (this.probing()) {
        if (!this.useOptions && this.pinger !== null) this.pinger.ping(this.targetAddress, this.targetPort, TRANSPORT_UDP);
        else if (this.optionsTx === null) this.sendOptions(now);
        this.scheduleKeepalive(now);
      } else if (this.state === REG_REGISTERED) {
        if (!this.useOptions && this.pinger !== null) {
          this.pinger.ping(this.targetAddress, this.targetPort, this.config.transport);
          // The first unanswered ping sets the deadline; later pings must not push it back, or a short
          // keep-alive period would hide a dead flow (or a server that never pongs) for ever.
          if (this.pongDeadline < 0) this.pongDeadline = now + PONG_WAIT;
        } else this.sendOptions(now);
        this.scheduleKeepalive(now);
      }
    }
    if (this.nextAttemptAt >= 0 && this.nextAttemptAt <= now) {
      this.nextAttemptAt = -1;
      if (this.state === REG_REGISTERED && this.expiresAt >= 0 && this.expiresAt <= now) this.state = REG_UNREGISTERED;
      this.send(this.state === REG_UNREGISTERING ? 0 : this.config.expires, now);
    }
  }

  /** True when tx is this registration's REGISTER (or keep-alive OPTIONS) in flight. */
  owns(tx: Transaction): boolean {
    return this.tx === tx || this.optionsTx === tx; // handles: an ended one is never handed out again
  }

  /**
   * The start of every request this account sends (REGISTER, keep-alive OPTIONS): request line to the
   * domain, Via with a new branch and rport, Max-Forwards, From with our tag, To (the AOR, or the
   * domain for OPTIONS), the account's Call-ID and the next CSeq. The branch's span is left in
   * branchStart/branchEnd for sendRequest.
   */
  private writeHead(w: SipWriter, method: string, toAor: boolean): void {
    const c = this.config;
    this.cseq++;
    w.str(method).str(" sip:").str(c.domain).str(" SIP/2.0\r\n");
    w.str(c.transport === TRANSPORT_TCP ? "Via: SIP/2.0/TCP " : "Via: SIP/2.0/UDP ").str(this.contactAddress).byte(58).num(this.contactPort).str(";branch=");
    this.branchStart = w.pos;
    w.str("z9hG4bK").str(this.token()).str(this.token());
    this.branchEnd = w.pos;
    w.str(";rport\r\nMax-Forwards: 70\r\n");
    w.str("From: <sip:").str(c.user).byte(64).str(c.domain).str(">;tag=").str(this.fromTag).crlf();
    w.str("To: <sip:");
    if (toAor) w.str(c.user).byte(64);
    w.str(c.domain).str(">\r\n");
    w.header("Call-ID", this.callId);
    w.str("CSeq: ").num(this.cseq).byte(32).str(method).crlf();
  }

  /** Sends a REGISTER asking for `expires` s (0: unregister, the state then says so until the answer). */
  private send(expires: number, now: number): void {
    this.state = expires === 0 ? REG_UNREGISTERING : (this.state === REG_REGISTERED ? REG_REGISTERED : REG_REGISTERING);
    const c = this.config;
    const w = this.writer.reset();
    const ruri = "sip:" + c.domain;
    this.writeHead(w, "REGISTER", true);
    w.str("Contact: <sip:").str(c.user).byte(64).str(this.contactAddress).byte(58).num(this.contactPort)
      .str(c.transport === TRANSPORT_TCP ? ";transport=tcp>;expires=" : ";transport=udp>;expires=").num(expires);
    if (c.instanceId !== "") w.str(";+sip.instance=\"<").str(c.instanceId).str(">\"");
    w.crlf();
    if (this.oldContact !== "") {
      // The binding of the address we had: removed, so calls stop going there.
      w.str("Contact: <sip:").str(c.user).byte(64).str(this.oldContact)
        .str(c.transport === TRANSPORT_TCP ? ";transport=tcp>;expires=0\r\n" : ";transport=udp>;expires=0\r\n");
      this.oldContact = "";
    }
    w.headerNum("Expires", expires);
    this.digest.write(w, c.authUser || c.user, c.password, "REGISTER", ruri, "");
    w.header("User-Agent", "doorsip");
    const n = w.end(null, 0, 0);
    if (n < 0) { this.fail(0, "REGISTER does not fit the buffer", now); return; }
    const tx = this.layer.sendRequest(w.buf, n, METHOD_REGISTER, this.branchStart, this.branchEnd, this.targetAddress, this.targetPort, c.transport, now);
    if (tx === null) { this.retryLater(0, "transaction pool full", now, -1); return; }
    this.tx = tx;
  }

  /** A response to our REGISTER (the TU routes it here when owns(tx)). */
  onResponse(msg: SipMessage, now: number): void {
    if (msg.status < 200) return;
    if (msg.cseqMethod === METHOD_OPTIONS) {
      // Any answer: the flow is alive (and a probe's answer ends the backoff).
      this.optionsTx = null;
      if (this.probing()) this.nextAttemptAt = now;
      return;
    }
    if (!spanEquals(msg.src, msg.callIdStart, msg.callIdEnd, this.callId)) {
      this.note(LOG_WARN, "ignored a response for another Call-ID");
      return;
    }
    this.tx = null;
    this.lastStatus = msg.status;
    this.lastReason = msg.reason();
    const s = msg.status;
    if (s >= 200 && s < 300) { this.onSuccess(msg, now); return; }
    if (s === 401 || s === 407) {
      const d = this.digest;
      const r = d.onChallenge(msg);
      if (r === AUTH_UNUSABLE || r === AUTH_REFUSED) {
        this.fail(s, r === AUTH_UNUSABLE ? "challenge with no usable digest (missing nonce or unknown algorithm)"
          : "credentials refused (" + s + " for the nonce they answered)", now);
        this.nextAttemptAt = now + this.config.backoffMax * 1000;
        return;
      }
      this.note(LOG_INFO, (d.stale ? "stale nonce, " : "") + "answering a " + algorithmName(d.algorithm) + " challenge for realm " + d.realm);
      // Sent by the next poll, due now: not from inside the 401's handling, whose frames a device would
      // otherwise hold under the new REGISTER's (the deepest moment of a registration).
      this.nextAttemptAt = now;
      return;
    }
    if (s === 423) {
      const min = minExpires(msg);
      if (min > this.config.expires && min <= 86400 && this.state !== REG_UNREGISTERING) {
        this.note(LOG_INFO, "423: retrying with Min-Expires " + min);
        this.config.expires = min;
        this.send(min, now);
      } else this.retryLater(s, "423 without a usable Min-Expires", now, -1);
      return;
    }
    if (s >= 300 && s < 400) {
      // Follow the first Contact, once.
      const contacts = contactCursor.begin(msg, HDR_CONTACT);
      if (!this.redirected && contacts.next() && contacts.value.decodeUri() && contacts.value.uri.hostStart >= 0) {
        const u = contacts.value.uri;
        this.redirected = true;
        this.targetAddress = msg.src.substring(u.hostStart, u.hostEnd);
        this.targetPort = u.port > 0 ? u.port : 5060;
        this.note(LOG_INFO, s + ": following the Contact to " + this.targetAddress + ":" + this.targetPort);
        this.send(this.config.expires, now);
      } else this.retryLater(s, s + " with no Contact to follow (or a second redirect)", now, -1);
      return;
    }
    if (s === 403 || s === 404) {
      // Wrong credentials or unknown account: stop, say so, try again only after the longest wait.
      this.fail(s, s + " " + this.lastReason, now);
      this.nextAttemptAt = now + this.config.backoffMax * 1000;
      return;
    }
    this.retryLater(s, s + " " + this.lastReason, now, retryAfter(msg));
  }

  /** Timer F: no answer at all. */
  onTimeout(now: number, tx: Transaction | null): void {
    if (tx !== null && this.optionsTx === tx) {
      this.optionsTx = null;
      if (this.state === REG_REGISTERED) this.flowFailed(now, "keep-alive OPTIONS unanswered");
      return;
    }
    this.tx = null;
    this.lastStatus = 408;
    this.lastReason = "Request Timeout (no answer)";
    this.retryLater(408, "no answer from the registrar", now, -1);
    this.pongDeadline = -1;
    if (this.keepaliveAt < 0) this.scheduleKeepalive(now); // probing() from now on
  }

  private onSuccess(msg: SipMessage, now: number): void {
    this.failures = 0;
    if (this.state === REG_UNREGISTERING) {
      this.state = REG_UNREGISTERED;
      this.expiresAt = -1;
      this.note(LOG_INFO, "unregistered");
      return;
    }
    // Address learning (RFC 3581): the registrar saw us at received:rport. Over TCP the port it saw is the
    // connection's ephemeral one, not where we listen: the registrar reaches us on the connection (RFC 5626).
    const v = msg.via;
    if (this.config.transport !== TRANSPORT_TCP && v.receivedStart >= 0 && v.rport > 0) {
      const seen = msg.src.substring(v.receivedStart, v.receivedEnd);
      if (seen !== this.contactAddress || v.rport !== this.contactPort) {
        this.note(LOG_INFO, "the registrar sees us at " + seen + ":" + v.rport + "; registering that address");
        this.oldContact = this.contactAddress + ":" + this.contactPort;
        this.contactAddress = seen;
        this.contactPort = v.rport;
        this.send(this.config.expires, now);
        return;
      }
    }
    // Our binding: the Contact whose host and port are ours; its expires, else Expires, else what we asked.
    let expires = -1;
    let found = false;
    const contacts = contactCursor.begin(msg, HDR_CONTACT);
    while (contacts.next()) {
      const u = contacts.value.uri;
      if (!contacts.value.decodeUri()) continue;
      if (spanEquals(msg.src, u.hostStart, u.hostEnd, this.contactAddress) && (u.port < 0 ? 5060 : u.port) === this.contactPort) {
        found = true;
        expires = contacts.value.expires;
        break;
      }
    }
    if (!found) {
      this.retryLater(msg.status, "200 without our Contact", now, -1);
      return;
    }
    if (expires < 0) expires = msg.expires >= 0 ? msg.expires : this.config.expires;
    if (expires === 0) {
      this.retryLater(msg.status, "200 with expires=0 for our Contact", now, -1);
      return;
    }
    // Absurd grants are clamped: at most a day, at least 10 s.
    if (expires > 86400) expires = 86400;
    if (expires < 10) expires = 10;
    this.granted = expires;
    this.expiresAt = now + expires * 1000;
    this.state = REG_REGISTERED;
    // Refresh at half the granted time: a lost refresh still leaves a quarter of it for retries.
    this.nextAttemptAt = now + expires * 500;
    this.pongDeadline = -1;
    this.scheduleKeepalive(now);
    this.note(LOG_INFO, "registered for " + expires + " s");
  }

  private fail(status: number, reason: string, now: number): void {
    this.state = REG_FAILED;
    this.lastStatus = status;
    this.lastReason = reason;
    this.expiresAt = -1;
    this.note(LOG_WARN, "failed: " + reason);
    void now;
  }

  /**
   * RFC 5626 §4.5: wait min(max, base · 2^failures) seconds, a random 50–100 % of it, and never
   * less than a Retry-After the server gave.
   */
  private retryLater(status: number, reason: string, now: number, retryAfterSeconds: number): void {
    this.failures++;
    const c = this.config;
    let wait = c.backoffBase;
    for (let i = 1; i < this.failures && wait < c.backoffMax; i++) wait *= 2;
    if (wait > c.backoffMax) wait = c.backoffMax;
    const ms = wait * 1000;
    let delay = ms / 2 + ((this.random.u32() >>> 0) % (ms / 2 + 1));
    if (retryAfterSeconds > 0 && retryAfterSeconds * 1000 > delay) delay = retryAfterSeconds * 1000;
    this.state = REG_BACKOFF;
    this.lastStatus = status;
    this.lastReason = reason;
    if (this.expiresAt >= 0 && this.expiresAt <= now) this.expiresAt = -1;
    this.nextAttemptAt = now + Math.floor(delay);
    this.note(LOG_WARN, reason + "; next attempt in " + Math.round(delay / 1000) + " s");
  }
}

const contactCursor = nameAddrWalker;

