// RFC 3261 §17.1.2 non-INVITE client transaction (Figure 6): Timers E, F and K.
import type { SipMessage } from "./message.ts";
import { TRANSPORT_UDP, TS_COMPLETED, TS_PROCEEDING, TS_TRYING, type Transaction } from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";

/** Trying: send; Timer E (retransmit, unreliable only) and Timer F (timeout). */
export function nictStart(L: TransactionLayer, tx: Transaction, now: number): void {
  tx.state = TS_TRYING;
  L.armRetransmitAndTimeout(tx, now);
  L.transmit(tx);
}

export function nictOnResponse(L: TransactionLayer, tx: Transaction, msg: SipMessage, now: number): void {
  const i = tx.index;
  if (tx.state !== TS_TRYING && tx.state !== TS_PROCEEDING) {
    L.stats.retransmissionsAbsorbed++; // Completed absorbs retransmitted finals
    return;
  }
  if (msg.status < 200) {
    tx.state = TS_PROCEEDING;
    L.tu.onResponse(tx, msg);
    return;
  }
  tx.state = TS_COMPLETED;
  L.retransmitAt[i] = L.timeoutAt[i] = -1;
  L.release(tx); // Completed only absorbs: the request is not sent again
  L.lingerAt[i] = tx.transport === TRANSPORT_UDP ? now + L.timers.t4 : now; // Timer K
  L.tu.onResponse(tx, msg);
}

export function nictOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  const i = tx.index;
  if (L.timeoutAt[i] >= 0 && L.timeoutAt[i] <= now) {
    L.giveUp(tx); // Timer F
    return;
  }
  if (L.retransmitAt[i] >= 0 && L.retransmitAt[i] <= now) {
    // Timer E: doubling up to T2 in Trying, every T2 in Proceeding.
    const t2 = L.timers.t2;
    L.retransmit(tx, now, tx.state === TS_PROCEEDING ? t2 : Math.min(L.retransmitInterval[i] * 2, t2));
    return;
  }
  if (L.lingerAt[i] >= 0 && L.lingerAt[i] <= now) L.terminate(tx); // Timer K
}
