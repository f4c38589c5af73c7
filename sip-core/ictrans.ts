// RFC 3261 §17.1.1 INVITE client transaction (Figure 5) with RFC 6026's Accepted state and Timer M.
import type { SipMessage } from "./message.ts";
import {
  AT_INTERVAL, AT_LINGER, AT_RETRANSMIT, AT_TIMEOUT, DUE_RESPONSE, SLOT_TIMES, TRANSPORT_UDP, TS_ACCEPTED, TS_CALLING, TS_COMPLETED, TS_PROCEEDING, type Transaction,
} from "./transaction.ts";
import type { TransactionLayer } from "./transactions.ts";
import { bytesToBinaryString, writeAckForNon2xxFrom } from "./writer.ts";

/** Calling: send the INVITE; Timer A (retransmit, unreliable transports only) and Timer B (timeout). */
export function ictStart(L: TransactionLayer, tx: Transaction, now: number): void {
  L.setState(tx, TS_CALLING);
  L.armRetransmitAndTimeout(tx, now);
  L.transmit(tx);
}

/** The ACK for a non-2xx final response, from the kept request (rare: no message view is kept for it). */
function sendAck(L: TransactionLayer, tx: Transaction, resp: SipMessage): void {
  const src = bytesToBinaryString(L.keptBytes(tx), L.keptLength(tx));
  const w = L.scratch.reset();
  const n = writeAckForNon2xxFrom(w, src, resp);
  if (n > 0) L.transport.send(w.buf, n, L.addressOf(tx), L.portOf(tx), L.transportOf(tx));
}

export function ictOnResponse(L: TransactionLayer, tx: Transaction, msg: SipMessage, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  const status = msg.status;
  switch (L.state(tx)) {
    case TS_CALLING:
    case TS_PROCEEDING:
      // Any response stops retransmission and Timer B (§17.1.1.2).
      L.times[t + AT_RETRANSMIT] = -1;
      L.times[t + AT_TIMEOUT] = -1;
      if (status < 200) {
        L.setState(tx, TS_PROCEEDING);
        L.due = DUE_RESPONSE;
      } else if (status < 300) {
        // RFC 6026: wait in Accepted for 2xx retransmissions from other forks; the TU ACKs them.
        L.setState(tx, TS_ACCEPTED);
        L.release(tx); // the TU ACKs 2xx itself; the INVITE is not sent again
        L.times[t + AT_LINGER] = now + 64 * L.timers.t1;
        L.due = DUE_RESPONSE;
      } else {
        L.setState(tx, TS_COMPLETED);
        sendAck(L, tx, msg);
        L.times[t + AT_LINGER] = L.transportOf(tx) === TRANSPORT_UDP ? now + 32000 : now; // Timer D
        L.due = DUE_RESPONSE;
      }
      return;
    case TS_COMPLETED:
      // A retransmitted final response: ACK again, the TU has heard it. A 2xx (another fork answered
      // after this one failed, §16.7 forwards 2xx at once) is the TU's to ACK and end.
      if (status >= 300) { L.stats.retransmissionsAbsorbed++; sendAck(L, tx, msg); }
      else if (status >= 200) L.due = DUE_RESPONSE;
      return;
    case TS_ACCEPTED:
      if (status >= 200 && status < 300) L.due = DUE_RESPONSE;
      return;
  }
}

export function ictOnTimer(L: TransactionLayer, tx: Transaction, now: number): void {
  const t = (tx & L.tableMask) * SLOT_TIMES;
  if (L.times[t + AT_TIMEOUT] >= 0 && L.times[t + AT_TIMEOUT] <= now) {
    L.giveUp(tx); // Timer B: no response at all
    return;
  }
  if (L.times[t + AT_RETRANSMIT] >= 0 && L.times[t + AT_RETRANSMIT] <= now && L.state(tx) === TS_CALLING) {
    L.retransmit(tx, now, L.times[t + AT_INTERVAL] * 2); // Timer A: doubling, no T2 cap for INVITE
    return;
  }
  if (L.times[t + AT_LINGER] >= 0 && L.times[t + AT_LINGER] <= now) L.terminate(tx); // Timer D (Completed) or M (Accepted)
}
