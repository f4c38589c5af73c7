// Flood control: SIP datagrams from sources that are not trusted, rate limited per source address and in total, before they are parsed.
//
// A token bucket per source (refilled at `rate` a second, holding at most `burst`) in a fixed table of
// `sources` slots, keyed by a hash of the address; a full table gives the slot heard from longest ago to the
// newcomer. A second bucket (`total` a second, holding a second's worth) is shared by every untrusted source:
// a scanner spraying from many addresses fills the table with fresh buckets, and that one still holds.
// Trusted sources (the registrars, the allow list) are never limited: the phone does not ask. What is refused
// is dropped and counted, never answered: an answer is what a flood wants. All state is one Float64Array (two
// functions, no class), made by the phone only when an untrusted source first sends (on Espruino each field,
// array and function costs variables, and the phone's peak is counted in them).
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
}

// The state's layout: the two drop counters, the total bucket, then three numbers a slot.
export const DROPPED_SOURCE = 0;
export const DROPPED_TOTAL = 1;
const TOTAL_TOKENS = 2;
const TOTAL_AT = 3;
const SLOTS = 4;
const KEY = 0;
const TOKENS = 1;
const AT = 2;

/** A limiter's state for config: [0] dropped over a source's rate, [1] over the total rate, then the buckets. */
export function floodState(config: FloodConfig): Float64Array {
  const s = new Float64Array(SLOTS + 3 * (config.sources > 0 ? config.sources : 1));
  s[TOTAL_TOKENS] = config.total;
  s[TOTAL_AT] = -1;
  return s;
}

/** Whether a datagram from address (not a trusted one) may go on to be parsed, at time now (ms); s from floodState(c). */
export function floodAllow(s: Float64Array, c: FloodConfig, address: string, now: number): boolean {
  if (c.total > 0) {
    if (s[TOTAL_AT] >= 0) {
      const t = s[TOTAL_TOKENS] + ((now - s[TOTAL_AT]) * c.total) / 1000;
      s[TOTAL_TOKENS] = t > c.total ? c.total : t;
    }
    s[TOTAL_AT] = now;
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
      s[b + TOKENS] = c.burst;
      s[b + AT] = now;
    }
    const t = s[b + TOKENS] + ((now - s[b + AT]) * c.rate) / 1000;
    s[b + TOKENS] = t > c.burst ? c.burst : t;
    s[b + AT] = now;
    if (s[b + TOKENS] < 1) { s[DROPPED_SOURCE]++; return false; }
    s[b + TOKENS] -= 1;
  }
  if (c.total > 0) s[TOTAL_TOKENS] -= 1;
  return true;
}
