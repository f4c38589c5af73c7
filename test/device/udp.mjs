// `npm run test:device:udp`: the Espruino HAL (hal/espruino/platform.ts) on Espruino's Linux interpreter
// (ESPRUINO=path) against a Node peer on 127.0.0.1: UDP both ways with binary bytes and datagrams past
// Espruino's default 528-byte receive limit (up to 1,472 bytes), plus the platform's alarm, clock,
// random, error codes and TCP (connect and listen) on the real interpreter.
//
// The HAL is bundled the way the device bundle is (build.mjs bundleDevice, then the Espruino gate) and
// required as a module, as on a board. Each check prints "@@OK name" or "@@FAIL name detail" on the
// device, or is made by the Node peer; the summary is "N passed, M failed".
//
// Negative control: DOORSIP_RECV_BUFFER=0 creates the sockets with Espruino's default receive buffer,
// and the echoes of 529 bytes and more then fail, cut to 528 bytes.
import * as dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleGated, checks, espruinoPath, spawnDevice } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:udp");

const HOST = "127.0.0.1";
const TIMEOUT_MS = 30000;
/** Datagram sizes the peer sends and expects echoed: around the 528-byte default limit, and a full Ethernet payload. */
const SIZES = [1, 100, 527, 528, 529, 1000, 1400, 1472];

const { check, failures, finish } = checks("device udp");

/** Bytes of a test datagram: a pattern that differs per size and covers every byte value. */
function pattern(size, salt) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + salt) & 255;
  return b;
}

const dir = mkdtempSync(join(tmpdir(), "doorsip-device-udp-"));
let child = null;
const cleanups = [];
try {
  // 1. The HAL as a device module, through the same build and gate as the firmware bundle.
  writeFileSync(join(dir, "entry.ts"), 'export { EspruinoPlatform } from "' + new URL("../../hal/espruino/platform.ts", import.meta.url).pathname + '";\n');
  const { code } = await bundleGated(join(dir, "entry.ts"), join(dir, "node_modules/doorsip-hal.js"), check, "Espruino gate on the HAL bundle", ["test/device/udp.mjs"]);

  // 2. The Node peers: UDP on 127.0.0.1, and a TCP echo server.
  const peer = dgram.createSocket("udp4");
  cleanups.push(() => peer.close());
  await new Promise((resolve) => peer.bind(0, HOST, resolve));
  const echo = net.createServer((s) => s.on("data", (d) => s.write(d)));
  cleanups.push(() => echo.close());
  await new Promise((resolve) => echo.listen(0, HOST, resolve));
  const closedPort = await new Promise((resolve) => {
    const t = net.createServer();
    t.listen(0, HOST, () => { const p = t.address().port; t.close(() => resolve(p)); });
  });

  // 3. The device program.
  const script = `
var h = require("doorsip-hal");
var PEER = ${peer.address().port}, ECHO = ${echo.address().port}, CLOSED = ${closedPort};
function ok(name) { print("@@OK " + name); }
function fail(name, why) { print("@@FAIL " + name + " " + why); }
function expect(name, cond, why) { if (cond) ok(name); else fail(name, why); }
var p = new h.EspruinoPlatform({ logLevel: 3${process.env.DOORSIP_RECV_BUFFER ? ", recvBufferSize: " + Number(process.env.DOORSIP_RECV_BUFFER) : ""} });

// clock and random
var t0 = p.clock.now(), mono = true, last = t0;
for (var i = 0; i < 200; i++) { var t = p.clock.now(); if (t < last) mono = false; last = t; }
expect("clock is monotonic", mono, "went back");
var r = p.random.u32(), r2 = p.random.u32();
expect("random u32 in range and varying", r >= 0 && r <= 4294967295 && Math.floor(r) === r && r !== r2, r + " " + r2);

// alarms: the latest set() wins, never early; cancel() stops one
var alarmFired = 0, alarmAt = 0;
var a1 = p.createAlarm({ onAlarm: function () {
  alarmFired++;
  expect("alarm fires once, not before its time", alarmFired === 1 && p.clock.now() >= alarmAt, "fired " + alarmFired + " at " + p.clock.now() + " for " + alarmAt);
} });
a1.set(p.clock.now() + 500);
alarmAt = p.clock.now() + 60;
a1.set(alarmAt);
var cancelled = p.createAlarm({ onAlarm: function () { fail("cancelled alarm stays silent", "it fired"); } });
cancelled.set(p.clock.now() + 20);
cancelled.cancel();
cancelled.cancel();
var chain = 0;
var a2 = p.createAlarm({ onAlarm: function () { chain++; if (chain < 3) a2.set(p.clock.now() + 10); else ok("alarm re-armed from its own callback"); } });
a2.set(p.clock.now() + 10);
setTimeout(function () { expect("cancelled alarm stays silent", true, ""); }, 150);

// UDP: port 0 picks a port; a taken port is refused
var buf = new Uint8Array(2048);
var s = p.openUdp({ port: 0, onMessage: function (data, addr, port) {
  if (data === "bye") { s.close(); print("@@BYE"); return; }
  var u = E.toUint8Array(data);
  buf.set(u);
  var rc = s.send(buf, u.length, addr, port);
  if (rc !== 0) fail("echo send", "rc " + rc);
}, onError: function (c) { fail("udp onError", c); } });
if (typeof s === "number") fail("openUdp port 0", s);
else {
  print("@@PORT " + s.port);
  expect("openUdp port 0 gives an ephemeral port", s.port >= 49152 && s.port <= 65535, s.port);
  var dup = p.openUdp({ port: s.port, onMessage: function () {} });
  expect("openUdp on a port in use is HAL_ERR_ADDRESS_IN_USE", dup === -2, dup);
  expect("send with a length past the buffer is HAL_ERR_INVALID", s.send(buf, 4000, "127.0.0.1", PEER) === -9, "");
  expect("send over maxDatagram is HAL_ERR_TOO_LARGE", s.send(new Uint8Array(5000), 5000, "127.0.0.1", PEER) === -4, "");
  // device to peer: every byte value, and 1,400 bytes
  var all = new Uint8Array(256);
  for (i = 0; i < 256; i++) all[i] = i;
  expect("send 256 byte values", s.send(all, 256, "127.0.0.1", PEER) === 0, "");
  var big = new Uint8Array(1500);
  for (i = 0; i < 1500; i++) big[i] = (i * 7 + 3) & 255;
  expect("send 1400 bytes (of a larger buffer)", s.send(big, 1400, "127.0.0.1", PEER) === 0, "");
}
var closedSock = p.openUdp({ port: 0, onMessage: function () {} });
closedSock.close();
expect("send after close is HAL_ERR_CLOSED", closedSock.send(buf, 1, "127.0.0.1", PEER) === -1, "");

// TCP: connect to the peer's echo server
var tcpGot = "", tcpSent = "";
for (i = 0; i < 1000; i++) tcpSent += String.fromCharCode((i * 13) & 255);
var c = p.connectTcp({ address: "127.0.0.1", port: ECHO,
  onConnect: function () { ok("tcp onConnect"); expect("tcp send", c.send(E.toUint8Array(tcpSent), 1000) === 0, ""); },
  onData: function (d) { tcpGot += d; if (tcpGot.length >= 1000) { expect("tcp echo of 1000 binary bytes", tcpGot === tcpSent, tcpGot.length); c.close(); expect("tcp send after close is HAL_ERR_CLOSED", c.send(buf, 1) === -1, ""); } },
  onClose: function (code) { fail("tcp onClose after our own close", code); } });
if (typeof c === "number") fail("connectTcp", c);
var refused = -99;
var rc2 = p.connectTcp({ address: "127.0.0.1", port: CLOSED, onData: function () {}, onClose: function (code) { refused = code; } });
setTimeout(function () { expect("connect to a closed port is HAL_ERR_REFUSED", rc2 === -5 || refused === -5, "returned " + rc2 + ", onClose " + refused); }, 300);

// TCP: a server on the device; the peer connects, sends, reads the echo, closes
var srv = p.listenTcp({ port: 0, onConnection: function (conn) {
  ok("tcp onConnection");
  return { onData: function (d) { conn.send(E.toUint8Array(d), d.length); },
    onClose: function (code) { expect("tcp server sees the peer close with HAL_OK", code === 0, code); srv.close(); srv.close(); print("@@SRVCLOSED"); } };
} });
if (typeof srv === "number") fail("listenTcp", srv); else print("@@TCPPORT " + srv.port);
`;
  writeFileSync(join(dir, "run.js"), script);

  // 4. Run it; talk to it as it prints.
  const results = [];
  let devicePort = 0;
  let tcpPort = 0;
  const waiters = [];
  const waitFor = (pred) => new Promise((resolve) => {
    if (pred()) resolve();
    else waiters.push({ pred, resolve });
  });
  const poke = () => {
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred()) waiters.splice(i, 1)[0].resolve();
  };
  let bye = false;
  let serverClosed = false;
  const dev = spawnDevice(bin, dir, (kind, rest) => {
    if (kind === "OK") results.push([true, rest]);
    else if (kind === "FAIL") results.push([false, rest]);
    else if (kind === "PORT") devicePort = Number(rest);
    else if (kind === "TCPPORT") tcpPort = Number(rest);
    else if (kind === "BYE") bye = true;
    else if (kind === "SRVCLOSED") serverClosed = true;
  }, () => poke());
  child = dev.child;
  const exitPromise = dev.exited;

  const inbox = [];
  peer.on("message", (msg, rinfo) => {
    inbox.push({ msg, rinfo });
    poke();
  });
  const deadline = Date.now() + TIMEOUT_MS;
  const timeout = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const within = (pred, ms) => Promise.race([waitFor(() => pred() || dev.exit() !== null), timeout(Math.min(ms, Math.max(0, deadline - Date.now())))]).then(() => pred());

  // Device → peer: 256 byte values and 1,400 bytes, from the port the device reported.
  const gotFirst = await within(() => inbox.length >= 2 && devicePort > 0, 10000);
  check("device datagrams arrive at the peer", gotFirst, "inbox " + inbox.length + ", device port " + devicePort);
  if (gotFirst) {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const byLen = (n) => inbox.find((x) => x.msg.length === n);
    check("device → peer: 256 byte values intact", byLen(256) !== undefined && byLen(256).msg.equals(all));
    check("device → peer: 1,400 bytes intact", byLen(1400) !== undefined && byLen(1400).msg.equals(pattern(1400, 3)));
    check("device sends from its bound port", inbox[0].rinfo.port === devicePort && inbox[0].rinfo.address === HOST, inbox[0].rinfo.address + ":" + inbox[0].rinfo.port);
  }
  inbox.length = 0;

  // Peer → device → peer: each size echoed byte for byte.
  if (devicePort > 0) {
    for (const size of [...SIZES, 256]) {
      const out = size === 256 ? Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)) : pattern(size, size & 255);
      peer.send(out, devicePort, HOST);
      const got = await within(() => inbox.length > 0, 5000);
      const back = got ? inbox.shift().msg : null;
      check("echo of " + size + " bytes" + (size === 256 ? " (every byte value)" : ""), back !== null && back.equals(out), back === null ? "no echo" : back.length + " bytes back");
    }
  }

  // TCP: the peer connects to the device's server.
  if (await within(() => tcpPort > 0, 5000)) {
    const sent = pattern(700, 11);
    const echoed = await new Promise((resolve) => {
      let got = Buffer.alloc(0);
      const sock = net.connect(tcpPort, HOST, () => sock.write(sent));
      sock.on("data", (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= sent.length) { sock.end(); resolve(got); }
      });
      sock.on("error", () => resolve(null));
      setTimeout(() => { sock.destroy(); resolve(got); }, 5000);
    });
    check("device TCP server echoes 700 binary bytes", echoed !== null && echoed.equals(sent), echoed === null ? "error" : echoed.length + " bytes");
  } else check("device TCP server listening", false, "no port reported");

  // Done: the device closes its socket and, with nothing left to wait for, exits.
  await timeout(400); // let the device's own timed checks finish
  if (devicePort > 0) peer.send("bye", devicePort, HOST);
  await within(() => bye && dev.exit() !== null, 10000);
  check("device closed its socket on request", bye);
  // HAL close() is idempotent and silent: Espruino's own server close() warns when called again.
  check("tcp server closed twice, silently", serverClosed && !/Server not found/.test(dev.output()), serverClosed ? "warned" : "not closed");
  check("interpreter exits when nothing is left", dev.exit() !== null && dev.exit().code === 0, JSON.stringify(dev.exit()));
  if (dev.exit() === null) child.kill("SIGKILL");
  await Promise.race([exitPromise, timeout(2000)]);

  for (const [ok, text] of results) check("device: " + text.split(" ").slice(0, 12).join(" "), ok, text);
  const expectedDeviceChecks = new Set([...script.matchAll(/(?:expect|ok)\("([^"]+)"/g)].map((m) => m[1])).size;
  check("every device check reported", results.length === expectedDeviceChecks, results.length + " of " + expectedDeviceChecks);
  if (failures() > 0 || /Uncaught|Error/.test(dev.output().replace(/ERROR: Socket bind failed|ERROR: Connect failed \(err 111\)/g, ""))) {
    console.log("--- interpreter output ---\n" + dev.output().slice(-4000));
    if (failures() === 0) check("no uncaught errors on the interpreter", false);
  }
} catch (e) {
  check("test harness", false, e && e.stack ? e.stack : String(e));
} finally {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  for (const f of cleanups) try { f(); } catch {}
  rmSync(dir, { recursive: true, force: true });
}
finish();
