// RFC 3261 §17.2.1 INVITE server transaction (Figure 7) with RFC 6026's Accepted state; Timers G, H, I, L and 100 Trying.
import type { SipMessage } from "./message.ts";
import {
  TRANSPORT_UDP, TS_ACCEPTED, TS_COMPLETED, TS_CONFIRMED, TS_PROCEEDING, type Transaction,
} from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { writeResponseHead } from "./writer.ts";

/**
 * Proceeding; the TU has `trying` ms to answer before the transaction sends 100 itself. The 100
 * is written now, from the request, into the slot's buffer: the request is gone by then.
 */
export function istStart(L: TransactionLayer, tx: Transaction, msg: SipMessage, now: number): void {
  tx.state = TS_PROCEEDING;
  tx.tryingAt = now + L.timers.trying;
  const w = L.scratch.reset();
  writeResponseHead(w, msg, 100, "Trying", null);
  const n = w.end(null, 0, 0);
  if (n > 0) {
    L.keep(tx, w.buf, n);
    tx.status = 100;
  }
}

export function istOnRespond(L: TransactionLayer, tx: Transaction, now: number): void {
  const status = tx.status;
  tx.tryingAt = -1;
  if (tx.state === TS_ACCEPTED) {
    // The TU retransmits its 2xx through us (RFC 6026 §7.1); send, stay.
    if (status >= 200 && status < 300) L.transmit(tx);
    return;
  }
  if (tx.state !== TS_PROCEEDING) return;
  if (status < 200) {
    L.transmit(tx);
  } else if (status < 300) {
    tx.state = TS_ACCEPTED;
    tx.lingerAt = now + 64 * L.timers.t1; // Timer L
    L.transmit(tx);
  } else {
    tx.state = TS_COMPLETED;
    L.armRetransmitAndTimeout(tx, now); // Timers G and H
    L.transmit(tx);
  }
}

/** A retransmitted INVITE: repeat the last response (Proceeding, Completed); absorb otherwise. */
export function istOnRetransmission(L: TransactionLayer, tx: Transaction, now: number): void {
  L.stats.retransmissionsAbsorbed++;
  if ((tx.state === TS_PROCEEDING || tx.state === TS_COMPLETED) && tx.length > 0) L.transmit(tx);
  void now;
}

export function istOnAck(L: TransactionLayer, tx: Transaction, msg: SipMessage, address: string, port: number, now: number): void {
  if (tx.state === TS_COMPLETED) {
    tx.state = TS_CONFIRMED;
    tx.retransmitAt = tx.timeoutAt = -1;
    tx.lingerAt = tx.transport === TRANSPORT_UDP ? now + L.timers.t4 : now; // Timer I
  } else if (tx.state === TS_ACCEPTED) {
    L.tu.onAck(msg, address, port); // the ACK for our 2xx belongs to the dialog
  } else {
    L.stats.retransmissionsAbsorbed++;
  }
}

export function istOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  if (tx.tryingAt >= 0 && tx.tryingAt <= now) {
    tx.tryingAt = -1;
    if (tx.state === TS_PROCEEDING && tx.length > 0) L.transmit(tx); // the 100 written at start
    if (tx.state !== TS_PROCEEDING) return;
  }
  if (tx.timeoutAt >= 0 && tx.timeoutAt <= now) {
    L.giveUp(tx); // Timer H: the ACK never came
    return;
  }
  if (tx.retransmitAt >= 0 && tx.retransmitAt <= now && tx.state === TS_COMPLETED) {
    L.retransmit(tx, now, Math.min(tx.retransmitInterval * 2, L.timers.t2)); // Timer G
    return;
  }
  if (tx.lingerAt >= 0 && tx.lingerAt <= now) L.terminate(tx); // Timer I (Confirmed) or L (Accepted)
}

