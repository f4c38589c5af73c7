// Transactions across the virtual network at 0, 20 and 50 % loss with duplication and reordering: RFC outcomes, replayable, pools empty.
import { describe, expect, it } from "vitest";
import { Endpoint } from "../../sim/endpoint.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";

interface Outcome { client: string[]; server: string[]; clientActive: number; serverActive: number; retransmissions: number }

/** One run: `door` (10.0.0.1) sends `count` requests of `method` to `phone` (10.0.0.2), spaced 2 s apart. */
function run(method: "OPTIONS" | "INVITE", loss: number, seed: number, count: number): Outcome {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed, defaults: { latency: 20, jitter: 30, loss, duplicate: 0.1, reorder: 0.1, reorderDelay: 300 } });
  const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1", seed: seed + 1 }), address: "10.0.0.1", port: 5060 });
  const phone = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2", seed: seed + 2 }), address: "10.0.0.2", port: 5060, inviteStatus: 486 });
  expect(door.open()).toBe(0);
  expect(phone.open()).toBe(0);
  for (let i = 0; i < count; i++) {
    clock.schedule(i * 2000, () => { door.sendRequest(method, "sip:phone@10.0.0.2", "10.0.0.2", 5060); });
  }
  clock.runUntilIdle(10 * 60 * 1000);
  const show = (e: Endpoint) => e.events.map((x) => `${x.at} ${x.kind}${x.detail ? " " + x.detail.replace(/^z9hG4bK.*/, "") : ""}`.trim());
  return {
    client: show(door), server: show(phone), clientActive: door.layer.active, serverActive: phone.layer.active,
    retransmissions: door.layer.stats.retransmissionsSent + phone.layer.stats.retransmissionsSent,
  };
}

for (const method of ["OPTIONS", "INVITE"] as const) {
  describe(method + " transactions on a lossy network", () => {
    const final = method === "OPTIONS" ? "200" : "486";
    it("at 0 % loss every one completes with its final response and no retransmission of the request", () => {
      const o = run(method, 0, 7, 20);
      expect(o.client.filter((e) => e.endsWith("response " + final)).length).toBe(20);
      expect(o.client.some((e) => e.includes("timeout"))).toBe(false);
      expect(o.clientActive).toBe(0);
      expect(o.serverActive).toBe(0);
    });

    for (const loss of [0.2, 0.5]) {
      for (const seed of [1, 2, 3]) {
        it(`at ${loss * 100} % loss (seed ${seed}) each completes or times out at exactly 64×T1, replays identically, pools empty`, () => {
          const a = run(method, loss, seed, 20);
          const b = run(method, loss, seed, 20);
          expect(b).toEqual(a); // deterministic: same seed, same story
          expect(a.clientActive).toBe(0);
          expect(a.serverActive).toBe(0);
          // Request i leaves at 2000·i; Timer B/F fires 32 s later if no final response came.
          for (const e of a.client.filter((x) => x.includes("timeout"))) {
            const at = Number(e.split(" ")[0]);
            expect(at % 2000).toBe(0);
          }
          const finals = a.client.filter((e) => e.endsWith("response " + final)).length;
          const timeouts = a.client.filter((e) => e.includes("timeout")).length;
          // A final response reaches the TU once per transaction (retransmissions and duplicates are absorbed)...
          // ...except that a server's final may arrive after the client gave up: then it is stray, never a second final.
          expect(finals + timeouts).toBe(20);
          expect(a.retransmissions).toBeGreaterThan(0);
          if (loss === 0.2) expect(finals).toBeGreaterThanOrEqual(18);
        });
      }
    }
  });
}
