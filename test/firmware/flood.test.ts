// Flood control (firmware/flood.ts) and a scanner's flood against a registered door phone in a call, on the virtual network.
import { describe, expect, it } from "vitest";
import { ANSWERED, DROPPED_SOURCE, DROPPED_TOTAL, floodAllow, floodAnswer, floodState, type FloodConfig } from "../../firmware/flood.ts";
import { REFUSE_DROP, REFUSE_REJECT } from "../../firmware/phone-config.ts";
import { MEDIA_PACKETS_RECEIVED, MEDIA_PACKETS_SENT } from "../../firmware/media.ts";
import { CALL_ACTIVE, REG_REGISTERED } from "../../sip-core/index.ts";
import { SeededRandom } from "../../sim/virtual.ts";
import { DOOR, footprint, registeredDoor } from "./door-world.ts";

/** A limiter over floodState/floodAllow, as the phone holds one. */
function limiter(c: FloodConfig) {
  const s = floodState(c);
  return { s, allow: (address: string, now: number) => floodAllow(s, c, address, now) };
}

describe("flood limiter", () => {
  it("a source gets its burst at once, then its rate; another source has its own bucket", () => {
    const l = limiter({ rate: 10, burst: 5, total: 0, sources: 4, refuse: REFUSE_DROP });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (l.allow("10.9.0.1", 0)) ok++;
    expect(ok).toBe(5);
    expect(l.s[DROPPED_SOURCE]).toBe(15);
    expect(l.allow("10.9.0.2", 0)).toBe(true);
    // 10 a second: one more every 100 ms.
    expect(l.allow("10.9.0.1", 50)).toBe(false);
    expect(l.allow("10.9.0.1", 100)).toBe(true);
    expect(l.allow("10.9.0.1", 100)).toBe(false);
    ok = 0;
    for (let t = 200; t <= 1100; t += 100) if (l.allow("10.9.0.1", t)) ok++;
    expect(ok).toBe(10);
  });

  it("sources beyond the table take the slot heard from longest ago; the total bucket holds whatever the spread", () => {
    const l = limiter({ rate: 1, burst: 1, total: 0, sources: 2, refuse: REFUSE_DROP });
    expect(l.allow("a", 0)).toBe(true);
    expect(l.allow("b", 10)).toBe(true);
    expect(l.allow("c", 20)).toBe(true); // evicts a (oldest)
    expect(l.allow("b", 30)).toBe(false); // b kept its (empty) bucket
    expect(l.allow("a", 40)).toBe(true); // a fresh bucket again: per-source limits alone cannot stop a spray
    const all = limiter({ rate: 1000, burst: 1000, total: 50, sources: 8, refuse: REFUSE_DROP });
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (all.allow("10.9." + (i >> 8) + "." + (i & 255), i)) ok++; // 1,000 sources in 1 s
    expect(ok).toBeGreaterThanOrEqual(50);
    expect(ok).toBeLessThanOrEqual(101); // a second's worth at the start, then 50 a second
    expect(all.s[DROPPED_TOTAL]).toBe(1000 - ok);
  });

  it("answers to refused datagrams have one bucket of their own: rate a second for all sources, a second's worth at once", () => {
    const c = { rate: 5, burst: 1, total: 0, sources: 4, refuse: REFUSE_REJECT };
    const s = floodState(c);
    let answered = 0;
    for (let i = 0; i < 100; i++) if (floodAnswer(s, c, 0)) answered++;
    expect(answered).toBe(5);
    expect(floodAnswer(s, c, 100)).toBe(false); // half a token
    expect(floodAnswer(s, c, 200)).toBe(true);
    for (let t = 300; t <= 10_200; t += 100) if (floodAnswer(s, c, t)) answered++;
    expect(answered).toBe(5 + 50); // 5 a second for 10 s, from any source
    expect(s[ANSWERED]).toBe(56);
    // No per-source rate: the total's rate bounds the answers.
    const t = { rate: 0, burst: 1, total: 3, sources: 1, refuse: REFUSE_REJECT };
    const st = floodState(t);
    answered = 0;
    for (let i = 0; i < 10; i++) if (floodAnswer(st, t, 0)) answered++;
    expect(answered).toBe(3);
  });
});


function scannerRequest(r: SeededRandom, n: number): string {
  const method = ["OPTIONS", "REGISTER", "INVITE"][r.below(3)];
  const src = "198.51." + r.below(256) + "." + r.below(256);
  return [
    `${method} sip:100@${DOOR} SIP/2.0`, `Via: SIP/2.0/UDP ${src}:5060;branch=z9hG4bK-scan${n}`, "Max-Forwards: 70",
    `From: "sipvicious"<sip:100@1.1.1.1>;tag=${(r.below(1 << 30)).toString(36)}`, `To: "sipvicious"<sip:100@1.1.1.1>`,
    `Call-ID: ${r.below(1 << 30)}${r.below(1 << 30)}`, `CSeq: 1 ${method}`, `Contact: <sip:100@${src}:5060>`,
    "User-Agent: friendly-scanner", "Accept: application/sdp", "Content-Length: 0", "", "",
  ].join("\r\n");
}

describe("a scanner's flood", () => {
  it("10,000 requests a second for 60 s from random sources while registered and in a call: refreshes on time, the call and its RTP go on, pools flat, nothing rings, the door shut, the refusals counted", () => {
    const { clock, network, registrar, board, door } = registeredDoor({ seed: 8, link: { latency: 5 }, expires: 120, answerDelayMs: 500, calls: { maxDuration: 600 } });
    door.buttonPressed();
    clock.advance(3000);
    const call = door.ua.calls!.calls.find((c) => c.live())!;
    expect(call.state).toBe(CALL_ACTIVE);
    const session = door.sessions[call.index];
    const rtpBefore = session.stats[MEDIA_PACKETS_RECEIVED], sentBefore = session.stats[MEDIA_PACKETS_SENT];
    const registersBefore = registrar.history.length;
    const start = clock.now();
    const r = new SeededRandom(99);
    let maxActive = 0;
    let early = { objects: 0, size: 0 };
    for (let ms = 0; ms < 60_000; ms++) {
      for (let k = 0; k < 10; k++) {
        const n = ms * 10 + k;
        network.sendDatagram("198.51." + r.below(256) + "." + r.below(256), 5060 + r.below(100), DOOR, 5060, scannerRequest(r, n));
      }
      clock.advance(1);
      if (door.layer.active > maxActive) maxActive = door.layer.active;
      if (ms === 9_999) early = footprint(door);
    }
    const late = footprint(door);
    // The registration: refreshed every 60 s (half the 120 s granted), each answered 200, never lost.
    const during = registrar.history.slice(registersBefore);
    expect(during.map((h) => h.status)).toEqual([200]);
    expect(during[0].at - start).toBeLessThan(60_000);
    expect(door.registrations[0].state).toBe(REG_REGISTERED);
    expect(registrar.bindings.length).toBe(1);
    // The call and its media: still up, 50 packets a second each way.
    expect(call.state).toBe(CALL_ACTIVE);
    expect(session.stats[MEDIA_PACKETS_RECEIVED] - rtpBefore).toBeGreaterThan(2900);
    expect(session.stats[MEDIA_PACKETS_SENT] - sentBefore).toBeGreaterThan(2900);
    // Nothing from the scanner rang or was answered; the door never opened; the pools stayed small.
    expect(door.counters.accepted).toBe(0);
    expect(door.ua.calls!.liveCount()).toBe(1);
    expect(door.door.opens).toBe(0);
    expect(board.transitions("D4")).toEqual([]);
    expect(maxActive).toBeLessThanOrEqual(4);
    // What the door phone holds after 10 s of flood and after 60 s: flat (its rings were full by 10 s); the
    // size may differ by what the transactions in flight at either moment hold (measured: 100 objects, 11,110
    // and 11,111 units).
    expect(late.objects).toBe(early.objects);
    expect(Math.abs(late.size - early.size)).toBeLessThan(early.size / 100);
    expect(door.layer.stats.poolFull).toBe(0);
    // What was refused, counted: all but the overall 200 a second went unparsed.
    const f = door.flood!;
    expect(f[DROPPED_TOTAL] + f[DROPPED_SOURCE]).toBeGreaterThan(580_000);
    expect(door.transport.stats.received).toBeLessThan(15_000);
    const status = JSON.parse(door.status());
    expect(status.flood).toEqual({ droppedSource: f[DROPPED_SOURCE], droppedTotal: f[DROPPED_TOTAL], answered: 0 });
    expect(status.counters.refused).toBeGreaterThan(1000); // the INVITEs that got through the limit: 403
  }, 60_000);
});

describe("refusing a flood with 403 (flood.refuse \"reject\")", () => {
  /** One scanner at 10.9.9.9:5060 sending `count` OPTIONS (and an ACK after each tenth) over one second; what it got back. */
  function flood(refuse: number) {
    const { clock, network, door } = registeredDoor({ seed: 3, link: { latency: 5 }, expires: 300, answerDelayMs: 500 });
    door.config.flood.refuse = refuse;
    const got: string[] = [];
    expect(typeof network.bindUdp("10.9.9.9", { port: 5060, onMessage: (d) => got.push(d) })).not.toBe("number");
    const r = new SeededRandom(5);
    for (let i = 0; i < 200; i++) {
      network.sendDatagram("10.9.9.9", 5060, DOOR, 5060, scannerRequest(r, i).replace(/^\w+ /, "OPTIONS ").replace(/CSeq: 1 \w+/, "CSeq: 1 OPTIONS").replace(/198\.51\.\d+\.\d+/g, "10.9.9.9"));
      if (i % 10 === 9) network.sendDatagram("10.9.9.9", 5060, DOOR, 5060, scannerRequest(r, 1000 + i).replace(/^\w+ /, "ACK ").replace(/CSeq: 1 \w+/, "CSeq: 1 ACK").replace(/198\.51\.\d+\.\d+/g, "10.9.9.9"));
      clock.advance(5);
    }
    clock.advance(1000);
    const status = (code: number) => got.filter((d) => d.startsWith("SIP/2.0 " + code + " ")).length;
    return { door, got, status };
  }

  it("drop (the default): the burst is answered, the rest gets nothing", () => {
    const { door, got, status } = flood(REFUSE_DROP);
    expect(status(200)).toBe(got.length);
    expect(got.length).toBeGreaterThanOrEqual(40); // the burst of 40, then 20 a second
    expect(got.length).toBeLessThanOrEqual(61);
    expect(door.flood![ANSWERED]).toBe(0);
  });

  it("reject: refused requests get 403 Rate Limited, at most the answers' rate; ACKs never; the refusals still counted", () => {
    const { door, got, status } = flood(REFUSE_REJECT);
    const forbidden = got.filter((d) => d.startsWith("SIP/2.0 403 Rate Limited\r\n"));
    expect(forbidden.length).toBeGreaterThanOrEqual(20);
    expect(forbidden.length).toBeLessThanOrEqual(41); // a second's worth (20) at once, then 20 a second
    expect(status(200) + forbidden.length).toBe(got.length);
    expect(forbidden.every((d) => d.includes("CSeq: 1 OPTIONS\r\n") && /\r\nTo: [^\r]*;tag=/.test(d))).toBe(true);
    const f = door.flood!;
    expect(f[ANSWERED]).toBeGreaterThanOrEqual(forbidden.length);
    // Every datagram refused or admitted: the OPTIONS admitted were answered 200, the ACKs admitted (at most 20) not.
    expect(f[DROPPED_SOURCE]).toBeLessThanOrEqual(220 - status(200));
    expect(f[DROPPED_SOURCE]).toBeGreaterThanOrEqual(220 - status(200) - 20);
    expect(JSON.parse(door.status()).flood.answered).toBe(f[ANSWERED]);
  });
});
