// G.711 μ-law/A-law against the Sun g711.c reference, exhaustively over 16-bit input.
import { describe, expect, it } from "vitest";
import {
  alawTable, ulawTable, alawByte, alawDecode, alawEncode, ulawByte, ulawDecode, ulawEncode,
} from "../../sip-core/index.ts";

// Sun Microsystems g711.c (public domain), transliterated: the reference the tables must match bit for bit.
const SEG_UEND = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
function search(v: number, t: number[]): number { for (let i = 0; i < 8; i++) if (v <= t[i]) return i; return 8; }
function refL2u(p: number): number {
  p >>= 2; let m = 0xFF;
  if (p < 0) { p = -p; m = 0x7F; }
  if (p > 8159) p = 8159;
  p += 33;
  const s = search(p, SEG_UEND);
  return s >= 8 ? 0x7F ^ m : ((s << 4) | ((p >> (s + 1)) & 15)) ^ m;
}
function refL2a(p: number): number {
  p >>= 3; let m = 0xD5;
  if (p < 0) { m = 0x55; p = -p - 1; }
  const s = search(p, SEG_AEND);
  if (s >= 8) return 0x7F ^ m;
  return ((s << 4) | (s < 2 ? (p >> 1) & 15 : (p >> s) & 15)) ^ m;
}
function refU2l(u: number): number {
  u = ~u & 255;
  let t = ((u & 15) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}
function refA2l(a: number): number {
  a ^= 0x55;
  let t = (a & 15) << 4;
  const s = (a & 0x70) >> 4;
  if (s === 0) t += 8; else if (s === 1) t += 0x108; else { t += 0x108; t <<= s - 1; }
  return a & 0x80 ? t : -t;
}

const ALL = new Int16Array(65536);
for (let i = 0; i < 65536; i++) ALL[i] = i - 32768;

describe("G.711 encode", () => {
  it("matches g711.c for every 16-bit sample", () => {
    const u = new Uint8Array(65536);
    const a = new Uint8Array(65536);
    ulawEncode(ALL, 0, 65536, u, 0);
    alawEncode(ALL, 0, 65536, a, 0);
    for (let i = 0; i < 65536; i++) {
      const x = ALL[i];
      if (u[i] !== refL2u(x)) expect(u[i], "μ-law " + x).toBe(refL2u(x));
      if (a[i] !== refL2a(x)) expect(a[i], "A-law " + x).toBe(refL2a(x));
      if (ulawByte(x) !== u[i] || alawByte(x) !== a[i]) expect([ulawByte(x), alawByte(x)]).toEqual([u[i], a[i]]);
    }
  });

  it("known reference points", () => {
    expect(ulawByte(0)).toBe(0xFF);
    expect(ulawByte(-1)).toBe(0x7E); // g711.c: -1 >> 2 is -1, magnitude 1
    expect(ulawByte(32767)).toBe(0x80);
    expect(ulawByte(-32768)).toBe(0x00);
    expect(alawByte(0)).toBe(0xD5);
    expect(alawByte(-1)).toBe(0x55);
    expect(alawByte(32767)).toBe(0xAA);
    expect(alawByte(-32768)).toBe(0x2A);
  });

  it("honours offsets and counts", () => {
    const pcm = new Int16Array([999, 0, -8, 1000, 999]);
    const out = new Uint8Array(6).fill(7);
    ulawEncode(pcm, 1, 3, out, 2);
    expect(Array.from(out)).toEqual([7, 7, 0xFF, ulawByte(-8), ulawByte(1000), 7]);
    out.fill(7);
    alawEncode(pcm, 1, 3, out, 2);
    expect(Array.from(out)).toEqual([7, 7, 0xD5, alawByte(-8), alawByte(1000), 7]);
  });
});

describe("G.711 decode", () => {
  it("tables match g711.c", () => {
    for (let c = 0; c < 256; c++) {
      expect(ulawTable()[c]).toBe(refU2l(c));
      expect(alawTable()[c]).toBe(refA2l(c));
    }
  });

  it("every code decodes and re-encodes to itself (μ-law 0x7F is the second zero)", () => {
    const codes = new Uint8Array(256);
    for (let c = 0; c < 256; c++) codes[c] = c;
    const pcm = new Int16Array(258);
    const back = new Uint8Array(256);
    ulawDecode(codes, 0, 256, pcm, 2);
    ulawEncode(pcm, 2, 256, back, 0);
    for (let c = 0; c < 256; c++) expect(back[c], "μ-law " + c).toBe(c === 0x7F ? 0xFF : c);
    alawDecode(codes, 0, 256, pcm, 1);
    alawEncode(pcm, 1, 256, back, 0);
    for (let c = 0; c < 256; c++) expect(back[c], "A-law " + c).toBe(c);
  });

  it("round-trip error stays within half a quantisation step of the segment", () => {
    const u = new Uint8Array(65536);
    const a = new Uint8Array(65536);
    const pu = new Int16Array(65536);
    const pa = new Int16Array(65536);
    ulawEncode(ALL, 0, 65536, u, 0);
    ulawDecode(u, 0, 65536, pu, 0);
    alawEncode(ALL, 0, 65536, a, 0);
    alawDecode(a, 0, 65536, pa, 0);
    const worstU = new Int32Array(8);
    const worstA = new Int32Array(8);
    for (let i = 0; i < 65536; i++) {
      const x = ALL[i];
      // Clipped beyond the last decision level: not a quantisation error.
      if (x > 32124 || x < -32124) continue;
      const su = ((~u[i] & 255) >> 4) & 7;
      const sa = ((a[i] ^ 0x55) >> 4) & 7;
      worstU[su] = Math.max(worstU[su], Math.abs(pu[i] - x));
      if (x <= 32255 && x >= -32256) worstA[sa] = Math.max(worstA[sa], Math.abs(pa[i] - x));
    }
    for (let s = 0; s < 8; s++) {
      // μ-law step is 8 << s in 16-bit units; A-law 16 in segments 0 and 1, then 16 << (s - 1).
      expect(worstU[s], "μ-law segment " + s).toBeLessThanOrEqual((8 << s) / 2 + 4);
      const stepA = s < 2 ? 16 : 16 << (s - 1);
      expect(worstA[s], "A-law segment " + s).toBeLessThanOrEqual(stepA / 2 + 8);
    }
  });
});
