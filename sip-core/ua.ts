// RFC 3261 §8.2 UAS request inspection and the UA core: one transaction user routing to registrations and calls, answering the rest.
import {
  field, HDR_REQUIRE, METHOD_BYE, METHOD_CANCEL, METHOD_INFO, METHOD_INVITE, METHOD_OPTIONS, METHOD_OTHER,
} from "./constants.ts";
import type { RandomSource } from "./auth.ts";
import { CallManager, type CallConfig, type CallListener, type CallLog } from "./call.ts";
import { tokenWalker } from "./headers.ts";
import type { ParserLimits, SipMessage } from "./message.ts";
import { Registration, type AccountConfig } from "./register.ts";
import { earliest } from "./deadline.ts";
import type { Transaction, TransactionUser, TransportPort } from "./transaction.ts";
import { TransactionLayer, type TransactionLayerConfig } from "./transactions.ts";
import { SipTransport } from "./transport.ts";
import { SCHEME_SIP, SCHEME_SIPS } from "./uri.ts";
import { SERVER_LINE, writeResponseHead } from "./writer.ts";

export const UA_ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";

// Module-level, not a field: on Espruino 2v29 a derived class (TokenCursor extends ListWalker) cannot be
// constructed while another class's super() call is running (the door phone's super() builds this UA).
// The shared walker of headers.ts: the UA walks Require once per request, nothing nested.
const requireTokens = tokenWalker;

export interface UaClock {
  now(): number;
}

// What a UaTrace hears (traceName gives its name).
export const TRACE_REQUEST = 0;
export const TRACE_RESPONSE = 1;
export const TRACE_TIMEOUT = 2;
export const TRACE_TRANSPORT_ERROR = 3;
export const TRACE_TERMINATED = 4;
export const TRACE_ACK = 5;
export const TRACE_STRAY = 6;
const TRACE_NAMES = "request|response|timeout|transport-error|terminated|ack|stray";
/** The name of a TRACE_* kind. */
export function traceName(kind: number): string { return field(TRACE_NAMES, kind); }

/**
 * Hears every request, response and transaction end the UA handles, for logs and tests. It gets the
 * message or transaction itself and makes text only if it wants some: nothing is allocated per message
 * on the device's path.
 */
export interface UaTrace {
  trace(kind: number, msg: SipMessage | null, tx: Transaction | null): void;
}

/** Sees each new request first and may take it (a registrar or a test double built on the UA). */
export interface RequestFilter {
  onRequest(tx: Transaction, msg: SipMessage): boolean;
}

export interface UserAgentOptions {
  transactions: TransactionLayerConfig;
  limits: ParserLimits;
  /** Where the stack sends bytes (the platform's sockets). */
  port: TransportPort;
  clock: UaClock;
  random: RandomSource;
  log: CallLog;
  /** Accounts to keep registered (at most maxAccounts are used). */
  accounts: AccountConfig[];
  maxAccounts: number;
  /** Calls: their identity and policy, the pool size and the listener; null for a UA without calls. */
  calls: CallConfig | null;
  callCapacity: number;
  listener: CallListener | null;
  trace: UaTrace | null;
}

/** What the UA answered on its own (§8.2 inspection). An interface: the UA makes the one literal. */
export interface UaStats {
  options: number;
  notAllowed: number;
  notImplemented: number;
  badExtension: number;
  badScheme: number;
  noDialog: number;
}

/**
 * The UA core. Requests: 501 for unknown methods, 405 + Allow for known ones we do not do, 416 for
 * a non-SIP Request-URI, 420 + Unsupported for any Require (we support no extension), 200 to
 * OPTIONS with Allow/Accept/Supported; INVITE, BYE, INFO and CANCEL go to the calls (481 when no
 * dialog matches). Responses go to the registration or call that owns the transaction.
 */
export class UserAgent implements TransactionUser {
  readonly layer: TransactionLayer;
  readonly transport: SipTransport;
  readonly registrations: Registration[] = [];
  readonly calls: CallManager | null;
  readonly stats: UaStats = { options: 0, notAllowed: 0, notImplemented: 0, badExtension: 0, badScheme: 0, noDialog: 0 };
  requestFilter: RequestFilter | null = null;
  private readonly clock: UaClock;
  private readonly trace: UaTrace | null;
  private counter = 0;
  private readonly random: RandomSource;

  constructor(o: UserAgentOptions) {
    this.clock = o.clock;
    this.trace = o.trace;
    this.random = o.random;
    this.layer = new TransactionLayer(o.transactions, o.port, this);
    this.transport = new SipTransport(this.layer, o.port, o.limits, o.transactions.bufferSize);
    for (let i = 0; i < o.accounts.length && i < o.maxAccounts; i++) {
      const r = new Registration(o.accounts[i], this.layer, o.random, o.log, o.transactions.bufferSize);
      r.pinger = this.transport;
      this.registrations.push(r);
    }
    this.calls = o.calls !== null && o.listener !== null
      ? new CallManager(o.calls, this.layer, o.random, o.listener, o.log, o.callCapacity, o.transactions.bufferSize) : null;
  }

  /** The earliest time poll() has work, -1 when none. */
  nextDeadline(): number {
    let at = this.layer.nextDeadline();
    for (let i = 0; i < this.registrations.length; i++) at = earliest(at, this.registrations[i].nextDeadline());
    return this.calls !== null ? earliest(at, this.calls.nextDeadline()) : at;
  }

  /** @keepParams: under every timer's send. */
  poll(now: number): void {
    this.layer.poll(now);
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].poll(now);
    if (this.calls !== null) this.calls.poll(now);
  }

  /** The connection to address:port closed (TCP): registrations that rode on it register again. */
  onFlowClosed(address: string, port: number, now: number): void {
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].onFlowClosed(address, port, now);
  }

  /** A pong came from address:port (RFC 5626 keep-alive). */
  onPong(address: string, port: number): void {
    for (let i = 0; i < this.registrations.length; i++) this.registrations[i].onPong(address, port);
  }

  private registrationOf(tx: Transaction): Registration | null {
    for (let i = 0; i < this.registrations.length; i++) if (this.registrations[i].owns(tx)) return this.registrations[i];
    return null;
  }

  private answer(tx: Transaction, msg: SipMessage, status: number, reason: string, now: number): void {
    const w = this.layer.scratch.reset(); // written and handed to respond() at once
    // A To tag of our own: random, and a counter so two answers never share one.
    writeResponseHead(w, msg, status, reason, (this.random.u32() >>> 0).toString(36) + (++this.counter).toString(36));
    if (status === 200 || status === 405) w.str("Allow: ").str(UA_ALLOW).crlf();
    if (status === 200) w.str("Accept: application/sdp\r\nSupported: \r\n");
    if (status === 420) {
      // Unsupported lists every option of Require (§8.2.2.3).
      w.str("Unsupported: ");
      const t = requireTokens.begin(msg, HDR_REQUIRE);
      let first = true;
      while (t.next()) {
        if (!first) w.str(", ");
        w.span(msg.src, t.itemStart, t.itemEnd);
        first = false;
      }
      w.crlf();
    }
    w.str(SERVER_LINE);
    const n = w.end(null, 0, 0);
    if (n > 0) this.layer.respond(tx, w.buf, n, status, now);
    // What the UA answers on its own (OPTIONS, §8.2 refusals, 481) is answered statelessly (§8.2.7): a
    // retransmission is answered again, and a flood of them does not hold the pool for Timer J.
    this.layer.terminate(tx);
  }

  // --- TransactionUser ---------------------------------------------------------------------

  onRequest(tx: Transaction, msg: SipMessage): void {
    const now = this.clock.now();
    const m = msg.method;
    if (this.trace !== null) this.trace.trace(TRACE_REQUEST, msg, tx);
    if (this.requestFilter !== null && this.requestFilter.onRequest(tx, msg)) return;
    const s = this.stats;
    if (m === METHOD_OTHER) { s.notImplemented++; this.answer(tx, msg, 501, "Not Implemented", now); return; }
    if (m !== METHOD_INVITE && m !== METHOD_BYE && m !== METHOD_CANCEL && m !== METHOD_OPTIONS && m !== METHOD_INFO) {
      s.notAllowed++;
      this.answer(tx, msg, 405, "Method Not Allowed", now);
      return;
    }
    if (!msg.decodeRequestUri() || (msg.requestUri.scheme !== SCHEME_SIP && msg.requestUri.scheme !== SCHEME_SIPS)) {
      s.badScheme++;
      this.answer(tx, msg, 416, "Unsupported URI Scheme", now);
      return;
    }
    if (m !== METHOD_CANCEL && msg.findHeader(HDR_REQUIRE) >= 0 && requireTokens.begin(msg, HDR_REQUIRE).next()) {
      s.badExtension++;
      this.answer(tx, msg, 420, "Bad Extension", now);
      return;
    }
    if (m === METHOD_OPTIONS) { s.options++; this.answer(tx, msg, 200, "OK", now); return; }
    if (this.calls !== null && this.calls.onRequest(tx, msg, now)) return;
    if (m === METHOD_INVITE && msg.to.tagStart < 0) { this.answer(tx, msg, 480, "Temporarily Unavailable", now); return; }
    s.noDialog++;
    this.answer(tx, msg, 481, "Call/Transaction Does Not Exist", now);
  }

  onResponse(tx: Transaction, msg: SipMessage): void {
    const now = this.clock.now();
    if (this.trace !== null) this.trace.trace(TRACE_RESPONSE, msg, tx);
    const r = this.registrationOf(tx);
    if (r !== null) {
      r.onResponse(msg, now);
      // Calls use the contact address the first registration learned (RFC 3581: what the registrar sees).
      const first = this.registrations[0];
      if (this.calls !== null) { this.calls.contactAddress = first.contactAddress; this.calls.contactPort = first.contactPort; }
      return;
    }
    if (this.calls !== null) this.calls.onResponse(tx, msg, now);
  }

  onTimeout(tx: Transaction): void {
    const now = this.clock.now();
    if (this.trace !== null) this.trace.trace(TRACE_TIMEOUT, null, tx);
    const r = this.registrationOf(tx);
    if (r !== null) { r.onTimeout(now, tx); return; }
    if (this.calls !== null) this.calls.onTimeout(tx, now, false);
  }

  onTransportError(tx: Transaction): void {
    if (this.trace !== null) this.trace.trace(TRACE_TRANSPORT_ERROR, null, tx);
    if (this.calls !== null) this.calls.onTimeout(tx, this.clock.now(), true);
  }

  onTerminated(tx: Transaction): void {
    if (this.trace !== null) this.trace.trace(TRACE_TERMINATED, null, tx);
  }

  onAck(msg: SipMessage, _address: string, _port: number): void {
    if (this.trace !== null) this.trace.trace(TRACE_ACK, msg, null);
    if (this.calls !== null) this.calls.onAck(msg, this.clock.now());
  }

  onStrayResponse(msg: SipMessage, _address: string, _port: number, now: number): void {
    if (this.trace !== null) this.trace.trace(TRACE_STRAY, msg, null);
    if (this.calls !== null) this.calls.onStrayResponse(msg, now);
  }
}
