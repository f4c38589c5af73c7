// The RTP media session on the virtual network: RFC 3550 streams, RFC 4733 digits, RFC 4961 latching, RFC 3264 hold.
import { describe, expect, it } from "vitest";
import type { Alarm, AlarmOptions, Platform } from "../../hal/types.ts";
import {
  MEDIA_BYTES_RECEIVED, MEDIA_BYTES_SENT, MEDIA_DIGITS_RECEIVED, MEDIA_DIGITS_SENT, MEDIA_DUPLICATES, MEDIA_FOREIGN, MEDIA_LATCHED,
  MEDIA_LATE, MEDIA_LOST, MEDIA_MALFORMED, MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT, MEDIA_SEND_ERRORS, MEDIA_SKIPPED_TICKS,
  MEDIA_MAX_DATAGRAM, MEDIA_SSRC_CHANGES, MEDIA_UNKNOWN_PAYLOAD, MediaSession, type MediaParams,
} from "../../firmware/media.ts";
import { RtpHeader, decodeRtp, encodeRtp } from "../../sip-core/rtp.ts";
import { alawEncode, alawTable, ulawEncode, ulawTable } from "../../sip-core/g711.ts";
import { PCMA, PCMU, RTP_MAX_PTIME, SDP_INACTIVE, SDP_RECVONLY, SDP_SENDONLY, SDP_SENDRECV } from "../../sip-core/sdp.ts";
import { type CaptureRecord, type LinkConditions, VirtualClock, VirtualNetwork, VirtualPlatform, VirtualUdpSocket } from "../../sim/virtual.ts";
import { HAL_ERR_CLOSED, HAL_ERR_UNREACHABLE } from "../../hal/errors.ts";
import { ToneAudio, WavAudio, goertzelPower, parseWav, rms, wavBytes } from "../../sim/virtual-audio.ts";

const A = "10.0.0.1";
const B = "10.0.0.2";
const TE = 101;

interface Packet {
  rec: CaptureRecord;
  h: RtpHeader;
  payload: Uint8Array;
}

function rtp(rec: CaptureRecord): Packet {
  const buf = Uint8Array.from(Buffer.from(rec.data, "latin1"));
  const h = new RtpHeader();
  expect(decodeRtp(buf, 0, buf.length, h)).toBe(0);
  return { rec, h, payload: buf.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength) };
}

/** Packets a sent, in send order (original copies only: no network duplicates). */
function sentBy(net: VirtualNetwork, from: string, fromPort?: number): Packet[] {
  return net.capture().filter((r) => r.from === from && !r.duplicate && (fromPort === undefined || r.fromPort === fromPort)).map(rtp);
}

interface Side {
  platform: VirtualPlatform;
  audio: ToneAudio;
  session: MediaSession;
  digits: string[];
  durations: number[];
}

interface WorldOptions {
  payload?: number;
  telephoneEvent?: number;
  seed?: number;
  link?: Partial<LinkConditions>;
  toneA?: number | number[];
  toneB?: number | number[];
  ptime?: number;
  portA?: number;
  portB?: number;
}

function params(local: number, remote: string, remotePort: number, o: WorldOptions, direction = SDP_SENDRECV): MediaParams {
  return { localPort: local, remoteAddress: remote, remotePort, payload: o.payload ?? PCMU, telephoneEvent: o.telephoneEvent ?? TE, direction };
}

/** Two media sessions, a (10.0.0.1:4000) ↔ b (10.0.0.2:5000), not started. */
function world(o: WorldOptions = {}) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork({ clock, seed: o.seed ?? 1, defaults: { latency: 10, ...(o.link ?? {}) }, captureLimit: 100_000 });
  const side = (address: string, tone: number | number[]): Side => {
    const platform = new VirtualPlatform({ network: net, address });
    const audio = new ToneAudio({ frequencies: tone, amplitude: 8000 });
    const digits: string[] = [];
    const durations: number[] = [];
    const session = new MediaSession({
      platform, audio, ptime: o.ptime,
      onDigit: (d, dur) => { digits.push(String.fromCharCode(d)); durations.push(dur); },
    });
    return { platform, audio, session, digits, durations };
  };
  const a = side(A, o.toneA ?? 440);
  const b = side(B, o.toneB ?? 1000);
  const pa = params(o.portA ?? 4000, B, o.portB ?? 5000, o);
  const pb = params(o.portB ?? 5000, A, o.portA ?? 4000, o);
  const startBoth = () => {
    expect(a.session.start(pa)).toBe(0);
    expect(b.session.start(pb)).toBe(0);
  };
  return { clock, net, a, b, pa, pb, startBoth };
}

/** Checks a run of voice packets: seq +1, ts +samples, one SSRC, sent every ptime, marker only on the first. */
function expectContinuousStream(ps: Packet[], pt: number, samples: number, ptime: number): void {
  expect(ps.length).toBeGreaterThan(1);
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i];
    expect(p.h.payloadType).toBe(pt);
    expect(p.h.payloadLength).toBe(samples);
    expect(p.h.marker).toBe(i === 0 ? 1 : 0);
    if (i === 0) continue;
    const q = ps[i - 1];
    expect(p.h.ssrc).toBe(q.h.ssrc);
    expect(p.h.sequence).toBe((q.h.sequence + 1) & 0xFFFF);
    expect(p.h.timestamp).toBe((q.h.timestamp + samples) >>> 0);
    expect(p.rec.time - q.rec.time).toBe(ptime);
  }
}

describe("MediaSession: audio streams", () => {
  for (const [name, pt, decodeTable, encode] of [
    ["PCMU", PCMU, ulawTable(), ulawEncode],
    ["PCMA", PCMA, alawTable(), alawEncode],
  ] as const) {
    it(`${name}: 50 packets a second each way, seq +1 / ts +160, tones survive the round trip bit-exactly`, () => {
      const w = world({ payload: pt });
      w.startBoth();
      w.clock.advance(3000);
      const sa = w.a.session;
      const sb = w.b.session;
      // Ticks at 20, 40, … 3000 ms: 150 packets; the one sent at 3000 ms is still on the 10 ms link.
      expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(150);
      expect(sb.stats[MEDIA_PACKETS_SENT]).toBe(150);
      expect(sa.stats[MEDIA_BYTES_SENT]).toBe(150 * 160);
      expect(sb.stats[MEDIA_PACKETS_RECEIVED]).toBe(149);
      expect(sa.stats[MEDIA_PACKETS_RECEIVED]).toBe(149);
      expect(sb.stats[MEDIA_BYTES_RECEIVED]).toBe(149 * 160);
      expect(sb.stats[MEDIA_LOST]).toBe(0);
      expect(sb.stats[MEDIA_MALFORMED] + sb.stats[MEDIA_DUPLICATES] + sb.stats[MEDIA_LATE] + sb.stats[MEDIA_UNKNOWN_PAYLOAD] + sb.stats[MEDIA_LATCHED]).toBe(0);

      const ps = sentBy(w.net, A);
      expect(ps.length).toBe(150);
      expect(ps[0].rec.time).toBe(20);
      expect(ps[0].rec.toPort).toBe(5000);
      expect(ps[0].rec.fromPort).toBe(4000);
      expect(ps[0].h.ssrc).toBe(sa.ssrc());
      expectContinuousStream(ps, pt, 160, 20);

      // B's speaker got A's tone: exactly G.711(tone) sample for sample, and a 440 Hz tone by Goertzel.
      const heard = w.b.audio.recorded();
      expect(heard.length).toBe(149 * 160);
      const src = new Int16Array(heard.length);
      const gen = new ToneAudio({ frequencies: 440, amplitude: 8000 });
      gen.read(src, 0, src.length);
      const codes = new Uint8Array(src.length);
      encode(src, 0, src.length, codes, 0);
      for (let i = 0; i < heard.length; i++) if (heard[i] !== decodeTable[codes[i]]) expect.fail(`sample ${i}: ${heard[i]} != ${decodeTable[codes[i]]}`);
      const p440 = goertzelPower(heard, 440, 8000, 0, 8000);
      expect(Math.sqrt(p440)).toBeGreaterThan(7600); // amplitude 8000, minus G.711 quantisation
      expect(Math.sqrt(p440)).toBeLessThan(8400);
      expect(goertzelPower(heard, 1000, 8000, 0, 8000)).toBeLessThan(p440 / 1000);
      // And A heard B's 1 kHz.
      const back = w.a.audio.recorded();
      expect(goertzelPower(back, 1000, 8000, 0, 8000)).toBeGreaterThan(1000 * goertzelPower(back, 440, 8000, 0, 8000));
    });
  }

  it("without an audio device sends G.711 silence (0xFF μ-law, 0xD5 A-law) and plays nothing", () => {
    for (const [pt, code] of [[PCMU, 0xFF], [PCMA, 0xD5]]) {
      const clock = new VirtualClock();
      const net = new VirtualNetwork({ clock, seed: 1 });
      const pa = new VirtualPlatform({ network: net, address: A });
      const s = new MediaSession({ platform: pa, audio: null, onDigit: () => {} });
      expect(s.start({ localPort: 4000, remoteAddress: B, remotePort: 5000, payload: pt, telephoneEvent: -1, direction: SDP_SENDRECV })).toBe(0);
      clock.advance(100);
      const ps = sentBy(net, A);
      expect(ps.length).toBe(5);
      for (const p of ps) {
        expect(p.h.payloadType).toBe(pt);
        expect(Array.from(p.payload).every((b) => b === code)).toBe(true);
      }
      s.stop();
    }
  });

  it("ptime 30: 240-sample packets every 30 ms", () => {
    const w = world({ ptime: 30 });
    w.startBoth();
    w.clock.advance(3000);
    expect(w.a.session.stats[MEDIA_PACKETS_SENT]).toBe(100);
    expectContinuousStream(sentBy(w.net, A), PCMU, 240, 30);
    expect(w.b.audio.recorded().length).toBe(99 * 240);
  });

  it("ticks are scheduled off absolute times: late alarms do not drift, a long stall skips ahead", () => {
    const clock = new VirtualClock();
    const net = new VirtualNetwork({ clock, seed: 1 });
    const pa = new VirtualPlatform({ network: net, address: A });
    // Every alarm fires 7 ms late; one fires 300 ms late.
    let fired = 0;
    const stallAt = 50;
    const sloppy: Platform = {
      clock: pa.clock, random: pa.random, log: pa.log,
      openUdp: (o) => pa.openUdp(o), connectTcp: (o) => pa.connectTcp(o), listenTcp: (o) => pa.listenTcp(o),
      createAlarm: (options: AlarmOptions): Alarm => {
        const inner = pa.createAlarm(options);
        return {
          set: (at: number) => { fired++; inner.set(at + (fired === stallAt ? 300 : 7)); },
          cancel: () => inner.cancel(),
        };
      },
    };
    const s = new MediaSession({ platform: sloppy, audio: null, onDigit: () => {} });
    expect(s.start({ localPort: 4000, remoteAddress: B, remotePort: 5000, payload: PCMU, telephoneEvent: -1, direction: SDP_SENDRECV })).toBe(0);
    clock.advance(10_000);
    const ps = sentBy(net, A);
    // Ticks 1…499 fired by 10 s (tick 500 is due at 10,007), less the ones skipped in the stall
    // (tick 50 fired 300 ms late = 15 ticks behind > 5: ticks 50…64 skipped, tick 65 sent at once).
    expect(s.stats[MEDIA_SKIPPED_TICKS]).toBe(15);
    expect(ps.length).toBe(499 - 15);
    expect(ps[48].rec.time).toBe(987);
    expect(ps[49].rec.time).toBe(1300);
    // The timestamp always tells the tick's time: ts − ts0 = 160 · (tick number − 1).
    const ts0 = ps[0].h.timestamp;
    let markers = 0;
    for (let i = 0; i < ps.length; i++) {
      const tick = Math.round((ps[i].rec.time - 7) / 20);
      expect(((ps[i].h.timestamp - ts0) >>> 0)).toBe((tick - 1) * 160);
      expect(ps[i].h.sequence).toBe((ps[0].h.sequence + i) & 0xFFFF);
      markers += ps[i].h.marker;
    }
    expect(markers).toBe(2); // the first packet and the one after the stall
    s.stop();
  });
});

describe("MediaSession: RFC 4733 digits", () => {
  it("an answer that renumbered telephone-event: we send with its number and still take events on the one we offered", () => {
    const w = world({});
    // A offered 101 and the answer said 96: A sends 96 and accepts 101 (and 96); B, the renumbering peer, sends 101.
    expect(w.a.session.start({ ...w.pa, telephoneEvent: 96, telephoneEventIn: TE })).toBe(0);
    expect(w.b.session.start({ ...w.pb, telephoneEvent: TE })).toBe(0);
    w.clock.advance(200);
    for (const c of "12") expect(w.a.session.sendDigit(c.charCodeAt(0), 100)).toBe(true);
    for (const c of "34") expect(w.b.session.sendDigit(c.charCodeAt(0), 100)).toBe(true);
    w.clock.advance(2000);
    expect(new Set(sentBy(w.net, A).filter((p) => p.h.payloadType !== 0).map((p) => p.h.payloadType))).toEqual(new Set([96]));
    expect(w.a.digits).toEqual(["3", "4"]);
    expect(w.a.session.stats[MEDIA_UNKNOWN_PAYLOAD]).toBe(0);
    // B never agreed to 96: A's events are unknown to it.
    expect(w.b.digits).toEqual([]);
    expect(w.b.session.stats[MEDIA_UNKNOWN_PAYLOAD]).toBeGreaterThan(0);
  });

  it("'1234#' arrives once each, in order, with its duration, even when every packet is duplicated", () => {
    const w = world({ link: { duplicate: 1 } });
    w.startBoth();
    w.clock.advance(200);
    for (const c of "1234#") expect(w.a.session.sendDigit(c.charCodeAt(0), 100)).toBe(true);
    expect(w.a.session.pendingDigits()).toBe(5);
    w.clock.advance(2000);
    expect(w.a.session.pendingDigits()).toBe(0);
    expect(w.b.digits).toEqual(["1", "2", "3", "4", "#"]);
    expect(w.b.durations).toEqual([100, 100, 100, 100, 100]);
    expect(w.b.session.stats[MEDIA_DIGITS_RECEIVED]).toBe(5);
    expect(w.a.session.stats[MEDIA_DIGITS_SENT]).toBe(5);
    expect(w.b.session.stats[MEDIA_DUPLICATES]).toBeGreaterThan(100);
    expect(w.a.digits).toEqual([]);

    const ps = sentBy(w.net, A);
    const events = ps.filter((p) => p.h.payloadType === TE);
    // Per 100 ms digit: updates at 20, 40, 60, 80 ms, then three end packets with duration 800 = 7 packets.
    expect(events.length).toBe(35);
    const ends = events.filter((p) => (p.payload[1] & 0x80) !== 0);
    expect(ends.length).toBe(15);
    for (const e of ends) expect((e.payload[2] << 8) | e.payload[3]).toBe(800);
    expect(events.map((e) => e.payload[0])).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 11, 11, 11, 11, 11, 11, 11]);
    // Marker on each event's first packet; all packets of an event share its timestamp.
    for (let d = 0; d < 5; d++) {
      const ev = events.slice(d * 7, d * 7 + 7);
      expect(ev.map((e) => e.h.marker)).toEqual([1, 0, 0, 0, 0, 0, 0]);
      expect(new Set(ev.map((e) => e.h.timestamp)).size).toBe(1);
    }
    // One stream throughout: sequence numbers +1, and every packet's timestamp is its tick's time
    // (voice after a digit is not stamped behind the clock); voice resumes with the marker set.
    const ts0 = ps[0].h.timestamp;
    for (let i = 1; i < ps.length; i++) expect(ps[i].h.sequence).toBe((ps[i - 1].h.sequence + 1) & 0xFFFF);
    for (const p of ps) if (p.h.payloadType === PCMU) expect((p.h.timestamp - ts0) >>> 0).toBe((p.rec.time / 20 - 1) * 160);
    for (let i = 1; i < ps.length; i++) {
      if (ps[i].h.payloadType === PCMU && ps[i - 1].h.payloadType === TE) expect(ps[i].h.marker).toBe(1);
    }
    // Voice packets between digits: the 60 ms gap (3 packets).
    const between = ps.slice(ps.indexOf(events[6]) + 1, ps.indexOf(events[7]));
    expect(between.length).toBe(3);
    // The event timestamp is the time the digit started.
    expect((events[0].h.timestamp - ts0) >>> 0).toBe((events[0].rec.time / 20 - 1) * 160);
  });

  it("10 % loss and 10 % duplication: every digit exactly once, for 20 seeds; losses hit end packets", () => {
    let endLost = 0;
    let allEndsLost = 0;
    let eventsLost = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const w = world({ seed, link: { loss: 0.1, duplicate: 0.1 } });
      w.startBoth();
      w.clock.advance(100);
      for (const c of "1234#") w.a.session.sendDigit(c.charCodeAt(0), 100);
      w.clock.advance(1500);
      w.a.session.stop();
      w.clock.advance(1100); // the last digits are held until the stream passes them by 1 s, or falls silent 1 s
      expect(w.b.digits.join(""), "seed " + seed).toBe("1234#");
      // The receiver's loss count is the network's, as sequence numbers show it.
      const recs = w.net.capture().filter((r) => r.from === A);
      const delivered = recs.filter((r) => r.fate === "delivered").map((r) => rtp(r).h.sequence);
      const unique = new Set(delivered);
      const first = rtp(recs.find((r) => r.fate === "delivered")!).h.sequence;
      const last = rtp(recs.filter((r) => r.fate === "delivered").at(-1)!).h.sequence;
      expect(w.b.session.stats[MEDIA_LOST], "seed " + seed).toBe(((last - first) & 0xFFFF) + 1 - unique.size);
      const lostEvents = recs.filter((r) => r.fate === "lost").map(rtp).filter((p) => p.h.payloadType === TE);
      eventsLost += lostEvents.length;
      endLost += lostEvents.filter((p) => (p.payload[1] & 0x80) !== 0).length;
      // Digits whose three end packets were all lost (reported at the next event or at voice).
      const byTs = new Map<number, number>();
      for (const p of lostEvents) if (p.payload[1] & 0x80) byTs.set(p.h.timestamp, (byTs.get(p.h.timestamp) ?? 0) + 1);
      for (const n of byTs.values()) if (n === 3) allEndsLost++;
    }
    // The test means something: event packets and end packets were lost along the way.
    expect(eventsLost).toBeGreaterThan(40);
    expect(endLost).toBeGreaterThan(15);
    expect(allEndsLost).toBe(0);
  });

  it("a digit whose end packets never arrive is over 4 packet times after its last packet, and reported once the stream is 1 s quiet", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(100);
    w.a.session.sendDigit("7".charCodeAt(0), 100);
    // Let the updates sent at 120, 140, 160 ms through, then lose everything (the rest of the event, the voice marker).
    w.clock.advance(60);
    w.net.setLink(A, B, { loss: 1 });
    w.clock.advance(80);
    expect(w.b.digits).toEqual([]);
    w.clock.advance(20);
    // The last update arrived at 170 ms; B's tick at 260 ms is more than 80 ms later: the digit is over, and
    // held for an earlier digit that might still come; with the link down the stream is quiet, and after 1 s
    // it is reported.
    expect(w.b.digits).toEqual([]);
    w.clock.advance(1000);
    expect(w.b.digits).toEqual(["7"]);
    expect(w.b.durations).toEqual([60]); // the duration of the last update it got (480 samples)
    w.net.clearLink(A, B);
    w.clock.advance(1000);
    expect(w.b.digits).toEqual(["7"]);
  });

  it("stop() reports a received digit whose end never came, and sends the end of a digit being sent", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(100);
    w.a.session.sendDigit("5".charCodeAt(0), 400);
    w.clock.advance(100);
    w.net.setLink(A, B, { loss: 1 });
    w.clock.advance(40);
    w.b.session.stop();
    expect(w.b.digits).toEqual(["5"]);
    expect(w.b.session.stats[MEDIA_DIGITS_RECEIVED]).toBe(1);

    // A stops while its digit '9' is on the air: the rest of the event goes out at once, ends included.
    const v = world({});
    v.startBoth();
    v.clock.advance(100);
    v.a.session.sendDigit("9".charCodeAt(0), 200);
    v.a.session.sendDigit("8".charCodeAt(0), 200);
    v.clock.advance(60);
    const t = v.clock.now();
    v.a.session.stop();
    // The tick at 160 ms sent the update at 60 ms; stop() sends the updates at 80…180 ms and three ends.
    const burst = sentBy(v.net, A).filter((p) => p.rec.time === t);
    expect(burst.map((p) => (p.payload[2] << 8) | p.payload[3])).toEqual([480, 640, 800, 960, 1120, 1280, 1440, 1600, 1600, 1600]);
    expect(burst.map((p) => p.payload[1] >> 7)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    v.clock.advance(1100); // the stream is quiet: after 1 s the held digit goes
    expect(v.b.digits).toEqual(["9"]); // '8' was still queued: dropped
    expect(v.b.durations).toEqual([200]);
    expect(v.a.session.stats[MEDIA_DIGITS_SENT]).toBe(1);
  });

  it("in-band DTMF tones in the audio are never reported as digits", () => {
    for (const te of [TE, -1]) {
      // A's microphone hears '1' (697 + 1209 Hz), then '#' on B's side (941 + 1477 Hz).
      const w = world({ telephoneEvent: te, toneA: [697, 1209], toneB: [941, 1477] });
      w.startBoth();
      w.clock.advance(3000);
      expect(w.b.digits).toEqual([]);
      expect(w.a.digits).toEqual([]);
      expect(w.b.session.stats[MEDIA_DIGITS_RECEIVED]).toBe(0);
      // The tones did arrive, as audio.
      const heard = w.b.audio.recorded();
      const p697 = goertzelPower(heard, 697, 8000, 0, 8000);
      const p1209 = goertzelPower(heard, 1209, 8000, 0, 8000);
      expect(Math.sqrt(p697)).toBeGreaterThan(3500);
      expect(Math.sqrt(p1209)).toBeGreaterThan(3500);
      expect(goertzelPower(heard, 941, 8000, 0, 8000)).toBeLessThan(p697 / 100);
      expect(goertzelPower(w.a.audio.recorded(), 1477, 8000, 0, 8000)).toBeGreaterThan(3500 * 3500);
    }
  });

  it("sendDigit refuses without telephone-event, when not sending, a non-digit, and a full queue", () => {
    const w = world({ telephoneEvent: -1 });
    expect(w.a.session.sendDigit(49, 100)).toBe(false); // not started
    w.startBoth();
    expect(w.a.session.sendDigit(49, 100)).toBe(false);
    const v = world({});
    v.startBoth();
    expect(v.a.session.sendDigit("x".charCodeAt(0), 100)).toBe(false);
    for (let i = 0; i < 16; i++) expect(v.a.session.sendDigit("0".charCodeAt(0) + (i % 10), 100)).toBe(true);
    expect(v.a.session.sendDigit(49, 100)).toBe(false);
    expect(v.a.session.update({ ...v.pa, direction: SDP_RECVONLY })).toBe(0);
    expect(v.a.session.pendingDigits()).toBe(0); // hold drops the queue
    expect(v.a.session.sendDigit(49, 100)).toBe(false);
    expect(v.a.session.update({ ...v.pa, direction: SDP_INACTIVE })).toBe(0);
    expect(v.a.session.sendDigit(49, 100)).toBe(false);
    expect(v.a.session.update({ ...v.pa, direction: SDP_SENDONLY })).toBe(0);
    expect(v.a.session.sendDigit(49, 100)).toBe(true);
    // Lower-case a–d and A–D are digits too.
    expect(v.a.session.sendDigit("d".charCodeAt(0), 100)).toBe(true);
    v.clock.advance(1500);
    expect(v.b.digits).toEqual(["1", "D"]); // sendonly sends; B (sendrecv) receives
  });
});

describe("MediaSession: receiving", () => {
  /** A raw socket at addr:port that sends RTP packets to B's session. */
  function injector(w: ReturnType<typeof world>, address: string, port: number) {
    const p = new VirtualPlatform({ network: w.net, address });
    const got: string[] = [];
    const sock = p.openUdp({ port, onMessage: (d) => got.push(d) });
    if (typeof sock === "number") throw new Error("openUdp " + sock);
    const h = new RtpHeader();
    const buf = new Uint8Array(1500);
    const send = (pt: number, seq: number, payload: Uint8Array, ssrc = 0x1234) => {
      h.payloadType = pt; h.sequence = seq; h.timestamp = seq * 160; h.ssrc = ssrc; h.marker = 0;
      const n = encodeRtp(h, payload, payload.length, buf, 0);
      expect(sock.send(buf, n, B, 5000)).toBe(0);
    };
    return { sock, got, send };
  }

  it("takes G.711 up to the a=maxptime its SDP sets (60 ms: 492 bytes); a longer packet is malformed", () => {
    const w = world({});
    expect(w.b.session.start(w.pb)).toBe(0);
    const x = injector(w, A, 4000);
    x.send(0, 1, new Uint8Array(RTP_MAX_PTIME * 8)); // 60 ms of PCMU
    x.send(0, 2, new Uint8Array(MEDIA_MAX_DATAGRAM - 12)); // the most the buffer takes
    x.send(0, 3, new Uint8Array(MEDIA_MAX_DATAGRAM - 11)); // one byte more
    x.send(0, 4, new Uint8Array(80 * 8)); // 80 ms
    w.clock.advance(15);
    expect(w.b.session.stats[MEDIA_PACKETS_RECEIVED]).toBe(2);
    expect(w.b.session.stats[MEDIA_MALFORMED]).toBe(2);
  });

  it("drops malformed datagrams and unknown payload types, which do not latch", () => {
    const w = world({});
    expect(w.b.session.start(w.pb)).toBe(0);
    const x = injector(w, "10.0.0.9", 7000);
    x.sock.send(new Uint8Array([1, 2, 3, 4, 5]), 5, B, 5000); // too short
    x.sock.send(new Uint8Array(12), 12, B, 5000); // version 0
    x.sock.send(new Uint8Array(1400), 1400, B, 5000); // longer than any G.711 packet we accept
    x.send(18, 1, new Uint8Array(20)); // G.729: not negotiated
    x.send(96, 2, new Uint8Array(4));
    w.clock.advance(15);
    expect(w.b.session.stats[MEDIA_MALFORMED]).toBe(3);
    expect(w.b.session.stats[MEDIA_UNKNOWN_PAYLOAD]).toBe(2);
    expect(w.b.session.stats[MEDIA_PACKETS_RECEIVED]).toBe(0);
    expect(w.b.session.stats[MEDIA_LATCHED]).toBe(0);
    expect(w.b.session.sendTarget()).toBe(A + ":4000");
    expect(w.b.audio.recordedLength()).toBe(0);
  });

  it("symmetric RTP: sends to where the peer's packets come from, not where its SDP said", () => {
    // B's SDP said 203.0.113.7:6000 (its NAT's public side, say); its packets come from 10.0.0.2:5000.
    const w = world({});
    expect(w.a.session.start({ ...w.pa, remoteAddress: "203.0.113.7", remotePort: 6000 })).toBe(0);
    expect(w.b.session.start(w.pb)).toBe(0);
    w.clock.advance(1000);
    const sa = w.a.session;
    expect(sa.stats[MEDIA_LATCHED]).toBe(1);
    expect(sa.sendTarget()).toBe(B + ":5000");
    const ps = sentBy(w.net, A);
    // Until B's first packet arrived (sent at 20 ms, here at 30 ms), A sent to the SDP address.
    expect(ps[0].rec.to).toBe("203.0.113.7");
    expect(ps[0].rec.toPort).toBe(6000);
    expect(ps.filter((p) => p.rec.to === "203.0.113.7").length).toBe(1);
    expect(ps.slice(1).every((p) => p.rec.to === B && p.rec.toPort === 5000)).toBe(true);
    expect(w.b.session.stats[MEDIA_PACKETS_RECEIVED]).toBe(48); // sent at 40 … 980 ms, arrived by 990
    // Sequence continuity across the latch.
    expectContinuousStream(ps, PCMU, 160, 20);

    // A third party after the latch is ignored.
    const x = injector(w, "10.0.0.66", 5000);
    const before = w.b.audio.recordedLength();
    x.send(PCMU, 7, new Uint8Array(160));
    w.clock.advance(20);
    expect(w.b.session.stats[MEDIA_FOREIGN]).toBe(1);
    const rogue = new VirtualPlatform({ network: w.net, address: "10.0.0.77" });
    const rs = rogue.openUdp({ port: 5000, onMessage: () => {} }) as { send: (d: Uint8Array, n: number, a: string, p: number) => number };
    const pkt = new Uint8Array(172);
    const h = new RtpHeader();
    h.payloadType = PCMU; h.ssrc = 99;
    encodeRtp(h, new Uint8Array(160), 160, pkt, 0);
    rs.send(pkt, 172, A, 4000);
    w.clock.advance(20);
    expect(sa.stats[MEDIA_FOREIGN]).toBe(1);
    expect(sa.stats[MEDIA_LATCHED]).toBe(1);
    expect(sa.sendTarget()).toBe(B + ":5000");
    expect(w.b.audio.recordedLength()).toBeGreaterThan(before);

    // A hold re-INVITE with the same SDP address keeps the latch; a new address undoes it.
    expect(sa.update({ ...w.pa, remoteAddress: "203.0.113.7", remotePort: 6000, direction: SDP_SENDONLY })).toBe(0);
    expect(sa.sendTarget()).toBe(B + ":5000");
    expect(sa.update({ ...w.pa, remoteAddress: "203.0.113.8", remotePort: 6002 })).toBe(0);
    expect(sa.sendTarget()).toBe("203.0.113.8:6002");
    w.clock.advance(100);
    expect(sa.stats[MEDIA_LATCHED]).toBe(2);
    expect(sa.sendTarget()).toBe(B + ":5000");
  });

  it("the peer sending from another port than its SDP's: latch to the source port", () => {
    // B tells A to send to port 5000 but its socket is on 5002.
    const w = world({ portB: 5002 });
    expect(w.a.session.start({ ...w.pa, remotePort: 5000 })).toBe(0);
    expect(w.b.session.start(w.pb)).toBe(0);
    w.clock.advance(500);
    expect(w.a.session.stats[MEDIA_LATCHED]).toBe(1);
    expect(w.a.session.sendTarget()).toBe(B + ":5002");
    expect(w.net.stats.unbound).toBe(1); // A's first packet, to the port nobody listens on
    expect(w.b.session.stats[MEDIA_PACKETS_RECEIVED]).toBe(23);
  });

  it("sequence bookkeeping: loss, late and duplicate packets, SSRC change; late audio is not played", () => {
    const w = world({});
    expect(w.b.session.start(w.pb)).toBe(0);
    const x = injector(w, A, 4000);
    const frame = new Uint8Array(160).fill(0x80); // μ-law 0x80 = +32124
    for (const seq of [65533, 65534, 65535, 2, 1, 2, 65530, 5]) x.send(PCMU, seq, frame);
    w.clock.advance(15);
    const s = w.b.session;
    expect(s.stats[MEDIA_PACKETS_RECEIVED]).toBe(8);
    expect(s.stats[MEDIA_DUPLICATES]).toBe(1); // the second 2
    expect(s.stats[MEDIA_LATE]).toBe(2); // 1 and 65530
    // Expected 65533 … 5 (9 numbers), received 6 unique of them (+65530, before the start): lost 9 − 7 = 2 (0, 3, 4 missing, 65530 extra).
    expect(s.stats[MEDIA_LOST]).toBe(2);
    // Played: 65533, 65534, 65535, 2, 5 (in-order ones).
    expect(w.b.audio.recordedLength()).toBe(5 * 160);
    expect(w.b.audio.writes).toBe(5);
    expect(s.stats[MEDIA_LATCHED]).toBe(0);
    // A new SSRC from the same source restarts the count.
    x.send(PCMU, 100, frame, 0x5678);
    x.send(PCMU, 103, frame, 0x5678);
    w.clock.advance(15);
    expect(s.stats[MEDIA_SSRC_CHANGES]).toBe(1);
    expect(s.stats[MEDIA_LOST]).toBe(4);
  });

  it("plays a packet longer than one frame (peer's ptime 40) in frame-sized writes", () => {
    const w = world({});
    expect(w.b.session.start(w.pb)).toBe(0);
    const x = injector(w, A, 4000);
    x.send(PCMA, 1, new Uint8Array(320), 1);
    w.clock.advance(15);
    expect(w.b.audio.writes).toBe(0); // PCMA is not the negotiated type
    expect(w.b.session.stats[MEDIA_UNKNOWN_PAYLOAD]).toBe(1);
    x.send(PCMU, 2, new Uint8Array(320).fill(0xFF), 1);
    w.clock.advance(15);
    expect(w.b.audio.writes).toBe(2);
    expect(w.b.audio.recordedLength()).toBe(320);
    expect(Array.from(w.b.audio.recorded()).every((v) => v === 0)).toBe(true);
  });
});

describe("MediaSession: re-INVITE, hold and stop", () => {
  it("hold: recvonly stops our audio, sendonly keeps it but plays nothing, inactive stops both; resume continues the stream", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(1000);
    const sa = w.a.session;
    const sb = w.b.session;
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(50);
    const ssrc = sa.ssrc();

    // A puts B on hold (RFC 3264 §8.4): A sendonly, B recvonly.
    expect(sa.update({ ...w.pa, direction: SDP_SENDONLY })).toBe(0);
    expect(sb.update({ ...w.pb, direction: SDP_RECVONLY })).toBe(0);
    const heardA = w.a.audio.recordedLength();
    w.clock.advance(1000);
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(100); // A still sends (music on hold, in a door phone's case its microphone)
    expect(sb.stats[MEDIA_PACKETS_SENT]).toBe(50); // B sends nothing
    // B's packet in flight at the hold arrived, counted but not played: A is sendonly.
    expect(w.a.audio.recordedLength()).toBe(heardA);
    expect(sa.stats[MEDIA_PACKETS_RECEIVED]).toBe(50);
    expect(sb.stats[MEDIA_PACKETS_RECEIVED]).toBe(99);

    // Both inactive: nothing on the wire.
    expect(sa.update({ ...w.pa, direction: SDP_INACTIVE })).toBe(0);
    expect(sb.update({ ...w.pb, direction: SDP_INACTIVE })).toBe(0);
    const onWire = w.net.stats.sent;
    w.clock.advance(1000);
    expect(w.net.stats.sent).toBe(onWire);
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(100);

    // Resume: one stream, sequence numbers continue, timestamps tell the time passed, marker set.
    expect(sa.update(w.pa)).toBe(0);
    expect(sb.update(w.pb)).toBe(0);
    w.clock.advance(1000);
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(150);
    expect(sb.stats[MEDIA_PACKETS_SENT]).toBe(100);
    expect(sa.ssrc()).toBe(ssrc);
    const ps = sentBy(w.net, A);
    const gapAt = ps.findIndex((p) => p.rec.time === 3020);
    expect(gapAt).toBe(100);
    const before = ps[gapAt - 1];
    const after = ps[gapAt];
    expect(before.rec.time).toBe(2000);
    expect(after.h.sequence).toBe((before.h.sequence + 1) & 0xFFFF);
    expect((after.h.timestamp - before.h.timestamp) >>> 0).toBe(51 * 160);
    expect(after.h.marker).toBe(1);
    expect(after.h.ssrc).toBe(ssrc);
    expect(sb.stats[MEDIA_LOST]).toBe(0);
    expect(sb.stats[MEDIA_SSRC_CHANGES]).toBe(0);
  });

  it("old-style hold (c=0.0.0.0) sends nothing; a re-INVITE moving the peer to a new port is followed", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(200);
    const sa = w.a.session;
    expect(sa.update({ ...w.pa, remoteAddress: "0.0.0.0" })).toBe(0);
    w.clock.advance(200);
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(10);
    // B moves to port 5004 (its re-INVITE), A is told.
    expect(w.b.session.update({ ...w.pb, localPort: 5004 })).toBe(0);
    expect(w.b.session.rtpPort()).toBe(5004);
    expect(w.net.isBound(B, 5000)).toBe(false);
    expect(sa.update({ ...w.pa, remotePort: 5004 })).toBe(0);
    w.clock.advance(200);
    const ps = sentBy(w.net, A);
    expect(ps.length).toBe(20);
    expect(ps[10].h.sequence).toBe((ps[9].h.sequence + 1) & 0xFFFF);
    // B's packet sent from 5000 just before it moved arrives at 410 ms, after A's update: A latches to
    // it and its 420 ms packet goes to the closed port; B's first packet from 5004 (its SDP port) wins
    // the address back.
    expect(sa.stats[MEDIA_LATCHED]).toBe(1);
    expect(ps[10].rec.toPort).toBe(5000);
    expect(ps[10].rec.fate).toBe("unbound");
    expect(ps.slice(11).every((p) => p.rec.toPort === 5004)).toBe(true);
    expect(ps.slice(11, -1).every((p) => p.rec.fate === "delivered")).toBe(true); // the last is on the link
    expect(sa.sendTarget()).toBe(B + ":5004");
    expect(sa.stats[MEDIA_FOREIGN]).toBe(0);
  });

  it("a re-INVITE switching the codec: same SSRC and sequence, new payload type, marker", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(100);
    expect(w.a.session.update({ ...w.pa, payload: PCMA })).toBe(0);
    expect(w.b.session.update({ ...w.pb, payload: PCMA })).toBe(0);
    w.clock.advance(100);
    const ps = sentBy(w.net, A);
    expect(ps.map((p) => p.h.payloadType)).toEqual([0, 0, 0, 0, 0, 8, 8, 8, 8, 8]);
    expect(ps.map((p) => p.h.marker)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    for (let i = 1; i < ps.length; i++) expect(ps[i].h.sequence).toBe((ps[i - 1].h.sequence + 1) & 0xFFFF);
    expect(w.b.session.stats[MEDIA_UNKNOWN_PAYLOAD]).toBe(1); // A's PCMU packet sent at 100 ms reached B after B switched
  });

  it("stop() closes the socket, cancels the ticks, and is idempotent; start() again is a new stream", () => {
    const w = world({});
    w.startBoth();
    w.clock.advance(500);
    const sa = w.a.session;
    expect(w.net.isBound(A, 4000)).toBe(true);
    expect(sa.rtpPort()).toBe(4000);
    sa.stop();
    expect(sa.isRunning()).toBe(false);
    expect(w.net.isBound(A, 4000)).toBe(false);
    expect(sa.rtpPort()).toBe(0);
    sa.stop();
    const sent = sa.stats[MEDIA_PACKETS_SENT];
    const received = sa.stats[MEDIA_PACKETS_RECEIVED];
    w.clock.advance(1000);
    expect(sa.stats[MEDIA_PACKETS_SENT]).toBe(sent);
    expect(sa.stats[MEDIA_PACKETS_RECEIVED]).toBe(received);
    expect(sentBy(w.net, A).every((p) => p.rec.time <= 500)).toBe(true);
    const toA = w.net.capture().filter((r) => r.to === A && r.time > 500 && r.arrival <= w.clock.now());
    expect(toA.length).toBe(49);
    expect(toA.every((r) => r.fate === "unbound")).toBe(true);
    expect(sa.update(w.pa)).toBeLessThan(0);
    // Port in use: start fails with the HAL's error.
    const squatter = w.a.platform.openUdp({ port: 4000, onMessage: () => {} });
    expect(typeof squatter).not.toBe("number");
    expect(sa.start(w.pa)).toBeLessThan(0);
    (squatter as { close(): void }).close();
    const oldSsrc = sa.ssrc();
    expect(sa.start(w.pa)).toBe(0);
    w.clock.advance(200);
    expect(sa.ssrc()).not.toBe(oldSsrc);
    expect(w.b.session.stats[MEDIA_SSRC_CHANGES]).toBe(1);
  });

  it("a socket the platform closes (Espruino, after a failed send) is reopened on the same port at the next tick", () => {
    const clock = new VirtualClock();
    const net = new VirtualNetwork({ clock, seed: 1 });
    const pa = new VirtualPlatform({ network: net, address: A });
    const opened: Array<{ sock: VirtualUdpSocket; onError: (code: number) => void }> = [];
    const platform: Platform = {
      clock: pa.clock, random: pa.random, log: pa.log,
      createAlarm: (o) => pa.createAlarm(o), connectTcp: (o) => pa.connectTcp(o), listenTcp: (o) => pa.listenTcp(o),
      openUdp: (o) => {
        const sock = pa.openUdp(o);
        if (typeof sock !== "number") opened.push({ sock, onError: o.onError! });
        return sock;
      },
    };
    const s = new MediaSession({ platform, audio: null, onDigit: () => {} });
    expect(s.start({ localPort: 4000, remoteAddress: B, remotePort: 5000, payload: PCMU, telephoneEvent: -1, direction: SDP_SENDRECV })).toBe(0);
    clock.advance(100);
    expect(s.stats[MEDIA_PACKETS_SENT]).toBe(5);
    // What the Espruino HAL does when a send fails: an error code, then HAL_ERR_CLOSED; the socket is gone.
    opened[0].sock.close();
    opened[0].onError(HAL_ERR_UNREACHABLE);
    opened[0].onError(HAL_ERR_CLOSED);
    expect(s.stats[MEDIA_SEND_ERRORS]).toBe(1);
    clock.advance(100);
    expect(opened.length).toBe(2);
    expect(opened[1].sock.port).toBe(4000);
    expect(s.stats[MEDIA_PACKETS_SENT]).toBe(10);
    const ps = sentBy(net, A);
    for (let i = 1; i < ps.length; i++) expect(ps[i].h.sequence).toBe((ps[i - 1].h.sequence + 1) & 0xFFFF);
    // While the port is taken, it retries once a second, not every tick.
    opened[1].sock.close();
    const squatter = pa.openUdp({ port: 4000, onMessage: () => {} }) as VirtualUdpSocket;
    opened[1].onError(HAL_ERR_CLOSED);
    clock.advance(500);
    expect(s.stats[MEDIA_PACKETS_SENT]).toBe(10);
    squatter.close();
    clock.advance(1000);
    // Failed at the 220 ms tick, waited 50 ticks, reopened at 1240 ms: ticks 1240…1700 send.
    expect(opened.length).toBe(3);
    expect(s.stats[MEDIA_PACKETS_SENT]).toBe(10 + 24);
    expect(sentBy(net, A)[10].rec.time).toBe(1240);
    s.stop();
  });

  it("ephemeral local port when localPort is 0", () => {
    const w = world({});
    expect(w.a.session.start({ ...w.pa, localPort: 0 })).toBe(0);
    expect(w.a.session.rtpPort()).toBeGreaterThanOrEqual(49152);
  });
});

describe("virtual audio devices", () => {
  it("WAV round trip, WavAudio looping and silence after the end, recording cap", () => {
    const tone = new ToneAudio({ frequencies: 440, amplitude: 10000, recordLimit: 1000 });
    const pcm = new Int16Array(400);
    expect(tone.read(pcm, 0, 400)).toBe(400);
    const wav = wavBytes(pcm, 8000);
    expect(wav.length).toBe(44 + 800);
    expect(Buffer.from(wav.subarray(0, 4)).toString("latin1")).toBe("RIFF");
    const parsed = parseWav(wav);
    expect(parsed.sampleRate).toBe(8000);
    expect(Array.from(parsed.samples)).toEqual(Array.from(pcm));
    expect(() => parseWav(wavBytes(pcm, 8000).subarray(0, 20))).toThrow();
    expect(() => parseWav(wavBytes(pcm, 8000).subarray(0, 30))).toThrow(/truncated fmt chunk/);
    // WAVE_FORMAT_EXTENSIBLE (as many editors write 16-bit mono): read through its sub-format.
    const ext = new Uint8Array(68 + 800);
    const dv = new DataView(ext.buffer);
    ext.set(wav.subarray(0, 36));
    dv.setUint32(4, 60 + 800, true);
    dv.setUint32(16, 40, true);
    dv.setUint16(20, 0xfffe, true);
    dv.setUint16(36, 22, true); // cbSize
    dv.setUint16(38, 16, true); // valid bits
    dv.setUint32(40, 4, true); // channel mask: front centre
    dv.setUint16(44, 1, true); // sub-format GUID begins with PCM (1)
    ext.set(wav.subarray(36), 60);
    expect(Array.from(parseWav(ext).samples)).toEqual(Array.from(pcm));
    expect(() => new WavAudio({ wav: wavBytes(pcm, 16000) })).toThrow(/16000/);

    const once = new WavAudio({ wav });
    const buf = new Int16Array(160);
    expect(once.read(buf, 0, 160)).toBe(160);
    expect(once.read(buf, 0, 160)).toBe(160);
    expect(once.read(buf, 0, 160)).toBe(160); // 80 samples and 80 of silence
    expect(buf[79]).toBe(pcm[399]);
    expect(buf[80]).toBe(0);
    expect(once.read(buf, 0, 160)).toBe(0);
    const looped = new WavAudio({ wav, loop: true });
    for (let i = 0; i < 10; i++) expect(looped.read(buf, 0, 160)).toBe(160);
    expect(buf[0]).toBe(pcm[(9 * 160) % 400]);

    for (let i = 0; i < 8; i++) tone.write(pcm, 0, 160);
    expect(tone.recordedLength()).toBe(1000);
    expect(tone.droppedSamples).toBe(280);
    expect(rms(tone.recorded(), 0, 400)).toBeCloseTo(10000 / Math.SQRT2, -2);
    expect(Math.sqrt(goertzelPower(pcm, 440, 8000, 0, 400))).toBeCloseTo(10000, -2);
  });

  it("a WAV microphone through a PCMU call", () => {
    const src = new ToneAudio({ frequencies: 300, amplitude: 12000 });
    const pcm = new Int16Array(8000);
    src.read(pcm, 0, pcm.length);
    const clock = new VirtualClock();
    const net = new VirtualNetwork({ clock, seed: 3 });
    const mic = new WavAudio({ wav: wavBytes(pcm), loop: false });
    const spk = new ToneAudio({ frequencies: 0 });
    const a = new MediaSession({ platform: new VirtualPlatform({ network: net, address: A }), audio: mic, onDigit: () => {} });
    const b = new MediaSession({ platform: new VirtualPlatform({ network: net, address: B }), audio: spk, onDigit: () => {} });
    expect(a.start({ localPort: 4000, remoteAddress: B, remotePort: 5000, payload: PCMU, telephoneEvent: -1, direction: SDP_SENDRECV })).toBe(0);
    expect(b.start({ localPort: 5000, remoteAddress: A, remotePort: 4000, payload: PCMU, telephoneEvent: -1, direction: SDP_SENDRECV })).toBe(0);
    clock.advance(2000);
    const heard = spk.recorded();
    expect(heard.length).toBe(99 * 160);
    expect(Math.sqrt(goertzelPower(heard, 300, 8000, 0, 8000))).toBeGreaterThan(11000);
    expect(rms(heard, 8000, heard.length - 8000)).toBe(0); // the file is over: silence
  });
});
