// RFC 3261 §13–15 INVITE sessions (UAC and UAS) with RFC 3264 offer/answer: a fixed pool of calls, each one state machine with its timers.
import {
  field, HDR_CONTENT_TYPE, METHOD_ACK, METHOD_BYE, METHOD_CANCEL, METHOD_INFO, METHOD_INVITE, HDR_CONTACT,
} from "./constants.ts";
import { AUTH_RETRY, DigestClient, type RandomSource } from "./auth.ts";
import { DLG_CONFIRMED, DLG_EARLY, DLG_NONE, Dialog } from "./dialog.ts";
import { parseDtmfInfo } from "./dtmf.ts";
import { contentTypeIs, nameAddrWalker } from "./headers.ts";
import type { SipMessage } from "./message.ts";
import { FNV_BASIS, fnv1aStep, spanEquals } from "./scan.ts";
import {
  AudioAnswer, RTP_MAX_PTIME, RTP_PTIME, SDP_INACTIVE, SDP_SENDRECV, SdpSession, negotiateAudio, parseSdp,
  rejectedMedia, writeSdp, writeSdpAnswer, type SdpAudioParams,
} from "./sdp.ts";
import { earliest } from "./deadline.ts";
import { TRANSPORT_TCP, TRANSPORT_UDP, TS_FREE, TS_PROCEEDING, type Transaction } from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { SCHEME_SIP, SCHEME_SIPS, findUriParam, parseUri, scratchUri, uriParamValueEnd } from "./uri.ts";
import { SERVER_LINE, type SipWriter, bytesToBinaryString, statelessToTag, writeResponseHead } from "./writer.ts";

// Call states, as the application sees them.
export const CALL_FREE = 0;
/** UAC: INVITE sent, no provisional response yet. */
export const CALL_CALLING = 1;
/** UAC: a provisional response came (the callee rings). */
export const CALL_RINGING = 2;
/** UAS: an INVITE we have not answered yet (ringing when 180 was sent). */
export const CALL_INCOMING = 3;
/** UAS: 200 sent, waiting for the ACK. */
export const CALL_CONNECTING = 4;
/** Both sides agreed: media flows. */
export const CALL_ACTIVE = 5;
/** UAC: CANCEL sent, waiting for the INVITE's final response. */
export const CALL_CANCELLING = 6;
/** BYE sent, waiting for its response. */
export const CALL_ENDING = 7;
/** Over: the listener hears this state once, then the slot is free. */
export const CALL_ENDED = 8;
const STATE_NAMES = "free|calling|ringing|incoming|connecting|active|cancelling|ending|ended";

/** What the calls of one identity need to know. */
export interface CallConfig {
  /** Our address of record: sip:user@domain, and a display name ("" for none). */
  user: string;
  domain: string;
  displayName: string;
  /** Digest credentials for 401/407 to an INVITE (authUser "" = user). */
  authUser: string;
  password: string;
  /** Where our INVITEs go first ("" = to the target's host); written as a loose Route. */
  outboundProxy: string;
  outboundPort: number;
  /** How we reach the outbound proxy (TRANSPORT_UDP or TRANSPORT_TCP). */
  outboundTransport: number;
  /** Address and port written in Via and Contact (the registration may learn a better one). */
  localAddress: string;
  localPort: number;
  /** RTP: our address in SDP and the first port; call i uses rtpPortBase + 2·i. */
  rtpAddress: string;
  rtpPortBase: number;
  /** Audio payload types in preference order (PCMU 0, PCMA 8). */
  codecs: number[];
  /** telephone-event payload type we offer (-1 = none). */
  telephoneEvent: number;
  /** Seconds an outgoing call may ring before it is cancelled, and an incoming one before 480. */
  ringTimeout: number;
  /** Longest call, seconds (0 = no limit): then BYE. */
  maxDuration: number;
  /** Seconds without RTP from the peer after which the application hangs up (0 = never). */
  rtpTimeout: number;
  /** Incoming: answer this many ms after ringing (0 = at once: at the next poll, due then; -1 = only when answer() is called). */
  answerDelay: number;
  /** Incoming: send 180 Ringing before answering. */
  ringing: boolean;
  /** Conversations at once (more INVITEs get 486). */
  maxCalls: number;
  /** 3xx Contacts followed per call. */
  maxRedirects: number;
}

/** The defaults, made fresh: the device keeps no template alive once its configuration is loaded. */
export function defaultCallConfig(): CallConfig {
  return {
    user: "door", domain: "", displayName: "", authUser: "", password: "", outboundProxy: "", outboundPort: 5060,
    outboundTransport: TRANSPORT_UDP, localAddress: "", localPort: 5060, rtpAddress: "", rtpPortBase: 40000, codecs: [0, 8], telephoneEvent: 101,
    ringTimeout: 30, maxDuration: 300, rtpTimeout: 30, answerDelay: 0, ringing: true, maxCalls: 1, maxRedirects: 3,
  };
}
/** The defaults as one shared object, never changed (dropped from a bundle that does not use it). */
export const DEFAULT_CALL_CONFIG: CallConfig = /* @__PURE__ */ defaultCallConfig();

// What CallListener.onIncoming decides (besides a final status ≥ 300 that refuses the call).
/** Take the call: ring, then answer after the configured answerDelay. */
export const INCOMING_ANSWER = 0;
/** Take the call and ring until the application calls answerCall (or the ring timeout: 480). */
export const INCOMING_RING = 1;
/** Drop the INVITE without any answer (a scanner learns nothing). */
export const INCOMING_DROP = -1;

/** Writes the WWW-Authenticate header line of a 401 the application asked for (digest for direct calls). */
export interface ChallengeWriter {
  writeChallenge(w: SipWriter): void;
}

/** What the application hears. Callbacks must not throw. */
export interface CallListener {
  /**
   * A new INVITE: INCOMING_ANSWER, INCOMING_RING, INCOMING_DROP, or a final status ≥ 300 (401: challenged).
   * call is null when every slot is taken: the policy still speaks first, an accepted caller then gets 486.
   */
  onIncoming(call: Call | null, msg: SipMessage): number;
  /** The call's state changed (read call.state, call.endStatus, call.endReason). */
  onCallState(call: Call): void;
  /** Media was agreed or changed (start or update RTP from call.media*); it stops when the call ends. */
  onCallMedia(call: Call): void;
  /** A DTMF digit (char code) arrived in a SIP INFO. */
  onInfoDigit(call: Call, digit: number): void;
}

export interface CallLog {
  write(level: number, msg: string): void;
}

const LOG_WARN = 1;
const LOG_INFO = 2;
/** Redirect targets one 3xx may leave to try. */
const MAX_REDIRECT_TARGETS = 4;
const ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";
/** One empty string for the fields reset to it (on Espruino each "" written out is a variable of its own). */
const NO_TEXT = "";

/** One call: a slot in the CallManager's pool. Strings are made when the call starts. */
export class Call {
  readonly index: number;
  /** Changes at every reuse of the slot; transactions carry it as their owner. */
  serial = 0;
  state = CALL_FREE;
  outgoing = false;
  /** The application's trust decision (the door opens only in authorised calls). */
  authorised = false;
  readonly dialog: Dialog = new Dialog();
  /** The peer as text: the target we called, or the caller's From URI. */
  peer = "";
  /** Why it ended: a SIP status (0 = local) and a reason. */
  endStatus = 0;
  endReason = "";
  startedAt = 0;
  answeredAt = -1;
  // Media agreed (our point of view): where to send RTP, the payload types, and our direction.
  mediaPort = 0;
  mediaRemoteAddress = "";
  mediaRemotePort = 0;
  mediaPayload = -1;
  mediaTelephoneEvent = -1;
  /**
   * The telephone-event payload type the peer sends us: the one in our offer when we offered (an answer
   * should keep it, RFC 3264 §6.1, but may not), else the offer's; -1 when none was agreed.
   */
  mediaTelephoneEventIn = -1;
  mediaDirection = SDP_SENDRECV;
  /** Our SDP o= session id ("" until the call's first description) and version, bumped when the hash of the rest changes. */
  sdpSession = "";
  sdpVersion = 0;
  sdpHash = 0;
  // UAC: the initial INVITE.
  target = "";
  targetAddress = "";
  targetPort = 5060;
  targetTransport = TRANSPORT_UDP;
  inviteCseq = 0;
  inviteBranch = "";
  /** Credentials line the INVITE carried ("" none): the ACK repeats it (§13.2.2.4). */
  authLine = "";
  /** The URI the application called: the To of every INVITE, also after a redirect (only the Request-URI moves). */
  toUri = "";
  /**
   * 3xx Contacts by q (highest first, thousandths; [0, redirectCount), grown to MAX_REDIRECT_TARGETS as
   * used), the next one to try, and how many were tried.
   */
  readonly redirects: string[] = [];
  readonly redirectQ: number[] = [];
  redirectCount = 0;
  redirectNext = 0;
  redirectsFollowed = 0;
  cancelPending = false;
  byeAfterAnswer = false;
  /** The ring timeout ended it (an outgoing call nobody answered: a plan moves on). */
  ringExpired = false;
  ackBranch = "";
  // Transactions (handles: a stale one names no live transaction).
  inviteTx: Transaction | null = null;
  byeTx: Transaction | null = null;
  // UAS: 2xx retransmission until the ACK (§13.3.1.4), and the offer sent in a 200 to an INVITE without SDP.
  awaitingAck = false;
  offerInAnswer = false;
  /** The offer we answer: its other streams (rejectedMedia), how many come before ours, its direction mirrored. */
  offerRejected = "";
  offerAudioAt = 0;
  answerDirection = SDP_SENDRECV;
  // Timers: absolute ms, -1 when off.
  ringAt = -1;
  answerAt = -1;
  endAt = -1;
  ackDeadline = -1;
  retransmitAt = -1;
  retransmitInterval = 0;
  giveUpAt = -1;
  readonly digest: DigestClient;

  constructor(index: number, random: RandomSource) {
    this.index = index;
    this.digest = new DigestClient(random);
  }

  stateName(): string { return field(STATE_NAMES, this.state); }

  /** The call is up or being set up (counts against maxCalls). */
  live(): boolean { return this.state !== CALL_FREE && this.state !== CALL_ENDED; }

  reset(): void {
    this.state = CALL_FREE;
    this.outgoing = this.authorised = false;
    this.dialog.clear();
    this.peer = this.endReason = this.target = this.toUri = this.targetAddress = this.inviteBranch = this.authLine = this.ackBranch = "";
    this.endStatus = 0;
    this.answeredAt = -1;
    this.mediaRemoteAddress = "";
    this.mediaRemotePort = 0;
    this.mediaPayload = this.mediaTelephoneEvent = this.mediaTelephoneEventIn = -1;
    this.mediaDirection = this.answerDirection = SDP_SENDRECV;
    this.offerRejected = NO_TEXT;
    this.offerAudioAt = 0;
    this.sdpSession = "";
    this.sdpVersion = this.sdpHash = 0;
    this.targetPort = 5060;
    this.targetTransport = TRANSPORT_UDP;
    this.inviteCseq = this.redirectCount = this.redirectNext = this.redirectsFollowed = 0;
    this.cancelPending = this.byeAfterAnswer = this.awaitingAck = this.offerInAnswer = this.ringExpired = false;
    this.inviteTx = this.byeTx = null;
    this.ringAt = this.answerAt = this.endAt = this.ackDeadline = this.retransmitAt = this.giveUpAt = -1;
    this.retransmitInterval = 0;
    this.digest.reset();
  }
}

/** CallManager.invite's failures (also in lastError). */
export const CALL_ERR_POOL_FULL = -1;
export const CALL_ERR_TARGET = -2;
export const CALL_ERR_SEND = -3;

const contacts = nameAddrWalker; // shared: list walks never nest

/**
 * Every INVITE session of one identity. The UA hands it INVITE, ACK, BYE, CANCEL and INFO requests
 * and the responses of the transactions it owns; it drives the calls' timers from poll(now). Messages are
 * written in the layer's scratch writer: each is handed over before another is begun.
 */
export class CallManager {
  readonly config: CallConfig;
  readonly calls: Call[] = [];
  /** Contact address (the registration may learn the one the server sees). */
  contactAddress: string;
  contactPort: number;
  lastError = 0;
  /** Writes the challenge of a 401 the listener returns (null: a 401 goes without one). */
  challenger: ChallengeWriter | null = null;
  private readonly layer: TransactionLayer;
  private readonly random: RandomSource;
  private readonly listener: CallListener;
  private readonly log: CallLog;
  private readonly sdp = new SdpSession();
  /**
   * Scratch dialog for a second fork's 2xx, made with the first outgoing call that ends or forks (a door
   * that only answers never needs it: ~32 device variables).
   */
  private fork: Dialog | null = null;
  /**
   * The outgoing call that ended last, for a fork's 2xx that comes after it (§13.2.2.4 until Timer M,
   * 64·T1): its INVITE's Call-ID (the rest is in this.fork), CSeq, credentials line, and until when.
   */
  private endedCallId = "";
  private endedCseq = 0;
  private endedAuthLine = "";
  private endedUntil = -1;
  private serials = 0;
  /** A session id per device boot, made once. */

  constructor(config: CallConfig, layer: TransactionLayer, random: RandomSource, listener: CallListener, log: CallLog, capacity: number, bufferSize: number) {
    this.config = config;
    this.layer = layer;
    this.random = random;
    this.listener = listener;
    this.log = log;
    this.contactAddress = config.localAddress;
    this.contactPort = config.localPort;
    for (let i = 0; i < capacity; i++) this.calls.push(new Call(i, random));
  }

  private token(): string { return (this.random.u32() >>> 0).toString(36); }

  private note(level: number, call: Call, msg: string): void {
    this.log.write(level, "call " + call.index + ": " + msg);
  }

  /** Calls up or being set up. */
  liveCount(): number {
    let n = 0;
    for (let i = 0; i < this.calls.length; i++) if (this.calls[i].live()) n++;
    return n;
  }

  private allocate(now: number): Call | null {
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.state === CALL_FREE) {
        c.reset();
        c.serial = ++this.serials;
        c.startedAt = now;
        c.mediaPort = this.config.rtpPortBase + 2 * i;
        return c;
      }
    }
    return null;
  }

  /** The call a transaction belongs to, or null. */
  callOf(tx: Transaction): Call | null {
    const owner = this.layer.owner(tx);
    if (owner <= 0) return null;
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.serial === owner && c.state !== CALL_FREE) return c;
    }
    return null;
  }

  // ----------------------------------------------------------------------------------------
  // Ending
  // ----------------------------------------------------------------------------------------

  private setState(c: Call, state: number): void {
    if (c.state === state) return;
    c.state = state;
    this.listener.onCallState(c);
  }

  /** The call is over: the listener hears it, then the slot is free. */
  private end(c: Call, now: number, status: number, reason: string): void {
    if (c.state === CALL_FREE || c.state === CALL_ENDED) return;
    c.endStatus = status;
    c.endReason = reason;
    this.note(LOG_INFO, c, "ended: " + (status > 0 ? status + " " : "") + reason);
    if (c.outgoing && c.inviteCseq > 0) {
      // What a late fork's 2xx needs to be ACKed and BYEd once the call is gone (the fork scratch dialog).
      this.endedCallId = this.forkOf(c).callId;
      this.endedCseq = c.inviteCseq;
      this.endedAuthLine = c.authLine;
      this.endedUntil = now + 64 * this.layer.timers.t1;
    }
    this.setState(c, CALL_ENDED);
    c.reset();
  }

  // ----------------------------------------------------------------------------------------
  // UAC: INVITE, CANCEL, ACK, BYE
  // ----------------------------------------------------------------------------------------

  /**
   * Calls target (a sip: URI). Returns the call, or null with lastError set (pool full,
   * bad target, could not send).
   */
  invite(target: string, now: number): Call | null {
    const c = this.allocate(now);
    if (c === null) { this.lastError = CALL_ERR_POOL_FULL; return null; }
    c.outgoing = true;
    c.authorised = true;
    c.peer = target;
    c.dialog.callId = this.token() + this.token() + "@" + this.contactAddress;
    c.dialog.localTag = this.token();
    const cfg = this.config;
    c.dialog.localField = (cfg.displayName !== "" ? "\"" + cfg.displayName + "\" " : "") + "<sip:" + cfg.user + "@" + (cfg.domain || this.contactAddress) + ">;tag=" + c.dialog.localTag;
    c.inviteCseq = 0;
    if (!this.setTarget(c, target)) { this.lastError = CALL_ERR_TARGET; c.reset(); return null; }
    c.toUri = target;
    c.state = CALL_CALLING;
    if (cfg.ringTimeout > 0) c.ringAt = now + cfg.ringTimeout * 1000;
    if (!this.sendInvite(c, now)) { this.lastError = CALL_ERR_SEND; c.reset(); return null; }
    this.note(LOG_INFO, c, "calling " + target);
    this.listener.onCallState(c);
    return c;
  }

  /** Request-URI and next hop for a (new) target: the outbound proxy, else the URI's host. */
  private setTarget(c: Call, target: string): boolean {
    if (parseUri(target, 0, target.length, scratchUri) !== 0 || scratchUri.hostStart < 0 ||
        (scratchUri.scheme !== SCHEME_SIP && scratchUri.scheme !== SCHEME_SIPS)) return false;
    c.target = target;
    const cfg = this.config;
    if (cfg.outboundProxy !== "") {
      c.targetAddress = cfg.outboundProxy;
      c.targetPort = cfg.outboundPort;
      c.targetTransport = cfg.outboundTransport;
    } else {
      const u = scratchUri;
      let hs = u.hostStart;
      let he = u.hostEnd;
      if (target.charCodeAt(hs) === 91) { hs++; he--; }
      c.targetAddress = target.substring(hs, he);
      c.targetPort = u.port > 0 ? u.port : 5060;
      const t = findUriParam(u, "transport");
      c.targetTransport = t >= 0 && uriParamValueEnd(u, t) - t === 3 && (target.charCodeAt(t) | 0x20) === 116 ? TRANSPORT_TCP : TRANSPORT_UDP;
    }
    return true;
  }

  /** The head shared by INVITE and its CANCEL (§9.1: same Request-URI, Via, From, To, Call-ID, CSeq number, Route). */
  private writeInviteHead(w: SipWriter, c: Call, method: string): number {
    const cfg = this.config;
    w.str(method).byte(32).str(c.target).str(" SIP/2.0\r\nVia: SIP/2.0/").str(c.targetTransport === TRANSPORT_TCP ? "TCP " : "UDP ")
      .str(this.contactAddress).byte(58).num(this.contactPort).str(";branch=");
    const at = w.pos;
    w.str(c.inviteBranch).str(";rport\r\nMax-Forwards: 70\r\n");
    w.header("From", c.dialog.localField);
    w.str("To: <").str(c.toUri).str(">\r\n");
    w.header("Call-ID", c.dialog.callId);
    w.str("CSeq: ").num(c.inviteCseq).byte(32).str(method).crlf();
    if (cfg.outboundProxy !== "") {
      w.str("Route: <sip:").str(cfg.outboundProxy).byte(58).num(cfg.outboundPort);
      w.str(cfg.outboundTransport === TRANSPORT_TCP ? ";transport=tcp;lr>\r\n" : ";lr>\r\n");
    }
    return at;
  }

  /** Contact: transport=tcp when the peer must reach us over TCP (our INVITE went that way). */
  private writeContact(w: SipWriter, transport: number): void {
    w.str("Contact: <sip:").str(this.config.user).byte(64).str(this.contactAddress).byte(58).num(this.contactPort)
      .str(transport === TRANSPORT_TCP ? ";transport=tcp>\r\n" : ">\r\n");
  }

  /**
   * Our SDP (offer, or answer to the call's offer when answering) at w.pos; its length, or negative. Its
   * parameters are made here, once per offer or answer, not kept (on the device ~25 variables between calls).
   */
  private writeOurSdp(w: SipWriter, c: Call, asAnswer: boolean): number {
    const at = w.pos;
    // RFC 3264 §8: the version goes up exactly when the description changes (anything after the o= line).
    const first = c.sdpSession === "";
    if (first) c.sdpSession = String(this.random.u32() >>> 0); // RFC 4566 §5.2: one session id per call
    const p: SdpAudioParams = {
      username: "-", sessionId: c.sdpSession, version: c.sdpVersion, address: this.config.rtpAddress || this.contactAddress, port: c.mediaPort,
      // An answer: the call's own choice (another INVITE may have been parsed since).
      payloads: asAnswer ? [c.mediaPayload] : this.config.codecs,
      telephoneEvent: asAnswer ? c.mediaTelephoneEvent : this.config.telephoneEvent,
      direction: asAnswer ? c.answerDirection : SDP_SENDRECV, ptime: RTP_PTIME, maxptime: RTP_MAX_PTIME,
    };
    let n = asAnswer ? writeSdpAnswer(w, p, c.offerRejected, c.offerAudioAt) : writeSdp(w, p);
    if (n < 0) return n;
    // FNV-1a of the body after its o= line (the second line): what a version number stands for.
    const buf = w.buf;
    let i = at;
    for (let lines = 0; i < at + n && lines < 2; i++) if (buf[i] === 10) lines++;
    let h = FNV_BASIS;
    for (; i < at + n; i++) h = fnv1aStep(h, buf[i]);
    if (!first && h !== c.sdpHash) {
      p.version = ++c.sdpVersion;
      w.pos = at;
      n = asAnswer ? writeSdpAnswer(w, p, c.offerRejected, c.offerAudioAt) : writeSdp(w, p);
    }
    c.sdpHash = h;
    return n;
  }

  /**
   * Ends a message with our SDP as its body (see writeOurSdp); the message's length, or -1 when it does not
   * fit. The body is written in place (a buffer of its own cost the device ~45 variables): Content-Length
   * gets three digits first, and the body moves when its length has fewer or more.
   */
  private endWithSdp(w: SipWriter, c: Call, asAnswer: boolean): number {
    w.str("Content-Type: application/sdp\r\nContent-Length: 000\r\n\r\n");
    const at = w.pos;
    const n = this.writeOurSdp(w, c, asAnswer);
    if (n < 0 || w.overflow) return -1;
    const shift = (n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : 5) - 3;
    const b = w.buf;
    if (at + shift + n > b.length) return -1;
    if (shift > 0) for (let i = n - 1; i >= 0; i--) b[at + shift + i] = b[at + i];
    else if (shift < 0) for (let i = 0; i < n; i++) b[at + shift + i] = b[at + i];
    w.pos = at - 7; // the "000\r\n\r\n"
    w.num(n).str("\r\n\r\n");
    w.pos = at + shift + n;
    return w.pos;
  }

  private sendInvite(c: Call, now: number): boolean {
    const cfg = this.config;
    const w = this.layer.scratch.reset();
    c.inviteCseq++;
    c.inviteBranch = "z9hG4bK" + this.token() + this.token();
    const at = this.writeInviteHead(w, c, "INVITE");
    this.writeContact(w, c.targetTransport);
    const credStart = w.pos;
    if (c.digest.nonce !== "") {
      let body = "";
      if (c.digest.qop === "auth-int") {
        // The body the credentials cover: written where they go, read out, then written again as the body.
        const n = this.writeOurSdp(w, c, false);
        if (n < 0) return false;
        body = bytesToBinaryString(w.buf.subarray(credStart, credStart + n), n);
        w.pos = credStart;
      }
      c.digest.write(w, cfg.authUser || cfg.user, cfg.password, "INVITE", c.target, body);
    }
    c.authLine = w.pos > credStart ? bytesToBinaryString(w.buf.subarray(credStart, w.pos), w.pos - credStart) : ""; // rare: auth only
    w.str("Allow: ").str(ALLOW).str("\r\nUser-Agent: doorsip\r\n");
    const n = this.endWithSdp(w, c, false);
    if (n < 0) return false;
    const tx = this.layer.sendRequest(w.buf, n, METHOD_INVITE, at, at + c.inviteBranch.length,
      c.targetAddress, c.targetPort, c.targetTransport, now);
    if (tx === null) return false;
    this.layer.setOwner(tx, c.serial);
    c.inviteTx = tx;
    return true;
  }

  private sendCancel(c: Call, now: number): void {
    const w = this.layer.scratch.reset();
    const at = this.writeInviteHead(w, c, "CANCEL");
    w.str("User-Agent: doorsip\r\n");
    const n = w.end(null, 0, 0);
    const tx = n > 0 ? this.layer.sendRequest(w.buf, n, METHOD_CANCEL, at, at + c.inviteBranch.length,
      c.targetAddress, c.targetPort, c.targetTransport, now) : null;
    if (tx !== null) this.layer.setOwner(tx, c.serial);
    c.cancelPending = false;
    c.giveUpAt = now + 64 * this.layer.timers.t1; // §9.1: then the INVITE transaction is over
    this.setState(c, CALL_CANCELLING);
  }

  /** The ACK for a 2xx (§13.2.2.4): its own branch, same CSeq number, the INVITE's credentials, no body. */
  private sendAck(d: Dialog, cseq: number, branch: string, authLine: string): void {
    const w = this.layer.scratch.reset();
    d.writeRequest(w, "ACK", cseq, branch, this.contactAddress, this.contactPort);
    if (authLine !== "") w.str(authLine);
    const n = w.end(null, 0, 0);
    if (n > 0) this.layer.transport.send(w.buf, n, d.hopAddress, d.hopPort, d.hopTransport);
  }

  /** A request within dialog d through a new client transaction (BYE, and the BYE to a stray fork). */
  private sendInDialog(d: Dialog, method: string, methodId: number, owner: number, now: number): Transaction | null {
    const w = this.layer.scratch.reset();
    const branch = "z9hG4bK" + this.token() + this.token();
    d.localCseq++;
    const at = d.writeRequest(w, method, d.localCseq, branch, this.contactAddress, this.contactPort);
    w.str("User-Agent: doorsip\r\n");
    const n = w.end(null, 0, 0);
    const tx = n > 0 ? this.layer.sendRequest(w.buf, n, methodId, at, at + branch.length, d.hopAddress, d.hopPort, d.hopTransport, now) : null;
    if (tx !== null) this.layer.setOwner(tx, owner);
    return tx;
  }

  private sendBye(c: Call, now: number, reason: string): void {
    c.endReason = reason;
    c.awaitingAck = false;
    c.retransmitAt = c.ackDeadline = c.endAt = -1;
    const tx = this.sendInDialog(c.dialog, "BYE", METHOD_BYE, c.serial, now);
    if (tx === null) { this.end(c, now, 0, reason + " (BYE could not be sent)"); return; }
    c.byeTx = tx;
    this.setState(c, CALL_ENDING);
  }

  /**
   * Hangs up whatever the state: CANCEL while ringing (after the first provisional, §9.1), BYE
   * once answered, 486/603-like refusal for an unanswered incoming call (status).
   */
  hangup(c: Call, now: number): void {
    switch (c.state) {
      case CALL_CALLING:
        // A CANCEL may go once any provisional came (a 100 included: the transaction is Proceeding).
        if (c.inviteTx !== null && this.layer.state(c.inviteTx) === TS_PROCEEDING) { this.sendCancel(c, now); return; }
        c.cancelPending = true;
        if (c.giveUpAt < 0) c.giveUpAt = now + 64 * this.layer.timers.t1;
        return;
      case CALL_RINGING: this.sendCancel(c, now); return;
      case CALL_INCOMING: this.reject(c, 603, now); return;
      case CALL_CONNECTING: case CALL_ACTIVE: this.sendBye(c, now, "local hangup"); return;
      case CALL_CANCELLING: c.byeAfterAnswer = true; return;
    }
  }

  /** A 2xx to our INVITE: the dialog is confirmed; ACK it (again for retransmissions). */
  private onInvite2xx(c: Call, msg: SipMessage, now: number): void {
    const d = c.dialog;
    if (d.state === DLG_CONFIRMED) {
      if (spanEquals(msg.src, msg.to.tagStart, msg.to.tagEnd, d.remoteTag)) {
        this.sendAck(d, c.inviteCseq, c.ackBranch, c.authLine); // a retransmission: our ACK was lost
      } else this.byeFork(c, msg, now);
      return;
    }
    if (msg.to.tagStart < 0) { this.note(LOG_WARN, c, "2xx without To tag ignored"); return; }
    d.localCseq = c.inviteCseq;
    if (d.remoteTarget === "") d.remoteTarget = c.target;
    const r = d.fromResponse(msg);
    if (r < 0) this.note(LOG_WARN, c, "2xx with an unusable Contact or route set (" + r + ")");
    d.state = DLG_CONFIRMED;
    c.ackBranch = "z9hG4bK" + this.token() + this.token();
    this.sendAck(d, c.inviteCseq, c.ackBranch, c.authLine);
    c.ringAt = -1;
    c.answeredAt = now;
    if (r < 0) { this.sendBye(c, now, "unusable 2xx"); return; }
    if (c.state === CALL_CANCELLING || c.cancelPending || c.byeAfterAnswer) {
      // The 200 crossed our CANCEL (§9.1): the call was answered after all; end it properly.
      this.sendBye(c, now, "answered after cancel");
      return;
    }
    if (!this.takeAnswer(c, msg)) { this.sendBye(c, now, "no usable media in the answer"); return; }
    if (this.config.maxDuration > 0) c.endAt = now + this.config.maxDuration * 1000;
    this.setState(c, CALL_ACTIVE);
    this.listener.onCallMedia(c);
  }

  /** The fork scratch dialog (made on first use), cleared and set to c's local side, INVITE CSeq and target. */
  private forkOf(c: Call): Dialog {
    if (this.fork === null) this.fork = new Dialog();
    const f = this.fork;
    f.clear();
    f.callId = c.dialog.callId;
    f.localTag = c.dialog.localTag;
    f.localField = c.dialog.localField;
    f.localCseq = c.inviteCseq;
    f.remoteTarget = c.target;
    return f;
  }

  /** A 2xx from a second fork (§13.2.2.4): ACK it, then BYE that dialog. */
  private byeFork(c: Call, msg: SipMessage, now: number): void {
    const seen = this.fork;
    if (seen !== null && seen.callId === c.dialog.callId && spanEquals(msg.src, msg.to.tagStart, msg.to.tagEnd, seen.remoteTag)) {
      // That fork's 2xx again (our ACK was lost): ACK it again; its BYE is already on its way.
      this.sendAck(seen, c.inviteCseq, "z9hG4bK" + this.token() + this.token(), c.authLine);
      return;
    }
    const f = this.forkOf(c);
    if (f.fromResponse(msg) < 0) return;
    this.sendAck(f, c.inviteCseq, "z9hG4bK" + this.token() + this.token(), c.authLine);
    this.sendInDialog(f, "BYE", METHOD_BYE, 0, now);
    this.note(LOG_INFO, c, "a second fork answered: ACK and BYE to it");
  }

  /** The SDP answer in a 2xx (or a 1xx with SDP): the media we send and receive. */
  private takeAnswer(c: Call, msg: SipMessage): boolean {
    if (msg.bodyEnd <= msg.bodyStart || !contentTypeIs(msg, "application", "sdp")) return c.mediaPayload >= 0;
    return this.readAnswer(c, msg);
  }

  /** The SDP answer to our offer in msg: the call's media from it, or false when unusable. Its text goes either way. */
  private readAnswer(c: Call, msg: SipMessage): boolean {
    const s = this.sdp, a = new AudioAnswer(); // made per answer, not kept
    const ok = parseSdp(msg.src, msg.bodyStart, msg.bodyEnd, s) === 0 && negotiateAudio(s, this.config.codecs, a);
    if (ok) this.setMedia(c, s, a, true);
    s.reset(NO_TEXT); // a whole received message (~30 variables on the device), not needed again
    return ok;
  }

  /** weOffered: s is the answer to our offer (else the offer we answer). */
  private setMedia(c: Call, s: SdpSession, a: AudioAnswer, weOffered: boolean): void {
    c.mediaRemoteAddress = s.text(a.addrStart, a.addrEnd);
    c.mediaRemotePort = a.port;
    c.mediaPayload = a.payload;
    c.mediaTelephoneEvent = this.config.telephoneEvent >= 0 ? a.telephoneEvent : -1;
    c.mediaTelephoneEventIn = c.mediaTelephoneEvent >= 0 && weOffered ? this.config.telephoneEvent : c.mediaTelephoneEvent;
    // RFC 2543 hold: a connection address of 0.0.0.0 means "do not send".
    c.mediaDirection = c.mediaRemoteAddress === "0.0.0.0" ? SDP_INACTIVE : a.direction;
  }

  private onInviteResponse(c: Call, msg: SipMessage, now: number): void {
    const s = msg.status;
    if (s < 200) {
      if (s === 100) { if (c.cancelPending) this.sendCancel(c, now); return; }
      if (msg.to.tagStart >= 0 && c.dialog.state === DLG_NONE) {
        const d = c.dialog;
        d.localCseq = c.inviteCseq;
        d.remoteTarget = c.target;
        d.fromResponse(msg);
        if (msg.bodyEnd > msg.bodyStart && this.takeAnswer(c, msg)) this.listener.onCallMedia(c); // early media
      }
      if (c.cancelPending) { this.sendCancel(c, now); return; }
      if (c.state === CALL_CALLING) this.setState(c, CALL_RINGING);
      return;
    }
    if (s < 300) { this.onInvite2xx(c, msg, now); return; }
    if (c.dialog.state === DLG_CONFIRMED) return; // a late failure from another fork
    if (c.state === CALL_CANCELLING || c.cancelPending) { this.end(c, now, s, s === 487 ? "cancelled" : "cancelled (" + s + ")"); return; }
    if (s < 400 && this.redirect(c, msg, now)) return;
    if ((s === 401 || s === 407) && c.digest.onChallenge(msg) === AUTH_RETRY) {
      c.dialog.state = DLG_NONE;
      if (this.sendInvite(c, now)) { this.note(LOG_INFO, c, "answering a " + s + " challenge"); return; }
    }
    // A redirect target that failed (not globally, 6xx): the next one it named.
    if (s < 600 && this.nextRedirect(c, s, now)) return;
    this.end(c, now, s, msg.reason());
  }

  /** 3xx (§8.1.3.4): remember the Contacts (bounded) in order of q, then try the first. */
  private redirect(c: Call, msg: SipMessage, now: number): boolean {
    c.redirectCount = c.redirectNext = 0;
    const k = contacts.begin(msg, HDR_CONTACT);
    while (k.next() && c.redirectCount < MAX_REDIRECT_TARGETS) {
      const v = k.value;
      if (!v.decodeUri() || v.star) continue;
      const u = v.uri;
      if (u.scheme !== SCHEME_SIP && u.scheme !== SCHEME_SIPS) continue;
      const q = v.qStart < 0 ? 1000 : qValue(msg.src, v.qStart, v.qEnd);
      if (q < 0) continue; // a malformed q: not a usable Contact (q=0 is merely the least preferred)
      // Insertion by q, highest first; equal q keep the order they came in.
      let i = c.redirectCount++;
      for (; i > 0 && c.redirectQ[i - 1] < q; i--) { c.redirects[i] = c.redirects[i - 1]; c.redirectQ[i] = c.redirectQ[i - 1]; }
      c.redirects[i] = msg.src.substring(u.start, u.end);
      c.redirectQ[i] = q;
    }
    return this.nextRedirect(c, msg.status, now);
  }

  /** The next remembered redirect target (after a 3xx, or when the last one failed); false when none is left. */
  private nextRedirect(c: Call, status: number, now: number): boolean {
    while (c.redirectNext < c.redirectCount && c.redirectsFollowed < this.config.maxRedirects) {
      const next = c.redirects[c.redirectNext++];
      c.redirectsFollowed++;
      if (next === c.target || !this.setTarget(c, next)) continue;
      c.dialog.state = DLG_NONE;
      c.digest.reset();
      if (this.sendInvite(c, now)) {
        this.note(LOG_INFO, c, status + ": trying the redirect target " + next);
        c.peer = next;
        return true;
      }
    }
    return false;
  }

  // ----------------------------------------------------------------------------------------
  // UAS: INVITE, ACK, CANCEL, BYE, INFO, re-INVITE
  // ----------------------------------------------------------------------------------------

  private respond(tx: Transaction, msg: SipMessage, status: number, reason: string, toTag: string | null, now: number): void {
    // A plain 200 OK (no tag to add: none given, or the request's To has one): the layer can write it again.
    if (status === 200 && (toTag === null || msg.to.tagStart >= 0)) { this.layer.respondOk(tx, msg, now); return; }
    const w = this.layer.scratch.reset();
    writeResponseHead(w, msg, status, reason, toTag);
    if (status === 405 || status === 415) w.str("Allow: ").str(ALLOW).crlf();
    if (status === 415) w.str("Accept: application/sdp, application/dtmf-relay, application/dtmf\r\n");
    if (status === 500) w.str("Retry-After: ").num((this.random.u32() >>> 0) % 10).crlf();
    if (status === 401 && this.challenger !== null) this.challenger.writeChallenge(w);
    w.str(SERVER_LINE);
    const n = w.end(null, 0, 0);
    if (n > 0) this.layer.respond(tx, w.buf, n, status, now);
    // No such dialog: answered statelessly (§8.2.7), so guessed BYEs and INFOs cannot fill the pool.
    if (status === 481) this.layer.terminate(tx);
  }

  /**
   * The SDP offer of an INVITE: 0 ok (the call's media and what its answer needs taken from it), or the
   * status to refuse it with. The offer's text is let go (a whole received message): the call keeps what it
   * needs, so a second INVITE parsed before this call answers changes nothing of its answer.
   */
  private readOffer(c: Call, msg: SipMessage): number {
    if (msg.bodyEnd <= msg.bodyStart) return 0;
    if (!contentTypeIs(msg, "application", "sdp")) return msg.findHeader(HDR_CONTENT_TYPE) < 0 ? 400 : 415;
    const s = this.sdp, a = new AudioAnswer(); // made per offer, not kept
    const status = parseSdp(msg.src, msg.bodyStart, msg.bodyEnd, s) < 0 ? 400 : negotiateAudio(s, this.config.codecs, a) ? 0 : 488;
    if (status === 0) {
      this.setMedia(c, s, a, false);
      c.answerDirection = a.direction;
      c.offerAudioAt = a.mediaIndex;
      c.offerRejected = s.mediaCount > 1 ? rejectedMedia(s, a) : NO_TEXT;
    }
    s.reset(NO_TEXT);
    return status;
  }

  /**
   * A new INVITE (no To tag). The application's policy speaks first (a refused or dropped caller learns
   * nothing else, not even that we are busy); then capacity (486) and the offer (488/415/400).
   */
  private onNewInvite(tx: Transaction, msg: SipMessage, now: number): void {
    const c = this.allocate(now);
    if (c !== null) {
      c.outgoing = false;
      c.peer = msg.from.decodeUri() ? msg.src.substring(msg.from.uri.start, msg.from.uri.end) : "";
      c.state = CALL_INCOMING;
    }
    const verdict = this.listener.onIncoming(c, msg);
    const refused = verdict === INCOMING_DROP || verdict >= 300;
    if (refused || c === null) {
      // Refused by policy, or busy: the slot goes back silently (the application decided, it needs no event).
      if (c !== null) c.reset();
      // Answered statelessly (§8.2.7): the transaction ends at once, so a scanner that never ACKs cannot
      // hold the pool for Timer H; a retransmitted INVITE is judged (and answered) again.
      if (verdict !== INCOMING_DROP) this.respond(tx, msg, refused ? verdict : 486, reasonPhrase(refused ? verdict : 486), statelessToTag(msg), now);
      this.layer.terminate(tx); // a drop: no answer at all, not even 100 Trying
      return;
    }
    const r = c.dialog.fromRequest(msg, this.token());
    if (r < 0) {
      c.reset();
      this.respond(tx, msg, 400, "Bad Request (Contact or Record-Route)", this.token(), now);
      return;
    }
    const offer = this.liveCount() > this.config.maxCalls ? 486 : this.readOffer(c, msg);
    if (offer !== 0) {
      this.respond(tx, msg, offer, reasonPhrase(offer), c.dialog.localTag, now);
      c.reset();
      return;
    }
    const hasOffer = msg.bodyEnd > msg.bodyStart;
    c.inviteTx = tx;
    this.layer.setOwner(tx, c.serial);
    c.offerInAnswer = !hasOffer;
    const cfg = this.config;
    this.listener.onCallState(c);
    // INCOMING_RING: ring until the application answers; else the configured answer delay.
    const delay = verdict === INCOMING_RING ? -1 : cfg.answerDelay;
    if (cfg.ringing && delay !== 0) {
      const w = this.layer.scratch.reset();
      writeResponseHead(w, msg, 180, "Ringing", c.dialog.localTag);
      for (let i = 0; i < c.dialog.routeCount; i++) w.str("Record-Route: ").str(c.dialog.routes[i]).crlf(); // §12.1.1
      this.writeContact(w, this.layer.transportOf(tx));
      const n = w.end(null, 0, 0);
      if (n > 0) this.layer.respond(tx, w.buf, n, 180, now);
    }
    if (cfg.ringTimeout > 0) c.ringAt = now + cfg.ringTimeout * 1000;
    // At once is at the next poll (due now): the 200 is then written once the INVITE's handling has
    // returned and its text is let go, not on top of it (on a device, the busiest moment of a call).
    if (delay >= 0) c.answerAt = now + delay;
  }

  /** Sends the 200 with our SDP (answer, or offer for an INVITE without one). */
  private answerWith(c: Call, msg: SipMessage | null, now: number): void {
    const tx = c.inviteTx;
    if (tx === null || this.layer.state(tx) === TS_FREE) { this.end(c, now, 0, "INVITE transaction gone"); return; }
    const w = this.layer.scratch.reset();
    if (msg !== null) writeResponseHead(w, msg, 200, "OK", c.dialog.localTag);
    else if (!this.rewriteHead(w, tx, c.dialog.localTag, 200, "OK")) { this.end(c, now, 0, "could not re-read the INVITE"); return; }
    // §12.1.1: a response that makes a dialog copies the request's Record-Route (the UAS route set, in order).
    for (let i = 0; i < c.dialog.routeCount; i++) w.str("Record-Route: ").str(c.dialog.routes[i]).crlf();
    this.writeContact(w, this.layer.transportOf(tx));
    w.str("Allow: ").str(ALLOW).str("\r\nSupported: \r\nServer: doorsip\r\n");
    const n = this.endWithSdp(w, c, !c.offerInAnswer);
    if (n < 0 || !this.layer.respond(tx, w.buf, n, 200, now)) { this.end(c, now, 500, "200 does not fit"); return; }
    c.answeredAt = now;
    c.answerAt = c.ringAt = -1;
    c.awaitingAck = true;
    c.retransmitInterval = this.layer.timers.t1;
    c.retransmitAt = now + c.retransmitInterval;
    c.ackDeadline = now + 64 * this.layer.timers.t1;
    if (this.config.maxDuration > 0) c.endAt = now + this.config.maxDuration * 1000;
    if (c.dialog.state === DLG_EARLY) c.dialog.state = DLG_CONFIRMED;
    this.setState(c, CALL_CONNECTING);
    if (!c.offerInAnswer) this.listener.onCallMedia(c);
  }

  /**
   * The response head again when the INVITE is no longer at hand (a delayed answer, CANCEL, ring
   * timeout): the transaction keeps the last response it sent (the 100 it prepared, or our 180),
   * whose Via, From, To, Call-ID and CSeq are what a final response needs. Writes the status line and
   * those lines, leaving out Content-Length, Contact, Record-Route and Timestamp, and adds our tag to a
   * To without one (the 100's).
   */
  private rewriteHead(w: SipWriter, tx: Transaction, toTag: string, status: number, reason: string): boolean {
    const b = this.layer.keptBytes(tx);
    const len = this.layer.keptLength(tx);
    let q = 0;
    while (q < len && b[q] !== 10) q++; // skip the status line
    q++;
    if (q >= len) return false;
    w.statusLine(status, reason);
    while (q < len) {
      let e = q;
      while (e < len && b[e] !== 10) e++;
      if (e - q <= 1) break; // the blank line
      const c0 = b[q] | 0x20;
      const c1 = b[q + 1] | 0x20;
      const isContentLength = c0 === 99 && c1 === 111 && b[q + 7] === 45; // "Content-"
      const isContact = c0 === 99 && c1 === 111 && b[q + 7] === 58; // "Contact:"
      const isTimestamp = c0 === 116 && c1 === 105; // "Timestamp:"
      const isTo = c0 === 116 && b[q + 1] === 111 && b[q + 2] === 58; // "To:"
      const isRecordRoute = c0 === 114 && b[q + 6] === 45 && (b[q + 7] | 0x20) === 114; // "Record-Route" (rewritten)
      if (isTo && !hasTag(b, q, e)) {
        for (let i = q; i < e - 1; i++) w.byte(b[i]); // without the CR LF
        w.str(";tag=").str(toTag).crlf();
      } else if (!isContentLength && !isContact && !isTimestamp && !isRecordRoute) {
        for (let i = q; i <= e; i++) w.byte(b[i]);
      }
      q = e + 1;
    }
    return !w.overflow;
  }

  /** The application answers an incoming call (answerDelay -1). */
  answerCall(c: Call, now: number): void {
    if (c.state === CALL_INCOMING) this.answerWith(c, null, now);
  }

  /** The application refuses an incoming call it has not answered (486, 603, 480...). */
  reject(c: Call, status: number, now: number): void {
    if (c.state !== CALL_INCOMING) return;
    this.respondInvite(c, status, now);
    this.end(c, now, status, status === 480 ? "not answered" : "refused");
  }

  /** Requests for the calls: INVITE, BYE, INFO, CANCEL. Returns false for what the UA answers itself. */
  onRequest(tx: Transaction, msg: SipMessage, now: number): boolean {
    const m = msg.method;
    if (m === METHOD_CANCEL) {
      // §9.2: 200 to the CANCEL; when the INVITE is still unanswered, 487 to it and the call ends.
      const target = this.layer.findCancelTarget(msg);
      const c = target === null ? null : this.callOf(target);
      // §8.2.6.2, §9.2: a To tag on both answers, the 200's the one the 487 carries.
      if (target === null) this.respond(tx, msg, 481, "Call/Transaction Does Not Exist", statelessToTag(msg), now);
      else {
        this.respond(tx, msg, 200, "OK", c !== null ? c.dialog.localTag : statelessToTag(msg), now);
        if (c !== null && c.state === CALL_INCOMING) {
          this.respondInvite(c, 487, now);
          this.end(c, now, 487, "cancelled by the caller");
        }
      }
      return true;
    }
    if (m === METHOD_INVITE && msg.to.tagStart < 0) { this.onNewInvite(tx, msg, now); return true; }
    if (m !== METHOD_INVITE && m !== METHOD_BYE && m !== METHOD_INFO) return false;
    const c = this.findDialog(msg);
    if (c === null) { this.respond(tx, msg, 481, "Call/Transaction Does Not Exist", null, now); return true; }
    if (!c.dialog.acceptCseq(msg)) { this.respond(tx, msg, 500, "CSeq Out of Order", null, now); return true; }
    if (m === METHOD_BYE) {
      // The 200 goes out when this handling returns (respondOkLater), unless a 487 must follow it.
      if (c.state === CALL_INCOMING) {
        this.respond(tx, msg, 200, "OK", null, now);
        this.respondInvite(c, 487, now);
      } else this.layer.respondOkLater(tx, msg, now);
      this.end(c, now, 0, "remote hangup");
    } else if (m === METHOD_INFO) {
      // A digit in application/dtmf-relay or application/dtmf; an INFO without a body gets its 200 too.
      if (msg.bodyEnd <= msg.bodyStart) { this.layer.respondOkLater(tx, msg, now); return true; }
      const relay = contentTypeIs(msg, "application", "dtmf-relay");
      if (!relay && !contentTypeIs(msg, "application", "dtmf")) { this.respond(tx, msg, 415, "Unsupported Media Type", null, now); return true; }
      const digit = parseDtmfInfo(msg.src, msg.bodyStart, msg.bodyEnd, relay);
      if (digit < 0) { this.respond(tx, msg, 400, "Bad Request (DTMF body)", null, now); return true; }
      this.layer.respondOkLater(tx, msg, now);
      this.listener.onInfoDigit(c, digit);
    } else this.onReinvite(c, tx, msg, now);
    return true;
  }

  private findDialog(msg: SipMessage): Call | null {
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.state !== CALL_FREE && c.dialog.matchesRequest(msg)) return c;
    }
    return null;
  }

  /** A re-INVITE (§14.2): a new offer (hold, resume, new address) or none (we offer in the 200). */
  private onReinvite(c: Call, tx: Transaction, msg: SipMessage, now: number): void {
    if (c.state !== CALL_ACTIVE || c.awaitingAck) {
      // §14.2: an INVITE before we answered the previous one is 500 with Retry-After.
      this.respond(tx, msg, c.state === CALL_ACTIVE ? 500 : 491, c.state === CALL_ACTIVE ? "Server Internal Error" : "Request Pending", null, now);
      return;
    }
    const offer = this.readOffer(c, msg);
    if (offer !== 0) { this.respond(tx, msg, offer, offer === 488 ? "Not Acceptable Here" : "Bad Request (SDP)", null, now); return; }
    c.dialog.refreshTarget(msg);
    const hasOffer = msg.bodyEnd > msg.bodyStart;
    c.offerInAnswer = !hasOffer;
    c.inviteTx = tx;
    this.layer.setOwner(tx, c.serial);
    const w = this.layer.scratch.reset();
    writeResponseHead(w, msg, 200, "OK", null);
    this.writeContact(w, this.layer.transportOf(tx));
    w.str("Allow: ").str(ALLOW).str("\r\nServer: doorsip\r\n");
    // No offer: offer our codecs again (RFC 3264 §8), in the configured order; the ACK's answer picks one.
    const n = this.endWithSdp(w, c, hasOffer);
    if (n < 0 || !this.layer.respond(tx, w.buf, n, 200, now)) return;
    c.awaitingAck = true;
    c.retransmitInterval = this.layer.timers.t1;
    c.retransmitAt = now + c.retransmitInterval;
    c.ackDeadline = now + 64 * this.layer.timers.t1;
    this.note(LOG_INFO, c, "re-INVITE answered (" + (hasOffer ? "new offer" : "we offered") + ")");
    if (hasOffer) this.listener.onCallMedia(c);
  }

  /** Sends a final status to the call's unanswered INVITE (487 after CANCEL or BYE, 480, a refusal). */
  private respondInvite(c: Call, status: number, now: number): void {
    const tx = c.inviteTx;
    if (tx === null || this.layer.state(tx) === TS_FREE) return;
    const w = this.layer.scratch.reset();
    if (!this.rewriteHead(w, tx, c.dialog.localTag, status, reasonPhrase(status))) return;
    const n = w.end(null, 0, 0);
    if (n > 0) this.layer.respond(tx, w.buf, n, status, now);
  }


  /** An ACK for a 2xx we sent (the transaction layer passes those to the TU). */
  onAck(msg: SipMessage, now: number): void {
    if (msg.method !== METHOD_ACK) return;
    const c = this.findDialog(msg);
    if (c === null || !c.awaitingAck) return;
    c.awaitingAck = false;
    c.retransmitAt = c.ackDeadline = -1;
    // The 2xx is not sent again (RFC 6026: Accepted absorbs INVITE retransmissions): its copy goes now, not at Timer L.
    if (c.inviteTx !== null) this.layer.release(c.inviteTx);
    if (c.offerInAnswer) {
      // The ACK carries the answer to the offer in our 200.
      c.offerInAnswer = false;
      if (msg.bodyEnd > msg.bodyStart && this.readAnswer(c, msg)) {
        this.listener.onCallMedia(c);
      } else if (c.mediaPayload < 0) {
        this.setState(c, CALL_ACTIVE);
        this.sendBye(c, now, "no usable answer in the ACK");
        return;
      }
    }
    this.setState(c, CALL_ACTIVE);
  }

  // ----------------------------------------------------------------------------------------
  // Responses and timers
  // ----------------------------------------------------------------------------------------

  /** A response to a transaction this manager owns (callOf(tx) !== null). */
  onResponse(tx: Transaction, msg: SipMessage, now: number): void {
    const c = this.callOf(tx);
    // The call is gone (a 2xx from a fork after another fork's final answer ended it): as a stray one.
    if (c === null) { this.onStrayResponse(msg, now); return; }
    if (c.inviteTx === tx && msg.cseqMethod === METHOD_INVITE) { this.onInviteResponse(c, msg, now); return; }
    if (c.byeTx === tx && msg.status >= 200) { this.end(c, now, msg.status, c.endReason || "hung up"); return; }
    // A CANCEL's response needs nothing: the INVITE's 487 (or 200) decides.
  }

  /** A 2xx retransmission after the INVITE transaction ended (Timer M): ACK again; or a late fork's 2xx. */
  onStrayResponse(msg: SipMessage, now: number): void {
    if (msg.cseqMethod !== METHOD_INVITE || msg.status < 200 || msg.status >= 300) return;
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      const d = c.dialog;
      if (c.outgoing && d.state === DLG_CONFIRMED && msg.cseq === c.inviteCseq &&
          spanEquals(msg.src, msg.callIdStart, msg.callIdEnd, d.callId) &&
          spanEquals(msg.src, msg.to.tagStart, msg.to.tagEnd, d.remoteTag)) {
        this.sendAck(d, c.inviteCseq, c.ackBranch, c.authLine);
        return;
      }
    }
    // A fork answering a call that has ended meanwhile: ACK it and BYE it (once; its retransmissions get ACKs).
    const f = this.fork;
    if (f === null || now > this.endedUntil || msg.cseq !== this.endedCseq || msg.to.tagStart < 0 || f.callId !== this.endedCallId ||
        !spanEquals(msg.src, msg.callIdStart, msg.callIdEnd, this.endedCallId)) return;
    const again = f.remoteTag !== "" && spanEquals(msg.src, msg.to.tagStart, msg.to.tagEnd, f.remoteTag);
    if (!again) {
      f.localCseq = this.endedCseq;
      if (f.fromResponse(msg) < 0) return;
    }
    this.sendAck(f, this.endedCseq, "z9hG4bK" + this.token() + this.token(), this.endedAuthLine);
    if (!again) {
      this.sendInDialog(f, "BYE", METHOD_BYE, 0, now);
      this.log.write(LOG_INFO, "a fork answered a call that had ended: ACK and BYE to it");
    }
  }

  /** Timer B/F or a transport failure on one of our transactions. */
  onTimeout(tx: Transaction, now: number, transportError: boolean): void {
    const c = this.callOf(tx);
    if (c === null) return;
    if (c.inviteTx === tx) {
      const giveUp = c.cancelPending || c.state === CALL_CANCELLING;
      if (c.outgoing && c.dialog.state !== DLG_CONFIRMED && (giveUp || !this.nextRedirect(c, 408, now))) {
        this.end(c, now, transportError ? 503 : 408, transportError ? "could not send" : "no answer (timeout)");
      }
      return;
    }
    if (c.byeTx === tx) this.end(c, now, 408, c.endReason + " (BYE unanswered)");
  }

  /** The earliest time poll() has work, -1 when none. */
  nextDeadline(): number {
    let at = -1;
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.state === CALL_FREE) continue;
      at = earliest(at, c.ringAt);
      at = earliest(at, c.answerAt);
      at = earliest(at, c.endAt);
      at = earliest(at, c.ackDeadline);
      at = earliest(at, c.retransmitAt);
      at = earliest(at, c.giveUpAt);
    }
    return at;
  }

  /** @keepParams: under a timer's send. */
  poll(now: number): void {
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.state === CALL_FREE) continue;
      if (c.giveUpAt >= 0 && c.giveUpAt <= now) {
        c.giveUpAt = -1;
        if (c.state === CALL_CANCELLING || c.state === CALL_CALLING) {
          // §9.1: no final response 64·T1 after CANCEL: the INVITE transaction is given up.
          if (c.inviteTx !== null) this.layer.terminate(c.inviteTx); // a stale handle is ignored
          this.end(c, now, 408, "cancelled (no final response)");
          continue;
        }
      }
      if (c.answerAt >= 0 && c.answerAt <= now) {
        c.answerAt = -1;
        if (c.state === CALL_INCOMING) this.answerWith(c, null, now);
      }
      if (c.ringAt >= 0 && c.ringAt <= now) {
        c.ringAt = -1;
        if (c.state === CALL_INCOMING) {
          this.respondInvite(c, 480, now);
          this.end(c, now, 480, "not answered");
          continue;
        }
        if (c.state === CALL_CALLING || c.state === CALL_RINGING) {
          this.note(LOG_INFO, c, "ring timeout");
          c.ringExpired = true;
          this.hangup(c, now);
        }
      }
      if (c.awaitingAck && c.ackDeadline >= 0 && c.ackDeadline <= now) {
        // §13.3.1.4: no ACK for 64·T1: the session ends with a BYE.
        this.setState(c, CALL_ACTIVE);
        this.sendBye(c, now, "no ACK");
        continue;
      }
      if (c.awaitingAck && c.retransmitAt >= 0 && c.retransmitAt <= now) {
        const tx = c.inviteTx;
        // Over TCP too: a proxy further on may forward it over UDP (§13.3.1.4 "independent of the transport").
        if (tx !== null) this.layer.respond(tx, this.layer.keptBytes(tx), this.layer.keptLength(tx), 200, now); // refused when stale
        const t2 = this.layer.timers.t2;
        c.retransmitInterval = c.retransmitInterval * 2 > t2 ? t2 : c.retransmitInterval * 2;
        c.retransmitAt = now + c.retransmitInterval;
      }
      if (c.endAt >= 0 && c.endAt <= now) {
        c.endAt = -1;
        if (c.state === CALL_ACTIVE || c.state === CALL_CONNECTING) this.sendBye(c, now, "maximum call duration");
      }
    }
  }
}

/** The header line b[s, e) has a ";tag=" parameter. */
function hasTag(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i + 4 < e; i++) {
    if (b[i] === 59 && (b[i + 1] | 0x20) === 116 && (b[i + 2] | 0x20) === 97 && (b[i + 3] | 0x20) === 103 && b[i + 4] === 61) return true;
  }
  return false;
}

/** Reason phrases of the final statuses a call sends on its own. */
function reasonPhrase(status: number): string {
  switch (status) {
    case 400: return "Bad Request (SDP)";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 415: return "Unsupported Media Type";
    case 404: return "Not Found";
    case 480: return "Temporarily Unavailable";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 603: return "Decline";
  }
  return status < 500 ? "Request Failed" : status < 600 ? "Server Error" : "Decline";
}



/** A q value (RFC 3261 §25.1 qvalue) in thousandths: "0.5" 500, "1" 1000; -1 when malformed. */
function qValue(src: string, s: number, e: number): number {
  const lead = src.charCodeAt(s);
  if (e <= s || (lead !== 48 && lead !== 49) || (e > s + 1 && src.charCodeAt(s + 1) !== 46) || e > s + 5) return -1;
  let v = (lead - 48) * 1000;
  for (let i = s + 2, scale = 100; i < e; i++, scale /= 10) {
    const d = src.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v += d * scale;
  }
  return v > 1000 ? -1 : v;
}
