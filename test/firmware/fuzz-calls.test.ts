// Malformed and out-of-order call traffic against the door phone: nothing throws, nothing opens the door, every pool drains.
import { describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { SeededRandom, VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { RawPeer, sdpBody } from "../sim/call-peer.ts";

const DOOR = "10.0.0.1";
const PEER = "10.0.0.9";

function request(method: string, cseq: number, toTag: string, body: string, ctype: string, callId: string, branch: string): string {
  return [
    `${method} sip:door@${DOOR}:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${PEER}:5060;branch=${branch};rport`, "Max-Forwards: 70",
    `From: <sip:x@${PEER}>;tag=f1`, `To: <sip:door@${DOOR}>${toTag}`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`,
    `Contact: <sip:x@${PEER}:5060>`, ...(body ? [`Content-Type: ${ctype}`] : []), `Content-Length: ${body.length}`, "", body,
  ].join("\r\n");
}

/** One byte of text changed, cut, or duplicated (the parser and the call layer must both cope). */
function mutate(r: SeededRandom, s: string): string {
  const i = r.below(s.length);
  switch (r.below(4)) {
    case 0: return s.slice(0, i) + String.fromCharCode(r.below(256)) + s.slice(i + 1);
    case 1: return s.slice(0, i);
    case 2: return s.slice(0, i) + s.slice(i, i + 20) + s.slice(i);
    default: return s.replace(/\r\n/, "\n");
  }
}

describe("fuzzed call traffic", () => {
  it("2,000 messages (INVITE, ACK, BYE, CANCEL, INFO, re-INVITE; valid, mutated, out of order) from untrusted and trusted sources", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 99, defaults: { latency: 5 } });
    const board = new VirtualBoard(clock, null);
    const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board,
      simPhoneConfig(DOOR, { code: "1234#", allow: [PEER], autoAnswer: { delayMs: 0 } }));
    expect(door.open()).toBe(0);
    const peer = new RawPeer(network, PEER, 5060);
    const r = new SeededRandom(7);
    const methods = ["INVITE", "ACK", "BYE", "CANCEL", "INFO", "OPTIONS", "PRACK", "UPDATE"];
    // The door's 200s to INVITE so far, gathered as they arrive (filtering every message each round made the
    // test quadratic: seconds on a loaded machine).
    const oks: string[] = [];
    let seen = 0;
    for (let n = 0; n < 2000; n++) {
      const method = methods[r.below(methods.length)];
      // In-dialog requests mostly aim at a dialog the door really answered (its Call-ID and To tag).
      for (; seen < peer.received.length; seen++) {
        const t = peer.received[seen].text;
        if (t.startsWith("SIP/2.0 200") && /^CSeq: \d+ INVITE\r$/m.test(t)) oks.push(t);
      }
      const ok = oks.length > 0 && r.below(3) !== 0 ? oks[r.below(oks.length)] : null;
      const okTag = ok !== null ? /^To: .*;tag=([^;\s]+)/m.exec(ok) : null;
      const callId = ok !== null && method !== "INVITE" ? /^Call-ID: (\S+)\r$/m.exec(ok)![1] : "c" + r.below(4) + "-" + n % 50;
      const tag = method === "INVITE" && r.below(2) === 0 ? "" : okTag !== null ? ";tag=" + okTag[1] : r.below(2) === 0 ? ";tag=bogus" : "";
      const body = method === "INVITE" ? sdpBody(PEER, 30000 + 2 * r.below(10), r.below(3) === 0 ? [9] : [0, 101]) :
        method === "INFO" ? "Signal=" + "1234#*9"[r.below(7)] + "\r\n" : "";
      const ctype = method === "INFO" ? (r.below(4) === 0 ? "text/plain" : "application/dtmf-relay") : "application/sdp";
      let text = request(method, 1 + n, tag, body, ctype, callId, "z9hG4bK" + r.below(1000));
      if (r.below(3) === 0) text = mutate(r, text);
      expect(() => peer.send(text, DOOR, 5060)).not.toThrow();
      expect(() => clock.advance(r.below(400))).not.toThrow();
    }
    // Whatever happened, the stack settles: calls end (no ACK → BYE, max duration), transactions drain.
    expect(() => clock.advance(400_000)).not.toThrow();
    expect(door.ua.calls!.liveCount()).toBe(0);
    expect(door.layer.active).toBe(0);
    expect(door.sessions.every((s) => !s.isRunning())).toBe(true);
    // Digits arrived only in calls (the allowed peer's); any opening is in the audit log, and the relay is off now.
    expect(board.isOn("D4")).toBe(false);
    expect(door.door.opens).toBe(board.transitions("D4").filter((t) => t.on).length);
    // The run did reach the call layer: calls were accepted and INFO digits handled.
    expect(door.counters.accepted, JSON.stringify(door.counters) + " info " + door.infoDigits + " ua " + JSON.stringify(door.ua.stats)).toBeGreaterThan(20);
    expect(door.infoDigits).toBeGreaterThan(5);
  }, 30_000); // a heavy run: vitest's 5 s default was a wall-clock limit a loaded machine could miss

  it("an untrusted scanner's INVITEs, INFOs and BYEs never open the door and leave nothing behind", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 5, defaults: { latency: 5 } });
    const board = new VirtualBoard(clock, null);
    const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board, simPhoneConfig(DOOR, { code: "1", allow: ["10.0.0.77"], flood: { rate: 0, total: 0 } })); // the trust policy alone
    expect(door.open()).toBe(0);
    const peer = new RawPeer(network, PEER, 5060);
    for (let n = 0; n < 300; n++) {
      peer.send(request("INVITE", 1, "", sdpBody(PEER, 30000, [0]), "application/sdp", "s" + n, "z9hG4bKs" + n), DOOR, 5060);
      peer.send(request("INFO", 2, ";tag=guess", "Signal=1\r\n", "application/dtmf-relay", "s" + n, "z9hG4bKi" + n), DOOR, 5060);
      peer.send(request("BYE", 3, ";tag=guess", "", "", "s" + n, "z9hG4bKb" + n), DOOR, 5060);
      clock.advance(20);
    }
    clock.advance(60_000);
    expect(board.transitions("D4")).toEqual([]);
    // Every INVITE is answered 403 (statelessly: the refused ones do not wait 32 s for an ACK the scanner never
    // sends, so the pool never fills); never 200.
    const invites = peer.received.filter((m) => /^CSeq: 1 INVITE\r$/m.test(m.text) && !m.text.startsWith("SIP/2.0 100"));
    const statuses = new Set(invites.map((m) => m.text.substring(8, 11)));
    expect([...statuses].sort()).toEqual(["403"]);
    expect(new Set(invites.map((m) => /^Call-ID: (\S+)\r$/m.exec(m.text)![1])).size).toBe(300);
    expect(door.counters.refused).toBe(300);
    expect(door.layer.stats.poolFull).toBe(0);
    expect(door.ua.calls!.liveCount()).toBe(0);
    expect(door.layer.active).toBe(0);
  });
});
