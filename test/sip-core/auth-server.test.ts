// DigestServer (RFC 3261 §22.4 as a UAS): credentials for its own nonce get in once per nonce count; replays and malformed counts do not.
import { expect, it } from "vitest";
import { DigestServer } from "../../sip-core/auth-server.ts";
import { SipMessage, SipWriter, digestResponse, parseMessage } from "../../sip-core/index.ts";

it("verify: the right digest passes; a replayed, lower or malformed nonce count is refused", () => {
  let r = 1;
  const server = new DigestServer("u", "p", "door", { u32: () => r++ * 2654435761 });
  server.now = 1000;
  const w = new SipWriter(512);
  server.writeChallenge(w);
  const nonce = /nonce="([^"]+)"/.exec(String.fromCharCode(...w.buf.subarray(0, w.pos)))![1];
  const invite = (ncText: string, nc: number): SipMessage => {
    const response = digestResponse({ algorithm: 1, username: "u", realm: "door", password: "p", method: "INVITE", uri: "sip:door@h",
      nonce, cnonce: "cn", nc, qop: "auth", body: "" });
    const text = "INVITE sip:door@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:door@h>\r\n" +
      "Call-ID: x\r\nCSeq: 1 INVITE\r\nAuthorization: Digest username=\"u\", realm=\"door\", nonce=\"" + nonce +
      "\", uri=\"sip:door@h\", response=\"" + response + "\", algorithm=MD5, cnonce=\"cn\", qop=auth, nc=" + ncText + "\r\nContent-Length: 0\r\n\r\n";
    const m = new SipMessage();
    expect(parseMessage(text, 0, text.length, m)).toBeGreaterThan(0);
    return m;
  };
  const first = invite("00000001", 1);
  expect(server.verify(first, 1500)).toBe(true);
  expect(server.verify(first, 1500)).toBe(false); // replayed
  expect(server.verify(invite("0000002", 2), 1500)).toBe(false); // 7 digits
  expect(server.verify(invite("0000000g", 2), 1500)).toBe(false); // not hex
  expect(server.verify(invite("ffffffff", 0xffffffff), 1500)).toBe(true); // the largest count
  expect(server.verify(invite("00000002", 2), 1500)).toBe(false); // below the last one used
  expect(server.refused).toBe(4);
});
