// SipWriter primitives, §8.2.6 response heads, stateless To tags and message re-serialisation.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ERR_BUFFER_FULL, HDR_TIMESTAMP, SipMessage, SipWriter, ViaCursor, parseMessage, statelessToTag, writeMessage, writeResponseHead,
} from "../../sip-core/index.ts";

const CRLF = "\r\n";
const text = (w: SipWriter, n = w.pos): string => Buffer.from(w.buf.subarray(0, n)).toString("latin1");

function parsed(src: string): SipMessage {
  const msg = new SipMessage();
  const r = parseMessage(src, 0, src.length, msg);
  expect(r, "error " + msg.error + " at " + msg.errorOffset).toBe(src.length);
  return msg;
}

describe("SipWriter primitives", () => {
  it("str, span, byte and crlf append binary strings", () => {
    const w = new SipWriter(64);
    const src = "xxHELLOyy";
    w.str("a\xe9").span(src, 2, 7).byte(0x21).crlf();
    expect(text(w)).toBe("a\xe9HELLO!\r\n");
    expect(w.buf[1]).toBe(0xe9);
    expect(w.overflow).toBe(false);
  });

  it("an empty or reversed span writes nothing", () => {
    const w = new SipWriter(16);
    w.span("abc", 1, 1).span("abc", 2, 1);
    expect(w.pos).toBe(0);
    expect(w.overflow).toBe(false);
  });

  it("num writes decimal digits, up to 2^32 - 1", () => {
    for (const [v, s] of [[0, "0"], [7, "7"], [10, "10"], [65535, "65535"], [4294967295, "4294967295"], [100, "100"], [1000000000, "1000000000"]] as const) {
      const w = new SipWriter(16);
      w.num(v);
      expect(text(w), String(v)).toBe(s);
    }
  });

  it("header and headerNum", () => {
    const w = new SipWriter(64);
    w.header("Max-Forwards", "70").headerNum("Expires", 3600).headerNum("Min-Expires", 0);
    expect(text(w)).toBe("Max-Forwards: 70\r\nExpires: 3600\r\nMin-Expires: 0\r\n");
  });

  it("requestLine and statusLine", () => {
    const w = new SipWriter(128);
    w.requestLine("OPTIONS", "sip:door@192.0.2.10").statusLine(486, "Busy Here");
    expect(text(w)).toBe("OPTIONS sip:door@192.0.2.10 SIP/2.0\r\nSIP/2.0 486 Busy Here\r\n");
  });

  it("end() writes the body's Content-Length, the blank line and the body; returns the length", () => {
    const w = new SipWriter(128);
    const src = "junk|v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n|junk";
    const s = src.indexOf("|") + 1;
    const e = src.lastIndexOf("|");
    w.statusLine(200, "OK");
    const n = w.end(src, s, e);
    expect(text(w, n)).toBe("SIP/2.0 200 OK\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
    expect(e - s).toBe(31);
    expect(n).toBe(w.pos);
  });

  it("end(null) writes Content-Length: 0", () => {
    const w = new SipWriter(64);
    const n = w.end(null, 0, 0);
    expect(text(w, n)).toBe("Content-Length: 0\r\n\r\n");
  });

  it("a message that fits exactly is written; one byte less is ERR_BUFFER_FULL", () => {
    const full = "SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    const fit = new SipWriter(full.length);
    expect(fit.statusLine(200, "OK").end("hi", 0, 2)).toBe(full.length);
    expect(text(fit)).toBe(full);
    const short = new SipWriter(full.length - 1);
    expect(short.statusLine(200, "OK").end("hi", 0, 2)).toBe(-ERR_BUFFER_FULL);
    expect(short.overflow).toBe(true);
  });

  it("overflow: later writes are ignored, nothing is written past the buffer, reset() clears it", () => {
    const w = new SipWriter(8);
    w.str("12345").str("6789"); // the second does not fit
    expect(w.overflow).toBe(true);
    expect(w.pos).toBe(5);
    w.num(4294967295).span("abcdefgh", 0, 8).byte(1).byte(2).byte(3).byte(4);
    expect(w.pos).toBeLessThanOrEqual(8);
    expect(w.end(null, 0, 0)).toBe(-ERR_BUFFER_FULL);
    w.reset();
    expect(w.overflow).toBe(false);
    expect(w.pos).toBe(0);
    w.str("ok");
    expect(text(w)).toBe("ok");
  });

  it("num that does not fit sets overflow without partial digits", () => {
    const w = new SipWriter(4);
    w.str("ab").num(12345);
    expect(w.overflow).toBe(true);
    expect(w.pos).toBe(2);
  });
});

// An INVITE as a proxy chain delivers it: three Via values over two lines (one compact), To without a tag.
const INVITE = [
  "INVITE sip:bob@biloxi.example.com SIP/2.0",
  "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2-1, SIP/2.0/UDP p1.example.com:5070;branch=z9hG4bKp1-1;received=192.0.2.7",
  "v: SIP/2.0/UDP  pc33.atlanta.example.com ;branch=z9hG4bKnashds8;rport=5060",
  "Max-Forwards: 68",
  "To: Bob <sip:bob@biloxi.example.com>",
  "From: \"Alice\"  <sip:alice@atlanta.example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
  "CSeq: 314159 INVITE",
  "Timestamp: 54.7 0.2",
  "Contact: <sip:alice@pc33.atlanta.example.com>",
  "Content-Type: application/sdp",
  "Content-Length: 4",
  "",
  "v=0\n",
].join(CRLF);

function respond(req: SipMessage, status: number, reason: string, toTag: string | null, capacity = 2048): string {
  const w = new SipWriter(capacity);
  writeResponseHead(w, req, status, reason, toTag);
  const n = w.end(null, 0, 0);
  expect(n).toBeGreaterThan(0);
  return text(w, n);
}

describe("writeResponseHead (RFC 3261 §8.2.6)", () => {
  const req = parsed(INVITE);

  it("the fixture is what it claims", () => {
    expect(req.bodyText()).toBe("v=0\n");
    expect(req.to.tagStart).toBe(-1);
    expect(req.countVia()).toBe(3);
  });

  it("180: status line, every Via in order, From/Call-ID/CSeq byte-exact, a To tag added, no Timestamp", () => {
    expect(respond(req, 180, "Ringing", "b0b-tag")).toBe([
      "SIP/2.0 180 Ringing",
      "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2-1, SIP/2.0/UDP p1.example.com:5070;branch=z9hG4bKp1-1;received=192.0.2.7",
      "Via: SIP/2.0/UDP  pc33.atlanta.example.com ;branch=z9hG4bKnashds8;rport=5060",
      "To: Bob <sip:bob@biloxi.example.com>;tag=b0b-tag",
      "From: \"Alice\"  <sip:alice@atlanta.example.com>;tag=1928301774",
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
      "CSeq: 314159 INVITE",
      "Content-Length: 0",
      "", "",
    ].join(CRLF));
  });

  it("100: no To tag even when one is offered, Timestamp copied (§8.2.6.1)", () => {
    const out = respond(req, 100, "Trying", "b0b-tag");
    expect(out).toContain("\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n");
    expect(out).not.toContain(";tag=b0b-tag");
    expect(out).toContain("\r\nTimestamp: 54.7 0.2\r\n");
    expect(out.startsWith("SIP/2.0 100 Trying\r\n")).toBe(true);
  });

  it("a final response has no Timestamp, nor any header the function does not copy", () => {
    const out = respond(req, 486, "Busy Here", "t1");
    expect(out).not.toContain("Timestamp");
    expect(out).not.toContain("Contact");
    expect(out).not.toContain("Max-Forwards");
    expect(out).not.toContain("Content-Type");
  });

  it("keeps the request's To tag and adds none", () => {
    const inDialog = parsed(INVITE.replace("To: Bob <sip:bob@biloxi.example.com>", "t: Bob <sip:bob@biloxi.example.com> ;tag=existing"));
    const out = respond(inDialog, 200, "OK", "fresh");
    expect(out).toContain("\r\nTo: Bob <sip:bob@biloxi.example.com> ;tag=existing\r\n");
    expect(out).not.toContain("fresh");
  });

  it("a null toTag adds no tag", () => {
    expect(respond(req, 503, "Service Unavailable", null)).toContain("\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n");
  });

  it("the response parses back with the same Call-ID, CSeq, From tag and Via branches", () => {
    const out = respond(req, 180, "Ringing", "b0b-tag");
    const res = parsed(out);
    expect(res.isRequest).toBe(false);
    expect(res.status).toBe(180);
    expect(res.reason()).toBe("Ringing");
    expect(res.callId()).toBe(req.callId());
    expect(res.cseq).toBe(314159);
    expect(res.cseqMethod).toBe(req.cseqMethod);
    expect(res.from.tagText()).toBe("1928301774");
    expect(res.to.tagText()).toBe("b0b-tag");
    expect(res.via.branchText()).toBe("z9hG4bKp2-1");
    const branches = (m: SipMessage): string[] => {
      const c = new ViaCursor().begin(m);
      const b: string[] = [];
      while (c.next()) b.push(c.value.branchText());
      return b;
    };
    expect(branches(res)).toEqual(branches(req));
    expect(res.findHeader(HDR_TIMESTAMP)).toBe(-1);
  });

  it("overflow is ERR_BUFFER_FULL, never a truncated message, whatever the capacity", () => {
    const whole = respond(req, 180, "Ringing", "b0b-tag");
    for (let cap = 1; cap < whole.length; cap += 7) {
      const w = new SipWriter(cap);
      writeResponseHead(w, req, 180, "Ringing", "b0b-tag");
      expect(w.end(null, 0, 0), "capacity " + cap).toBe(-ERR_BUFFER_FULL);
      expect(w.pos).toBeLessThanOrEqual(cap);
    }
    const exact = new SipWriter(whole.length);
    writeResponseHead(exact, req, 180, "Ringing", "b0b-tag");
    expect(exact.end(null, 0, 0)).toBe(whole.length);
  });
});

describe("statelessToTag (§8.2.7)", () => {
  const tagOf = (src: string): string => statelessToTag(parsed(src));

  it("is eight lower-case hex digits", () => {
    expect(tagOf(INVITE)).toMatch(/^[0-9a-f]{8}$/);
  });

  it("is stable for the same request (a retransmission)", () => {
    const a = parsed(INVITE);
    const t = statelessToTag(a);
    expect(statelessToTag(a)).toBe(t);
    expect(tagOf(INVITE)).toBe(t);
    // Header order and unrelated headers do not matter.
    expect(tagOf(INVITE.replace("Max-Forwards: 68", "Max-Forwards: 67"))).toBe(t);
  });

  it("differs for a different Call-ID, CSeq or From tag", () => {
    const t = tagOf(INVITE);
    expect(tagOf(INVITE.replace("Call-ID: a84b4c76e66710@", "Call-ID: a84b4c76e66711@"))).not.toBe(t);
    expect(tagOf(INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314160 INVITE"))).not.toBe(t);
    expect(tagOf(INVITE.replace(";tag=1928301774", ";tag=1928301775"))).not.toBe(t);
  });
});

describe("writeMessage", () => {
  function rewrite(src: string): string {
    const m = parsed(src);
    const w = new SipWriter(8192);
    const n = writeMessage(w, m);
    expect(n).toBeGreaterThan(0);
    return text(w, n);
  }

  it("a request: canonical names, compact forms expanded, values as received, Content-Length last and from the body", () => {
    const src = [
      "MESSAGE sip:2001@sip.example.com SIP/2.0",
      "v: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK.Qm3r8Ttc1;rport",
      "f: \"Front Door\" <sip:1001@sip.example.com>;tag=Jb6sV0xDq",
      "t: <sip:2001@sip.example.com>",
      "i: 9dK2mPq7Xr@192.168.1.23",
      "cseq: 3 MESSAGE",
      "max-forwards:70",
      "l: 0005",
      "X-Door-State:   open  ",
      "c: text/plain",
      "",
      "hello",
    ].join(CRLF);
    expect(rewrite(src)).toBe([
      "MESSAGE sip:2001@sip.example.com SIP/2.0",
      "Via: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK.Qm3r8Ttc1;rport",
      "From: \"Front Door\" <sip:1001@sip.example.com>;tag=Jb6sV0xDq",
      "To: <sip:2001@sip.example.com>",
      "Call-ID: 9dK2mPq7Xr@192.168.1.23",
      "CSeq: 3 MESSAGE",
      "Max-Forwards: 70",
      "X-Door-State: open",
      "Content-Type: text/plain",
      "Content-Length: 5",
      "",
      "hello",
    ].join(CRLF));
  });

  it("a datagram without Content-Length gets one for its body", () => {
    const src = "OPTIONS sip:door@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n" +
      "To: <sip:door@192.0.2.10>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\nabc";
    expect(rewrite(src)).toBe(src.replace("\r\n\r\nabc", "\r\nContent-Length: 3\r\n\r\nabc"));
  });

  it("a response from the corpus is written back byte for byte", () => {
    const src = readFileSync(new URL("../fixtures/corpus/100.sip", import.meta.url)).toString("latin1");
    expect(rewrite(src)).toBe(src);
  });

  it("a response with compact forms and Content-Length in the middle", () => {
    const src = [
      "SIP/2.0 200 OK",
      "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK7",
      "l: 3",
      "f: <sip:a@example.com>;tag=9",
      "t: <sip:b@example.com>;tag=8",
      "i: r1",
      "CSeq: 2 BYE",
      "",
      "xyz",
    ].join(CRLF);
    const out = rewrite(src);
    expect(out).toBe([
      "SIP/2.0 200 OK",
      "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK7",
      "From: <sip:a@example.com>;tag=9",
      "To: <sip:b@example.com>;tag=8",
      "Call-ID: r1",
      "CSeq: 2 BYE",
      "Content-Length: 3",
      "",
      "xyz",
    ].join(CRLF));
    // write → parse → write is a fixed point.
    expect(rewrite(out)).toBe(out);
  });

  it("a body shorter than the datagram: Content-Length frames it, trailing octets dropped", () => {
    const src = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n" +
      "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 2\r\n\r\nokTRAILING";
    const m = new SipMessage();
    expect(parseMessage(src, 0, src.length, m)).toBe(src.length - "TRAILING".length);
    const w = new SipWriter(1024);
    const n = writeMessage(w, m);
    expect(text(w, n).endsWith("\r\nContent-Length: 2\r\n\r\nok")).toBe(true);
  });

  it("overflow is ERR_BUFFER_FULL", () => {
    const src = readFileSync(new URL("../fixtures/corpus/invite.sip", import.meta.url)).toString("latin1");
    const m = parsed(src);
    expect(writeMessage(new SipWriter(100), m)).toBe(-ERR_BUFFER_FULL);
  });
});
