// Device figures: time and variables to parse the corpus INVITE and 200 OK on Espruino's Linux interpreter (path in ESPRUINO).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runOnEspruino } from "../device/espruino-run.mjs";

const MESSAGES = ["invite.sip", "200-invite.sip"];
const ROUNDS = 20;

// The script Espruino runs: the bundle is required as a module (as on the device), each message parsed
// ROUNDS times, next to a naive split("\r\n") of the same text. Variables: process.memory().usage before,
// while the result is held, and E.getSizeOf of the reusable message view.
function script(messages) {
  return `
var d = require("doorsip-core");
var msgs = ${JSON.stringify(messages)};
var before = process.memory().usage;
var view = new d.SipMessage();
var viewVars = process.memory().usage - before;
function time(f, n) { var t0 = getTime(); for (var i = 0; i < n; i++) f(); return (getTime() - t0) / n * 1000; }
print("@@VIEW " + viewVars);
for (var k = 0; k < msgs.length; k++) {
  var s = msgs[k];
  var r = d.parseMessage(s, 0, s.length, view);
  var u0 = process.memory().usage;
  r = d.parseMessage(s, 0, s.length, view);
  var u1 = process.memory().usage;
  var parts = s.split("\\r\\n");
  var u2 = process.memory().usage;
  parts = undefined;
  var tp = time(function () { d.parseMessage(s, 0, s.length, view); }, ${ROUNDS});
  var ts = time(function () { var a = s.split("\\r\\n"); }, ${ROUNDS});
  print("@@MSG " + JSON.stringify({ i: k, result: r, bytes: s.length, parseMs: tp, splitMs: ts, parseVars: u1 - u0, splitVars: u2 - u1 }));
}
print("@@MEM " + JSON.stringify(process.memory()));
print("@@END");
`;
}

/** Runs the device measurements when ESPRUINO is set; returns { table, results } or null. */
export async function runEspruinoBench(root) {
  const bin = process.env.ESPRUINO;
  if (!bin) {
    process.stderr.write("  (set ESPRUINO=/path/to/espruino to measure on Espruino's Linux interpreter)\n");
    return null;
  }
  const messages = MESSAGES.map((f) => readFileSync(join(root, "test/fixtures/corpus", f)).toString("latin1"));
  const text = runOnEspruino(bin, { "doorsip-core": join(root, "dist/device/doorsip-core.js") }, script(messages), 120000);
  const version = (text.match(/(\d+v\d+[.\d]*)/) || ["?"])[0];
  const view = Number((text.match(/@@VIEW (\d+)/) || [0, 0])[1]);
  const rows = [...text.matchAll(/@@MSG (.*)/g)].map((m) => JSON.parse(m[1]));
  let table = `Espruino ${version} (Linux build at ${bin}), ${ROUNDS} rounds; the reusable message view (header table, decoded Via/From/To/URI) costs ${view} variables, allocated once at start-up\n\n`;
  table += "| message | bytes | doorsip parse | naive split(\"\\r\\n\") | variables held after parse | variables held by split |\n|---|---:|---:|---:|---:|---:|\n";
  rows.forEach((r) => {
    table += `| ${MESSAGES[r.i]} | ${r.bytes} | ${r.parseMs.toFixed(2)} ms | ${r.splitMs.toFixed(2)} ms | ${r.parseVars} | ${r.splitVars} |\n`;
  });
  return { table, results: { version, bin, view, rows } };
}
