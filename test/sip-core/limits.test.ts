// Every capacity has a defined answer: parser limits map to their error and status, the writer refuses instead of truncating.
import { describe, expect, it } from "vitest";
import {
  ERR_BODY_TOO_LARGE, ERR_BUFFER_FULL, ERR_EMPTY, ERR_INCOMPLETE, ERR_MESSAGE_TOO_LARGE, ERR_STATUS_CODE,
  ERR_TOO_MANY_HEADERS, ERR_URI_TOO_LONG, ERR_VIA, ParserLimits, SipMessage, SipWriter, parseMessage,
  writeMessage, writeResponseHead,
} from "../../sip-core/index.ts";

const SMALL: ParserLimits = { maxHeaders: 8, maxMessageSize: 1024, maxUriLength: 64, maxBodySize: 256 };

function small(stream = false): SipMessage {
  const m = new SipMessage(SMALL);
  m.stream = stream;
  return m;
}

/** A request with the five mandatory headers, extra header lines, a Request-URI and a body of the given sizes. */
function request(opts: { method?: string; uri?: string; extra?: number; body?: number; contentLength?: boolean } = {}): string {
  const method = opts.method || "MESSAGE";
  let s = method + " " + (opts.uri || "sip:bob@biloxi.example.com") + " SIP/2.0\r\n" +
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n" +
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
    "To: Bob <sip:bob@biloxi.example.com>\r\n" +
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
    "CSeq: 314159 " + method + "\r\n";
  for (let i = 0; i < (opts.extra || 0); i++) s += "X-Extra-" + i + ": " + i + "\r\n";
  const body = "b".repeat(opts.body || 0);
  if (opts.contentLength !== false) s += "Content-Length: " + body.length + "\r\n";
  return s + "\r\n" + body;
}

function parse(src: string, m: SipMessage): number {
  return parseMessage(src, 0, src.length, m);
}

describe("parser limits", () => {
  it("maxHeaders: 8 lines are kept, a 9th is ERR_TOO_MANY_HEADERS and earns 513", () => {
    const m = small();
    // 5 mandatory + 2 extra + Content-Length = 8
    const ok = request({ extra: 2 });
    expect(parse(ok, m)).toBe(ok.length);
    expect(m.headerCount).toBe(8);
    const over = request({ extra: 3 });
    expect(parse(over, m)).toBe(-ERR_TOO_MANY_HEADERS);
    expect(m.error).toBe(ERR_TOO_MANY_HEADERS);
    expect(m.headerCount).toBe(8);
    // The 9th line is Content-Length, after X-Extra-0..2.
    expect(m.errorOffset).toBe(over.indexOf("Content-Length"));
    expect(m.rejectStatus()).toBe(513);
    expect(m.rejectReason()).toBe("Too Many Headers");
    // Far more lines than the table holds: still the same answer, and nothing is written past it.
    const roomy = new SipMessage({ ...SMALL, maxMessageSize: 65536 });
    const flood = request({ extra: 500 });
    expect(parse(flood, roomy)).toBe(-ERR_TOO_MANY_HEADERS);
    expect(roomy.headerCount).toBe(8);
    expect(roomy.headers.length).toBe(8 * 4); // [id, nameStart, valueStart, valueEnd] per line
    expect(roomy.rejectStatus()).toBe(513);
  });

  it("maxUriLength: a Request-URI of 64 bytes passes, 65 is ERR_URI_TOO_LONG and earns 414", () => {
    const m = small();
    const base = "sip:bob@biloxi.example.com;x=";
    const at = base + "u".repeat(64 - base.length);
    expect(at.length).toBe(64);
    const ok = request({ uri: at });
    expect(parse(ok, m)).toBe(ok.length);
    expect(m.uriText()).toBe(at);
    const over = request({ uri: at + "u" });
    expect(parse(over, m)).toBe(-ERR_URI_TOO_LONG);
    expect(m.errorOffset).toBe(over.indexOf("sip:"));
    expect(m.rejectStatus()).toBe(414);
    expect(m.rejectReason()).toBe("Request-URI Too Long");
    // The request is still answerable: its Via, Call-ID and CSeq were read.
    expect(m.viaOk).toBe(true);
    expect(m.callId()).toBe("a84b4c76e66710@pc33.atlanta.example.com");
    expect(m.cseq).toBe(314159);
    // A very long one changes nothing.
    expect(parse(request({ uri: "sip:" + "u".repeat(5000) + "@h" }), new SipMessage({ ...SMALL, maxMessageSize: 65536 }))).toBe(-ERR_URI_TOO_LONG);
  });

  it("maxMessageSize: a header section larger than the limit earns 513", () => {
    // One long line, so that no other limit is near.
    const m = small();
    const over = request({ extra: 1 }).replace("X-Extra-0: 0", "X-Extra-0: " + "y".repeat(1100));
    expect(over.length).toBeGreaterThan(1024);
    expect(parse(over, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
    expect(m.rejectStatus()).toBe(513);
    expect(m.rejectReason()).toBe("Message Too Large");
  });

  it("maxMessageSize: headers and body together larger than the limit earn 513", () => {
    // Each part is within its own limit; the message as a whole is not.
    const m = new SipMessage({ maxHeaders: 64, maxMessageSize: 1024, maxUriLength: 64, maxBodySize: 4096 });
    const head = request({ body: 0 }).length;
    let b = 0;
    while (request({ body: b + 1 }).length <= 1024) b++;
    const fit = request({ body: b });
    expect(fit.length).toBe(1024);
    expect(parse(fit, m)).toBe(fit.length);
    const over1 = request({ body: b + 1 });
    expect(over1.length).toBe(1025);
    expect(parse(over1, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
    const over = request({ body: 2000 });
    expect(parse(over, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
    expect(m.rejectStatus()).toBe(513);
    // Without Content-Length (a datagram's body runs to its end) the same holds.
    const noCl = request({ body: 2000, contentLength: false });
    expect(parse(noCl, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
    // On a stream the answer comes as soon as Content-Length says so, not after buffering it all.
    const s = new SipMessage({ maxHeaders: 64, maxMessageSize: 1024, maxUriLength: 64, maxBodySize: 4096 });
    s.stream = true;
    expect(parseMessage(over, 0, head + 10, s)).toBe(-ERR_MESSAGE_TOO_LARGE);
    expect(parseMessage(over, 0, over.length, s)).toBe(-ERR_MESSAGE_TOO_LARGE);
  });

  it("maxMessageSize on a stream: an unterminated header section beyond the limit is refused, not awaited", () => {
    const m = small(true);
    const partial = request({ extra: 1 }).replace("X-Extra-0: 0", "X-Extra-0: " + "y".repeat(3000)).substring(0, 2000);
    expect(partial.indexOf("\r\n\r\n")).toBe(-1);
    expect(parseMessage(partial, 0, 1024, m)).toBe(-ERR_INCOMPLETE);
    expect(parseMessage(partial, 0, 1025, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
  });

  it("maxMessageSize above 32,767 is honoured up to 32,767: a longer unterminated header section is refused, not awaited", () => {
    const m = new SipMessage({ ...SMALL, maxMessageSize: 40000 });
    m.stream = true;
    const partial = request({ extra: 1 }).replace("X-Extra-0: 0", "X-Extra-0: " + "y".repeat(34000)).substring(0, 34000);
    expect(partial.indexOf("\r\n\r\n")).toBe(-1);
    expect(parseMessage(partial, 0, 32767, m)).toBe(-ERR_INCOMPLETE);
    expect(parseMessage(partial, 0, partial.length, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
  });

  it("maxBodySize: a body of 256 bytes passes, 257 is ERR_BODY_TOO_LARGE and earns 413", () => {
    const m = small();
    const ok = request({ body: 256 });
    expect(parse(ok, m)).toBe(ok.length);
    expect(m.bodyEnd - m.bodyStart).toBe(256);
    const over = request({ body: 257 });
    expect(parse(over, m)).toBe(-ERR_BODY_TOO_LARGE);
    expect(m.rejectStatus()).toBe(413);
    expect(m.rejectReason()).toBe("Body Too Large");
    // Datagram without Content-Length: the body is the rest of the datagram.
    expect(parse(request({ body: 257, contentLength: false }), m)).toBe(-ERR_BODY_TOO_LARGE);
    // Stream: Content-Length announcing too much is refused before the body arrives.
    const s = small(true);
    const big = request({ body: 100000 });
    expect(parseMessage(big, 0, big.indexOf("\r\n\r\n") + 4, s)).toBe(-ERR_BODY_TOO_LARGE);
    expect(s.rejectStatus()).toBe(413);
  });

  it("a malformed response is dropped: rejectStatus 0", () => {
    const m = small();
    const badVia = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    expect(parse(badVia, m)).toBe(-ERR_VIA);
    expect(m.isRequest).toBe(false);
    expect(m.rejectStatus()).toBe(0);
    const badCode = "SIP/2.0 99 Odd\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
    expect(parse(badCode, m)).toBe(-ERR_STATUS_CODE);
    expect(m.rejectStatus()).toBe(0);
    // Even a limit exceeded by a response earns no answer.
    let many = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n";
    for (let i = 0; i < 10; i++) many += "X: " + i + "\r\n";
    expect(parse(many + "\r\n", m)).toBe(-ERR_TOO_MANY_HEADERS);
    expect(m.rejectStatus()).toBe(0);
  });

  it("a rejected ACK is dropped: rejectStatus 0", () => {
    const m = small();
    const tooMany = request({ method: "ACK", extra: 5 });
    expect(parse(tooMany, m)).toBe(-ERR_TOO_MANY_HEADERS);
    expect(m.methodName()).toBe("ACK");
    expect(m.rejectStatus()).toBe(0);
    const bodyOver = request({ method: "ACK", body: 300 });
    expect(parse(bodyOver, m)).toBe(-ERR_BODY_TOO_LARGE);
    expect(m.rejectStatus()).toBe(0);
    const uriOver = request({ method: "ACK", uri: "sip:" + "u".repeat(80) + "@h" });
    expect(parse(uriOver, m)).toBe(-ERR_URI_TOO_LONG);
    expect(m.rejectStatus()).toBe(0);
    // The same faults in an INVITE are answered.
    expect(parse(request({ method: "INVITE", extra: 5 }), m)).toBe(-ERR_TOO_MANY_HEADERS);
    expect(m.rejectStatus()).toBe(513);
  });

  it("keep-alives: CRLFs alone are ERR_EMPTY on a datagram (dropped) and incomplete on a stream", () => {
    const m = small();
    for (const ka of ["\r\n\r\n", "\r\n", "\r\n\r\n\r\n\r\n"]) {
      expect(parse(ka, m), JSON.stringify(ka)).toBe(-ERR_EMPTY);
      expect(m.rejectStatus()).toBe(0);
    }
    expect(parseMessage("", 0, 0, m)).toBe(-ERR_EMPTY);
    const s = small(true);
    expect(parse("\r\n\r\n", s)).toBe(-ERR_INCOMPLETE);
    expect(s.rejectStatus()).toBe(0);
    // A keep-alive in front of a message is skipped.
    const msg = request();
    expect(parse("\r\n\r\n" + msg, m)).toBe(msg.length + 4);
    expect(m.start).toBe(4);
  });
});

describe("writer capacity", () => {
  const m = small();
  const src = request({ body: 50 });
  parse(src, m);

  /** A stand-in for the writer's buffer that records any write outside [0, capacity). */
  function guarded(capacity: number): { buf: Uint8Array; outside: number[] } {
    const target = new Uint8Array(capacity);
    const outside: number[] = [];
    const buf = new Proxy(target, {
      get(t, k) {
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
      set(t, k, v) {
        if (typeof k === "string" && /^-?\d+$/.test(k) && (+k < 0 || +k >= capacity)) outside.push(+k);
        return Reflect.set(t, k, v, t);
      },
    });
    return { buf, outside };
  }

  function writerWith(capacity: number): { w: SipWriter; outside: number[] } {
    const w = new SipWriter(capacity);
    const g = guarded(capacity);
    (w as unknown as { buf: Uint8Array }).buf = g.buf;
    return { w, outside: g.outside };
  }

  it("writeMessage: every capacity below the size is -ERR_BUFFER_FULL, the exact size fits", () => {
    const ref = new SipWriter(4096);
    const n = writeMessage(ref, m);
    expect(n).toBeGreaterThan(0);
    const want = Buffer.from(ref.buf.subarray(0, n)).toString("latin1");
    for (let cap = 0; cap < n; cap++) {
      const { w, outside } = writerWith(cap);
      expect(writeMessage(w, m), "capacity " + cap).toBe(-ERR_BUFFER_FULL);
      expect(outside, "capacity " + cap).toEqual([]);
      expect(w.pos).toBeLessThanOrEqual(cap);
      expect(w.overflow).toBe(true);
    }
    for (const cap of [n, n + 1, n + 9]) {
      const { w, outside } = writerWith(cap);
      expect(writeMessage(w, m), "capacity " + cap).toBe(n);
      expect(outside).toEqual([]);
      expect(Buffer.from(w.buf.subarray(0, n)).toString("latin1")).toBe(want);
    }
  });

  it("a response head and end(): refused below its size, written whole at it", () => {
    const full = new SipWriter(4096);
    writeResponseHead(full, m, 413, "Body Too Large", "abc123");
    const n = full.end(null, 0, 0);
    expect(n).toBeGreaterThan(0);
    for (let cap = 0; cap < n; cap++) {
      const { w, outside } = writerWith(cap);
      writeResponseHead(w, m, 413, "Body Too Large", "abc123");
      expect(w.end(null, 0, 0), "capacity " + cap).toBe(-ERR_BUFFER_FULL);
      expect(outside).toEqual([]);
      expect(w.pos).toBeLessThanOrEqual(cap);
    }
    const { w } = writerWith(n);
    writeResponseHead(w, m, 413, "Body Too Large", "abc123");
    expect(w.end(null, 0, 0)).toBe(n);
  });

  it("each primitive refuses what does not fit and keeps the overflow sticky", () => {
    const { w, outside } = writerWith(8);
    w.str("12345");
    expect(w.pos).toBe(5);
    w.str("6789"); // does not fit: not written at all
    expect(w.pos).toBe(5);
    expect(w.overflow).toBe(true);
    w.num(123);
    w.byte(65).byte(66).byte(67).byte(68);
    w.span("abcdef", 0, 6);
    w.crlf();
    expect(w.pos).toBeLessThanOrEqual(8);
    expect(outside).toEqual([]);
    expect(w.end(null, 0, 0)).toBe(-ERR_BUFFER_FULL);
    // reset() clears it.
    w.reset();
    expect(w.overflow).toBe(false);
    expect(w.num(4294967295).pos).toBe(0); // 10 digits do not fit in 8
    w.reset();
    expect(w.num(12345678).pos).toBe(8); // 8 digits fit exactly
    expect(w.overflow).toBe(false);
    expect(Buffer.from(w.buf.subarray(0, 8)).toString("latin1")).toBe("12345678");
    w.reset();
    w.str("123456").num(0).byte(0x41);
    expect(w.overflow).toBe(false);
    expect(Buffer.from(w.buf.subarray(0, 8)).toString("latin1")).toBe("1234560A");
    expect(outside).toEqual([]);
  });
});
