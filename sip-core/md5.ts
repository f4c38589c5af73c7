// RFC 1321 MD5 over binary strings, for HTTP digest authentication (RFC 2617 / RFC 8760). Espruino has no MD5.
//
// Written for an interpreter that runs source text: one 64-byte block buffer and its Int32Array word
// view allocated once, the block copied in by one native call where the engine can (see loadBlock), and
// the 64 steps written out with their constants and word indices as literals: no T or index tables in RAM
// (~20 variables on Espruino; the code stays in flash), and ~30% faster on Espruino 2v29 than four loops of
// four steps reading such tables (0.4-0.47 against 0.6-0.69 ms a block on x86-64), for ~2 KB more code.
// Only additions, rotations and boolean operations, kept 32-bit with `| 0`.

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

/** Zeros for the padding (64 of them), shared with sha256.ts: a literal, which a device keeps in flash. */
export const PAD_ZEROS =
  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" +
  "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

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
  const st = STATE;
  let a = st[0];
  let b = st[1];
  let c = st[2];
  let d = st[3];
  let t = 0;
  // Each step: A = B + ((A + F(B, C, D) + X[g] + T[i]) <<< s), with A..D rotating through a..d; T[i] =
  // floor(abs(sin(i + 1)) * 2^32) (RFC 1321 §3.4) as a signed 32-bit literal.
  // Round 1: F(b, c, d) = b & c | ~b & d, as d ^ (b & (c ^ d)); X[k]
  t = a + (d ^ (b & (c ^ d))) + x[0] - 680876936 | 0; a = b + (t << 7 | t >>> 25) | 0;
  t = d + (c ^ (a & (b ^ c))) + x[1] - 389564586 | 0; d = a + (t << 12 | t >>> 20) | 0;
  t = c + (b ^ (d & (a ^ b))) + x[2] + 606105819 | 0; c = d + (t << 17 | t >>> 15) | 0;
  t = b + (a ^ (c & (d ^ a))) + x[3] - 1044525330 | 0; b = c + (t << 22 | t >>> 10) | 0;
  t = a + (d ^ (b & (c ^ d))) + x[4] - 176418897 | 0; a = b + (t << 7 | t >>> 25) | 0;
  t = d + (c ^ (a & (b ^ c))) + x[5] + 1200080426 | 0; d = a + (t << 12 | t >>> 20) | 0;
  t = c + (b ^ (d & (a ^ b))) + x[6] - 1473231341 | 0; c = d + (t << 17 | t >>> 15) | 0;
  t = b + (a ^ (c & (d ^ a))) + x[7] - 45705983 | 0; b = c + (t << 22 | t >>> 10) | 0;
  t = a + (d ^ (b & (c ^ d))) + x[8] + 1770035416 | 0; a = b + (t << 7 | t >>> 25) | 0;
  t = d + (c ^ (a & (b ^ c))) + x[9] - 1958414417 | 0; d = a + (t << 12 | t >>> 20) | 0;
  t = c + (b ^ (d & (a ^ b))) + x[10] - 42063 | 0; c = d + (t << 17 | t >>> 15) | 0;
  t = b + (a ^ (c & (d ^ a))) + x[11] - 1990404162 | 0; b = c + (t << 22 | t >>> 10) | 0;
  t = a + (d ^ (b & (c ^ d))) + x[12] + 1804603682 | 0; a = b + (t << 7 | t >>> 25) | 0;
  t = d + (c ^ (a & (b ^ c))) + x[13] - 40341101 | 0; d = a + (t << 12 | t >>> 20) | 0;
  t = c + (b ^ (d & (a ^ b))) + x[14] - 1502002290 | 0; c = d + (t << 17 | t >>> 15) | 0;
  t = b + (a ^ (c & (d ^ a))) + x[15] + 1236535329 | 0; b = c + (t << 22 | t >>> 10) | 0;
  // Round 2: G(b, c, d) = b & d | c & ~d, as c ^ (d & (b ^ c)); X[(1 + 5k) mod 16]
  t = a + (c ^ (d & (b ^ c))) + x[1] - 165796510 | 0; a = b + (t << 5 | t >>> 27) | 0;
  t = d + (b ^ (c & (a ^ b))) + x[6] - 1069501632 | 0; d = a + (t << 9 | t >>> 23) | 0;
  t = c + (a ^ (b & (d ^ a))) + x[11] + 643717713 | 0; c = d + (t << 14 | t >>> 18) | 0;
  t = b + (d ^ (a & (c ^ d))) + x[0] - 373897302 | 0; b = c + (t << 20 | t >>> 12) | 0;
  t = a + (c ^ (d & (b ^ c))) + x[5] - 701558691 | 0; a = b + (t << 5 | t >>> 27) | 0;
  t = d + (b ^ (c & (a ^ b))) + x[10] + 38016083 | 0; d = a + (t << 9 | t >>> 23) | 0;
  t = c + (a ^ (b & (d ^ a))) + x[15] - 660478335 | 0; c = d + (t << 14 | t >>> 18) | 0;
  t = b + (d ^ (a & (c ^ d))) + x[4] - 405537848 | 0; b = c + (t << 20 | t >>> 12) | 0;
  t = a + (c ^ (d & (b ^ c))) + x[9] + 568446438 | 0; a = b + (t << 5 | t >>> 27) | 0;
  t = d + (b ^ (c & (a ^ b))) + x[14] - 1019803690 | 0; d = a + (t << 9 | t >>> 23) | 0;
  t = c + (a ^ (b & (d ^ a))) + x[3] - 187363961 | 0; c = d + (t << 14 | t >>> 18) | 0;
  t = b + (d ^ (a & (c ^ d))) + x[8] + 1163531501 | 0; b = c + (t << 20 | t >>> 12) | 0;
  t = a + (c ^ (d & (b ^ c))) + x[13] - 1444681467 | 0; a = b + (t << 5 | t >>> 27) | 0;
  t = d + (b ^ (c & (a ^ b))) + x[2] - 51403784 | 0; d = a + (t << 9 | t >>> 23) | 0;
  t = c + (a ^ (b & (d ^ a))) + x[7] + 1735328473 | 0; c = d + (t << 14 | t >>> 18) | 0;
  t = b + (d ^ (a & (c ^ d))) + x[12] - 1926607734 | 0; b = c + (t << 20 | t >>> 12) | 0;
  // Round 3: H(b, c, d) = b ^ c ^ d; X[(5 + 3k) mod 16]
  t = a + (b ^ c ^ d) + x[5] - 378558 | 0; a = b + (t << 4 | t >>> 28) | 0;
  t = d + (a ^ b ^ c) + x[8] - 2022574463 | 0; d = a + (t << 11 | t >>> 21) | 0;
  t = c + (d ^ a ^ b) + x[11] + 1839030562 | 0; c = d + (t << 16 | t >>> 16) | 0;
  t = b + (c ^ d ^ a) + x[14] - 35309556 | 0; b = c + (t << 23 | t >>> 9) | 0;
  t = a + (b ^ c ^ d) + x[1] - 1530992060 | 0; a = b + (t << 4 | t >>> 28) | 0;
  t = d + (a ^ b ^ c) + x[4] + 1272893353 | 0; d = a + (t << 11 | t >>> 21) | 0;
  t = c + (d ^ a ^ b) + x[7] - 155497632 | 0; c = d + (t << 16 | t >>> 16) | 0;
  t = b + (c ^ d ^ a) + x[10] - 1094730640 | 0; b = c + (t << 23 | t >>> 9) | 0;
  t = a + (b ^ c ^ d) + x[13] + 681279174 | 0; a = b + (t << 4 | t >>> 28) | 0;
  t = d + (a ^ b ^ c) + x[0] - 358537222 | 0; d = a + (t << 11 | t >>> 21) | 0;
  t = c + (d ^ a ^ b) + x[3] - 722521979 | 0; c = d + (t << 16 | t >>> 16) | 0;
  t = b + (c ^ d ^ a) + x[6] + 76029189 | 0; b = c + (t << 23 | t >>> 9) | 0;
  t = a + (b ^ c ^ d) + x[9] - 640364487 | 0; a = b + (t << 4 | t >>> 28) | 0;
  t = d + (a ^ b ^ c) + x[12] - 421815835 | 0; d = a + (t << 11 | t >>> 21) | 0;
  t = c + (d ^ a ^ b) + x[15] + 530742520 | 0; c = d + (t << 16 | t >>> 16) | 0;
  t = b + (c ^ d ^ a) + x[2] - 995338651 | 0; b = c + (t << 23 | t >>> 9) | 0;
  // Round 4: I(b, c, d) = c ^ (b | ~d); X[7k mod 16]
  t = a + (c ^ (b | ~d)) + x[0] - 198630844 | 0; a = b + (t << 6 | t >>> 26) | 0;
  t = d + (b ^ (a | ~c)) + x[7] + 1126891415 | 0; d = a + (t << 10 | t >>> 22) | 0;
  t = c + (a ^ (d | ~b)) + x[14] - 1416354905 | 0; c = d + (t << 15 | t >>> 17) | 0;
  t = b + (d ^ (c | ~a)) + x[5] - 57434055 | 0; b = c + (t << 21 | t >>> 11) | 0;
  t = a + (c ^ (b | ~d)) + x[12] + 1700485571 | 0; a = b + (t << 6 | t >>> 26) | 0;
  t = d + (b ^ (a | ~c)) + x[3] - 1894986606 | 0; d = a + (t << 10 | t >>> 22) | 0;
  t = c + (a ^ (d | ~b)) + x[10] - 1051523 | 0; c = d + (t << 15 | t >>> 17) | 0;
  t = b + (d ^ (c | ~a)) + x[1] - 2054922799 | 0; b = c + (t << 21 | t >>> 11) | 0;
  t = a + (c ^ (b | ~d)) + x[8] + 1873313359 | 0; a = b + (t << 6 | t >>> 26) | 0;
  t = d + (b ^ (a | ~c)) + x[15] - 30611744 | 0; d = a + (t << 10 | t >>> 22) | 0;
  t = c + (a ^ (d | ~b)) + x[6] - 1560198380 | 0; c = d + (t << 15 | t >>> 17) | 0;
  t = b + (d ^ (c | ~a)) + x[13] + 1309151649 | 0; b = c + (t << 21 | t >>> 11) | 0;
  t = a + (c ^ (b | ~d)) + x[4] - 145523070 | 0; a = b + (t << 6 | t >>> 26) | 0;
  t = d + (b ^ (a | ~c)) + x[11] - 1120210379 | 0; d = a + (t << 10 | t >>> 22) | 0;
  t = c + (a ^ (d | ~b)) + x[2] + 718787259 | 0; c = d + (t << 15 | t >>> 17) | 0;
  t = b + (d ^ (c | ~a)) + x[9] - 343485551 | 0; b = c + (t << 21 | t >>> 11) | 0;
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
