// Flood control: SIP datagrams from sources that are not trusted, rate limited per source address and in total, before they are parsed.
//
// A token bucket per source (refilled at `rate` a second, holding at most `burst`) in a fixed table of
// `sources` slots, keyed by a hash of the address; a full table gives the slot heard from longest ago to the
// newcomer. A second bucket (`total` a second, holding a second's worth) is shared by every untrusted source:
// a scanner spraying from many addresses fills the table with fresh buckets, and that one still holds.
// Trusted sources (the registrars, the allow list) are never limited: the phone does not ask. What is refused
// is dropped and counted; with `refuse` REFUSE_REJECT a refused request is answered 403, but those answers
// have a bucket of their own (`rate` a second overall): an answer is what a flood wants, and the phone must
// not become its amplifier. All state is one Float64Array (three functions, no class), made by the phone only
// when an untrusted source first sends (on Espruino each field, array and function costs variables, and the
// phone's peak is counted in them).
import { FNV_BASIS, fnv1aSpan } from "../sip-core/index.ts";

export interface FloodConfig {
  /** Datagrams a second from one untrusted source address (0: no per-source limit). JSON: flood.perSecond. */
  rate: number;
  /** How many one source may send at once before its rate counts. */
  burst: number;
  /** Datagrams a second from all untrusted sources together (0: no overall limit). JSON: flood.totalPerSecond. */
  total: number;
  /** Sources tracked at once (the table's slots). */
  sources: number;
  /** What a refused datagram gets: REFUSE_DROP (nothing), REFUSE_REJECT (a 403, within the answers' own rate). JSON: flood.refuse. */
  refuse: number;
}

// The state's layout: the counters, the total bucket, the answers' bucket, then three numbers a slot.
export const DROPPED_SOURCE = 0;
export const DROPPED_TOTAL = 1;
/** Refused datagrams let through to be answered 403 (counted in DROPPED_* too). */
export const ANSWERED = 2;
const TOTAL_TOKENS = 3;
const TOTAL_AT = 4;
const ANSWER_TOKENS = 5;
const ANSWER_AT = 6;
const SLOTS = 7;
const KEY = 0;
const TOKENS = 1;
const AT = 2;

/** A limiter's state for config: [0] dropped over a source's rate, [1] over the total rate, then the buckets. */
export function floodState(config: FloodConfig): Float64Array {
  const s = new Float64Array(SLOTS + 3 * (config.sources > 0 ? config.sources : 1));
  s[TOTAL_AT] = -1;
  s[ANSWER_AT] = -1;
  return s;
}

/**
 * Refills the bucket whose tokens are s[i] and whose last use is s[i + 1] (-1: never used, so full) at `rate` a
 * second up to `cap`, and stamps it with now. Every bucket here is two such numbers side by side.
 */
function refill(s: Float64Array, i: number, rate: number, cap: number, now: number): void {
  const t = s[i + 1] < 0 ? cap : s[i] + ((now - s[i + 1]) * rate) / 1000;
  s[i] = t > cap ? cap : t;
  s[i + 1] = now;
}

/**
 * After floodAllow refused a datagram: whether it may still be answered (a 403), at time now. One answer
 * bucket for every source: `rate` a second (`total` when there is no per-source rate), a second's worth at once.
 */
export function floodAnswer(s: Float64Array, c: FloodConfig, now: number): boolean {
  const rate = c.rate > 0 ? c.rate : c.total;
  refill(s, ANSWER_TOKENS, rate, rate, now);
  if (s[ANSWER_TOKENS] < 1) return false;
  s[ANSWER_TOKENS] -= 1;
  s[ANSWERED]++;
  return true;
}

/** Whether a datagram from address (not a trusted one) may go on to be parsed, at time now (ms); s from floodState(c). */
export function floodAllow(s: Float64Array, c: FloodConfig, address: string, now: number): boolean {
  if (c.total > 0) {
    refill(s, TOTAL_TOKENS, c.total, c.total, now);
    if (s[TOTAL_TOKENS] < 1) { s[DROPPED_TOTAL]++; return false; }
  }
  if (c.rate > 0) {
    // The address's slot: its own, else a free one, else the one heard from longest ago, refilled.
    let h = fnv1aSpan(address, 0, address.length, FNV_BASIS);
    if (h === 0) h = 1;
    let b = SLOTS, oldest = SLOTS;
    for (; b < s.length; b += 3) {
      if (s[b + KEY] === h) break;
      if (s[b + KEY] === 0) { oldest = b; b = s.length; break; }
      if (s[b + AT] < s[oldest + AT]) oldest = b;
    }
    if (b >= s.length) {
      b = oldest;
      s[b + KEY] = h;
      s[b + AT] = -1; // a fresh bucket: full
    }
    refill(s, b + TOKENS, c.rate, c.burst, now);
    if (s[b + TOKENS] < 1) { s[DROPPED_SOURCE]++; return false; }
    s[b + TOKENS] -= 1;
  }
  if (c.total > 0) s[TOTAL_TOKENS] -= 1;
  return true;
}
