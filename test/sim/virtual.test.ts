// The virtual world: scheduler order, alarms, seeded random, network conditions, capture and virtual TCP.
import { describe, expect, it } from "vitest";
import { HAL_ERR_ADDRESS_IN_USE, HAL_ERR_CLOSED, HAL_ERR_INVALID, HAL_ERR_REFUSED, HAL_ERR_TIMEOUT, HAL_ERR_TOO_LARGE, HAL_OK } from "../../hal/errors.ts";
import { LOG_DEBUG, LOG_INFO, LOG_WARN, type UdpSocket } from "../../hal/types.ts";
import {
  type CaptureRecord, type LinkConditions, SeededRandom, VirtualClock, VirtualNetwork, VirtualPlatform, VirtualTcpConnection, VirtualUdpSocket,
} from "../../sim/virtual.ts";

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function udp(p: VirtualPlatform, port: number, inbox: string[] = []): VirtualUdpSocket {
  const s = p.openUdp({ port, onMessage: (data) => inbox.push(data) });
  if (typeof s === "number") throw new Error("openUdp failed: " + s);
  return s;
}

/** Two endpoints, a (10.0.0.1:5060) → b (10.0.0.2:5060), with conditions on a → b. */
function pair(conditions: Partial<LinkConditions> = {}, seed = 7) {
  const clock = new VirtualClock();
  const net = new VirtualNetwork({ clock, seed });
  net.setLink("10.0.0.1", "10.0.0.2", conditions);
  const a = new VirtualPlatform({ network: net, address: "10.0.0.1" });
  const b = new VirtualPlatform({ network: net, address: "10.0.0.2" });
  const got: string[] = [];
  const times: number[] = [];
  const sa = udp(a, 5060);
  const sb = b.openUdp({ port: 5060, onMessage: (data) => { got.push(data); times.push(clock.now()); } }) as UdpSocket;
  const send = (s: string) => expect(sa.send(bytes(s), s.length, "10.0.0.2", 5060)).toBe(0);
  return { clock, net, a, b, sa, sb, got, times, send };
}

describe("VirtualClock", () => {
  it("runs events in time order, and events at the same time in scheduling order", () => {
    const c = new VirtualClock();
    const order: string[] = [];
    c.schedule(30, () => order.push("c30"));
    c.schedule(10, () => order.push("a10"));
    c.schedule(20, () => order.push("b20-1"));
    c.schedule(20, () => order.push("b20-2"));
    c.schedule(10, () => order.push("a10-2"));
    c.schedule(20, () => order.push("b20-3"));
    expect(c.advance(25)).toBe(5);
    expect(order).toEqual(["a10", "a10-2", "b20-1", "b20-2", "b20-3"]);
    expect(c.now()).toBe(25);
    c.advance(5);
    expect(order.at(-1)).toBe("c30");
  });

  it("ties replay identically across many random schedules", () => {
    const run = () => {
      const c = new VirtualClock();
      const r = new SeededRandom(99);
      const order: number[] = [];
      for (let i = 0; i < 500; i++) c.schedule(r.below(20), () => order.push(i));
      c.runUntilIdle(1000);
      return order;
    };
    const first = run();
    expect(run()).toEqual(first);
    // Within one time, insertion order: indices scheduled for the same time appear ascending.
    const c = new VirtualClock();
    const seen: Array<[number, number]> = [];
    const r = new SeededRandom(99);
    for (let i = 0; i < 500; i++) { const at = r.below(20); c.schedule(at, () => seen.push([at, i])); }
    c.runUntilIdle(1000);
    for (let k = 1; k < seen.length; k++) {
      expect(seen[k][0] > seen[k - 1][0] || (seen[k][0] === seen[k - 1][0] && seen[k][1] > seen[k - 1][1])).toBe(true);
    }
  });

  it("advance runs events scheduled by events when they fall inside the window; a past time runs now", () => {
    const c = new VirtualClock();
    const log: Array<[string, number]> = [];
    c.schedule(5, () => {
      log.push(["first", c.now()]);
      c.schedule(c.now() + 3, () => log.push(["second", c.now()]));
      c.schedule(c.now() + 100, () => log.push(["late", c.now()]));
      c.schedule(0, () => log.push(["past", c.now()]));
    });
    c.advance(10);
    expect(log).toEqual([["first", 5], ["past", 5], ["second", 8]]);
    expect(c.now()).toBe(10);
    expect(c.pending).toBe(1);
    expect(c.nextAt()).toBe(105);
  });

  it("cancel removes a pending event, and reports false the second time", () => {
    const c = new VirtualClock();
    const fired: number[] = [];
    const evs = [1, 2, 3, 4, 5].map((t) => c.schedule(t, () => fired.push(t)));
    expect(c.cancel(evs[2])).toBe(true);
    expect(c.cancel(evs[2])).toBe(false);
    expect(c.cancel(evs[0])).toBe(true);
    c.advance(10);
    expect(fired).toEqual([2, 4, 5]);
    expect(c.cancel(evs[1])).toBe(false); // already ran
  });

  it("runUntil stops at the event that makes the predicate true, or at the limit", () => {
    const c = new VirtualClock();
    let n = 0;
    for (let t = 100; t <= 1000; t += 100) c.schedule(t, () => n++);
    expect(c.runUntil(() => n === 3, 10_000)).toBe(true);
    expect(c.now()).toBe(300);
    expect(c.runUntil(() => n === 100, 250)).toBe(false);
    expect(c.now()).toBe(550);
    expect(n).toBe(5);
    expect(c.runUntil(() => true, 0)).toBe(true); // checked before anything runs
    expect(c.now()).toBe(550);
  });

  it("runUntilIdle ends at the last event, or reports events left past the limit", () => {
    const c = new VirtualClock();
    c.schedule(40, () => c.schedule(90, () => {}));
    expect(c.runUntilIdle(1000)).toBe(true);
    expect(c.now()).toBe(90);
    c.schedule(5000, () => {});
    expect(c.runUntilIdle(1000)).toBe(false);
    expect(c.now()).toBe(1090);
    expect(c.pending).toBe(1);
  });

  it("a 32-second timer costs no real time", () => {
    const c = new VirtualClock();
    let fired = -1;
    c.schedule(32_000, () => (fired = c.now()));
    c.advance(31_999);
    expect(fired).toBe(-1);
    c.advance(1);
    expect(fired).toBe(32_000);
  });

  it("refuses re-entrant runs and a negative advance, and stops a livelock", () => {
    const c = new VirtualClock({ maxEventsPerRun: 1000 });
    c.schedule(1, () => c.advance(1));
    expect(() => c.advance(5)).toThrow(/inside an event/);
    expect(() => c.advance(-1)).toThrow(RangeError);
    const loop = () => { c.schedule(c.now(), loop); };
    loop();
    expect(() => c.advance(1)).toThrow(/livelock/);
  });
});

describe("VirtualAlarm", () => {
  it("fires at its time; set() replaces the pending wake-up; cancel() stops it", () => {
    const clock = new VirtualClock();
    const net = new VirtualNetwork({ clock });
    const p = new VirtualPlatform({ network: net, address: "10.0.0.1" });
    const fired: number[] = [];
    const alarm = p.createAlarm({ onAlarm: () => fired.push(clock.now()) });
    alarm.set(100);
    alarm.set(50); // replaces 100
    clock.advance(200);
    expect(fired).toEqual([50]);
    alarm.set(300);
    alarm.cancel();
    clock.advance(500);
    expect(fired).toEqual([50]);
    alarm.set(1000);
    alarm.set(2000); // later replaces earlier too
    clock.advance(1000); // now 1700
    expect(fired).toEqual([50]);
    clock.advance(500);
    expect(fired).toEqual([50, 2000]);
    expect(clock.pending).toBe(0);
  });

  it("re-armed from its own callback (the stack's pattern) and set in the past fires at once", () => {
    const clock = new VirtualClock();
    const p = new VirtualPlatform({ network: new VirtualNetwork({ clock }), address: "10.0.0.1" });
    const fired: number[] = [];
    const alarm = p.createAlarm({
      onAlarm: () => {
        fired.push(clock.now());
        if (fired.length < 4) alarm.set(clock.now() + 500);
      },
    });
    alarm.set(500);
    clock.advance(10_000);
    expect(fired).toEqual([500, 1000, 1500, 2000]);
    alarm.set(0); // in the past
    expect(fired.length).toBe(4); // never synchronously
    clock.advance(0);
    expect(fired).toEqual([500, 1000, 1500, 2000, 10_000]);
  });
});

describe("SeededRandom", () => {
  it("the same seed gives the same sequence; different seeds differ", () => {
    const seq = (seed: number) => { const r = new SeededRandom(seed); return Array.from({ length: 100 }, () => r.u32()); };
    expect(seq(42)).toEqual(seq(42));
    expect(seq(42)).not.toEqual(seq(43));
    for (const v of seq(0)) expect(Number.isInteger(v) && v >= 0 && v <= 0xffffffff).toBe(true);
  });

  it("is roughly uniform (every bit set about half the time)", () => {
    const r = new SeededRandom(5);
    const counts = new Array(32).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) { const v = r.u32(); for (let b = 0; b < 32; b++) if ((v >>> b) & 1) counts[b]++; }
    for (const c of counts) expect(Math.abs(c / n - 0.5)).toBeLessThan(0.03);
    for (let i = 0; i < 1000; i++) { const f = r.float(); expect(f >= 0 && f < 1).toBe(true); }
  });

  it("platforms get distinct default seeds from their addresses, and an explicit seed wins", () => {
    const net = new VirtualNetwork({ clock: new VirtualClock() });
    const a = new VirtualPlatform({ network: net, address: "10.0.0.1" });
    const b = new VirtualPlatform({ network: net, address: "10.0.0.2" });
    const a2 = new VirtualPlatform({ network: net, address: "10.0.0.1" });
    const c = new VirtualPlatform({ network: net, address: "10.0.0.3", seed: 42 });
    expect(a.random.u32()).not.toBe(b.random.u32());
    const a1 = new VirtualPlatform({ network: new VirtualNetwork({ clock: new VirtualClock() }), address: "10.0.0.1" });
    expect(a1.random.u32()).toBe(a2.random.u32());
    expect(c.random.u32()).toBe(new SeededRandom(42).u32());
  });
});

describe("VirtualNetwork: UDP", () => {
  it("delivers after the link latency with the sender's address and port", () => {
    const { clock, a, b, sa } = pair({ latency: 25 });
    const inbox: Array<[string, string, number, number]> = [];
    b.openUdp({ port: 7000, onMessage: (d, addr, port) => inbox.push([d, addr, port, clock.now()]) });
    sa.send(bytes("hello"), 5, "10.0.0.2", 7000);
    clock.advance(24);
    expect(inbox).toEqual([]);
    clock.advance(1);
    expect(inbox).toEqual([["hello", "10.0.0.1", 5060, 25]]);
    // The default link (b → a) has the default latency (10 ms).
    const back: number[] = [];
    const sa2 = a.openUdp({ port: 6000, onMessage: () => back.push(clock.now()) }) as UdpSocket;
    (b.openUdp({ port: 0, onMessage: () => {} }) as UdpSocket).send(bytes("x"), 1, "10.0.0.1", 6000);
    clock.advance(100);
    expect(back).toEqual([35]); // sent at 25
    sa2.close();
  });

  it("sends bytes 0..255 exactly, copied at send (the sender may reuse its buffer)", () => {
    const { clock, sa, got } = pair();
    const buf = new Uint8Array(300);
    for (let i = 0; i < 256; i++) buf[i] = i;
    sa.send(buf, 256, "10.0.0.2", 5060);
    buf.fill(0x41);
    sa.send(buf, 3, "10.0.0.2", 5060);
    clock.advance(100);
    expect(got.length).toBe(2);
    expect(Array.from(got[0], (c) => c.charCodeAt(0))).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(got[1]).toBe("AAA");
  });

  it("jitter keeps every delay within [latency, latency + jitter) and reorders", () => {
    const { clock, send, got, times } = pair({ latency: 20, jitter: 30 });
    const sentAt: number[] = [];
    for (let i = 0; i < 200; i++) { sentAt.push(clock.now()); send(String(i)); clock.advance(2); }
    clock.runUntilIdle(1000);
    expect(got.length).toBe(200);
    for (let k = 0; k < got.length; k++) {
      const delay = times[k] - sentAt[Number(got[k])];
      expect(delay).toBeGreaterThanOrEqual(20);
      expect(delay).toBeLessThan(50);
    }
    expect(got).not.toEqual(Array.from({ length: 200 }, (_, i) => String(i))); // jitter 30 > spacing 2: reordered
  });

  it("loss 0 delivers everything, loss 1 nothing", () => {
    const zero = pair({ loss: 0 });
    for (let i = 0; i < 100; i++) zero.send("m" + i);
    zero.clock.runUntilIdle(1000);
    expect(zero.got.length).toBe(100);
    expect(zero.net.stats.lost).toBe(0);
    const one = pair({ loss: 1 });
    for (let i = 0; i < 100; i++) one.send("m" + i);
    one.clock.runUntilIdle(1000);
    expect(one.got.length).toBe(0);
    expect(one.net.stats.lost).toBe(100);
  });

  it("a seeded loss fraction drops the same datagrams on every run", () => {
    const run = (seed: number) => {
      const p = pair({ loss: 0.3, jitter: 5 }, seed);
      for (let i = 0; i < 1000; i++) p.send(String(i));
      p.clock.runUntilIdle(10_000);
      return { got: p.got, lost: p.net.stats.lost, times: p.times };
    };
    const first = run(1234);
    const second = run(1234);
    expect(second.lost).toBe(first.lost);
    expect(second.got).toEqual(first.got);
    expect(second.times).toEqual(first.times);
    expect(first.lost + first.got.length).toBe(1000);
    // Pinned: a change here means a change in the order of random draws, so old seeds replay differently.
    expect(first.lost).toBe(307);
    expect(run(4321).got).not.toEqual(first.got);
  });

  it("duplication delivers extra copies, marked in the capture", () => {
    const { clock, net, send, got } = pair({ duplicate: 0.5 });
    for (let i = 0; i < 200; i++) send(String(i));
    clock.runUntilIdle(1000);
    const dups = net.stats.duplicated;
    expect(dups).toBeGreaterThan(60);
    expect(dups).toBeLessThan(140);
    expect(got.length).toBe(200 + dups);
    expect(new Set(got).size).toBe(200);
    const recs = net.capture();
    expect(recs.filter((r) => r.duplicate).length).toBe(dups);
    for (const r of recs.filter((r) => r.duplicate)) expect(recs[r.original].data).toBe(r.data);
  });

  it("the reorder probability holds datagrams back so later ones overtake them", () => {
    const { clock, net, send, got } = pair({ latency: 10, reorder: 0.2, reorderDelay: 40 });
    for (let i = 0; i < 100; i++) { send(String(i)); clock.advance(5); }
    clock.runUntilIdle(1000);
    expect(got.length).toBe(100);
    const order = got.map(Number);
    let inversions = 0;
    for (let k = 1; k < order.length; k++) if (order[k] < order[k - 1]) inversions++;
    expect(inversions).toBeGreaterThan(0);
    expect(net.stats.reordered).toBeGreaterThan(0);
    expect(net.capture().filter((r) => r.reordered).length).toBe(net.stats.reordered);
  });

  it("datagrams over the link MTU are 'sent' but dropped and counted", () => {
    const { clock, net, sa, got } = pair({ mtu: 1500 });
    const big = new Uint8Array(2000);
    expect(sa.send(big, 1472, "10.0.0.2", 5060)).toBe(0); // 1472 + 28 = 1500: fits
    expect(sa.send(big, 1473, "10.0.0.2", 5060)).toBe(0); // one byte over
    expect(sa.send(big, 2000, "10.0.0.2", 5060)).toBe(0);
    clock.runUntilIdle(1000);
    expect(got.map((g) => g.length)).toEqual([1472]);
    expect(net.stats.mtuDropped).toBe(2);
    expect(net.capture().map((r) => r.fate)).toEqual(["delivered", "mtu", "mtu"]);
    expect(sa.send(new Uint8Array(70_000), 65_508, "10.0.0.2", 5060)).toBe(HAL_ERR_TOO_LARGE);
  });

  it("a link taken down mid-run (loss 1) and brought back up", () => {
    const { clock, net, send, got } = pair({ latency: 10 });
    const tick = (label: string) => { send(label); clock.advance(100); };
    tick("up-1");
    tick("up-2");
    net.setLink("10.0.0.1", "10.0.0.2", { loss: 1 });
    tick("down-1");
    tick("down-2");
    net.setLink("10.0.0.1", "10.0.0.2", { loss: 0 });
    tick("up-3");
    expect(got).toEqual(["up-1", "up-2", "up-3"]);
    expect(net.stats.lost).toBe(2);
    expect(net.conditions("10.0.0.1", "10.0.0.2").latency).toBe(10); // other fields kept
  });

  it("wildcard links: an endpoint cut off from everyone", () => {
    const { clock, net, a, b } = pair();
    const c = new VirtualPlatform({ network: net, address: "10.0.0.3" });
    const inC: string[] = [];
    const sc = udp(c, 5060, inC);
    const sb = b.openUdp({ port: 6000, onMessage: () => {} }) as UdpSocket;
    net.setLink("*", "10.0.0.3", { loss: 1 });
    (udp(a, 7000)).send(bytes("from a"), 6, "10.0.0.3", 5060);
    sb.send(bytes("from b"), 6, "10.0.0.3", 5060);
    clock.advance(100);
    expect(inC).toEqual([]);
    net.clearLink("*", "10.0.0.3");
    sb.send(bytes("from b"), 6, "10.0.0.3", 5060);
    clock.advance(100);
    expect(inC).toEqual(["from b"]);
    sc.close();
  });

  it("a datagram to a port with no socket is dropped and counted, also when the socket closed in flight", () => {
    const { clock, net, sa, sb, got } = pair({ latency: 10 });
    sa.send(bytes("nobody"), 6, "10.0.0.2", 9999);
    sa.send(bytes("no host"), 7, "10.9.9.9", 5060);
    sa.send(bytes("in flight"), 9, "10.0.0.2", 5060);
    clock.advance(5);
    sb.close();
    clock.advance(10);
    expect(got).toEqual([]);
    expect(net.stats.unbound).toBe(3);
    expect(net.capture().map((r) => r.fate)).toEqual(["unbound", "unbound", "unbound"]);
  });

  it("send on a closed socket is HAL_ERR_CLOSED; bad arguments are HAL_ERR_INVALID", () => {
    const { sa } = pair();
    expect(sa.send(bytes("x"), 2, "10.0.0.2", 5060)).toBe(HAL_ERR_INVALID); // length past the buffer
    expect(sa.send(bytes("x"), 1, "10.0.0.2", 0)).toBe(HAL_ERR_INVALID);
    sa.close();
    expect(sa.send(bytes("x"), 1, "10.0.0.2", 5060)).toBe(HAL_ERR_CLOSED);
    sa.close(); // twice is fine
  });

  it("binding: port in use, ephemeral ports, rebinding after close, foreign address", () => {
    const { a, sa } = pair();
    expect(a.openUdp({ port: 5060, onMessage: () => {} })).toBe(HAL_ERR_ADDRESS_IN_USE);
    const e1 = udp(a, 0);
    const e2 = udp(a, 0);
    expect(e1.port).toBeGreaterThanOrEqual(49152);
    expect(e2.port).not.toBe(e1.port);
    sa.close();
    expect(typeof a.openUdp({ port: 5060, onMessage: () => {} })).toBe("object");
    expect(a.openUdp({ port: 5061, address: "10.0.0.9", onMessage: () => {} })).toBe(HAL_ERR_INVALID);
    expect(typeof a.openUdp({ port: 5061, address: "0.0.0.0", onMessage: () => {} })).toBe("object");
  });

  it("captures every datagram (time, ends, bytes, fate) in a bounded ring and tells the observer", () => {
    const clock = new VirtualClock();
    const seen: CaptureRecord[] = [];
    const net = new VirtualNetwork({ clock, captureLimit: 3, observer: (r) => seen.push({ ...r }) });
    const a = new VirtualPlatform({ network: net, address: "10.0.0.1" });
    const b = new VirtualPlatform({ network: net, address: "10.0.0.2" });
    const sa = udp(a, 5060);
    udp(b, 5060);
    net.setLink("10.0.0.1", "10.0.0.2", { latency: 30 });
    for (let i = 0; i < 5; i++) { sa.send(bytes("m" + i), 2, "10.0.0.2", 5060); clock.advance(10); }
    clock.runUntilIdle(1000);
    const recs = net.capture();
    expect(recs.map((r) => r.data)).toEqual(["m2", "m3", "m4"]);
    expect(recs[0]).toMatchObject({ id: 2, proto: "udp", time: 20, arrival: 50, from: "10.0.0.1", fromPort: 5060, to: "10.0.0.2", toPort: 5060, fate: "delivered", duplicate: false });
    expect(seen.map((r) => r.data)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(seen.every((r) => r.fate === "delivered")).toBe(true);
    net.clearCapture();
    expect(net.capture()).toEqual([]);
  });

  it("a whole lossy, jittery, duplicating run replays identically from the same seed", () => {
    const run = () => {
      const trace: string[] = [];
      const p = pair({ latency: 15, jitter: 20, loss: 0.1, duplicate: 0.1, reorder: 0.1 }, 77);
      p.net.observer = (r) => trace.push(r.id + " " + r.fate + " " + r.arrival.toFixed(6));
      for (let i = 0; i < 300; i++) { p.send(String(i)); p.clock.advance(p.a.random.below(7)); }
      p.clock.runUntilIdle(10_000);
      return trace.concat(p.got);
    };
    expect(run()).toEqual(run());
  });
});

describe("VirtualNetwork: TCP", () => {
  function tcpPair(latency = 10) {
    const clock = new VirtualClock();
    const net = new VirtualNetwork({ clock, defaults: { latency } });
    const a = new VirtualPlatform({ network: net, address: "10.0.0.1" });
    const b = new VirtualPlatform({ network: net, address: "10.0.0.2" });
    const events: string[] = [];
    let serverConn: VirtualTcpConnection | null = null;
    const server = b.listenTcp({
      port: 5060,
      onConnection: (conn) => {
        serverConn = conn as VirtualTcpConnection;
        events.push(clock.now() + " accept " + conn.remoteAddress + ":" + conn.remotePort);
        return { onData: (d) => events.push(clock.now() + " server " + d), onClose: (code) => events.push(clock.now() + " server close " + code) };
      },
    });
    if (typeof server === "number") throw new Error("listen failed");
    return { clock, net, a, b, events, server, serverConn: () => serverConn! };
  }

  it("connects, carries data both ways in order with latency, and closes", () => {
    const { clock, a, events, serverConn } = tcpPair(10);
    const conn = a.connectTcp({
      address: "10.0.0.2", port: 5060,
      onConnect: () => events.push(clock.now() + " connected"),
      onData: (d) => events.push(clock.now() + " client " + d),
      onClose: (code) => events.push(clock.now() + " client close " + code),
    }) as VirtualTcpConnection;
    expect(conn.send(bytes("early"), 5)).toBe(0); // queued before the connection is up
    clock.advance(10);
    for (let i = 0; i < 20; i++) conn.send(bytes("<" + i + ">"), String(i).length + 2);
    serverConn().send(bytes("hi"), 2);
    clock.advance(100);
    conn.close();
    expect(conn.send(bytes("x"), 1)).toBe(HAL_ERR_CLOSED);
    clock.runUntilIdle(1000);
    const port = conn.localPort;
    expect(events[0]).toBe("10 accept 10.0.0.1:" + port);
    expect(events[1]).toBe("10 server early");
    expect(events[2]).toBe("20 connected");
    expect(events.slice(3, 23).map((e) => e.split(" ")[2])).toEqual(Array.from({ length: 20 }, (_, i) => "<" + i + ">"));
    expect(events[23]).toBe("20 client hi");
    expect(events[24]).toBe("120 server close " + HAL_OK);
    expect(events.length).toBe(25); // no onClose for the side that closed
  });

  it("a connect with no listener is refused after the round trip; to a down link it times out", () => {
    const { clock, net, a, server } = tcpPair(10);
    server.close();
    const closes: Array<[number, number]> = [];
    a.connectTcp({ address: "10.0.0.2", port: 5060, onData: () => {}, onClose: (code) => closes.push([clock.now(), code]) });
    clock.runUntilIdle(1000);
    expect(closes).toEqual([[20, HAL_ERR_REFUSED]]);
    net.setLink("10.0.0.1", "10.0.0.2", { loss: 1 });
    a.connectTcp({ address: "10.0.0.2", port: 5060, onData: () => {}, onClose: (code) => closes.push([clock.now(), code]) });
    clock.runUntilIdle(100_000);
    expect(closes[1]).toEqual([20 + net.tcpConnectTimeout, HAL_ERR_TIMEOUT]);
  });

  it("listening on a port in use fails; a closed server frees it", () => {
    const { b, server } = tcpPair();
    expect(b.listenTcp({ port: 5060, onConnection: () => ({ onData: () => {} }) })).toBe(HAL_ERR_ADDRESS_IN_USE);
    server.close();
    expect(typeof b.listenTcp({ port: 5060, onConnection: () => ({ onData: () => {} }) })).toBe("object");
  });
});

describe("VirtualPlatform", () => {
  it("log keeps lines at or above its level, stamped with virtual time", () => {
    const clock = new VirtualClock();
    const p = new VirtualPlatform({ network: new VirtualNetwork({ clock }), address: "10.0.0.5", logLevel: LOG_INFO });
    p.log.write(LOG_WARN, "careful");
    p.log.write(LOG_DEBUG, "noise");
    clock.advance(1500);
    p.log.write(LOG_INFO, "later");
    expect(p.log.lines).toEqual(["0.000 10.0.0.5 W careful", "1500.000 10.0.0.5 I later"]);
  });

  it("shutdown closes sockets and cancels alarms", () => {
    const { clock, b, sa, got } = pair();
    let fired = false;
    b.createAlarm({ onAlarm: () => (fired = true) }).set(50);
    b.shutdown();
    sa.send(bytes("x"), 1, "10.0.0.2", 5060);
    clock.runUntilIdle(1000);
    expect(fired).toBe(false);
    expect(got).toEqual([]);
  });
});
