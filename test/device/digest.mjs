// `npm run test:device:digest`: MD5, SHA-256 and the digest response on Espruino's Linux interpreter (ESPRUINO=path).
//
// sip-core/md5.ts, sha256.ts and digest.ts are bundled the way the device bundle is (build.mjs bundleDevice,
// then the Espruino gate) and required as a module, as on a board. On the interpreter the block copy takes
// the native TypedArray.set(string) path that Node never takes, so this is the only run of that path.
// Checks: the RFC 1321 and FIPS 180 vectors, every length 0..130 and the bytes 0..255 against node:crypto,
// the RFC 7616 §3.9.1 and RFC 2617 §3.5 responses, and each algorithm/qop of a SIP REGISTER against the
// same call in Node; and DigestServer (the door phone's challenge for direct calls: its self-proving nonce,
// the verdicts on right, replayed, wrong and stale credentials) against the same calls in Node. Then it times one md5Hex and one sha256Hex of a 100-byte string and one digestResponse
// of each kind (best of five batches). Prints "N passed, M failed".
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binaryLiteral, bundleGated, checks, espruinoPath, runOnEspruino } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:digest");

const sipCore = new URL("../../sip-core/", import.meta.url).pathname;
const nodeHash = (alg, s) => createHash(alg).update(Buffer.from(s, "latin1")).digest("hex");


const { check, finish } = checks("device digest");

// name -> [expression evaluated on the device, expected value]
const cases = [];
const md5Vectors = {
  "": "d41d8cd98f00b204e9800998ecf8427e",
  a: "0cc175b9c0f1b6a831c399e269772661",
  abc: "900150983cd24fb0d6963f7d28e17f72",
  "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
  abcdefghijklmnopqrstuvwxyz: "c3fcd3d76192e4007dfb496cca67e13b",
  ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789: "d174ab98d277d9f5a5611c2c9f419d9f",
  ["1234567890".repeat(8)]: "57edf4a22be3c955ac49da2e2107b67a",
};
for (const [s, h] of Object.entries(md5Vectors)) cases.push(["RFC 1321 md5 " + JSON.stringify(s), "d.md5Hex(" + binaryLiteral(s) + ")", h]);
const shaVectors = {
  abc: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
};
for (const [s, h] of Object.entries(shaVectors)) cases.push(["FIPS 180 sha256 " + JSON.stringify(s), "d.sha256Hex(" + binaryLiteral(s) + ")", h]);
cases.push(["md5 of 10,000 'a'", 'd.md5Hex("a".repeat(10000))', nodeHash("md5", "a".repeat(10000))]);
cases.push(["sha256 of 10,000 'a'", 'd.sha256Hex("a".repeat(10000))', nodeHash("sha256", "a".repeat(10000))]);
for (let n = 0; n <= 130; n++) {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode((i * 37 + n) & 255);
  cases.push(["md5 length " + n, "d.md5Hex(" + binaryLiteral(s) + ")", nodeHash("md5", s)]);
  cases.push(["sha256 length " + n, "d.sha256Hex(" + binaryLiteral(s) + ")", nodeHash("sha256", s)]);
}
let bytes = "";
for (let i = 0; i < 256; i++) bytes += String.fromCharCode(i);
cases.push(["md5 bytes 0..255", "d.md5Hex(" + binaryLiteral(bytes) + ")", nodeHash("md5", bytes)]);
cases.push(["sha256 bytes 0..255", "d.sha256Hex(" + binaryLiteral(bytes) + ")", nodeHash("sha256", bytes)]);

const rfc7616 = {
  username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life", method: "GET", uri: "/dir/index.html",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  nc: 1, qop: "auth", body: "",
};
const input = (o) => "{" + Object.entries(o).map(([k, v]) => k + ":" + (typeof v === "string" ? binaryLiteral(v) : String(v))).join(",") + "}";
cases.push(["RFC 7616 §3.9.1 MD5", "d.digestResponse(" + input({ ...rfc7616, algorithm: 1 }) + ")", "8ca523f5e9506fed4657c9700eebdbec"]);
cases.push(["RFC 7616 §3.9.1 SHA-256", "d.digestResponse(" + input({ ...rfc7616, algorithm: 3 }) + ")",
  "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"]);
cases.push(["RFC 2617 §3.5", "d.digestResponse(" + input({
  algorithm: 1, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", method: "GET", uri: "/dir/index.html",
  nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", cnonce: "0a4f113b", nc: 1, qop: "auth", body: "",
}) + ")", "6629fae49393a05397450978507c4ef1"]);

const dir = mkdtempSync(join(tmpdir(), "doorsip-digest-"));
try {
  mkdirSync(join(dir, "node_modules"));
  writeFileSync(join(dir, "entry.ts"),
    `export { md5Hex, NATIVE_STRING_SET } from "${sipCore}md5.ts";\n` +
    `export { sha256Hex } from "${sipCore}sha256.ts";\n` +
    `export { digestResponse, DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS } from "${sipCore}digest.ts";\n` +
    `export { DigestServer } from "${sipCore}auth-server.ts";\n` +
    `export { SipMessage, parseMessage } from "${sipCore}message.ts";\n` +
    `export { SipWriter } from "${sipCore}writer.ts";\n`);
  const outfile = join(dir, "node_modules/doorsip-digest.js");
  const { code } = await bundleGated(join(dir, "entry.ts"), outfile, check, "Espruino gate", ["test/device/digest.mjs"]);

  // A SIP REGISTER, every algorithm and qop: the device against the same bundle in Node.
  const nodeBundle = createRequire(import.meta.url)(outfile);
  const register = {
    username: "1001", realm: "sip.example.com", password: "front-door-secret", method: "REGISTER", uri: "sip:sip.example.com",
    nonce: "5f3a9c1e0b7d4f2a", cnonce: "0a4f113b9c2d", nc: 26, body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n\xe9\x00",
  };
  for (const algorithm of [1, 2, 3, 4]) {
    for (const qop of ["", "auth", "auth-int"]) {
      const d = { ...register, algorithm, qop };
      cases.push(["REGISTER algorithm " + algorithm + " qop=" + (qop || "none"), "d.digestResponse(" + input(d) + ")", nodeBundle.digestResponse(d)]);
    }
  }

  // DigestServer: one challenge, then the INVITE answering it (right, replayed, wrong password, 60 s late, the next
  // count); the device's nonce and verdicts against Node's (the same seeded random, the same clock).
  const uasPrelude = String.raw`
function uasNonce(w) { var t = ""; for (var i = 0; i < w.pos; i++) t += String.fromCharCode(w.buf[i]); var m = t.indexOf('nonce="') + 7; return t.substring(m, t.indexOf('"', m)); }
function uasInvite(nonce, pw, nc) {
  var resp = d.digestResponse({ algorithm: 1, username: "u", realm: "door", password: pw, method: "INVITE", uri: "sip:door@h", nonce: nonce, cnonce: "cn", nc: nc, qop: "auth", body: "" });
  var ncs = "0000000" + nc.toString(16); ncs = ncs.substring(ncs.length - 8);
  var t = "INVITE sip:door@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:door@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n" +
    "Authorization: Digest username=\"u\", realm=\"door\", nonce=\"" + nonce + "\", uri=\"sip:door@h\", response=\"" + resp + "\", algorithm=MD5, cnonce=\"cn\", qop=auth, nc=" + ncs + "\r\nContent-Length: 0\r\n\r\n";
  var m = new d.SipMessage(); d.parseMessage(t, 0, t.length, m); return m;
}
function uas() {
  var r = 7;
  var s = new d.DigestServer("u", "p", "door", { u32: function () { r = (r * 69069 + 1) % 4294967296; return r; } });
  var t0 = 1700000000123;
  s.now = t0;
  var w = new d.SipWriter(512);
  s.writeChallenge(w);
  var n = uasNonce(w);
  return [n, s.verify(uasInvite(n, "p", 1), t0 + 900), s.verify(uasInvite(n, "p", 1), t0 + 900), s.verify(uasInvite(n, "x", 2), t0 + 900),
    s.verify(uasInvite(n, "p", 2), t0 + 60001), s.verify(uasInvite(n, "p", 2), t0 + 1000), s.refused].join(" ");
}
`;
  const uasExpected = new Function("d", uasPrelude + "return uas();")(nodeBundle);
  if (!/^\w+\.[0-9a-f]{16} true false false false true 3$/.test(uasExpected)) throw new Error("DigestServer in Node: " + uasExpected);
  cases.push(["DigestServer: the nonce and the verdicts on right, replayed, wrong, late and next credentials", "uas()", uasExpected]);

  const s100 = "REGISTER sip:sip.example.com SIP/2.0 1001:sip.example.com:front-door-secret 0123456789abcdefghijklmn";
  if (s100.length !== 100) throw new Error("timing input is " + s100.length + " bytes");
  const script = `var d = require("doorsip-digest");
${uasPrelude}
var cases = [${cases.map((c) => "function () { return " + c[1] + "; }").join(",\n")}];
for (var i = 0; i < cases.length; i++) {
  var r;
  try { r = cases[i](); } catch (e) { r = "threw " + e; }
  print("@@" + i + " " + r);
}
print("@@native " + d.NATIVE_STRING_SET);
// The best of 5 batches of n calls, in ms per call (the least disturbed by other load on the host).
function time(f, n) {
  var best = 1e9;
  for (var b = 0; b < 5; b++) { var t0 = getTime(); for (var i = 0; i < n; i++) f(); best = Math.min(best, (getTime() - t0) * 1000 / n); }
  return best;
}
var s = ${binaryLiteral(s100)};
var reg = ${input({ ...register, algorithm: 1, qop: "auth" })};
print("@@time md5Hex(100 bytes) " + time(function () { d.md5Hex(s); }, 40).toFixed(3));
print("@@time sha256Hex(100 bytes) " + time(function () { d.sha256Hex(s); }, 10).toFixed(3));
print("@@time digestResponse MD5 qop=auth " + time(function () { d.digestResponse(reg); }, 10).toFixed(3));
reg.algorithm = 3;
print("@@time digestResponse SHA-256 qop=auth " + time(function () { d.digestResponse(reg); }, 4).toFixed(3));
print("@@END");
`;
  let text;
  try {
    text = runOnEspruino(bin, { "doorsip-digest": outfile }, script);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const lines = {};
  for (const m of text.matchAll(/@@(\S+) ([^\r\n]*)/g)) lines[m[1]] = m[2];
  cases.forEach((c, i) => check(c[0], lines[i] === c[2], "device " + lines[i] + ", expected " + c[2]));
  check("native TypedArray.set(string) path taken on the device", lines.native === "true", "NATIVE_STRING_SET " + lines.native);
  for (const m of text.matchAll(/@@time ([^\r\n]*) ([0-9.]+)\r?\n/g)) console.log("espruino: " + m[1] + ": " + m[2] + " ms");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
