// RFC 3261 §17.1.2 non-INVITE client transaction (Figure 6): Timers E, F and K.
import type { SipMessage } from "./message.ts";
import {
  AT_INTERVAL, AT_LINGER, AT_RETRANSMIT, AT_TIMEOUT, DUE_RESPONSE, SLOT_TIMES, TRANSPORT_UDP, TS_COMPLETED, TS_PROCEEDING, TS_TRYING, type Transaction,
} from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";

/** Trying: send; Timer E (retransmit, unreliable only) and Timer F (timeout). */
export function nictStart(L: TransactionLayer, tx: Transaction, now: number): void {
  L.setState(tx, TS_TRYING);
  L.armRetransmitAndTimeout(tx, now);
  L.transmit(tx);
}

export function nictOnResponse(L: TransactionLayer, tx: Transaction, msg: SipMessage, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.state(tx) !== TS_TRYING && L.state(tx) !== TS_PROCEEDING) {
    L.stats.retransmissionsAbsorbed++; // Completed absorbs retransmitted finals
    return;
  }
  if (msg.status < 200) {
    L.setState(tx, TS_PROCEEDING);
    L.due = DUE_RESPONSE;
    return;
  }
  L.setState(tx, TS_COMPLETED);
  L.times[t + AT_RETRANSMIT] = L.times[t + AT_TIMEOUT] = -1;
  L.release(tx); // Completed only absorbs: the request is not sent again
  L.times[t + AT_LINGER] = L.transportOf(tx) === TRANSPORT_UDP ? now + L.timers.t4 : now; // Timer K
  L.due = DUE_RESPONSE;
}

export function nictOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.times[t + AT_TIMEOUT] >= 0 && L.times[t + AT_TIMEOUT] <= now) {
    L.giveUp(tx); // Timer F
    return;
  }
  if (L.times[t + AT_RETRANSMIT] >= 0 && L.times[t + AT_RETRANSMIT] <= now) {
    // Timer E: doubling up to T2 in Trying, every T2 in Proceeding.
    const t2 = L.timers.t2;
    L.retransmit(tx, now, L.state(tx) === TS_PROCEEDING ? t2 : Math.min(L.times[t + AT_INTERVAL] * 2, t2));
    return;
  }
  if (L.times[t + AT_LINGER] >= 0 && L.times[t + AT_LINGER] <= now) L.terminate(tx); // Timer K
}
