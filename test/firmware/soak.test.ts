// A 24-hour soak on the virtual clock: registration refreshes, a call every 5 minutes that opens the door, a stranger's noise; pools empty between calls, the door's footprint flat after warm-up.
import { describe, expect, it } from "vitest";
import { CALL_ACTIVE, REG_REGISTERED } from "../../sip-core/index.ts";
import { DOOR, DOOR_CODE, footprint, registeredDoor } from "./door-world.ts";

const STRANGER = "203.0.113.9";
const MIN = 60_000;

function sipRequest(method: string, n: number): string {
  return [`${method} sip:door@${DOOR} SIP/2.0`, `Via: SIP/2.0/UDP ${STRANGER}:5060;branch=z9hG4bK-noise${n}`, "Max-Forwards: 70",
    `From: <sip:x@${STRANGER}>;tag=n${n}`, `To: <sip:door@${DOOR}>`, `Call-ID: noise-${n}`, `CSeq: 1 ${method}`, "Content-Length: 0", "", ""].join("\r\n");
}

describe("24-hour soak", () => {
  it("288 calls, 288 door openings, ~288 refreshes, noise refused; between calls nothing is left, and the door's footprint does not grow", () => {
    const { clock, network, registrar, door, resident } = registeredDoor({ seed: 24, link: { latency: 15, jitter: 5 }, expires: 600, answerDelayMs: 1000 });
    // The stranger's noise: an OPTIONS every 10 s, an INVITE every minute (refused: not allowed).
    let noise = 0;
    const noiseEvery = (ms: number, method: string) => {
      const next = () => {
        network.sendDatagram(STRANGER, 5060, DOOR, 5060, sipRequest(method, noise++));
        clock.schedule(clock.now() + ms, next);
      };
      clock.schedule(clock.now() + ms, next);
    };
    noiseEvery(10_000, "OPTIONS");
    noiseEvery(MIN, "INVITE");
    let warm: { objects: number; size: number } | null = null;
    // Measured with no transaction in flight (a REGISTER or keep-alive holds its message for retransmission).
    const settledFootprint = () => {
      for (let k = 0; k < 60 && door.layer.active > 0; k++) clock.advance(1000);
      expect(door.layer.active).toBe(0);
      return footprint(door);
    };
    let opens = 0;
    for (let n = 0; n < 288; n++) {
      const start = clock.now();
      door.buttonPressed();
      clock.advance(3000); // rings 1 s, answered
      const call = door.ua.calls!.calls.find((c) => c.live());
      expect(call?.state, "call " + n).toBe(CALL_ACTIVE);
      const rc = resident.ua.calls!.calls.find((c) => c.live())!;
      for (const d of DOOR_CODE) resident.sessions[rc.index].sendDigit(d.charCodeAt(0), 100);
      clock.advance(7000);
      resident.hangup(rc);
      // Five minutes a call: the rest is quiet but for the refreshes, the keep-alives and the noise.
      clock.advance(start + 5 * MIN - clock.now());
      opens++;
      expect(door.door.opens, "call " + n).toBe(opens);
      // Between calls: no call, no media, no transaction but a REGISTER or keep-alive of the moment.
      expect(door.ua.calls!.liveCount()).toBe(0);
      expect(door.sessions.every((s) => !s.isRunning())).toBe(true);
      expect(door.layer.active, "call " + n).toBeLessThanOrEqual(1);
      // After warm-up: every ring full (the audit log's 32 entries take 32 openings), after 200 minutes.
      if (n === 39) warm = settledFootprint();
    }
    const end = settledFootprint();
    expect(end.objects).toBe(warm!.objects);
    expect(Math.abs(end.size - warm!.size)).toBeLessThanOrEqual(64); // a status string of another length, not growth
    expect(door.registrations[0].state).toBe(REG_REGISTERED);
    const refreshes = registrar.history.filter((h) => h.status === 200).length;
    expect(refreshes).toBeGreaterThanOrEqual(24 * 60 / 5 - 2); // every 300 s (half of 600)
    expect(door.counters.refused).toBeGreaterThanOrEqual(24 * 60 - 2); // the stranger's INVITEs: 403
    expect(door.layer.stats.poolFull).toBe(0);
    expect(door.door.lockouts).toBe(0);
  }, 120_000);
});
