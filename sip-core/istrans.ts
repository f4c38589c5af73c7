// RFC 3261 §17.2.1 INVITE server transaction (Figure 7) with RFC 6026's Accepted state; Timers G, H, I, L and 100 Trying.
import type { SipMessage } from "./message.ts";
import {
  AT_INTERVAL, AT_LINGER, AT_RETRANSMIT, AT_TIMEOUT, AT_TRYING, DUE_ACK, SLOT_TIMES, TRANSPORT_UDP, TS_ACCEPTED, TS_COMPLETED, TS_CONFIRMED, TS_PROCEEDING, type Transaction,
} from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { writeResponseHead } from "./writer.ts";

/**
 * Proceeding; the TU has `trying` ms to answer before the transaction sends 100 itself. The 100
 * is written now, from the request, into the slot's buffer: the request is gone by then.
 */
export function istStart(L: TransactionLayer, tx: Transaction, msg: SipMessage, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  L.setState(tx, TS_PROCEEDING);
  L.times[t + AT_TRYING] = now + L.timers.trying;
  const w = L.scratch.reset();
  writeResponseHead(w, msg, 100, "Trying", null);
  const n = w.end(null, 0, 0);
  if (n > 0) L.keep(tx, w.buf, n);
}

/** The TU's response with this status is kept in the slot: send it, move on. */
export function istOnRespond(L: TransactionLayer, tx: Transaction, status: number, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  L.times[t + AT_TRYING] = -1;
  if (L.state(tx) === TS_ACCEPTED) {
    // The TU retransmits its 2xx through us (RFC 6026 §7.1); send, stay.
    if (status >= 200 && status < 300) L.transmit(tx);
    return;
  }
  if (L.state(tx) !== TS_PROCEEDING) return;
  if (status < 200) {
    L.transmit(tx);
  } else if (status < 300) {
    L.setState(tx, TS_ACCEPTED);
    L.times[t + AT_LINGER] = now + 64 * L.timers.t1; // Timer L
    L.transmit(tx);
  } else {
    L.setState(tx, TS_COMPLETED);
    L.armRetransmitAndTimeout(tx, now); // Timers G and H
    L.transmit(tx);
  }
}

/** A retransmitted INVITE: repeat the last response (Proceeding, Completed); absorb otherwise. */
export function istOnRetransmission(L: TransactionLayer, tx: Transaction, now: number): void {
  L.stats.retransmissionsAbsorbed++;
  if ((L.state(tx) === TS_PROCEEDING || L.state(tx) === TS_COMPLETED) && L.keptLength(tx) > 0) L.transmit(tx);
  void now;
}

export function istOnAck(L: TransactionLayer, tx: Transaction, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.state(tx) === TS_COMPLETED) {
    L.setState(tx, TS_CONFIRMED);
    L.times[t + AT_RETRANSMIT] = L.times[t + AT_TIMEOUT] = -1;
    L.times[t + AT_LINGER] = L.transportOf(tx) === TRANSPORT_UDP ? now + L.timers.t4 : now; // Timer I
  } else if (L.state(tx) === TS_ACCEPTED) {
    L.due = DUE_ACK; // the ACK for our 2xx belongs to the dialog
  } else {
    L.stats.retransmissionsAbsorbed++;
  }
}

export function istOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.times[t + AT_TRYING] >= 0 && L.times[t + AT_TRYING] <= now) {
    L.times[t + AT_TRYING] = -1;
    if (L.state(tx) === TS_PROCEEDING && L.keptLength(tx) > 0) L.transmit(tx); // the 100 written at start
    if (L.state(tx) !== TS_PROCEEDING) return;
  }
  if (L.times[t + AT_TIMEOUT] >= 0 && L.times[t + AT_TIMEOUT] <= now) {
    L.giveUp(tx); // Timer H: the ACK never came
    return;
  }
  if (L.times[t + AT_RETRANSMIT] >= 0 && L.times[t + AT_RETRANSMIT] <= now && L.state(tx) === TS_COMPLETED) {
    L.retransmit(tx, now, Math.min(L.times[t + AT_INTERVAL] * 2, L.timers.t2)); // Timer G
    return;
  }
  if (L.times[t + AT_LINGER] >= 0 && L.times[t + AT_LINGER] <= now) L.terminate(tx); // Timer I (Confirmed) or L (Accepted)
}

