// RFC 3261 §17 transaction layer: a fixed pool, constant-time matching (§17.1.3, §17.2.3), per-slot deadlines, 503 when full.
import { METHOD_ACK, METHOD_CANCEL, METHOD_INVITE } from "./constants.ts";
import type { SipMessage } from "./message.ts";
import {
  AT_INTERVAL, AT_LINGER, AT_NEXT, AT_RETRANSMIT, AT_TIMEOUT, AT_TRYING, DEFAULT_TIMERS, DUE_ACK, DUE_NONE, DUE_REQUEST, DUE_RESPONSE, DUE_STRAY, I_BRANCH_CHECK, I_BRANCH_HASH, I_BRANCH_LENGTH, I_HANDLE, I_KEY, I_KIND,
  I_LENGTH, I_METHOD, I_NEXT_BRANCH, I_NEXT_KEY, I_OWNER, I_PORT, I_SENT_BY, I_STATE, I_TRANSPORT, NO_BYTES, REWRITE_OK, SLOT_INTS, SLOT_TIMES, TRANSPORT_UDP,
  TS_FREE, TS_PROCEEDING, TS_TERMINATED, TS_TRYING, TX_INVITE_CLIENT, TX_INVITE_SERVER, TX_NON_INVITE_CLIENT, TX_NON_INVITE_SERVER, keepBytes, type TimerConfig, type Transaction,
  type TransactionUser, type TransportPort,
} from "./transaction.ts";
import { earliest } from "./deadline.ts";
import { FNV_BASIS, fnv1aSpan, fnv1aStep } from "./scan.ts";
import { SipWriter, statelessToTag, writeOk, writeResponseHead } from "./writer.ts";
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

/** What addressOf gives for a free slot (a shared "": on Espruino each "" written is a variable of its own). */
const NO_ADDRESS = "";

/** The second hash of a branch (I_BRANCH_CHECK): h × 31 + byte, seeded apart from FNV's. */
const CHECK_SEED = 5381;
function checkStep(h: number, byte: number): number {
  return (h * 31 + byte) | 0;
}
function branchCheck(src: string, s: number, e: number): number {
  let h = CHECK_SEED;
  for (let i = s; i < e; i++) h = checkStep(h, src.charCodeAt(i));
  return h;
}

/** FNV-1a of the four bytes of a 32-bit number, continuing from h. */
function fnvNumber(v: number, h: number): number {
  for (let i = 0; i < 4; i++) h = fnv1aStep(h, (v >>> (i * 8)) & 0xff);
  return h;
}


/**
 * The transaction layer. Every entry point takes the current time in ms; it never reads a clock.
 * The owner calls poll(now) when nextDeadline() arrives (one HAL alarm is enough).
 * Transactions are handles (transaction.ts); the state machines take them too.
 */
export class TransactionLayer {
  readonly timers: TimerConfig;
  /**
   * Seconds in the Retry-After of a 503 (the config is not kept: on Espruino an object costs a variable a field).
   * Not named retryAfter: the config's name keeps its spelling, and a name over 8 characters costs a variable.
   */
  private readonly retrySeconds: number;
  readonly stats: TransactionStats = {
    created: 0, terminated: 0, retransmissionsSent: 0, retransmissionsAbsorbed: 0, poolFull: 0, merged: 0, strayResponses: 0, transportErrors: 0,
  };
  readonly transport: TransportPort;
  readonly tu: TransactionUser;
  private freeHead = -1;
  active = 0;
  /**
   * Hash tables have a power-of-two size above the capacity: h & tableMask is a hash's bucket, and a
   * handle's slot index (a slot's handle grows by tableMask + 1 on each reuse).
   */
  readonly tableMask: number;
  /**
   * Scratch writer for stateless answers (503, 482), ACKs for non-2xx and the 100 Trying; shared by the
   * transport, the UA core and the registrations, which each write one message at a time into it and hand
   * it over at once (sendRequest and respond copy what they keep).
   */
  readonly scratch: SipWriter;
  private readonly exact: boolean;

  // Per-slot fields, indexed by a handle's slot index (on Espruino an object field costs a variable per slot,
  // an array entry only its bytes).
  /** Timers, their earliest and the retransmission interval: times[index * SLOT_TIMES + AT_*] (transaction.ts). */
  readonly times: Float64Array;
  /** The earliest AT_NEXT of all slots, -1 when none, -2 when a change made it unknown (found again by a scan). */
  private soonest = -1;
  /**
   * Integer fields: ints[index * SLOT_INTS + I_*] (transaction.ts); then, from `heads`, the heads of the
   * branch hash chains and after them those of the key hash chains (tableMask + 1 each).
   */
  readonly ints: Int32Array;
  private readonly heads: number;
  /**
   * Where requests go (client) or where responses go (server): an entry for a live slot only (on Espruino
   * each entry of an array is a variable, and a door phone has a few of its 16 slots in use).
   */
  private readonly address: string[] = [];
  /**
   * The request (client) or the last response (server), kept for retransmission: bytes [0, I_LENGTH). A
   * preallocated slot buffer, or (exact copies) an array of the message's own size, absent when none is kept.
   */
  private readonly buffers: Uint8Array[] = [];
  /**
   * What accept() left for deliver(): DUE_* (DUE_NONE when nothing), the transaction and where the message
   * came from. The TU hears of a message after the matching's frames are gone: on Espruino they are ~100
   * variables under every answer the TU sends from its callback.
   */
  /** @internal */ due = DUE_NONE;
  /** @internal */ dueTx = -1;
  private dueAddress = NO_ADDRESS;
  private duePort = 0;
  private dueNow = 0;
  /** The request deliver() is handing the TU (-1 when none), and whether respondOkLater answered it meanwhile. */
  private delivering = -1;
  private okDue = false;
  /**
   * deliver() writes the 200 respondOkLater left but holds it for flushOk(), which the transport's owner calls
   * once the transport has returned (SipNode: on Espruino the transport's receive frames, ~30 variables, are
   * gone from under the send). Datagrams only: a stream's messages flush one by one (receiveStream).
   */
  holdOk = false;
  /** The 200 held for flushOk(): its transaction (-1 when none) and its length in the scratch writer. */
  private heldTx = -1;
  private heldLength = 0;
  constructor(config: TransactionLayerConfig, transport: TransportPort, tu: TransactionUser) {
    this.timers = config.timers;
    this.retrySeconds = config.retryAfter;
    this.transport = transport;
    this.tu = tu;
    this.exact = config.exactCopies === true;
    const n = config.capacity;
    let size = 16;
    while (size < n * 2) size *= 2;
    this.tableMask = size - 1;
    this.times = new Float64Array(SLOT_TIMES * n).fill(-1); // a free slot's timers are all -1
    this.heads = n * SLOT_INTS;
    const ints = this.ints = new Int32Array(n * SLOT_INTS + 2 * size).fill(-1, n * SLOT_INTS);
    for (let i = 0; i < n; i++) {
      ints[i * SLOT_INTS + I_HANDLE] = i;
      ints[i * SLOT_INTS + I_NEXT_BRANCH] = i + 1 < n ? i + 1 : -1;
      if (!this.exact) this.buffers[i] = new Uint8Array(config.bufferSize);
    }
    this.freeHead = n > 0 ? 0 : -1;
    this.scratch = new SipWriter(config.bufferSize);
  }

  // ------------------------------------------------------------------------------------------
  // What the TU reads of a transaction (a stale handle reads as a free slot)
  // ------------------------------------------------------------------------------------------

  /** Where tx's integer fields start in ints, or -1 when tx is not the slot's current handle. */
  private liveAt(tx: number): number {
    return this.ints[(tx & this.tableMask) * SLOT_INTS + I_HANDLE] === tx ? (tx & this.tableMask) * SLOT_INTS : -1;
  }

  /** TS_*: TS_FREE once the transaction has ended. */
  state(tx: Transaction): number {
    const s = this.liveAt(tx);
    return s < 0 ? TS_FREE : this.ints[s + I_STATE];
  }

  /** The state machines move a live transaction on. */
  setState(tx: Transaction, state: number): void { this.ints[(tx & this.tableMask) * SLOT_INTS + I_STATE] = state; }

  owner(tx: Transaction): number { return this.ints[(tx & this.tableMask) * SLOT_INTS + I_OWNER]; }

  setOwner(tx: Transaction, owner: number): void { this.ints[(tx & this.tableMask) * SLOT_INTS + I_OWNER] = owner; }

  transportOf(tx: Transaction): number { return this.ints[(tx & this.tableMask) * SLOT_INTS + I_TRANSPORT]; }

  addressOf(tx: Transaction): string { return this.address[tx & this.tableMask] || NO_ADDRESS; }

  portOf(tx: Transaction): number { return this.ints[(tx & this.tableMask) * SLOT_INTS + I_PORT]; }

  /** The kept request (client) or last response (server): bytes [0, keptLength(tx)). */
  keptBytes(tx: Transaction): Uint8Array { return this.buffers[tx & this.tableMask] || NO_BYTES; }

  keptLength(tx: Transaction): number { return this.ints[(tx & this.tableMask) * SLOT_INTS + I_LENGTH]; }

  // ------------------------------------------------------------------------------------------
  // Pool and indexes
  // ------------------------------------------------------------------------------------------

  private allocate(kind: number): Transaction {
    const i = this.freeHead;
    if (i < 0) return -1;
    const s = i * SLOT_INTS, ints = this.ints;
    this.freeHead = ints[s + I_NEXT_BRANCH]; // link() sets it for the branch chain
    // A new handle: the next generation of this index (back to the index itself before it overflows).
    const step = this.tableMask + 1;
    const tx = ints[s + I_HANDLE] = ints[s + I_HANDLE] > 0x7fffffff - step ? i : ints[s + I_HANDLE] + step;
    ints[s + I_KIND] = kind;
    ints[s + I_LENGTH] = 0;
    this.times[i * SLOT_TIMES + AT_INTERVAL] = 0;
    ints[s + I_OWNER] = -1;
    ints[s + I_TRANSPORT] = TRANSPORT_UDP;
    this.active++;
    this.stats.created++;
    return tx;
  }

  private branchBucket(t: number): number {
    return this.ints[t * SLOT_INTS + I_BRANCH_HASH] & this.tableMask;
  }

  /**
   * A transaction's top Via branch as text, read from the copy it keeps (allocates; diagnostics): "" when it
   * keeps none.
   */
  branchText(tx: Transaction): string {
    const b = this.keptBytes(tx), n = this.keptLength(tx);
    let at = -1;
    for (let i = 0; i + 8 <= n && at < 0; i++) {
      if (b[i] === 0x3b && (b[i + 1] | 0x20) === 0x62 && (b[i + 2] | 0x20) === 0x72 && (b[i + 3] | 0x20) === 0x61 && (b[i + 4] | 0x20) === 0x6e &&
          (b[i + 5] | 0x20) === 0x63 && (b[i + 6] | 0x20) === 0x68 && b[i + 7] === 0x3d) at = i + 8; // ";branch="
    }
    let s = "";
    for (let i = at; at >= 0 && i < n && b[i] !== 0x3b && b[i] !== 0x2c && b[i] > 0x20; i++) s += String.fromCharCode(b[i]);
    return s;
  }

  /** Slot t's branch: its length n and its hashes h (FNV-1a) and c (branchCheck); all 0 for none. */
  private keepBranch(t: number, n: number, h: number, c: number): void {
    const o = t * SLOT_INTS, ints = this.ints;
    ints[o + I_BRANCH_LENGTH] = n;
    ints[o + I_BRANCH_HASH] = h;
    ints[o + I_BRANCH_CHECK] = c;
  }

  /** Puts slot t at the head of its branch chain and its key chain. */
  private link(t: number): void {
    const ints = this.ints, s = t * SLOT_INTS;
    const b = this.heads + this.branchBucket(t);
    ints[s + I_NEXT_BRANCH] = ints[b];
    ints[b] = t;
    const k = this.heads + this.tableMask + 1 + (ints[s + I_KEY] & this.tableMask);
    ints[s + I_NEXT_KEY] = ints[k];
    ints[k] = t;
  }

  /** Takes slot t out of the chain starting at ints[head] that links through field f. */
  private unlinkFrom(head: number, t: number, f: number): void {
    const ints = this.ints;
    let prev = -1;
    for (let i = ints[head]; i >= 0; i = ints[i * SLOT_INTS + f]) {
      if (i === t) {
        if (prev < 0) ints[head] = ints[t * SLOT_INTS + f];
        else ints[prev * SLOT_INTS + f] = ints[t * SLOT_INTS + f];
        return;
      }
      prev = i;
    }
  }

  /** Keeps data[0, length) in the slot for retransmission (length ≤ bufferSize, checked by the caller). */
  keep(tx: Transaction, data: Uint8Array, length: number): void {
    const t = tx & this.tableMask;
    this.ints[t * SLOT_INTS + I_LENGTH] = length;
    if (!this.exact) { keepBytes(this.buffers[t], data, length); return; }
    // A TU resending what the slot keeps (a 2xx retransmission) passes the slot's own copy.
    if (data === this.buffers[t] && data.length === length) return;
    const b = new Uint8Array(length);
    b.set(length === data.length ? data : data.subarray(0, length));
    this.buffers[t] = b;
  }

  /** No retransmission can need the kept copy any more: with exact copies it is dropped (a stale handle: nothing). */
  release(tx: Transaction): void {
    if (!this.exact || this.liveAt(tx) < 0) return;
    const t = tx & this.tableMask;
    delete this.buffers[t];
    this.ints[t * SLOT_INTS + I_LENGTH] = 0;
  }

  /** Ends a transaction: timers stopped, out of the indexes, slot back to the pool, TU told. A stale handle is ignored. */
  terminate(tx: Transaction): void {
    const s = this.liveAt(tx);
    if (s < 0 || this.ints[s + I_STATE] === TS_FREE) return;
    const i = tx & this.tableMask, ints = this.ints;
    ints[s + I_STATE] = TS_TERMINATED;
    this.release(tx);
    this.unlinkFrom(this.heads + this.branchBucket(i), i, I_NEXT_BRANCH);
    this.unlinkFrom(this.heads + this.tableMask + 1 + (ints[s + I_KEY] & this.tableMask), i, I_NEXT_KEY);
    const t = i * SLOT_TIMES;
    this.times[t + AT_RETRANSMIT] = this.times[t + AT_TIMEOUT] = this.times[t + AT_LINGER] = this.times[t + AT_TRYING] = -1;
    this.schedule(tx);
    this.active--;
    this.stats.terminated++;
    this.tu.onTerminated(tx);
    ints[s + I_STATE] = TS_FREE;
    delete this.address[i];
    ints[s + I_NEXT_BRANCH] = this.freeHead;
    this.freeHead = i;
  }

  // ------------------------------------------------------------------------------------------
  // Timers
  // ------------------------------------------------------------------------------------------

  /** Recomputes a slot's earliest deadline from its timers, and the soonest of all as far as that is cheap. */
  schedule(tx: Transaction): void {
    const times = this.times, t = (tx & this.tableMask) * SLOT_TIMES;
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
    const t = (tx & this.tableMask) * SLOT_TIMES;
    if (this.transportOf(tx) === TRANSPORT_UDP) {
      this.times[t + AT_INTERVAL] = t1;
      this.times[t + AT_RETRANSMIT] = now + t1;
    }
    this.times[t + AT_TIMEOUT] = now + 64 * t1;
  }

  /** Timer B, F or H (or the non-INVITE server's guard) fired: tell the TU, end the transaction. */
  giveUp(tx: Transaction): void {
    const t = (tx & this.tableMask) * SLOT_TIMES;
    this.times[t + AT_TIMEOUT] = this.times[t + AT_RETRANSMIT] = -1;
    this.tu.onTimeout(tx);
    this.terminate(tx);
  }

  /** Timer A, E or G fired: send again, and again after `interval` unless something stops it. */
  retransmit(tx: Transaction, now: number, interval: number): void {
    this.stats.retransmissionsSent++;
    const t = (tx & this.tableMask) * SLOT_TIMES;
    this.times[t + AT_INTERVAL] = interval;
    this.times[t + AT_RETRANSMIT] = now + interval;
    this.transmit(tx);
  }

  /** The earliest time poll() has work, or -1 when no timer runs. */
  nextDeadline(): number {
    if (this.soonest === -2) {
      let at = -1;
      for (let t = AT_NEXT; t < this.times.length; t += SLOT_TIMES) at = earliest(at, this.times[t]);
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
      for (let s = 0; s < this.heads; s += SLOT_INTS) {
        const at = this.times[s / SLOT_INTS * SLOT_TIMES + AT_NEXT];
        if (at < 0 || at > now) continue;
        const tx = this.ints[s + I_HANDLE];
        // The machine moves on (a timer re-armed, stopped, or the slot ended); schedule files what is left.
        switch (this.ints[s + I_KIND]) {
          case TX_INVITE_CLIENT: ictOnTimer(this, tx, now); break;
          case TX_NON_INVITE_CLIENT: nictOnTimer(this, tx, now); break;
          case TX_INVITE_SERVER: istOnTimer(this, tx, now); break;
          case TX_NON_INVITE_SERVER: nistOnTimer(this, tx, now); break;
        }
        if (this.ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending
  // ------------------------------------------------------------------------------------------

  /** (Re)sends the bytes a transaction keeps; a refusal ends it with a transport error. @keepParams: under most sends. */
  transmit(tx: Transaction): boolean { return this.transmitBytes(tx, this.keptBytes(tx), this.keptLength(tx)); }

  /** Sends data[0, length) where tx sends; a transport error ends tx (the TU told). */
  transmitBytes(tx: Transaction, data: Uint8Array, length: number): boolean {
    const r = this.transport.send(data, length, this.addressOf(tx), this.portOf(tx), this.transportOf(tx));
    if (r < 0) {
      this.stats.transportErrors++;
      this.tu.onTransportError(tx);
      this.terminate(tx);
      return false;
    }
    return true;
  }

  /**
   * Starts a client transaction for a request the TU wrote into data[0, length): its method id, where the
   * top Via's branch value sits in data (branchStart, branchEnd), and where to send it (the ACK for a
   * non-2xx reads the CSeq from the kept request). Returns the transaction, or null when the pool is full (ERR_POOL_FULL) or the
   * request does not fit the per-transaction buffer. Allocates nothing.
   */
  sendRequest(data: Uint8Array, length: number, method: number, branchStart: number, branchEnd: number,
    address: string, port: number, transport: number, now: number): Transaction | null {
    // Filed apart from the send: on Espruino the filing's locals are gone from under it (~14 variables).
    const tx = this.openClient(data, length, method, branchStart, branchEnd, address, port, transport);
    if (tx < 0) return null;
    const s = (tx & this.tableMask) * SLOT_INTS;
    if (this.ints[s + I_KIND] === TX_INVITE_CLIENT) ictStart(this, tx, now);
    else nictStart(this, tx, now);
    if (this.ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
    return tx;
  }

  /** sendRequest's new client transaction: its copy, method, branch and destination filed; -1 when it cannot start. */
  private openClient(data: Uint8Array, length: number, method: number, branchStart: number, branchEnd: number,
    address: string, port: number, transport: number): Transaction {
    const branchLength = branchEnd - branchStart;
    if (length > this.scratch.buf.length || branchLength <= 0) return -1;
    const tx = this.allocate(method === METHOD_INVITE ? TX_INVITE_CLIENT : TX_NON_INVITE_CLIENT);
    if (tx < 0) { this.stats.poolFull++; return -1; }
    this.keep(tx, data, length);
    const t = tx & this.tableMask, s = t * SLOT_INTS, ints = this.ints;
    ints[s + I_METHOD] = method;
    let h = FNV_BASIS, c = CHECK_SEED;
    for (let i = branchStart; i < branchEnd; i++) { h = fnv1aStep(h, data[i]); c = checkStep(c, data[i]); }
    this.keepBranch(t, branchLength, h, c);
    ints[s + I_KEY] = 0;
    ints[s + I_SENT_BY] = 0;
    this.address[t] = address;
    ints[s + I_PORT] = port;
    ints[s + I_TRANSPORT] = transport;
    this.link(t);
    return tx;
  }

  /**
   * The TU answers a server transaction with a response it wrote into data[0, length) (use
   * writeResponseHead). The layer keeps it for retransmission and moves the state machine.
   */
  respond(tx: Transaction, data: Uint8Array, length: number, status: number, now: number): boolean {
    const s = this.liveAt(tx);
    if (s < 0) return false;
    const kind = this.ints[s + I_KIND];
    if (this.ints[s + I_STATE] === TS_FREE || (kind !== TX_INVITE_SERVER && kind !== TX_NON_INVITE_SERVER)) return false;
    if (length > this.scratch.buf.length) return false; // the scratch writer is bufferSize long
    this.keep(tx, data, length);
    if (kind === TX_INVITE_SERVER) istOnRespond(this, tx, status, now);
    else nistOnRespond(this, tx, status, now);
    if (this.ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
    return true;
  }

  /**
   * The TU answers a server transaction with 200 OK and nothing but the head (writeOk). With exact copies a
   * non-INVITE transaction keeps none (REWRITE_OK): a retransmitted request gets the 200 written again from it.
   */
  respondOk(tx: Transaction, msg: SipMessage, now: number): boolean {
    if (this.liveAt(tx) < 0) return false;
    const n = writeOk(this.scratch, msg);
    return n > 0 && this.respondWritten(tx, n, now);
  }

  /**
   * respondOk's 200, written into the scratch writer's [0, n): kept (or not: see respondOk), sent, and the machine
   * moved. @keepParams: under the send.
   */
  private respondWritten(tx: Transaction, n: number, now: number): boolean {
    const s = this.liveAt(tx);
    if (s < 0) return false;
    if (!this.exact || this.ints[s + I_KIND] !== TX_NON_INVITE_SERVER) return this.respond(tx, this.scratch.buf, n, 200, now);
    // Only an answer the state machine takes (a second final response is ignored, the kept one stays).
    if (this.ints[s + I_STATE] !== TS_TRYING && this.ints[s + I_STATE] !== TS_PROCEEDING) return false;
    // Sent from the scratch writer, not copied; the slot keeps the marker once it is sent.
    const t = tx & this.tableMask;
    this.buffers[t] = this.scratch.buf;
    this.ints[s + I_LENGTH] = n;
    nistOnRespond(this, tx, 200, now);
    if (this.liveAt(tx) < 0) return true; // a transport error ended it
    delete this.buffers[t];
    this.ints[s + I_LENGTH] = REWRITE_OK;
    if (this.ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Receiving
  // ------------------------------------------------------------------------------------------

  /** Slot t keeps the branch of length n and hashes h, c (a received branch's: fnv1aSpan, branchCheck). */
  private branchIs(t: number, n: number, h: number, c: number): boolean {
    const o = t * SLOT_INTS, ints = this.ints;
    return ints[o + I_BRANCH_LENGTH] === n && ints[o + I_BRANCH_HASH] === h && ints[o + I_BRANCH_CHECK] === c;
  }

  /** §17.1.3: a response matches the client transaction with its top branch and CSeq method. */
  private matchClient(msg: SipMessage): Transaction {
    const v = msg.via, ints = this.ints;
    if (v.branchStart < 0) return -1;
    const n = v.branchEnd - v.branchStart, h = fnv1aSpan(msg.src, v.branchStart, v.branchEnd, FNV_BASIS), c = branchCheck(msg.src, v.branchStart, v.branchEnd);
    for (let i = ints[this.heads + (h & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_BRANCH]) {
      const s = i * SLOT_INTS, kind = ints[s + I_KIND];
      if ((kind === TX_INVITE_CLIENT || kind === TX_NON_INVITE_CLIENT) && ints[s + I_METHOD] === msg.cseqMethod &&
          this.branchIs(i, n, h, c)) return ints[s + I_HANDLE];
    }
    return -1;
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
   * Call-ID, From tag, CSeq number and sent-by, with the method rule the same. sentBy is hashSentBy's; n is
   * the branch's length (0 without the magic cookie), h and c its hashes (fnv1aSpan, branchCheck).
   */
  private matchServer(msg: SipMessage, sentBy: number, n: number, h: number, c: number): Transaction {
    const ints = this.ints;
    const method = msg.method === METHOD_ACK ? METHOD_INVITE : msg.method;
    if (n > 0) {
      for (let i = ints[this.heads + (h & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_BRANCH]) {
        const s = i * SLOT_INTS, kind = ints[s + I_KIND];
        if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && ints[s + I_METHOD] === method &&
            ints[s + I_SENT_BY] === sentBy && this.branchIs(i, n, h, c)) return ints[s + I_HANDLE];
      }
      return -1;
    }
    const key = this.requestKeyHash(msg);
    for (let i = ints[this.heads + this.tableMask + 1 + (key & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_KEY]) {
      const s = i * SLOT_INTS, kind = ints[s + I_KIND];
      if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && ints[s + I_METHOD] === method &&
          ints[s + I_KEY] === key && ints[s + I_SENT_BY] === sentBy && ints[s + I_BRANCH_LENGTH] === 0) return ints[s + I_HANDLE];
    }
    return -1;
  }

  /** Answers a request without a transaction (pool full, merged request). */
  private answerStatelessly(msg: SipMessage, status: number, reason: string, address: string, port: number, transport: number): void {
    const w = this.scratch.reset();
    writeResponseHead(w, msg, status, reason, statelessToTag(msg));
    if (status === 503) w.headerNum("Retry-After", this.retrySeconds);
    const n = w.end(null, 0, 0);
    if (n > 0) this.transport.send(w.buf, n, address, port, transport);
  }

  /**
   * respondOk, once the TU has returned from the onRequest that gives it tx (at once when tx is not the
   * request being delivered). For a TU that sends nothing else while it handles that request: the 200 then
   * goes out from deliver(), without the TU's frames under it (~70 variables on Espruino).
   */
  respondOkLater(tx: Transaction, msg: SipMessage, now: number): boolean {
    if (tx !== this.delivering || this.okDue) return this.respondOk(tx, msg, now);
    if (this.liveAt(tx) < 0) return false;
    this.okDue = true;
    this.dueNow = now;
    return true;
  }

  /**
   * Sends the 200 respondOkLater left for the request deliver() has just handed the TU (msg); with holdOk,
   * writes it only, for flushOk().
   */
  private sendOkDue(tx: Transaction, msg: SipMessage): void {
    if (!this.okDue) return;
    this.okDue = false;
    const n = writeOk(this.scratch, msg);
    if (n <= 0) return;
    if (!this.holdOk) this.respondWritten(tx, n, this.dueNow);
    else { this.heldTx = tx; this.heldLength = n; }
  }

  /**
   * Sends the 200 deliver() wrote and held (holdOk), if any. The transport's owner calls it once the transport
   * has returned from the message and let it go, before anything else is written into the scratch writer.
   */
  flushOk(): void {
    const tx = this.heldTx;
    if (tx < 0) return;
    this.heldTx = -1;
    this.respondWritten(tx, this.heldLength, this.dueNow);
  }

  /**
   * The TU's part of the message accept() took last: its onRequest, onResponse, onAck or onStrayResponse,
   * once. Call it after accept() has returned, before msg is parsed over.
   */
  deliver(msg: SipMessage): void {
    const due = this.due, tx = this.dueTx;
    if (due === DUE_NONE) return;
    this.due = DUE_NONE;
    const address = this.dueAddress;
    this.dueAddress = NO_ADDRESS;
    if (due === DUE_REQUEST) {
      // A 200 the TU left with respondOkLater goes out once the TU has returned.
      this.delivering = tx;
      this.tu.onRequest(tx, msg);
      this.delivering = -1;
      this.sendOkDue(tx, msg);
    } else if (due === DUE_RESPONSE) this.tu.onResponse(tx, msg);
    else if (due === DUE_ACK) this.tu.onAck(msg, address, this.duePort);
    else this.tu.onStrayResponse(msg, address, this.duePort, this.dueNow);
  }

  /**
   * A message from the transport, matched and run through its transaction's state machine (§17.1.3,
   * §17.2.3); what the TU must hear is left for deliver(), which the caller runs next. Never throws.
   */
  accept(msg: SipMessage, address: string, port: number, transport: number, now: number): void {
    const ints = this.ints;
    this.due = DUE_NONE;
    this.dueAddress = address;
    this.duePort = port;
    this.dueNow = now;
    if (!msg.isRequest) {
      const tx = this.matchClient(msg);
      if (tx < 0) {
        this.stats.strayResponses++;
        this.due = DUE_STRAY;
        return;
      }
      const s = (tx & this.tableMask) * SLOT_INTS;
      this.dueTx = tx; // for the TU, when the state machine says it is due (DUE_RESPONSE)
      if (ints[s + I_KIND] === TX_INVITE_CLIENT) ictOnResponse(this, tx, msg, now);
      else nictOnResponse(this, tx, msg, now);
      if (ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
      return;
    }
    // The top Via's sent-by and magic-cookie branch, hashed once: matched, then kept by a new transaction.
    const v = msg.via, src = msg.src, sentBy = this.hashSentBy(msg);
    const n = v.hasMagicCookie() ? v.branchEnd - v.branchStart : 0;
    const h = n > 0 ? fnv1aSpan(src, v.branchStart, v.branchEnd, FNV_BASIS) : 0, c = n > 0 ? branchCheck(src, v.branchStart, v.branchEnd) : 0;
    const tx = this.matchServer(msg, sentBy, n, h, c);
    if (tx >= 0) {
      const s = (tx & this.tableMask) * SLOT_INTS;
      const invite = ints[s + I_KIND] === TX_INVITE_SERVER;
      if (msg.method === METHOD_ACK) {
        if (invite) istOnAck(this, tx, now);
      } else if (invite) istOnRetransmission(this, tx, now);
      else nistOnRetransmission(this, tx, msg, now);
      if (ints[s + I_STATE] !== TS_FREE) this.schedule(tx);
      return;
    }
    if (msg.method === METHOD_ACK) {
      this.due = DUE_ACK;
      return;
    }
    // §8.2.2.2: a request without To tag that repeats the Call-ID, From tag and CSeq of a live server transaction.
    const key = this.requestKeyHash(msg);
    if (msg.to.tagStart < 0) {
      for (let i = ints[this.heads + this.tableMask + 1 + (key & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_KEY]) {
        const s = i * SLOT_INTS, kind = ints[s + I_KIND];
        if ((kind === TX_INVITE_SERVER || kind === TX_NON_INVITE_SERVER) && ints[s + I_KEY] === key && ints[s + I_METHOD] === msg.method) {
          this.stats.merged++;
          this.answerStatelessly(msg, 482, "Loop Detected", address, port, transport);
          return;
        }
      }
    }
    const nt = this.allocate(msg.method === METHOD_INVITE ? TX_INVITE_SERVER : TX_NON_INVITE_SERVER);
    if (nt < 0) {
      this.stats.poolFull++;
      this.answerStatelessly(msg, 503, "Service Unavailable", address, port, transport);
      return;
    }
    const t = nt & this.tableMask, s = t * SLOT_INTS;
    ints[s + I_METHOD] = msg.method;
    this.keepBranch(t, n, h, c);
    ints[s + I_SENT_BY] = sentBy;
    ints[s + I_KEY] = key;
    this.address[t] = address;
    ints[s + I_PORT] = port;
    ints[s + I_TRANSPORT] = transport;
    this.link(t);
    if (ints[s + I_KIND] === TX_INVITE_SERVER) istStart(this, nt, msg, now);
    else nistStart(this, nt, now);
    this.schedule(nt);
    this.due = DUE_REQUEST;
    this.dueTx = nt;
  }

  /**
   * The INVITE server transaction a CANCEL targets (§9.2): same branch and sent-by, method
   * INVITE. The TU answers the CANCEL itself and then 487s the INVITE.
   */
  findCancelTarget(cancel: SipMessage): Transaction | null {
    if (cancel.method !== METHOD_CANCEL) return null;
    const v = cancel.via, ints = this.ints;
    const sentBy = this.hashSentBy(cancel);
    if (!v.hasMagicCookie()) {
      const key = this.requestKeyHash(cancel);
      for (let i = ints[this.heads + this.tableMask + 1 + (key & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_KEY]) {
        const s = i * SLOT_INTS;
        if (ints[s + I_KIND] === TX_INVITE_SERVER && ints[s + I_KEY] === key && ints[s + I_SENT_BY] === sentBy) return ints[s + I_HANDLE];
      }
      return null;
    }
    const src = cancel.src, n = v.branchEnd - v.branchStart, h = fnv1aSpan(src, v.branchStart, v.branchEnd, FNV_BASIS), c = branchCheck(src, v.branchStart, v.branchEnd);
    for (let i = ints[this.heads + (h & this.tableMask)]; i >= 0; i = ints[i * SLOT_INTS + I_NEXT_BRANCH]) {
      const s = i * SLOT_INTS;
      if (ints[s + I_KIND] === TX_INVITE_SERVER && ints[s + I_SENT_BY] === sentBy && this.branchIs(i, n, h, c)) return ints[s + I_HANDLE];
    }
    return null;
  }
}
