// RFC 3261 §17 transaction layer: a fixed pool, constant-time matching (§17.1.3, §17.2.3), per-slot deadlines, 503 when full.
import { METHOD_ACK, METHOD_CANCEL, METHOD_INVITE } from "./constants.ts";
import type { SipMessage } from "./message.ts";
import {
  AT_INTERVAL, AT_LINGER, AT_NEXT, AT_RETRANSMIT, AT_TIMEOUT, AT_TRYING, BRANCH_CAPACITY, SLOT_TIMES, DEFAULT_TIMERS, NO_BYTES, TRANSPORT_UDP, TS_FREE, TS_TERMINATED, TX_INVITE_CLIENT, TX_INVITE_SERVER,
  TX_NON_INVITE_CLIENT, TX_NON_INVITE_SERVER, keepBytes, type TimerConfig, type Transaction, type TransactionUser, type TransportPort,
} from "./transaction.ts";
import { earliest } from "./timerheap.ts";
import { FNV_BASIS, fnv1aSpan, fnv1aStep } from "./scan.ts";
import { SipWriter, statelessToTag, writeResponseHead } from "./writer.ts";
import { ictOnResponse, ictOnTimer, ictStart } from "./ictrans.ts";
import { nictOnResponse, nictOnTimer, nictStart } from "./nictrans.ts";
import { istOnAck, istOnRespond, istOnRetransmission, istOnTimer, istStart } from "./istrans.ts";
import { nistOnRespond, nistOnRetransmission, nistOnTimer, nistStart } from "./nistrans.ts";

export interface TransactionLayerConfig {
  /** Transactions alive at once (client and server together). A request beyond it gets 503. */
  capacity: number;
  /** Bytes kept per transaction for retransmission (the largest request or response sent). */
  bufferSize: number;
  timers: TimerConfig;
  /** Seconds put in Retry-After of the 503 sent when the pool is full. */
  retryAfter: number;
  /**
   * Keep each retransmission copy in an array of the message's own size, made when it is kept and dropped
   * as soon as no retransmission can need it (a non-INVITE client's after its final response, an INVITE
   * client's after a 2xx, every slot's when it ends): memory follows what is in flight instead of
   * capacity × bufferSize allocated at start-up (a device: 16 slots × 1,500 bytes are ~1,000 variables on
   * Espruino). Allocates per transaction. Default false: one bufferSize buffer per slot, at start-up.
   */
  exactCopies?: boolean;
}

export const DEFAULT_TRANSACTION_CONFIG: TransactionLayerConfig = { capacity: 32, bufferSize: 1500, timers: DEFAULT_TIMERS, retryAfter: 5 };

/** Counters a status call or a test reads; never reset by the layer. An interface: the layer makes the one literal. */
export interface TransactionStats {
  created: number;
  terminated: number;
  retransmissionsSent: number;
  retransmissionsAbsorbed: number;
  poolFull: number;
  merged: number;
  strayResponses: number;
  transportErrors: number;
}

/** Field k of a block of per-slot fields: a view, one variable on Espruino where an array of its own costs three. */
function i32Field(block: Int32Array, k: number, n: number): Int32Array { return new Int32Array(block.buffer, k * 4 * n, n); }

/** FNV-1a of the four bytes of a 32-bit number, continuing from h. */
function fnvNumber(v: number, h: number): number {
  for (let i = 0; i < 4; i++) h = fnv1aStep(h, (v >>> (i * 8)) & 0xff);
  return h;
}

/**
 * The transaction layer. Every entry point takes the current time in ms; it never reads a clock.
 * The owner calls poll(now) when nextDeadline() arrives (one HAL alarm is enough).
 */
export class TransactionLayer {
  readonly config: TransactionLayerConfig;
  readonly timers: TimerConfig;
  readonly stats: TransactionStats = {
    created: 0, terminated: 0, retransmissionsSent: 0, retransmissionsAbsorbed: 0, poolFull: 0, merged: 0, strayResponses: 0, transportErrors: 0,
  };
  readonly transport: TransportPort;
  readonly tu: TransactionUser;
  private readonly pool: Transaction[] = [];
  private freeHead = -1;
  active = 0;
  private readonly tableMask: number;
  private readonly branchHeads: Int32Array;
  private readonly keyHeads: Int32Array;
  /**
   * Scratch writer for stateless answers (503, 482), ACKs for non-2xx and the 100 Trying; shared by the
   * transport, the UA core and the registrations, which each write one message at a time into it and hand
   * it over at once (sendRequest and respond copy what they keep).
   */
  readonly scratch: SipWriter;
  private readonly exact: boolean;

  // Per-slot fields only the layer and its state machines use, indexed by tx.index (on Espruino an object
  // field costs a variable per slot, an array entry only its bytes).
  /** Timers, their earliest and the retransmission interval: times[index * SLOT_TIMES + AT_*] (transaction.ts). */
  readonly times: Float64Array;
  /** The earliest AT_NEXT of all slots, -1 when none, -2 when a change made it unknown (found again by a scan). */
  private soonest = -1;
  /** TX_INVITE_CLIENT … TX_NON_INVITE_SERVER. */
  readonly kind: Int32Array;
  /** Method id of the request (METHOD_*). */
  readonly method: Int32Array;
  /** Where requests go (client) or where responses go (server): the port beside the slot's address. */
  readonly port: Int32Array;
  /** Server transactions: FNV hash of the top Via sent-by (host and port), part of the §17.2.3 key. */
  private readonly sentByHash: Int32Array;
  /** Hash of Call-ID, From tag and CSeq: merged-request detection (§8.2.2.2) and RFC 2543 matching. */
  private readonly dialogKeyHash: Int32Array;
  /** Index of the next slot in a hash chain, -1 at the end; a free slot is in no chain, so the free list links through nextInBranchChain. */
  private readonly nextInBranchChain: Int32Array;
  private readonly nextInKeyChain: Int32Array;
  /**
   * Branch of the top Via, as bytes (matching compares spans against it without a string): slot i's
   * are branch[i * BRANCH_CAPACITY, i * BRANCH_CAPACITY + branchLength[i]).
   */
  private readonly branch: Uint8Array;
  private readonly branchLength: Int32Array;

  constructor(config: TransactionLayerConfig, transport: TransportPort, tu: TransactionUser) {
    this.config = config;
    this.timers = config.timers;
    this.transport = transport;
    this.tu = tu;
    this.exact = config.exactCopies === true;
    const n = config.capacity;
    this.times = new Float64Array(SLOT_TIMES * n).fill(-1); // a free slot's timers are all -1
    // The integer fields are views into one block (k is a field's place in it).
    const ints = new Int32Array(8 * n);
    this.kind = i32Field(ints, 0, n);
    this.method = i32Field(ints, 1, n);
    this.port = i32Field(ints, 2, n);
    this.sentByHash = i32Field(ints, 3, n);
    this.dialogKeyHash = i32Field(ints, 4, n);
    this.nextInBranchChain = i32Field(ints, 5, n);
    this.nextInKeyChain = i32Field(ints, 6, n);
    this.branchLength = i32Field(ints, 7, n);
    this.branch = new Uint8Array(n * BRANCH_CAPACITY);
    for (let i = 0; i < n; i++) {
      this.pool.push({
        index: i, generation: 0, state: TS_FREE, address: "", transport: TRANSPORT_UDP,
        // bufferSize 0: no buffer of its own (the layer makes exact copies).
        buffer: this.exact ? NO_BYTES : new Uint8Array(config.bufferSize), length: 0, owner: -1,
      });
      this.nextInBranchChain[i] = i + 1 < n ? i + 1 : -1;
    }
    this.freeHead = n > 0 ? 0 : -1;
    let size = 16;
    while (size < config.capacity * 2) size *= 2;
    this.tableMask = size - 1;
    this.branchHeads = new Int32Array(size).fill(-1);
    this.keyHeads = new Int32Array(size).fill(-1);
    this.scratch = new SipWriter(config.bufferSize);
  }

  /** The slot with this index (for the TU's handles). */
  slot(index: number): Transaction { return this.pool[index]; }

  // ------------------------------------------------------------------------------------------
  // Pool and indexes
  // ------------------------------------------------------------------------------------------

  private allocate(kind: number): Transaction | null {
    const i = this.freeHead;
    if (i < 0) return null;
    const tx = this.pool[i];
    this.freeHead = this.nextInBranchChain[i]; // link() sets it for the branch chain
    tx.generation++;
    this.kind[i] = kind;
    tx.length = 0;
    this.times[i * SLOT_TIMES + AT_INTERVAL] = 0;
    tx.owner = -1;
    tx.transport = TRANSPORT_UDP;
    this.active++;
    this.stats.created++;
    return tx;
  }

  private branchHash(t: number): number {
    let h = FNV_BASIS;
    const at = t * BRANCH_CAPACITY, end = at + this.branchLength[t];
    for (let i = at; i < end; i++) h = fnv1aStep(h, this.branch[i]);
    return h & this.tableMask;
  }

  /** A slot's branch as text (allocates). */
  branchText(tx: Transaction): string {
    let s = "";
    const at = tx.index * BRANCH_CAPACITY, end = at + this.branchLength[tx.index];
    for (let i = at; i < end; i++) s += String.fromCharCode(this.branch[i]);
    return s;
  }

  /** The branch-table bucket of a received branch (its first BRANCH_CAPACITY bytes, as kept in slots). */
  private branchBucket(src: string, s: number, e: number): number {
    if (e - s > BRANCH_CAPACITY) e = s + BRANCH_CAPACITY;
    return fnv1aSpan(src, s, e, FNV_BASIS) & this.tableMask;
  }

  private link(tx: Transaction): void {
    const t = tx.index;
    const b = this.branchHash(t);
    this.nextInBranchChain[t] = this.branchHeads[b];
    this.branchHeads[b] = t;
    const k = this.dialogKeyHash[t] & this.tableMask;
    this.nextInKeyChain[t] = this.keyHeads[k];
    this.keyHeads[k] = t;
  }

  private unlink(tx: Transaction): void {
    const t = tx.index;
    const b = this.branchHash(t);
    let prev = -1;
    for (let i = this.branchHeads[b]; i >= 0; i = this.nextInBranchChain[i]) {
      if (i === t) {
        if (prev < 0) this.branchHeads[b] = this.nextInBranchChain[t];
        else this.nextInBranchChain[prev] = this.nextInBranchChain[t];
        break;
      }
      prev = i;
    }
    const k = this.dialogKeyHash[t] & this.tableMask;
    prev = -1;
    for (let i = this.keyHeads[k]; i >= 0; i = this.nextInKeyChain[i]) {
      if (i === t) {
        if (prev < 0) this.keyHeads[k] = this.nextInKeyChain[t];
        else this.nextInKeyChain[prev] = this.nextInKeyChain[t];
        break;
      }
      prev = i;
    }
  }

  /** Keeps data[0, length) in the slot for retransmission (length ≤ bufferSize, checked by the caller). */
  keep(tx: Transaction, data: Uint8Array, length: number): void {
    tx.length = length;
    if (!this.exact) { keepBytes(tx.buffer, data, length); return; }
    // A TU resending what the slot keeps (a 2xx retransmission) passes the slot's own copy.
    if (data === tx.buffer && data.length === length) return;
    const b = new Uint8Array(length);
    b.set(length === data.length ? data : data.subarray(0, length));
    tx.buffer = b;
  }

  /** No retransmission can need the kept copy any more: with exact copies it is dropped. */
  release(tx: Transaction): void {
    if (!this.exact) return;
    tx.buffer = NO_BYTES;
    tx.length = 0;
  }

  /** Ends a transaction: timers stopped, out of the indexes, slot back to the pool, TU told. */
  terminate(tx: Transaction): void {
    if (tx.state === TS_FREE) return;
    const i = tx.index;
    tx.state = TS_TERMINATED;
    this.release(tx);
    this.unlink(tx);
    const t = i * SLOT_TIMES;
    this.times[t + AT_RETRANSMIT] = this.times[t + AT_TIMEOUT] = this.times[t + AT_LINGER] = this.times[t + AT_TRYING] = -1;
    this.schedule(tx);
    this.active--;
    this.stats.terminated++;
    this.tu.onTerminated(tx);
    tx.state = TS_FREE;
    this.nextInBranchChain[tx.index] = this.freeHead;
    this.freeHead = tx.index;
  }

  // ------------------------------------------------------------------------------------------
  // Timers
  // ------------------------------------------------------------------------------------------

  /** Recomputes a slot's earliest deadline from its timers, and the soonest of all as far as that is cheap. */
  schedule(tx: Transaction): void {
    const times = this.times, t = tx.index * SLOT_TIMES;
    const at = earliest(earliest(earliest(times[t + AT_RETRANSMIT], times[t + AT_TIMEOUT]), times[t + AT_LINGER]), times[t + AT_TRYING]);
    const old = times[t + AT_NEXT];
    times[t + AT_NEXT] = at;
    if (this.soonest === -2) return;
    if (at >= 0 && (this.soonest < 0 || at < this.soonest)) this.soonest = at;
    else if (old === this.soonest && at !== old) this.soonest = -2;
  }

  /**
   * Arms the timer pair every retransmitting state starts with (A+B, E+F, G+H): the first
   * retransmission T1 from now on unreliable transports, and the 64×T1 timeout.
   */
  armRetransmitAndTimeout(tx: Transaction, now: number): void {
    const t1 = this.timers.t1;
    const t = tx.index * SLOT_TIMES;
    if (tx.transport === TRANSPORT_UDP) {
      this.times[t + AT_INTERVAL] = t1;
      this.times[t + AT_RETRANSMIT] = now + t1;
    }
    this.times[t + AT_TIMEOUT] = now + 64 * t1;
  }

  /** Timer B, F or H (or the non-INVITE server's guard) fired: tell the TU, end the transaction. */
  giveUp(tx: Transaction): void {
    const t = tx.index * SLOT_TIMES;
    this.times[t + AT_TIMEOUT] = this.times[t + AT_RETRANSMIT] = -1;
    this.tu.onTimeout(tx);
    this.terminate(tx);
  }

  /** Timer A, E or G fired: send again, and again after `interval` unless something stops it. */
  retransmit(tx: Transaction, now: number, interval: number): void {
    this.stats.retransmissionsSent++;
    const t = tx.index * SLOT_TIMES;
    this.times[t + AT_INTERVAL] = interval;
    this.times[t + AT_RETRANSMIT] = now + interval;
    this.transmit(tx);
  }

  /** The earliest time poll() has work, or -1 when no timer runs. */
  nextDeadline(): number {
    if (this.soonest === -2) {
      let at = -1;
      for (let i = 0; i < this.pool.length; i++) at = earliest(at, this.times[i * SLOT_TIMES + AT_NEXT]);
      this.soonest = at;
    }
    return this.soonest;
  }

  /**
   * Runs every timer due at or before now, slot by slot, until none is due (a timer may arm another that
   * is due at once, as Timer D on a reliable transport).
   */
  poll(now: number): void {
    for (;;) {
      const soonest = this.nextDeadline();
      if (soonest < 0 || soonest > now) return;
      for (let i = 0; i < this.pool.length; i++) {
        const at = this.times[i * SLOT_TIMES + AT_NEXT];
        if (at < 0 || at > now) continue;
        const tx = this.pool[i];
        // The machine moves on (a timer re-armed, stopped, or the slot ended); schedule files what is left.
        switch (this.kind[i]) {
          case TX_INVITE_CLIENT: ictOnTimer(this, tx, now); break;
          case TX_NON_INVITE_CLIENT: nictOnTimer(this, tx, now); break;
          case TX_INVITE_SERVER: istOnTimer(this, tx, now); break;
          case TX_NON_INVITE_SERVER: nistOnTimer(this, tx, now); break;
        }
        if (tx.state !== TS_FREE) this.schedule(tx);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending
  // ------------------------------------------------------------------------------------------

  /** (Re)sends the bytes a transaction keeps; a refusal ends it with a transport error. */
  transmit(tx: Transaction): boolean {
    const r = this.transport.send(tx.buffer, tx.length, tx.address, this.port[tx.index], tx.transport);
    if (r < 0) {
      this.stats.transportErrors++;
      this.tu.onTransportError(tx);
      this.terminate(tx);
      return false;
    }
    return true;
  }

  /**
   * Starts a client transaction for a request the TU wrote into data[0, length): its method id,
   * CSeq number (not kept: the ACK for a non-2xx, the one use, reads it from the kept request), where the
   * top Via's branch value sits in data (branchStart, branchEnd), and where to send it. Returns the transaction, or null when the pool is full (ERR_POOL_FULL) or the
   * request does not fit the per-transaction buffer. Allocates nothing.
   */
  sendRequest(data: Uint8Array, length: number, method: number, cseq: number, branchStart: number, branchEnd: number,
    address: string, port: number, transport: number, now: number): Transaction | null {
    const branchLength = branchEnd - branchStart;
    if (length > this.config.bufferSize || branchLength <= 0 || branchLength > BRANCH_CAPACITY) return null;
    const tx = this.allocate(method === METHOD_INVITE ? TX_INVITE_CLIENT : TX_NON_INVITE_CLIENT);
    if (tx === null) { this.stats.poolFull++; return null; }
    this.keep(tx, data, length);
    const t = tx.index;
    this.method[t] = method;
    this.branchLength[t] = branchLength;
    for (let i = 0; i < branchLength; i++) this.branch[t * BRANCH_CAPACITY + i] = data[branchStart + i];
    this.dialogKeyHash[t] = 0;
    this.sentByHash[t] = 0;
    tx.address = address;
    this.port[t] = port;
    tx.transport = transport;
    this.link(tx);
    if (this.kind[t] === TX_INVITE_CLIENT) ictStart(this, tx, now);
    else nictStart(this, tx, now);
    if (tx.state !== TS_FREE) this.schedule(tx);
    return tx;
  }

  /**
   * The TU answers a server transaction with a response it wrote into data[0, length) (use
   * writeResponseHead). The layer keeps it for retransmission and moves the state machine.
   */
  respond(tx: Transaction, data: Uint8Array, length: number, status: number, now: number): boolean {
    const kind = this.kind[tx.index];
    if (tx.state === TS_FREE || (kind !== TX_INVITE_SERVER && kind !== TX_NON_INVITE_SERVER)) return false;
    if (length > this.config.bufferSize) return false;
    this.keep(tx, data, length);
    if (kind === TX_INVITE_SERVER) istOnRespond(this, tx, status, now);
    else nistOnRespond(this, tx, status, now);
    if (tx.state !== TS_FREE) this.schedule(tx);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Receiving
  // ------------------------------------------------------------------------------------------

  private branchMatches(t: number, src: string, s: number, e: number): boolean {
    const n = e - s;
    const m = this.branchLength[t];
    if (n !== m && !(n > BRANCH_CAPACITY && m === BRANCH_CAPACITY)) return false;
    const at = t * BRANCH_CAPACITY;
    for (let i = 0; i < m; i++) if (this.branch[at + i] !== src.charCodeAt(s + i)) return false;
    return true;
  }

  /** §17.1.3: a response matches the client transaction with its top branch and CSeq method. */
  private matchClient(msg: SipMessage): Transaction | null {
    const v = msg.via;
    if (v.branchStart < 0) return null;
    const h = this.branchBucket(msg.src, v.branchStart, v.branchEnd);
    for (let i = this.branchHeads[h]; i >= 0; i = this.nextInBranchChain[i]) {
      const kind = this.kind[i];
      if ((kind === TX_INVITE_CLIENT || kind === TX_NON_INVITE_CLIENT) && this.method[i] === msg.cseqMethod &&
          this.branchMatches(i, msg.src, v.branchStart, v.branchEnd)) return this.pool[i];
    }
    return null;
  }

  private hashSentBy(msg: SipMessage): number {
    const v = msg.via;
    return fnvNumber(v.port, fnv1aSpan(msg.src, v.hostStart, v.hostEnd, FNV_BASIS));
  }

  /** Hash of Call-ID, From tag and CSeq number: what identifies a request across branches. */
  private requestKeyHash(msg: SipMessage): number {
    let h = fnv1aSpan(msg.src, msg.callIdStart, msg.callIdEnd, FNV_BASIS);
    if (msg.from.tagStart >= 0) h = fnv1aSpan(msg.src, msg.from.tagStart, msg.from.tagEnd, h);
    return fnvNumber(msg.cseq, h);
  }

  /**
   * §17.2.3: with a magic-cookie branch, a request matches the server transaction with the same
   * branch, sent-by and method (ACK matches its INVITE). Otherwise (RFC 2543 peers) it matches on
   * Call-ID, From tag, CSeq number and sent-by, with the method rule the same.
   */
  private matchServer(msg: SipMessage): Transaction | null {
    const v = msg.via;
    const method = msg.method === METHOD_ACK ? METHOD_INVITE : msg.method;
    const sentBy = this.hashSentBy(msg);
    const src = msg.src;
    if (v.hasMagicCookie()) {
      const h = this.branchBucket(src, v.branchStart, v.branchEnd);
      for (let i = this.branchHeads[h]; i >= 0; i = this.nextInBranchChain[i]) {
        const kind = this.kind[i];
        if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && this.method[i] === method &&
            this.sentByHash[i] === sentBy && this.branchMatches(i, src, v.branchStart, v.branchEnd)) return this.pool[i];
      }
      return null;
    }
    const key = this.requestKeyHash(msg);
    for (let i = this.keyHeads[key & this.tableMask]; i >= 0; i = this.nextInKeyChain[i]) {
      const kind = this.kind[i];
      if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && this.method[i] === method &&
          this.dialogKeyHash[i] === key && this.sentByHash[i] === sentBy && this.branchLength[i] === 0) return this.pool[i];
    }
    return null;
  }

  /** Answers a request without a transaction (pool full, merged request). */
  private answerStatelessly(msg: SipMessage, status: number, reason: string, address: string, port: number, transport: number): void {
    const w = this.scratch.reset();
    writeResponseHead(w, msg, status, reason, statelessToTag(msg));
    if (status === 503) w.headerNum("Retry-After", this.config.retryAfter);
    const n = w.end(null, 0, 0);
    if (n > 0) this.transport.send(w.buf, n, address, port, transport);
  }

  /**
   * Hands a parsed, validated message to the layer. address/port are where responses go (the
   * transport has applied §18.2.2: received/rport). Requests create or match server transactions;
   * responses match client transactions.
   */
  receive(msg: SipMessage, address: string, port: number, transport: number, now: number): void {
    if (!msg.isRequest) {
      const tx = this.matchClient(msg);
      if (tx === null) {
        this.stats.strayResponses++;
        this.tu.onStrayResponse(msg, address, port, now);
        return;
      }
      if (this.kind[tx.index] === TX_INVITE_CLIENT) ictOnResponse(this, tx, msg, now);
      else nictOnResponse(this, tx, msg, now);
      if (tx.state !== TS_FREE) this.schedule(tx);
      return;
    }
    const tx = this.matchServer(msg);
    if (tx !== null) {
      const invite = this.kind[tx.index] === TX_INVITE_SERVER;
      if (msg.method === METHOD_ACK) {
        if (invite) istOnAck(this, tx, msg, address, port, now);
      } else if (invite) istOnRetransmission(this, tx, now);
      else nistOnRetransmission(this, tx, now);
      if (tx.state !== TS_FREE) this.schedule(tx);
      return;
    }
    if (msg.method === METHOD_ACK) {
      this.tu.onAck(msg, address, port);
      return;
    }
    // §8.2.2.2: a request without To tag that repeats the Call-ID, From tag and CSeq of a live server transaction.
    const key = this.requestKeyHash(msg);
    if (msg.to.tagStart < 0) {
      for (let i = this.keyHeads[key & this.tableMask]; i >= 0; i = this.nextInKeyChain[i]) {
        const kind = this.kind[i];
        if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && this.dialogKeyHash[i] === key && this.method[i] === msg.method) {
          this.stats.merged++;
          this.answerStatelessly(msg, 482, "Loop Detected", address, port, transport);
          return;
        }
      }
    }
    const v = msg.via;
    const branchLength = v.hasMagicCookie() ? Math.min(v.branchEnd - v.branchStart, BRANCH_CAPACITY) : 0;
    const nt = this.allocate(msg.method === METHOD_INVITE ? TX_INVITE_SERVER : TX_NON_INVITE_SERVER);
    if (nt === null) {
      this.stats.poolFull++;
      this.answerStatelessly(msg, 503, "Service Unavailable", address, port, transport);
      return;
    }
    const t = nt.index;
    this.method[t] = msg.method;
    this.branchLength[t] = branchLength;
    for (let i = 0; i < branchLength; i++) this.branch[t * BRANCH_CAPACITY + i] = msg.src.charCodeAt(v.branchStart + i);
    this.sentByHash[t] = this.hashSentBy(msg);
    this.dialogKeyHash[t] = key;
    nt.address = address;
    this.port[t] = port;
    nt.transport = transport;
    this.link(nt);
    if (this.kind[t] === TX_INVITE_SERVER) istStart(this, nt, msg, now);
    else nistStart(this, nt, now);
    this.schedule(nt);
    this.tu.onRequest(nt, msg);
  }

  /**
   * The INVITE server transaction a CANCEL targets (§9.2): same branch and sent-by, method
   * INVITE. The TU answers the CANCEL itself and then 487s the INVITE.
   */
  findCancelTarget(cancel: SipMessage): Transaction | null {
    if (cancel.method !== METHOD_CANCEL) return null;
    const v = cancel.via;
    const sentBy = this.hashSentBy(cancel);
    if (!v.hasMagicCookie()) {
      const key = this.requestKeyHash(cancel);
      for (let i = this.keyHeads[key & this.tableMask]; i >= 0; i = this.nextInKeyChain[i]) {
        if (this.kind[i] === TX_INVITE_SERVER && this.dialogKeyHash[i] === key && this.sentByHash[i] === sentBy) return this.pool[i];
      }
      return null;
    }
    const h = this.branchBucket(cancel.src, v.branchStart, v.branchEnd);
    for (let i = this.branchHeads[h]; i >= 0; i = this.nextInBranchChain[i]) {
      if (this.kind[i] === TX_INVITE_SERVER && this.sentByHash[i] === sentBy &&
          this.branchMatches(i, cancel.src, v.branchStart, v.branchEnd)) return this.pool[i];
    }
    return null;
  }
}

