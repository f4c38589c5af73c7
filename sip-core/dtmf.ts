// RFC 4733 §2.3 telephone-event payload, a duplicate-proof event receiver and sender, and SIP INFO DTMF bodies (application/dtmf-relay, application/dtmf).
import type { RtpSender } from "./rtp.ts";

/** Events 0–15 in order (RFC 4733 §3.2 table 7). */
export const DTMF_DIGITS = "0123456789*#ABCD";

export const DTMF_ERR_SHORT = 1;
export const DTMF_ERR_NO_ROOM = 2;

/** Digit char code ('0'–'9', '*', '#', 'A'–'D', lower case a–d accepted) to event 0–15, or -1. */
export function dtmfEvent(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code === 42) return 10;
  if (code === 35) return 11;
  code &= ~0x20;
  if (code >= 65 && code <= 68) return code - 53;
  return -1;
}

/** Event 0–15 to its digit char code, or -1. */
export function dtmfDigit(event: number): number {
  return event >= 0 && event < 16 ? DTMF_DIGITS.charCodeAt(event) : -1;
}

/** One decoded telephone-event payload (§2.3): preallocate and reuse. */
export class TelephoneEvent {
  event = 0;
  end = false;
  /** Power level in -dBm0, 0–63. */
  volume = 0;
  /** In timestamp units (samples) since the event's RTP timestamp. */
  duration = 0;
}

/** Decodes the 4-byte payload at buf[off]; 0, or -DTMF_ERR_SHORT. */
export function decodeTelephoneEvent(buf: Uint8Array, off: number, len: number, out: TelephoneEvent): number {
  if (len < 4 || off + 4 > buf.length) return -DTMF_ERR_SHORT;
  out.event = buf[off];
  out.end = (buf[off + 1] & 0x80) !== 0;
  out.volume = buf[off + 1] & 63;
  out.duration = (buf[off + 2] << 8) | buf[off + 3];
  return 0;
}

/** Writes the 4-byte payload at buf[off]; 4, or -DTMF_ERR_NO_ROOM. The R bit is always 0. */
export function encodeTelephoneEvent(event: number, end: boolean, volume: number, duration: number, buf: Uint8Array, off: number): number {
  if (off < 0 || off + 4 > buf.length) return -DTMF_ERR_NO_ROOM;
  if (duration > 0xFFFF) duration = 0xFFFF;
  buf[off] = event & 255;
  buf[off + 1] = (end ? 0x80 : 0) | (volume & 63);
  buf[off + 2] = (duration >> 8) & 255;
  buf[off + 3] = duration & 255;
  return 4;
}

/** How many reported events the receiver remembers (§2.5.2.1: end packets are sent three times). */
export const DTMF_MEMORY = 8;
/** Completed digits held back to be put in timestamp order, at most. */
export const DTMF_HOLD = 4;
/** How long a completed digit is held for an earlier one still on its way, in timestamp units (1 s at 8 kHz). */
export const DTMF_HOLD_SAMPLES = 8000;

/**
 * Turns telephone-event packets into digits, each exactly once.
 *
 * An event is identified by its RTP timestamp (§2.5.1.2: every packet of one event carries the
 * event's start timestamp). A digit is reported at the first end packet seen; the timestamp then
 * joins a ring of the last DTMF_MEMORY reported events, so the retransmitted end packets and any
 * late start packet are dropped. When an event's end packets are all lost, it is reported when a
 * packet of a newer event arrives, or when the owner calls flush() (e.g. when voice resumes or the
 * call ends) — reporting at the start packet instead would be quicker, but the end packet carries
 * the real duration and a digit must not be reported twice.
 *
 * Reordering: a start packet older than the pending event is dropped (its end packet, if it comes,
 * still reports it). A completed digit is held until the stream's timestamps are DTMF_HOLD_SAMPLES past
 * it (release(), fed every packet's timestamp), so a digit delayed behind the next one (a path with
 * 500 ms of jitter reorders a code typed at 5 digits a second) still comes out first: digits go to
 * onDigit in timestamp order, at most DTMF_HOLD held, all of them at flush(). Only events 0–15 are
 * digits, others are ignored. Limitation: an event longer
 * than 65535 samples (8 s at 8 kHz) is split by the sender into segments with new timestamps
 * (§2.5.1.3), which this receiver reports as separate digits.
 */
export class DtmfReceiver {
  private readonly seen = new Uint32Array(DTMF_MEMORY);
  private seenCount = 0;
  private seenNext = 0;
  /** The event seen without its end yet (-1: none), its timestamp and longest duration so far. */
  private pendingEvent = -1;
  private pendingTs = 0;
  private pendingDuration = 0;
  /** Completed digits not yet given to onDigit, oldest first: [timestamp, event, duration] each; held counts them. */
  private readonly hold = new Uint32Array(3 * DTMF_HOLD);
  private held = 0;
  /** Called once per digit with its char code and duration in samples. */
  onDigit: (digit: number, duration: number) => void;

  constructor(onDigit: (digit: number, duration: number) => void) {
    this.onDigit = onDigit;
  }

  private report(ts: number, event: number, duration: number): void {
    this.seen[this.seenNext] = ts;
    this.seenNext = (this.seenNext + 1) % DTMF_MEMORY;
    if (this.seenCount < DTMF_MEMORY) this.seenCount++;
    const h = this.hold;
    if (this.held === DTMF_HOLD) this.emit(); // full: the oldest goes now
    // Into timestamp order (serial-number comparison: timestamps wrap).
    let i = this.held;
    while (i > 0 && ((ts - h[3 * (i - 1)]) | 0) < 0) {
      h[3 * i] = h[3 * (i - 1)];
      h[3 * i + 1] = h[3 * (i - 1) + 1];
      h[3 * i + 2] = h[3 * (i - 1) + 2];
      i--;
    }
    h[3 * i] = ts;
    h[3 * i + 1] = event;
    h[3 * i + 2] = duration;
    this.held++;
  }

  /** Gives the oldest held digit to onDigit. */
  private emit(): void {
    const h = this.hold;
    const event = h[1], duration = h[2];
    for (let k = 3; k < 3 * this.held; k++) h[k - 3] = h[k];
    this.held--;
    this.onDigit(DTMF_DIGITS.charCodeAt(event), duration);
  }

  /** The stream has reached timestamp ts (any packet of it): digits DTMF_HOLD_SAMPLES older go to onDigit. */
  release(ts: number): void {
    while (this.held > 0 && (((ts >>> 0) - this.hold[0]) | 0) >= DTMF_HOLD_SAMPLES) this.emit();
  }

  /** The event in progress is over (a newer one, or a new talkspurt): reported, into the hold in its order. */
  settle(): void {
    const event = this.pendingEvent;
    if (event < 0) return;
    this.pendingEvent = -1;
    this.report(this.pendingTs, event, this.pendingDuration);
  }

  /** The stream paused or ended: the pending event is reported and every held digit given to onDigit. */
  flush(): void {
    this.settle();
    while (this.held > 0) this.emit();
  }

  /** Feeds one packet: its RTP timestamp and telephone-event payload. Returns false for a malformed payload. */
  receive(timestamp: number, buf: Uint8Array, off: number, len: number): boolean {
    // The payload read in place (a TelephoneEvent kept per receiver would cost the device ~7 variables).
    if (len < 4 || off + 4 > buf.length) return false;
    const event = buf[off];
    const end = (buf[off + 1] & 0x80) !== 0;
    const duration = (buf[off + 2] << 8) | buf[off + 3];
    if (event > 15) return true;
    const ts = timestamp >>> 0;
    const seen = this.seen;
    for (let i = 0; i < this.seenCount; i++) if (seen[i] === ts) return true; // reported already
    const pending = this.pendingEvent >= 0;
    if (pending && ts !== this.pendingTs) {
      // Serial-number comparison (RFC 3550 timestamps wrap): is this packet's event newer?
      if (((ts - this.pendingTs) | 0) > 0) this.settle();
      else if (!end) return true;
    }
    if (end) {
      if (pending && ts === this.pendingTs) this.pendingEvent = -1;
      this.report(ts, event, duration);
      return true;
    }
    if (this.pendingEvent < 0) {
      this.pendingTs = ts;
      this.pendingEvent = event;
      this.pendingDuration = duration;
    } else if (duration > this.pendingDuration) {
      this.pendingDuration = duration;
    }
    return true;
  }
}

/**
 * Emits the packets of one digit (§2.5.1): an update every frame with the duration so far, the
 * marker on the first, then three end packets with the final duration, all stamped with the
 * event's start timestamp. Drive it from the 20 ms media tick: next() returns the payload length (4)
 * with rtp.header filled, or 0 when the digit is done, at which point the voice clock has moved on
 * by the event's duration and the next voice packet starts a talkspurt.
 */
export class DtmfSender {
  private event = -1;
  private ts = 0;
  private sent = 0;
  private ends = 0;
  private total = 0;
  private frame = 160;
  volume = 10;
  payloadType = 101;

  /** Starts a digit (char code) lasting `duration` samples, updated every `frame` samples; false for a non-digit. */
  begin(digit: number, duration: number, frame: number, rtp: RtpSender): boolean {
    const ev = dtmfEvent(digit);
    if (ev < 0) return false;
    this.event = ev;
    this.ts = rtp.timestamp;
    this.total = duration > 0xFFFF ? 0xFFFF : duration;
    this.frame = frame;
    this.sent = 0;
    this.ends = 0;
    return true;
  }

  /** A digit is being sent (a mangled name: the device, which does not ask, drops the getter). */
  get sendingDigit(): boolean { return this.event >= 0; }

  next(rtp: RtpSender, buf: Uint8Array, off: number): number {
    if (this.event < 0) return 0;
    const first = this.sent === 0 && this.ends === 0;
    let d = this.sent + this.frame;
    let end = false;
    if (d >= this.total) {
      if (this.ends === 3) {
        this.event = -1;
        rtp.skip(this.total);
        return 0;
      }
      d = this.total;
      end = true;
      this.ends++;
    } else {
      this.sent = d;
    }
    if (encodeTelephoneEvent(this.event, end, this.volume, d, buf, off) < 0) return 0;
    rtp.eventFrame(this.ts, this.payloadType, first);
    return 4;
  }
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** A digit value: one character, or 10–15 as a number (some relays send Signal=10 for '*'). */
function dtmfValue(src: string, p: number, end: number): number {
  while (p < end && isWs(src.charCodeAt(p))) p++;
  let q = end;
  while (q > p && isWs(src.charCodeAt(q - 1))) q--;
  // The value ends at the line end.
  const nl = src.indexOf("\n", p);
  if (nl >= 0 && nl < q) { q = nl; while (q > p && isWs(src.charCodeAt(q - 1))) q--; }
  if (q - p === 1) {
    const ev = dtmfEvent(src.charCodeAt(p));
    return ev < 0 ? -1 : DTMF_DIGITS.charCodeAt(ev);
  }
  if (q - p === 2 && src.charCodeAt(p) === 49) {
    const d = src.charCodeAt(p + 1) - 48;
    return d >= 0 && d <= 5 ? DTMF_DIGITS.charCodeAt(10 + d) : -1;
  }
  return -1;
}

/**
 * The digit of a SIP INFO body in src[start, end): application/dtmf-relay ("Signal=5\r\nDuration=160",
 * keys in any case, spaces around '=') when contentTypeIsRelay, else application/dtmf (the digit
 * alone). Returns the digit's char code (A–D upper case), or -1.
 */
export function parseDtmfInfo(src: string, start: number, end: number, contentTypeIsRelay: boolean): number {
  if (!contentTypeIsRelay) return dtmfValue(src, start, end);
  let p = start;
  while (p < end) {
    let nl = src.indexOf("\n", p);
    if (nl < 0 || nl > end) nl = end;
    while (p < nl && isWs(src.charCodeAt(p))) p++;
    if (nl - p >= 6 && lower(src.charCodeAt(p)) === 115 && lower(src.charCodeAt(p + 1)) === 105 &&
        lower(src.charCodeAt(p + 2)) === 103 && lower(src.charCodeAt(p + 3)) === 110 &&
        lower(src.charCodeAt(p + 4)) === 97 && lower(src.charCodeAt(p + 5)) === 108) {
      let q = p + 6;
      while (q < nl && (src.charCodeAt(q) === 32 || src.charCodeAt(q) === 9)) q++;
      if (q < nl && src.charCodeAt(q) === 61) return dtmfValue(src, q + 1, nl);
    }
    p = nl + 1;
  }
  return -1;
}
