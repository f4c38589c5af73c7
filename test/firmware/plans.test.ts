// The door phone's call plans, trust policy, auto-answer, button and LED on the virtual network.
import { describe, expect, it } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { PLAN_ANSWERED, PLAN_FAILED } from "../../firmware/plan.ts";
import { PLAN_SEQUENTIAL, REFUSE_DROP, REFUSE_REJECT } from "../../firmware/phone-config.ts";
import { CALL_ACTIVE, CALL_INCOMING, REG_REGISTERED, type Call } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { simPhoneConfig, type SimPhoneOptions } from "../../sim/phone-setup.ts";
import { Registrar } from "../../sim/registrar.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";

const DOOR = "10.0.0.1";

function world(door: SimPhoneOptions, phones: { address: string; status: number; answerDelay?: number; auth?: [string, string] }[] = []) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: 4, defaults: { latency: 10 } });
  const board = new VirtualBoard(clock, null);
  const phone = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board, simPhoneConfig(DOOR, { statusLed: "D2", ...door }));
  expect(phone.open()).toBe(0);
  const peers = phones.map((p) => {
    const e = new Endpoint({ platform: new VirtualPlatform({ network, address: p.address }), address: p.address, port: 5060, inviteStatus: p.status,
      calls: { user: "r" + p.address.split(".")[3], answerDelay: p.answerDelay ?? 1000, authUser: p.auth?.[0] ?? "", password: p.auth?.[1] ?? "" } });
    expect(e.open()).toBe(0);
    return e;
  });
  const inviteTimes = (address: string) => network.capture().filter((r) => r.to === address && r.data.startsWith("INVITE")).map((r) => r.time);
  const last = (e: Endpoint) => e.events.filter((x) => x.kind === "call-state").at(-1)?.detail ?? "";
  return { clock, network, board, phone, peers, inviteTimes, last };
}

const uri = (a: string) => `sip:r@${a}:5060`;

describe("call plans", () => {
  it("sequential: the first target is busy, the second answers and the plan ends answered", () => {
    const w = world({ code: "5", targets: [uri("10.0.0.2"), uri("10.0.0.3")], plan: { mode: PLAN_SEQUENTIAL } },
      [{ address: "10.0.0.2", status: 486 }, { address: "10.0.0.3", status: 200 }]);
    w.board.pressButton("D0", 100);
    w.clock.advance(3000);
    expect(w.inviteTimes("10.0.0.2").length).toBe(1);
    expect(w.inviteTimes("10.0.0.3").length).toBe(1);
    expect(w.inviteTimes("10.0.0.3")[0]).toBeGreaterThan(w.inviteTimes("10.0.0.2")[0]);
    expect(w.phone.plan.state).toBe(PLAN_ANSWERED);
    const c = w.phone.plan.answered as Call;
    expect(c.state).toBe(CALL_ACTIVE);
    expect(c.peer).toBe(uri("10.0.0.3"));
  });

  it("sequential with a per-target ring timeout: the first rings 5 s (CANCEL), then the second", () => {
    const w = world({ targets: [], plan: { mode: PLAN_SEQUENTIAL, targets: [{ uri: uri("10.0.0.2"), ringTimeout: 5 }, { uri: uri("10.0.0.3"), ringTimeout: 0 }] } },
      [{ address: "10.0.0.2", status: 200, answerDelay: -1 }, { address: "10.0.0.3", status: 200 }]);
    w.board.pressButton("D0", 100);
    w.clock.advance(8000);
    const cancel = w.network.capture().find((r) => r.to === "10.0.0.2" && r.data.startsWith("CANCEL"))!;
    expect(Math.round(cancel.time)).toBe(5050); // the press is reported after the 50 ms debounce
    expect(w.inviteTimes("10.0.0.3").length).toBe(1);
    expect(w.phone.plan.state).toBe(PLAN_ANSWERED);
  });

  it("sequential stops where nextOn says so: a decline is final when nextOnDecline is off", () => {
    const w = world({ targets: [uri("10.0.0.2"), uri("10.0.0.3")], plan: { mode: PLAN_SEQUENTIAL, nextOnDecline: false } },
      [{ address: "10.0.0.2", status: 603 }, { address: "10.0.0.3", status: 200 }]);
    w.board.pressButton("D0", 100);
    w.clock.advance(3000);
    expect(w.inviteTimes("10.0.0.3")).toEqual([]);
    expect(w.phone.plan.state).toBe(PLAN_FAILED);
    expect(JSON.parse(w.phone.status()).lastError).toBe(`call ${uri("10.0.0.2")}: 603 Decline`);
    w.phone.logStatus();
    expect((w.phone.platform.log as unknown as { lines: string[] }).lines.at(-1)).toMatch(/ status \{"registrations":\[\],"lastError":"call sip:r@10\.0\.0\.2:5060: 603 Decline"/);
  });

  // The parallel plan (first answer wins, the other cancelled) and the button during ringing and during a call are
  // scenarios now: test/fixtures/scenarios/parallel-first-answer-wins.json and press-cancels-then-hangs-up.json.
});

describe("trust policy and auto-answer", () => {
  it("allow list: the allowed caller is answered; another is refused 403 and counted", () => {
    const w = world({ allow: ["10.0.0.2"] }, [{ address: "10.0.0.2", status: 200 }, { address: "10.0.0.3", status: 200 }]);
    const ok = w.peers[0].call(`sip:door@${DOOR}:5060`) as Call;
    w.clock.advance(3000);
    expect(ok.state).toBe(CALL_ACTIVE);
    w.peers[1].call(`sip:door@${DOOR}:5060`);
    w.clock.advance(3000);
    expect(w.last(w.peers[1])).toContain("ended 403");
    expect([w.phone.counters.accepted, w.phone.counters.refused]).toEqual([1, 1]);
  });

  it("drop: a refused INVITE gets no answer at all (not even 100), and is counted", () => {
    const w = world({ trust: { refuse: REFUSE_DROP } }, [{ address: "10.0.0.3", status: 200 }]);
    w.peers[0].call(`sip:door@${DOOR}:5060`);
    w.clock.advance(40000);
    expect(w.network.capture().filter((r) => r.from === DOOR && r.to === "10.0.0.3")).toEqual([]);
    expect(w.last(w.peers[0])).toContain("ended 408");
    expect(w.phone.counters.dropped).toBe(7); // the INVITE and its six retransmissions
  });

  it("busy: with every slot taken the policy still speaks first (403, or nothing when dropping); only an allowed caller learns 486", () => {
    for (const refuse of [REFUSE_REJECT, REFUSE_DROP]) {
      const w = world({ allow: ["10.0.0.2", "10.0.0.4"], callCapacity: 1, trust: { refuse }, calls: { maxCalls: 1 } },
        [{ address: "10.0.0.2", status: 200 }, { address: "10.0.0.3", status: 200 }, { address: "10.0.0.4", status: 200 }]);
      const up = w.peers[0].call(`sip:door@${DOOR}:5060`) as Call;
      w.clock.advance(3000);
      expect(up.state).toBe(CALL_ACTIVE);
      w.peers[1].call(`sip:door@${DOOR}:5060`);
      w.peers[2].call(`sip:door@${DOOR}:5060`);
      w.clock.advance(3000);
      expect(up.state).toBe(CALL_ACTIVE);
      expect(w.last(w.peers[2])).toContain("ended 486");
      if (refuse === REFUSE_REJECT) expect(w.last(w.peers[1])).toContain("ended 403");
      w.clock.advance(40000);
      if (refuse === REFUSE_DROP) {
        expect(w.last(w.peers[1])).toContain("ended 408");
        expect(w.network.capture().filter((r) => r.from === DOOR && r.to === "10.0.0.3")).toEqual([]);
      }
    }
  });

  it("digest challenge for direct calls: the right credentials get in, wrong ones are challenged again and give up", () => {
    const w = world({ trust: { challengeUser: "visitor", challengePassword: "open-sesame", challengeRealm: "door" } },
      [{ address: "10.0.0.2", status: 200, auth: ["visitor", "open-sesame"] }, { address: "10.0.0.3", status: 200, auth: ["visitor", "wrong"] }]);
    const good = w.peers[0].call(`sip:door@${DOOR}:5060`) as Call;
    w.clock.advance(3000);
    expect(good.state).toBe(CALL_ACTIVE);
    const c401 = w.network.capture().find((r) => r.data.startsWith("SIP/2.0 401"))!;
    expect(c401.data).toMatch(/^WWW-Authenticate: Digest realm="door", nonce="\w+\.[0-9a-f]{16}", algorithm=MD5, qop="auth"\r$/m);
    w.peers[0].hangup(good);
    w.clock.advance(1000);
    w.peers[1].call(`sip:door@${DOOR}:5060`);
    w.clock.advance(3000);
    expect(w.last(w.peers[1])).toContain("ended 401");
    expect(w.phone.counters.challenged).toBe(3); // good: 1; wrong: 2 (the second ends the caller's attempt)
    expect(w.phone.counters.accepted).toBe(1);
  });

  it("registrar trust: calls from the registrar of a registered account are accepted, not before it registered", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 4, defaults: { latency: 10 } });
    const registrar = new Registrar({ platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
      realm: "r", users: { "1001": "pw" }, inviteStatus: 200 });
    expect(registrar.open()).toBe(0);
    const phone = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), new VirtualBoard(clock, null), simPhoneConfig(DOOR, {
      accounts: [{ user: "1001", authUser: "", password: "pw", domain: "r", registrar: "10.0.0.100", registrarPort: 5060, transport: 0, expires: 600,
        instanceId: "", localAddress: DOOR, localPort: 5060, backoffBase: 30, backoffMax: 1800, keepalive: 0 }],
    }));
    expect(phone.open()).toBe(0);
    registrar.call(`sip:1001@${DOOR}:5060`);
    clock.advance(1000);
    expect(registrar.events.filter((e) => e.kind === "call-state").at(-1)!.detail).toContain("ended 403");
    phone.registerAll();
    clock.advance(1000);
    expect(phone.registrations[0].state).toBe(REG_REGISTERED);
    const later = registrar.call(`sip:1001@${DOOR}:5060`) as Call;
    clock.advance(3000);
    expect(later.state).toBe(CALL_ACTIVE);
  });

  it("auto-answer only for listed callers: others ring until the button answers", () => {
    const w = world({ allow: ["10.0.0.2", "10.0.0.3"], autoAnswer: { from: ["10.0.0.2"] }, buttonPin: "D0" },
      [{ address: "10.0.0.2", status: 200 }, { address: "10.0.0.3", status: 200 }]);
    const c = w.peers[1].call(`sip:door@${DOOR}:5060`) as Call;
    w.clock.advance(10000);
    expect(w.phone.ua.calls!.calls[0].state).toBe(CALL_INCOMING);
    w.board.pressButton("D0", 100);
    w.clock.advance(500);
    expect(c.state).toBe(CALL_ACTIVE);
  });
});

describe("status LED and diagnostics", () => {
  it("the LED is steady when idle, blinks fast while calling, slow in a call; status() reports counters and the trace", () => {
    const w = world({ code: "5", targets: [uri("10.0.0.2")] }, [{ address: "10.0.0.2", status: 200, answerDelay: 2000 }]);
    const led = () => w.board.transitions("D2").map((t) => [Math.round(t.at), t.on]);
    w.clock.advance(100);
    expect(w.board.isOn("D2")).toBe(true); // no account: idle counts as ready
    w.board.pressButton("D0", 50);
    w.clock.advance(1500);
    const ringing = led().filter((t) => (t[0] as number) > 100 && (t[0] as number) < 1500);
    expect(ringing.length).toBeGreaterThanOrEqual(4); // 250 ms half-periods
    w.clock.advance(5000);
    const inCall = led().filter((t) => (t[0] as number) > 3000 && (t[0] as number) < 6500);
    expect(inCall.length).toBeGreaterThanOrEqual(2);
    expect(inCall.length).toBeLessThanOrEqual(4); // 1000 ms half-periods
    const s = JSON.parse(w.phone.status());
    expect(s.calls).toBe(1);
    expect(s.counters.sent).toBe(2); // the INVITE and the ACK
    expect(s.counters.transport.received).toBeGreaterThanOrEqual(2);
    expect(s.lastError).toBe("");
    expect(s.counters.buttonPresses).toBe(1);
    expect(s.trace).toMatch(/response 180\n.*response 200\n/);
  });
});
