// RFC 1321 MD5 over binary strings, for HTTP digest authentication (RFC 2617 / RFC 8760). Espruino has no MD5.
//
// Written for an interpreter that runs source text: one 64-byte block buffer and its Int32Array word
// view allocated once, the block copied in by one native call where the engine can (see loadBlock), and
// the 64 steps as four loops of four written-out steps (Espruino 2v29 on x86-64: 0.85 ms for a 100-byte input;
// fully unrolled was 25% faster at three times the code). Only additions, rotations and boolean operations,
// kept 32-bit with `| 0`.

/** T[i] = floor(abs(sin(i + 1)) * 2^32), RFC 1321 §3.4, as literals (no libm rounding on the device). */
const K = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

/** The message word each step reads: k, (1 + 5k), (5 + 3k), 7k mod 16 for the four rounds. */
const G = new Uint8Array(64);
for (let i = 0; i < 16; i++) {
  G[i] = i;
  G[16 + i] = (1 + 5 * i) & 15;
  G[32 + i] = (5 + 3 * i) & 15;
  G[48 + i] = (7 * i) & 15;
}

const BYTES = new Uint8Array(64);
/** The block as 16 little-endian words (a view of BYTES; swapped in place on a big-endian host). */
const X = new Int32Array(BYTES.buffer);
const STATE = new Int32Array(4);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function probeStringSet(): boolean {
  const u = new Uint8Array(3);
  try {
    u.set("zA\xff" as unknown as ArrayLike<number>);
  } catch (e) {
    return false;
  }
  return u[0] === 122 && u[1] === 65 && u[2] === 255;
}

/**
 * True where TypedArray.set copies a string's characters as bytes in native code (Espruino does;
 * standard engines read it as an array of strings and store zeros). Probed once, not assumed.
 * (Defined after the probe function: Espruino does not hoist a function declared later in the module.)
 */
export const NATIVE_STRING_SET = probeStringSet();

/** Zeros for the padding (64 of them), shared with sha256.ts. */
let zeros = "\0\0\0\0\0\0\0\0";
zeros += zeros;
zeros += zeros;
zeros += zeros;
export const PAD_ZEROS = zeros;

/**
 * Copies s[p, p + 64) into a 64-byte block: one native call on Espruino, a loop elsewhere (JIT-compiled
 * there). Shared with sha256.ts.
 */
export function copyBlock(dst: Uint8Array, s: string, p: number): void {
  if (NATIVE_STRING_SET) {
    dst.set(s.substring(p, p + 64) as unknown as ArrayLike<number>);
  } else {
    for (let i = 0; i < 64; i++) dst[i] = s.charCodeAt(p + i);
  }
}

/** Loads s[p, p + 64) into BYTES as MD5's little-endian words. */
function loadBlock(s: string, p: number): void {
  copyBlock(BYTES, s, p);
  if (!LITTLE_ENDIAN) {
    const x = X;
    for (let i = 0; i < 16; i++) {
      const v = x[i];
      x[i] = v << 24 | (v & 0xff00) << 8 | (v >>> 8) & 0xff00 | v >>> 24;
    }
  }
}

function md5Block(): void {
  const x = X;
  const k = K;
  const g = G;
  const st = STATE;
  let a = st[0];
  let b = st[1];
  let c = st[2];
  let d = st[3];
  let t = 0;
  let i = 0;
  // Each step: A = B + ((A + F(B, C, D) + X[g] + T[i]) <<< s), with A..D rotating through a..d.
  // k[i++] is read after x[g[i]] (left to right), so both use the same i.
  while (i < 16) { // F(b, c, d) = b & c | ~b & d, as d ^ (b & (c ^ d))
    t = a + (d ^ (b & (c ^ d))) + x[g[i]] + k[i++] | 0; a = b + (t << 7 | t >>> 25) | 0;
    t = d + (c ^ (a & (b ^ c))) + x[g[i]] + k[i++] | 0; d = a + (t << 12 | t >>> 20) | 0;
    t = c + (b ^ (d & (a ^ b))) + x[g[i]] + k[i++] | 0; c = d + (t << 17 | t >>> 15) | 0;
    t = b + (a ^ (c & (d ^ a))) + x[g[i]] + k[i++] | 0; b = c + (t << 22 | t >>> 10) | 0;
  }
  while (i < 32) { // G(b, c, d) = b & d | c & ~d, as c ^ (d & (b ^ c))
    t = a + (c ^ (d & (b ^ c))) + x[g[i]] + k[i++] | 0; a = b + (t << 5 | t >>> 27) | 0;
    t = d + (b ^ (c & (a ^ b))) + x[g[i]] + k[i++] | 0; d = a + (t << 9 | t >>> 23) | 0;
    t = c + (a ^ (b & (d ^ a))) + x[g[i]] + k[i++] | 0; c = d + (t << 14 | t >>> 18) | 0;
    t = b + (d ^ (a & (c ^ d))) + x[g[i]] + k[i++] | 0; b = c + (t << 20 | t >>> 12) | 0;
  }
  while (i < 48) { // H(b, c, d) = b ^ c ^ d
    t = a + (b ^ c ^ d) + x[g[i]] + k[i++] | 0; a = b + (t << 4 | t >>> 28) | 0;
    t = d + (a ^ b ^ c) + x[g[i]] + k[i++] | 0; d = a + (t << 11 | t >>> 21) | 0;
    t = c + (d ^ a ^ b) + x[g[i]] + k[i++] | 0; c = d + (t << 16 | t >>> 16) | 0;
    t = b + (c ^ d ^ a) + x[g[i]] + k[i++] | 0; b = c + (t << 23 | t >>> 9) | 0;
  }
  while (i < 64) { // I(b, c, d) = c ^ (b | ~d)
    t = a + (c ^ (b | ~d)) + x[g[i]] + k[i++] | 0; a = b + (t << 6 | t >>> 26) | 0;
    t = d + (b ^ (a | ~c)) + x[g[i]] + k[i++] | 0; d = a + (t << 10 | t >>> 22) | 0;
    t = c + (a ^ (d | ~b)) + x[g[i]] + k[i++] | 0; c = d + (t << 15 | t >>> 17) | 0;
    t = b + (d ^ (c | ~a)) + x[g[i]] + k[i++] | 0; b = c + (t << 21 | t >>> 11) | 0;
  }
  st[0] = st[0] + a | 0;
  st[1] = st[1] + b | 0;
  st[2] = st[2] + c | 0;
  st[3] = st[3] + d | 0;
}

/**
 * v as 8 lower-case hex digits, unsigned ("00000001"): digest words (MD5's byte-swapped, SHA-256's as they
 * are) and the digest nonce count (formatNc).
 */
export function hex8(v: number): string {
  const s = (v >>> 0).toString(16);
  return s.length === 8 ? s : "00000000".substring(s.length) + s;
}

/**
 * MD5 of a binary string (one char per byte; a char above 0xff contributes its low byte) as 32
 * lower-case hex digits. Allocates only the padded tail (at most 128 bytes) and the result.
 */
export function md5Hex(data: string): string {
  const st = STATE;
  st[0] = 0x67452301;
  st[1] = 0xefcdab89; // Int32Array stores it modulo 2^32
  st[2] = 0x98badcfe;
  st[3] = 0x10325476;
  const n = data.length;
  const r = n & 63;
  const full = n - r;
  for (let p = 0; p < full; p += 64) {
    loadBlock(data, p);
    md5Block();
  }
  // 0x80, zeros to 56 mod 64, then the bit length n * 8 as a 64-bit little-endian number.
  const tail = data.substring(full) + "\x80" + PAD_ZEROS.substring(0, (r < 56 ? 55 : 119) - r) +
    String.fromCharCode(n << 3 & 255, n >>> 5 & 255, n >>> 13 & 255, n >>> 21 & 255, n >>> 29, 0, 0, 0);
  loadBlock(tail, 0);
  md5Block();
  if (tail.length > 64) {
    loadBlock(tail, 64);
    md5Block();
  }
  // Each state word as its little-endian bytes.
  let out = "";
  for (let j = 0; j < 4; j++) {
    const v = st[j];
    out += hex8(v << 24 | (v & 0xff00) << 8 | (v >>> 8) & 0xff00 | v >>> 24);
  }
  return out;
}
