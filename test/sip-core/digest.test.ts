// MD5 (RFC 1321), SHA-256 (FIPS 180-4) and HTTP digest for SIP (RFC 2617, RFC 7616, RFC 8760): published
// vectors, node:crypto cross-checks, a real REGISTER from the corpus, and credentials written then parsed back.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AuthParams, DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS, HDR_AUTHORIZATION, SipMessage, SipWriter,
  algorithmName, algorithmStrength, chooseQop, digestAlgorithm, digestResponse, formatNc, hashHex, md5Hex,
  parseAuthParams, parseMessage, sha256Hex, writeCredentials,
} from "../../sip-core/index.ts";
import type { DigestInput } from "../../sip-core/index.ts";

const nodeHash = (alg: "md5" | "sha256", s: string): string => createHash(alg).update(Buffer.from(s, "latin1")).digest("hex");
const text = (w: SipWriter): string => Buffer.from(w.buf.subarray(0, w.pos)).toString("latin1");

describe("MD5 (RFC 1321)", () => {
  it("§A.5 test suite", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex("a")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5Hex("abcdefghijklmnopqrstuvwxyz")).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(md5Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")).toBe("d174ab98d277d9f5a5611c2c9f419d9f");
    expect(md5Hex("1234567890".repeat(8))).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("one million 'a'", () => {
    expect(md5Hex("a".repeat(1000000))).toBe("7707d6ae4e027c70eea2a935c2296f21");
  });

  it("every length 0..200 (each padding boundary) matches node:crypto", () => {
    for (let n = 0; n <= 200; n++) {
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode((i * 37 + n) & 255);
      expect(md5Hex(s), "length " + n).toBe(nodeHash("md5", s));
    }
  });

  it("binary input: bytes 0..255, and repeated hashing reuses the buffers cleanly", () => {
    let s = "";
    for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
    expect(md5Hex(s)).toBe(nodeHash("md5", s));
    expect(md5Hex(s)).toBe(nodeHash("md5", s));
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
  });
});

describe("SHA-256 (FIPS 180-4)", () => {
  it("FIPS 180 examples", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("one million 'a'", () => {
    const t0 = Date.now();
    expect(sha256Hex("a".repeat(1000000))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("lengths 55, 56, 63, 64, 65 and every length 0..200 match node:crypto", () => {
    for (const n of [55, 56, 63, 64, 65]) {
      const s = "x".repeat(n);
      expect(sha256Hex(s), "length " + n).toBe(nodeHash("sha256", s));
    }
    for (let n = 0; n <= 200; n++) {
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode((i * 53 + n) & 255);
      expect(sha256Hex(s), "length " + n).toBe(nodeHash("sha256", s));
    }
  });

  it("binary input: bytes 0..255", () => {
    let s = "";
    for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
    expect(sha256Hex(s)).toBe(nodeHash("sha256", s));
    expect(sha256Hex(s + s + "\xff")).toBe(nodeHash("sha256", s + s + "\xff"));
  });
});

// An independent reference for the request-digest, on node:crypto.
function reference(d: DigestInput): string {
  const alg = d.algorithm === DIGEST_MD5 || d.algorithm === DIGEST_MD5_SESS ? "md5" : "sha256";
  const H = (s: string): string => nodeHash(alg, s);
  const sess = d.algorithm === DIGEST_MD5_SESS || d.algorithm === DIGEST_SHA256_SESS;
  const a1 = sess ? `${H(`${d.username}:${d.realm}:${d.password}`)}:${d.nonce}:${d.cnonce}` : `${d.username}:${d.realm}:${d.password}`;
  const a2 = d.qop === "auth-int" ? `${d.method}:${d.uri}:${H(d.body)}` : `${d.method}:${d.uri}`;
  const nc = d.nc.toString(16).padStart(8, "0");
  return d.qop === "" ? H(`${H(a1)}:${d.nonce}:${H(a2)}`) : H(`${H(a1)}:${d.nonce}:${nc}:${d.cnonce}:${d.qop}:${H(a2)}`);
}

describe("digest responses", () => {
  const rfc7616 = {
    username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life", method: "GET", uri: "/dir/index.html",
    nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    nc: 1, qop: "auth", body: "",
  };

  it("RFC 7616 §3.9.1: MD5 and SHA-256", () => {
    expect(digestResponse({ ...rfc7616, algorithm: DIGEST_MD5 })).toBe("8ca523f5e9506fed4657c9700eebdbec");
    expect(digestResponse({ ...rfc7616, algorithm: DIGEST_SHA256 }))
      .toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  });

  it("RFC 2617 §3.5", () => {
    expect(digestResponse({
      algorithm: DIGEST_MD5, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", method: "GET",
      uri: "/dir/index.html", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", cnonce: "0a4f113b", nc: 1, qop: "auth", body: "",
    })).toBe("6629fae49393a05397450978507c4ef1");
  });

  it("a SIP REGISTER for every algorithm and qop matches a node:crypto reference", () => {
    const base = {
      username: "1001", realm: "sip.example.com", password: "front-door-secret", method: "REGISTER", uri: "sip:sip.example.com",
      nonce: "5f3a9c1e0b7d4f2a", cnonce: "0a4f113b9c2d", nc: 0x1a, body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n\xe9\x00",
    };
    let n = 0;
    for (const algorithm of [DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS]) {
      for (const qop of ["", "auth", "auth-int"]) {
        const d = { ...base, algorithm, qop };
        const r = digestResponse(d);
        expect(r, algorithmName(algorithm) + " qop=" + qop).toBe(reference(d));
        expect(r.length).toBe(algorithmStrength(algorithm) === 2 ? 64 : 32);
        n++;
      }
    }
    expect(n).toBe(12);
    // auth-int depends on the body, auth does not.
    const ai = { ...base, algorithm: DIGEST_MD5, qop: "auth-int" };
    expect(digestResponse(ai)).not.toBe(digestResponse({ ...ai, body: "" }));
    const a = { ...base, algorithm: DIGEST_MD5, qop: "auth" };
    expect(digestResponse(a)).toBe(digestResponse({ ...a, body: "" }));
    // -sess depends on the cnonce even without a qop; plain MD5 without a qop does not.
    const s0 = { ...base, algorithm: DIGEST_MD5_SESS, qop: "" };
    expect(digestResponse(s0)).not.toBe(digestResponse({ ...s0, cnonce: "other" }));
    const p0 = { ...base, algorithm: DIGEST_MD5, qop: "" };
    expect(digestResponse(p0)).toBe(digestResponse({ ...p0, cnonce: "other", nc: 99 }));
  });

  it("an unsupported algorithm gives an empty response", () => {
    expect(digestResponse({ ...rfc7616, algorithm: 0 })).toBe("");
    expect(hashHex(0, "abc")).toBe("");
    expect(hashHex(DIGEST_MD5_SESS, "abc")).toBe(md5Hex("abc"));
    expect(hashHex(DIGEST_SHA256_SESS, "abc")).toBe(sha256Hex("abc"));
  });

  it("reproduces the response of a real REGISTER (corpus/register-auth.sip)", () => {
    const src = readFileSync(new URL("../fixtures/corpus/register-auth.sip", import.meta.url)).toString("latin1");
    const msg = new SipMessage();
    expect(parseMessage(src, 0, src.length, msg)).toBeGreaterThan(0);
    const i = msg.findHeader(HDR_AUTHORIZATION);
    expect(i).toBeGreaterThanOrEqual(0);
    const a = new AuthParams();
    expect(parseAuthParams(src, msg.headerValueStart(i), msg.headerValueEnd(i), a)).toBe(msg.headerValueEnd(i));
    expect(a.digest).toBe(true);
    const algorithm = digestAlgorithm(src, a.algorithmStart, a.algorithmEnd);
    expect(algorithm).toBe(DIGEST_MD5);
    const qop = a.text(a.qopStart, a.qopEnd);
    const nc = parseInt(a.text(a.ncStart, a.ncEnd), 16);
    expect(formatNc(nc)).toBe(a.text(a.ncStart, a.ncEnd));
    const response = digestResponse({
      algorithm, username: a.text(a.usernameStart, a.usernameEnd), realm: a.text(a.realmStart, a.realmEnd),
      password: "front-door-secret", method: src.substring(msg.methodStart, msg.methodEnd), uri: a.text(a.uriStart, a.uriEnd),
      nonce: a.text(a.nonceStart, a.nonceEnd), cnonce: a.text(a.cnonceStart, a.cnonceEnd), nc, qop, body: "",
    });
    expect(response).toBe("51df2a9b576f9685bf477a999920976b");
    expect(response).toBe(a.text(a.responseStart, a.responseEnd));
  });

  it("formatNc: 8 lower-case hex digits", () => {
    expect(formatNc(1)).toBe("00000001");
    expect(formatNc(0xab)).toBe("000000ab");
    expect(formatNc(0x12345678)).toBe("12345678");
    expect(formatNc(0xffffffff)).toBe("ffffffff");
    expect(formatNc(0)).toBe("00000000");
  });
});

describe("challenge values", () => {
  // The span of `value` inside a longer string, so the functions must respect start/end.
  const at = (value: string): [string, number, number] => ["xx" + value + ",yy", 2, 2 + value.length];

  it("digestAlgorithm: names ignoring case, absent is MD5, anything else 0", () => {
    expect(digestAlgorithm("", -1, -1)).toBe(DIGEST_MD5);
    const cases: [string, number][] = [
      ["MD5", DIGEST_MD5], ["md5", DIGEST_MD5], ["MD5-sess", DIGEST_MD5_SESS], ["md5-SESS", DIGEST_MD5_SESS],
      ["SHA-256", DIGEST_SHA256], ["sha-256", DIGEST_SHA256], ["SHA-256-sess", DIGEST_SHA256_SESS], ["Sha-256-Sess", DIGEST_SHA256_SESS],
      ["SHA-512-256", 0], ["SHA-512-256-sess", 0], ["SHA256", 0], ["MD5x", 0], ["MD", 0], ["", 0], ["AKAv1-MD5", 0], ["sha-256-ses", 0],
    ];
    for (const [v, id] of cases) expect(digestAlgorithm(...at(v)), v).toBe(id);
  });

  it("algorithmName and algorithmStrength", () => {
    expect([DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS, 0].map(algorithmName))
      .toEqual(["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", ""]);
    for (const id of [DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS]) {
      const [s, b, e] = at(algorithmName(id));
      expect(digestAlgorithm(s, b, e)).toBe(id);
    }
    expect(algorithmStrength(DIGEST_SHA256)).toBeGreaterThan(algorithmStrength(DIGEST_MD5));
    expect(algorithmStrength(DIGEST_SHA256_SESS)).toBeGreaterThan(algorithmStrength(DIGEST_MD5_SESS));
    expect(algorithmStrength(DIGEST_MD5)).toBeGreaterThan(0);
    expect(algorithmStrength(0)).toBe(0);
    expect(algorithmStrength(99)).toBe(0);
  });

  it("chooseQop: auth preferred, auth-int alone, \"\" when absent, null when nothing usable", () => {
    expect(chooseQop("", -1, -1)).toBe("");
    const cases: [string, string | null][] = [
      ["auth", "auth"], ["auth-int", "auth-int"], ["auth,auth-int", "auth"], ["auth-int,auth", "auth"],
      ["auth-int, auth", "auth"], ["auth-int ,\tauth ", "auth"], [" auth-int ", "auth-int"], ["AUTH", "auth"], ["Auth-Int", "auth-int"],
      ["auth-conf", null], ["token, other", null], ["", null], [",", null], ["authx", null], ["auth-intx", null], ["auth-", null],
      ["foo, auth-int", "auth-int"], ["foo,,auth", "auth"], ["auth-int,\r\n auth", "auth"],
    ];
    for (const [v, q] of cases) expect(chooseQop(...at(v)), JSON.stringify(v)).toBe(q);
    // The end bound holds: "auth" after the span is not seen.
    const s = "auth-int,auth";
    expect(chooseQop(s, 0, 8)).toBe("auth-int");
    expect(chooseQop(s, 9, 13)).toBe("auth");
  });

  it("qop read from a parsed challenge", () => {
    const src = 'Digest realm="sip.example.com", nonce="abc", qop="auth-int, auth", algorithm=SHA-256';
    const a = new AuthParams();
    expect(parseAuthParams(src, 0, src.length, a)).toBe(src.length);
    expect(chooseQop(src, a.qopStart, a.qopEnd)).toBe("auth");
    expect(digestAlgorithm(src, a.algorithmStart, a.algorithmEnd)).toBe(DIGEST_SHA256);
    const noQop = 'Digest realm="x", nonce="n"';
    expect(parseAuthParams(noQop, 0, noQop.length, a)).toBe(noQop.length);
    expect(chooseQop(noQop, a.qopStart, a.qopEnd)).toBe("");
    expect(digestAlgorithm(noQop, a.algorithmStart, a.algorithmEnd)).toBe(DIGEST_MD5);
  });
});

describe("writeCredentials", () => {
  const creds = {
    username: "1001", realm: "sip.example.com", nonce: "ZmE3YjFj", uri: "sip:sip.example.com", response: "51df2a9b576f9685bf477a999920976b",
    algorithm: DIGEST_MD5, cnonce: "a8Kp2Lq9Zx", nc: 1, qop: "auth", opaque: "5ccc069c",
  };

  function parseBack(line: string): AuthParams {
    expect(line.endsWith("\r\n")).toBe(true);
    const colon = line.indexOf(":");
    const a = new AuthParams();
    expect(parseAuthParams(line, colon + 1, line.length - 2, a)).toBe(line.length - 2);
    expect(a.digest).toBe(true);
    return a;
  }

  it("writes every parameter, in order, on one line", () => {
    const w = new SipWriter(600);
    writeCredentials(w, "Authorization", creds);
    expect(text(w)).toBe(
      'Authorization: Digest username="1001", realm="sip.example.com", nonce="ZmE3YjFj", uri="sip:sip.example.com", ' +
      'response="51df2a9b576f9685bf477a999920976b", algorithm=MD5, cnonce="a8Kp2Lq9Zx", qop=auth, nc=00000001, opaque="5ccc069c"\r\n');
    const a = parseBack(text(w));
    expect(a.text(a.usernameStart, a.usernameEnd)).toBe("1001");
    expect(a.text(a.realmStart, a.realmEnd)).toBe("sip.example.com");
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("ZmE3YjFj");
    expect(a.text(a.uriStart, a.uriEnd)).toBe("sip:sip.example.com");
    expect(a.text(a.responseStart, a.responseEnd)).toBe(creds.response);
    expect(a.text(a.algorithmStart, a.algorithmEnd)).toBe("MD5");
    expect(a.text(a.cnonceStart, a.cnonceEnd)).toBe("a8Kp2Lq9Zx");
    expect(a.text(a.qopStart, a.qopEnd)).toBe("auth");
    expect(a.text(a.ncStart, a.ncEnd)).toBe("00000001");
    expect(a.text(a.opaqueStart, a.opaqueEnd)).toBe("5ccc069c");
  });

  it("leaves out cnonce, qop and nc without a qop, and opaque when empty", () => {
    const w = new SipWriter(600);
    writeCredentials(w, "Proxy-Authorization", { ...creds, qop: "", opaque: "", algorithm: DIGEST_SHA256_SESS });
    expect(text(w)).toBe(
      'Proxy-Authorization: Digest username="1001", realm="sip.example.com", nonce="ZmE3YjFj", uri="sip:sip.example.com", ' +
      'response="51df2a9b576f9685bf477a999920976b", algorithm=SHA-256-sess\r\n');
    const a = parseBack(text(w));
    expect(a.cnonceStart).toBe(-1);
    expect(a.qopStart).toBe(-1);
    expect(a.ncStart).toBe(-1);
    expect(a.opaqueStart).toBe(-1);
    expect(digestAlgorithm(a.src, a.algorithmStart, a.algorithmEnd)).toBe(DIGEST_SHA256_SESS);
  });

  it("takes the algorithm as a name too", () => {
    const w = new SipWriter(600);
    writeCredentials(w, "Authorization", { ...creds, algorithm: "SHA-256" });
    expect(text(w)).toContain(", algorithm=SHA-256, ");
  });

  it("escapes quotes and backslashes in quoted values; parsed back, text() gives the originals", () => {
    const realm = 'door "front" \\ gate\\';
    const username = 'a"b\\c';
    const w = new SipWriter(600);
    writeCredentials(w, "Authorization", { ...creds, realm, username, opaque: '"' });
    expect(text(w)).toContain('username="a\\"b\\\\c", realm="door \\"front\\" \\\\ gate\\\\", ');
    const a = parseBack(text(w));
    expect(a.text(a.realmStart, a.realmEnd)).toBe(realm);
    expect(a.text(a.usernameStart, a.usernameEnd)).toBe(username);
    expect(a.text(a.opaqueStart, a.opaqueEnd)).toBe('"');
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("ZmE3YjFj");
  });

  it("a challenge answered end to end: the server recomputes the response from the parsed credentials", () => {
    const challenge = 'Digest realm="sip.example.com", nonce="n0nce/42", opaque="op", qop="auth,auth-int", algorithm=SHA-256-sess';
    const c = new AuthParams();
    expect(parseAuthParams(challenge, 0, challenge.length, c)).toBe(challenge.length);
    const algorithm = digestAlgorithm(challenge, c.algorithmStart, c.algorithmEnd);
    const qop = chooseQop(challenge, c.qopStart, c.qopEnd) as string;
    const d = {
      algorithm, username: "1001", realm: c.text(c.realmStart, c.realmEnd), password: "front-door-secret", method: "REGISTER",
      uri: "sip:sip.example.com", nonce: c.text(c.nonceStart, c.nonceEnd), cnonce: "c1", nc: 3, qop, body: "",
    };
    const response = digestResponse(d);
    expect(response).toBe(reference(d));
    const w = new SipWriter(600);
    writeCredentials(w, "Authorization", {
      username: d.username, realm: d.realm, nonce: d.nonce, uri: d.uri, response, algorithm, cnonce: d.cnonce, nc: d.nc, qop,
      opaque: c.text(c.opaqueStart, c.opaqueEnd),
    });
    const a = parseBack(text(w));
    const server = digestResponse({
      algorithm: digestAlgorithm(a.src, a.algorithmStart, a.algorithmEnd), username: a.text(a.usernameStart, a.usernameEnd),
      realm: a.text(a.realmStart, a.realmEnd), password: "front-door-secret", method: "REGISTER", uri: a.text(a.uriStart, a.uriEnd),
      nonce: a.text(a.nonceStart, a.nonceEnd), cnonce: a.text(a.cnonceStart, a.cnonceEnd), nc: parseInt(a.text(a.ncStart, a.ncEnd), 16),
      qop: a.text(a.qopStart, a.qopEnd), body: "",
    });
    expect(server).toBe(a.text(a.responseStart, a.responseEnd));
    expect(a.text(a.opaqueStart, a.opaqueEnd)).toBe("op");
  });
});
