// `npm run test:device`: the RFC 4475/5118 verdicts and the corpus, parsed by the device bundle on Espruino (ESPRUINO=path).
//
// Node passing proves little about the device: this runs dist/device/doorsip-core.js on Espruino's Linux
// interpreter, required as a module as on a board, and checks every verdict and the decoded fields
// against the same parse in Node. It needs an interpreter the caller built (ESPRUINO names it), so it
// is a separate command rather than a vitest suite that would be skipped where there is none.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { binaryLiteral, espruinoPath, runOnEspruino } from "./espruino-run.mjs";

const root = new URL("../../", import.meta.url).pathname;
const bin = espruinoPath("test:device");

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

// The summary both engines print for one message: verdict, error, status, and decoded fields. The Via host
// and branch and the tags are read from their spans: spelling the …Text() accessors here would keep them in
// the device bundle, which never calls them (the build drops methods by renamed name).
const summarise = `function summarise(d, m, s) {
  var r = d.parseMessage(s, 0, s.length, m);
  if (r > 0) { var v = d.validateMessage(m); if (v < 0) r = v; }
  function span(a, b) { return a < 0 ? "" : s.substring(a, b); }
  return [r, m.error, m.rejectStatus(), m.cseq, m.callIdStart < 0 ? "" : m.callId(), span(m.via.hostStart, m.via.hostEnd),
    m.via.port, span(m.via.branchStart, m.via.branchEnd), span(m.from.tagStart, m.from.tagEnd), span(m.to.tagStart, m.to.tagEnd),
    m.status, m.bodyEnd - m.bodyStart].join("|");
}`;


const require = createRequire(import.meta.url);
const nodeBundle = require(join(root, "dist/device/doorsip-core.js"));
const nodeSummary = new Function("d", "m", "s", summarise + "\nreturn summarise(d, m, s);");

let passed = 0;
let failed = 0;
{
  const script = `var d = require("doorsip-core");
var m = new d.SipMessage();
${summarise}
var cases = [${cases.map((c) => binaryLiteral(c.text)).join(",\n")}];
for (var i = 0; i < cases.length; i++) print("@@" + i + " " + summarise(d, m, cases[i]));
print("@@END");
`;
  let text;
  try {
    text = runOnEspruino(bin, { "doorsip-core": join(root, "dist/device/doorsip-core.js") }, script);
  } catch (e) {
    console.error(e.message);
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
}
console.log(`device: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
