// NodePlatform over real loopback sockets: UDP both ways (binary-safe), alarms, error translation, TCP echo.
// No assertion reads elapsed wall-clock time; waits are for events, bounded by the test timeout.
import * as dgram from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import {
  HAL_ERR_ADDRESS_IN_USE, HAL_ERR_CLOSED, HAL_ERR_INVALID, HAL_ERR_PLATFORM, HAL_ERR_REFUSED, HAL_ERR_RESET, HAL_ERR_TOO_LARGE, HAL_ERR_UNREACHABLE, HAL_OK,
} from "../../hal/errors.ts";
import { LOG_DEBUG, LOG_ERROR, LOG_INFO } from "../../hal/types.ts";
import { NodePlatform, NodeTcpConnection, NodeTcpServer, NodeUdpSocket, halErrorFromNode } from "../../sim/node-platform.ts";
import { SeededRandom } from "../../sim/virtual.ts";

const LOOPBACK = "127.0.0.1";
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** A queue of arrivals that a test can await one at a time. */
function inbox<T>() {
  const items: T[] = [];
  const waiters: Array<(v: T) => void> = [];
  return {
    push(v: T) {
      const w = waiters.shift();
      if (w) w(v);
      else items.push(v);
    },
    next(): Promise<T> {
      const v = items.shift();
      return v !== undefined ? Promise.resolve(v) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

async function udp(p: NodePlatform, port: number, box: { push(v: [string, string, number]): void }): Promise<NodeUdpSocket> {
  const s = await p.openUdpAsync({ port, address: LOOPBACK, onMessage: (d, a, pt) => box.push([d, a, pt]) });
  if (typeof s === "number") throw new Error("bind failed: " + s);
  cleanup.push(() => s.close());
  return s;
}

describe("NodePlatform UDP", () => {
  it("two sockets on 127.0.0.1 exchange datagrams both ways; bytes 0..255 survive", async () => {
    const p = new NodePlatform();
    const boxA = inbox<[string, string, number]>();
    const boxB = inbox<[string, string, number]>();
    const a = await udp(p, 0, boxA);
    const b = await udp(p, 0, boxB);
    expect(a.port).toBeGreaterThan(0);
    expect(b.port).not.toBe(a.port);

    const buf = new Uint8Array(512);
    for (let i = 0; i < 256; i++) buf[i] = i;
    expect(a.send(buf, 256, LOOPBACK, b.port)).toBe(0);
    buf.fill(0); // the stack reuses its buffer at once: the send must have copied
    const [data, from, fromPort] = await boxB.next();
    expect(data.length).toBe(256);
    expect(Array.from(data, (c) => c.charCodeAt(0))).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(from).toBe(LOOPBACK);
    expect(fromPort).toBe(a.port);

    const big = new Uint8Array(1400).map((_, i) => (i * 7) & 255);
    expect(b.send(big, 1400, LOOPBACK, a.port)).toBe(0);
    const [back] = await boxA.next();
    expect(back.length).toBe(1400);
    expect(Buffer.from(back, "latin1").equals(Buffer.from(big))).toBe(true);
  });

  it("capture and captureReceived are told of each datagram a socket sends and receives, before its owner hears it", async () => {
    const seen: string[] = [];
    const p = new NodePlatform({
      capture: (d) => seen.push("sent " + d.data + " " + d.fromPort + ">" + d.toPort),
      captureReceived: (d) => seen.push("received " + d.data + " " + d.from + ":" + d.fromPort + ">" + d.to + ":" + d.toPort),
    });
    const box = inbox<[string, string, number]>();
    const a = await udp(p, 0, inbox());
    const b = await p.openUdpAsync({ port: 0, address: LOOPBACK, onMessage: (d, ad, pt) => { seen.push("owner " + d); box.push([d, ad, pt]); } });
    if (typeof b === "number") throw new Error("bind failed: " + b);
    cleanup.push(() => b.close());
    expect(a.send(bytes("hi"), 2, LOOPBACK, b.port)).toBe(0);
    await box.next();
    expect(seen).toEqual(["sent hi " + a.port + ">" + b.port, "received hi 127.0.0.1:" + a.port + ">127.0.0.1:" + b.port, "owner hi"]);
  });

  it("openUdp returns at once; the port is filled when bound and early sends are queued", async () => {
    const p = new NodePlatform();
    const box = inbox<[string, string, number]>();
    const target = await udp(p, 0, box);
    const s = p.openUdp({ port: 0, address: LOOPBACK, onMessage: () => {} });
    cleanup.push(() => s.close());
    expect(s.port).toBe(0);
    expect(s.send(bytes("early"), 5, LOOPBACK, target.port)).toBe(0);
    expect(await s.ready).toBe(HAL_OK);
    expect(s.port).toBeGreaterThan(0);
    const [d, , port] = await box.next();
    expect(d).toBe("early");
    expect(port).toBe(s.port);
  });

  it("binding a port in use gives HAL_ERR_ADDRESS_IN_USE (async form and onError of the sync form)", async () => {
    const p = new NodePlatform();
    const first = await udp(p, 0, inbox());
    expect(await p.openUdpAsync({ port: first.port, address: LOOPBACK, onMessage: () => {} })).toBe(HAL_ERR_ADDRESS_IN_USE);
    const errors = inbox<number>();
    const s = p.openUdp({ port: first.port, address: LOOPBACK, onMessage: () => {}, onError: (c) => errors.push(c) });
    expect(await errors.next()).toBe(HAL_ERR_ADDRESS_IN_USE);
    expect(s.closed).toBe(true);
    expect(s.send(bytes("x"), 1, LOOPBACK, first.port)).toBe(HAL_ERR_CLOSED);
  });

  it("send: closed socket, bad arguments and oversize datagrams are HAL codes, never exceptions", async () => {
    const p = new NodePlatform();
    const s = await udp(p, 0, inbox());
    expect(s.send(bytes("x"), 2, LOOPBACK, 9)).toBe(HAL_ERR_INVALID);
    expect(s.send(bytes("x"), 1, LOOPBACK, 70000)).toBe(HAL_ERR_INVALID);
    expect(s.send(new Uint8Array(70000), 65508, LOOPBACK, 9)).toBe(HAL_ERR_TOO_LARGE);
    expect(await p.openUdpAsync({ port: 0, address: "not an address", onMessage: () => {} })).toBeLessThan(0);
    s.close();
    expect(s.send(bytes("x"), 1, LOOPBACK, 9)).toBe(HAL_ERR_CLOSED);
  });
});

describe("NodePlatform alarm, clock, random, log", () => {
  it("an alarm fires (and only the latest set() does); a cancelled one does not", async () => {
    const p = new NodePlatform();
    const fired: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const cancelled = p.createAlarm({ onAlarm: () => fired.push("cancelled") });
    cancelled.set(p.clock.now() + 5);
    cancelled.cancel();
    let deadline = 0;
    const alarm = p.createAlarm({
      onAlarm: () => {
        fired.push(p.clock.now() >= deadline ? "on time" : "early");
        done();
      },
    });
    alarm.set(p.clock.now() + 10_000); // replaced below
    deadline = p.clock.now() + 20;
    alarm.set(deadline);
    await finished;
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual(["on time"]); // never before the time asked for
  });

  it("the clock never goes backwards", () => {
    const p = new NodePlatform();
    let last = p.clock.now();
    for (let i = 0; i < 10_000; i++) {
      const t = p.clock.now();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });

  it("random: OS u32s by default, a seeded sequence when asked", () => {
    const r = new NodePlatform().random;
    const vals = Array.from({ length: 600 }, () => r.u32());
    for (const v of vals) expect(Number.isInteger(v) && v >= 0 && v <= 0xffffffff).toBe(true);
    expect(new Set(vals).size).toBeGreaterThan(590);
    const seeded = new NodePlatform({ seed: 9 }).random;
    const ref = new SeededRandom(9);
    for (let i = 0; i < 10; i++) expect(seeded.u32()).toBe(ref.u32());
  });

  it("log writes lines at or above its level to the sink", () => {
    const lines: string[] = [];
    const p = new NodePlatform({ logLevel: LOG_INFO, logSink: (l) => lines.push(l), logPrefix: "door " });
    p.log.write(LOG_ERROR, "bad");
    p.log.write(LOG_DEBUG, "noise");
    p.log.level = LOG_DEBUG;
    p.log.write(LOG_DEBUG, "now shown");
    expect(lines).toEqual(["door E bad", "door D now shown"]);
  });
});

describe("NodePlatform TCP", () => {
  it("echo on loopback: connect, data both ways (binary), peer close", async () => {
    const p = new NodePlatform({ address: LOOPBACK });
    const serverClosed = inbox<number>();
    const server = await p.listenTcpAsync({
      port: 0,
      onConnection: (conn) => ({
        onData: (d) => conn.send(bytes(d), d.length),
        onClose: (code) => serverClosed.push(code),
      }),
    });
    if (typeof server === "number") throw new Error("listen failed: " + server);
    cleanup.push(() => server.close());
    expect(server.port).toBeGreaterThan(0);

    const connected = inbox<string>();
    let received = "";
    const gotAll = inbox<string>();
    const payload = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(i & 255)).join("");
    const conn = p.connectTcp({
      address: LOOPBACK, port: server.port,
      onConnect: () => connected.push("up"),
      onData: (d) => {
        received += d;
        if (received.length >= payload.length) gotAll.push(received);
      },
    });
    if (typeof conn === "number") throw new Error("connect failed: " + conn);
    expect(await connected.next()).toBe("up");
    expect(conn.remoteAddress).toBe(LOOPBACK);
    expect(conn.remotePort).toBe(server.port);
    const buf = bytes(payload);
    expect(conn.send(buf, 1000)).toBe(0);
    expect(conn.send(buf.subarray(1000), 2000)).toBe(0);
    expect(await gotAll.next()).toBe(payload);
    conn.close();
    expect(conn.send(buf, 1)).toBe(HAL_ERR_CLOSED);
    expect(await serverClosed.next()).toBe(HAL_OK);
  });

  it("a connect to a closed port closes with HAL_ERR_REFUSED; listening on a used port fails", async () => {
    const p = new NodePlatform({ address: LOOPBACK });
    const s = (await p.listenTcpAsync({ port: 0, onConnection: () => ({ onData: () => {} }) })) as NodeTcpServer;
    const port = s.port;
    expect(await p.listenTcpAsync({ port, onConnection: () => ({ onData: () => {} }) })).toBe(HAL_ERR_ADDRESS_IN_USE);
    s.close();
    await new Promise((r) => setTimeout(r, 10));
    const closed = inbox<number>();
    const c = p.connectTcp({ address: LOOPBACK, port, onData: () => {}, onClose: (code) => closed.push(code) }) as NodeTcpConnection;
    expect(await closed.next()).toBe(HAL_ERR_REFUSED);
    expect(c.closed).toBe(true);
  });
});

describe("halErrorFromNode", () => {
  it("maps Node error codes to HAL codes", () => {
    const e = (code: string) => Object.assign(new Error(code), { code });
    expect(halErrorFromNode(e("EADDRINUSE"))).toBe(HAL_ERR_ADDRESS_IN_USE);
    expect(halErrorFromNode(e("ECONNREFUSED"))).toBe(HAL_ERR_REFUSED);
    expect(halErrorFromNode(e("ECONNRESET"))).toBe(HAL_ERR_RESET);
    expect(halErrorFromNode(e("EHOSTUNREACH"))).toBe(HAL_ERR_UNREACHABLE);
    expect(halErrorFromNode(e("EMSGSIZE"))).toBe(HAL_ERR_TOO_LARGE);
    expect(halErrorFromNode(e("ERR_SOCKET_BAD_PORT"))).toBe(HAL_ERR_INVALID);
    expect(halErrorFromNode(e("ERR_SOCKET_DGRAM_NOT_RUNNING"))).toBe(HAL_ERR_CLOSED);
    expect(halErrorFromNode(e("EWHATEVER"))).toBe(HAL_ERR_PLATFORM);
    expect(halErrorFromNode("not an error")).toBe(HAL_ERR_PLATFORM);
  });

  it("a real EADDRINUSE from node:dgram maps to HAL_ERR_ADDRESS_IN_USE", async () => {
    const a = dgram.createSocket("udp4");
    await new Promise<void>((r) => a.bind(0, LOOPBACK, () => r()));
    cleanup.push(() => a.close());
    const b = dgram.createSocket("udp4");
    const err = await new Promise<Error>((r) => {
      b.on("error", r);
      b.bind(a.address().port, LOOPBACK);
    });
    expect(halErrorFromNode(err)).toBe(HAL_ERR_ADDRESS_IN_USE);
  });
});
