// RFC 3261 §17 (with RFC 6026) transaction state machines: every timer at its exact time, on a manual clock.
import { describe, expect, it } from "vitest";
import {
  METHOD_INVITE, METHOD_OPTIONS, REWRITE_OK, SipMessage, SipWriter, TRANSPORT_TCP, TRANSPORT_UDP, TS_ACCEPTED, TS_COMPLETED, TS_CONFIRMED,
  TS_PROCEEDING, TransactionLayer, parseMessage, writeResponseHead, type Transaction, type TransactionUser,
} from "../../sip-core/index.ts";

const bin = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString("latin1");
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

function request(method: string, branch: string, opts: { cseq?: number; toTag?: string; callId?: string; fromTag?: string; host?: string } = {}): string {
  return `${method} sip:door@192.0.2.10 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${opts.host ?? "192.0.2.20:5060"}${branch ? ";branch=" + branch : ""}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:resident@example.org>;tag=${opts.fromTag ?? "f1"}\r\n` +
    `To: <sip:door@example.org>${opts.toTag ? ";tag=" + opts.toTag : ""}\r\n` +
    `Call-ID: ${opts.callId ?? "call-1"}\r\n` +
    `CSeq: ${opts.cseq ?? 1} ${method}\r\n` +
    `Content-Length: 0\r\n\r\n`;
}

function response(status: number, reason: string, method: string, branch: string, toTag = "t9"): string {
  return `SIP/2.0 ${status} ${reason}\r\n` +
    `Via: SIP/2.0/UDP 192.0.2.20:5060;branch=${branch}\r\n` +
    `From: <sip:resident@example.org>;tag=f1\r\n` +
    `To: <sip:door@example.org>;tag=${toTag}\r\n` +
    `Call-ID: call-1\r\n` +
    `CSeq: 1 ${method}\r\n` +
    `Content-Length: 0\r\n\r\n`;
}

/** A layer on a manual clock, a transport that records what it sends, and a TU that records what it hears. */
class Harness implements TransactionUser {
  now = 0;
  readonly sent: { at: number; text: string }[] = [];
  readonly events: string[] = [];
  readonly layer: TransactionLayer;
  readonly msg = new SipMessage();
  readonly writer = new SipWriter(1500);
  lastRequestTx: Transaction | null = null;
  constructor(capacity = 8, transportFails = false, exactCopies = false) {
    this.layer = new TransactionLayer(
      { capacity, bufferSize: 1500, timers: { t1: 500, t2: 4000, t4: 5000, trying: 200 }, retryAfter: 7, exactCopies },
      { send: (d, n) => { if (transportFails) return -1; this.sent.push({ at: this.now, text: bin(d, n) }); return 0; } },
      this,
    );
  }
  onRequest(tx: Transaction, msg: SipMessage) { this.lastRequestTx = tx; this.events.push(`${this.now} request ${msg.methodName()}`); }
  onResponse(tx: Transaction, msg: SipMessage) { this.events.push(`${this.now} response ${msg.status}`); }
  onTimeout() { this.events.push(`${this.now} timeout`); }
  onTransportError() { this.events.push(`${this.now} transport-error`); }
  onTerminated() { this.events.push(`${this.now} terminated`); }
  onAck() { this.events.push(`${this.now} ack-to-tu`); }
  onStrayResponse(msg: SipMessage) { this.events.push(`${this.now} stray ${msg.status}`); }

  /** Runs the timers up to `until`, jumping from deadline to deadline. */
  runUntil(until: number) {
    for (;;) {
      const at = this.layer.nextDeadline();
      if (at < 0 || at > until) break;
      this.now = at;
      this.layer.poll(at);
    }
    this.now = until;
  }
  deliver(text: string) {
    expect(parseMessage(text, 0, text.length, this.msg)).toBeGreaterThan(0);
    this.layer.accept(this.msg, "192.0.2.20", 5060, TRANSPORT_UDP, this.now);
    this.layer.deliver(this.msg);
  }
  send(text: string, method: number, branch: string, transport = TRANSPORT_UDP) {
    const b = bytes(text);
    const at = text.indexOf(branch);
    return this.layer.sendRequest(b, b.length, method, at, at + branch.length, "192.0.2.20", 5060, transport, this.now);
  }
  respond(tx: Transaction, status: number, reason: string, req: string) {
    const m = new SipMessage();
    parseMessage(req, 0, req.length, m);
    const w = this.writer.reset();
    writeResponseHead(w, m, status, reason, "door-tag");
    const n = w.end(null, 0, 0);
    this.layer.respond(tx, w.buf, n, status, this.now);
  }
  sentTimes(prefix: string) { return this.sent.filter((s) => s.text.startsWith(prefix)).map((s) => s.at); }
}

describe("INVITE client transaction (§17.1.1, RFC 6026)", () => {
  it("over a dead link: sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, times out at 32 s, slot returned", () => {
    const h = new Harness();
    h.send(request("INVITE", "z9hG4bK-a"), METHOD_INVITE, "z9hG4bK-a");
    h.runUntil(60000);
    expect(h.sentTimes("INVITE")).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(h.events).toEqual(["32000 timeout", "32000 terminated"]);
    expect(h.layer.active).toBe(0);
    expect(h.layer.nextDeadline()).toBe(-1);
  });

  it("a provisional response stops retransmission and Timer B", () => {
    const h = new Harness();
    h.send(request("INVITE", "z9hG4bK-b"), METHOD_INVITE, "z9hG4bK-b");
    h.runUntil(1000);
    h.deliver(response(180, "Ringing", "INVITE", "z9hG4bK-b"));
    h.runUntil(120000);
    expect(h.sentTimes("INVITE")).toEqual([0, 500]);
    expect(h.events).toEqual(["1000 response 180"]);
    expect(h.layer.active).toBe(1);
  });

  it("in Completed, a 2xx (another fork answered after this one failed) goes to the TU, which ACKs 2xx itself", () => {
    const h = new Harness();
    h.send(request("INVITE", "z9hG4bK-c2"), METHOD_INVITE, "z9hG4bK-c2");
    h.runUntil(100);
    h.deliver(response(486, "Busy Here", "INVITE", "z9hG4bK-c2"));
    h.runUntil(200);
    h.deliver(response(200, "OK", "INVITE", "z9hG4bK-c2"));
    expect(h.events).toEqual(["100 response 486", "200 response 200"]);
    expect(h.sent.filter((s) => s.text.startsWith("ACK")).length).toBe(1); // the 486's; not the transaction's to send for a 2xx
  });

  it("a non-2xx final response is ACKed by the transaction, again for each retransmission; Timer D ends it", () => {
    const h = new Harness();
    h.send(request("INVITE", "z9hG4bK-c"), METHOD_INVITE, "z9hG4bK-c");
    h.runUntil(100);
    h.deliver(response(486, "Busy Here", "INVITE", "z9hG4bK-c"));
    h.runUntil(2000);
    h.deliver(response(486, "Busy Here", "INVITE", "z9hG4bK-c"));
    const acks = h.sent.filter((s) => s.text.startsWith("ACK"));
    expect(acks.map((a) => a.at)).toEqual([100, 2000]);
    const ack = new SipMessage();
    expect(parseMessage(acks[0].text, 0, acks[0].text.length, ack)).toBeGreaterThan(0);
    expect(ack.uriText()).toBe("sip:door@192.0.2.10");
    expect(ack.via.branchText()).toBe("z9hG4bK-c");
    expect(ack.to.tagText()).toBe("t9");
    expect(ack.cseq).toBe(1);
    expect(ack.cseqMethodIs(ack.methodStart, ack.methodEnd)).toBe(true);
    h.runUntil(40000);
    expect(h.events).toEqual(["100 response 486", "32100 terminated"]);
    expect(h.layer.active).toBe(0);
  });

  it("a 2xx moves to Accepted: later 2xx go to the TU (it ACKs them), Timer M ends it after 64×T1", () => {
    const h = new Harness();
    const tx = h.send(request("INVITE", "z9hG4bK-d"), METHOD_INVITE, "z9hG4bK-d")!;
    h.runUntil(300);
    h.deliver(response(200, "OK", "INVITE", "z9hG4bK-d"));
    expect(h.layer.state(tx)).toBe(TS_ACCEPTED);
    h.runUntil(1000);
    h.deliver(response(200, "OK", "INVITE", "z9hG4bK-d", "other-fork"));
    h.runUntil(40000);
    expect(h.events).toEqual(["300 response 200", "1000 response 200", "32300 terminated"]);
    expect(h.sent.filter((s) => s.text.startsWith("ACK"))).toEqual([]);
  });

  it("over TCP nothing is retransmitted and Timer D is zero", () => {
    const h = new Harness();
    h.send(request("INVITE", "z9hG4bK-e"), METHOD_INVITE, "z9hG4bK-e", TRANSPORT_TCP);
    h.runUntil(10);
    h.deliver(response(404, "Not Found", "INVITE", "z9hG4bK-e"));
    h.runUntil(40000);
    expect(h.sentTimes("INVITE")).toEqual([0]);
    expect(h.events).toEqual(["10 response 404", "10 terminated"]);
  });

  it("a transport refusal ends the transaction with a transport error", () => {
    const h = new Harness(4, true);
    h.send(request("INVITE", "z9hG4bK-f"), METHOD_INVITE, "z9hG4bK-f");
    expect(h.events).toEqual(["0 transport-error", "0 terminated"]);
    expect(h.layer.active).toBe(0);
  });
});

describe("non-INVITE client transaction (§17.1.2)", () => {
  it("over a dead link: retransmissions double up to T2, then every T2; Timer F at 32 s", () => {
    const h = new Harness();
    h.send(request("OPTIONS", "z9hG4bK-g"), METHOD_OPTIONS, "z9hG4bK-g");
    h.runUntil(60000);
    expect(h.sentTimes("OPTIONS")).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(h.events).toEqual(["32000 timeout", "32000 terminated"]);
  });

  it("in Proceeding it retransmits every T2; a final response completes it, Timer K = T4 ends it", () => {
    const h = new Harness();
    h.send(request("OPTIONS", "z9hG4bK-h"), METHOD_OPTIONS, "z9hG4bK-h");
    h.runUntil(600);
    h.deliver(response(100, "Trying", "OPTIONS", "z9hG4bK-h"));
    h.runUntil(10000);
    h.deliver(response(200, "OK", "OPTIONS", "z9hG4bK-h"));
    h.deliver(response(200, "OK", "OPTIONS", "z9hG4bK-h"));
    h.runUntil(20000);
    expect(h.sentTimes("OPTIONS")).toEqual([0, 500, 1500, 5500, 9500]);
    expect(h.events).toEqual(["600 response 100", "10000 response 200", "15000 terminated"]);
    expect(h.layer.stats.retransmissionsAbsorbed).toBe(1);
  });

  it("a response for another method or branch does not match", () => {
    const h = new Harness();
    h.send(request("OPTIONS", "z9hG4bK-i"), METHOD_OPTIONS, "z9hG4bK-i");
    h.deliver(response(200, "OK", "INVITE", "z9hG4bK-i"));
    h.deliver(response(200, "OK", "OPTIONS", "z9hG4bK-other"));
    expect(h.events).toEqual(["0 stray 200", "0 stray 200"]);
  });

  it("matches a branch whole, however long: one that differs in its last byte, or is a prefix of it, is another", () => {
    const h = new Harness();
    const long = "z9hG4bK" + "0123456789abcdef".repeat(6) + "-x";
    const tx = h.send(request("OPTIONS", long), METHOD_OPTIONS, long)!;
    expect(h.layer.branchText(tx)).toBe(long); // read from the kept request
    h.deliver(response(200, "OK", "OPTIONS", long.slice(0, -1) + "y"));
    h.deliver(response(200, "OK", "OPTIONS", long.slice(0, 64)));
    h.deliver(response(200, "OK", "OPTIONS", long));
    expect(h.events).toEqual(["0 stray 200", "0 stray 200", "0 response 200"]);
  });
});

describe("INVITE server transaction (§17.2.1, RFC 6026)", () => {
  it("sends 100 Trying when the TU is silent for 200 ms, and repeats it for a retransmitted INVITE", () => {
    const h = new Harness();
    const inv = request("INVITE", "z9hG4bK-j");
    h.deliver(inv);
    h.runUntil(1000);
    h.deliver(inv);
    expect(h.sent.map((s) => `${s.at} ${s.text.split("\r\n")[0]}`)).toEqual(["200 SIP/2.0 100 Trying", "1000 SIP/2.0 100 Trying"]);
    expect(h.events).toEqual(["0 request INVITE"]);
  });

  it("a final non-2xx is retransmitted by Timer G until the ACK; Timer I ends it", () => {
    const h = new Harness();
    const inv = request("INVITE", "z9hG4bK-k");
    h.deliver(inv);
    h.now = 50;
    h.respond(h.lastRequestTx!, 486, "Busy Here", inv);
    h.runUntil(12000);
    h.deliver(request("ACK", "z9hG4bK-k", { toTag: "door-tag" }));
    expect(h.layer.state(h.lastRequestTx!)).toBe(TS_CONFIRMED);
    h.runUntil(30000);
    expect(h.sentTimes("SIP/2.0 486")).toEqual([50, 550, 1550, 3550, 7550, 11550]);
    expect(h.sentTimes("SIP/2.0 100")).toEqual([]);
    expect(h.events).toEqual(["0 request INVITE", "17000 terminated"]);
  });

  it("a retransmitted INVITE in Completed gets the final response again, until the ACK; after it, nothing", () => {
    const h = new Harness();
    const inv = request("INVITE", "z9hG4bK-k2");
    h.deliver(inv);
    h.respond(h.lastRequestTx!, 480, "Temporarily Unavailable", inv);
    h.runUntil(200);
    h.deliver(inv);
    h.runUntil(300);
    h.deliver(request("ACK", "z9hG4bK-k2", { toTag: "door-tag" }));
    h.deliver(inv);
    expect(h.sentTimes("SIP/2.0 480")).toEqual([0, 200]);
    expect(h.events).toEqual(["0 request INVITE"]);
  });

  it("without an ACK, Timer H gives up after 64×T1", () => {
    const h = new Harness();
    const inv = request("INVITE", "z9hG4bK-l");
    h.deliver(inv);
    h.respond(h.lastRequestTx!, 603, "Decline", inv);
    h.runUntil(60000);
    expect(h.sentTimes("SIP/2.0 603")).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(h.events).toEqual(["0 request INVITE", "32000 timeout", "32000 terminated"]);
  });

  it("a 2xx moves to Accepted: the ACK goes to the TU, retransmitted INVITEs are absorbed, Timer L ends it", () => {
    const h = new Harness();
    const inv = request("INVITE", "z9hG4bK-m");
    h.deliver(inv);
    h.respond(h.lastRequestTx!, 200, "OK", inv);
    expect(h.layer.state(h.lastRequestTx!)).toBe(TS_ACCEPTED);
    h.runUntil(100);
    h.deliver(inv);
    h.deliver(request("ACK", "z9hG4bK-m", { toTag: "door-tag" }));
    h.runUntil(40000);
    expect(h.sentTimes("SIP/2.0 200")).toEqual([0]);
    expect(h.events).toEqual(["0 request INVITE", "100 ack-to-tu", "32000 terminated"]);
  });

  it("finds the INVITE a CANCEL targets (§9.2)", () => {
    const h = new Harness();
    h.deliver(request("INVITE", "z9hG4bK-n"));
    const invite = h.lastRequestTx!;
    const cancel = request("CANCEL", "z9hG4bK-n");
    const m = new SipMessage();
    parseMessage(cancel, 0, cancel.length, m);
    expect(h.layer.findCancelTarget(m)).toBe(invite);
    h.deliver(cancel);
    expect(h.lastRequestTx).not.toBe(invite); // the CANCEL has a transaction of its own
    const other = request("CANCEL", "z9hG4bK-zz");
    parseMessage(other, 0, other.length, m);
    expect(h.layer.findCancelTarget(m)).toBe(null);
  });
});

describe("non-INVITE server transaction (§17.2.2)", () => {
  it("absorbs retransmissions in Trying, repeats the final response in Completed, Timer J ends it", () => {
    const h = new Harness();
    const opt = request("OPTIONS", "z9hG4bK-o");
    h.deliver(opt);
    h.runUntil(300);
    h.deliver(opt);
    expect(h.sent).toEqual([]);
    h.respond(h.lastRequestTx!, 200, "OK", opt);
    expect(h.layer.state(h.lastRequestTx!)).toBe(TS_COMPLETED);
    h.runUntil(2000);
    h.deliver(opt);
    h.runUntil(60000);
    expect(h.sentTimes("SIP/2.0 200")).toEqual([300, 2000]);
    expect(h.events).toEqual(["0 request OPTIONS", "32300 terminated"]);
    expect(h.layer.stats.retransmissionsAbsorbed).toBe(2);
  });

  it("with exact copies a plain 200 OK is not kept: a retransmission gets it written again, the same bytes", () => {
    const h = new Harness(8, false, true);
    const info = request("INFO", "z9hG4bK-i", { toTag: "door-tag" });
    h.deliver(info);
    const tx = h.lastRequestTx!;
    expect(h.layer.respondOk(tx, h.msg, h.now)).toBe(true);
    expect([h.layer.state(tx), h.layer.keptLength(tx)]).toEqual([TS_COMPLETED, REWRITE_OK]);
    h.runUntil(1000);
    h.deliver(info);
    h.runUntil(60000);
    expect(h.sentTimes("SIP/2.0 200 OK\r\n")).toEqual([0, 1000]);
    expect(h.sent[1].text).toBe(h.sent[0].text);
    expect(h.sent[0].text).toMatch(/\r\nTo: <sip:door@example.org>;tag=door-tag\r\n[^]*\r\nServer: doorsip\r\nContent-Length: 0\r\n\r\n$/);
    expect(h.events).toEqual(["0 request INFO", "32000 terminated"]);
    expect(h.layer.stats.retransmissionsAbsorbed).toBe(1);
  });

  it("respondOk after a final response changes nothing: the kept response is what a retransmission gets", () => {
    const h = new Harness(8, false, true);
    const info = request("INFO", "z9hG4bK-l", { toTag: "door-tag" });
    h.deliver(info);
    const tx = h.lastRequestTx!;
    h.respond(tx, 486, "Busy Here", info);
    expect(h.layer.respondOk(tx, h.msg, 0)).toBe(false);
    h.deliver(info);
    expect(h.sent.map((s) => s.text.substring(0, s.text.indexOf("\r\n")))).toEqual(["SIP/2.0 486 Busy Here", "SIP/2.0 486 Busy Here"]);
  });

  it("respondOk keeps a copy where it must: a buffer per slot (no exact copies), an INVITE's 200", () => {
    const plain = new Harness(8, false, false);
    const info = request("INFO", "z9hG4bK-j", { toTag: "door-tag" });
    plain.deliver(info);
    expect(plain.layer.respondOk(plain.lastRequestTx!, plain.msg, 0)).toBe(true);
    expect(plain.layer.keptLength(plain.lastRequestTx!)).toBeGreaterThan(0);
    const exact = new Harness(8, false, true);
    exact.deliver(request("INVITE", "z9hG4bK-k"));
    expect(exact.layer.respondOk(exact.lastRequestTx!, exact.msg, 0)).toBe(true);
    expect(exact.layer.keptLength(exact.lastRequestTx!)).toBe(exact.sent[exact.sent.length - 1].text.length);
  });

  it("a provisional response leaves it Proceeding and is what a retransmission gets", () => {
    const h = new Harness();
    const opt = request("OPTIONS", "z9hG4bK-p");
    h.deliver(opt);
    h.respond(h.lastRequestTx!, 100, "Trying", opt);
    expect(h.layer.state(h.lastRequestTx!)).toBe(TS_PROCEEDING);
    h.deliver(opt);
    expect(h.sentTimes("SIP/2.0 100")).toEqual([0, 0]);
  });

  it("matches RFC 2543 requests (no magic cookie) by Call-ID, From tag, CSeq and sent-by", () => {
    const h = new Harness();
    const old = request("OPTIONS", "");
    h.deliver(old);
    h.deliver(old);
    expect(h.events).toEqual(["0 request OPTIONS"]);
    h.deliver(request("OPTIONS", "", { cseq: 2 }));
    expect(h.events).toEqual(["0 request OPTIONS", "0 request OPTIONS"]);
  });
});

describe("the pool", () => {
  it("full: a new request gets 503 with Retry-After, nothing is allocated; slots come back", () => {
    const h = new Harness(2);
    h.deliver(request("OPTIONS", "z9hG4bK-q1", { callId: "a" }));
    h.deliver(request("OPTIONS", "z9hG4bK-q2", { callId: "b" }));
    h.deliver(request("OPTIONS", "z9hG4bK-q3", { callId: "c" }));
    expect(h.layer.active).toBe(2);
    expect(h.sent.length).toBe(1);
    const m = new SipMessage();
    expect(parseMessage(h.sent[0].text, 0, h.sent[0].text.length, m)).toBeGreaterThan(0);
    expect(m.status).toBe(503);
    expect(m.header(46 /* Retry-After */)).toBe("7");
    expect(m.callId()).toBe("c");
    expect(h.send(request("OPTIONS", "z9hG4bK-q4"), METHOD_OPTIONS, "z9hG4bK-q4")).toBe(null);
    expect(h.layer.stats.poolFull).toBe(2);
  });

  it("a merged request (same Call-ID, From tag, CSeq; another branch; no To tag) gets 482", () => {
    const h = new Harness();
    h.deliver(request("INVITE", "z9hG4bK-r1"));
    h.deliver(request("INVITE", "z9hG4bK-r2"));
    expect(h.sent.map((s) => s.text.split("\r\n")[0])).toEqual(["SIP/2.0 482 Loop Detected"]);
    expect(h.layer.active).toBe(1);
  });

  it("keeps an address for a live slot only: a transaction's peer while it lives, \"\" once its slot is free", () => {
    const h = new Harness(4);
    h.deliver(request("OPTIONS", "z9hG4bK-a1", { callId: "a" }));
    const tx = h.lastRequestTx as Transaction;
    expect(h.layer.addressOf(tx)).toBe("192.0.2.20");
    expect(Object.keys((h.layer as unknown as { address: string[] }).address)).toEqual([String(tx & h.layer.tableMask)]);
    h.respond(tx, 200, "OK", request("OPTIONS", "z9hG4bK-a1", { callId: "a" }));
    h.runUntil(40000); // Timer J
    expect(h.layer.active).toBe(0);
    expect(h.layer.addressOf(tx)).toBe("");
    expect(Object.keys((h.layer as unknown as { address: string[] }).address)).toEqual([]);
  });

  it("512 concurrent transactions all complete and the pool is empty afterwards", () => {
    const h = new Harness(512);
    for (let i = 0; i < 512; i++) h.send(request("OPTIONS", "z9hG4bK-s" + i, { callId: "s" + i }), METHOD_OPTIONS, "z9hG4bK-s" + i);
    expect(h.layer.active).toBe(512);
    h.runUntil(700);
    for (let i = 511; i >= 0; i--) h.deliver(response(200, "OK", "OPTIONS", "z9hG4bK-s" + i));
    expect(h.events.filter((e) => e.endsWith("response 200")).length).toBe(512);
    h.runUntil(10000);
    expect(h.layer.active).toBe(0);
    expect(h.layer.stats.terminated).toBe(512);
  });
});

describe("accept() then deliver(): the TU hears of a message after the layer's matching has returned", () => {
  const accept = (h: Harness, text: string) => {
    expect(parseMessage(text, 0, text.length, h.msg)).toBeGreaterThan(0);
    h.layer.accept(h.msg, "192.0.2.20", 5060, TRANSPORT_UDP, h.now);
  };

  it("a new request, a response, an ACK for a 2xx and a stray response: none heard in accept, each once in deliver", () => {
    const h = new Harness();
    accept(h, request("OPTIONS", "z9hG4bK-d1"));
    expect(h.events).toEqual([]);
    expect(h.layer.active).toBe(1); // the server transaction exists before the TU hears of it
    h.layer.deliver(h.msg);
    h.layer.deliver(h.msg); // once only
    expect(h.events).toEqual(["0 request OPTIONS"]);

    h.send(request("INVITE", "z9hG4bK-d2"), METHOD_INVITE, "z9hG4bK-d2");
    accept(h, response(180, "Ringing", "INVITE", "z9hG4bK-d2"));
    expect(h.events).toEqual(["0 request OPTIONS"]);
    h.layer.deliver(h.msg);
    expect(h.events).toEqual(["0 request OPTIONS", "0 response 180"]);

    accept(h, request("ACK", "z9hG4bK-d3", { toTag: "t9" }));
    h.layer.deliver(h.msg);
    accept(h, response(200, "OK", "BYE", "z9hG4bK-none"));
    h.layer.deliver(h.msg);
    expect(h.events.slice(2)).toEqual(["0 ack-to-tu", "0 stray 200"]);
  });

  it("a retransmission absorbed by its transaction leaves nothing to deliver", () => {
    const h = new Harness();
    h.deliver(request("OPTIONS", "z9hG4bK-d4"));
    accept(h, request("OPTIONS", "z9hG4bK-d4"));
    h.layer.deliver(h.msg);
    expect(h.events).toEqual(["0 request OPTIONS"]);
  });
});

describe("respondOkLater: a 200 sent once the TU's onRequest has returned", () => {
  class LaterHarness extends Harness {
    sentDuring = -1;
    onRequest(tx: Transaction, msg: SipMessage) {
      super.onRequest(tx, msg);
      expect(this.layer.respondOkLater(tx, msg, this.now)).toBe(true);
      this.sentDuring = this.sent.length;
    }
  }

  it("nothing is sent while the TU handles the request; the 200 follows its return, once, and absorbs retransmissions", () => {
    const h = new LaterHarness();
    h.deliver(request("BYE", "z9hG4bK-l1", { toTag: "t9" }));
    expect(h.sentDuring).toBe(0);
    expect(h.sent.map((s) => s.text.split("\r\n")[0])).toEqual(["SIP/2.0 200 OK"]);
    expect(h.sent[0].text).toContain("CSeq: 1 BYE\r\n");
    h.deliver(request("BYE", "z9hG4bK-l1", { toTag: "t9" })); // a retransmission: the kept 200 again, the TU not asked
    expect(h.sent.length).toBe(2);
    expect(h.events).toEqual(["0 request BYE"]);
  });

  it("outside a delivery it answers at once, as respondOk", () => {
    const h = new Harness();
    h.deliver(request("INFO", "z9hG4bK-l2", { toTag: "t9" }));
    expect(h.sent.length).toBe(0);
    const m = new SipMessage();
    const text = request("INFO", "z9hG4bK-l2", { toTag: "t9" });
    parseMessage(text, 0, text.length, m);
    expect(h.layer.respondOkLater(h.lastRequestTx!, m, h.now)).toBe(true);
    expect(h.sent.length).toBe(1);
  });
});
