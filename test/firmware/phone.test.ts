// The door phone on the virtual network: a resident calls (or is called), talks, sends the code as RFC 4733 or INFO, and the relay pulses.
import { describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { MEDIA_PACKETS_RECEIVED } from "../../firmware/media.ts";
import { simPhoneConfig, type SimPhoneOptions } from "../../sim/phone-setup.ts";
import { CALL_ACTIVE, type Call } from "../../sip-core/index.ts";
import { ToneAudio, goertzelPower } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";
import { RawPeer, header, sdpBody } from "../sim/call-peer.ts";

const DOOR = "10.0.0.1";
const RESIDENT = "10.0.0.2";

function world(o: { door?: SimPhoneOptions; resident?: SimPhoneOptions; loss?: number; duplicate?: number; seed?: number; residentTone?: number[] } = {}) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: o.seed ?? 5, defaults: { latency: 15, jitter: 5 } });
  const doorBoard = new VirtualBoard(clock, new ToneAudio({ frequencies: 440 }));
  const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), doorBoard,
    simPhoneConfig(DOOR, { code: "1234#", allow: ["resident@" + RESIDENT], targets: [`sip:resident@${RESIDENT}:5060`], ...o.door }));
  const residentBoard = new VirtualBoard(clock, new ToneAudio({ frequencies: o.residentTone ?? 1000 }));
  const resident = new DoorPhone(new VirtualPlatform({ network, address: RESIDENT }), residentBoard,
    simPhoneConfig(RESIDENT, { user: "resident", allow: ["door@" + DOOR], relayPin: "D5", buttonPin: "", ...o.resident }));
  expect(door.open()).toBe(0);
  expect(resident.open()).toBe(0);
  if (o.loss !== undefined || o.duplicate !== undefined) network.setDefaults({ loss: o.loss ?? 0, duplicate: o.duplicate ?? 0 });
  const relay = () => doorBoard.transitions("D4").map((t): [number, boolean] => [t.at, t.on]);
  return { clock, network, door, resident, doorBoard, residentBoard, relay };
}

/** The resident sends digits as RFC 4733 events, one every 300 ms. */
function sendCode(clock: VirtualClock, resident: DoorPhone, code: string): void {
  const s = resident.sessions[0];
  for (const ch of code) expect(s.sendDigit(ch.charCodeAt(0), 100)).toBe(true);
  clock.advance(400 * code.length + 500);
}

describe("door phone: calls with audio, DTMF and the relay", () => {
  it("the resident calls the door, the door answers, audio flows both ways, the code as RFC 4733 events pulses the relay for 3 s", () => {
    const { clock, door, resident, doorBoard, relay } = world();
    const call = resident.call(`sip:door@${DOOR}:5060`) as Call;
    clock.advance(2000);
    expect(call.state).toBe(CALL_ACTIVE);
    clock.advance(2000);
    // ~50 packets a second each way; the door's speaker hears the resident's 1000 Hz tone.
    expect(door.sessions[0].stats[MEDIA_PACKETS_RECEIVED]).toBeGreaterThan(90);
    expect(resident.sessions[0].stats[MEDIA_PACKETS_RECEIVED]).toBeGreaterThan(90);
    const heard = (doorBoard.openAudio({ sampleRate: 8000 }) as ToneAudio).recorded();
    expect(goertzelPower(heard, 1000, 8000, heard.length - 1600, 1600)).toBeGreaterThan(100 * goertzelPower(heard, 440, 8000, heard.length - 1600, 1600));
    const t0 = clock.now();
    sendCode(clock, resident, "1234#");
    expect(door.rtpDigits).toBe(5);
    const r = relay();
    expect(r.length).toBe(1);
    expect(r[0][1]).toBe(true);
    expect(r[0][0]).toBeGreaterThan(t0);
    clock.advance(3000);
    expect(relay()).toEqual([r[0], [r[0][0] + 3000, false]]);
    expect(door.door.opens).toBe(1);
    const e = { at: 0, kind: "", who: "", detail: "" };
    expect(door.door.auditEntry(0, e)).toBe(true);
    expect([e.kind, e.who]).toEqual(["open", `sip:resident@${RESIDENT}`]);
  });

  it("the visitor presses the button: the door calls the resident, who answers and opens with the code", () => {
    const { clock, door, resident, doorBoard, relay } = world();
    doorBoard.pressButton("D0", 200);
    clock.advance(3000);
    const c = door.ua.calls!.calls[0];
    expect(c.outgoing).toBe(true);
    expect(c.state).toBe(CALL_ACTIVE);
    sendCode(clock, resident, "1234#");
    expect(relay().length).toBe(1);
    expect(door.door.opens).toBe(1);
  });

  it("RFC 4733 with 10 % loss and duplicated packets: the code still opens once; every digit counted once", () => {
    const { clock, door, resident, relay } = world({ loss: 0.1, duplicate: 0.3, seed: 11 });
    resident.call(`sip:door@${DOOR}:5060`);
    clock.advance(4000);
    sendCode(clock, resident, "1234#");
    expect(door.rtpDigits).toBe(5);
    expect(door.door.opens).toBe(1);
    expect(relay().filter((t) => t[1]).length).toBe(1);
  });

  it("a wrong code does not open; three wrong codes lock DTMF opening out, even for the right code afterwards", () => {
    const { clock, door, resident, relay } = world();
    resident.call(`sip:door@${DOOR}:5060`);
    clock.advance(4000);
    sendCode(clock, resident, "1111#");
    sendCode(clock, resident, "2222#");
    sendCode(clock, resident, "3333#");
    sendCode(clock, resident, "1234#");
    expect(relay()).toEqual([]);
    expect(door.door.wrongCodes).toBe(3);
    expect(door.door.lockouts).toBe(1);
    expect(door.door.locked).toBe(true);
    expect(door.door.auditText()).toMatch(/lockout/);
  });

  it("a caller the trust policy does not allow gets 403 and is counted; the door never hears its digits", () => {
    const a = world({ door: { allow: ["10.0.0.77"] } });
    const states: string[] = [];
    const c1 = a.resident.call(`sip:door@${DOOR}:5060`) as Call;
    a.clock.advance(1000);
    expect(c1.state).toBe(0);
    expect(a.door.counters.refused).toBe(1);
    expect(a.door.ua.calls!.liveCount()).toBe(0);
    expect(a.relay()).toEqual([]);
    void states;
  });

  it("in-band DTMF tones in the audio are never taken as digits", () => {
    // The resident's microphone plays the dual tone of '1' (697 + 1209 Hz) for the whole call.
    const { clock, door, resident, relay } = world({ residentTone: [697, 1209] });
    resident.call(`sip:door@${DOOR}:5060`);
    clock.advance(10000);
    expect(door.sessions[0].stats[MEDIA_PACKETS_RECEIVED]).toBeGreaterThan(400);
    expect(door.rtpDigits).toBe(0);
    expect(relay()).toEqual([]);
  });

  it("INFO DTMF (application/dtmf-relay) from a trusted caller opens the door", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 2, defaults: { latency: 10 } });
    const board = new VirtualBoard(clock, null);
    const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board,
      simPhoneConfig(DOOR, { code: "1234#", allow: ["10.0.0.9"], autoAnswer: { delayMs: 0 } }));
    expect(door.open()).toBe(0);
    const peer = new RawPeer(network, "10.0.0.9", 5060);
    const sdp = "v=0\r\no=p 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
    const head = (method: string, cseq: number, tag: string) => [`${method} sip:door@${DOOR} SIP/2.0`, `Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK${method}${cseq}`,
      "Max-Forwards: 70", "From: <sip:guard@10.0.0.9>;tag=g1", `To: <sip:door@${DOOR}>${tag}`, "Call-ID: info-call", `CSeq: ${cseq} ${method}`, "Contact: <sip:guard@10.0.0.9:5060>"];
    peer.send([...head("INVITE", 1, ""), "Content-Type: application/sdp", "Content-Length: " + sdp.length, "", sdp].join("\r\n"), DOOR, 5060);
    clock.advance(100);
    const tag = ";tag=" + /;tag=(\S+)/.exec(header(peer.responses(200)[0].text, "To"))![1];
    peer.send([...head("ACK", 1, tag), "Content-Length: 0", "", ""].join("\r\n"), DOOR, 5060);
    let cseq = 2;
    for (const d of "1234#") {
      const b = `Signal=${d}\r\nDuration=160\r\n`;
      peer.send([...head("INFO", cseq++, tag), "Content-Type: application/dtmf-relay", "Content-Length: " + b.length, "", b].join("\r\n"), DOOR, 5060);
      clock.advance(100);
    }
    expect(door.infoDigits).toBe(5);
    expect(board.transitions("D4").map((t) => t.on)).toEqual([true]);
    clock.advance(3000);
    expect(board.transitions("D4").map((t) => t.on)).toEqual([true, false]);
  });

  it("hanging up stops both RTP sessions: nothing more is sent after the BYE", () => {
    const { clock, door, resident, network } = world();
    const call = resident.call(`sip:door@${DOOR}:5060`) as Call;
    clock.advance(3000);
    resident.hangup(call);
    clock.advance(500);
    expect(door.sessions[0].isRunning()).toBe(false);
    expect(resident.sessions[0].isRunning()).toBe(false);
    const sent = network.stats.sent;
    clock.advance(1000);
    expect(network.stats.sent).toBe(sent); // silence after the BYE
  });
});

describe("RTP timeout", () => {
  it("the peer vanishes mid-call: after rtpTimeout without RTP the door hangs up (BYE), not before", () => {
    const { clock, network, door, resident } = world({ door: { calls: { rtpTimeout: 10 } } });
    resident.call(`sip:door@${DOOR}:5060`);
    clock.advance(4000);
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
    const cut = clock.now();
    network.setLinks(DOOR, RESIDENT, { loss: 1 }); // the resident's phone is gone
    clock.advance(9500);
    expect(network.capture().some((r) => r.from === DOOR && r.data.startsWith("BYE"))).toBe(false);
    clock.advance(1500);
    const bye = network.capture().find((r) => r.from === DOOR && r.data.startsWith("BYE"))!;
    expect(bye).toBeDefined();
    expect(bye.time - cut).toBeGreaterThanOrEqual(10000);
    expect(bye.time - cut).toBeLessThan(10100);
    clock.advance(40000);
    expect(door.ua.calls!.liveCount()).toBe(0);
    expect(door.sessions[0].isRunning()).toBe(false);
  });

  it("0 turns it off", () => {
    const { clock, network, door, resident } = world({ door: { calls: { rtpTimeout: 0, maxDuration: 0 } } });
    resident.call(`sip:door@${DOOR}:5060`);
    clock.advance(4000);
    network.setLinks(DOOR, RESIDENT, { loss: 1 });
    clock.advance(120000);
    expect(network.capture().some((r) => r.from === DOOR && r.data.startsWith("BYE"))).toBe(false);
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
  });
});

/** One RFC 4733 packet (payload type 101) carrying `event`, as a binary string. */
function dtmfPacket(seq: number, ts: number, event: number, end: boolean, duration: number, marker: boolean): string {
  const b = Buffer.alloc(16);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | 101;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(0x5eed, 8);
  b[12] = event;
  b[13] = (end ? 0x80 : 0) | 10;
  b.writeUInt16BE(duration, 14);
  return b.toString("latin1");
}

describe("door phone: no opening outside an established, authorised call", () => {
  it("the code in the early dialog (RFC 4733 in early media, INFO before the 200) and after the BYE never opens; the same code once answered does", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 4, defaults: { latency: 10 } });
    const board = new VirtualBoard(clock, null);
    const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board,
      simPhoneConfig(DOOR, { code: "1234#", allow: ["10.0.0.9"], targets: ["sip:guard@10.0.0.9:5060"], autoAnswer: { delayMs: 0 } }));
    expect(door.open()).toBe(0);
    const peer = new RawPeer(network, "10.0.0.9", 5060);
    const media = new RawPeer(network, "10.0.0.9", 30000);
    expect(door.buttonPressed()).not.toBe(null);
    clock.advance(100);
    const invite = peer.requests("INVITE")[0];
    const doorRtp = Number(/m=audio (\d+)/.exec(invite.text)![1]);
    const doorContact = /Contact: <([^>]+)>/.exec(invite.text)![1];
    const fromDoor = header(invite.text, "From");
    const callId = header(invite.text, "Call-ID");
    const offer = sdpBody("10.0.0.9", 30000, [0, 101]);
    let seq = 1, ts = 1000;
    const keyCodeAsRtp = () => {
      for (const ch of "1234#") {
        const ev = ch === "#" ? 11 : Number(ch);
        media.send(dtmfPacket(seq++, ts, ev, false, 160, true), DOOR, doorRtp);
        clock.advance(20);
        media.send(dtmfPacket(seq++, ts, ev, false, 320, false), DOOR, doorRtp);
        clock.advance(20);
        for (let k = 0; k < 3; k++) media.send(dtmfPacket(seq++, ts, ev, true, 480, false), DOOR, doorRtp);
        clock.advance(200);
        ts += 2400;
      }
      clock.advance(1500); // the receiver releases held digits 1 s on
    };
    let cseq = 1;
    const info = () => {
      for (const d of "1234#") {
        const b = `Signal=${d}\r\nDuration=160\r\n`;
        peer.send([`INFO ${doorContact} SIP/2.0`, `Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKinfo${cseq}`, "Max-Forwards: 70",
          `From: <sip:guard@10.0.0.9:5060>;tag=guard`, `To: ${fromDoor}`, `Call-ID: ${callId}`, `CSeq: ${cseq++} INFO`,
          "Content-Type: application/dtmf-relay", "Content-Length: " + b.length, "", b].join("\r\n"), DOOR, 5060);
        clock.advance(50);
      }
    };
    // Early dialog: 183 with SDP, then the code both ways.
    peer.respond(invite, "183 Session Progress", "guard", ["Contact: <sip:guard@10.0.0.9:5060>"], offer);
    clock.advance(100);
    keyCodeAsRtp();
    info();
    expect(door.door.opens).toBe(0);
    expect(board.transitions("D4")).toEqual([]);
    // Answered: the same code opens.
    peer.respond(invite, "200 OK", "guard", ["Contact: <sip:guard@10.0.0.9:5060>"], offer);
    clock.advance(100);
    expect(peer.requests("ACK").length).toBe(1);
    expect(door.ua.calls!.calls[0].state).toBe(CALL_ACTIVE);
    keyCodeAsRtp();
    expect(door.door.opens).toBe(1);
    expect(board.transitions("D4").map((t) => t.on)).toEqual([true]);
    clock.advance(3000);
    // Hung up by the peer: the code again, as RTP to the old port and as INFO (481), opens nothing.
    peer.send([`BYE ${doorContact} SIP/2.0`, "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKbye", "Max-Forwards: 70",
      `From: <sip:guard@10.0.0.9:5060>;tag=guard`, `To: ${fromDoor}`, `Call-ID: ${callId}`, `CSeq: ${cseq++} BYE`, "Content-Length: 0", "", ""].join("\r\n"), DOOR, 5060);
    clock.advance(100);
    expect(door.ua.calls!.liveCount()).toBe(0);
    const before481 = peer.responses(481).length;
    keyCodeAsRtp();
    info();
    expect(peer.responses(481).length - before481).toBe(5);
    expect(door.door.opens).toBe(1);
    expect(board.transitions("D4").map((t) => t.on)).toEqual([true, false]);
  });
});
