// RFC 4733 telephone-events: payload codec, receiver de-duplication, sender sequence; SIP INFO DTMF bodies.
import { describe, expect, it } from "vitest";
import {
  DTMF_ERR_SHORT, DTMF_HOLD_SAMPLES, DtmfReceiver, DtmfSender, RtpHeader, RtpSender, TelephoneEvent,
  decodeRtp, decodeTelephoneEvent, dtmfDigit, dtmfEvent, encodeRtp, encodeTelephoneEvent, parseDtmfInfo,
} from "../../sip-core/index.ts";

const ev = (event: number, end: boolean, duration: number, volume = 10): Uint8Array => {
  const b = new Uint8Array(4);
  encodeTelephoneEvent(event, end, volume, duration, b, 0);
  return b;
};

/** A receiver fed as the media session feeds it (release at every packet's timestamp, then receive). */
function collector(): { rx: DtmfReceiver; got: string[]; feed: (ts: number, p: Uint8Array) => void; until: (ts: number) => void } {
  const got: string[] = [];
  const rx = new DtmfReceiver((d, dur) => got.push(String.fromCharCode(d) + ":" + dur));
  return { rx, got, feed: (ts, p) => { rx.release(ts); rx.receive(ts, p, 0, p.length); }, until: (ts) => rx.release(ts) };
}

describe("telephone-event payload", () => {
  it("encodes the RFC 4733 §2.3 layout: event, E|R|volume, duration", () => {
    // Digit 9 at -10 dBm0, 50 ms into the event (400 samples at 8 kHz); then its end at 200 ms.
    expect(Array.from(ev(9, false, 400))).toEqual([0x09, 0x0A, 0x01, 0x90]);
    expect(Array.from(ev(9, true, 1600))).toEqual([0x09, 0x8A, 0x06, 0x40]);
    expect(Array.from(ev(11, true, 70000, 63))).toEqual([11, 0xBF, 0xFF, 0xFF]); // duration saturates
  });

  it("decodes and rejects short payloads", () => {
    const e = new TelephoneEvent();
    expect(decodeTelephoneEvent(new Uint8Array([0, 0, 9, 5, 0xC3, 0x01, 0x40]), 3, 4, e)).toBe(0);
    expect([e.event, e.end, e.volume, e.duration]).toEqual([5, true, 3, 0x140]); // R bit ignored
    expect(decodeTelephoneEvent(new Uint8Array(3), 0, 3, e)).toBe(-DTMF_ERR_SHORT);
    expect(decodeTelephoneEvent(new Uint8Array(4), 2, 4, e)).toBe(-DTMF_ERR_SHORT);
  });

  it("maps digits to events 0–15 and back", () => {
    const digits = "0123456789*#ABCD";
    for (let i = 0; i < 16; i++) {
      expect(dtmfEvent(digits.charCodeAt(i))).toBe(i);
      expect(dtmfDigit(i)).toBe(digits.charCodeAt(i));
    }
    expect(dtmfEvent("b".charCodeAt(0))).toBe(13);
    expect(dtmfEvent("E".charCodeAt(0))).toBe(-1);
    expect(dtmfEvent("e".charCodeAt(0))).toBe(-1);
    expect(dtmfDigit(16)).toBe(-1);
  });
});

describe("DtmfReceiver", () => {
  it("reports a digit once although the end packet is sent three times", () => {
    const { got, feed, until } = collector();
    feed(1000, ev(5, false, 160));
    feed(1000, ev(5, false, 320));
    expect(got).toEqual([]);
    feed(1000, ev(5, true, 800));
    feed(1000, ev(5, true, 800));
    feed(1000, ev(5, true, 800));
    expect(got).toEqual([]); // held for an earlier digit still on its way
    until(1000 + DTMF_HOLD_SAMPLES - 1);
    expect(got).toEqual([]);
    until(1000 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["5:800"]);
  });

  it("ignores duplicated and reordered packets of a reported event", () => {
    const { got, feed, until } = collector();
    feed(1000, ev(1, false, 160));
    feed(1000, ev(1, true, 480));
    feed(1000, ev(1, false, 320)); // late start packet
    feed(1000, ev(1, false, 160)); // duplicate
    feed(1000, ev(1, true, 480));
    feed(2000, ev(2, false, 160));
    feed(2000, ev(2, true, 400));
    feed(1000, ev(1, true, 480)); // very late end of the previous digit
    feed(2000, ev(2, true, 400));
    until(2000 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["1:480", "2:400"]);
  });

  it("reports a digit whose start packets were all lost", () => {
    const { got, feed, until } = collector();
    feed(4000, ev(11, true, 640));
    feed(4000, ev(11, true, 640));
    until(4000 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["#:640"]);
  });

  it("reports an event with no end packet when the next event arrives, or on flush", () => {
    const { rx, got, feed, until } = collector();
    feed(1000, ev(7, false, 160));
    feed(1000, ev(7, false, 320));
    expect(got).toEqual([]);
    feed(2000, ev(8, false, 160));
    until(1000 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["7:320"]);
    feed(1000, ev(7, true, 480)); // its end turns up after all: already reported
    expect(got).toEqual(["7:320"]);
    rx.flush();
    expect(got).toEqual(["7:320", "8:160"]);
    rx.flush();
    feed(2000, ev(8, true, 480));
    expect(got).toEqual(["7:320", "8:160"]);
    // A new event whose first packet is its end flushes the pending one first, in order.
    feed(3000, ev(3, false, 160));
    feed(4000, ev(4, true, 320));
    rx.flush();
    expect(got).toEqual(["7:320", "8:160", "3:160", "4:320"]);
  });

  it("does not let a reordered older start packet end the current event early", () => {
    const { got, feed, until } = collector();
    feed(2000, ev(2, false, 160));
    feed(1000, ev(1, false, 160)); // older event, start only: dropped
    feed(2000, ev(2, false, 320));
    feed(1000, ev(1, true, 480)); // older event's end: reported on its own
    feed(2000, ev(2, true, 480));
    until(2000 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["1:480", "2:480"]);
  });

  it("orders events across the 32-bit timestamp wrap and ignores non-DTMF events", () => {
    const { got, feed, until } = collector();
    feed(0xFFFFFF00, ev(1, false, 160));
    feed(0xFFFFFF00, ev(16, false, 160)); // flash: not a digit
    feed(0x100, ev(2, false, 160));
    feed(0x100, ev(2, true, 320));
    until(0x100 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["1:160", "2:320"]);
  });

  it("remembers a bounded number of events", () => {
    const { rx, got, feed } = collector();
    for (let i = 0; i < 20; i++) feed(i * 1000, ev(i % 10, true, 400));
    for (let i = 12; i < 20; i++) feed(i * 1000, ev(i % 10, true, 400)); // within memory: dropped
    rx.flush();
    expect(got.length).toBe(20);
    expect(got.map((g) => g[0]).join("")).toBe("01234567890123456789");
  });

  it("puts digits reordered on the way back in timestamp order (a code typed at 5 digits a second over 500 ms of jitter)", () => {
    const { rx, got, feed, until } = collector();
    // 1, 2, 3, # started 1,600 samples (200 ms) apart; their packets arrive scrambled.
    feed(4800, ev(3, true, 640));
    feed(1600, ev(2, true, 640));
    feed(0, ev(1, true, 640));
    feed(6400, ev(11, false, 160));
    feed(6400, ev(11, true, 640));
    expect(got).toEqual([]);
    until(1600 + DTMF_HOLD_SAMPLES);
    expect(got).toEqual(["1:640", "2:640"]);
    rx.flush();
    expect(got).toEqual(["1:640", "2:640", "3:640", "#:640"]);
  });

  it("rejects short payloads", () => {
    const { rx, got } = collector();
    expect(rx.receive(0, new Uint8Array(2), 0, 2)).toBe(false);
    expect(got).toEqual([]);
  });
});

describe("DtmfSender", () => {
  it("emits growing start packets, marker on the first, then three end packets on one timestamp", () => {
    const rtp = new RtpSender(0x1234, 100, 8000, 0);
    rtp.nextFrame(160); // a voice packet first
    const tx = new DtmfSender();
    expect(tx.begin("#".charCodeAt(0), 800, 160, rtp)).toBe(true);
    const payload = new Uint8Array(4);
    const e = new TelephoneEvent();
    const seen: number[][] = [];
    let n;
    while ((n = tx.next(rtp, payload, 0)) > 0) {
      decodeTelephoneEvent(payload, 0, n, e);
      const h = rtp.header;
      seen.push([h.sequence, h.timestamp, h.marker, h.payloadType, e.event, e.end ? 1 : 0, e.duration]);
    }
    expect(seen).toEqual([
      [101, 8160, 1, 101, 11, 0, 160],
      [102, 8160, 0, 101, 11, 0, 320],
      [103, 8160, 0, 101, 11, 0, 480],
      [104, 8160, 0, 101, 11, 0, 640],
      [105, 8160, 0, 101, 11, 1, 800],
      [106, 8160, 0, 101, 11, 1, 800],
      [107, 8160, 0, 101, 11, 1, 800],
    ]);
    expect(tx.sendingDigit).toBe(false);
    const v = rtp.nextFrame(160); // voice resumes after the event, as a new talkspurt
    expect([v.sequence, v.timestamp, v.marker, v.payloadType]).toEqual([108, 8960, 1, 0]);
    expect(tx.begin("x".charCodeAt(0), 800, 160, rtp)).toBe(false);
  });

  it("a short digit is its end packets only, the first with the marker", () => {
    const rtp = new RtpSender(1, 0, 0, 0);
    const tx = new DtmfSender();
    tx.begin("1".charCodeAt(0), 100, 160, rtp);
    const p = new Uint8Array(4);
    const marks: number[] = [];
    while (tx.next(rtp, p, 0) > 0) marks.push(rtp.header.marker, p[1] >> 7);
    expect(marks).toEqual([1, 1, 0, 1, 0, 1]);
  });

  it("its packets, through RTP with loss-free duplication and reordering, give each digit once", () => {
    const rtp = new RtpSender(0xABCDEF01, 65530, 0xFFFFF000, 0);
    const tx = new DtmfSender();
    const wire: Uint8Array[] = [];
    const payload = new Uint8Array(4);
    for (const d of "159*#0D") {
      tx.begin(d.charCodeAt(0), 960, 160, rtp);
      let n;
      while ((n = tx.next(rtp, payload, 0)) > 0) {
        const pkt = new Uint8Array(16);
        encodeRtp(rtp.header, payload, n, pkt, 0);
        wire.push(pkt);
      }
      for (let i = 0; i < 3; i++) { const h = rtp.nextFrame(160); wire.push(new Uint8Array(encodeRtp(h, payload, 0, new Uint8Array(12), 0))); }
    }
    // Duplicate every packet and swap neighbours.
    const mangled: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) mangled.push(wire[i], wire[i]);
    for (let i = 0; i + 1 < mangled.length; i += 3) { const t = mangled[i]; mangled[i] = mangled[i + 1]; mangled[i + 1] = t; }
    const { rx, got } = collector();
    const h = new RtpHeader();
    for (const pkt of mangled) {
      if (pkt.length < 16) continue;
      expect(decodeRtp(pkt, 0, pkt.length, h)).toBe(0);
      if (h.payloadType === 101) rx.receive(h.timestamp, pkt, h.payloadOffset, h.payloadLength);
    }
    rx.flush();
    expect(got.map((s) => s[0]).join("")).toBe("159*#0D");
    expect(got.every((s) => s.endsWith(":960"))).toBe(true);
  });
});

describe("parseDtmfInfo", () => {
  const relay = (s: string): string => { const c = parseDtmfInfo(s, 0, s.length, true); return c < 0 ? "" : String.fromCharCode(c); };
  const plain = (s: string): string => { const c = parseDtmfInfo(s, 0, s.length, false); return c < 0 ? "" : String.fromCharCode(c); };

  it("reads application/dtmf-relay bodies", () => {
    expect(relay("Signal=5\r\nDuration=160\r\n")).toBe("5");
    expect(relay("Signal=5\r\nDuration=160")).toBe("5");
    expect(relay("signal = #\r\nduration = 250\r\n")).toBe("#");
    expect(relay("SIGNAL=*\nDURATION=100")).toBe("*");
    expect(relay("Duration=160\r\nSignal= d \r\n")).toBe("D");
    expect(relay("  Signal\t=\t9  \r\n")).toBe("9");
    expect(relay("Signal=10\r\nDuration=160")).toBe("*");
    expect(relay("Signal=11")).toBe("#");
    expect(relay("Signal=12")).toBe("A");
  });

  it("rejects bodies without a valid signal", () => {
    expect(relay("")).toBe("");
    expect(relay("Duration=160\r\n")).toBe("");
    expect(relay("Signal=\r\nDuration=160")).toBe("");
    expect(relay("Signal=55\r\n")).toBe("");
    expect(relay("Signal=16")).toBe("");
    expect(relay("Signal=E")).toBe("");
    expect(relay("Signals=5")).toBe("");
    expect(relay("Signal 5")).toBe("");
  });

  it("reads application/dtmf bodies", () => {
    expect(plain("5")).toBe("5");
    expect(plain(" 5\r\n")).toBe("5");
    expect(plain("a")).toBe("A");
    expect(plain("#")).toBe("#");
    expect(plain("11")).toBe("#");
    expect(plain("")).toBe("");
    expect(plain("55")).toBe("");
    expect(plain("Signal=5")).toBe("");
  });

  it("respects the start and end of the body in a larger message", () => {
    const msg = "INFO sip:door SIP/2.0\r\n\r\nSignal=3\r\nDuration=100XSignal=4";
    const s = msg.indexOf("Signal");
    expect(parseDtmfInfo(msg, s, s + 8, true)).toBe(51);
    expect(parseDtmfInfo(msg, s + 8, msg.length - 8, true)).toBe(-1);
    const p = "xx7yy";
    expect(parseDtmfInfo(p, 2, 3, false)).toBe(55);
  });
});
