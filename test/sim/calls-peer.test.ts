// The call layer against a scripted peer on the virtual network: forking, redirects, digest on INVITE, re-INVITE, INFO DTMF, §8.2 answers, route sets.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CALL_ACTIVE, CALL_CALLING, CALL_FREE, CALL_RINGING, DLG_CONFIRMED, DLG_EARLY, DLG_NONE, SDP_INACTIVE, SDP_RECVONLY, SDP_SENDONLY, SDP_SENDRECV, type Call } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";
import { RawPeer, body, header, parse, sdpBody, startLine, type Received } from "./call-peer.ts";

const PEER = "10.0.0.9";

function world() {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: 3, defaults: { latency: 10 } });
  const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060, inviteStatus: 200,
    calls: { user: "door", domain: "example.com", authUser: "door", password: "s3cret", rtpPortBase: 40000, answerDelay: 0 } });
  expect(door.open()).toBe(0);
  const peer = new RawPeer(network, PEER, 5060);
  const digits: string[] = [];
  door.onDigit = (_c, d) => digits.push(String.fromCharCode(d));
  return { clock, network, door, peer, digits };
}

/** An INVITE from the peer to the door (cseq, optional To tag for a re-INVITE, SDP or none). */
function inviteText(o: { callId?: string; cseq?: number; toTag?: string; sdp?: string | null; method?: string; extra?: string[]; branch?: string; contact?: string }): string {
  const sdp = o.sdp === undefined ? sdpBody(PEER, 30000, [0, 8, 101]) : o.sdp;
  const method = o.method ?? "INVITE";
  const lines = [
    `${method} sip:door@10.0.0.1:5060 SIP/2.0`,
    `Via: SIP/2.0/UDP ${PEER}:5060;branch=${o.branch ?? "z9hG4bK" + Math.random().toString(36).slice(2)};rport`,
    "Max-Forwards: 70",
    `From: <sip:resident@${PEER}>;tag=peer1`,
    `To: <sip:door@10.0.0.1>` + (o.toTag ? ";tag=" + o.toTag : ""),
    `Call-ID: ${o.callId ?? "call-1@peer"}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <${o.contact ?? "sip:resident@" + PEER + ":5060"}>`,
    ...(o.extra ?? []),
  ];
  if (sdp !== null) lines.push("Content-Type: application/sdp");
  lines.push("Content-Length: " + (sdp === null ? 0 : sdp.length), "", sdp ?? "");
  return lines.join("\r\n");
}

function ackText(toTag: string, cseq = 1, sdp: string | null = null): string {
  const lines = [
    "ACK sip:door@10.0.0.1:5060 SIP/2.0", `Via: SIP/2.0/UDP ${PEER}:5060;branch=z9hG4bKack${cseq};rport`, "Max-Forwards: 70",
    `From: <sip:resident@${PEER}>;tag=peer1`, `To: <sip:door@10.0.0.1>;tag=${toTag}`, "Call-ID: call-1@peer", `CSeq: ${cseq} ACK`,
  ];
  if (sdp !== null) lines.push("Content-Type: application/sdp");
  lines.push("Content-Length: " + (sdp === null ? 0 : sdp.length), "", sdp ?? "");
  return lines.join("\r\n");
}

function inDialog(method: string, toTag: string, cseq: number, extra: string[], content: [string, string] | null): string {
  const lines = [
    `${method} sip:door@10.0.0.1:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${PEER}:5060;branch=z9hG4bK${method}${cseq};rport`, "Max-Forwards: 70",
    `From: <sip:resident@${PEER}>;tag=peer1`, `To: <sip:door@10.0.0.1>;tag=${toTag}`, "Call-ID: call-1@peer", `CSeq: ${cseq} ${method}`, ...extra,
  ];
  if (content !== null) lines.push("Content-Type: " + content[0]);
  lines.push("Content-Length: " + (content === null ? 0 : content[1].length), "", content === null ? "" : content[1]);
  return lines.join("\r\n");
}

const tagOf = (r: Received) => /;tag=([^;\s]+)/.exec(header(r.text, "To"))![1];

/** The peer calls the door; returns the door's To tag once the call is up. */
function callIn(clock: VirtualClock, peer: RawPeer): string {
  peer.send(inviteText({}), "10.0.0.1", 5060);
  clock.advance(50);
  const ok = peer.responses(200)[0];
  expect(ok).toBeDefined();
  const tag = tagOf(ok);
  peer.send(ackText(tag), "10.0.0.1", 5060);
  clock.advance(50);
  return tag;
}

describe("the door answers a scripted caller", () => {
  it("an offer in the INVITE: 200 with an answer keeping the offer's payload numbers, telephone-event included", () => {
    const { clock, door, peer } = world();
    callIn(clock, peer);
    const ok = peer.responses(200)[0].text;
    const sdp = body(ok);
    expect(sdp).toMatch(/^m=audio 40000 RTP\/AVP 0 101\r$/m);
    expect(sdp).toMatch(/a=rtpmap:101 telephone-event\/8000/);
    expect(sdp).toMatch(/a=sendrecv/);
    expect(header(ok, "Contact")).toBe("<sip:door@10.0.0.1:5060>");
    expect(header(ok, "Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO");
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
  });

  it("the answer keeps the offer's payload numbers: telephone-event offered as 97 is answered as 97, and sent as 97", () => {
    const { clock, door, peer } = world();
    const offer = sdpBody(PEER, 30000, [8, 0]).replace("RTP/AVP 8 0", "RTP/AVP 8 0 97") + "a=rtpmap:97 telephone-event/8000\r\na=fmtp:97 0-15\r\n";
    peer.send(inviteText({ sdp: offer }), "10.0.0.1", 5060);
    clock.advance(50);
    const sdp = body(peer.responses(200)[0].text);
    expect(sdp).toMatch(/^m=audio 40000 RTP\/AVP 8 97\r$/m);
    expect(sdp).toMatch(/a=rtpmap:97 telephone-event\/8000/);
    expect(sdp).not.toMatch(/101/);
    const c = door.ua.calls!.calls[0];
    expect([c.mediaPayload, c.mediaTelephoneEvent, c.mediaTelephoneEventIn]).toEqual([8, 97, 97]);
  });

  it("unsupported m-lines are rejected with port 0, in order", () => {
    const { clock, peer } = world();
    const offer = sdpBody(PEER, 30000, [0]) + "m=video 30002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    peer.send(inviteText({ sdp: offer }), "10.0.0.1", 5060);
    clock.advance(50);
    const sdp = body(peer.responses(200)[0].text);
    expect(sdp).toMatch(/m=audio 40000 RTP\/AVP 0\r\n[\s\S]*m=video 0 RTP\/AVP 96\r\n/);
  });

  it("an answer written after another INVITE was read follows its own offer: streams in order, ours in its place, its direction", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 3, defaults: { latency: 10 } });
    const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060, inviteStatus: 200,
      calls: { user: "door", rtpPortBase: 40000, answerDelay: 1000, maxCalls: 2 } });
    expect(door.open()).toBe(0);
    const peer = new RawPeer(network, PEER, 5060);
    const first = ["v=0", `o=peer 42 1 IN IP4 ${PEER}`, "s=-", `c=IN IP4 ${PEER}`, "t=0 0", "m=video 30002 RTP/AVP 96", "a=rtpmap:96 H264/90000",
      "m=audio 30000 RTP/AVP 8", "a=rtpmap:8 PCMA/8000", "a=sendonly", "m=application 9 TCP/BFCP *"].join("\r\n") + "\r\n";
    peer.send(inviteText({ callId: "call-1@peer", sdp: first }), "10.0.0.1", 5060);
    clock.advance(100);
    peer.send(inviteText({ callId: "call-2@peer", sdp: sdpBody(PEER, 30010, [0, 101]) }), "10.0.0.1", 5060);
    clock.advance(1500);
    const oks = peer.responses(200);
    const answerTo = (id: string) => body(oks.find((r) => header(r.text, "Call-ID") === id)!.text);
    const a1 = answerTo("call-1@peer"), a2 = answerTo("call-2@peer");
    const mLines = (sdp: string) => (sdp.match(/^m=.*$/gm) || []).map((l) => l.replace("\r", ""));
    expect(mLines(a1)).toEqual(["m=video 0 RTP/AVP 96", "m=audio 40000 RTP/AVP 8", "m=application 0 TCP/BFCP *"]);
    expect(a1).toMatch(/a=recvonly/);
    expect(a1).not.toMatch(/telephone-event/);
    expect(mLines(a2)).toEqual(["m=audio 40002 RTP/AVP 0 101"]);
    expect(a2).toMatch(/a=sendrecv/);
  });

  it("an answer of 1,000 bytes or more: Content-Length gets its fourth digit and the body moves up", () => {
    const { clock, door, peer } = world();
    const fmt = "x".repeat(850); // a non-RTP fmt list is copied whole into the rejecting m= line
    peer.send(inviteText({ sdp: sdpBody(PEER, 30000, [0]) + "m=application 9 TCP/BFCP " + fmt + "\r\n" }), "10.0.0.1", 5060);
    clock.advance(50);
    const ok = peer.responses(200)[0].text;
    const sdp = body(ok);
    expect(sdp.length).toBeGreaterThanOrEqual(1000);
    expect(header(ok, "Content-Length")).toBe(String(sdp.length));
    expect(sdp).toMatch(/^v=0\r\no=- /);
    expect(sdp.endsWith("m=application 0 TCP/BFCP " + fmt + "\r\n")).toBe(true);
    expect(door.ua.calls!.calls[0].mediaPayload).toBe(0);
  });

  it("INVITE without SDP: the 200 carries our offer and the ACK the answer", () => {
    const { clock, door, peer } = world();
    peer.send(inviteText({ sdp: null }), "10.0.0.1", 5060);
    clock.advance(50);
    const ok = peer.responses(200)[0];
    expect(body(ok.text)).toMatch(/m=audio 40000 RTP\/AVP 0 8 101/);
    const c = door.ua.calls!.calls[0];
    expect(c.mediaPayload).toBe(-1);
    peer.send(ackText(tagOf(ok), 1, sdpBody(PEER, 30004, [8, 101])), "10.0.0.1", 5060);
    clock.advance(50);
    expect([c.state, c.mediaPayload, c.mediaRemotePort]).toEqual([CALL_ACTIVE, 8, 30004]);
  });

  it("re-INVITE to hold (sendonly) and resume: answered recvonly then sendrecv, o= version bumped only on change", () => {
    const { clock, door, peer } = world();
    const tag = callIn(clock, peer);
    const c = door.ua.calls!.calls[0];
    const version = (t: string) => Number(/^o=\S+ \S+ (\d+)/m.exec(body(t))![1]);
    const v0 = version(peer.responses(200)[0].text);
    peer.send(inviteText({ toTag: tag, cseq: 2, sdp: sdpBody(PEER, 30000, [0, 101], ["a=sendonly"], 2) }), "10.0.0.1", 5060);
    clock.advance(50);
    const hold = peer.responses(200)[1].text;
    expect(body(hold)).toMatch(/a=recvonly/);
    expect(version(hold)).toBe(v0 + 1);
    expect(c.mediaDirection).toBe(SDP_RECVONLY);
    peer.send(ackText(tag, 2), "10.0.0.1", 5060);
    clock.advance(50);
    // The same offer again (a session refresh): the version stays.
    peer.send(inviteText({ toTag: tag, cseq: 3, sdp: sdpBody(PEER, 30000, [0, 101], ["a=sendonly"], 2) }), "10.0.0.1", 5060);
    clock.advance(50);
    expect(version(peer.responses(200)[2].text)).toBe(v0 + 1);
    peer.send(ackText(tag, 3), "10.0.0.1", 5060);
    clock.advance(50);
    peer.send(inviteText({ toTag: tag, cseq: 4, sdp: sdpBody(PEER, 30008, [0, 101], [], 3) }), "10.0.0.1", 5060);
    clock.advance(50);
    const resume = peer.responses(200)[3].text;
    expect(body(resume)).toMatch(/a=sendrecv/);
    expect(version(resume)).toBe(v0 + 2);
    expect([c.mediaDirection, c.mediaRemotePort]).toEqual([SDP_SENDRECV, 30008]);
  });

  it("over TCP the 200 is retransmitted too until the ACK (§13.3.1.4: a proxy further on may use UDP)", () => {
    const { clock, network, door } = world();
    const platform = new VirtualPlatform({ network, address: "10.0.0.11" });
    let stream = "";
    const conn = platform.connectTcp({ address: "10.0.0.1", port: 5060, onData: (d) => { stream += d; } });
    if (typeof conn === "number") throw new Error("connect " + conn);
    const send = (text: string) => { const b = Buffer.from(text, "latin1"); conn.send(new Uint8Array(b), b.length); };
    send(inviteText({}).replace(`Via: SIP/2.0/UDP ${PEER}:5060`, "Via: SIP/2.0/TCP 10.0.0.11:5060"));
    clock.advance(4000);
    const oks = () => stream.split("SIP/2.0 200 OK").length - 1;
    expect(oks()).toBe(4); // at 0, T1, 3·T1, 7·T1
    const tag = /To: [^\r]*;tag=([^;\r]+)/.exec(stream)![1];
    send(ackText(tag).replace(`Via: SIP/2.0/UDP ${PEER}:5060`, "Via: SIP/2.0/TCP 10.0.0.11:5060"));
    clock.advance(20000);
    expect(oks()).toBe(4);
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
  });

  it("RFC 2543 hold (c=0.0.0.0) makes our media inactive", () => {
    const { clock, door, peer } = world();
    const tag = callIn(clock, peer);
    peer.send(inviteText({ toTag: tag, cseq: 2, sdp: sdpBody("0.0.0.0", 30000, [0]) }), "10.0.0.1", 5060);
    clock.advance(50);
    expect(door.ua.calls!.calls[0].mediaDirection).toBe(SDP_INACTIVE);
  });

  it("a re-INVITE with a lower CSeq gets 500; one while the last 200 is unacknowledged gets 500 with Retry-After", () => {
    const { clock, peer } = world();
    const tag = callIn(clock, peer);
    peer.send(inviteText({ toTag: tag, cseq: 5 }), "10.0.0.1", 5060);
    clock.advance(50);
    peer.send(inviteText({ toTag: tag, cseq: 6 }), "10.0.0.1", 5060);
    clock.advance(50);
    const busy = peer.responses(500)[0].text;
    expect(header(busy, "CSeq")).toBe("6 INVITE");
    expect(header(busy, "Retry-After")).toMatch(/^\d$/);
    peer.send(inDialog("BYE", tag, 4, [], null), "10.0.0.1", 5060);
    clock.advance(50);
    expect(startLine(peer.received.at(-1)!.text)).toBe("SIP/2.0 500 CSeq Out of Order");
  });

  it("INFO DTMF: application/dtmf-relay and application/dtmf digits reach the application; other bodies get 415", () => {
    const { clock, peer, digits } = world();
    const tag = callIn(clock, peer);
    peer.send(inDialog("INFO", tag, 2, [], ["application/dtmf-relay", "Signal=1\r\nDuration=160\r\n"]), "10.0.0.1", 5060);
    peer.send(inDialog("INFO", tag, 3, [], ["application/dtmf", "#"]), "10.0.0.1", 5060);
    peer.send(inDialog("INFO", tag, 4, [], ["text/plain", "hello"]), "10.0.0.1", 5060);
    clock.advance(50);
    expect(digits).toEqual(["1", "#"]);
    const answers = peer.received.filter((r) => /INFO/.test(header(r.text, "CSeq"))).map((r) => startLine(r.text));
    expect(answers).toEqual(["SIP/2.0 200 OK", "SIP/2.0 200 OK", "SIP/2.0 415 Unsupported Media Type"]);
    expect(header(peer.received.at(-1)!.text, "Accept")).toContain("application/dtmf-relay");
  });

  it("OPTIONS in a dialog is answered like one outside: 200 with Allow, Accept and Supported", () => {
    const { clock, peer } = world();
    const tag = callIn(clock, peer);
    peer.send(inDialog("OPTIONS", tag, 2, [], null), "10.0.0.1", 5060);
    clock.advance(50);
    const r = peer.received.at(-1)!.text;
    expect(startLine(r)).toBe("SIP/2.0 200 OK");
    expect(header(r, "Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO");
    expect(header(r, "Accept")).toBe("application/sdp");
    expect(/^Supported:/m.test(r)).toBe(true);
  });

  it("§8.2 answers: unknown dialog 481, Require 420 with Unsupported, known method 405 with Allow, unknown method 501, tel: URI 416", () => {
    const { clock, peer } = world();
    const answer = () => { clock.advance(50); return peer.received.at(-1)!.text; };
    peer.send(inDialog("BYE", "nosuchtag", 1, [], null), "10.0.0.1", 5060);
    expect(startLine(answer())).toBe("SIP/2.0 481 Call/Transaction Does Not Exist");
    peer.send(inDialog("INFO", "nosuchtag", 1, [], null), "10.0.0.1", 5060);
    expect(startLine(answer())).toBe("SIP/2.0 481 Call/Transaction Does Not Exist");
    peer.send(inviteText({ extra: ["Require: 100rel, timer"], callId: "c2" }), "10.0.0.1", 5060);
    let r = answer();
    expect(startLine(r)).toBe("SIP/2.0 420 Bad Extension");
    expect(header(r, "Unsupported")).toBe("100rel, timer");
    peer.send(inviteText({ method: "SUBSCRIBE", sdp: null, callId: "c3" }), "10.0.0.1", 5060);
    r = answer();
    expect(startLine(r)).toBe("SIP/2.0 405 Method Not Allowed");
    expect(header(r, "Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO");
    peer.send(inviteText({ method: "FOOBAR", sdp: null, callId: "c4" }), "10.0.0.1", 5060);
    expect(startLine(answer())).toBe("SIP/2.0 501 Not Implemented");
    peer.send(inviteText({ callId: "c5" }).replace("INVITE sip:door@10.0.0.1:5060", "INVITE tel:+15551234"), "10.0.0.1", 5060);
    expect(startLine(answer())).toBe("SIP/2.0 416 Unsupported URI Scheme");
  });

  it("CANCEL (§9.2): the 200 to it carries the To tag the INVITE's 487 carries; a CANCEL matching nothing gets 481, tagged too", () => {
    const { clock, door, peer } = world();
    door.onIncomingCall = () => 1; // INCOMING_RING: it rings until answered
    peer.send(inviteText({ branch: "z9hG4bKring1" }), "10.0.0.1", 5060);
    clock.advance(50);
    expect(peer.responses(180).length).toBe(1);
    const cancel = (branch: string, callId: string) => inviteText({ branch, callId, sdp: null, method: "CANCEL" }).replace(/^Contact:.*\r\n/m, "");
    peer.send(cancel("z9hG4bKring1", "call-1@peer"), "10.0.0.1", 5060);
    peer.send(cancel("z9hG4bKnothing", "other@peer"), "10.0.0.1", 5060);
    clock.advance(50);
    const cseq = (r: Received) => header(r.text, "CSeq");
    const ok = peer.responses(200).filter((r) => cseq(r) === "1 CANCEL");
    const terminated = peer.responses(487);
    expect([ok.length, terminated.length]).toEqual([1, 1]);
    expect(tagOf(ok[0])).toBe(tagOf(terminated[0]));
    expect(tagOf(ok[0])).toBe(tagOf(peer.responses(180)[0]));
    const none = peer.responses(481);
    expect(none.map((r) => header(r.text, "Via"))).toEqual([expect.stringContaining("z9hG4bKnothing")]);
    expect(tagOf(none[0])).toMatch(/^[0-9a-f]{8}$/);
  });

  it("a body that is not SDP gets 415; a malformed SDP 400", () => {
    const { clock, peer } = world();
    const bad = inviteText({ callId: "c6" }).replace("Content-Type: application/sdp", "Content-Type: text/plain");
    peer.send(bad, "10.0.0.1", 5060);
    clock.advance(50);
    expect(startLine(peer.received.at(-1)!.text)).toBe("SIP/2.0 415 Unsupported Media Type");
    peer.send(inviteText({ callId: "c7", sdp: "v=0\r\nthis is not sdp\r\n" }), "10.0.0.1", 5060);
    clock.advance(50);
    expect(startLine(peer.received.at(-1)!.text)).toMatch(/^SIP\/2.0 400 /);
  });

  it("the route set comes from Record-Route: the 180 and 200 copy it (§12.1.1); our BYE goes to the first proxy with Route headers in order", () => {
    const { clock, door, peer } = world();
    const proxy = new RawPeer(peer.platform.network, "10.0.0.5", 5060);
    const invite = inviteText({ extra: ["Record-Route: <sip:10.0.0.5;lr>", "Record-Route: <sip:10.0.0.6;lr>"] });
    peer.send(invite, "10.0.0.1", 5060);
    clock.advance(50);
    const ok = peer.responses(200)[0];
    expect(ok.text.match(/^Record-Route: .*$/gm)).toEqual(["Record-Route: <sip:10.0.0.5;lr>", "Record-Route: <sip:10.0.0.6;lr>"]);
    peer.send(ackText(tagOf(ok)), "10.0.0.1", 5060);
    clock.advance(50);
    door.hangup(door.ua.calls!.calls[0]);
    clock.advance(50);
    const bye = proxy.requests("BYE")[0].text;
    expect(startLine(bye)).toBe(`BYE sip:resident@${PEER}:5060 SIP/2.0`);
    expect(bye.match(/^Route: .*$/gm)).toEqual(["Route: <sip:10.0.0.5;lr>", "Route: <sip:10.0.0.6;lr>"]);
  });

  it("a re-INVITE's Contact refreshes the remote target (§12.2.2): our BYE goes to the new Contact", () => {
    const { clock, network, door, peer } = world();
    const tag = callIn(clock, peer);
    peer.send(inviteText({ toTag: tag, cseq: 2, contact: `sip:resident@${PEER}:5070` }), "10.0.0.1", 5060);
    clock.advance(50);
    expect(header(peer.responses(200)[1].text, "CSeq")).toBe("2 INVITE");
    peer.send(ackText(tag, 2), "10.0.0.1", 5060);
    clock.advance(50);
    door.hangup(door.ua.calls!.calls[0]);
    clock.advance(50);
    const byes = network.capture().filter((r) => r.data.startsWith("BYE "));
    expect(byes.map((r) => [startLine(r.data), r.to, r.toPort])).toEqual([[`BYE sip:resident@${PEER}:5070 SIP/2.0`, PEER, 5070]]);
    expect(peer.requests("BYE")).toEqual([]); // nothing to the old Contact
  });

  it("a re-INVITE without SDP: our 200 carries an offer, the ACK the answer, and media follows the ACK's answer", () => {
    const { clock, door, peer } = world();
    const tag = callIn(clock, peer);
    const c = door.ua.calls!.calls[0];
    peer.send(inviteText({ toTag: tag, cseq: 2, sdp: null }), "10.0.0.1", 5060);
    clock.advance(50);
    const ok = peer.responses(200)[1].text;
    expect(header(ok, "CSeq")).toBe("2 INVITE");
    expect(header(ok, "Content-Type")).toBe("application/sdp");
    expect(body(ok)).toMatch(/^m=audio 40000 RTP\/AVP 0 8 101\r$/m);
    expect(body(ok)).toMatch(/a=sendrecv/);
    expect([c.mediaRemotePort, c.mediaPayload]).toEqual([30000, 0]); // unchanged until the answer
    peer.send(ackText(tag, 2, sdpBody(PEER, 30006, [8, 101])), "10.0.0.1", 5060);
    clock.advance(50);
    expect([c.state, c.mediaRemotePort, c.mediaPayload, c.mediaTelephoneEvent]).toEqual([CALL_ACTIVE, 30006, 8, 101]);
    expect(door.events.filter((e) => e.kind === "media").at(-1)!.detail).toBe(`0 ${PEER}:30006 pt 8 dir ${SDP_SENDRECV}`);
    // The ACK stopped the 200's retransmissions.
    clock.advance(5000);
    expect(peer.responses(200).filter((r) => header(r.text, "CSeq") === "2 INVITE").length).toBe(1);
  });

  it("as callee, maxDuration ends the call: BYE exactly maxDuration after the 200", () => {
    const { clock, door, peer } = world();
    door.ua.calls!.config.maxDuration = 10;
    const tag = callIn(clock, peer);
    const ok = peer.responses(200)[0];
    clock.advance(9900);
    expect(peer.requests("BYE")).toEqual([]);
    clock.advance(200);
    const byes = peer.requests("BYE");
    expect(byes.length).toBe(1);
    expect(byes[0].at - ok.at).toBe(10000); // same latency both ways: sent 10 s after the 200 was
    const bye = byes[0].text;
    expect(startLine(bye)).toBe(`BYE sip:resident@${PEER}:5060 SIP/2.0`);
    expect(header(bye, "CSeq")).toBe("1 BYE");
    expect(tagOf(byes[0])).toBe("peer1"); // To is the caller, From us
    expect(header(bye, "From")).toContain(";tag=" + tag);
    peer.respond(byes[0], "200 OK", null, [], null);
    clock.advance(50);
    expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toBe("0 ended 200 maximum call duration");
  });

  it("hanging up a ringing incoming call: 603 Decline with the 180's To tag, retransmitted until the ACK, which is absorbed", () => {
    const { clock, door, peer } = world();
    door.onIncomingCall = () => 1; // INCOMING_RING
    peer.send(inviteText({ branch: "z9hG4bKring7" }), "10.0.0.1", 5060);
    clock.advance(50);
    const ringing = peer.responses(180);
    expect(ringing.length).toBe(1);
    const c = door.ua.calls!.calls[0];
    door.hangup(c);
    clock.advance(600); // the 603 at 50, again at T1 (550) without an ACK
    const declined = peer.responses(603);
    expect(declined.map((r) => startLine(r.text))).toEqual(["SIP/2.0 603 Decline", "SIP/2.0 603 Decline"]);
    expect(tagOf(declined[0])).toBe(tagOf(ringing[0]));
    expect(header(declined[0].text, "CSeq")).toBe("1 INVITE");
    expect(c.state).toBe(CALL_FREE);
    // The ACK for a non-2xx is part of the INVITE transaction (same branch, §17.1.1.3).
    const seen = peer.received.length;
    peer.send(inviteText({ branch: "z9hG4bKring7", method: "ACK", toTag: tagOf(ringing[0]), sdp: null }), "10.0.0.1", 5060);
    clock.advance(32000);
    expect(peer.received.slice(seen).map((r) => startLine(r.text))).toEqual([]); // no answer to it, no more 603s
    expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toBe("0 ended 603 refused");
  });

  it("a re-INVITE with a To tag of no dialog gets 481 and the call stays up; OPTIONS outside a dialog gets 200 with Allow, Accept, Supported", () => {
    const { clock, door, peer } = world();
    callIn(clock, peer);
    peer.send(inviteText({ toTag: "notours", cseq: 2 }), "10.0.0.1", 5060);
    clock.advance(50);
    let r = peer.received.at(-1)!.text;
    expect(startLine(r)).toBe("SIP/2.0 481 Call/Transaction Does Not Exist");
    expect(header(r, "CSeq")).toBe("2 INVITE");
    expect(tagOf(peer.received.at(-1)!)).toBe("notours");
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
    peer.send(inviteText({ method: "OPTIONS", sdp: null, callId: "opt-1@peer" }), "10.0.0.1", 5060);
    clock.advance(50);
    r = peer.received.at(-1)!.text;
    expect(startLine(r)).toBe("SIP/2.0 200 OK");
    expect(header(r, "CSeq")).toBe("1 OPTIONS");
    expect(header(r, "Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO");
    expect(header(r, "Accept").split(/\s*,\s*/)).toContain("application/sdp");
    expect(/^Supported:/m.test(r)).toBe(true);
    expect(tagOf(peer.received.at(-1)!)).toMatch(/^\w+$/); // §8.2.6.2: a To tag of its own
  });
});

describe("strict routing", () => {
  it("a Record-Route without lr: the BYE's Request-URI is that route, and the remote target ends the Route list (§12.2.1.1)", () => {
    const { clock, door, peer } = world();
    const proxy = new RawPeer(peer.platform.network, "10.0.0.5", 5060);
    peer.send(inviteText({ extra: ["Record-Route: <sip:10.0.0.5>", "Record-Route: <sip:10.0.0.6;lr>"] }), "10.0.0.1", 5060);
    clock.advance(50);
    peer.send(ackText(tagOf(peer.responses(200)[0])), "10.0.0.1", 5060);
    clock.advance(50);
    door.hangup(door.ua.calls!.calls[0]);
    clock.advance(50);
    const bye = proxy.requests("BYE")[0].text;
    expect(startLine(bye)).toBe("BYE sip:10.0.0.5 SIP/2.0");
    expect(bye.match(/^Route: .*$/gm)).toEqual(["Route: <sip:10.0.0.6;lr>", `Route: <sip:resident@${PEER}:5060>`]);
  });
});

describe("the door calls a scripted callee", () => {
  function uac() {
    const w = world();
    const call = w.door.call(`sip:resident@${PEER}:5060`) as Call;
    w.clock.advance(50);
    const invite = w.peer.requests("INVITE")[0];
    return { ...w, call, invite };
  }

  it("an answer with no codec of ours ends the call with a BYE, and its text is let go like a usable one's", () => {
    const { clock, door, peer, call, invite } = uac();
    peer.respond(invite, "200 OK", "g722", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [9]));
    clock.advance(100);
    expect(peer.requests("BYE").length).toBe(1);
    expect((door.ua.calls as unknown as { sdp: { src: string } }).sdp.src).toBe("");
  });

  it("a forking proxy delivers two 200s: the first fork's dialog is kept, the second is ACKed and BYEd", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "180 Ringing", "fork-a", [`Contact: <sip:a@${PEER}:5060>`], null);
    peer.respond(invite, "200 OK", "fork-a", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0, 101]));
    peer.respond(invite, "200 OK", "fork-b", [`Contact: <sip:b@${PEER}:5060>`], sdpBody(PEER, 30010, [0, 101]));
    clock.advance(100);
    const acks = peer.requests("ACK").map((r) => startLine(r.text) + " " + tagOf(r));
    expect(acks).toEqual([`ACK sip:a@${PEER}:5060 SIP/2.0 fork-a`, `ACK sip:b@${PEER}:5060 SIP/2.0 fork-b`]);
    const byes = peer.requests("BYE");
    expect(byes.map((r) => startLine(r.text) + " " + tagOf(r))).toEqual([`BYE sip:b@${PEER}:5060 SIP/2.0 fork-b`]);
    expect(call.state).toBe(CALL_ACTIVE);
    expect(call.dialog.remoteTag).toBe("fork-a");
    expect(call.mediaRemotePort).toBe(30000);
    // fork-b's 2xx again (its ACK was lost): ACKed again, no second BYE.
    peer.respond(invite, "200 OK", "fork-b", [`Contact: <sip:b@${PEER}:5060>`], sdpBody(PEER, 30010, [0, 101]));
    clock.advance(100);
    expect(peer.requests("ACK").map((r) => tagOf(r))).toEqual(["fork-a", "fork-b", "fork-b"]);
    expect(peer.requests("BYE").length).toBe(1);
  });

  it("a fork's 2xx after the call ended (another fork's 486): ACKed and BYEd once, its retransmission ACKed; after 64·T1, or another Call-ID, nothing", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "486 Busy Here", "fork-a", [], null);
    clock.advance(100);
    expect(call.state).toBe(CALL_FREE);
    peer.respond(invite, "200 OK", "fork-b", [`Contact: <sip:b@${PEER}:5060>`], sdpBody(PEER, 30010, [0]));
    clock.advance(100);
    peer.respond(invite, "200 OK", "fork-b", [`Contact: <sip:b@${PEER}:5060>`], sdpBody(PEER, 30010, [0]));
    clock.advance(100);
    const acks = peer.requests("ACK").map((r) => startLine(r.text) + " " + tagOf(r) + " " + header(r.text, "CSeq"));
    expect(acks).toEqual([`ACK sip:resident@${PEER}:5060 SIP/2.0 fork-a 1 ACK`,
      `ACK sip:b@${PEER}:5060 SIP/2.0 fork-b 1 ACK`, `ACK sip:b@${PEER}:5060 SIP/2.0 fork-b 1 ACK`]);
    const byes = peer.requests("BYE");
    expect(byes.map((r) => startLine(r.text) + " " + tagOf(r) + " " + header(r.text, "CSeq"))).toEqual([`BYE sip:b@${PEER}:5060 SIP/2.0 fork-b 2 BYE`]);
    peer.respond(byes[0], "200 OK", null, [], null);
    expect(header(byes[0].text, "Call-ID")).toBe(header(invite.text, "Call-ID"));
    const other = invite.text.replace(/^Call-ID: .*$/m, "Call-ID: someone-else@x");
    peer.respond({ ...invite, text: other }, "200 OK", "fork-x", [`Contact: <sip:x@${PEER}:5060>`], sdpBody(PEER, 30012, [0]));
    clock.advance(33000);
    peer.respond(invite, "200 OK", "fork-c", [`Contact: <sip:c@${PEER}:5060>`], sdpBody(PEER, 30014, [0]));
    clock.advance(100);
    expect(peer.requests("ACK").length).toBe(3);
    // One BYE transaction (retransmitted: this peer never answers it).
    expect(new Set(peer.requests("BYE").map((r) => header(r.text, "Via"))).size).toBe(1);
  });

  it("a retransmitted 2xx is ACKed again, also after the INVITE transaction is gone (Timer M)", () => {
    const { clock, peer, invite } = uac();
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
    clock.advance(100);
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
    clock.advance(40000);
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
    clock.advance(100);
    const acks = peer.requests("ACK");
    expect(acks.length).toBe(3);
    // All three are the same ACK (same branch).
    expect(new Set(acks.map((a) => header(a.text, "Via"))).size).toBe(1);
  });

  it("302: the INVITE follows the Contact (CSeq + 1, same Call-ID and From tag)", () => {
    const { clock, network, peer, call, invite } = uac();
    const other = new RawPeer(network, "10.0.0.7", 5060);
    peer.respond(invite, "302 Moved Temporarily", "r1", ["Contact: <sip:resident@10.0.0.7:5060>"], null);
    clock.advance(100);
    expect(startLine(peer.requests("ACK")[0].text)).toBe(`ACK sip:resident@${PEER}:5060 SIP/2.0`);
    const again = other.requests("INVITE")[0];
    expect(startLine(again.text)).toBe("INVITE sip:resident@10.0.0.7:5060 SIP/2.0");
    expect(header(again.text, "CSeq")).toBe("2 INVITE");
    expect(header(again.text, "Call-ID")).toBe(header(invite.text, "Call-ID"));
    expect(header(again.text, "From")).toBe(header(invite.text, "From"));
    expect(header(again.text, "To")).toBe(header(invite.text, "To")); // only the Request-URI moves
    other.respond(again, "200 OK", "x", ["Contact: <sip:resident@10.0.0.7:5060>"], sdpBody("10.0.0.7", 30000, [0]));
    clock.advance(100);
    expect(call.state).toBe(CALL_ACTIVE);
    expect(call.peer).toBe("sip:resident@10.0.0.7:5060");
  });

  it("a 3xx with several Contacts: tried by q, highest first (q=0 last); a failed one (486, timeout) moves on to the next; a 6xx ends it", () => {
    const { clock, network, door, peer } = world();
    door.ua.calls!.config.ringTimeout = 120;
    const call = door.call(`sip:resident@${PEER}:5060`) as Call;
    clock.advance(50);
    const invite = peer.requests("INVITE")[0];
    const a = new RawPeer(network, "10.0.0.7", 5060);
    const b = new RawPeer(network, "10.0.0.8", 5060);
    const z = new RawPeer(network, "10.0.0.6", 5060);
    peer.respond(invite, "300 Multiple Choices", "r1", [
      "Contact: <sip:low@10.0.0.6:5060>;q=0.1, <sip:never@10.0.0.6:5060>;q=0",
      "Contact: <sip:first@10.0.0.7:5060>;q=0.9, <sip:second@10.0.0.8:5060>;q=0.5",
    ], null);
    clock.advance(100);
    const first = a.requests("INVITE");
    expect(first.map((r) => startLine(r.text))).toEqual(["INVITE sip:first@10.0.0.7:5060 SIP/2.0"]);
    expect(b.requests("INVITE")).toEqual([]);
    a.respond(first[0], "486 Busy Here", "a1", [], null);
    clock.advance(100);
    expect(startLine(a.requests("ACK")[0].text)).toBe("ACK sip:first@10.0.0.7:5060 SIP/2.0");
    const second = b.requests("INVITE");
    expect(second.map((r) => header(r.text, "CSeq"))).toEqual(["3 INVITE"]);
    expect(call.state).not.toBe(CALL_FREE);
    // No answer at all from the second: Timer B (32 s), then the third.
    clock.advance(33000);
    const third = z.requests("INVITE");
    expect(startLine(third[0].text)).toBe("INVITE sip:low@10.0.0.6:5060 SIP/2.0");
    z.respond(third[0], "603 Decline", "z1", [], null);
    clock.advance(100);
    expect(call.state).toBe(CALL_FREE);
    expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toContain("ended 603");
    // The q=0 Contact would come last: the 6xx ended the search before it.
    expect(z.requests("INVITE").every((r) => startLine(r.text).includes("low@"))).toBe(true);
  });

  it("a Contact with q=0 is the least preferred, not excluded: tried after the others failed", () => {
    const { clock, network, peer, invite } = uac();
    const a = new RawPeer(network, "10.0.0.7", 5060);
    const b = new RawPeer(network, "10.0.0.8", 5060);
    peer.respond(invite, "302 Moved Temporarily", "r1", ["Contact: <sip:zero@10.0.0.7:5060>;q=0, <sip:one@10.0.0.8:5060>"], null);
    clock.advance(100);
    expect(a.requests("INVITE")).toEqual([]);
    b.respond(b.requests("INVITE")[0], "480 Temporarily Unavailable", "b1", [], null);
    clock.advance(100);
    expect(a.requests("INVITE").map((r) => startLine(r.text))).toEqual(["INVITE sip:zero@10.0.0.7:5060 SIP/2.0"]);
  });

  it("redirects are bounded: a 302 loop ends the call with the 302", () => {
    const { clock, peer, door, invite } = uac();
    let last = invite;
    for (let i = 0; i < 6; i++) {
      peer.respond(last, "302 Moved Temporarily", "r" + i, [`Contact: <sip:hop${i}@${PEER}:5060>`], null);
      clock.advance(100);
      const invites = peer.requests("INVITE");
      last = invites.at(-1)!;
    }
    expect(peer.requests("INVITE").length).toBe(4); // the first and three redirects (maxRedirects 3)
    expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toContain("ended 302");
  });

  it("407 on INVITE: resent with Proxy-Authorization (same Call-ID, CSeq + 1); the ACK carries the same credentials", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "407 Proxy Authentication Required", "p1", ['Proxy-Authenticate: Digest realm="example.com", nonce="abc123", qop="auth", algorithm=MD5'], null);
    clock.advance(100);
    const again = peer.requests("INVITE")[1];
    expect(header(again.text, "CSeq")).toBe("2 INVITE");
    const cred = header(again.text, "Proxy-Authorization");
    expect(cred).toMatch(/^Digest username="door", realm="example.com", nonce="abc123", uri="sip:resident@10.0.0.9:5060", response="[0-9a-f]{32}", algorithm=MD5, cnonce="\w+", qop=auth, nc=00000001$/);
    peer.respond(again, "200 OK", "ok", [`Contact: <sip:resident@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
    clock.advance(100);
    expect(call.state).toBe(CALL_ACTIVE);
    const ack = peer.requests("ACK").at(-1)!;
    expect(header(ack.text, "CSeq")).toBe("2 ACK");
    expect(header(ack.text, "Proxy-Authorization")).toBe(cred);
  });

  it("407 with qop=auth-int: the response covers the INVITE's SDP body, which goes out unchanged", () => {
    const { clock, peer, invite } = uac();
    peer.respond(invite, "407 Proxy Authentication Required", "p1", ['Proxy-Authenticate: Digest realm="example.com", nonce="n1", qop="auth-int", algorithm=MD5'], null);
    clock.advance(100);
    const again = peer.requests("INVITE")[1];
    const sdp = body(again.text);
    expect(header(again.text, "Content-Length")).toBe(String(sdp.length));
    expect(sdp.replace(/^o=- \d+ \d+/m, "")).toBe(body(invite.text).replace(/^o=- \d+ \d+/m, ""));
    const cred = header(again.text, "Proxy-Authorization");
    const cnonce = /cnonce="([^"]+)"/.exec(cred)![1];
    const md5 = (t: string) => createHash("md5").update(t, "latin1").digest("hex");
    const uri = `sip:resident@${PEER}:5060`;
    const want = md5(`${md5("door:example.com:s3cret")}:n1:00000001:${cnonce}:auth-int:${md5(`INVITE:${uri}:${md5(sdp)}`)}`);
    expect(cred).toContain(`response="${want}"`);
    expect(cred).toContain("qop=auth-int");
  });

  it("a second 407 to fresh credentials is a refusal: the call ends with 407, no loop", () => {
    const { clock, peer, door, invite } = uac();
    const challenge = ['Proxy-Authenticate: Digest realm="example.com", nonce="n1", qop="auth"'];
    peer.respond(invite, "407 Proxy Authentication Required", "p1", challenge, null);
    clock.advance(100);
    peer.respond(peer.requests("INVITE")[1], "407 Proxy Authentication Required", "p2", ['Proxy-Authenticate: Digest realm="example.com", nonce="n2", qop="auth"'], null);
    clock.advance(100);
    expect(peer.requests("INVITE").length).toBe(2);
    expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toBe("0 ended 407 Proxy Authentication Required");
  });

  it("5xx and 6xx end the call with that status", () => {
    for (const status of ["503 Service Unavailable", "603 Decline", "404 Not Found"]) {
      const { clock, peer, door, invite, call } = uac();
      peer.respond(invite, status, "x", [], null);
      clock.advance(100);
      expect(call.state).toBe(CALL_FREE);
      expect(door.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toBe("0 ended " + status);
      expect(peer.requests("ACK").length).toBe(1);
    }
  });

  it("the callee's answer speaks from its side: recvonly means we only send, sendonly that we only receive", () => {
    for (const [attr, ours] of [["a=recvonly", SDP_SENDONLY], ["a=sendonly", SDP_RECVONLY], ["a=inactive", SDP_INACTIVE]] as const) {
      const { clock, peer, call, invite } = uac();
      peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0], [attr]));
      clock.advance(100);
      expect([attr, call.state, call.mediaDirection]).toEqual([attr, CALL_ACTIVE, ours]);
    }
  });

  it("a call the door placed: o= keeps its version for the same description and bumps it once per change (hold, telephone-event dropped)", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0, 101]));
    clock.advance(100);
    expect(call.state).toBe(CALL_ACTIVE);
    const origin = (t: string) => /^o=\S+ (\S+) (\d+)/m.exec(body(t))!;
    const [, session, v0] = origin(invite.text);
    // The callee's re-INVITEs: From/To swapped from our INVITE, its own CSeq.
    const ours = header(invite.text, "From");
    const reinvite = (cseq: number, sdp: string) => [
      `INVITE sip:door@10.0.0.1:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${PEER}:5060;branch=z9hG4bKre${cseq}`, "Max-Forwards: 70",
      `From: <sip:a@${PEER}>;tag=t1`, `To: ${ours}`, `Call-ID: ${header(invite.text, "Call-ID")}`, `CSeq: ${cseq} INVITE`,
      `Contact: <sip:a@${PEER}:5060>`, "Content-Type: application/sdp", `Content-Length: ${sdp.length}`, "", sdp,
    ].join("\r\n");
    const answers: string[] = [];
    for (const [cseq, sdp] of [
      [1, sdpBody(PEER, 30000, [0, 101], ["a=sendonly"], 2)], // hold: changes our direction
      [2, sdpBody(PEER, 30000, [0, 101], ["a=sendonly"], 2)], // the same offer: same answer
      [3, sdpBody(PEER, 30000, [0], [], 3)],                  // resume without telephone-event
    ] as const) {
      peer.send(reinvite(cseq, sdp), "10.0.0.1", 5060);
      clock.advance(50);
      const ok = peer.responses(200).at(-1)!;
      expect(header(ok.text, "CSeq")).toBe(cseq + " INVITE");
      answers.push(ok.text);
      peer.send(reinvite(cseq, "").replace(/^INVITE/, "ACK").replace(/CSeq: (\d+) INVITE/, "CSeq: $1 ACK")
        .replace(/branch=z9hG4bKre/, "branch=z9hG4bKack").replace("Content-Type: application/sdp\r\n", ""), "10.0.0.1", 5060);
      clock.advance(50);
    }
    expect(answers.map((t) => origin(t)[1])).toEqual([session, session, session]);
    expect(answers.map((t) => Number(origin(t)[2]) - Number(v0))).toEqual([1, 1, 2]);
    expect(body(answers[0])).toMatch(/a=recvonly/);
    expect(body(answers[2])).toMatch(/^m=audio 40000 RTP\/AVP 0\r$/m);
    expect(call.mediaDirection).toBe(SDP_SENDRECV);
  });

  it("two calls at once describe two sessions: distinct o= session ids", () => {
    const { clock, door, peer } = world();
    door.ua.calls!.config.maxCalls = 2;
    expect(typeof door.call(`sip:a@${PEER}:5060`)).toBe("object");
    expect(typeof door.call(`sip:b@${PEER}:5060`)).toBe("object");
    clock.advance(50);
    const ids = peer.requests("INVITE").map((r) => /^o=\S+ (\S+)/m.exec(body(r.text))![1]);
    expect(ids.length).toBe(2);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("a callee answering telephone-event under another number: we send its number, it may send ours (RFC 3264 §6.1 SHOULD keep it)", () => {
    const { clock, peer, call, invite } = uac();
    const answer = sdpBody(PEER, 30000, [0]).replace("RTP/AVP 0", "RTP/AVP 0 96") + "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n";
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], answer);
    clock.advance(100);
    expect([call.state, call.mediaTelephoneEvent, call.mediaTelephoneEventIn]).toEqual([CALL_ACTIVE, 96, 101]);
  });

  it("183 with SDP starts early media before the answer", () => {
    const { clock, peer, door, invite, call } = uac();
    peer.respond(invite, "183 Session Progress", "e1", [`Contact: <sip:resident@${PEER}:5060>`], sdpBody(PEER, 30020, [8]));
    clock.advance(100);
    expect(call.mediaRemotePort).toBe(30020);
    expect(call.mediaPayload).toBe(8);
    expect(door.events.some((e) => e.kind === "media")).toBe(true);
    const inv = parse(invite.text);
    expect(inv.method).toBe(1);
  });

  it("the UAC's dialog: none after a 180 without To tag, early after a 180 with one, confirmed after the 200", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "180 Ringing", null, [], null);
    clock.advance(100);
    expect([call.state, call.dialog.state]).toEqual([CALL_RINGING, DLG_NONE]);
    peer.respond(invite, "180 Ringing", "t1", [`Contact: <sip:a@${PEER}:5060>`], null);
    clock.advance(100);
    expect([call.state, call.dialog.state, call.dialog.remoteTag]).toEqual([CALL_RINGING, DLG_EARLY, "t1"]);
    expect(peer.requests("ACK")).toEqual([]);
    peer.respond(invite, "200 OK", "t1", [`Contact: <sip:a@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
    clock.advance(100);
    expect([call.state, call.dialog.state, call.dialog.remoteTag]).toEqual([CALL_ACTIVE, DLG_CONFIRMED, "t1"]);
    expect(peer.requests("ACK").map((r) => startLine(r.text) + " " + tagOf(r))).toEqual([`ACK sip:a@${PEER}:5060 SIP/2.0 t1`]);
  });

  it("a 2xx from another fork than the 180's takes over the early dialog: its tag, its Contact for the ACK and BYE, no BYE to it", () => {
    const { clock, door, peer, call, invite } = uac();
    peer.respond(invite, "180 Ringing", "fork-a", [`Contact: <sip:a@${PEER}:5060>`], null);
    clock.advance(100);
    expect([call.dialog.state, call.dialog.remoteTag]).toEqual([DLG_EARLY, "fork-a"]);
    peer.respond(invite, "200 OK", "fork-b", [`Contact: <sip:b@${PEER}:5060>`], sdpBody(PEER, 30010, [0]));
    clock.advance(100);
    expect([call.state, call.dialog.state, call.dialog.remoteTag, call.mediaRemotePort]).toEqual([CALL_ACTIVE, DLG_CONFIRMED, "fork-b", 30010]);
    expect(peer.requests("ACK").map((r) => startLine(r.text) + " " + tagOf(r))).toEqual([`ACK sip:b@${PEER}:5060 SIP/2.0 fork-b`]);
    expect(peer.requests("BYE")).toEqual([]);
    door.hangup(call);
    clock.advance(50);
    expect(peer.requests("BYE").map((r) => startLine(r.text) + " " + tagOf(r))).toEqual([`BYE sip:b@${PEER}:5060 SIP/2.0 fork-b`]);
  });

  it("a 100 Trying alone: no INVITE retransmissions, no Timer B; the ring timeout sends the CANCEL", () => {
    const { clock, peer, call, invite } = uac();
    peer.respond(invite, "100 Trying", null, [], null);
    clock.advance(10000);
    expect(peer.requests("INVITE").length).toBe(1);
    expect(call.state).toBe(CALL_CALLING);
    clock.advance(19900); // t = 29950: still waiting
    expect(peer.requests("CANCEL")).toEqual([]);
    expect(call.state).toBe(CALL_CALLING);
    clock.advance(100);
    const cancel = peer.requests("CANCEL");
    expect(cancel.map((r) => r.at)).toEqual([30010]); // sent at ringTimeout (30 s), 10 ms on the wire
    expect(startLine(cancel[0].text)).toBe(`CANCEL sip:resident@${PEER}:5060 SIP/2.0`);
    expect(header(cancel[0].text, "CSeq")).toBe("1 CANCEL");
    expect(header(cancel[0].text, "Via")).toBe(header(invite.text, "Via"));
    expect(peer.requests("INVITE").length).toBe(1);
    peer.respond(cancel[0], "200 OK", "c1", [], null);
    peer.respond(invite, "487 Request Terminated", "c1", [], null);
    clock.advance(100);
    expect(call.state).toBe(CALL_FREE);
  });

  it("a Record-Route list in the 200 is reversed (§12.1.2): ACK and BYE go to the last entry, Route headers in reverse order", () => {
    for (const rr of [["Record-Route: <sip:p1@10.0.0.5;lr>, <sip:p2@10.0.0.6;lr>"], ["Record-Route: <sip:p1@10.0.0.5;lr>", "Record-Route: <sip:p2@10.0.0.6;lr>"]]) {
      const { clock, network, door, peer, call, invite } = uac();
      const p1 = new RawPeer(network, "10.0.0.5", 5060);
      const p2 = new RawPeer(network, "10.0.0.6", 5060);
      peer.respond(invite, "200 OK", "t1", [...rr, `Contact: <sip:resident@${PEER}:5060>`], sdpBody(PEER, 30000, [0]));
      clock.advance(100);
      expect(call.state).toBe(CALL_ACTIVE);
      door.hangup(call);
      clock.advance(50);
      expect(p2.lines(), rr.join(" | ")).toEqual([`ACK sip:resident@${PEER}:5060 SIP/2.0`, `BYE sip:resident@${PEER}:5060 SIP/2.0`]);
      for (const r of p2.received) expect(r.text.match(/^Route: .*$/gm)).toEqual(["Route: <sip:p2@10.0.0.6;lr>", "Route: <sip:p1@10.0.0.5;lr>"]);
      expect(p1.received).toEqual([]);
      expect(peer.requests("ACK")).toEqual([]);
      expect(peer.requests("BYE")).toEqual([]);
    }
  });
});
