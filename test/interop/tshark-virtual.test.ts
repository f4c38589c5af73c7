// Wireshark's opinion of everything the stack sends in the call flows played on the virtual network (SIP, RTP, RFC 4733 events).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import type { Call } from "../../sip-core/index.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { writePcap } from "../../sim/pcap.ts";
import { ToneAudio } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";
import { RawPeer, header, sdpBody } from "../sim/call-peer.ts";
import { decodeProblems } from "./tshark.ts";

const dir = mkdtempSync(join(tmpdir(), "doorsip-vpcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(pcap: string, decode: string[], filter: string): string[] {
  const args = ["-n", "-r", pcap];
  for (const d of decode) args.push("-d", d);
  args.push("-Y", filter);
  return execFileSync("tshark", args, { encoding: "utf8", timeout: 30000 }).split("\n").map((l) => l.trim()).filter((l) => l !== "");
}


/** Plays most call flows on one virtual network and returns the pcap of what the stack sent. */
function play(): { pcap: string; stack: Set<string> } {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: 9, defaults: { latency: 10, jitter: 4 } });
  const board = new VirtualBoard(clock, new ToneAudio({ frequencies: 440 }));
  const door = new DoorPhone(new VirtualPlatform({ network, address: "10.0.0.1" }), board, simPhoneConfig("10.0.0.1", {
    code: "1234#", allow: ["10.0.0.2", "10.0.0.9"], targets: ["sip:resident@10.0.0.2:5060"], calls: { authUser: "door", password: "pw" },
  }));
  const resident = new DoorPhone(new VirtualPlatform({ network, address: "10.0.0.2" }), new VirtualBoard(clock, new ToneAudio({ frequencies: 1000 })),
    simPhoneConfig("10.0.0.2", { user: "resident", relayPin: "D5", buttonPin: "", allow: ["10.0.0.1"] }));
  const busy = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.3" }), address: "10.0.0.3", port: 5060, inviteStatus: 486 });
  for (const n of [door, resident, busy]) expect(n.open()).toBe(0);
  const peer = new RawPeer(network, "10.0.0.9", 5060);
  // 1. Button call, RFC 4733 code, hang-up by the resident.
  board.pressButton("D0", 100);
  clock.advance(3000);
  for (const d of "1234#") resident.sessions[0].sendDigit(d.charCodeAt(0), 100);
  clock.advance(3000);
  resident.hangup(resident.ua.calls!.calls[0]);
  clock.advance(1000);
  // 2. Busy, then a cancelled call (ring timeout), then 302 → 407 → 200 with re-INVITE hold, INFO and BYE.
  door.call("sip:x@10.0.0.3:5060");
  clock.advance(1000);
  const ringing = door.call("sip:resident@10.0.0.2:5060") as Call;
  clock.advance(300);
  door.hangup(ringing);
  clock.advance(2000);
  door.call("sip:peer@10.0.0.9:5060");
  clock.advance(100);
  const inv1 = peer.requests("INVITE")[0];
  peer.respond(inv1, "302 Moved Temporarily", "r1", ["Contact: <sip:peer2@10.0.0.9:5060>"], null);
  clock.advance(100);
  const inv2 = peer.requests("INVITE")[1];
  peer.respond(inv2, "407 Proxy Authentication Required", "p1", ['Proxy-Authenticate: Digest realm="x", nonce="n1", qop="auth"'], null);
  clock.advance(100);
  const inv3 = peer.requests("INVITE")[2];
  peer.respond(inv3, "180 Ringing", "ok1", ["Contact: <sip:peer2@10.0.0.9:5060>"], null);
  peer.respond(inv3, "200 OK", "ok1", ["Contact: <sip:peer2@10.0.0.9:5060>"], sdpBody("10.0.0.9", 30000, [0, 101]));
  clock.advance(2000);
  const call = door.ua.calls!.calls.find((c) => c.live())!;
  const reinvite = (cseq: number, dir: string) => [
    "INVITE sip:door@10.0.0.1:5060 SIP/2.0", `Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKre${cseq}`, "Max-Forwards: 70",
    `From: <sip:peer2@10.0.0.9:5060>;tag=ok1`, `To: ${header(inv3.text, "From")}`, `Call-ID: ${call.dialog.callId}`, `CSeq: ${cseq} INVITE`,
    "Contact: <sip:peer2@10.0.0.9:5060>", "Content-Type: application/sdp",
  ];
  const offer = sdpBody("10.0.0.9", 30000, [0, 101], ["a=" + "sendonly"], 2);
  peer.send([...reinvite(1, "sendonly"), "Content-Length: " + offer.length, "", offer].join("\r\n"), "10.0.0.1", 5060);
  clock.advance(3000);
  door.hangup(call);
  clock.advance(2000);
  // 3. §8.2 answers: 405, 501, 420, 481.
  for (const [m, extra] of [["SUBSCRIBE", ""], ["FOO", ""], ["OPTIONS", "Require: 100rel\r\n"], ["BYE", ""]]) {
    peer.send(`${m} sip:door@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK${m}\r\nMax-Forwards: 70\r\nFrom: <sip:p@10.0.0.9>;tag=a\r\nTo: <sip:door@10.0.0.1>${m === "BYE" ? ";tag=zz" : ""}\r\nCall-ID: q-${m}\r\nCSeq: 1 ${m}\r\n${extra}Content-Length: 0\r\n\r\n`, "10.0.0.1", 5060);
  }
  clock.advance(40000);
  const stack = new Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  const pcap = join(dir, "calls.pcap");
  writeFileSync(pcap, writePcap(network.capture().filter((r) => stack.has(r.from))));
  return { pcap, stack };
}

describe("tshark decodes everything the stack sent in the virtual call flows", () => {
  const { pcap } = play();
  const rtp = ["udp.port==40000,rtp", "udp.port==40002,rtp"];

  it("SIP: no malformed packet, no expert warning, nothing on 5060 that is not SIP; every kind of message present", () => {
    expect(decodeProblems(pcap, [5060])).toEqual([]);
    const methods = tshark(pcap, [], "sip.Method").join("\n");
    for (const m of ["INVITE", "ACK", "BYE", "CANCEL"]) expect(methods).toContain(m);
    const statuses = tshark(pcap, [], "sip.Status-Code").join("\n");
    for (const s of ["180 Ringing", "200 OK", "486 Busy Here", "487 Request Terminated", "405 Method Not Allowed", "501 Not Implemented", "420 Bad Extension", "481 Call"]) {
      expect(statuses).toContain(s);
    }
    expect(tshark(pcap, [], "sdp.media").length).toBeGreaterThanOrEqual(4);
  });

  it("RTP and RFC 4733 events decode cleanly; the five digits of 1234# are there with their end packets", () => {
    expect(tshark(pcap, rtp, "rtp && (_ws.malformed || _ws.expert.severity >= warning)")).toEqual([]);
    expect(tshark(pcap, rtp, "rtp.p_type == 0").length).toBeGreaterThan(200);
    const events = tshark(pcap, rtp, "rtpevent.end_of_event == 1");
    expect(events.length).toBe(15); // three end packets per digit (RFC 4733 §2.5.1.4)
  });
});
