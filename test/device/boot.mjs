// `npm run test:device:boot`: the device bundle boots, registers and completes a call on Espruino's Linux
// interpreter (ESPRUINO=path) against a sipp registrar and a sipp caller on 127.0.0.1 (issue 6 acceptance).
//
// firmware/device.ts is bundled the way the device bundle is (build.mjs bundleDevice, then the Espruino gate)
// into node_modules/doorsip.js of a fresh folder (DOORSIP_MODULE=storage puts it in the interpreter's Storage
// instead, as a board holds it, evaluated at the root as the boot code does: function bodies then stay in
// flash). A first interpreter run writes
// doorsip.json into Storage: SIP on 127.0.0.1 and a free port, one account (1001, MD5 digest) at the sipp
// registrar, trust.allow 127.0.0.1, auto-answer at once, door code "1234#" with a 1 s pulse. Then:
//   1. sipp test/device/sipp/registrar.xml listens; the device program runs require("doorsip").start() (or from
//      Storage: eval(require("Storage").read("doorsip")); doorsip.start());
//      the registrar challenges (401), checks the digest (verifyauth, nonce, opaque, qop, nc) and grants 300 s
//      in the Contact's expires; sipp exits 0 and the device reports the account registered for 300 s.
//   2. sipp test/device/sipp/caller.xml calls the device: INVITE → (100/180) → 200 → ACK → INFO
//      application/dtmf-relay 1, 2, 3, 4, # (each 200) → 1.5 s → BYE → 200; sipp exits 0.
//   The device pulses the relay once (on, then off after ~1 s) and the call ends.
// The device program polls every 50 ms: the relay (phone.door.relayOn), the registration state, the
// call slots' states (phone.ua.calls.calls) and, while a call is live, process.memory() for the peak; it
// prints "@@KIND ..." lines and takes commands on a control port ("mem TAG", "quit": closes the phone).
// The device program is a one-line boot (the firmware loaded as a board's boot code loads it) and the test's
// harness, a module of its own (in Storage with the firmware), whose cost is measured before start().
// Memory figures are variables in use (process.memory().usage, after a garbage collection) at boot, with the
// firmware loaded, with the harness, after start(), after registration, before the call, the peak during it,
// after it, after close(); and the call's peak less the harness.
// Prints the checks' tally and the figures; exits 1 on a failure, 2 without ESPRUINO. DOORSIP_VERBOSE=1
// prints the interpreter's output; DOORSIP_KEEP=1 keeps the work folder (sipp traces, the bundle).
import { spawn, spawnSync } from "node:child_process";
import * as dgram from "node:dgram";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { rawStrings, root } from "../../build.mjs";
import { bundleGated, checks, espruinoPath, freeBlock, spawnDevice, spellInternals } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:boot");

const HOST = "127.0.0.1";
const CODE = "1234#";
const PULSE_MS = 1000;
const GRANTED = 300; // what registrar.xml grants in the Contact's expires
const FROM_STORAGE = process.env.DOORSIP_MODULE === "storage";
const TIMEOUT_MS = 55000;
const REG_REGISTERED = 2;
const CALL_FREE = 0;
const scenarios = join(root, "test/device/sipp");

const t0 = performance.now();
const { check, failures, finish } = checks("device boot");
const figures = [];
const figure = (name, value) => figures.push([name, value]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


/** Something has a UDP socket bound to 127.0.0.1:port (or 0.0.0.0:port): it is ready to receive. */
function udpBound(port) {
  const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  try {
    return readFileSync("/proc/net/udp", "latin1").split("\n").some((l) => {
      const local = l.trim().split(/\s+/)[1] || "";
      return local === "0100007F" + hex || local === "00000000" + hex;
    });
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), "doorsip-device-boot-"));
const children = [];
try {
  // 1. The device bundle (firmware/device.ts), through the same build and gate as the firmware.
  mkdirSync(join(dir, "bundle"));
  mkdirSync(join(dir, "node_modules"));
  const bundleFile = join(dir, "bundle/doorsip.js");
  const { code, internals } = await bundleGated(join(root, "firmware/device.ts"), bundleFile, check, "Espruino gate on the device bundle (firmware/device.ts)");
  const bytes = Buffer.byteLength(code);
  figure("device bundle (firmware/device.ts, minified)", bytes.toLocaleString("en-US") + " B, " +
    gzipSync(code, { level: 9 }).length.toLocaleString("en-US") + " B gzip -9");
  if (!FROM_STORAGE) copyFileSync(bundleFile, join(dir, "node_modules/doorsip.js"));
  // From Storage, the form a board is flashed with (build.mjs rawStrings: long strings and rom tables stay in flash).
  else writeFileSync(bundleFile, (await rawStrings(code)).code);

  // 2. Ports: device SIP (UDP + TCP) and control, the two sipps and their media, the device's RTP (2 slots).
  const base = await freeBlock(16, 48000, 750);
  const DEV_SIP = base, DEV_CTL = base + 1, REG = base + 2, CALLER = base + 3, DEV_RTP = base + 4, CALLER_MEDIA = base + 8;

  // 3. The configuration in the interpreter's Storage (espruino.flash in the work folder), and the module there too
  //    when DOORSIP_MODULE=storage.
  const config = {
    sip: { address: HOST, port: DEV_SIP },
    rtp: { address: HOST, portBase: DEV_RTP },
    accounts: [{ user: "1001", password: "door-secret", domain: "doorsip.test", registrar: HOST, registrarPort: REG, expires: 600, keepalive: 0 }],
    autoAnswer: { enabled: true, delayMs: 0 },
    trust: { allow: [HOST] },
    door: { code: CODE, pulseMs: PULSE_MS },
  };
  writeFileSync(join(dir, "setup.js"),
    `var S = require("Storage");\n` +
    `var ok = S.write("doorsip.json", ${JSON.stringify(JSON.stringify(config))});\n` +
    (FROM_STORAGE ? `ok = ok && S.write("doorsip", require("fs").readFileSync("bundle/doorsip.js"));\n` : "") +
    `print("@@SETUP " + ok + " " + JSON.stringify(S.list()));\nprint("@@END");\n`);
  const setup = await new Promise((resolve) => {
    const c = spawn(bin, ["setup.js"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => { out += d.toString("latin1"); });
    const timer = setTimeout(() => c.kill("SIGKILL"), 10000);
    c.on("exit", () => { clearTimeout(timer); resolve(out); });
  });
  const setupLine = /@@SETUP (.*)/.exec(setup);
  check("doorsip.json written to the interpreter's Storage", setupLine !== null && setupLine[1].startsWith("true") && setupLine[1].includes("doorsip.json"),
    setupLine ? setupLine[1] : setup.slice(-500));

  // 4. The device program: a one-line boot as a board's (the firmware evaluated at the root from Storage, or
  //    required), then the test's harness, a module of its own ("dsboot", in Storage too when the firmware is,
  //    so its function bodies stay in flash and its cost stays small and measured: "harness").
  writeFileSync(join(dir, "run.js"), `
var T0 = getTime();
function ms() { return Math.round((getTime() - T0) * 1000); }
function mem(tag) { var m = process.memory(); print("@@MEM " + tag + " " + m.usage + " " + m.free + " " + m.total + " " + ms()); }
mem("boot");
var d = null;
try { ${FROM_STORAGE ? 'eval(require("Storage").read("doorsip")); d = doorsip;' : 'd = require("doorsip");'} } catch (e) { print("@@START " + e); }
mem("loaded");
require("dsboot");
`);
  const harness = spellInternals(internals, `
// The control port and the poll's state first: "harness" is what the test holds before start().
var result = null, phone = null, poller = 0;
var relayOn = false, regState = -1, slots = [], live = false, peak = 0, peakRaw = 0;
var ctl = require("dgram").createSocket("udp4");
ctl.bind(${DEV_CTL});
ctl.on("message", function (msg) {
  if (msg.substr(0, 4) === "mem ") mem(msg.substr(4));
  else if (msg === "quit") {
    if (poller) clearInterval(poller);
    if (phone !== null) { try { phone.@close(); print("@@CLOSE ok"); } catch (e) { print("@@CLOSE " + e); } }
    ctl.close();
    setTimeout(function () { mem("closed"); print("@@FLAGS " + JSON.stringify(E.getErrorFlags())); print("@@END"); }, 50);
  }
});
mem("harness");
try {
  if (d !== null) { // else the load's own @@START error stands
    result = d.start();
    print("@@START ok " + JSON.stringify(result.problems));
  }
} catch (e) {
  print("@@START " + e + (e && e.stack ? " " + e.stack : ""));
}
mem("started");
phone = result !== null ? result.phone : null;
// Exact call states and how each call ended (the polling below may miss the short-lived "ended").
if (phone !== null) {
  var onCallState = phone.@onCallState;
  phone.@onCallState = function (c) {
    onCallState.call(phone, c);
    print("@@STATE " + c.@index + " " + c.@stateName() + " " + c.@endStatus + " " + c.@authorised + " " + phone.@infoDigits + " " + phone.@door.@opens + " " + ms());
  };
}
function poll() {
  var on = phone.@door.@relayOn;
  if (on !== relayOn) { relayOn = on; print("@@RELAY " + (on ? "on" : "off") + " " + ms()); }
  var r = phone.@registrations[0];
  if (r !== undefined && r.@state !== regState) {
    regState = r.@state;
    print("@@REG " + r.@state + " " + r.@stateName() + " " + r.@granted + " " + ms());
    if (r.@state === ${REG_REGISTERED}) mem("registered");
  }
  var cs = phone.@ua.@calls.@calls, any = false;
  for (var i = 0; i < cs.length; i++) {
    var s = cs[i].@state;
    if (slots[i] === undefined) slots[i] = ${CALL_FREE};
    if (s !== slots[i]) { print("@@CALL " + i + " " + cs[i].@stateName() + " " + ms()); slots[i] = s; }
    if (s !== ${CALL_FREE}) any = true;
  }
  if (any) {
    var raw = process.memory(false).usage;
    var used = process.memory().usage;
    if (raw > peakRaw) peakRaw = raw;
    if (used > peak) peak = used;
  } else if (live) {
    print("@@PEAK " + peak + " " + peakRaw + " " + ms());
  }
  live = any;
}
poller = phone !== null ? setInterval(poll, 50) : 0;
if (phone !== null) poll();
mem("polling"); // the harness's wrapper, interval and poll state, made after start()
print("@@READY " + ms());
`);
  if (FROM_STORAGE) {
    writeFileSync(join(dir, "dsboot.js"), harness);
    writeFileSync(join(dir, "install-harness.js"), 'require("Storage").write("dsboot", require("fs").readFileSync("dsboot.js")); print("@@OK");\n');
    const inst = spawnSync(bin, ["install-harness.js"], { cwd: dir, encoding: "latin1", timeout: 10000, input: "" });
    check("the test's harness written to Storage", (inst.stdout || "").includes("@@OK"), (inst.stdout || "").slice(-300));
  } else writeFileSync(join(dir, "node_modules/dsboot.js"), harness);

  // 5. The registrar first, then the device.
  const sipp = (name, port, extra) => {
    const args = ["-sf", join(scenarios, name + ".xml"), "-i", HOST, "-p", String(port), "-m", "1", "-nostdin",
      "-timeout", "25s", "-timeout_error", "-default_behaviors", "all,-bye",
      "-trace_err", "-error_file", join(dir, name + ".err"), "-trace_msg", "-message_file", join(dir, name + ".msg")].concat(extra);
    const child = spawn("sipp", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (d) => { stderr += d; });
    const read = (f) => { try { return readFileSync(join(dir, f), "latin1"); } catch { return ""; } };
    const result = { code: null, done: false, errors: "", messages: "", stderr: "" };
    const done = new Promise((resolve) => child.on("exit", (c) => {
      Object.assign(result, { code: c, done: true, errors: read(name + ".err"), messages: read(name + ".msg"), stderr });
      resolve(result);
    }));
    return { child, done, result };
  };

  const lines = []; // [kind, rest, Node ms]
  const waiters = [];
  const poke = () => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred()) waiters.splice(i, 1)[0].resolve(); };
  const pollTimer = setInterval(poke, 20);
  const deadline = t0 + TIMEOUT_MS;
  let dev = null;
  /** Waits until pred() holds (true), or ms pass, the interpreter exits or the overall deadline comes (false). */
  const until = (pred, ms) => new Promise((resolve) => {
    const stop = () => pred() || (dev !== null && dev.exit() !== null);
    if (stop()) return resolve(pred());
    const w = { pred: stop, resolve: () => resolve(pred()) };
    waiters.push(w);
    setTimeout(() => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
      resolve(pred());
    }, Math.max(0, Math.min(ms, deadline - performance.now())));
  });
  const all = (kind) => lines.filter((l) => l[0] === kind);
  const last = (kind) => { const a = all(kind); return a.length ? a[a.length - 1] : null; };
  const memOf = (tag) => { const l = all("MEM").find((x) => x[1].startsWith(tag + " ")); return l ? +l[1].split(" ")[1] : NaN; };

  try {
    const registrar = sipp("registrar", REG, []);
    check("sipp registrar binds its port", await until(() => udpBound(REG) || registrar.result.done, 5000), "port " + REG);

    dev = spawnDevice(bin, dir, (kind, rest) => { lines.push([kind, rest, performance.now()]); }, poke);
    children.push(dev.child);
    const ready = await until(() => last("READY") !== null, 15000);
    check("the device program starts (require(\"doorsip\").start() and the control port)", ready, dev.output().slice(-2000));
    const start = (last("START") || ["", "(not reported)"])[1];
    check("start() boots the door phone from Storage without an exception", start.startsWith("ok "), start);
    check("doorsip.json loads without a problem", start === "ok []", start);
    if (!ready || !start.startsWith("ok ")) throw new Error("the device did not boot");

    // Registration: 401, then the digest sipp verifies, then 200 with Contact;expires=300.
    const registered = await until(() => all("REG").some((l) => +l[1].split(" ")[0] === REG_REGISTERED), 10000);
    const reg = (all("REG").find((l) => +l[1].split(" ")[0] === REG_REGISTERED) || ["", ""])[1].split(" ");
    check("the device registers at the sipp registrar", registered, all("REG").map((l) => l[1]).join(" | "));
    check("the device takes the Contact's expires (" + GRANTED + " s, not Expires: 900)", reg[2] === String(GRANTED), "granted " + reg[2]);
    if (registered) figure("boot → registered (device clock)", reg[3] + " ms");
    await Promise.race([registrar.done, sleep(5000)]);
    const r1 = registrar.result;
    check("sipp registrar: scenario passed (exit 0, no errors)", r1.code === 0 && r1.errors === "", "exit " + r1.code + " " + r1.errors.slice(0, 500) + r1.stderr.slice(-300));
    check("sipp registrar: got a REGISTER with a digest for user 1001", /Authorization: Digest username="1001"/.test(r1.messages));
    if (!registered) throw new Error("the device did not register");

    const idleCount = all("MEM").length;
    const command = (() => {
      const ctl = dgram.createSocket("udp4");
      ctl.bind(0, HOST);
      children.push({ kill: () => ctl.close() });
      return (c) => ctl.send(c, DEV_CTL, HOST);
    })();
    await sleep(200);
    command("mem idle");
    await until(() => all("MEM").length > idleCount, 3000);

    // The call: sipp calls the device, sends the code as SIP INFO, waits, hangs up.
    const tCall = performance.now();
    const caller = sipp("caller", CALLER, ["-mp", String(CALLER_MEDIA), HOST + ":" + DEV_SIP]);
    await Promise.race([caller.done, sleep(Math.max(0, deadline - performance.now() - 8000))]);
    const r2 = caller.result;
    check("sipp caller: scenario passed (exit 0, no errors)", r2.code === 0 && r2.errors === "", "exit " + r2.code + " " + r2.errors.slice(0, 800) + r2.stderr.slice(-300));
    if (r2.done) figure("sipp call: INVITE → BYE answered (Node clock; includes the 1.5 s pause)", (performance.now() - tCall).toFixed(0) + " ms");
    const ended = await until(() => all("STATE").some((l) => l[1].split(" ")[1] === "ended") &&
      all("CALL").length > 0 && last("CALL")[1].split(" ")[1] === "free", 5000);
    const states = all("STATE").map((l) => l[1].split(" ").slice(0, 3).join(" "));
    check("the device answers the call (active) and it ends (ended, slot free)", ended && states.some((s) => s.split(" ")[1] === "active"), states.join(" | "));
    const endLine = (all("STATE").find((l) => l[1].split(" ")[1] === "ended") || ["", ""])[1].split(" ");
    // index state endStatus authorised infoDigits opens ms
    check("the call was accepted by the trust policy (authorised)", endLine[3] === "true", endLine.join(" "));
    check("the device got the 5 INFO digits and opened the door once", endLine[4] === "5" && endLine[5] === "1", "infoDigits " + endLine[4] + ", opens " + endLine[5]);
    await until(() => all("RELAY").length >= 2, PULSE_MS + 2000);
    const relays = all("RELAY").map((l) => l[1].split(" "));
    check("the relay pulsed once (on, then off)", relays.length === 2 && relays[0][0] === "on" && relays[1][0] === "off", JSON.stringify(relays));
    if (relays.length === 2) {
      const width = +relays[1][1] - +relays[0][1];
      check("pulse ≈ " + PULSE_MS + " ms (device clock, 50 ms polling)", width >= PULSE_MS - 60 && width <= PULSE_MS + 250, width + " ms");
      figure("relay pulse (device clock, polled every 50 ms)", width + " ms");
    }
    const callLines = all("CALL").map((l) => l[1].split(" "));
    figure("call slot states seen by polling (slot state ms)", callLines.map((f) => f.join(" ")).join(", "));

    await sleep(500);
    const afterCount = all("MEM").length;
    command("mem after-call");
    await until(() => all("MEM").length > afterCount, 3000);

    // Done: the device closes the phone; with nothing left running, the interpreter exits.
    command("quit");
    await until(() => dev.exit() !== null, 5000);
    check("the device prints @@END after phone.close()", last("END") !== null && (last("CLOSE") || ["", ""])[1] === "ok", (last("CLOSE") || ["", "(no CLOSE)"])[1]);
    check("the interpreter exits (status 0) after phone.close()", dev.exit() !== null && dev.exit().code === 0, JSON.stringify(dev.exit()));

    const peak = last("PEAK") ? last("PEAK")[1].split(" ").map(Number) : [NaN, NaN];
    const u = (t) => memOf(t);
    figure("memory, variables used: boot / firmware loaded / the test's harness loaded / start() / registered / idle before the call / call peak / after the call / after close()",
      [u("boot"), u("loaded"), u("harness"), u("started"), u("registered"), u("idle"), peak[0], u("after-call"), u("closed")].join(" / "));
    figure("memory: the firmware (loaded) / the test's harness (its module) / start() (config, phone, sockets) / the call's peak over idle / after the call over idle",
      [u("loaded") - u("boot"), u("harness") - u("loaded"), u("started") - u("harness"), peak[0] - u("idle"), u("after-call") - u("idle")].join(" / ") + " variables");
    figure("memory: call peak without collecting garbage first (process.memory(false))", peak[1] + " variables");
    // The harness: its module and control port (before start()) and its polling (made after start()).
    const harnessCost = u("harness") - u("loaded") + (u("polling") - u("started"));
    figure("memory: the firmware's call peak (less the test's harness, " + harnessCost + " variables)", (peak[0] - harnessCost) + " variables");
    const totals = all("MEM").map((l) => l[1].split(" ")[3]);
    figure("interpreter pool (process.memory().total: the Linux build grows it, and sets LOW_MEMORY when it does)",
      totals.length ? totals[0] + " variables at boot, " + totals[totals.length - 1] + " at the end" : "(not reported)");
    figure("module loaded from", FROM_STORAGE ? "Storage (as a board: function bodies stay in flash)" : "node_modules/doorsip.js (text in RAM)");
    figure("interpreter error flags at the end (E.getErrorFlags)", last("FLAGS") ? last("FLAGS")[1] : "(not reported)");
    const bad = dev.output().split("\n").filter((l) => !l.includes("@@") && /Uncaught|New interpreter error|FIFO_FULL|Error/.test(l));
    check("the interpreter printed no Uncaught or other error", bad.length === 0, bad.join(" | "));
  } finally {
    clearInterval(pollTimer);
    if (failures() > 0 || process.env.DOORSIP_VERBOSE) {
      console.log("--- interpreter output ---\n" + (dev === null ? "(not started)" : process.env.DOORSIP_VERBOSE ? dev.output() : dev.output().slice(-4000)));
    }
  }
} catch (e) {
  check("test harness", false, e && e.stack ? e.stack : String(e));
} finally {
  for (const c of children) try { if (c.exitCode === undefined || c.exitCode === null) c.kill("SIGKILL"); } catch {}
  if (process.env.DOORSIP_KEEP) console.log("work folder kept: " + dir);
  else rmSync(dir, { recursive: true, force: true });
}
const seconds = (performance.now() - t0) / 1000;
check("the run takes less than 60 s", seconds < 60, seconds.toFixed(1) + " s");
figure("run time", seconds.toFixed(1) + " s");
for (const [name, value] of figures) console.log("  " + name + ": " + value);
finish();
