// RFC 3261 §17.2.2 non-INVITE server transaction (Figure 8): Timer J.
import type { SipMessage } from "./message.ts";
import {
  AT_LINGER, AT_TIMEOUT, REWRITE_OK, SLOT_TIMES, TRANSPORT_UDP, TS_COMPLETED, TS_PROCEEDING, TS_TRYING, type Transaction,
} from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { writeOk } from "./writer.ts";

/**
 * Trying. The TU must answer; if it never does, the slot is reclaimed after 64×T1 (the client has
 * given up by then, Timer F), so a silent TU cannot drain the pool.
 */
export function nistStart(L: TransactionLayer, tx: Transaction, now: number): void {
  L.setState(tx, TS_TRYING);
  L.times[(tx & L.tableMask) * SLOT_TIMES + AT_TIMEOUT] = now + 64 * L.timers.t1;
}

export function nistOnRespond(L: TransactionLayer, tx: Transaction, status: number, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.state(tx) !== TS_TRYING && L.state(tx) !== TS_PROCEEDING) return;
  if (status < 200) L.setState(tx, TS_PROCEEDING);
  else {
    L.setState(tx, TS_COMPLETED);
    L.times[t + AT_TIMEOUT] = -1;
    L.times[t + AT_LINGER] = L.transportOf(tx) === TRANSPORT_UDP ? now + 64 * L.timers.t1 : now; // Timer J
  }
  L.transmit(tx);
}

/** A retransmitted request: repeat the last response (a 200 OK kept as REWRITE_OK written from msg), or absorb it in Trying. */
export function nistOnRetransmission(L: TransactionLayer, tx: Transaction, msg: SipMessage, _now: number): void {
  L.stats.retransmissionsAbsorbed++;
  if (L.state(tx) !== TS_PROCEEDING && L.state(tx) !== TS_COMPLETED) return;
  if (L.keptLength(tx) > 0) L.transmit(tx);
  else if (L.keptLength(tx) === REWRITE_OK) {
    const n = writeOk(L.scratch, msg);
    if (n > 0) L.transmitBytes(tx, L.scratch.buf, n);
  }
}

export function nistOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.times[t + AT_TIMEOUT] >= 0 && L.times[t + AT_TIMEOUT] <= now) L.giveUp(tx); // the TU never answered
  else if (L.times[t + AT_LINGER] >= 0 && L.times[t + AT_LINGER] <= now) L.terminate(tx); // Timer J
}
