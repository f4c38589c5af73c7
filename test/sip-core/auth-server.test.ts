// DigestServer (RFC 3261 §22.4 as a UAS): credentials for its own nonce get in once per nonce count; replays and malformed counts do not.
import { expect, it } from "vitest";
import { DigestServer } from "../../sip-core/auth-server.ts";
import { SipMessage, SipWriter, digestResponse, parseMessage } from "../../sip-core/index.ts";

/** A server (user u, password p), its challenge at a time, and an INVITE answering a nonce with nc 1 (or `nc`) and `password`. */
function challenged(password = "p") {
  let r = 7;
  const server = new DigestServer("u", "p", "door", { u32: () => (r = (r * 1103515245 + 12345) >>> 0) });
  const challenge = (now: number): string => {
    server.now = now;
    const w = new SipWriter(512);
    server.writeChallenge(w);
    return /nonce="([^"]+)"/.exec(String.fromCharCode(...w.buf.subarray(0, w.pos)))![1];
  };
  const answer = (nonce: string, nc = 1, ncText = nc.toString(16).padStart(8, "0")): SipMessage => {
    const response = digestResponse({ algorithm: 1, username: "u", realm: "door", password, method: "INVITE", uri: "sip:door@h",
      nonce, cnonce: "cn", nc, qop: "auth", body: "" });
    const text = "INVITE sip:door@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:door@h>\r\n" +
      "Call-ID: x\r\nCSeq: 1 INVITE\r\nAuthorization: Digest username=\"u\", realm=\"door\", nonce=\"" + nonce +
      "\", uri=\"sip:door@h\", response=\"" + response + "\", algorithm=MD5, cnonce=\"cn\", qop=auth, nc=" + ncText + "\r\nContent-Length: 0\r\n\r\n";
    const m = new SipMessage();
    expect(parseMessage(text, 0, text.length, m)).toBeGreaterThan(0);
    return m;
  };
  return { server, challenge, answer };
}

it("nonces prove themselves: 1,000 challenges to others between a caller's 401 and its answer do not push its nonce out", () => {
  const { server, challenge, answer } = challenged();
  const mine = challenge(10_000);
  for (let i = 0; i < 1000; i++) challenge(10_000 + i);
  expect(server.verify(answer(mine), 12_000)).toBe(true);
});

it("a forged, expired or future nonce is refused, and so is the right nonce with a wrong password", () => {
  const { server, challenge, answer } = challenged();
  const n = challenge(5000);
  const [t, key] = n.split(".");
  expect(server.verify(answer(t + "." + (key[0] === "0" ? "1" : "0") + key.slice(1)), 6000)).toBe(false); // key altered
  expect(server.verify(answer((5001).toString(36) + "." + key), 6000)).toBe(false); // time altered
  expect(server.verify(answer(n), 5000 + 60_001)).toBe(false); // 60 s old
  expect(server.verify(answer(n), 4999)).toBe(false); // from the future
  const other = challenged("wrong"); // answers with a wrong password
  expect(other.server.verify(other.answer(other.challenge(5000)), 6000)).toBe(false);
  expect(server.verify(answer(n), 5000 + 60_000)).toBe(true);
});

it("a replay never outlives the record of its nonce: when the ring of used nonces is full, the oldest and every nonce issued before it stop being accepted", () => {
  const { server, challenge, answer } = challenged();
  const nonces = [0, 1, 2, 3, 4].map((i) => challenge(1000 * (i + 1)));
  const pending = challenge(1500); // issued before nonces[1], answered late
  for (let i = 0; i < 4; i++) expect(server.verify(answer(nonces[i]), 6000)).toBe(true);
  expect(server.verify(answer(nonces[0], 1), 6000)).toBe(false); // replayed, remembered
  expect(server.verify(answer(nonces[4]), 6000)).toBe(true); // a fifth: nonces[0]'s record goes, the floor is its time
  expect(server.verify(answer(nonces[0], 2), 6000)).toBe(false); // a higher count on a forgotten nonce: still refused
  expect(server.verify(answer(pending), 6000)).toBe(true); // issued after the floor: fine
  expect(server.verify(answer(nonces[1], 1), 6000)).toBe(false); // pending's record pushed nonces[1]'s out
  expect(server.verify(answer(challenge(6000)), 6500)).toBe(true); // fresh nonces work
});

it("verify: the right digest passes; a replayed, lower or malformed nonce count is refused", () => {
  const { server, challenge, answer } = challenged();
  const nonce = challenge(1000);
  const first = answer(nonce, 1);
  expect(server.verify(first, 1500)).toBe(true);
  expect(server.verify(first, 1500)).toBe(false); // replayed
  expect(server.verify(answer(nonce, 2, "0000002"), 1500)).toBe(false); // 7 digits
  expect(server.verify(answer(nonce, 2, "0000000g"), 1500)).toBe(false); // not hex
  expect(server.verify(answer(nonce, 0xffffffff), 1500)).toBe(true); // the largest count
  expect(server.verify(answer(nonce, 2), 1500)).toBe(false); // below the last one used
  expect(server.refused).toBe(4);
});
