// `npm run test:device:call`: the door phone (firmware/phone.ts over hal/espruino) on Espruino's Linux
// interpreter (ESPRUINO=path) in real calls with Node peers on 127.0.0.1.
//
// The phone is bundled the way the device bundle is (build.mjs bundleDevice, then the Espruino gate) and
// required as a module, as on a board. The Node side is sim/endpoint.ts on sim/node-platform.ts with a
// firmware/media.ts MediaSession per call (the same code, bundled for Node). Three calls:
//   1. Node calls the door, the door answers; Node sends "1234#" as RFC 4733 events: the relay pulses.
//   2. Node calls again and sends "1234#" as SIP INFO (application/dtmf-relay): the relay pulses again.
//   3. The device's button (phone.buttonPressed(), on a control datagram) calls the Node endpoint, which
//      answers; Node sends the code as RFC 4733: the relay pulses a third time.
// Node hangs up each call; the device must see it end and stop its RTP. The device prints machine-readable
// "@@..." lines (relay transitions, call states, memory, stats); Node sends it commands on a control port.
// Measured: bundle size, memory (variables) of the module, the phone and a call, answer time, RTP packet
// rate from the device, skipped ticks, and time spent in the device's RTP and SIP handlers (the Linux
// interpreter busy-polls while a socket is open, so its process CPU time says nothing). Prints
// "N passed, M failed"; exits 1 on a failure, 2 without ESPRUINO. DOORSIP_VERBOSE=1 prints the device's output.
//
// Two Espruino 2v29 facts this run found (both checked here, both fixed in the firmware): the interpreter
// cannot construct a derived class while super() runs a base constructor, and `array.length = 0` throws.
// Should construction fail again, the device program goes on with a work-around, so the calls are still
// tested and measured while the construction check fails.
import * as dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { root } from "../../build.mjs";
import { bundleGated, checks, espruinoPath, freeBlock, importForNode, spawnDevice } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:call");

const HOST = "127.0.0.1";
const CODE = "1234#";
const PULSE_MS = 1000;
/** Transactions in the device's pool (DOORSIP_TRANSACTIONS): 8 is too few for 5 INFO digits, the BYE then gets 503. */
const TRANSACTIONS = Number(process.env.DOORSIP_TRANSACTIONS || 16);
const TIMEOUT_MS = 50000;
const CALL_ACTIVE = 5;
const CALL_ENDED = 8;

const { check, failures, finish } = checks("device call");
const figures = [];
function figure(name, value) {
  figures.push([name, value]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


const dir = mkdtempSync(join(tmpdir(), "doorsip-device-call-"));
let child = null;
const cleanups = [];
try {
  // 1. The phone as a device module, through the same build and gate as the firmware bundle.
  const src = (p) => JSON.stringify(join(root, p));
  writeFileSync(join(dir, "entry.ts"),
    `export { DoorPhone } from ${src("firmware/phone.ts")};\n` +
    `export { DEFAULT_DOOR } from ${src("firmware/door.ts")};\n` +
    `export { DEFAULT_PHONE, DEFAULT_PLAN, DEFAULT_TRUST, DEFAULT_AUTO_ANSWER } from ${src("firmware/phone-config.ts")};\n` +
    `export { EspruinoPlatform } from ${src("hal/espruino/platform.ts")};\n` +
    `export { EspruinoBoard } from ${src("hal/espruino/board.ts")};\n` +
    `export { defaultCallConfig } from ${src("sip-core/index.ts")};\n`);
  const { code } = await bundleGated(join(dir, "entry.ts"), join(dir, "node_modules/doorsip-phone.js"), check, "Espruino gate on the phone bundle", ["test/device/call.mjs"]);
  figure("phone bundle (minified)", Buffer.byteLength(code).toLocaleString("en-US") + " B");

  // The Node peers' code: the simulator endpoint, the Node HAL and the firmware's MediaSession, bundled for Node.
  const { Endpoint, NodePlatform, MediaSession, MEDIA_PACKETS_SENT, MEDIA_PACKETS_RECEIVED, MEDIA_SKIPPED_TICKS, MEDIA_DIGITS_RECEIVED,
    MEDIA_LOST, MEDIA_SEND_ERRORS } = await importForNode(dir, { "sim/endpoint.ts": ["Endpoint"], "sim/node-platform.ts": ["NodePlatform"],
    "firmware/media.ts": ["MediaSession", "MEDIA_PACKETS_SENT", "MEDIA_PACKETS_RECEIVED", "MEDIA_SKIPPED_TICKS", "MEDIA_DIGITS_RECEIVED",
      "MEDIA_LOST", "MEDIA_SEND_ERRORS"] });

  // 2. Ports: device SIP (UDP+TCP) and control, Node SIP and raw INFO socket, RTP for two call slots each side.
  const base = await freeBlock(12, 31000, 1000);
  const DEV_SIP = base, DEV_CTL = base + 1, NODE_SIP = base + 2, NODE_RAW = base + 3;
  const DEV_RTP = base + 4, NODE_RTP = base + 8;

  // 3. The device program.
  const script = `
var T0 = getTime();
function mem(tag) { var m = process.memory(); print("@@MEM " + tag + " " + m.free + " " + m.usage + " " + m.total); }
mem("boot");
var d = require("doorsip-phone");
var tLoad = getTime();
mem("loaded");
var platform = new d.EspruinoPlatform({ logLevel: 2 });
var board = new d.EspruinoBoard();
var calls = Object.assign(d.defaultCallConfig(), { user: "door", localAddress: "${HOST}", localPort: ${DEV_SIP},
  rtpAddress: "${HOST}", rtpPortBase: ${DEV_RTP}, answerDelay: 0 });
var plan = Object.assign({}, d.DEFAULT_PLAN, { targets: [{ uri: "sip:resident@${HOST}:${NODE_SIP}", ringTimeout: 0 }] });
var config = Object.assign({}, d.DEFAULT_PHONE, {
  address: "${HOST}", port: ${DEV_SIP}, accounts: [], calls: calls, callCapacity: 2, transactions: ${TRANSACTIONS}, timers: null,
  door: Object.assign({}, d.DEFAULT_DOOR, { code: "${CODE}", pulseMs: ${PULSE_MS} }), relayPin: "D4", relayActiveLow: false,
  buttons: [{ pin: "D0", plan: plan, hangupDuringCall: true }],
  trust: Object.assign({}, d.DEFAULT_TRUST, { allow: ["${HOST}"] }),
  autoAnswer: Object.assign({}, d.DEFAULT_AUTO_ANSWER, { delayMs: 0 })
});
var phone = null;
try {
  phone = new d.DoorPhone(platform, board, config);
  print("@@CONSTRUCT ok");
} catch (e) {
  print("@@CONSTRUCT " + e);
}
if (phone === null) {
  // Work-around for an interpreter bug (2v29): while super(...) runs a base constructor, any derived class
  // constructed there fails in its own super() ("Calling 'super' outside of class"). SipNode's constructor
  // runs inside DoorPhone's super() and builds the UserAgent (whose TokenCursor extends ListWalker). So:
  // a stand-in SipNode constructor for the super() call, then the real one on the object afterwards.
  var SipNode = Object.getPrototypeOf(d.DoorPhone.prototype).constructor;
  var realCtor = SipNode.prototype.constructor;
  var held = null;
  SipNode.prototype.constructor = function (o) { this.platform = o.platform; held = o; };
  try { phone = new d.DoorPhone(platform, board, config); } finally { SipNode.prototype.constructor = realCtor; }
  SipNode.call(phone, held);
  held = null;
  print("@@CONSTRUCT workaround");
}
var tBuilt = getTime();
mem("constructed");
var rc = phone.open();
print("@@OPEN " + rc + " " + phone.boundPort() + " " + phone.hasTcp() + " " + (phone.door.relay !== null));
mem("opened");
print("@@TIME load " + ((tLoad - T0) * 1000).toFixed(1) + " construct " + ((tBuilt - tLoad) * 1000).toFixed(1));

// Lines printed from the idle loop, so console writes are not charged to the handlers timed below.
var outbox = [];
function flush() { for (var k = 0; k < outbox.length; k++) print(outbox[k]); outbox = []; }
function later(line) { if (outbox.length === 0) setTimeout(flush, 0); outbox.push(line); }
// Relay transitions, as the door drives them (time on the device clock, and what the output reads back).
var relay = phone.door.relay;
if (relay !== null) {
  var write = relay.write;
  relay.write = function (on) {
    write.call(relay, on);
    later("@@RELAY " + (on ? "on" : "off") + " " + platform.clock.now().toFixed(0) + " " + relay.read());
  };
}
// Time spent in the handlers (their closures call them through the instance, so wrapping the instance
// method times every call): RTP send ticks, RTP receive, SIP datagrams. Seconds and calls, cumulative.
var busy = { tick: 0, tickN: 0, rtp: 0, rtpN: 0, sip: 0, sipN: 0 };
function timed(obj, name, key) {
  var f = obj[name];
  obj[name] = function (a, b, c, e) { var t = getTime(); f.call(obj, a, b, c, e); busy[key] += getTime() - t; busy[key + "N"]++; };
}
for (var i = 0; i < phone.sessions.length; i++) { timed(phone.sessions[i], "tick", "tick"); timed(phone.sessions[i], "receive", "rtp"); }
timed(phone.transport, "receiveDatagram", "sip");
// And per SIP message kind (method, or "response"): [ms total, count, ms max]; made before the idle memory
// figure, so the instrumentation does not grow during the calls.
var sipKinds = { INVITE: [0, 0, 0], ACK: [0, 0, 0], BYE: [0, 0, 0], INFO: [0, 0, 0], response: [0, 0, 0], other: [0, 0, 0] };
(function () {
  var t = phone.transport, f = t.receiveDatagram;
  t.receiveDatagram = function (data, address, port, now) {
    var t0 = getTime();
    f.call(t, data, address, port, now);
    var ms = (getTime() - t0) * 1000;
    var k = data.substr(0, 4) === "SIP/" ? "response" : data.substr(0, data.indexOf(" "));
    var e = sipKinds[k] || sipKinds.other;
    e[0] += ms; e[1]++; if (ms > e[2]) e[2] = ms;
  };
})();
function sess(s) {
  var n = s.stats;
  return n[${MEDIA_PACKETS_SENT}] + " " + n[${MEDIA_PACKETS_RECEIVED}] + " " + n[${MEDIA_SKIPPED_TICKS}] + " " + n[${MEDIA_DIGITS_RECEIVED}] + " " + n[${MEDIA_LOST}] + " " + n[${MEDIA_SEND_ERRORS}] + " " + s.isRunning();
}
function sessJson(s) {
  var n = s.stats;
  return { sent: n[${MEDIA_PACKETS_SENT}], received: n[${MEDIA_PACKETS_RECEIVED}], skipped: n[${MEDIA_SKIPPED_TICKS}], digits: n[${MEDIA_DIGITS_RECEIVED}], lost: n[${MEDIA_LOST}], sendErrors: n[${MEDIA_SEND_ERRORS}], running: s.isRunning() };
}
var onCallState = phone.onCallState;
phone.onCallState = function (c) {
  onCallState.call(phone, c);
  later("@@STATE " + c.index + " " + c.stateName() + " " + c.endStatus + " " + (c.outgoing ? "out" : "in") + " " + c.authorised + " " + sess(phone.sessions[c.index]) + " " + phone.rtpDigits + " " + phone.infoDigits + " " + phone.door.opens);
};

var ctl = require("dgram").createSocket("udp4");
ctl.bind(${DEV_CTL});
// Variables held by transactions' retransmission copies (sized to their message; a call's last 200s stay
// for Timers L and J, 32 s): left out when comparing memory after a call with idle.
function keptCopies() {
  var n = 0;
  var bs = phone.layer.buffers; // the layer's per-slot copies (absent for a slot that keeps none)
  for (var k in bs) { var b = bs[k]; if (b.length > 0) n += E.getSizeOf(b) + 1; }
  return n;
}
ctl.on("message", function (msg, rinfo) {
  if (msg === "stats") {
    var m = process.memory();
    print("@@STATS " + JSON.stringify({ time: getTime(), busy: busy, free: m.free, usage: m.usage,
      s: [sessJson(phone.sessions[0]), sessJson(phone.sessions[1])], live: phone.ua.calls.liveCount(), sipKinds: sipKinds,
      kept: keptCopies() }));
  } else if (msg === "press") {
    var c = phone.buttonPressed();
    print("@@PRESS " + (c === null ? -1 : c.index));
  } else if (msg === "quit") {
    try { phone.close(); print("@@CLOSE ok"); } catch (e) { print("@@CLOSE " + e); }
    ctl.close();
    setTimeout(function () { mem("closed"); print("@@FLAGS " + JSON.stringify(E.getErrorFlags())); print("@@END"); }, 50);
  }
});
print("@@READY");
`;
  writeFileSync(join(dir, "run.js"), script);

  // 4. Run it; follow what it prints.
  const lines = []; // [kind, rest, Node time]
  const waiters = [];
  const poke = () => {
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred()) waiters.splice(i, 1)[0].resolve(true);
  };
  const deadline = Date.now() + TIMEOUT_MS;
  /** Waits until pred() holds (true) or ms pass / the interpreter exits / the deadline comes (false). */
  const until = (pred, ms) => new Promise((resolve) => {
    if (pred() || dev.exit() !== null) return resolve(pred());
    const w = { pred: () => pred() || dev.exit() !== null, resolve: () => resolve(pred()) };
    waiters.push(w);
    setTimeout(() => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
      resolve(pred());
    }, Math.max(0, Math.min(ms, deadline - Date.now())));
  });
  const pollTimer = setInterval(poke, 20); // Node-side state (calls, sessions) changes without device output
  cleanups.push(() => clearInterval(pollTimer));

  const dev = spawnDevice(bin, dir, (kind, rest) => lines.push([kind, rest, performance.now()]), () => poke());
  child = dev.child;
  const exitPromise = dev.exited;
  const all = (kind) => lines.filter((l) => l[0] === kind);
  const last = (kind) => { const a = all(kind); return a.length ? a[a.length - 1] : null; };

  const ready = await until(() => last("READY") !== null, 15000);
  check("device starts and reports ready", ready, dev.output().slice(-2000));
  const construct = all("CONSTRUCT").map((l) => l[1]);
  check("new DoorPhone(EspruinoPlatform, EspruinoBoard, config) on the interpreter", construct[0] === "ok",
    (construct[0] || "(not reported)") + (construct.length > 1 ? " — the rest ran on the test's work-around (" + construct[1] + ")" : ""));
  if (!ready) throw new Error("the device did not start");
  const open = (last("OPEN") || ["", ""])[1].split(" ");
  check("phone.open() binds SIP on the device (rc 0, UDP port, TCP listening, relay open)",
    open[0] === "0" && open[1] === String(DEV_SIP) && open[2] === "true" && open[3] === "true", open.join(" "));
  const memOf = (tag) => { const l = all("MEM").find((x) => x[1].startsWith(tag + " ")); return l ? l[1].split(" ").slice(1).map(Number) : [NaN, NaN, NaN]; };
  const usage = (tag) => memOf(tag)[1];
  figure("device memory: boot / module loaded / phone constructed / opened (variables used)",
    ["boot", "loaded", "constructed", "opened"].map(usage).join(" / "));
  figure("device memory: the module (require)", usage("loaded") - usage("boot") + " variables");
  figure("device memory: DoorPhone construction (2 call slots, " + TRANSACTIONS + " transactions)", usage("constructed") - usage("loaded") + " variables");
  figure("device memory: open() (sockets)", usage("opened") - usage("constructed") + " variables");
  const times = (last("TIME") || ["", ""])[1];
  figure("device time: require / construct, ms (construct includes a failed first attempt when the work-around ran)", times.replace("load ", "").replace(" construct ", " / "));

  // The device's control port.
  const ctl = dgram.createSocket("udp4");
  cleanups.push(() => ctl.close());
  await new Promise((r) => ctl.bind(0, HOST, r));
  const command = (c) => ctl.send(c, DEV_CTL, HOST);
  const statsCount = () => all("STATS").length;
  async function stats() {
    const n = statsCount();
    command("stats");
    if (!(await until(() => statsCount() > n, 3000))) return null;
    const r = JSON.parse(last("STATS")[1]);
    r.at = last("STATS")[2];
    return r;
  }
  const idle = await stats();
  check("device answers the control port", idle !== null);
  if (idle === null) throw new Error("no stats from the device");

  // 5. The Node endpoint with a MediaSession per call.
  const logLines = [];
  const platform = new NodePlatform({ address: HOST, logLevel: 2, logSink: (l) => logLines.push(l) });
  const ep = new Endpoint({ platform, address: HOST, port: NODE_SIP, inviteStatus: 200, calls: { user: "resident", rtpPortBase: NODE_RTP, answerDelay: 0 } });
  cleanups.push(() => ep.close());
  check("Node endpoint opens", ep.open() === 0);
  const nodeDigits = [];
  const sessions = [0, 1].map(() => new MediaSession({ platform, audio: null, onDigit: (dgt) => nodeDigits.push(dgt) }));
  cleanups.push(() => sessions.forEach((s) => s.stop()));
  const activeAt = [];
  ep.onMedia = (c) => {
    const s = sessions[c.index];
    const p = { localPort: c.mediaPort, remoteAddress: c.mediaRemoteAddress, remotePort: c.mediaRemotePort, payload: c.mediaPayload, telephoneEvent: c.mediaTelephoneEvent, direction: c.mediaDirection };
    const r = s.isRunning() ? s.update(p) : s.start(p);
    if (r < 0) logLines.push("media start failed " + r);
  };
  ep.onCall = (c) => {
    if (c.state === CALL_ACTIVE) activeAt[c.index] = performance.now();
    if (c.state === CALL_ENDED) sessions[c.index].stop();
  };
  await sleep(100); // the Node sockets bind asynchronously

  const deviceState = (name, since) => lines.find((l) => l[0] === "STATE" && l[2] >= since && l[1].split(" ")[1] === name) || null;
  const relayLines = () => all("RELAY").map((l) => { const f = l[1].split(" "); return { on: f[0] === "on", at: +f[1], read: f[2] === "true" }; });

  /** Measures the RTP rate from the device on the Node session over ~1 s, and the device's stats then. */
  async function measureCall(label, s, slot) {
    const a = await stats();
    const r0 = s.stats[MEDIA_PACKETS_RECEIVED];
    const t0 = performance.now();
    await sleep(1000);
    const b = await stats();
    const dt = (performance.now() - t0) / 1000;
    const rate = (s.stats[MEDIA_PACKETS_RECEIVED] - r0) / dt;
    check(label + ": Node receives RTP from the device", s.stats[MEDIA_PACKETS_RECEIVED] > 0, "packetsReceived " + s.stats[MEDIA_PACKETS_RECEIVED]);
    check(label + ": ~50 RTP packets/s from the device (40–60)", rate >= 40 && rate <= 60, rate.toFixed(1) + "/s");
    figure(label + ": RTP from the device, packets/s (Node side)", rate.toFixed(1));
    if (a !== null && b !== null) {
      const da = a.s[slot], db = b.s[slot];
      const span = b.time - a.time;
      const devRate = (db.sent - da.sent) / span;
      figure(label + ": device packets sent/s (device clock)", devRate.toFixed(1));
      figure(label + ": device skippedTicks (cumulative)", db.skipped);
      const per = (k) => ((b.busy[k] - a.busy[k]) * 1000 / Math.max(1, b.busy[k + "N"] - a.busy[k + "N"])).toFixed(3) + " ms × " + (b.busy[k + "N"] - a.busy[k + "N"]);
      figure(label + ": device time per RTP send tick / RTP receive (1 s window)", per("tick") + " / " + per("rtp"));
      figure(label + ": device busy in media handlers", (((b.busy.tick + b.busy.rtp - a.busy.tick - a.busy.rtp) / span) * 100).toFixed(1) + " % of the interpreter's time");
      figure(label + ": device memory during the call (variables used)", b.usage + " (+" + (b.usage - idle.usage) + " over idle)");
      check(label + ": the device skips no ticks", db.skipped === 0, "skippedTicks " + db.skipped);
      check(label + ": the device receives RTP from Node", db.received > da.received, da.received + " → " + db.received);
    }
    return b;
  }

  async function sendCodeRtp(label, s, relaysBefore) {
    let ok = true;
    for (const ch of CODE) ok = s.sendDigit(ch.charCodeAt(0), 100) && ok;
    check(label + ": Node queues the code as RFC 4733 events", ok);
    const t = performance.now();
    check(label + ": the relay switches on", await until(() => relayLines().length >= relaysBefore + 1, 5000), JSON.stringify(relayLines()));
    figure(label + ": code sent → relay on (ms, Node clock; 5 digits of 100 ms + 60 ms gaps)", (performance.now() - t).toFixed(0));
  }

  async function checkPulse(label, relaysBefore) {
    const got = await until(() => relayLines().length >= relaysBefore + 2, PULSE_MS + 3000);
    const r = relayLines().slice(relaysBefore);
    check(label + ": the relay pulses on then off", got && r.length === 2 && r[0].on && r[0].read && !r[1].on && !r[1].read, JSON.stringify(r));
    if (got && r.length === 2) {
      const width = r[1].at - r[0].at;
      // The door times the pulse from the digit's arrival; this harness logs the relay write, a few ms later on the interpreter.
      check(label + ": pulse width ≈ " + PULSE_MS + " ms (device clock)", width >= PULSE_MS - 20 && width <= PULSE_MS + 150, width + " ms");
      figure(label + ": relay pulse (device clock)", width + " ms");
    }
  }

  async function hangupFromNode(label, call, slot) {
    const t = performance.now();
    ep.hangup(call);
    const seen = await until(() => deviceState("ended", t) !== null, 5000);
    check(label + ": the device sees the call end", seen);
    const nodeEnded = await until(() => call.state === 0 || call.state === CALL_ENDED, 5000);
    check(label + ": the Node call ends", nodeEnded, "state " + call.state);
    if (seen) {
      const f = deviceState("ended", t)[1].split(" ");
      // index state endStatus dir authorised sent received skipped digits lost sendErrors running rtpDigits infoDigits opens
      check(label + ": the device's RTP session stopped", f[11] === "false", f.join(" "));
      figure(label + ": device session at the end: sent / received / skipped / lost", [f[5], f[6], f[7], f[9]].join(" / "));
      return f;
    }
    return null;
  }

  // --- call 1: Node calls the door, the code as RFC 4733 events ---
  {
    const label = "call 1 (RFC 4733)";
    const t = performance.now();
    const call = ep.call(`sip:door@${HOST}:${DEV_SIP}`);
    check(label + ": Node starts the call", call !== null);
    const active = await until(() => call !== null && call.state === CALL_ACTIVE, 5000);
    check(label + ": the device answers (200), the call is active on Node", active, call && call.stateName());
    if (active) {
      figure(label + ": answer time, INVITE sent → 200 received (Node clock)", (activeAt[call.index] - t).toFixed(1) + " ms");
      check(label + ": the device reports the call active and authorised", await until(() => { const l = deviceState("active", t); return l !== null && l[1].split(" ")[4] === "true"; }, 2000),
        JSON.stringify(all("STATE").map((l) => l[1])));
      const s = sessions[call.index];
      await sleep(300);
      const st = await measureCall(label, s, 0);
      await sendCodeRtp(label, s, 0);
      await checkPulse(label, 0);
      const f = await hangupFromNode(label, call, 0);
      if (f !== null) check(label + ": the device got 5 RFC 4733 digits and opened once", f[12] === "5" && f[14] === "1", "rtpDigits " + f[12] + ", opens " + f[14]);
      void st;
    }
  }
  await sleep(300);
  const after1 = await stats();
  if (after1 !== null) figure("device memory after call 1 (variables used)", after1.usage + " (+" + (after1.usage - idle.usage) + " over idle before it; +" +
    (after1.usage - after1.kept - (idle.usage - idle.kept)) + " without the kept retransmission copies)");
  // Per call: the audit entry (its ring's text slots are made on first use, up to auditSize), the slot's strings;
  // the first call also meets header names the parser has not compared against yet (a bounded cache).
  // Measured 63-67 over repeated runs; the leak check proper is the three-call one below.
  // Measured 68-72 since transactions became handles (their slots' entries in the layer's arrays are made on a
  // slot's first use); 63-67 before. 112-116 since a field holding "", false or null shares one value (the
  // bundle's $E, $F, $N): idle costs ~150 variables fewer, a field given a value of its own by the call one
  // more than before (measured 111-116). The check from call 1 to call 3 below is the leak check.
  check("device stats after call 1", after1 !== null);
  if (after1 !== null) check("device memory after call 1 within 130 variables of idle (the audit entry and its ring slots, the slot's strings, first-met header names, first-used transaction slots' entries; kept retransmission copies aside)",
    after1.usage - after1.kept - (idle.usage - idle.kept) <= 130, idle.usage + " → " + after1.usage + " (copies " + idle.kept + " → " + after1.kept + ")");

  // --- call 2: the code as SIP INFO ---
  {
    const label = "call 2 (INFO)";
    const t = performance.now();
    const relays = relayLines().length;
    const call = ep.call(`sip:door@${HOST}:${DEV_SIP}`);
    const active = await until(() => call !== null && call.state === CALL_ACTIVE, 5000);
    check(label + ": the device answers, the call is active on Node", active, call && call.stateName());
    if (active) {
      figure(label + ": answer time, INVITE sent → 200 received (Node clock)", (activeAt[call.index] - t).toFixed(1) + " ms");
      const s = sessions[call.index];
      await sleep(500);
      check(label + ": Node receives RTP from the device", s.stats[MEDIA_PACKETS_RECEIVED] > 0, "packetsReceived " + s.stats[MEDIA_PACKETS_RECEIVED]);
      // INFOs within the dialog, from a raw socket (the Via sends the responses there).
      const raw = dgram.createSocket("udp4");
      cleanups.push(() => raw.close());
      await new Promise((r) => raw.bind(NODE_RAW, HOST, r));
      const responses = [];
      raw.on("message", (m) => { responses.push(m.toString("latin1")); poke(); });
      const dlg = call.dialog;
      let cseq = dlg.localCseq;
      for (const ch of CODE) {
        cseq++;
        const body = `Signal=${ch}\r\nDuration=160\r\n`;
        const msg = [`INFO ${dlg.remoteTarget} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${NODE_RAW};branch=z9hG4bKinfo${cseq}x${Date.now()};rport`,
          "Max-Forwards: 70", `From: ${dlg.localField}`, `To: ${dlg.remoteField}`, `Call-ID: ${dlg.callId}`, `CSeq: ${cseq} INFO`,
          `Contact: <sip:resident@${HOST}:${NODE_SIP}>`, "Content-Type: application/dtmf-relay", "Content-Length: " + body.length, "", body].join("\r\n");
        const n = responses.length;
        raw.send(msg, DEV_SIP, HOST);
        const got = await until(() => responses.length > n, 2000);
        check(label + ": INFO " + ch + " answered 200", got && responses[n].startsWith("SIP/2.0 200"), got ? responses[n].split("\r\n")[0] : "no response");
      }
      dlg.localCseq = cseq; // the endpoint's BYE comes after the INFOs
      await checkPulse(label, relays);
      const f = await hangupFromNode(label, call, 0);
      if (f !== null) check(label + ": the device got 5 INFO digits and opened a second time", f[13] === "5" && f[14] === "2", "infoDigits " + f[13] + ", opens " + f[14]);
    }
  }
  await sleep(300);

  // --- call 3: the device's button calls the Node endpoint ---
  {
    const label = "call 3 (button)";
    const relays = relayLines().length;
    const t = performance.now();
    let incoming = null;
    const prevOnCall = ep.onCall;
    ep.onCall = (c) => { if (!c.outgoing && incoming === null) incoming = c; prevOnCall(c); };
    command("press");
    check(label + ": buttonPressed() starts a call", await until(() => last("PRESS") !== null, 3000) && last("PRESS")[1] !== "-1", last("PRESS") && last("PRESS")[1]);
    const active = await until(() => incoming !== null && incoming.state === CALL_ACTIVE, 5000);
    check(label + ": Node answers, the call is active on Node", active, incoming && incoming.stateName());
    check(label + ": the device reports the outgoing call active and authorised",
      await until(() => { const l = deviceState("active", t); return l !== null && l[1].split(" ")[3] === "out" && l[1].split(" ")[4] === "true"; }, 3000),
      JSON.stringify(all("STATE").map((l) => l[1])));
    if (active) {
      figure(label + ": button → call active on Node (ms, Node clock)", (activeAt[incoming.index] - t).toFixed(1));
      const s = sessions[incoming.index];
      await sleep(300);
      const slot = +deviceState("active", t)[1].split(" ")[0];
      await measureCall(label, s, slot);
      await sendCodeRtp(label, s, relays);
      await checkPulse(label, relays);
      const f = await hangupFromNode(label, incoming, slot);
      if (f !== null) check(label + ": the device opened a third time", f[14] === "3", "opens " + f[14]);
    }
    ep.onCall = prevOnCall;
  }
  await sleep(300);
  const after = await stats();
  check("device stats after the three calls", after !== null);
  if (after !== null) {
    figure("device memory after the three calls (variables used)", after.usage + " (+" + (after.usage - idle.usage) + " over idle before call 1)");
    // What stays after a call: its audit entry (the ring holds DEFAULT_DOOR.auditSize) and the slot's strings until
    // reuse. The leak check: from after call 1 to after call 3 (what the first call meets first is made by then;
    // measured 50-57: two audit entries and their ring slots).
    if (after1 !== null) check("device memory from after call 1 to after call 3 within 2 × 36 variables (kept retransmission copies aside)",
      after.usage - after.kept - (after1.usage - after1.kept) <= 72, after1.usage + " → " + after.usage + " (copies " + after1.kept + " → " + after.kept + ")");
    check("no call left on the device", after.live === 0, "liveCount " + after.live);
  }

  // 6. Done: the device closes the phone and its control socket; with nothing left, the interpreter exits.
  command("quit");
  await until(() => dev.exit() !== null, 5000);
  check("device prints @@END after phone.close()", last("END") !== null);
  check("interpreter exits after phone.close() (nothing left running)", dev.exit() !== null && dev.exit().code === 0, JSON.stringify(dev.exit()));
  if (dev.exit() === null) child.kill("SIGKILL");
  await Promise.race([exitPromise, sleep(2000)]);
  figure("interpreter error flags at the end (E.getErrorFlags)", last("FLAGS") ? last("FLAGS")[1] : "(not reported)");
  const closeLine = (last("CLOSE") || ["", "(not reported)"])[1];
  check("phone.close() on the interpreter", closeLine === "ok", closeLine);
  if (!isNaN(usage("closed"))) figure("device memory after phone.close() (variables used)", usage("closed"));
  const sip = last("STATS") ? JSON.parse(last("STATS")[1]).busy : null;
  if (sip !== null) figure("device time per SIP datagram received (all calls)", (sip.sip * 1000 / Math.max(1, sip.sipN)).toFixed(2) + " ms × " + sip.sipN);
  const kinds = last("STATS") ? JSON.parse(last("STATS")[1]).sipKinds : {};
  for (const k of Object.keys(kinds)) if (kinds[k][1] > 0) figure("device time per " + k + " received: mean / max", (kinds[k][0] / kinds[k][1]).toFixed(2) + " / " + kinds[k][2].toFixed(2) + " ms × " + kinds[k][1]);
  const unexpected = dev.output().split("\n").filter((l) => !l.includes("@@") && /Uncaught|Error|ERROR|FIFO_FULL/.test(l));
  check("no other errors on the interpreter", unexpected.length === 0, unexpected.join(" | "));
  if (failures() > 0 || process.env.DOORSIP_VERBOSE) {
    console.log("--- interpreter output ---\n" + (process.env.DOORSIP_VERBOSE ? dev.output() : dev.output().slice(-4000)));
    console.log("--- Node endpoint log ---\n" + logLines.slice(-40).join("\n") + "\n" + ep.events.slice(-30).map((e) => e.at.toFixed(0) + " " + e.kind + " " + e.detail).join("\n"));
  }
} catch (e) {
  check("test harness", false, e && e.stack ? e.stack : String(e));
} finally {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  for (const f of cleanups) try { f(); } catch {}
  rmSync(dir, { recursive: true, force: true });
}
for (const [name, value] of figures) console.log("  " + name + ": " + value);
finish();
