// RFC 3261 §17 transaction record, timer configuration and the interfaces the transaction layer talks through.
import type { SipMessage } from "./message.ts";

// Kinds (§17.1.1, §17.1.2, §17.2.1, §17.2.2).
export const TX_INVITE_CLIENT = 1;
export const TX_NON_INVITE_CLIENT = 2;
export const TX_INVITE_SERVER = 3;
export const TX_NON_INVITE_SERVER = 4;

// States, shared numbering across the four machines (each uses the ones its figure has).
export const TS_FREE = 0;
export const TS_CALLING = 1; // INVITE client, before any response
export const TS_TRYING = 2; // non-INVITE client and server, before any response
export const TS_PROCEEDING = 3;
export const TS_COMPLETED = 4;
export const TS_CONFIRMED = 5; // INVITE server after ACK
export const TS_ACCEPTED = 6; // RFC 6026: INVITE client and server after a 2xx
export const TS_TERMINATED = 7;

// Transports, as the layer needs to know them: only unreliable ones retransmit.
export const TRANSPORT_UDP = 0;
export const TRANSPORT_TCP = 1;

/** Protocol timers (ms). Defaults are RFC 3261's T1, T2, T4. */
export interface TimerConfig {
  t1: number;
  t2: number;
  t4: number;
  /** An INVITE server sends 100 Trying when the TU has not answered within this (§17.2.1: 200 ms). */
  trying: number;
}
export const DEFAULT_TIMERS: TimerConfig = { t1: 500, t2: 4000, t4: 5000, trying: 200 };

/** Where the layer sends bytes; the firmware binds it to a HAL socket. Returns 0 or a negative error. */
export interface TransportPort {
  send(data: Uint8Array, length: number, address: string, port: number, transport: number): number;
}

/** The transaction user (UA core, dialogs, registration), given once. Callbacks must not throw. */
export interface TransactionUser {
  /** A new server transaction: answer it with TransactionLayer.respond. */
  onRequest(tx: Transaction, msg: SipMessage): void;
  /** A response for a client transaction (provisional or final, 2xx retransmissions included in Accepted). */
  onResponse(tx: Transaction, msg: SipMessage): void;
  /** Timer B or F fired: the request got no final response. */
  onTimeout(tx: Transaction): void;
  /** The transport refused to send. */
  onTransportError(tx: Transaction): void;
  /** The transaction ended and its slot returned to the pool. */
  onTerminated(tx: Transaction): void;
  /** A request matching no transaction that must not create one: an ACK for a 2xx (§17.2.3, §13.3.1.4). */
  onAck(msg: SipMessage, address: string, port: number): void;
  /** A response matching no client transaction (e.g. a 2xx retransmission after the transaction ended). */
  onStrayResponse(msg: SipMessage, address: string, port: number, now: number): void;
}

// What TransactionLayer.deliver() hands the TU after accept(): nothing, onRequest, onResponse, onAck, onStrayResponse.
export const DUE_NONE = 0;
export const DUE_REQUEST = 1;
export const DUE_RESPONSE = 2;
export const DUE_ACK = 3;
export const DUE_STRAY = 4;

// A slot's timers in TransactionLayer.times[index * SLOT_TIMES + AT_*]: absolute deadlines in ms, -1 when not
// running (Float64: ms clocks pass 2^31 after ~25 days); AT_NEXT is the earliest of them, AT_INTERVAL the
// current retransmission interval. One array for all (on Espruino each array or view costs variables).
export const AT_RETRANSMIT = 0;
export const AT_TIMEOUT = 1;
export const AT_LINGER = 2;
export const AT_TRYING = 3;
export const AT_NEXT = 4;
export const AT_INTERVAL = 5;
export const SLOT_TIMES = 6;

// A slot's integer fields in TransactionLayer.ints[index * SLOT_INTS + I_*] (one array: on Espruino an object
// field costs a variable per slot, an array entry only its bytes).
/** The slot's current handle (see Transaction). */
export const I_HANDLE = 0;
export const I_STATE = 1;
/** TX_INVITE_CLIENT … TX_NON_INVITE_SERVER. */
export const I_KIND = 2;
/** Method id of the request (METHOD_*). */
export const I_METHOD = 3;
export const I_TRANSPORT = 4;
/** Where requests go (client) or where responses go (server): the port beside the slot's address. */
export const I_PORT = 5;
/** Bytes of the kept request (client) or last response (server); REWRITE_OK when none is kept. */
export const I_LENGTH = 6;
/**
 * I_LENGTH of a non-INVITE server transaction answered 200 OK with nothing but the head (writeOk): no copy is
 * kept (on Espruino one costs ~16 variables for Timer J's 32 s), a retransmitted request gets it written again.
 */
export const REWRITE_OK = -1;
/** For the TU: any number it wants to associate (a call's serial). */
export const I_OWNER = 7;
/** Server transactions: FNV hash of the top Via sent-by (host and port), part of the §17.2.3 key. */
export const I_SENT_BY = 8;
/** Hash of Call-ID, From tag and CSeq: merged-request detection (§8.2.2.2) and RFC 2543 matching. */
export const I_KEY = 9;
/** Next slot in a hash chain, -1 at the end; a free slot is in no chain, so the free list links through I_NEXT_BRANCH. */
export const I_NEXT_BRANCH = 10;
export const I_NEXT_KEY = 11;
/** Length of the top Via's branch (0: an RFC 2543 request without one). */
export const I_BRANCH_LENGTH = 12;
/**
 * The branch as two independent 32-bit hashes (FNV-1a, and the check of branchCheck): with its length, what
 * §17.1.3 and §17.2.3 compare, not its bytes (a copy of 64 bytes per slot is ~42 variables on Espruino for 16
 * slots). A different branch that agrees on length and 64 bits of hash is as unlikely as guessing the 64
 * random bits of one of ours; a peer that can read our branches can send them anyway.
 */
export const I_BRANCH_HASH = 13;
export const I_BRANCH_CHECK = 14;
export const SLOT_INTS = 15;

/**
 * A transaction handle: a number naming one use of a slot of the layer's fixed pool. Its low bits are the
 * slot's index; each reuse of the slot gives it a new handle, so a stale handle is told from the live one
 * (the layer's accessors answer TS_FREE or nothing for it). What a slot holds lives in the layer's arrays
 * (TransactionLayer.state, owner, transportOf, keptBytes, keptLength read it): no object per slot.
 */
export type Transaction = number;

/** The buffer of a slot that keeps nothing (exact copies). */
export const NO_BYTES = new Uint8Array(0);

/**
 * Copies src[0, length) into dst without making a view: when src fits, the whole array is copied
 * natively (a view per call would be a per-message allocation); otherwise only the prefix.
 */
export function keepBytes(dst: Uint8Array, src: Uint8Array, length: number): void {
  if (src.length <= dst.length) dst.set(src);
  else dst.set(src.subarray(0, length));
}
