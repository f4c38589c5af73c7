// RFC 3261 §18 transport with RFC 3581: response routing, received/rport in responses, stateless rejections, CRLF keep-alive.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS, ERR_MESSAGE_TOO_LARGE, HDR_CONTACT, SipMessage, nameAddrWalker, scratchUri, SipTransport, SipWriter, StreamReader, TransactionLayer, parseMessage, transportForSize, writeResponseHead,
  type SipMessage as Msg, type Transaction, type TransactionUser,
} from "../../sip-core/index.ts";

const bin = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString("latin1");

function setup() {
  const sent: { text: string; address: string; port: number }[] = [];
  const requests: Transaction[] = [];
  // The last request, parsed again into a view of its own (the transport's reads empty once it is handled).
  const last = new SipMessage();
  const port = { send: (d: Uint8Array, n: number, address: string, p: number) => { sent.push({ text: bin(d, n), address, port: p }); return 0; } };
  const tu: TransactionUser = {
    onRequest: (tx, msg) => {
      requests.push(tx);
      parseMessage(msg.src, msg.start, msg.length, last);
      last.sourceAddress = msg.sourceAddress;
      last.sourcePort = msg.sourcePort;
    },
    onResponse() {}, onTimeout() {}, onTransportError() {}, onTerminated() {}, onAck() {}, onStrayResponse() {},
  };
  const layer = new TransactionLayer({ capacity: 8, bufferSize: 1500, timers: { t1: 500, t2: 4000, t4: 5000, trying: 200 }, retryAfter: 5 }, port, tu);
  const transport = new SipTransport(layer, port, DEFAULT_LIMITS, 1500);
  return { sent, requests, layer, transport, last };
}

const options = (via: string) =>
  `OPTIONS sip:door@10.0.0.1 SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:door@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

function answer(t: ReturnType<typeof setup>, msgOf: Msg) {
  const w = new SipWriter(1500);
  writeResponseHead(w, msgOf, 200, "OK", "tt");
  const n = w.end(null, 0, 0);
  t.layer.respond(t.requests[0], w.buf, n, 200, 0);
}

describe("response routing and Via rewriting (§18.2.1, §18.2.2, RFC 3581)", () => {
  it("rport: the response goes to the source port and carries rport=<port>;received=<address>", () => {
    const t = setup();
    t.transport.receiveDatagram(options("SIP/2.0/UDP 192.168.1.5:5060;branch=z9hG4bK-1;rport"), "203.0.113.7", 40123, 0);
    answer(t, t.last);
    expect(t.sent.length).toBe(1);
    expect(t.sent[0].address).toBe("203.0.113.7");
    expect(t.sent[0].port).toBe(40123);
    const m = new SipMessage();
    expect(parseMessage(t.sent[0].text, 0, t.sent[0].text.length, m)).toBeGreaterThan(0);
    expect(m.via.rport).toBe(40123);
    expect(m.src.substring(m.via.receivedStart, m.via.receivedEnd)).toBe("203.0.113.7");
    expect(m.via.branchText()).toBe("z9hG4bK-1");
  });

  it("no rport: the response goes to the source address at the sent-by port, with received when they differ", () => {
    const t = setup();
    t.transport.receiveDatagram(options("SIP/2.0/UDP 192.168.1.5:5070;branch=z9hG4bK-2"), "203.0.113.7", 40123, 0);
    answer(t, t.last);
    expect(t.sent[0].address).toBe("203.0.113.7");
    expect(t.sent[0].port).toBe(5070);
    expect(t.sent[0].text).toContain("Via: SIP/2.0/UDP 192.168.1.5:5070;branch=z9hG4bK-2;received=203.0.113.7\r\n");
  });

  it("no received when the sent-by is the source address; port 5060 when the sent-by has none", () => {
    const t = setup();
    t.transport.receiveDatagram(options("SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK-3"), "198.51.100.2", 5062, 0);
    answer(t, t.last);
    expect(t.sent[0].port).toBe(5060);
    expect(t.sent[0].text).toContain("Via: SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK-3\r\n");
  });

  it("other Via values on the same line are copied unchanged after the rewritten top one", () => {
    const t = setup();
    t.transport.receiveDatagram(options("SIP/2.0/UDP 10.1.1.1;rport;branch=z9hG4bK-4, SIP/2.0/UDP 10.2.2.2;branch=z9hG4bK-x"), "10.9.9.9", 6000, 0);
    answer(t, t.last);
    expect(t.sent[0].text).toContain("Via: SIP/2.0/UDP 10.1.1.1;rport=6000;branch=z9hG4bK-4;received=10.9.9.9, SIP/2.0/UDP 10.2.2.2;branch=z9hG4bK-x\r\n");
  });
});

describe("maddr (§18.2.2)", () => {
  it("a Via maddr sends the response to that address at the sent-by port", () => {
    const t = setup();
    t.transport.receiveDatagram(options("SIP/2.0/UDP 10.1.1.1:5080;maddr=239.255.255.1;branch=z9hG4bK-m"), "10.9.9.9", 6003, 0);
    answer(t, t.last);
    expect(t.sent[0].address).toBe("239.255.255.1");
    expect(t.sent[0].port).toBe(5080);
  });
});

describe("bad input", () => {
  it("a malformed but answerable request gets its 4xx statelessly, to the source; nothing reaches the TU", () => {
    const t = setup();
    const bad = options("SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK-5;rport").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    t.transport.receiveDatagram(bad, "10.9.9.9", 6001, 0);
    expect(t.requests.length).toBe(0);
    expect(t.sent.length).toBe(1);
    expect(t.sent[0].port).toBe(6001);
    expect(t.sent[0].text.startsWith("SIP/2.0 400 CSeq Method Mismatch\r\n")).toBe(true);
    expect(t.transport.stats.rejected).toBe(1);
  });
  it("garbage and malformed responses are dropped and counted, never answered", () => {
    const t = setup();
    t.transport.receiveDatagram("\x00\x01garbage", "10.9.9.9", 6002, 0);
    t.transport.receiveDatagram("SIP/2.0 2000 OK\r\n\r\n", "10.9.9.9", 6002, 0);
    expect(t.sent.length).toBe(0);
    expect(t.transport.stats.dropped).toBe(2);
  });
});

describe("CRLF keep-alive (RFC 5626 §4.4.1)", () => {
  it("a double-CRLF ping is answered with one CRLF; a pong is reported to the listener", () => {
    const t = setup();
    const pongs: string[] = [];
    t.transport.keepalive = { onPong: (a, p) => pongs.push(a + ":" + p) };
    t.transport.receiveDatagram("\r\n\r\n", "10.0.0.5", 5060, 0);
    expect(t.sent).toEqual([{ text: "\r\n", address: "10.0.0.5", port: 5060 }]);
    t.transport.receiveDatagram("\r\n", "10.0.0.5", 5060, 0);
    expect(pongs).toEqual(["10.0.0.5:5060"]);
    expect(t.transport.ping("10.0.0.5", 5060, 0)).toBe(0);
    expect(t.sent[1].text).toBe("\r\n\r\n");
  });
});

describe("stream framing (TCP, §18.3)", () => {
  const a = options("SIP/2.0/TCP 10.1.1.1;branch=z9hG4bK-s1");
  const b = options("SIP/2.0/TCP 10.1.1.1;branch=z9hG4bK-s2").replace("Call-ID: c1", "Call-ID: c2");
  const stream = a + "\r\n\r\n" + b;

  it("two messages and a keep-alive between them arrive whole at every chunk size", () => {
    for (let size = 1; size <= stream.length; size += size < 40 ? 1 : 17) {
      const t = setup();
      const reader = new StreamReader();
      for (let i = 0; i < stream.length; i += size) {
        expect(t.transport.receiveStream(reader, stream.substring(i, i + size), "10.1.1.1", 40000, 1, 0)).toBe(0);
      }
      expect(t.requests.length).toBe(2);
      expect(reader.pending).toBe("");
      expect(t.transport.stats.keepalivePings).toBe(1);
      expect(t.sent.filter((s) => s.text === "\r\n").length).toBe(1);
    }
  });

  it("on a connection we opened every CRLF is a pong, one per keep-alive period; on an accepted one two make a ping", () => {
    const t = setup();
    const pongs: number[] = [];
    t.transport.keepalive = { onPong: () => pongs.push(pongs.length) };
    const ours = new StreamReader();
    ours.outgoing = true;
    for (let i = 0; i < 3; i++) expect(t.transport.receiveStream(ours, "\r\n", "10.1.1.1", 5060, 1, 0)).toBe(0);
    expect(pongs.length).toBe(3);
    expect(t.sent).toEqual([]);
    const theirs = new StreamReader();
    t.transport.receiveStream(theirs, "\r\n", "10.1.1.2", 40000, 1, 0);
    t.transport.receiveStream(theirs, "\r\n", "10.1.1.2", 40000, 1, 0);
    expect(t.sent.map((x) => x.text)).toEqual(["\r\n"]);
  });

  it("a chunk of 75 KB (150 messages) parses whole: the view's 16-bit offsets stay in range as the stream is cut", () => {
    const t = setup();
    const reader = new StreamReader();
    let chunk = "";
    for (let i = 0; i < 150; i++) {
      chunk += "OPTIONS sip:door@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.1.1;branch=z9hG4bK-m" + i + "\r\nMax-Forwards: 70\r\n" +
        "From: <sip:a@b>;tag=1\r\nTo: <sip:door@b>\r\nCall-ID: call-" + i + "\r\nCSeq: 1 OPTIONS\r\nX-Pad: " + "p".repeat(300) +
        "\r\nContent-Length: 0\r\n\r\n";
    }
    expect(chunk.length).toBeGreaterThan(70000);
    expect(t.transport.receiveStream(reader, chunk, "10.1.1.1", 40000, 1, 0)).toBe(0);
    expect([t.transport.stats.received, t.transport.stats.malformed, reader.pending]).toEqual([150, 0, ""]);
    // The last one was parsed whole: the pool (8) is full by then, and its 503 carries its Call-ID.
    expect(t.sent[t.sent.length - 1].text).toMatch(/^SIP\/2.0 503 [^]*\r\nCall-ID: call-149\r\n/);
    expect(t.transport.msg.src).toBe(""); // the handled message's text is let go
  });

  it("parseMessage refuses a message that starts too far into its text for 16-bit offsets", () => {
    const m = new SipMessage();
    const text = "x".repeat(70000) + options("SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK-far");
    expect(parseMessage(text, 70000, text.length - 70000, m)).toBe(-ERR_MESSAGE_TOO_LARGE);
    expect(parseMessage(text.substring(70000), 0, text.length - 70000, m)).toBeGreaterThan(0);
  });

  it("a message without Content-Length is an error on a stream: answered 400, the connection is to be closed", () => {
    const t = setup();
    const reader = new StreamReader();
    const bad = a.replace("Content-Length: 0\r\n", "");
    expect(t.transport.receiveStream(reader, bad, "10.1.1.1", 40000, 1, 0)).toBe(-1);
    expect(t.requests.length).toBe(0);
    expect(t.sent[0].text.startsWith("SIP/2.0 400 Bad Content-Length")).toBe(true);
  });

  it("§18.1.1: requests near the MTU go over TCP when it is available", () => {
    expect(transportForSize(1299, 1500, true)).toBe(0);
    expect(transportForSize(1301, 1500, true)).toBe(1);
    expect(transportForSize(4000, 1500, false)).toBe(0);
  });
});

describe("a handled message's text is let go", () => {
  // On Espruino a string stays alive while anything points at it: the shared walker and its URI would keep the
  // last message they read (~20 variables each) until the next one. (Digest parameters are parsed into an
  // object made for each use, not a shared one.)
  const invite = `INVITE sip:door@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-r1\r\nMax-Forwards: 70\r\n` +
    `From: <sip:a@b>;tag=1\r\nTo: <sip:door@b>\r\nCall-ID: c9\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.9;transport=udp>\r\n` +
    `Authorization: Digest username="a", realm="b", nonce="n1", uri="sip:door@10.0.0.1", response="00"\r\nContent-Length: 0\r\n\r\n`;
  const walkAll = (msg: Msg) => {
    const c = nameAddrWalker.begin(msg, HDR_CONTACT);
    expect(c.next() && c.value.decodeUri()).toBe(true);
    seen.push([nameAddrWalker.value.src, scratchUri.src].every((s) => s === msg.src));
  };
  const seen: boolean[] = [];
  const setupWalking = () => {
    const t = setup();
    const tu = (t.layer as unknown as { tu: TransactionUser }).tu;
    tu.onRequest = (tx: Transaction, msg: Msg) => { view = msg; walkAll(msg); };
    return t;
  };
  let view: Msg | null = null;
  const released = () => {
    const m = view as Msg;
    return [m.src, m.from.src, m.to.src, m.from.uri.src, m.to.uri.src, m.via.src, m.requestUri.src, nameAddrWalker.value.src, scratchUri.src]
      .filter((x) => x !== "");
  };

  it("after a datagram and after each message of a stream, the message view and the shared views hold no text", () => {
    const t = setupWalking();
    t.transport.receiveDatagram(invite, "10.0.0.9", 5060, 0);
    expect(seen.splice(0)).toEqual([true]);
    expect(released()).toEqual([]);
    const reader = new StreamReader();
    expect(t.transport.receiveStream(reader, invite.replace("r1", "r2").replace("c9", "c10"), "10.0.0.9", 5060, 1, 0)).toBe(0);
    expect(seen.splice(0)).toEqual([true]);
    expect(released()).toEqual([]);
  });
});
