// ITU-T G.711 μ-law and A-law, bit-exact with the Sun g711.c reference (16-bit linear PCM in, 8-bit codes out).

/*
 * Table budget: 1.25 KB. A direct encode table costs 16 KB for μ-law (index sample >> 2) and 8 KB
 * for A-law (sample >> 3): 24 KB, a tenth of an ESP32's whole variable pool, for two codecs of which
 * a call uses one. Instead the encoders compute sign and magnitude per sample and replace g711.c's
 * segment search loop with one read of SEG (256 bytes, shared: the segment is the position of the
 * magnitude's top bit, μ-law indexed by biased magnitude >> 5, A-law by magnitude >> 4). Decoding is a
 * single read of a 256-entry Int16Array per codec.
 */
// Built on first use: a board without audio (the device sends silence frames) never pays for them
// (~60 variables on Espruino).
let SEG = new Uint8Array(0);
let ULAW_DECODE = new Int16Array(0);
let ALAW_DECODE = new Int16Array(0);

function buildTables(): void {
  if (SEG.length !== 0) return;
  SEG = new Uint8Array(256);
  ULAW_DECODE = new Int16Array(256);
  ALAW_DECODE = new Int16Array(256);
  // floor(log2(i)), 0 for i < 2.
  for (let i = 2; i < 256; i++) SEG[i] = SEG[i >> 1] + 1;
  for (let c = 0; c < 256; c++) {
    // μ-law: complement, then (mantissa·8 + 132) << segment, minus the bias.
    const u = ~c & 255;
    const t = (((u & 15) << 3) + 132) << ((u >> 4) & 7);
    ULAW_DECODE[c] = (u & 128) ? 132 - t : t - 132;
    // A-law: even bits inverted; segment 0 has no implicit leading one.
    const a = c ^ 0x55;
    const seg = (a >> 4) & 7;
    let v = (a & 15) << 4;
    v = seg === 0 ? v + 8 : (v + 0x108) << (seg - 1);
    ALAW_DECODE[c] = (a & 128) ? v : -v;
  }
}

/** The μ-law decode table (code → linear sample), built on first use. */
export function ulawTable(): Int16Array { buildTables(); return ULAW_DECODE; }
/** The A-law decode table (code → linear sample), built on first use. */
export function alawTable(): Int16Array { buildTables(); return ALAW_DECODE; }

/** One sample to μ-law. */
export function ulawByte(s: number): number {
  buildTables();
  let v = s >> 2;
  let mask = 0xFF;
  if (v < 0) { v = -v; mask = 0x7F; }
  // g711.c clips at 8159 and maps an overflowing segment to 0x7F; clipping at 8158 gives the same codes.
  if (v > 8158) v = 8158;
  v += 33;
  const seg = SEG[v >> 5];
  return ((seg << 4) | ((v >> (seg + 1)) & 15)) ^ mask;
}

/** One sample to A-law. */
export function alawByte(s: number): number {
  buildTables();
  let v = s >> 3;
  let mask = 0xD5;
  if (v < 0) { v = -v - 1; mask = 0x55; }
  const seg = SEG[v >> 4];
  return ((seg << 4) | ((v >> (seg > 1 ? seg : 1)) & 15)) ^ mask;
}

/** Encodes pcm[off, off+n) to μ-law at out[outOff]. */
export function ulawEncode(pcm: Int16Array, off: number, n: number, out: Uint8Array, outOff: number): void {
  buildTables();
  // Inlined ulawByte: a function call per sample costs more than the arithmetic on the interpreter.
  for (let i = 0; i < n; i++) {
    let v = pcm[off + i] >> 2;
    let mask = 0xFF;
    if (v < 0) { v = -v; mask = 0x7F; }
    if (v > 8158) v = 8158;
    v += 33;
    const seg = SEG[v >> 5];
    out[outOff + i] = ((seg << 4) | ((v >> (seg + 1)) & 15)) ^ mask;
  }
}

/** Decodes μ-law in[off, off+n) to pcm[outOff]. */
export function ulawDecode(input: Uint8Array, off: number, n: number, pcm: Int16Array, outOff: number): void {
  buildTables();
  const t = ULAW_DECODE;
  for (let i = 0; i < n; i++) pcm[outOff + i] = t[input[off + i]];
}

/** Encodes pcm[off, off+n) to A-law at out[outOff]. */
export function alawEncode(pcm: Int16Array, off: number, n: number, out: Uint8Array, outOff: number): void {
  buildTables();
  for (let i = 0; i < n; i++) {
    let v = pcm[off + i] >> 3;
    let mask = 0xD5;
    if (v < 0) { v = -v - 1; mask = 0x55; }
    const seg = SEG[v >> 4];
    out[outOff + i] = ((seg << 4) | ((v >> (seg > 1 ? seg : 1)) & 15)) ^ mask;
  }
}

/** Decodes A-law in[off, off+n) to pcm[outOff]. */
export function alawDecode(input: Uint8Array, off: number, n: number, pcm: Int16Array, outOff: number): void {
  buildTables();
  const t = ALAW_DECODE;
  for (let i = 0; i < n; i++) pcm[outOff + i] = t[input[off + i]];
}
