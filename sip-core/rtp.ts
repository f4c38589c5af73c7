// RFC 3550 §5.1 RTP fixed header: decode into a preallocated header, encode into a caller's buffer, and per-stream sender state.

// Decode errors, returned negated (the dns-packet shape: 0 is success). Local to RTP: media packets
// never reach the SIP error counters.
export const RTP_ERR_SHORT = 1;
export const RTP_ERR_VERSION = 2;
export const RTP_ERR_CSRC = 3;
export const RTP_ERR_EXTENSION = 4;
export const RTP_ERR_PADDING = 5;
export const RTP_ERR_NO_ROOM = 6;

/** Fixed header length in bytes (no CSRC list, no extension). */
export const RTP_HEADER_SIZE = 12;

/**
 * One decoded header. Allocate once per stream and reuse: decodeRtp overwrites every field.
 * payloadOffset/payloadLength locate the payload in the decoded buffer (after CSRCs and the
 * extension, before padding), so the payload is never copied.
 */
export class RtpHeader {
  version = 2;
  padding = 0;
  extension = 0;
  csrcCount = 0;
  marker = 0;
  payloadType = 0;
  sequence = 0;
  /** uint32, always ≥ 0. */
  timestamp = 0;
  /** uint32, always ≥ 0. */
  ssrc = 0;
  /** Header extension (§5.3.1): profile word and the offset/length of its data; -1/0 when absent. */
  extensionProfile = -1;
  extensionOffset = -1;
  extensionLength = 0;
  payloadOffset = 0;
  payloadLength = 0;
}

function u32(b: Uint8Array, p: number): number {
  // >>> 0 keeps the top bit as a magnitude: the interpreter's 32-bit ops are signed.
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/**
 * Decodes the packet buf[off, off+len) into out. Returns 0, or a negative RTP_ERR_* when the packet
 * is shorter than its header, is not version 2, or its CSRC list, extension or padding count runs
 * past the end. Never throws; out is only trustworthy after a 0.
 */
export function decodeRtp(buf: Uint8Array, off: number, len: number, out: RtpHeader): number {
  if (len < RTP_HEADER_SIZE || off + len > buf.length) return -RTP_ERR_SHORT;
  const b0 = buf[off];
  const b1 = buf[off + 1];
  out.version = b0 >> 6;
  if (out.version !== 2) return -RTP_ERR_VERSION;
  out.padding = (b0 >> 5) & 1;
  out.extension = (b0 >> 4) & 1;
  out.csrcCount = b0 & 15;
  out.marker = b1 >> 7;
  out.payloadType = b1 & 127;
  out.sequence = (buf[off + 2] << 8) | buf[off + 3];
  out.timestamp = u32(buf, off + 4);
  out.ssrc = u32(buf, off + 8);
  const end = off + len;
  let p = off + RTP_HEADER_SIZE + out.csrcCount * 4;
  if (p > end) return -RTP_ERR_CSRC;
  out.extensionProfile = -1;
  out.extensionOffset = -1;
  out.extensionLength = 0;
  if (out.extension) {
    if (p + 4 > end) return -RTP_ERR_EXTENSION;
    out.extensionProfile = (buf[p] << 8) | buf[p + 1];
    const words = (buf[p + 2] << 8) | buf[p + 3];
    out.extensionOffset = p + 4;
    out.extensionLength = words * 4;
    p += 4 + words * 4;
    if (p > end) return -RTP_ERR_EXTENSION;
  }
  let pad = 0;
  if (out.padding) {
    // §5.1: the last octet counts the padding, itself included, so 0 is as invalid as too many.
    pad = buf[end - 1];
    if (pad === 0 || p + pad > end) return -RTP_ERR_PADDING;
  }
  out.payloadOffset = p;
  out.payloadLength = end - pad - p;
  return 0;
}

/**
 * Writes a 12-byte header from h and payload[0, payloadLength) at buf[off]. Returns the bytes
 * written, or -RTP_ERR_NO_ROOM when they do not fit. The sender never emits CSRCs, an extension or
 * padding (a door phone is a single source and pads nothing), so those fields of h are ignored.
 */
export function encodeRtp(h: RtpHeader, payload: Uint8Array, payloadLength: number, buf: Uint8Array, off: number): number {
  const total = RTP_HEADER_SIZE + payloadLength;
  if (off < 0 || off + total > buf.length || payloadLength > payload.length) return -RTP_ERR_NO_ROOM;
  buf[off] = 0x80;
  buf[off + 1] = (h.marker ? 0x80 : 0) | (h.payloadType & 127);
  buf[off + 2] = (h.sequence >> 8) & 255;
  buf[off + 3] = h.sequence & 255;
  const ts = h.timestamp;
  buf[off + 4] = (ts >>> 24) & 255;
  buf[off + 5] = (ts >>> 16) & 255;
  buf[off + 6] = (ts >>> 8) & 255;
  buf[off + 7] = ts & 255;
  const ss = h.ssrc;
  buf[off + 8] = (ss >>> 24) & 255;
  buf[off + 9] = (ss >>> 16) & 255;
  buf[off + 10] = (ss >>> 8) & 255;
  buf[off + 11] = ss & 255;
  if (payloadLength > 0) {
    // Native copy; a whole-array set avoids even the subarray view.
    if (payloadLength === payload.length) buf.set(payload, off + RTP_HEADER_SIZE);
    else buf.set(payload.subarray(0, payloadLength), off + RTP_HEADER_SIZE);
  }
  return total;
}

/**
 * Sequence/timestamp state of one outgoing stream (§5.1). The caller seeds seq, timestamp and ssrc
 * with random values (E.hwRand on the device, §5.1 says they must be random). nextFrame fills the
 * preallocated header for the packet about to go out and then advances the state; nothing is allocated.
 */
export class RtpSender {
  readonly header: RtpHeader;
  ssrc: number;
  /** Sequence number of the next packet (16 bits). */
  seq: number;
  /** RTP timestamp of the next packet's first sample (uint32). */
  timestamp: number;
  payloadType: number;
  /** Set when the next packet starts a talkspurt (RFC 3551 §4.1: marker on the first packet after silence). */
  talkspurt = true;

  /**
   * header: the RtpHeader to fill (a new one when absent). A session may pass the one it decodes received
   * packets into (one header less: ~17 device variables), as long as it reads no received field after
   * sending, and nextFrame/eventFrame set only payload type, sequence, timestamp, SSRC and marker.
   */
  constructor(ssrc: number, seq: number, timestamp: number, payloadType: number, header?: RtpHeader) {
    this.header = header !== undefined ? header : new RtpHeader();
    this.ssrc = ssrc >>> 0;
    this.seq = seq & 0xFFFF;
    this.timestamp = timestamp >>> 0;
    this.payloadType = payloadType;
  }

  /** Header for a packet carrying `samples` samples; advances seq by 1 and the timestamp by samples. */
  nextFrame(samples: number): RtpHeader {
    const h = this.header;
    h.payloadType = this.payloadType;
    h.sequence = this.seq;
    h.timestamp = this.timestamp;
    h.ssrc = this.ssrc;
    h.marker = this.talkspurt ? 1 : 0;
    this.talkspurt = false;
    this.seq = (this.seq + 1) & 0xFFFF;
    this.timestamp = (this.timestamp + samples) >>> 0;
    return h;
  }

  /**
   * Header for a packet stamped with an earlier timestamp and its own payload type (RFC 4733 events
   * share their start timestamp across packets); advances seq only.
   */
  eventFrame(timestamp: number, payloadType: number, marker: boolean): RtpHeader {
    const h = this.header;
    h.payloadType = payloadType;
    h.sequence = this.seq;
    h.timestamp = timestamp >>> 0;
    h.ssrc = this.ssrc;
    h.marker = marker ? 1 : 0;
    this.seq = (this.seq + 1) & 0xFFFF;
    return h;
  }

  /** Silence (nothing sent) for `samples`: the clock runs on and the next packet starts a talkspurt. */
  skip(samples: number): void {
    this.timestamp = (this.timestamp + samples) >>> 0;
    this.talkspurt = true;
  }
}
