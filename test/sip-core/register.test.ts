// Registration client details that need a hand-made response: a response for another Call-ID is ignored; a challenged unregister stays one.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ACCOUNT, REG_REGISTERING, REG_UNREGISTERED, Registration, SipMessage, TRANSPORT_UDP, TransactionLayer, parseMessage,
  type Transaction, type TransactionUser,
} from "../../sip-core/index.ts";

/** A registration for 1001@example.com over a 4-slot layer whose datagrams land in `sent`, its log lines in `logs`. */
function harness(expires?: number) {
  const sent: string[] = [];
  const logs: string[] = [];
  let reg: Registration | null = null;
  const tu: TransactionUser = {
    onRequest() {}, onTimeout() {}, onTransportError() {}, onTerminated() {}, onAck() {}, onStrayResponse() {},
    onResponse: (tx: Transaction, msg: SipMessage) => { if (reg!.owns(tx)) reg!.onResponse(msg, 10); },
  };
  const layer = new TransactionLayer({ capacity: 4, bufferSize: 1500, timers: { t1: 500, t2: 4000, t4: 5000, trying: 200 }, retryAfter: 5 },
    { send: (d, n) => { sent.push(Buffer.from(d.subarray(0, n)).toString("latin1")); return 0; } }, tu);
  let seed = 7;
  const account = { ...DEFAULT_ACCOUNT, user: "1001", password: "x", domain: "example.com", registrar: "192.0.2.1", localAddress: "192.0.2.9" };
  if (expires !== undefined) account.expires = expires;
  reg = new Registration(account, layer, { u32: () => (seed = (seed * 1103515245 + 12345) >>> 0) }, { write: (_l, m) => logs.push(m) }, 1500);
  /** Delivers a response from the registrar. */
  const deliver = (resp: string): void => {
    const m = new SipMessage();
    expect(parseMessage(resp, 0, resp.length, m)).toBeGreaterThan(0);
    layer.accept(m, "192.0.2.1", 5060, TRANSPORT_UDP, 10);
    layer.deliver(m);
  };
  return { sent, logs, reg, deliver };
}

describe("Registration", () => {
  it("ignores (and logs) a response that matches its transaction but carries another Call-ID", () => {
    const { sent, logs, reg, deliver } = harness();
    reg.start(0);
    expect(sent.length).toBe(1);
    const req = new SipMessage();
    parseMessage(sent[0], 0, sent[0].length, req);
    const branch = req.via.branchText();
    deliver(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=${branch}\r\nFrom: <sip:1001@example.com>;tag=a\r\n` +
      `To: <sip:1001@example.com>;tag=b\r\nCall-ID: someone-else\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@192.0.2.9:5060>;expires=60\r\nContent-Length: 0\r\n\r\n`);
    expect(reg.state).toBe(REG_REGISTERING);
    expect(logs.some((l) => l.includes("ignored a response for another Call-ID"))).toBe(true);
  });

  it("answers a challenge to an unregister with another unregister (expires 0), then is unregistered", () => {
    const { sent, reg, deliver } = harness(600);
    /** Answers the last request sent with `status` and the extra header lines. */
    const answer = (status: string, extra: string): void => {
      const req = new SipMessage();
      parseMessage(sent[sent.length - 1], 0, sent[sent.length - 1].length, req);
      deliver(`SIP/2.0 ${status}\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=${req.via.branchText()}\r\nFrom: <sip:1001@example.com>;tag=a\r\n` +
        `To: <sip:1001@example.com>;tag=b\r\nCall-ID: ${req.callId()}\r\nCSeq: ${req.cseq} REGISTER\r\n${extra}Content-Length: 0\r\n\r\n`);
    };
    reg.unregister(0);
    expect(sent[0]).toContain("\r\nExpires: 0\r\n");
    answer("401 Unauthorized", 'WWW-Authenticate: Digest realm="example.com", nonce="n1", qop="auth"\r\n');
    // The answer goes out from the next poll, due at once (not from inside the 401's handling).
    expect(sent.length).toBe(1);
    expect(reg.nextDeadline()).toBe(10);
    reg.poll(10);
    expect(sent.length).toBe(2);
    expect(sent[1]).toContain("Authorization: Digest");
    expect(sent[1]).toContain("\r\nExpires: 0\r\n");
    expect(sent[1]).toContain(";expires=0\r\n");
    answer("200 OK", "");
    expect(reg.state).toBe(REG_UNREGISTERED);
  });
});
