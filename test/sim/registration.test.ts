// Registration on the virtual network: digest, refresh, 423, 5xx backoff, no answer, restart, outage, NAT, unregister.
import { describe, expect, it } from "vitest";
import { REG_BACKOFF, REG_FAILED, REG_REGISTERED, REG_UNREGISTERED, TRANSPORT_TCP, type AccountConfig } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { Registrar, type RegistrarOptions } from "../../sim/registrar.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";

const MIN = 60000;

function world(opts: { loss?: number; seed?: number; password?: string; account?: Partial<AccountConfig>; registrar?: Partial<RegistrarOptions> } = {}) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: opts.seed ?? 1, defaults: { latency: 20, jitter: 10, loss: opts.loss ?? 0 } });
  const registrar = new Registrar({
    platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
    realm: "sip.example.com", users: { "1001": "front-door-secret" }, ...opts.registrar,
  });
  const account: AccountConfig = {
    user: "1001", authUser: "", password: opts.password ?? "front-door-secret", domain: "sip.example.com",
    registrar: "10.0.0.100", registrarPort: 5060, transport: 0, expires: 600, instanceId: "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21",
    localAddress: "10.0.0.1", localPort: 5060, backoffBase: 30, backoffMax: 1800, keepalive: 28, ...opts.account,
  };
  const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1", seed: (opts.seed ?? 1) + 10 }), address: "10.0.0.1", port: 5060, accounts: [account] });
  expect(registrar.open()).toBe(0);
  expect(door.open()).toBe(0);
  const reg = door.registrations[0];
  return { clock, network, registrar, door, reg };
}

describe("registration", () => {
  it("boot: REGISTER, 401, REGISTER with credentials, 200; refreshed at half the granted time with the same nonce (nc 2)", () => {
    const { clock, registrar, door, reg } = world();
    door.registerAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(reg.granted).toBe(600);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 200]);
    expect(registrar.binding("1001")?.contact).toBe("sip:1001@10.0.0.1:5060;transport=udp");
    clock.advance(5 * MIN);
    expect(registrar.history.map((h) => [Math.round(h.at / 1000), h.status])).toEqual([[0, 401], [0, 200], [300, 200]]);
    expect(registrar.history.map((h) => h.cseq)).toEqual([1, 2, 3]);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("over TCP (accounts[].transport): REGISTER, challenge and refresh on one connection, Via TCP, Contact transport=tcp, CRLF pings on it", () => {
    const { clock, network, registrar, door, reg } = world({ account: { transport: TRANSPORT_TCP } });
    door.registerAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 200]);
    expect(registrar.binding("1001")?.contact).toBe("sip:1001@10.0.0.1:5060;transport=tcp");
    clock.advance(5 * MIN);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 200, 200]);
    const cap = network.capture();
    expect(cap.filter((r) => r.proto === "udp").map((r) => r.data.split("\r\n")[0])).toEqual([]);
    const tcp = cap.filter((r) => r.proto === "tcp" && r.from === "10.0.0.1").map((r) => r.data).join("");
    const registers = tcp.split("REGISTER sip:").slice(1);
    expect(registers.length).toBe(3);
    for (const m of registers) {
      expect(m).toContain("\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK");
      expect(m).toContain(";transport=tcp>;expires=600");
    }
    expect(tcp).toContain("\r\n\r\n\r\n\r\n"); // a CRLFCRLF keep-alive after a message's end
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("over TCP, the registrar restarts and its connection closes: registered again at once on a new one; not more than once per backoff base", () => {
    const { clock, network, registrar, door, reg } = world({ account: { transport: TRANSPORT_TCP, keepalive: 0 } });
    door.registerAll();
    clock.advance(1000);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 200]);
    registrar.close();
    registrar.restart();
    expect(registrar.open()).toBe(0);
    clock.advance(1000);
    expect(door.events.some((e) => e.kind === "reg-warn" && /connection to the registrar closed; registering again/.test(e.detail))).toBe(true);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 200, 401, 200]);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(registrar.binding("1001")?.contact).toBe("sip:1001@10.0.0.1:5060;transport=tcp");
    const connects = () => network.capture().filter((r) => r.proto === "tcp" && r.from === "10.0.0.1" && r.data.startsWith("REGISTER")).length;
    expect(connects()).toBe(4);
    // Closed again within the backoff base (30 s): no second immediate REGISTER; the refresh still comes.
    registrar.close();
    expect(registrar.open()).toBe(0);
    clock.advance(5000);
    expect(connects()).toBe(4);
    clock.advance(5 * MIN);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(connects()).toBeGreaterThan(4);
  });

  it("a wrong password ends in the failed state with 403: no loop", () => {
    const { clock, registrar, door, reg } = world({ password: "wrong" });
    door.registerAll();
    clock.advance(10 * MIN);
    expect(reg.state).toBe(REG_FAILED);
    expect(reg.lastStatus).toBe(403);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 403]);
    expect(reg.nextAttemptAt).toBeGreaterThan(clock.now());
  });

  it("423 Interval Too Brief: retried with Min-Expires", () => {
    const { clock, registrar, door, reg } = world({ registrar: { minExpires: 900 } });
    door.registerAll();
    clock.advance(1000);
    expect(registrar.history.map((h) => h.status)).toEqual([401, 423, 200]);
    expect(reg.granted).toBe(900);
  });

  it("500 with Retry-After: the next attempt waits at least that long", () => {
    const { clock, registrar, door, reg } = world();
    registrar.answerNext(1, 500, "Server Internal Error", ["Retry-After: 120"]);
    door.registerAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_BACKOFF);
    expect(reg.lastStatus).toBe(500);
    clock.advance(2 * MIN);
    const times = registrar.history.map((h) => Math.round(h.at / 1000));
    expect(times[0]).toBe(0);
    expect(times[1]).toBeGreaterThanOrEqual(120);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("503 without Retry-After: RFC 5626 backoff, 50–100 % of base·2^(n-1), capped", () => {
    const { clock, registrar, door, reg } = world();
    registrar.answerNext(4, 503, "Service Unavailable");
    door.registerAll();
    clock.advance(30 * MIN);
    const t = registrar.history.map((h) => h.at / 1000);
    const gaps = t.slice(1, 5).map((x, i) => x - t[i]);
    // 30 s, 60 s, 120 s, 240 s ceilings, each at least half.
    [30, 60, 120, 240].forEach((ceiling, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(gaps[i]).toBeLessThanOrEqual(ceiling + 1);
    });
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("no answer: Timer F after 32 s, then backoff, then success", () => {
    const { clock, registrar, door, reg } = world();
    registrar.answerNext(1, 0, ""); // the first REGISTER goes unanswered (its retransmissions are absorbed by the server transaction)
    door.registerAll();
    clock.advance(33000);
    expect(reg.state).toBe(REG_BACKOFF);
    expect(reg.lastStatus).toBe(408);
    clock.advance(2 * MIN);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("3xx: the Contact is followed once; a second redirect is not followed", () => {
    const { clock, network, registrar, door, reg } = world();
    const other = new Registrar({
      platform: new VirtualPlatform({ network, address: "10.0.0.101" }), address: "10.0.0.101", port: 5060,
      realm: "sip.example.com", users: { "1001": "front-door-secret" },
    });
    other.open();
    registrar.answerNext(1, 302, "Moved Temporarily", ["Contact: <sip:10.0.0.101:5060>"]);
    door.registerAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(other.binding("1001")).not.toBe(null);
    expect(registrar.binding("1001")).toBe(null);
    expect(door.events.some((e) => e.detail.includes("302: following the Contact to 10.0.0.101:5060"))).toBe(true);
    // A redirect from the new registrar as well: not followed again (bounded), backoff instead.
    const b = world();
    const third = new Registrar({
      platform: new VirtualPlatform({ network: b.network, address: "10.0.0.102" }), address: "10.0.0.102", port: 5060,
      realm: "sip.example.com", users: { "1001": "front-door-secret" },
    });
    third.open();
    b.registrar.answerNext(1, 302, "Moved Temporarily", ["Contact: <sip:10.0.0.102:5060>"]);
    third.answerNext(1, 301, "Moved Permanently", ["Contact: <sip:10.0.0.100:5060>"]);
    b.door.registerAll();
    b.clock.advance(1000);
    expect(b.reg.state).toBe(REG_BACKOFF);
    expect(b.reg.lastReason).toContain("second redirect");
  });

  it("the registrar restarts (bindings and nonces gone): the next refresh is challenged stale and succeeds", () => {
    const { clock, registrar, door, reg } = world();
    door.registerAll();
    clock.advance(1000);
    registrar.restart();
    expect(registrar.binding("1001")).toBe(null);
    clock.advance(5 * MIN);
    expect(registrar.history.slice(2).map((h) => h.status)).toEqual([401, 200]);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(reg.failures).toBe(0);
    expect(registrar.binding("1001")).not.toBe(null);
  });

  it("network down for 10 minutes: refreshes fail into backoff; registered again once it is back", () => {
    const { clock, network, registrar, door, reg } = world({ account: { expires: 120 } });
    registrar.maxExpires = 120;
    door.registerAll();
    clock.advance(1000);
    network.setDefaults({ loss: 1 });
    clock.advance(10 * MIN);
    expect(reg.state).toBe(REG_BACKOFF);
    network.setDefaults({ loss: 0 });
    // With a network-up signal (the firmware's linkUp calls registerAll) it is immediate.
    door.registerAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  /** Seconds from the network's return to registered, after `outageMin` minutes without it, at most `limitMin` minutes. */
  function outage(outageMin: number, seed: number, account: Partial<AccountConfig>, registrarPongs = true) {
    const { clock, network, registrar, reg } = world({ seed, account: { expires: 120, ...account } });
    registrar.maxExpires = 120;
    registrar.transport.answerPings = registrarPongs;
    reg.start(clock.now());
    clock.advance(1000 + seed * 7919 % 60_000); // the outage starts anywhere in the refresh cycle
    expect(reg.state).toBe(REG_REGISTERED);
    network.setDefaults({ loss: 1 });
    clock.advance(outageMin * MIN);
    expect(reg.state).not.toBe(REG_REGISTERED); // in backoff, or an attempt in flight that will time out
    expect(reg.failures).toBeGreaterThanOrEqual(3);
    network.setDefaults({ loss: 0 });
    const back = clock.now();
    while (reg.state !== REG_REGISTERED && clock.now() - back < 40 * MIN) clock.advance(100);
    expect(reg.state).toBe(REG_REGISTERED);
    return { seconds: (clock.now() - back) / 1000 };
  }

  it("an upstream outage (no network-down signal) of 10 minutes: the keep-alive probes the registrar in backoff, back within a keep-alive period (28 s), over 20 seeds", () => {
    const s = [];
    for (let seed = 1; seed <= 20; seed++) s.push(outage(10, seed, {}).seconds);
    expect(Math.max(...s)).toBeLessThanOrEqual(28 + 1);
    // A registrar that never answers pings is probed with OPTIONS (the flow switched to them while registered).
    for (let seed = 1; seed <= 5; seed++) expect(outage(10, seed, {}, false).seconds).toBeLessThanOrEqual(28 + 1);
  });

  it("with the keep-alive off, the RFC 5626 backoff bounds it: after a 10-minute outage, within the wait then due (at most 480 s with base 30) plus Timer F", () => {
    const s = [];
    for (let seed = 1; seed <= 20; seed++) s.push(outage(10, seed, { keepalive: 0 }).seconds);
    expect(Math.max(...s)).toBeLessThanOrEqual(480 + 32 + 1);
    expect(Math.max(...s)).toBeGreaterThan(28 + 1); // the probe is what makes the difference
  });

  it("NAT: the registrar sees another address; the contact is re-registered with it (rport/received)", () => {
    const { clock, registrar, door, reg } = world({ account: { localAddress: "192.168.1.23" } });
    door.registerAll();
    clock.advance(1000);
    expect(reg.contactAddress).toBe("10.0.0.1");
    expect(reg.state).toBe(REG_REGISTERED);
    expect(registrar.binding("1001")?.contact).toBe("sip:1001@10.0.0.1:5060;transport=udp");
    expect(registrar.bindings.length).toBe(1); // the old contact was removed with expires=0
  });

  it("unregister on shutdown: expires=0, the binding disappears", () => {
    const { clock, registrar, door, reg } = world();
    door.registerAll();
    clock.advance(1000);
    door.unregisterAll();
    clock.advance(1000);
    expect(reg.state).toBe(REG_UNREGISTERED);
    expect(registrar.binding("1001")).toBe(null);
  });

  it("SHA-256 and a proxy challenge (407) work the same way", () => {
    const { clock, registrar, door, reg } = world({ registrar: { algorithm: "SHA-256", proxy: true } });
    door.registerAll();
    clock.advance(1000);
    expect(registrar.history.map((h) => h.status)).toEqual([407, 200]);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  for (const loss of [0.3, 0.6]) {
    it(`at ${loss * 100} % loss it registers and stays registered over an hour (seeded, replayable)`, () => {
      const run = () => {
        const { clock, door, reg, registrar } = world({ loss, seed: 5 });
        door.registerAll();
        clock.advance(60 * MIN);
        return { state: reg.state, history: registrar.history.map((h) => `${Math.round(h.at)} ${h.status}`) };
      };
      const a = run();
      expect(run()).toEqual(a);
      expect(a.state).toBe(REG_REGISTERED);
      expect(a.history.filter((h) => h.endsWith(" 200")).length).toBeGreaterThanOrEqual(6);
    });
  }

  it("a fresh challenge right after fresh credentials is a refusal (servers that re-challenge instead of 403): failed, no loop", () => {
    const { clock, registrar, door, reg } = world();
    registrar.answerNext(2, 401, "Unauthorized", ['WWW-Authenticate: Digest realm="sip.example.com", nonce="abc", algorithm=MD5, qop="auth"']);
    door.registerAll();
    clock.advance(10 * MIN);
    expect(registrar.history.slice(0, 2).map((h) => h.status)).toEqual([401, 401]);
    expect(reg.state).toBe(REG_FAILED);
    expect(reg.lastStatus).toBe(401);
    expect(registrar.history.length).toBe(2);
  });

  it("a refresh challenged with a new nonce (not stale) is answered, not treated as a refusal", () => {
    const { clock, registrar, door, reg } = world();
    door.registerAll();
    clock.advance(1000);
    registrar.answerNext(1, 401, "Unauthorized", ['WWW-Authenticate: Digest realm="sip.example.com", nonce="rotated", algorithm=MD5, qop="auth"']);
    clock.advance(5 * MIN);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(reg.failures).toBe(0);
  });

  const malformed: [string, string][] = [
    ["a challenge without a nonce", 'WWW-Authenticate: Digest realm="sip.example.com", algorithm=MD5'],
    ["a challenge with only an unknown algorithm", 'WWW-Authenticate: Digest realm="sip.example.com", nonce="n1", algorithm=SHA-512-256'],
    ["a challenge with unbalanced quotes", 'WWW-Authenticate: Digest realm="sip.example.com, nonce="n1'],
    ["a challenge with only an unknown qop", 'WWW-Authenticate: Digest realm="sip.example.com", nonce="n1", qop="auth-conf"'],
  ];
  for (const [what, header] of malformed) {
    it(what + ": failed with a reason, no credentials sent, retried only after the longest wait", () => {
      const { clock, registrar, door, reg } = world();
      registrar.answerNext(1, 401, "Unauthorized", [header]);
      door.registerAll();
      clock.advance(1000);
      expect(reg.state).toBe(REG_FAILED);
      expect(reg.lastReason).toContain("no usable digest");
      expect(registrar.history.length).toBe(1);
      // backoffMax (1,800 s) after the 401 arrived, which was one round trip (≤ 60 ms here) after the REGISTER left.
      const wait = reg.nextAttemptAt - registrar.history[0].at;
      expect(wait).toBeGreaterThanOrEqual(1800000);
      expect(wait).toBeLessThanOrEqual(1800000 + 60);
      expect(door.events.some((e) => e.kind === "reg-warn" && e.detail.includes("no usable digest"))).toBe(true);
    });
  }

  it("the strongest algorithm wins when several challenges arrive", () => {
    const { clock, registrar, door } = world({ registrar: { algorithm: "SHA-256" } });
    registrar.answerNext(1, 401, "Unauthorized", [
      'WWW-Authenticate: Digest realm="sip.example.com", nonce="weak", algorithm=MD5, qop="auth"',
      'WWW-Authenticate: Digest realm="sip.example.com", nonce="strong", algorithm=SHA-256, qop="auth"',
    ]);
    door.registerAll();
    clock.advance(1000);
    expect(door.events.some((e) => e.kind === "reg" && e.detail.includes("answering a SHA-256 challenge"))).toBe(true);
  });

  it("an absurd granted expiry is clamped to a day; a 200 without our Contact is a failure to retry", () => {
    const a = world({ registrar: { maxExpires: 999999999 }, account: { expires: 999999999 } });
    a.door.registerAll();
    a.clock.advance(1000);
    expect(a.reg.state).toBe(REG_REGISTERED);
    expect(a.reg.granted).toBe(86400);
    const b = world();
    b.registrar.answerNext(1, 200, "OK", []);
    b.door.registerAll();
    b.clock.advance(1000);
    expect(b.reg.state).toBe(REG_BACKOFF);
    expect(b.reg.lastReason).toBe("200 without our Contact");
    b.clock.advance(2 * MIN);
    expect(b.reg.state).toBe(REG_REGISTERED);
  });

  it("keep-alive: a CRLF ping every 22.4–28 s while registered, each answered; no re-registration", () => {
    const { clock, registrar, door, reg } = world({ account: { expires: 3600 } });
    door.registerAll();
    clock.advance(1000);
    const start = registrar.transport.stats.keepalivePings;
    clock.advance(5 * MIN);
    const pings = registrar.transport.stats.keepalivePings - start;
    expect(pings).toBeGreaterThanOrEqual(10); // 300 s / 28 s
    expect(pings).toBeLessThanOrEqual(14); // 300 s / 22.4 s
    expect(door.events.filter((e) => e.kind === "pong").length).toBe(pings);
    expect(registrar.history.length).toBe(2);
    expect(reg.state).toBe(REG_REGISTERED);
  });

  it("a registrar that never answers pings: after 10 s the client keeps the flow alive with OPTIONS", () => {
    const { clock, registrar, door, reg } = world({ account: { expires: 3600 } });
    registrar.transport.answerPings = false;
    door.registerAll();
    clock.advance(2 * MIN);
    expect(door.events.some((e) => e.kind === "reg" && e.detail.includes("using OPTIONS"))).toBe(true);
    expect(registrar.events.filter((e) => e.kind === "request" && e.detail === "OPTIONS").length).toBeGreaterThanOrEqual(3);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(registrar.history.length).toBe(2);
  });

  it("a keep-alive period shorter than the pong wait still notices missing pongs (first deadline is not pushed back)", () => {
    const { clock, registrar, door } = world({ account: { expires: 3600, keepalive: 2 } });
    registrar.transport.answerPings = false;
    door.registerAll();
    clock.advance(1000);
    const registeredAt = clock.now();
    clock.advance(13000);
    const fallback = door.events.find((e) => e.kind === "reg" && e.detail.includes("using OPTIONS"));
    expect(fallback).toBeDefined();
    expect(fallback!.at - registeredAt).toBeLessThanOrEqual(12000);
  });

  it("pongs stop (the path died): the client registers again within 10 s of the missed pong", () => {
    const { clock, network, registrar, door, reg } = world({ account: { expires: 3600 } });
    door.registerAll();
    clock.advance(2 * MIN); // pongs have been seen
    network.setLink("10.0.0.100", "10.0.0.1", { loss: 1 }); // the way back is cut
    clock.advance(45000);
    expect(door.events.some((e) => e.kind === "reg-warn" && e.detail.includes("no pong within 10 s"))).toBe(true);
    network.clearLink("10.0.0.100", "10.0.0.1");
    clock.advance(5 * MIN);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(registrar.history.filter((h) => h.status === 200).length).toBeGreaterThanOrEqual(2);
  });

  it("two accounts register independently (own Call-IDs); a local address change re-registers and removes the old binding", () => {
    const clock = new VirtualClock();
    const network = new VirtualNetwork({ clock, seed: 9, defaults: { latency: 20 } });
    const registrar = new Registrar({
      platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
      realm: "sip.example.com", users: { "1001": "one", "1002": "two" },
    });
    const base = { authUser: "", domain: "sip.example.com", registrar: "10.0.0.100", registrarPort: 5060, transport: 0, expires: 600, instanceId: "",
      localAddress: "10.0.0.1", localPort: 5060, backoffBase: 30, backoffMax: 1800, keepalive: 0 };
    const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060,
      accounts: [{ ...base, user: "1001", password: "one" }, { ...base, user: "1002", password: "two" }] });
    registrar.open();
    door.open();
    door.registerAll();
    clock.advance(1000);
    expect(door.registrations.map((r) => r.state)).toEqual([REG_REGISTERED, REG_REGISTERED]);
    expect(registrar.binding("1001")).not.toBe(null);
    expect(registrar.binding("1002")).not.toBe(null);
    // The device believes it moved to :5062; the registrar still sees :5060 (rport), so the client
    // registers what the registrar sees. Either way, exactly one binding is left: old ones are removed.
    const before = registrar.history.length;
    door.registrations[0].setLocalAddress("10.0.0.1", 5062, clock.now());
    clock.advance(1000);
    expect(door.events.some((e) => e.detail.includes("local address is now 10.0.0.1:5062"))).toBe(true);
    expect(registrar.history.length).toBeGreaterThan(before);
    expect(registrar.bindings.filter((b) => b.aor === "sip:1001@sip.example.com").length).toBe(1);
    expect(door.registrations[0].state).toBe(REG_REGISTERED);
  });
});
