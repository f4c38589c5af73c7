// `npm run test:device:config`: the stored configuration on Espruino's Linux interpreter (ESPRUINO=path).
//
// firmware/config.ts and hal/espruino/storage.ts are bundled the way the device bundle is (build.mjs
// bundleDevice, then the Espruino gate) and required as a module, as on a board. The README's example and a
// set of broken documents are loaded on the device and by the same bundle in Node: the configuration and
// the problems must be identical (JSON.stringify). EspruinoStorage writes, reads and erases the file in the
// interpreter's flash. Prints the bundle's size, the variables a loaded configuration holds and the time a
// load takes, then "N passed, M failed".
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { binaryLiteral, bundleGated, checks, espruinoPath, runOnEspruino } from "./espruino-run.mjs";

const bin = espruinoPath("test:device:config");
const root = new URL("../../", import.meta.url).pathname;
const { check, finish } = checks("device config");

const readme = readFileSync(join(root, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("### The configuration file\n"));
const start = section.indexOf("```json\n") + 8;
const example = section.slice(start, section.indexOf("```\n", start));

// Documents loaded on both engines: [name, text or null].
const edited = (edit) => {
  const d = JSON.parse(example);
  edit(d);
  return JSON.stringify(d);
};
const docs = [
  ["README example", example],
  ["no file", null],
  ["empty file", ""],
  ["syntax error", '{ "accounts": [ { "password": "hunter2" ] }'],
  ["not an object", "[1, 2]"],
  ["{}", "{}"],
  ["wrong types", edited((d) => { d.sip.port = "5060"; d.door.relayActiveLow = "no"; d.identity.displayName = 7; d.led = "D2"; })],
  ["out of range", edited((d) => { d.sip.port = 70000; d.door.pulseMs = 10; d.calls.maxDuration = 1.5; d.rtp.telephoneEvent = 8; })],
  ["unknown keys", edited((d) => { d.sipp = { port: 1 }; d.accounts[0].pasword = "x"; d.buttons[0].plan.target = "sip:x@y"; })],
  ["bad URIs and peers", edited((d) => {
    d.buttons[0].plan.targets = ["tel:+1555", "sip:", "sip:bob@", { uri: "http://x" }, "sips:ok@example.com;transport=tls"];
    d.trust.allow = ["10.0.0.5", "", "bob smith", "sip:@", "alice@example.com", "registrar"];
  })],
  ["bad pins", edited((d) => { d.door.relayPin = "d4"; d.led.pin = 300; d.buttons.push({ pin: 5.5, plan: { targets: ["sip:a@b"] } }, { pin: 12, plan: { targets: ["sip:a@b"] } }); })],
  ["bad addresses", JSON.stringify({ sip: { address: "10.0.0.256" }, rtp: { address: "a.b.c.d" }, accounts: [{ user: "u", registrar: "10.0.0" }] })],
  ["bad enums", edited((d) => { d.buttons[0].plan.mode = "round-robin"; d.trust.refuse = "ignore"; d.log.level = "verbose"; d.rtp.codecs = ["G722", "PCMA"]; })],
  ["too many", JSON.stringify({
    accounts: [1, 2, 3, 4, 5].map((i) => ({ user: "u" + i, registrar: "10.0.0." + i })),
    buttons: [1, 2, 3, 4, 5].map((i) => ({ pin: i, plan: { targets: ["sip:t" + i + "@x"] } })),
  })],
  ["plans", JSON.stringify({ buttons: [{ pin: "D0", plan: { targets: [] } }, { pin: "D1", plan: { targets: ["sip:a@x", "sip:b@x"] } },
    { pin: "D2", plan: { mode: "parallel", targets: ["sip:a@x", "sip:b@x", "sip:c@x"], nextOn: ["busy"] } }] })],
  ["door codes and passwords", edited((d) => { d.door.code = "12x4#"; d.accounts[0].password = 1234; d.network.password = ["x"]; d.trust.challenge.user = "guest"; })],
  ["accounts", JSON.stringify({ identity: { user: "door" }, accounts: [{ user: "", registrar: "10.0.0.1" },
    { user: "2001", registrar: "10.0.0.2", outboundProxy: "10.0.0.9", outboundPort: 5080, transport: "tcp" }, "sip:x@y"] })],
  ["everything wrong", JSON.stringify({ sip: [], rtp: 1, accounts: {}, identity: null, buttons: "D0", calls: true, door: { code: {} }, log: { traceSize: -1 } })],
];

const dir = mkdtempSync(join(tmpdir(), "doorsip-config-"));
try {
  mkdirSync(join(dir, "node_modules"));
  writeFileSync(join(dir, "entry.ts"),
    `export { loadConfig, describeProblems, CONFIG_FILE } from "${root}firmware/config.ts";\n` +
    `export { EspruinoStorage } from "${root}hal/espruino/storage.ts";\n`);
  const outfile = join(dir, "node_modules/doorsip-config.js");
  const { code, metafile } = await bundleGated(join(dir, "entry.ts"), outfile, check, "Espruino gate", ["test/device/config.mjs"]);
  // The bundle also carries the sip-core modules that run code at load (firmware/phone-config.ts imports
  // sip-core/index.ts); the device bundle has them anyway, so the figure that matters is config.ts's own.
  const out = Object.values(metafile.outputs).find((o) => o.inputs && Object.keys(o.inputs).length > 0);
  const own = (name) => Object.entries(out.inputs).reduce((n, [p, v]) => (p.endsWith(name) ? n + v.bytesInOutput : n), 0);
  console.log("bundle: " + Buffer.byteLength(code) + " B minified, " + gzipSync(code, { level: 9 }).length + " B gzip -9; of it firmware/config.ts " +
    own("firmware/config.ts") + " B, hal/espruino/storage.ts " + own("hal/espruino/storage.ts") + " B");

  const nodeBundle = createRequire(import.meta.url)(outfile);
  const nodeRun = (text) => {
    const problems = [];
    const cfg = nodeBundle.loadConfig(text, problems);
    return JSON.stringify({ cfg, problems });
  };

  const script = `var c = require("doorsip-config");
function run(text) { var problems = []; var cfg = c.loadConfig(text, problems); return JSON.stringify({ cfg: cfg, problems: problems }); }
var docs = [${docs.map((d) => (d[1] === null ? "null" : binaryLiteral(d[1]))).join(",\n")}];
for (var i = 0; i < docs.length; i++) {
  var r;
  try { r = run(docs[i]); } catch (e) { r = "threw " + e; }
  print("@@" + i + " " + r);
}
var s = new c.EspruinoStorage();
var S = require("Storage");
S.erase(c.CONFIG_FILE);
print("@@missing " + s.read(c.CONFIG_FILE));
print("@@write " + s.write(c.CONFIG_FILE, docs[0]));
print("@@same " + (s.read(c.CONFIG_FILE) === docs[0]));
print("@@fromstorage " + run(s.read(c.CONFIG_FILE)));
print("@@empty " + s.write(c.CONFIG_FILE, "") + " " + s.read(c.CONFIG_FILE));
print("@@longname " + s.write("abcdefghijklmnopqrstuvwxyz0123", "x"));
s.erase("never-written");
print("@@lenient " + run('{"door": {"code": "1234#",},}'));
var before = process.memory().usage;
var kept = c.loadConfig(docs[0], []);
print("@@vars " + (process.memory().usage - before) + " " + E.getSizeOf(kept));
var best = 1e9;
for (var b = 0; b < 5; b++) { var t0 = getTime(); c.loadConfig(docs[0], []); best = Math.min(best, (getTime() - t0) * 1000); }
print("@@time " + best.toFixed(1));
print("@@END");
`;
  let text;
  try {
    text = runOnEspruino(bin, { "doorsip-config": outfile }, script);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const lines = {};
  for (const m of text.matchAll(/@@(\S+) ?([^\r\n]*)/g)) lines[m[1]] = m[2];
  docs.forEach((d, i) => {
    const expected = nodeRun(d[1]);
    check(d[0] + ": the same configuration and problems as Node", lines[i] === expected, "\n device " + lines[i] + "\n node   " + expected);
  });
  const exampleRun = JSON.parse(lines[0]);
  check("README example: no problem on the device", exampleRun.problems.length === 0, JSON.stringify(exampleRun.problems));
  check("EspruinoStorage: a missing file reads null", lines.missing === "null", lines.missing);
  check("EspruinoStorage: write returns 0", lines.write === "0", lines.write);
  check("EspruinoStorage: reads back what it wrote", lines.same === "true", lines.same);
  check("EspruinoStorage: the file loads as the text did", lines.fromstorage === lines[0]);
  check("EspruinoStorage: writing \"\" erases", lines.empty === "0 null", lines.empty);
  check("EspruinoStorage: a name over 28 characters is refused", lines.longname === "-9", lines.longname);
  const lenient = JSON.parse(lines.lenient);
  console.log("espruino: JSON.parse accepts trailing commas (Node does not): " + (lenient.problems.length === 0 ? "yes" : "no"));
  const [held, size] = (lines.vars || "").split(" ");
  console.log("espruino: a loaded README example holds " + size + " variables (E.getSizeOf; memory usage +" + held + ")");
  console.log("espruino: loadConfig of the README example: " + lines.time + " ms (best of 5)");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
finish();
