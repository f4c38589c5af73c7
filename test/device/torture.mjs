// `npm run test:device`: the RFC 4475/5118 verdicts and the corpus, parsed by the device bundle on Espruino (ESPRUINO=path).
//
// Node passing proves little about the device: this runs dist/device/doorsip.js on Espruino's Linux
// interpreter, required as a module as on a board, and checks every verdict and the decoded fields
// against the same parse in Node. It needs an interpreter the caller built (ESPRUINO names it), so it
// is a separate command rather than a vitest suite that would be skipped where there is none.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const bin = process.env.ESPRUINO;
if (!bin) {
  console.error("test:device: set ESPRUINO to the path of an Espruino interpreter (its Linux build)");
  process.exit(2);
}

// Inputs: every torture message with its verdict, and every corpus message (all accepted).
const cases = [];
for (const set of ["rfc4475", "rfc5118"]) {
  const dir = join(root, "test/fixtures/torture", set);
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
  for (const name of Object.keys(expected)) {
    cases.push({ name: set + "/" + name, text: readFileSync(join(dir, name + ".dat")).toString("latin1"), expect: expected[name].expect });
  }
}
const corpusDir = join(root, "test/fixtures/corpus");
for (const f of readdirSync(corpusDir).filter((f) => f.endsWith(".sip")).sort()) {
  cases.push({ name: "corpus/" + f, text: readFileSync(join(corpusDir, f)).toString("latin1"), expect: "accept" });
}

// The summary both engines print for one message: verdict, error, status, and decoded fields.
const summarise = `function summarise(d, m, s) {
  var r = d.parseMessage(s, 0, s.length, m);
  if (r > 0) { var v = d.validateMessage(m); if (v < 0) r = v; }
  return [r, m.error, m.rejectStatus(), m.cseq, m.callIdStart < 0 ? "" : m.callId(), m.via.hostStart < 0 ? "" : m.via.host(),
    m.via.port, m.via.branch(), m.from.tag(), m.to.tag(), m.status, m.bodyEnd - m.bodyStart].join("|");
}`;

// Binary strings as an ASCII-only JavaScript array literal: every byte outside printable ASCII as \xHH,
// so the interpreter reads exactly the bytes the message has.
function binaryLiterals(texts) {
  const lit = (t) => '"' + t.replace(/[^\x20-\x7e]|["\\]/g, (ch) => "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0")) + '"';
  return "[" + texts.map(lit).join(",\n") + "]";
}

const require = createRequire(import.meta.url);
const nodeBundle = require(join(root, "dist/device/doorsip.js"));
const nodeSummary = new Function("d", "m", "s", summarise + "\nreturn summarise(d, m, s);");

const dir = mkdtempSync(join(tmpdir(), "doorsip-device-"));
let passed = 0;
let failed = 0;
try {
  mkdirSync(join(dir, "node_modules"));
  copyFileSync(join(root, "dist/device/doorsip.js"), join(dir, "node_modules/doorsip.js"));
  const script = `var d = require("doorsip");
var m = new d.SipMessage();
${summarise}
var cases = ${binaryLiterals(cases.map((c) => c.text))};
for (var i = 0; i < cases.length; i++) print("@@" + i + " " + summarise(d, m, cases[i]));
print("@@END");
`;
  writeFileSync(join(dir, "run.js"), script);
  const out = spawnSync(bin, ["run.js"], { cwd: dir, encoding: "latin1", timeout: 300000 });
  const text = out.stdout || "";
  if (!text.includes("@@END") || text.includes("Uncaught")) {
    console.error("Espruino run failed (status " + out.status + "):\n" + text.slice(-3000));
    process.exit(1);
  }
  const lines = new Map([...text.matchAll(/@@(\d+) ([^\r\n]*)/g)].map((x) => [Number(x[1]), x[2]]));
  cases.forEach((c, i) => {
    const device = lines.get(i);
    const node = nodeSummary(nodeBundle, new nodeBundle.SipMessage(), c.text);
    const verdict = Number(device.split("|")[0]) > 0 ? "accept" : "reject";
    if (device === node && verdict === c.expect) passed++;
    else {
      failed++;
      console.log(`FAIL ${c.name}: expected ${c.expect}; device ${device}; node ${node}`);
    }
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`device: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
