// INVITE sessions on the virtual network (RFC 3261 §13–15, RFC 3264, RFC 6026): both ends are the stack, every flow as a ladder.
import { describe, expect, it } from "vitest";
import {
  CALL_ACTIVE, CALL_CALLING, CALL_CANCELLING, CALL_ERR_POOL_FULL, CALL_FREE, CALL_INCOMING, CALL_RINGING, SDP_SENDRECV,
  I_HANDLE, REWRITE_OK, SLOT_INTS, TRANSPORT_TCP, TS_ACCEPTED, TS_FREE, type Call, type CallConfig,
} from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform, type CaptureRecord } from "../../sim/virtual.ts";

const first = (d: string) => d.substring(0, d.indexOf("\r\n"));

/** "A>B INVITE sip:…" / "B>A SIP/2.0 200 OK" lines of every SIP datagram, in send order, lost ones marked. */
function ladder(network: VirtualNetwork): string[] {
  const name = (a: string) => (a === "10.0.0.1" ? "A" : a === "10.0.0.2" ? "B" : a);
  return network.capture().filter((r) => r.proto === "udp" && r.fromPort === 5060 && r.toPort === 5060 && !r.duplicate)
    .map((r) => name(r.from) + ">" + name(r.to) + " " + first(r.data).replace(/^(\w+) \S+ SIP\/2.0$/, "$1").replace(/^SIP\/2.0 /, "") + (r.fate === "lost" ? " (lost)" : ""));
}

function world(o: { a?: Partial<CallConfig>; b?: Partial<CallConfig>; bStatus?: number; latency?: number; seed?: number; exact?: boolean } = {}) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: o.seed ?? 1, defaults: { latency: o.latency ?? 10 } });
  const a = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060,
    calls: { user: "door", rtpPortBase: 40000, ...o.a } });
  const b = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2" }), address: "10.0.0.2", port: 5060,
    inviteStatus: o.bStatus ?? 200, calls: { user: "resident", rtpPortBase: 50000, answerDelay: 2000, ...o.b }, exactCopies: o.exact });
  expect(a.open()).toBe(0);
  expect(b.open()).toBe(0);
  const states = (e: Endpoint) => e.events.filter((x) => x.kind === "call-state").map((x) => x.detail.split(" ").slice(1).join(" "));
  return { clock, network, a, b, states };
}

const B_URI = "sip:resident@10.0.0.2:5060";

describe("outgoing and incoming calls between two stacks", () => {
  it("INVITE/100/180/200/ACK, media agreed both ways, BYE/200; both pools empty afterwards", () => {
    const { clock, network, a, b, states } = world();
    const call = a.call(B_URI) as Call;
    expect(call).not.toBe(null);
    expect(call.state).toBe(CALL_CALLING);
    clock.advance(1000);
    expect(call.state).toBe(CALL_RINGING);
    clock.advance(2000);
    expect(call.state).toBe(CALL_ACTIVE);
    const bc = b.ua.calls!.calls[0];
    expect(bc.state).toBe(CALL_ACTIVE);
    // A sends RTP to B's port and B to A's; both chose PCMU (first in A's offer) with telephone-event 101.
    expect([call.mediaRemoteAddress, call.mediaRemotePort, call.mediaPayload, call.mediaTelephoneEvent, call.mediaDirection]).toEqual(["10.0.0.2", 50000, 0, 101, SDP_SENDRECV]);
    expect([bc.mediaRemoteAddress, bc.mediaRemotePort, bc.mediaPayload, bc.mediaTelephoneEvent]).toEqual(["10.0.0.1", 40000, 0, 101]);
    a.hangup(call);
    clock.advance(100);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 180 Ringing", "B>A 200 OK", "A>B ACK", "A>B BYE", "B>A 200 OK"]);
    expect(states(a)).toEqual(["calling", "ringing", "active", "ending", "ended 200 local hangup"]);
    expect(states(b)).toEqual(["incoming", "connecting", "active", "ended 0 remote hangup"]);
    clock.advance(64 * 500);
    expect(a.layer.active).toBe(0);
    expect(b.layer.active).toBe(0);
    expect(a.ua.calls!.calls.every((c) => c.state === CALL_FREE)).toBe(true);
  });

  it("through an outbound proxy reached over TCP: INVITE on a connection with Via TCP, Route transport=tcp, Contact transport=tcp", () => {
    const { clock, network, a, b } = world({ a: { outboundProxy: "10.0.0.2", outboundPort: 5060, outboundTransport: TRANSPORT_TCP } });
    const call = a.call(B_URI) as Call;
    clock.advance(3000);
    expect(call.state).toBe(CALL_ACTIVE);
    expect(b.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
    a.hangup(call);
    clock.advance(1000);
    const cap = network.capture();
    expect(cap.filter((r) => r.proto === "udp" && r.toPort === 5060 && r.from === "10.0.0.1").map((r) => first(r.data))).toEqual([]);
    const sent = cap.filter((r) => r.proto === "tcp" && r.from === "10.0.0.1").map((r) => r.data).join("");
    const invite = sent.substring(sent.indexOf("INVITE "), sent.indexOf("\r\n\r\n", sent.indexOf("INVITE ")));
    expect(invite).toContain("\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK");
    expect(invite).toContain("\r\nRoute: <sip:10.0.0.2:5060;transport=tcp;lr>\r\n");
    expect(invite).toContain("\r\nContact: <sip:door@10.0.0.1:5060;transport=tcp>\r\n");
    expect(sent).toContain("ACK ");
    expect(sent).toContain("BYE ");
    expect(a.ua.calls!.calls[0].state).toBe(CALL_FREE);
  });

  it("the ACK and BYE are routed by the dialog: Request-URI is the callee's Contact, CSeq rules hold, tags match", () => {
    const { clock, network, a } = world();
    const call = a.call(B_URI) as Call;
    clock.advance(3000);
    a.hangup(call);
    clock.advance(100);
    const msgs = network.capture().filter((r) => r.proto === "udp" && r.toPort === 5060).map((r) => r.data);
    const invite = msgs.find((m) => m.startsWith("INVITE"))!;
    const ok = msgs.find((m) => m.startsWith("SIP/2.0 200") && /CSeq: 1 INVITE/.test(m))!;
    const ack = msgs.find((m) => m.startsWith("ACK"))!;
    const bye = msgs.find((m) => m.startsWith("BYE"))!;
    expect(first(ack)).toBe("ACK sip:resident@10.0.0.2:5060 SIP/2.0");
    expect(first(bye)).toBe("BYE sip:resident@10.0.0.2:5060 SIP/2.0");
    expect(ack).toMatch(/CSeq: 1 ACK/);
    expect(bye).toMatch(/CSeq: 2 BYE/);
    const toTag = /^To: .*;tag=(\S+)$/m.exec(ok)![1];
    expect(ack).toContain(";tag=" + toTag);
    expect(bye).toContain(";tag=" + toTag);
    // The ACK for a 2xx is a new transaction: its branch differs from the INVITE's.
    const branch = (m: string) => /branch=([^;\r]+)/.exec(m)![1];
    expect(branch(ack)).not.toBe(branch(invite));
    expect(ack).not.toMatch(/Content-Type/);
    expect(invite).toMatch(/Content-Type: application\/sdp/);
    expect(invite).toMatch(/m=audio 40000 RTP\/AVP 0 8 101/);
  });

  it("busy callee: 486, the INVITE transaction ACKs it, the call ends with 486", () => {
    const { clock, network, a, states } = world({ bStatus: 486 });
    const call = a.call(B_URI) as Call;
    clock.advance(500);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 486 Busy Here", "A>B ACK"]);
    expect(states(a)).toEqual(["calling", "ended 486 Busy Here"]);
    expect(call.state).toBe(CALL_FREE);
  });

  it("a call already up makes a second INVITE 486 Busy Here (maxCalls 1)", () => {
    const { clock, network, a, b } = world();
    a.call(B_URI);
    clock.advance(3000);
    const c = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.3" }), address: "10.0.0.3", port: 5060 });
    expect(c.open()).toBe(0);
    const second = c.call(B_URI) as Call;
    clock.advance(500);
    expect(c.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toContain("ended 486");
    expect(b.ua.calls!.liveCount()).toBe(1);
    expect(second.state).toBe(CALL_FREE);
  });

  it("the caller gives up while it rings: CANCEL, 200, 487, ACK; both ends see the call end", () => {
    const { clock, network, a, b, states } = world({ b: { answerDelay: -1 } });
    const call = a.call(B_URI) as Call;
    clock.advance(1000);
    a.hangup(call);
    expect(call.state).toBe(CALL_CANCELLING);
    clock.advance(500);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 180 Ringing", "A>B CANCEL", "B>A 200 OK", "B>A 487 Request Terminated", "A>B ACK"]);
    expect(states(a)).toEqual(["calling", "ringing", "cancelling", "ended 487 cancelled"]);
    expect(states(b)).toEqual(["incoming", "ended 487 cancelled by the caller"]);
  });

  it("hanging up before any provisional: the CANCEL waits for the first provisional (§9.1)", () => {
    const { clock, network, a } = world({ b: { answerDelay: -1 }, latency: 300 });
    const call = a.call(B_URI) as Call;
    a.hangup(call);
    clock.advance(100);
    expect(ladder(network)).toEqual(["A>B INVITE"]);
    clock.advance(3000);
    const l = ladder(network);
    expect(l.indexOf("A>B CANCEL")).toBeGreaterThan(l.indexOf("B>A 100 Trying"));
    expect(l).toContain("B>A 487 Request Terminated");
    expect(call.state).toBe(CALL_FREE);
  });

  it("CANCEL/200 race: the 200 crosses the CANCEL; the caller ACKs and then BYEs it", () => {
    // B answers 2 s after the INVITE arrived (t = 2010) and its 200 arrives at A at 2020; A cancels at 2015.
    const { clock, network, a, b, states } = world();
    const call = a.call(B_URI) as Call;
    clock.advanceTo(2015);
    a.hangup(call);
    clock.advance(1000);
    const l = ladder(network);
    // In send order: the 200 leaves B at 2010 and reaches A at 2020, after A's CANCEL (2015); A ACKs and BYEs at
    // once; B answers the CANCEL 200 (it changes nothing, §9.2) and the BYE 200.
    expect(l).toEqual(["A>B INVITE", "B>A 180 Ringing", "B>A 200 OK", "A>B CANCEL", "A>B ACK", "A>B BYE", "B>A 200 OK", "B>A 200 OK"]);
    expect(states(a)).toEqual(["calling", "ringing", "cancelling", "ending", "ended 200 answered after cancel"]);
    expect(states(b).at(-1)).toBe("ended 0 remote hangup");
    expect(b.ua.calls!.liveCount()).toBe(0);
  });

  it("ring timeout: an unanswered call is cancelled after ringTimeout", () => {
    const { clock, network, a } = world({ a: { ringTimeout: 5 }, b: { answerDelay: -1, ringTimeout: 60 } });
    const call = a.call(B_URI) as Call;
    clock.advance(4900);
    expect(call.state).toBe(CALL_RINGING);
    clock.advance(500);
    const cancel = network.capture().find((r) => r.data.startsWith("CANCEL"))!;
    expect(cancel.time).toBe(5000);
    expect(call.state).toBe(CALL_FREE);
  });

  it("an incoming call nobody answers gets 480 after the callee's ring timeout", () => {
    const { clock, network, a, states } = world({ b: { answerDelay: -1, ringTimeout: 10 } });
    a.call(B_URI);
    clock.advance(10500);
    expect(ladder(network).slice(-2)).toEqual(["B>A 480 Temporarily Unavailable", "A>B ACK"]);
    expect(states(a).at(-1)).toBe("ended 480 Temporarily Unavailable");
  });

  it("exact copies: the callee keeps its 200's copy until the ACK, not for Timer L; a BYE's plain 200 keeps none", () => {
    const { clock, a, b } = world({ exact: true });
    const call = a.call(B_URI) as Call;
    clock.advance(2500); // B answers at 2000 (answerDelay); A's ACK is back 10 ms later
    const bc = b.ua.calls!.calls[0];
    const tx = bc.inviteTx as number;
    expect(bc.state).toBe(CALL_ACTIVE);
    expect([b.layer.state(tx), b.layer.keptLength(tx)]).toEqual([TS_ACCEPTED, 0]);
    a.hangup(call);
    clock.advance(100);
    expect(b.layer.active).toBe(2); // the INVITE's (Timer L) and the BYE's (Timer J) transactions linger
    let rewritten = 0;
    for (let i = 0; i < 32; i++) { // the endpoint's 32 slots
      const h = b.layer.ints[i * SLOT_INTS + I_HANDLE];
      if (b.layer.state(h) !== TS_FREE && b.layer.keptLength(h) === REWRITE_OK) rewritten++;
    }
    expect(rewritten).toBe(1);
  });

  it("a lost ACK: the callee retransmits its 200 after T1, the caller ACKs again", () => {
    const { clock, network, a, b } = world();
    let dropped = 0;
    network.dropRule = (r: CaptureRecord) => r.data.startsWith("ACK") && dropped++ === 0;
    a.call(B_URI);
    clock.advance(4000);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 180 Ringing", "B>A 200 OK", "A>B ACK (lost)", "B>A 200 OK", "A>B ACK"]);
    const oks = network.capture().filter((r) => r.data.startsWith("SIP/2.0 200"));
    expect(oks[1].time - oks[0].time).toBe(500);
    expect(b.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
  });

  it("no ACK at all: the 200 is retransmitted (T1, 2T1 … T2) for 64·T1, then the callee sends BYE", () => {
    const { clock, network, a, b, states } = world();
    network.dropRule = (r: CaptureRecord) => r.data.startsWith("ACK");
    a.call(B_URI);
    clock.advance(40000);
    const oks = network.capture().filter((r) => r.from === "10.0.0.2" && r.data.startsWith("SIP/2.0 200") && /INVITE/.test(r.data));
    const gaps = oks.slice(1).map((r, i) => r.time - oks[i].time);
    expect(gaps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
    const bye = network.capture().find((r) => r.data.startsWith("BYE"))!;
    expect(bye.from).toBe("10.0.0.2");
    expect(bye.time).toBe(oks[0].time + 32000);
    expect(states(b).at(-1)).toBe("ended 200 no ACK");
    expect(states(a).at(-1)).toBe("ended 0 remote hangup");
  });

  it("a lost BYE is retransmitted by its transaction; the call still ends cleanly", () => {
    const { clock, network, a, b } = world();
    let dropped = 0;
    network.dropRule = (r: CaptureRecord) => r.data.startsWith("BYE") && dropped++ === 0;
    const call = a.call(B_URI) as Call;
    clock.advance(3000);
    a.hangup(call);
    clock.advance(2000);
    expect(ladder(network).slice(-3)).toEqual(["A>B BYE (lost)", "A>B BYE", "B>A 200 OK"]);
    expect(call.state).toBe(CALL_FREE);
    expect(b.ua.calls!.liveCount()).toBe(0);
  });

  it("BYE to a dead peer: Timer F ends the call locally with 408", () => {
    const { clock, network, a, states } = world();
    const call = a.call(B_URI) as Call;
    clock.advance(3000);
    network.setLinks("10.0.0.1", "10.0.0.2", { loss: 1 });
    a.hangup(call);
    clock.advance(33000);
    expect(states(a).at(-1)).toBe("ended 408 local hangup (BYE unanswered)");
  });

  it("maximum call duration: BYE when it runs out", () => {
    const { clock, network, a, states } = world({ a: { maxDuration: 60 } });
    a.call(B_URI);
    clock.advance(3000);
    clock.advance(60000);
    const bye = network.capture().find((r) => r.data.startsWith("BYE"))!;
    expect(bye.time).toBe(2020 + 60000);
    expect(states(a).at(-1)).toBe("ended 200 maximum call duration");
  });

  it("a refused call (policy 603) gets 603 Decline", () => {
    const { clock, network, a, b } = world();
    b.onIncomingCall = () => 603;
    a.call(B_URI);
    clock.advance(500);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 603 Decline", "A>B ACK"]);
  });

  it("no common codec: 488 Not Acceptable Here", () => {
    const { clock, network, a } = world({ a: { codecs: [9] }, b: { codecs: [0, 8] } });
    a.call(B_URI);
    clock.advance(500);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 488 Not Acceptable Here", "A>B ACK"]);
  });

  it("the answer keeps the offer's payload numbers and order of preference: PCMA when the caller offers it first", () => {
    const { clock, a, b } = world({ a: { codecs: [8, 0] } });
    const call = a.call(B_URI) as Call;
    clock.advance(3000);
    expect(call.mediaPayload).toBe(8);
    expect(b.ua.calls!.calls[0].mediaPayload).toBe(8);
  });

  it("a dead callee: Timer B ends the call with 408 after 64·T1", () => {
    const { clock, network, a, states } = world();
    network.setLinks("10.0.0.1", "10.0.0.2", { loss: 1 });
    a.call(B_URI);
    clock.advance(33000);
    expect(states(a).at(-1)).toBe("ended 408 no answer (timeout)");
    expect(network.capture().filter((r) => r.data.startsWith("INVITE")).map((r) => r.time)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
  });

  it("answerDelay 0 answers at once; the call is active after one round trip; the callee hears incoming, connecting, active", () => {
    const { clock, network, a, b, states } = world({ b: { answerDelay: 0 } });
    const call = a.call(B_URI) as Call;
    clock.advance(100);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 200 OK", "A>B ACK"]);
    expect(call.state).toBe(CALL_ACTIVE);
    expect(states(b)).toEqual(["incoming", "connecting", "active"]);
  });

  it("answerDelay 0 writes the 200 once the INVITE's handling has returned (its text let go), at the same time; nothing of the offer is kept", () => {
    const { clock, network, a, b } = world({ b: { answerDelay: 0 } });
    const sock = (b as unknown as { socket: { send: (d: Uint8Array, n: number, addr: string, port: number) => number } }).socket;
    const send = sock.send.bind(sock);
    const seen: string[] = [];
    sock.send = (d, n, addr, port) => {
      const line = Buffer.from(d.subarray(0, n)).toString("latin1").split("\r\n")[0];
      seen.push(line + " held " + b.transport.msg.src.length);
      return send(d, n, addr, port);
    };
    const call = a.call(B_URI) as Call;
    clock.advance(100);
    expect(seen[0]).toBe("SIP/2.0 200 OK held 0");
    // The offer's negotiation and our SDP's parameters are made for the answer, not kept by the call manager.
    const kept = Object.values(b.ua.calls as object).filter((v) => v !== null && typeof v === "object" && !Array.isArray(v));
    expect(kept.filter((v) => "payloads" in v || "mediaIndex" in v)).toEqual([]);
    const caps = network.capture().filter((r) => r.proto === "udp" && !r.duplicate);
    expect(caps.filter((r) => first(r.data).startsWith("SIP/2.0 200")).map((r) => r.time)).toEqual([caps[0].arrival]); // as the INVITE arrives
    expect(call.state).toBe(CALL_ACTIVE);
  });

  it("incoming calls wait for answer() when answerDelay is -1", () => {
    const { clock, a, b } = world({ b: { answerDelay: -1 } });
    const call = a.call(B_URI) as Call;
    clock.advance(5000);
    const bc = b.ua.calls!.calls[0];
    expect(bc.state).toBe(CALL_INCOMING);
    // The offer's text (a whole received message) is let go once read: the ringing call keeps what its
    // answer needs; the caller lets the answer's go once it has it.
    const offerText = (e: Endpoint) => (e.ua.calls as unknown as { sdp: { src: string } }).sdp.src;
    expect(offerText(b)).toBe("");
    expect(offerText(a)).toBe("");
    b.answer(bc);
    clock.advance(100);
    expect(call.state).toBe(CALL_ACTIVE);
    expect(bc.state).toBe(CALL_ACTIVE);
    expect(offerText(b)).toBe("");
    expect(offerText(a)).toBe("");
  });

});

describe("answering without a 180 and several calls at once", () => {
  it("ringing off and a delayed answer: the transaction's 100 at 200 ms, then the 200 (with our To tag) at the answer delay", () => {
    const { clock, network, a } = world({ b: { ringing: false, answerDelay: 1000 } });
    const call = a.call(B_URI) as Call;
    clock.advance(1500);
    expect(ladder(network)).toEqual(["A>B INVITE", "B>A 100 Trying", "B>A 200 OK", "A>B ACK"]);
    const ok = network.capture().find((r) => r.data.startsWith("SIP/2.0 200"))!;
    expect(ok.data).toMatch(/^To: <sip:resident@10\.0\.0\.2:5060>;tag=\w+\r$/m);
    expect(ok.data).not.toMatch(/Timestamp/);
    expect(ok.time).toBe(1010);
    expect(call.state).toBe(CALL_ACTIVE);
  });

  it("ringing off and CANCEL: the 487 carries a To tag too", () => {
    const { clock, network, a } = world({ b: { ringing: false, answerDelay: -1 } });
    const call = a.call(B_URI) as Call;
    clock.advance(500);
    a.hangup(call);
    clock.advance(500);
    const r487 = network.capture().find((r) => r.data.startsWith("SIP/2.0 487"))!;
    expect(r487.data).toMatch(/^To: <sip:resident@10\.0\.0\.2:5060>;tag=\w+\r$/m);
    expect(ladder(network).slice(-3)).toEqual(["B>A 200 OK", "B>A 487 Request Terminated", "A>B ACK"]);
  });

  it("maxCalls 2, both ringing: each answer follows its own offer, whichever INVITE came last", () => {
    const { clock, network, b } = world({ b: { maxCalls: 2, answerDelay: -1 } });
    const callers = [["10.0.0.3", [8]], ["10.0.0.4", [0, 8]]].map(([addr, codecs]) => {
      const e = new Endpoint({ platform: new VirtualPlatform({ network, address: addr as string }), address: addr as string, port: 5060,
        calls: { codecs: codecs as number[], telephoneEvent: addr === "10.0.0.3" ? -1 : 101 } });
      expect(e.open()).toBe(0);
      return e;
    });
    const calls = callers.map((e) => e.call(B_URI) as Call);
    clock.advance(500);
    const incoming = b.ua.calls!.calls;
    expect(incoming.map((c) => c.state)).toEqual([CALL_INCOMING, CALL_INCOMING]);
    // The first caller's call is answered after the second INVITE was read: PCMA and no telephone-event,
    // as it offered (not the second caller's PCMU with events).
    b.answer(incoming[0]);
    b.answer(incoming[1]);
    clock.advance(500);
    expect(calls.map((c) => c.state)).toEqual([CALL_ACTIVE, CALL_ACTIVE]);
    expect([calls[0].mediaPayload, calls[0].mediaTelephoneEvent]).toEqual([8, -1]);
    expect([calls[1].mediaPayload, calls[1].mediaTelephoneEvent]).toEqual([0, 101]);
    const answers = network.capture().filter((r) => r.from === "10.0.0.2" && r.data.startsWith("SIP/2.0 200") && r.data.includes("m=audio"));
    const to3 = answers.find((r) => r.to === "10.0.0.3")!.data, to4 = answers.find((r) => r.to === "10.0.0.4")!.data;
    expect(to3).toMatch(/m=audio \d+ RTP\/AVP 8\r\n/);
    expect(to3).not.toContain("telephone-event");
    expect(to4).toMatch(/m=audio \d+ RTP\/AVP 0 101\r\n/);
  });

  it("maxCalls 2: two callers are answered at once; a third finds the pool full and gets 486", () => {
    const { clock, network, b } = world({ b: { maxCalls: 2, answerDelay: 0 } });
    const callers = ["10.0.0.3", "10.0.0.4", "10.0.0.5"].map((addr) => {
      const e = new Endpoint({ platform: new VirtualPlatform({ network, address: addr }), address: addr, port: 5060 });
      expect(e.open()).toBe(0);
      return e;
    });
    const calls = callers.map((e) => e.call(B_URI) as Call);
    clock.advance(500);
    expect(calls.map((c) => c.state)).toEqual([CALL_ACTIVE, CALL_ACTIVE, CALL_FREE]);
    expect(callers[2].events.filter((e) => e.kind === "call-state").at(-1)!.detail).toContain("ended 486");
    expect(b.ua.calls!.liveCount()).toBe(2);
    const ports = b.ua.calls!.calls.map((c) => c.mediaPort);
    expect(ports).toEqual([50000, 50002]);
  });

  it("a full pool: call() returns null with lastError CALL_ERR_POOL_FULL and sends nothing", () => {
    const { clock, network, a } = world({ b: { maxCalls: 2, answerDelay: 0 } });
    const calls = [a.call(B_URI), a.call(B_URI)];
    expect(calls.every((c) => c !== null)).toBe(true); // callCapacity 2
    expect(a.call(B_URI)).toBe(null);
    expect(a.ua.calls!.lastError).toBe(CALL_ERR_POOL_FULL);
    clock.advance(500);
    expect(ladder(network).filter((l) => l.startsWith("A>B INVITE"))).toEqual(["A>B INVITE", "A>B INVITE"]);
    expect(calls.map((c) => c!.state)).toEqual([CALL_ACTIVE, CALL_ACTIVE]);
    expect(a.ua.calls!.liveCount()).toBe(2);
  });
});

describe("Record-Route in the callee's answers", () => {
  it("a delayed 200 rebuilt from the kept 180 (or 100) carries the Record-Route once, in order", () => {
    for (const ringing of [true, false]) {
      const clock = new VirtualClock();
      const network = new VirtualNetwork({ clock, seed: 1, defaults: { latency: 10 } });
      const b = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2" }), address: "10.0.0.2", port: 5060, inviteStatus: 200,
        calls: { user: "resident", answerDelay: 1000, ringing } });
      expect(b.open()).toBe(0);
      const raw = new VirtualPlatform({ network, address: "10.0.0.9" });
      const got: string[] = [];
      const sock = raw.openUdp({ port: 5060, onMessage: (d) => got.push(d) }) as { send(d: Uint8Array, n: number, a: string, p: number): number };
      const sdp = "v=0\r\no=p 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
      const inv = ["INVITE sip:resident@10.0.0.2 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKrr1", "Max-Forwards: 70",
        "From: <sip:p@10.0.0.9>;tag=a", "To: <sip:resident@10.0.0.2>", "Call-ID: rr-1", "CSeq: 1 INVITE", "Contact: <sip:p@10.0.0.9>",
        "Record-Route: <sip:10.0.0.5;lr>, <sip:10.0.0.6;lr>", "Content-Type: application/sdp", "Content-Length: " + sdp.length, "", sdp].join("\r\n");
      const bytes = Buffer.from(inv, "latin1");
      sock.send(new Uint8Array(bytes), bytes.length, "10.0.0.2", 5060);
      clock.advance(1500);
      const ok = got.find((m) => m.startsWith("SIP/2.0 200"))!;
      expect(ok.match(/^Record-Route: .*$/gm), "ringing " + ringing).toEqual(["Record-Route: <sip:10.0.0.5;lr>", "Record-Route: <sip:10.0.0.6;lr>"]);
    }
  });
});
