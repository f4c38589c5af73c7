// The door phone (firmware on the Node platform, 127.0.0.1) against baresip 1.0.0: calls both ways, RTP both ways, the code as RFC 4733 events opening the relay.
import { afterAll, describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../../firmware/media.ts";
import { CALL_ACTIVE } from "../../sip-core/index.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import { ToneAudio, goertzelPower } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { readWav, startBaresip, toneShare, type Baresip } from "./baresip.ts";
import { decodeProblems, rtpSent, sipFields, startCapture } from "./tshark.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 25) await sleep(25);
  return cond();
};
const DOOR_PORT = 23500 + (process.pid % 200);
const DOOR_RTP = 18000 + 4 * (process.pid % 200);
const running: Baresip[] = [];
const phones: DoorPhone[] = [];
afterAll(async () => {
  for (const p of phones) p.close();
  await Promise.all(running.map((b) => b.stop()));
}, 15000);

async function setup(slot: number) {
  const platform = new NodePlatform();
  const audio = new ToneAudio({ frequencies: 600 });
  const board = new VirtualBoard(platform.clock, audio);
  const baresip = await startBaresip({ name: "resident", slot, source: { sine: 1000 } });
  running.push(baresip);
  const door = new DoorPhone(platform, board, simPhoneConfig("127.0.0.1", {
    port: DOOR_PORT + slot, code: "1234#", door: { pulseMs: 1000 }, targets: [baresip.uri], allow: ["127.0.0.1"],
    calls: { rtpPortBase: DOOR_RTP + 10 * slot }, autoAnswer: { delayMs: 500 },
  }));
  phones.push(door);
  expect(door.open()).toBe(0);
  await sleep(100);
  return { door, board, audio, baresip, relay: () => board.transitions("D4").map((t) => t.on) };
}

describe("baresip calls the door", () => {
  it("the door answers (180, then 200 after 500 ms), baresip keys 1234# as RFC 4733 events, the relay pulses; audio both ways; tshark-clean", async () => {
    const { door, audio, baresip, relay } = await setup(4);
    const capture = await startCapture(DOOR_PORT + 4, 10000, [DOOR_RTP + 40]);
    const since = baresip.events.length;
    await baresip.dial(`sip:door@127.0.0.1:${DOOR_PORT + 4}`);
    await baresip.waitEvent("CALL_ESTABLISHED", 5000, since);
    const call = door.ua.calls!.calls[0];
    expect(await until(() => call.state === CALL_ACTIVE, 2000)).toBe(true);
    expect(call.authorised).toBe(true);
    expect([call.mediaPayload, call.mediaTelephoneEvent]).toEqual([0, 101]);
    await sleep(1000);
    await baresip.sendDtmf("1234#");
    expect(await until(() => relay().length >= 1, 5000), "relay never switched; digits " + door.rtpDigits + "\n" + door.door.auditText()).toBe(true);
    expect(door.rtpDigits).toBe(5);
    expect(door.door.opens).toBe(1);
    expect(await until(() => relay().length === 2, 3000)).toBe(true);
    expect(relay()).toEqual([true, false]);
    // RTP both ways: ~50 packets a second each.
    const debug = await baresip.audioDebug();
    const session = door.sessions[0];
    expect(session.stats[MEDIA_PACKETS_RECEIVED]).toBeGreaterThan(80);
    expect(session.stats[MEDIA_PACKETS_SENT]).toBeGreaterThan(80);
    expect(debug!.rxPackets).toBeGreaterThan(80);
    // The door's speaker hears baresip's 1000 Hz sine; baresip hears the door's 600 Hz.
    const heard = audio.recorded();
    const tail = heard.subarray(heard.length - 4000);
    expect(goertzelPower(tail, 1000)).toBeGreaterThan(20 * goertzelPower(tail, 600));
    const closed = baresip.events.length;
    await baresip.hangup();
    await baresip.waitEvent("CALL_CLOSED", 3000, closed);
    expect(await until(() => !session.isRunning(), 2000)).toBe(true);
    expect(door.ua.calls!.liveCount()).toBe(0);
    await sleep(300);
    const rec = baresip.recordings().decode;
    const w = readWav(rec[rec.length - 1]);
    expect(toneShare(w.samples.subarray(1600), w.rate, 600).share).toBeGreaterThan(0.8);
    const pcap = await capture.stop();
    expect(decodeProblems(pcap, [DOOR_PORT + 4])).toEqual([]);
    // The door's answers to the INVITE: 180 at once, the 200 after the 500 ms answer delay (a lower bound only:
    // the door's timer cannot fire early; how late the scheduler is, is not the test's business).
    const answers = sipFields(pcap, [DOOR_PORT + 4], `udp.srcport == ${DOOR_PORT + 4} && sip.CSeq.method == "INVITE"`,
      ["frame.time_relative", "sip.Status-Code"]);
    expect(answers.map((a) => a[1])).toEqual(["180", "200"]);
    expect(Number(answers[1][0]) - Number(answers[0][0])).toBeGreaterThanOrEqual(0.45);
    // The door's RTP as Wireshark reads it: PCMU frames, nothing flagged.
    const rtp = rtpSent(pcap, DOOR_RTP + 40);
    expect(rtp.flagged).toEqual([]);
    expect(rtp.byType["0"]).toBeGreaterThan(80);
  }, 30000);
});

describe("the door calls baresip", () => {
  it("button press: baresip auto-answers, RTP flows both ways, the door hangs up with BYE", async () => {
    const { door, baresip } = await setup(5);
    const capture = await startCapture(DOOR_PORT + 5, 10000, [DOOR_RTP + 50]);
    const since = baresip.events.length;
    const call = door.buttonPressed();
    expect(call).not.toBe(null);
    await baresip.waitEvent("CALL_ESTABLISHED", 5000, since);
    expect(await until(() => call!.state === CALL_ACTIVE, 2000)).toBe(true);
    await sleep(2000);
    const session = door.sessions[call!.index];
    const debug = await baresip.audioDebug();
    expect(session.stats[MEDIA_PACKETS_RECEIVED]).toBeGreaterThan(80);
    expect(debug!.rxPackets).toBeGreaterThan(80);
    const closed = baresip.events.length;
    door.hangup(call!);
    const ev = await baresip.waitEvent("CALL_CLOSED", 3000, closed);
    expect(ev.param).toMatch(/reset by peer|Connection reset/i);
    expect(await until(() => door.ua.calls!.liveCount() === 0, 2000)).toBe(true);
    const pcap = await capture.stop();
    expect(decodeProblems(pcap, [DOOR_PORT + 5])).toEqual([]);
    const rtp = rtpSent(pcap, DOOR_RTP + 50);
    expect(rtp.flagged).toEqual([]);
    expect(rtp.byType["0"]).toBeGreaterThan(80);
  }, 30000);
});
