// RFC 3550 RTP header codec and sender state.
import { describe, expect, it } from "vitest";
import {
  RTP_ERR_CSRC, RTP_ERR_EXTENSION, RTP_ERR_NO_ROOM, RTP_ERR_PADDING, RTP_ERR_SHORT, RTP_ERR_VERSION,
  RtpHeader, RtpSender, decodeRtp, encodeRtp,
} from "../../sip-core/index.ts";

const bytes = (a: number[]): Uint8Array => new Uint8Array(a);
// V=2, no P/X/CC, M=1 PT=0, seq 0x1234, ts 0xDEADBEEF, ssrc 0x80000001, payload 1 2 3
const BASIC = [0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x80, 0x00, 0x00, 0x01, 1, 2, 3];

describe("decodeRtp", () => {
  it("decodes the fixed header, uint32 fields non-negative", () => {
    const h = new RtpHeader();
    expect(decodeRtp(bytes(BASIC), 0, BASIC.length, h)).toBe(0);
    expect(h.version).toBe(2);
    expect(h.marker).toBe(1);
    expect(h.payloadType).toBe(0);
    expect(h.sequence).toBe(0x1234);
    expect(h.timestamp).toBe(0xDEADBEEF);
    expect(h.ssrc).toBe(0x80000001);
    expect(h.payloadOffset).toBe(12);
    expect(h.payloadLength).toBe(3);
  });

  it("honours the offset and skips CSRCs, extension and padding", () => {
    const pkt = [9, 9, // junk before
      0xB2, 0x08, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, // V2 P X CC=2, PT 8
      0, 0, 0, 1, 0, 0, 0, 2, // CSRCs
      0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0, // one-word extension
      5, 6, 7, // payload
      0, 0, 3, // padding of 3
      9]; // junk after
    const h = new RtpHeader();
    expect(decodeRtp(bytes(pkt), 2, pkt.length - 3, h)).toBe(0);
    expect(h.csrcCount).toBe(2);
    expect(h.extension).toBe(1);
    expect(h.extensionProfile).toBe(0xBEDE);
    expect(h.extensionOffset).toBe(2 + 12 + 8 + 4);
    expect(h.extensionLength).toBe(4);
    expect(h.payloadType).toBe(8);
    expect(h.timestamp).toBe(160);
    expect(h.payloadOffset).toBe(2 + 12 + 8 + 8);
    expect(h.payloadLength).toBe(3);
  });

  it("rejects malformed packets without throwing", () => {
    const h = new RtpHeader();
    const cases: [number[], number][] = [
      [[], -RTP_ERR_SHORT],
      [BASIC.slice(0, 11), -RTP_ERR_SHORT],
      [[0x40, ...BASIC.slice(1)], -RTP_ERR_VERSION],
      [[0xC0, ...BASIC.slice(1)], -RTP_ERR_VERSION],
      [[0x8F, ...BASIC.slice(1)], -RTP_ERR_CSRC], // 15 CSRCs in 15 bytes
      [[0x81, ...BASIC.slice(1, 12), 1, 2], -RTP_ERR_CSRC],
      [[0x90, ...BASIC.slice(1, 12), 0, 0], -RTP_ERR_EXTENSION],
      [[0x90, ...BASIC.slice(1, 12), 0, 0, 0, 2, 1, 2, 3, 4], -RTP_ERR_EXTENSION],
      [[0xA0, ...BASIC.slice(1, 12), 1, 2, 9], -RTP_ERR_PADDING], // padding longer than the packet
      [[0xA0, ...BASIC.slice(1, 12), 1, 2, 0], -RTP_ERR_PADDING], // zero padding count
    ];
    for (const [pkt, err] of cases) expect(decodeRtp(bytes(pkt), 0, pkt.length, h), JSON.stringify(pkt)).toBe(err);
    // A length beyond the buffer is "short", not an out-of-bounds read.
    expect(decodeRtp(bytes(BASIC), 4, BASIC.length, h)).toBe(-RTP_ERR_SHORT);
  });

  it("accepts padding that consumes the whole payload", () => {
    const h = new RtpHeader();
    const pkt = [0xA0, ...BASIC.slice(1, 12), 0, 0, 3];
    expect(decodeRtp(bytes(pkt), 0, pkt.length, h)).toBe(0);
    expect(h.payloadLength).toBe(0);
  });

  it("never throws on random bytes", () => {
    const h = new RtpHeader();
    const buf = new Uint8Array(64);
    let seed = 12345;
    for (let n = 0; n < 5000; n++) {
      for (let i = 0; i < buf.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; buf[i] = seed >>> 24; }
      buf[0] = (buf[0] & 0x3F) | 0x80;
      const len = seed % 65;
      const r = decodeRtp(buf, 0, len, h);
      if (r === 0) {
        expect(h.payloadOffset + h.payloadLength).toBeLessThanOrEqual(len);
        expect(h.payloadLength).toBeGreaterThanOrEqual(0);
      } else expect(r).toBeLessThan(0);
    }
  });
});

describe("encodeRtp", () => {
  it("round-trips through decodeRtp", () => {
    const h = new RtpHeader();
    h.marker = 1; h.payloadType = 101; h.sequence = 65535; h.timestamp = 0xFFFFFFFF; h.ssrc = 0xCAFEBABE;
    const payload = bytes([1, 2, 3, 4, 5, 6]);
    const buf = new Uint8Array(40);
    expect(encodeRtp(h, payload, 4, buf, 3)).toBe(16);
    const d = new RtpHeader();
    expect(decodeRtp(buf, 3, 16, d)).toBe(0);
    expect([d.marker, d.payloadType, d.sequence, d.timestamp, d.ssrc]).toEqual([1, 101, 65535, 0xFFFFFFFF, 0xCAFEBABE]);
    expect(Array.from(buf.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength))).toEqual([1, 2, 3, 4]);
    expect(encodeRtp(h, payload, 6, buf, 0)).toBe(18);
    expect(encodeRtp(h, payload, 0, buf, 0)).toBe(12);
  });

  it("reports no room instead of writing past the buffer", () => {
    const h = new RtpHeader();
    const buf = new Uint8Array(20);
    expect(encodeRtp(h, new Uint8Array(160), 160, buf, 0)).toBe(-RTP_ERR_NO_ROOM);
    expect(encodeRtp(h, new Uint8Array(8), 8, buf, 1)).toBe(-RTP_ERR_NO_ROOM);
    expect(encodeRtp(h, new Uint8Array(2), 4, buf, 0)).toBe(-RTP_ERR_NO_ROOM);
    expect(buf.every((b) => b === 0)).toBe(true);
  });
});

describe("RtpSender", () => {
  it("advances seq by 1 and timestamp by samples, wrapping, marker on talkspurt starts", () => {
    const s = new RtpSender(0xFFFFFFFF, 65534, 0xFFFFFF00, 0);
    const h1 = s.nextFrame(160);
    expect([h1.sequence, h1.timestamp, h1.marker, h1.ssrc]).toEqual([65534, 0xFFFFFF00, 1, 0xFFFFFFFF]);
    const h2 = s.nextFrame(160);
    expect(h2).toBe(h1); // preallocated
    expect([h2.sequence, h2.timestamp, h2.marker]).toEqual([65535, 0xFFFFFFA0 >>> 0, 0]);
    const h3 = s.nextFrame(160);
    expect([h3.sequence, h3.timestamp, h3.marker]).toEqual([0, 64, 0]);
    s.skip(800);
    const h4 = s.nextFrame(160);
    expect([h4.sequence, h4.timestamp, h4.marker]).toEqual([1, 1024, 1]);
    expect(s.nextFrame(160).marker).toBe(0);
  });
});
