// `npm run test:device:memory`: the door phone's memory (process.memory().usage, in variables) on Espruino's
// Linux interpreter (ESPRUINO=path), with the module held the way a board holds it: in Storage.
//
// The phone is bundled the way the device bundle is (build.mjs bundleDevice, then the Espruino gate) and written
// into the interpreter's Storage by a first run (the Linux build keeps Storage in ./espruino.flash); the measured
// run evaluates it at the root from Storage (as the firmware's boot code does), so function bodies stay in flash. Then:
//   boot → module loaded → DoorPhone constructed → open() → instrumented (control socket, wrappers)
//   → registered (a Node registrar on 127.0.0.1 with MD5 digest, sim/registrar.ts)
//   → a call (a Node endpoint calls the door, RTP both ways, the door code as RFC 4733 events, Node hangs up)
//   → after the call → after phone.close().
// The peak is sampled (without GC) after every SIP datagram, every RTP tick and receive, every SIP send and
// every poll of the stack; DOORSIP_PEAK_GC=1 samples after a collection instead: the variables live inside
// the handlers, the call stack's frames included (what a board's pool must hold at the busiest moment). The
// highest sample at each stage and place is listed too. At "registered" and mid-call the device walks the phone's object graph and prints
// what each part costs (own fields, typed arrays, strings, nested objects; a node reached twice is counted
// at its first path) and the cost per class.
//
// Checks the budget (DOORSIP_MEMORY_BUDGET, default 3000 variables) at every stage and the peak, counting
// what the door phone holds (the interpreter's own ~40 included; the test's harness module and
// its instrumentation not), and prints the figures. DOORSIP_TRANSACTIONS and DOORSIP_CALL_SLOTS set the device's
// pools; DOORSIP_KEEP=1 keeps the run's folder (bundle, map, flash file). Exits 1 on a failure, 2 without
// ESPRUINO. DOORSIP_VERBOSE=1 prints the device's output.
//
// Espruino facts this relies on (2v29, Linux build): Storage lives in ./espruino.flash (256 KB) and require()
// looks there before node_modules; a running script's own text is held until it finishes (hence the harness
// is a Storage module too); === and indexOf call two typed arrays of equal contents equal (the walk does not
// deduplicate them); E.getSizeOf of a class instance reaches its prototype and the module's whole scope, so
// the walk counts fields itself.
import * as dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as acorn from "acorn";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import { rawStrings, root } from "../../build.mjs";
import { bundleGated, checks, espruinoPath, freeBlock, importForNode, spawnDevice, spellInternals } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:memory");

const HOST = "127.0.0.1";
const CODE = "1234#";
const BUDGET = Number(process.env.DOORSIP_MEMORY_BUDGET || 3000);
/** Transaction slots and call slots of the device (DOORSIP_TRANSACTIONS, DOORSIP_CALL_SLOTS); -1: the phone's default. */
/** DOORSIP_WALK_FIELDS=N: the walks also list every field (not an object) that costs N variables or more. */
const WALK_FIELDS = Number(process.env.DOORSIP_WALK_FIELDS || 0);
const TRANSACTIONS = process.env.DOORSIP_TRANSACTIONS ? Number(process.env.DOORSIP_TRANSACTIONS) : -1;
const CALL_SLOTS = process.env.DOORSIP_CALL_SLOTS ? Number(process.env.DOORSIP_CALL_SLOTS) : -1;
const TIMEOUT_MS = 60000;
const CALL_ACTIVE = 5;
const CALL_ENDED = 8;

const { check, finish } = checks("device memory");
const figures = [];
const figure = (name, value) => figures.push([name, value]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


/** Minified top-level name → its TypeScript file and name, and its kind ("class", "prototype" or ""), from the bundle's source map. */
function topLevelOrigins(code, map) {
  const tm = new TraceMap(map);
  const ast = acorn.parse(code, { ecmaVersion: 2022, sourceType: "script", locations: true });
  const out = new Map();
  const m = JSON.parse(map);
  const add = (id) => {
    const p = originalPositionFor(tm, { line: id.loc.start.line, column: id.loc.start.column });
    let name = p.name;
    if (!name && p.source) {
      // The map has no names after the build's second pass: read the declaration at the mapped position.
      const content = m.sourcesContent && m.sourcesContent[m.sources.indexOf(p.source)];
      const line = content ? content.split("\n")[p.line - 1] || "" : "";
      const d = /^(?:export\s+)?(?:const|let|var|function|class)\s+([\w$]+)|^([\w$]+)/.exec(line.slice(p.column));
      if (d) name = d[1] || d[2];
    }
    out.set(id.name, { file: p.source ? p.source.replace(/^.*?(sip-core|firmware|hal)\//, "$1/") : "?", name: name || id.name, kind });
  };
  let kind = "";
  for (const st of ast.body) {
    kind = st.type === "ClassDeclaration" ? "class" : "";
    if (st.type === "FunctionDeclaration" || st.type === "ClassDeclaration") add(st.id);
    else if (st.type === "VariableDeclaration") {
      for (const dcl of st.declarations) {
        if (dcl.id.type !== "Identifier") continue;
        // A class, or the prototype object of one (build.mjs prototypeObjects: "X$p", mapped to its class).
        kind = dcl.init && dcl.init.type === "ClassExpression" ? "class" : dcl.init && dcl.init.type === "ObjectExpression" && /\$p\d*$/.test(dcl.id.name) ? "prototype" : "";
        add(dcl.id);
      }
    }
  }
  return out;
}

let unmangle = (path) => path;
const dir = mkdtempSync(join(tmpdir(), "doorsip-device-memory-"));
let child = null;
const cleanups = [];
try {
  // 1. The phone as a device module, through the same build and gate as the firmware bundle.
  const src = (p) => JSON.stringify(join(root, p));
  writeFileSync(join(dir, "entry.ts"),
    `export { DoorPhone } from ${src("firmware/phone.ts")};\n` +
    `export { defaultPhone } from ${src("firmware/phone-config.ts")};\n` +
    `export { EspruinoPlatform } from ${src("hal/espruino/platform.ts")};\n` +
    `export { EspruinoBoard } from ${src("hal/espruino/board.ts")};\n` +
    `export { defaultCallConfig, defaultAccount } from ${src("sip-core/index.ts")};\n` +
    // What the boot code does once the network is up (the build drops a method nothing in the bundle calls).
    `import type { DoorPhone as Phone } from ${src("firmware/phone.ts")};\n` +
    `export function registerAll(phone: Phone): void { phone.registerAll(); }\n`);
  const { code, map, metafile, mangleCache, internals } = await bundleGated(join(dir, "entry.ts"), join(dir, "doorsip.js"), check, "Espruino gate on the phone bundle");
  // The classes the walk names, by their prototypes: the classes left and the build's prototype objects.
  const origin = topLevelOrigins(code, map);
  const prototypes = [...origin].filter(([, o]) => o.kind !== "").map(([n, o]) => [o.name, n, o.kind === "class" ? 1 : 0]);
  // The shared constants the build declares first (build.mjs shareConstants), by the names it chose.
  const sharedDecl = /^(?:"use strict";)?var ([\w$]+)=!0,([\w$]+)=!1,([\w$]+)=null,([\w$]+)="";/.exec(code);
  const sharedNames = sharedDecl === null ? [] : sharedDecl.slice(1);
  // The bundle's property names back to the sources' (the device prints what it sees).
  const original = new Map(Object.entries(mangleCache || {}).filter(([, v]) => v !== false).map(([k, v]) => [v, k]));
  unmangle = (path) => path.split(".").map((p) => original.get(p) || p).join(".");
  figure("phone bundle: minified / gzip -9", Buffer.byteLength(code).toLocaleString("en-US") + " B / " + gzipSync(code, { level: 9 }).length.toLocaleString("en-US") + " B");
  const outKey = Object.keys(metafile.outputs).find((k) => k.endsWith(".js"));
  const inputs = Object.entries(metafile.outputs[outKey].inputs).map(([p, v]) => [p, v.bytesInOutput]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  figure("phone bundle: largest inputs (bytes in the minified output)", "\n" + inputs.slice(0, 12).map(([p, n]) => "      " + String(n).padStart(7) + "  " + p.replace(/^.*?(sip-core|firmware|hal)\//, "$1/")).join("\n"));

  // The Node peers: the simulator's registrar and endpoint, the Node HAL and the firmware's MediaSession.
  const { Endpoint, Registrar, NodePlatform, MediaSession, MEDIA_PACKETS_SENT, MEDIA_PACKETS_RECEIVED } = await importForNode(dir, {
    "sim/endpoint.ts": ["Endpoint"], "sim/registrar.ts": ["Registrar"], "sim/node-platform.ts": ["NodePlatform"],
    "firmware/media.ts": ["MediaSession", "MEDIA_PACKETS_SENT", "MEDIA_PACKETS_RECEIVED"],
  });

  // 3. Ports: device SIP (UDP+TCP) and control, registrar, Node SIP, RTP for two call slots each side.
  const base = await freeBlock(12, 48000, 750);
  const DEV_SIP = base, DEV_CTL = base + 1, REG_SIP = base + 2, NODE_SIP = base + 3;
  const DEV_RTP = base + 4, NODE_RTP = base + 8;

  // 4. The device program: a harness module, also in Storage (its functions stay in flash too), started by a
  // one-line run.js. "boot" is the interpreter with the harness loaded, before the door phone's module.
  const script = spellInternals(internals, `
function mem(tag) { var m = process.memory(); print("@@MEM " + tag + " " + m.usage + " " + m.total); }
mem("boot");
var d = doorsip;
var platform = new d.EspruinoPlatform({ logLevel: 1 });
var board = new d.EspruinoBoard();
// The call defaults made on demand, as the firmware does (it keeps no DEFAULT_CALL_CONFIG: 47 variables).
var calls = Object.assign(d.defaultCallConfig(), { user: "door", localAddress: "${HOST}", localPort: ${DEV_SIP},
  rtpAddress: "${HOST}", rtpPortBase: ${DEV_RTP}, answerDelay: 0 });
var account = Object.assign(d.defaultAccount(), { user: "door", password: "secret", domain: "${HOST}", registrar: "${HOST}",
  registrarPort: ${REG_SIP}, expires: 600, instanceId: "urn:uuid:00000000-0000-4000-8000-000000000001", localAddress: "${HOST}",
  localPort: ${DEV_SIP}, keepalive: 0 });
var config = Object.assign(d.defaultPhone(), {
  address: "${HOST}", port: ${DEV_SIP}, accounts: [account], calls: calls, timers: null, relayPin: "D4", relayActiveLow: false, buttons: [], logLevel: 1
});
Object.assign(config.door, { code: "${CODE}", pulseMs: 300 });
config.trust.allow = ["${HOST}"];
Object.assign(config.autoAnswer, { enabled: true, delayMs: 0 });
${TRANSACTIONS < 0 ? "" : "config.transactions = " + TRANSACTIONS + ";"}
${CALL_SLOTS < 0 ? "" : "config.callCapacity = " + CALL_SLOTS + ";"}
print("@@CONFIG " + config.transactions + " " + config.callCapacity + " " + E.getSizeOf(config));
var phone = new d.DoorPhone(platform, board, config);
mem("constructed");
var rc = phone.@open();
print("@@OPEN " + rc);
mem("opened");

// --- instrumentation: a peak sampler (no GC) around everything the stack does, a control port ---
var peak = { usage: 0, at: "", on: true, by: {} };
// Every stage and place made now (counted with the instrumentation): a sample then allocates nothing.
["idle", "register", "call", "hangup"].forEach(function (st) {
  ["sip-rx>", "sip-rx", "poll>", "poll", "rtp-tick>", "rtp-tick", "rtp-rx>", "rtp-rx", "sip-tx"].forEach(function (w) { peak.by[st + "/" + w] = 0; });
});
var stage = "idle";
function sample(where) {
  if (!peak.on) return;
  var u = process.memory(${process.env.DOORSIP_PEAK_GC ? "" : "false"}).usage;
  if (u > peak.usage) { peak.usage = u; peak.at = stage + "/" + where; }
  var at = stage + "/" + where;
  if (u > peak.by[at]) peak.by[at] = u; // the highest sample at each stage and place
}
// Wrappers of the handlers' own arity, the labels made once: the instrumentation's frames inside the
// handlers are in the samples, so they are kept as small as they can be (~6 variables each).
function wrap(obj, name, where, arity) {
  var f = obj[name], before = where + ">";
  if (arity === 0) obj[name] = function () { sample(before); var r = f.call(obj); sample(where); return r; };
  else if (arity === 1) obj[name] = function (a) { sample(before); var r = f.call(obj, a); sample(where); return r; };
  else obj[name] = function (a, b, c) { sample(before); var r = f.call(obj, a, b, c); sample(where); return r; };
}
wrap(phone.@ua, "@poll", "poll", 1);
for (var si = 0; si < phone.@sessions.length; si++) { wrap(phone.@sessions[si], "@tick", "rtp-tick", 0); wrap(phone.@sessions[si], "@receive", "rtp-rx", 3); }
(function () { var s = phone.@socket; var f = s.@send; s.@send = function (a, b, c, e) { sample("sip-tx"); return f.call(s, a, b, c, e); }; })();
var reported = false;
(function () {
  var t = phone.@transport, f = t.@receiveDatagram;
  t.@receiveDatagram = function (a, b, c, e) {
    sample("sip-rx>");
    f.call(t, a, b, c, e);
    sample("sip-rx");
    if (!reported && phone.@registrations[0].@state === 2) { reported = true; setTimeout(function () { mem("registered"); print("@@REGISTERED"); }, 20); }
  };
})();
var onCallState = phone.@onCallState;
phone.@onCallState = function (c) {
  onCallState.call(phone, c);
  var st = c.@stateName(), sess = phone.@sessions[c.@index];
  setTimeout(function () { print("@@STATE " + c.index + " " + st + " " + sess.@stats[${MEDIA_PACKETS_SENT}] + " " + sess.@stats[${MEDIA_PACKETS_RECEIVED}] + " " + phone.@rtpDigits + " " + phone.@door.@opens); }, 0);
};

// --- the breakdown: a walk of the object graph from the phone ---
var CL = ${JSON.stringify(prototypes)}.map(function (c) { return [c[0], c[2] ? global[c[1]].prototype : global[c[1]]]; });
function className(o) {
  if (Array.isArray(o)) return "Array";
  if (isTyped(o)) return "TypedArray";
  var p = Object.getPrototypeOf(o);
  for (var i = 0; i < CL.length; i++) if (CL[i][1] === p) return CL[i][0];
  if (p === d.DoorPhone.prototype) return "DoorPhone";
  if (p === Object.prototype) return "Object";
  return "?";
}
/** Variables one property costs when its value is a primitive, string or typed array (its name var + the value). */
function fieldCost(k, v) { var t = {}; t[k] = v; return E.getSizeOf(t) - 1; }
/**
 * Variables of a function's own parts: itself, its parameters, its code (a flash string from Storage), the
 * reference to its scope (not the scope: that is counted where it lives), and for a class its prototype's
 * methods and its static members.
 */
function fnCost(f) {
  var items = E.getSizeOf(f, 1), n = 1;
  if (typeof items === "number") return items;
  for (var i = 0; i < items.length; i++) {
    var nm = items[i].name;
    if (nm === "\\xFFsco" || nm === "\\xFFths") n += 1;
    else if (nm === "prototype") n += 1 + protoCost(f.prototype);
    else if (nm.charCodeAt(0) === 255) n += items[i].size;
    else { var v = f[nm]; n += typeof v === "function" ? fieldCost(nm, 0) + fnCost(v) : items[i].size; }
  }
  return n;
}
function protoCost(p) {
  var items = E.getSizeOf(p, 1), n = 1;
  if (typeof items === "number") return items;
  for (var i = 0; i < items.length; i++) {
    var nm = items[i].name;
    if (nm === "constructor" || nm === "__proto__") { n += 1; continue; }
    var desc = Object.getOwnPropertyDescriptor(p, nm);
    n += fieldCost(nm, 0);
    if (desc === undefined) continue;
    if (typeof desc.value === "function") n += fnCost(desc.value);
    else if (desc.get || desc.set) n += 1 + (desc.get ? fnCost(desc.get) : 0) + (desc.set ? fnCost(desc.set) : 0);
    else n += fieldCost(nm, desc.value) - fieldCost(nm, 0);
  }
  return n;
}
/** The module's own scope: each top-level name's cost (code: functions and classes; data: the rest). */
function moduleBreakdown() {
  peak.on = false;
  // The module ran at the root: its top-level names are the globals spelled with a leading "$".
  var sc = {};
  var globals = Object.keys(global);
  for (var gi = 0; gi < globals.length; gi++) if (globals[gi].charAt(0) === "$") sc[globals[gi]] = global[globals[gi]];
  walk = newWalk([sc, d, platform, board, config, phone]);
  // What the phone reaches is counted with the phone (a cursor may still point at the last message).
  var roots = [phone.@layer, phone.@transport, phone.@ua, phone.@sessions, phone.@door];
  for (var r = 0; r < roots.length; r++) if (walk.seen.indexOf(roots[r]) < 0) size(roots[r], "", 9);
  for (var p in phone) { var pv = phone[p]; if (isObj(pv) && walk.seen.indexOf(pv) < 0) size(pv, "", 9); }
  walk.byClass = {}; walk.parts = [];
  var keys = Object.keys(sc), out = [];
  for (var i = 0; i < keys.length; i++) {
    var k = keys[i], v = sc[k];
    if (k === "module" || k === "exports") continue;
    if (typeof v === "function") { walk.seen.push(v); out.push([k, "code", fieldCost(k, 0) + fnCost(v)]); }
    else if (isObj(v)) {
      // A prototype object of the build's (methods) is code.
      var proto = false;
      for (var c = 0; c < CL.length; c++) if (CL[c][1] === v) proto = true;
      out.push([k, proto ? "code" : "data", walk.seen.indexOf(v) >= 0 ? fieldCost(k, 0) : fieldCost(k, 0) + size(v, k, 0)]);
    } else out.push([k, "data", fieldCost(k, v)]);
  }
  print("@@MODULE " + JSON.stringify({ names: keys.length, items: out }));
  walk = null;
}
/** A walk's state: what it has counted (seen objects, buffers and strings by address) and its tallies. */
function newWalk(seen) { return { seen: seen, byClass: {}, parts: [], buffers: [], kinds: {}, fields: [], long: [0, []], strings: [] }; }
var walk = newWalk([]);
// The bundle's shared constants (build.mjs shareConstants): a field holding one of them costs its name only.
var SHARED = [];
${JSON.stringify(sharedNames)}.forEach(function (n) { SHARED.push(E.getAddressOf(global[n], false)); });
function isTyped(v) { return v.buffer instanceof ArrayBuffer; }
function isObj(v) { return v !== null && typeof v === "object" && !isTyped(v); }
function size(o, path, depth) {
  walk.seen.push(o);
  var cls = className(o);
  var own = cls === "Array" || cls === "Object" ? 1 : 2; // the object, and __proto__ for class instances
  var nested = 0;
  var keys = Object.keys(o);
  for (var i = 0; i < keys.length; i++) {
    var k = keys[i], v = o[k];
    // A name of more than 8 characters does not fit in its variable: one more each.
    if (k.length > 8) { walk.long[0]++; if (walk.long[1].indexOf(k) < 0) walk.long[1].push(k); }
    if (isObj(v) || typeof v === "function") {
      own += fieldCost(k, 0);
      if (walk.seen.indexOf(v) >= 0) continue;
      if (typeof v === "function") { walk.seen.push(v); own += fnCost(v); continue; }
      nested += size(v, path + "." + k, depth + 1);
    } else if (v !== null && typeof v === "object") {
      // A typed array. Views into one buffer count the buffer once, told apart by address (Espruino's === and
      // indexOf call two typed arrays of equal contents equal).
      var at = E.getAddressOf(v.buffer, false);
      var tc = walk.buffers.indexOf(at) >= 0 ? fieldCost(k, v) - E.getSizeOf(v.buffer) : fieldCost(k, v);
      if (walk.buffers.indexOf(at) < 0) walk.buffers.push(at);
      own += tc;
      if (${WALK_FIELDS} > 0 && tc >= ${WALK_FIELDS}) walk.fields.push([path + "." + k + " (" + v.length + ")", tc]);
    } else {
      var fc = (v === true || v === false || v === null || v === "") && SHARED.indexOf(E.getAddressOf(o[k], false)) >= 0 ? fieldCost(k, 0) : fieldCost(k, v); // o[k], not v: a copy
      if (typeof v === "string" && v !== "") {
        // A string several fields hold (a message's text, say) is counted once.
        var sa = E.getAddressOf(o[k], false);
        if (walk.strings.indexOf(sa) >= 0) fc = fieldCost(k, 0); else walk.strings.push(sa);
      }
      own += fc;
      if (${WALK_FIELDS} > 0 && fc >= ${WALK_FIELDS}) walk.fields.push([path + "." + k, fc]);
      // What a field's value costs by kind: an integer sits in its name, the rest take a variable or more.
      var kind = v === null || v === undefined ? "null" : typeof v === "number" ? (v === (v | 0) ? "int" : "float") : typeof v;
      var kc = walk.kinds[kind] || (walk.kinds[kind] = [0, 0]);
      kc[0]++; kc[1] += fc;
    }
  }
  var bc = walk.byClass[cls] || (walk.byClass[cls] = [0, 0]);
  bc[0]++; bc[1] += own;
  if (depth <= 2) walk.parts.push([path, own + nested, cls]);
  return own + nested;
}
function breakdown(tag) {
  peak.on = false;
  walk = newWalk([platform, board, config, account, calls, config.door, config.trust, config.autoAnswer]);
  // Parts in this order, each counting what no earlier part reached.
  var ua = phone.@ua, roots = [["layer", phone.@layer], ["transport", phone.@transport], ["registrations", ua.@registrations], ["calls", ua.@calls],
    ["ua", ua], ["sessions", phone.@sessions], ["door", phone.@door], ["phone", phone]];
  var total = 0;
  for (var i = 0; i < roots.length; i++) if (roots[i][1]) walk.seen.push(roots[i][1]);
  for (var i = 0; i < roots.length; i++) if (roots[i][1]) total += size(roots[i][1], roots[i][0], 0);
  var cls = [];
  for (var k in walk.byClass) cls.push([k, walk.byClass[k][0], walk.byClass[k][1]]);
  // The interpreter's own: the hidden root's entries (timers, watches, sockets…), each with what it holds.
  var hidden = [];
  var hr = E.getSizeOf(global["\\xFF"], 1);
  if (typeof hr !== "number") for (var h = 0; h < hr.length; h++) hidden.push([hr[h].name, hr[h].size]);
  print("@@WALK " + JSON.stringify({ tag: tag, total: total, parts: walk.parts, classes: cls, kinds: walk.kinds, fields: walk.fields, long: walk.long, hidden: hidden }));
  walk = null;
  peak.on = true;
}

var ctl = require("dgram").createSocket("udp4");
ctl.bind(${DEV_CTL});
ctl.on("message", function (msg) {
  if (msg === "register") { stage = "register"; d.registerAll(phone); }
  else if (msg.substr(0, 6) === "stage ") stage = msg.substr(6);
  else if (msg.substr(0, 5) === "walk ") breakdown(msg.substr(5));
  else if (msg === "peak") print("@@PEAK " + peak.usage + " " + peak.at);
  else if (msg.substr(0, 4) === "mem ") mem(msg.substr(4));
  else if (msg === "quit") {
    print("@@PEAK " + peak.usage + " " + peak.at);
    print("@@PEAKS " + JSON.stringify(peak.by));
    peak.on = false;
    phone.@close();
    moduleBreakdown();
    ctl.close();
    setTimeout(function () { mem("closed"); print("@@FLAGS " + JSON.stringify(E.getErrorFlags())); print("@@END"); }, 50);
  }
});
mem("instrumented");
print("@@READY");
`);
  writeFileSync(join(dir, "harness.js"), script);
  // The phone's module runs at the root, as the firmware's boot code runs it (eval of the Storage file: bodies
  // stay in flash, and a function made at the root keeps no scope link); then the harness, a module.
  writeFileSync(join(dir, "run.js"), `var m = process.memory(); print("@@MEM interpreter " + m.usage + " " + m.total);\n` +
    `eval(require("Storage").read("doorsip")); m = process.memory(); print("@@MEM loaded " + m.usage + " " + m.total); require("dsmem");\n`);

  // 2. Into Storage: a first run on the interpreter writes it (./espruino.flash), as an upload to a board does.
  // The Storage form, as a board is flashed (build.mjs rawStrings: long strings and rom tables stay in flash).
  const stored = (await rawStrings(code)).code;
  writeFileSync(join(dir, "doorsip.js"), stored);
  writeFileSync(join(dir, "install.js"),
    `var s = require("Storage"); s.erase("doorsip"); s.write("doorsip", require("fs").readFileSync("doorsip.js"));\n` +
    `s.erase("dsmem"); s.write("dsmem", require("fs").readFileSync("harness.js"));\n` +
    `print("@@INSTALLED " + s.read("doorsip").length + " " + s.getFree()); print("@@END");\n`);
  const inst = spawnSync(bin, ["install.js"], { cwd: dir, encoding: "latin1", timeout: 60000, input: "" });
  const installed = /@@INSTALLED (\d+) (\d+)/.exec(inst.stdout || "");
  check("the bundle is written into Storage", installed !== null && Number(installed[1]) === stored.length && existsSync(join(dir, "espruino.flash")),
    (inst.stdout || "").slice(-1000));
  if (installed === null) throw new Error("could not write the bundle into Storage");
  figure("Storage free after the install (bytes of " + statSync(join(dir, "espruino.flash")).size.toLocaleString("en-US") + ")", Number(installed[2]).toLocaleString("en-US"));
  rmSync(join(dir, "doorsip.js")); // the measured run can only find them in Storage
  rmSync(join(dir, "harness.js"));


  // 5. Run it; follow what it prints.
  const lines = [];
  const waiters = [];
  const poke = () => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred()) waiters.splice(i, 1)[0].resolve(true); };
  const deadline = Date.now() + TIMEOUT_MS;
  const until = (pred, ms) => new Promise((resolve) => {
    if (pred() || dev.exit() !== null) return resolve(pred());
    const w = { pred: () => pred() || dev.exit() !== null, resolve: () => resolve(pred()) };
    waiters.push(w);
    setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) waiters.splice(i, 1); resolve(pred()); }, Math.max(0, Math.min(ms, deadline - Date.now())));
  });
  const pollTimer = setInterval(poke, 20);
  cleanups.push(() => clearInterval(pollTimer));
  const dev = spawnDevice(bin, dir, (kind, rest) => lines.push([kind, rest]), () => poke());
  child = dev.child;
  const all = (kind) => lines.filter((l) => l[0] === kind);
  const last = (kind) => { const a = all(kind); return a.length ? a[a.length - 1] : null; };
  const usage = (tag) => { const l = all("MEM").find((x) => x[1].startsWith(tag + " ")); return l ? Number(l[1].split(" ")[1]) : NaN; };

  check("device starts and reports ready", await until(() => last("READY") !== null, 20000), dev.output().slice(-3000));
  if (last("READY") === null) throw new Error("the device did not start");
  check("phone.open() returns 0", (last("OPEN") || ["", ""])[1] === "0", (last("OPEN") || ["", "(none)"])[1]);

  const ctl = dgram.createSocket("udp4");
  cleanups.push(() => ctl.close());
  await new Promise((r) => ctl.bind(0, HOST, r));
  const command = (c) => ctl.send(c, DEV_CTL, HOST);

  // 6. The registrar, then registration.
  const logLines = [];
  const platform = new NodePlatform({ address: HOST, logLevel: 2, logSink: (l) => logLines.push(l) });
  const registrar = new Registrar({ platform, address: HOST, port: REG_SIP, realm: HOST, users: { door: "secret" } });
  cleanups.push(() => registrar.close());
  check("Node registrar opens", registrar.open() === 0);
  const ep = new Endpoint({ platform, address: HOST, port: NODE_SIP, inviteStatus: 200, calls: { user: "resident", rtpPortBase: NODE_RTP, answerDelay: 0 } });
  cleanups.push(() => ep.close());
  check("Node endpoint opens", ep.open() === 0);
  const sessions = [0, 1].map(() => new MediaSession({ platform, audio: null, onDigit: () => {} }));
  cleanups.push(() => sessions.forEach((s) => s.stop()));
  ep.onMedia = (c) => {
    const s = sessions[c.index];
    const p = { localPort: c.mediaPort, remoteAddress: c.mediaRemoteAddress, remotePort: c.mediaRemotePort, payload: c.mediaPayload, telephoneEvent: c.mediaTelephoneEvent, direction: c.mediaDirection };
    if ((s.isRunning() ? s.update(p) : s.start(p)) < 0) logLines.push("media start failed");
  };
  ep.onCall = (c) => { if (c.state === CALL_ENDED) sessions[c.index].stop(); };
  await sleep(100);

  command("register");
  const registered = await until(() => last("REGISTERED") !== null, 10000);
  check("the device registers (MD5 digest) with the Node registrar", registered && registrar.binding("door") !== null,
    registrar.history.map((h) => h.status).join(","));
  await sleep(200);
  command("walk registered");
  await until(() => all("WALK").length >= 1, 20000);

  // 7. A call: Node calls the door, RTP both ways, the code as RFC 4733 events, Node hangs up.
  command("stage call");
  await sleep(50);
  const call = ep.call(`sip:door@${HOST}:${DEV_SIP}`);
  const active = await until(() => call !== null && call.state === CALL_ACTIVE, 5000);
  check("the device answers the call", active, call && call.stateName());
  if (active) {
    const s = sessions[call.index];
    await sleep(1500);
    check("RTP flows from the device", s.stats[MEDIA_PACKETS_RECEIVED] > 20, "packetsReceived " + s.stats[MEDIA_PACKETS_RECEIVED]);
    for (const ch of CODE) s.sendDigit(ch.charCodeAt(0), 100);
    await sleep(1500);
    command("mem in-call");
    await sleep(100);
    command("peak");
    await until(() => all("PEAK").length >= 1, 3000);
    command("walk in-call");
    await until(() => all("WALK").length >= 2, 20000);
    command("stage call");
    await sleep(1000);
    command("stage hangup");
    ep.hangup(call);
    check("the device sees the call end", await until(() => all("STATE").some((l) => / ended /.test(l[1])), 5000), JSON.stringify(all("STATE")));
    const ended = all("STATE").find((l) => / ended /.test(l[1]));
    if (ended) {
      const f = ended[1].split(" "); // index state sent received rtpDigits opens
      check("the device got the code and opened the door", f[4] === "5" && f[5] === "1", ended[1]);
      figure("call: RTP packets sent / received by the device", f[2] + " / " + f[3]);
    }
    await sleep(500);
    command("stage idle");
    command("mem after-call");
  }
  await sleep(300);
  command("quit");
  await until(() => dev.exit() !== null, 5000);
  check("device prints @@END after phone.close()", last("END") !== null, dev.output().slice(-2000));
  if (dev.exit() === null) child.kill("SIGKILL");

  // 8. Figures.
  // The module's own scope, walked by the device after close (top-level names mapped back to the sources).
  const mod = last("MODULE");
  const moduleItems = mod === null ? [] : JSON.parse(mod[1]).items;
  const originOf = (n) => origin.get(n) || { file: "?", name: n };
  const cfg = (last("CONFIG") || ["", "? ?"])[1].split(" ");
  figure("device configuration: transaction slots / call slots", cfg[0] + " / " + cfg[1]);
  figure("the configuration object the phone keeps (variables; in the usage, not in the walk)", cfg[2]);
  const stages = ["interpreter", "loaded", "boot", "constructed", "opened", "instrumented", "registered", "in-call", "after-call", "closed"];
  figure("device memory (variables used): " + stages.join(" / "), stages.map(usage).join(" / "));
  figure("  the module from Storage (eval at the root)", usage("loaded") - usage("interpreter"));
  figure("  the test's harness module (from Storage)", usage("boot") - usage("loaded"));
  figure("  DoorPhone construction", usage("constructed") - usage("boot"));
  figure("  open() (sockets)", usage("opened") - usage("constructed"));
  figure("  the test's instrumentation (control socket, wrappers, walker code)", usage("instrumented") - usage("opened"));
  figure("  registration", usage("registered") - usage("instrumented"));
  const peakLine = last("PEAK");
  const peakUsage = peakLine ? Number(peakLine[1].split(" ")[0]) : NaN;
  figure(process.env.DOORSIP_PEAK_GC ? "  peak (sampled after GC inside the handlers, the instrumentation included)" : "  peak (sampled without GC, includes the instrumentation and garbage not yet collected)", peakLine ? peakLine[1] : "(not reported)");
  // What the door phone holds: the usage less the test's harness and, from "instrumented" on,
  // its instrumentation.
  const harness = usage("boot") - usage("loaded");
  const instr = usage("instrumented") - usage("opened");
  const phoneUsage = (tag) => usage(tag) - (tag === "loaded" ? 0 : harness) - (["constructed", "opened", "loaded"].includes(tag) ? 0 : instr);
  const net = ["loaded", "constructed", "opened", "registered", "in-call", "after-call"];
  figure("the door phone's usage (the interpreter's own included; the test's harness and instrumentation not): " + net.join(" / "), net.map(phoneUsage).join(" / "));
  figure("  peak during the call", peakUsage - harness - instr);
  const peaks = last("PEAKS");
  if (peaks) {
    const by = Object.entries(JSON.parse(peaks[1])).filter(([, v]) => v > 0).map(([k, v]) => [k, v - harness - instr]).sort((a, b) => b[1] - a[1]);
    figure("  the highest samples by stage and place (the door phone's: less the harness and instrumentation)", by.slice(0, 8).map(([k, v]) => k + " " + v).join(", "));
  }
  for (const tag of net.slice(1)) check(`memory at "${tag}" under ${BUDGET} variables`, phoneUsage(tag) < BUDGET, String(phoneUsage(tag)));
  check(`peak under ${BUDGET} variables`, peakUsage - harness - instr < BUDGET, String(peakUsage - harness - instr));
  for (const w of all("WALK")) {
    const r = JSON.parse(w[1]);
    const roots = r.parts.filter((p) => p[0].indexOf(".") < 0);
    const parts = r.parts.filter((p) => p[0].indexOf(".") >= 0).sort((a, b) => b[1] - a[1]);
    figure(`walk at "${r.tag}": the phone's object graph`, r.total + " variables: " + roots.map((p) => p[0] + " " + p[1]).join(", "));
    figure(`  top parts at "${r.tag}" (path: variables, class)`, "\n" + parts.slice(0, Number(process.env.DOORSIP_WALK_ROWS || 16)).map((p) => "      " + String(p[1]).padStart(6) + "  " + unmangle(p[0]) + " (" + p[2] + ")").join("\n"));
    const cls = r.classes.sort((a, b) => b[2] - a[2]);
    figure(`  per class at "${r.tag}" (own fields, typed arrays and strings; instances)`, "\n" + cls.slice(0, Number(process.env.DOORSIP_WALK_ROWS || 16)).map((c) => "      " + String(c[2]).padStart(6) + "  " + c[0] + " ×" + c[1]).join("\n"));
    figure(`  primitive fields at "${r.tag}" by kind (fields, variables)`, Object.keys(r.kinds).map((k) => k + " " + r.kinds[k][0] + " / " + r.kinds[k][1]).join(", "));
    if (r.hidden) figure(`  the interpreter's hidden root at "${r.tag}" (entry: variables)`, r.hidden.map((h) => JSON.stringify(h[0]).slice(1, -1) + ": " + h[1]).join(", "));
    if (r.long) figure(`  fields named in more than 8 characters at "${r.tag}" (a variable more each)`, r.long[0] + ": " + r.long[1].join(" "));
    if (WALK_FIELDS > 0) figure(`  fields of ${WALK_FIELDS} variables or more at "${r.tag}"`, "\n" + r.fields.sort((a, b) => b[1] - a[1]).map((f) => "      " + String(f[1]).padStart(6) + "  " + unmangle(f[0])).join("\n"));
  }
  if (mod !== null) {
    const r = JSON.parse(mod[1]);
    const byFile = {};
    let codeVars = 0, dataVars = 0;
    for (const [name, kind, cost] of r.items) {
      const o = origin.get(name) || { file: "?", name };
      const f = byFile[o.file] || (byFile[o.file] = { code: 0, data: 0, n: 0 });
      f[kind] += cost; f.n++;
      if (kind === "code") codeVars += cost; else dataVars += cost;
    }
    figure("the module's scope (walked after close)", `${r.names} top-level names; code (functions, classes with their methods) ${codeVars}, data ${dataVars} variables`);
    const files = Object.entries(byFile).sort((a, b) => (b[1].code + b[1].data) - (a[1].code + a[1].data));
    figure("  per source file: code + data variables", "\n" + files.slice(0, 45).map(([f, v]) => "      " + String(v.code).padStart(6) + " + " + String(v.data).padStart(5) + "  " + f).join("\n"));
    const data = r.items.filter((i) => i[1] === "data").sort((a, b) => b[2] - a[2]);
    figure("  largest module-level data", "\n" + data.slice(0, 30).map(([n, , c]) => { const o = origin.get(n) || { file: "?", name: n }; return "      " + String(c).padStart(6) + "  " + o.name + " (" + o.file + ")"; }).join("\n"));
  }
  const flags = last("FLAGS");
  figure("interpreter error flags at the end", flags ? flags[1] : "(not reported)");
  const unexpected = dev.output().split("\n").filter((l) => !l.includes("@@") && /Uncaught|Error|ERROR|FIFO_FULL/.test(l));
  check("no errors on the interpreter", unexpected.length === 0, unexpected.join(" | "));
  if (process.env.DOORSIP_VERBOSE) console.log("--- interpreter output ---\n" + dev.output() + "\n--- Node log ---\n" + logLines.join("\n"));
} catch (e) {
  check("test harness", false, e && e.stack ? e.stack : String(e));
} finally {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  for (const f of cleanups) try { f(); } catch {}
  if (process.env.DOORSIP_KEEP) console.log("kept " + dir);
  else rmSync(dir, { recursive: true, force: true });
}
for (const [name, value] of figures) console.log("  " + name + ": " + value);
finish();
