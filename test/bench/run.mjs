// `npm run bench`: the doorsip parser against the JavaScript SIP parsers in use today, on one corpus, in one process.
//
// Runs under `node --expose-gc --max-semi-space-size=256` (the npm script sets them). Prints a Markdown
// table (the README's figures come from it) and writes dist/bench/parser.json. When ESPRUINO names an
// Espruino interpreter binary, the device measurements of test/bench/espruino.mjs run too.
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { peers, floor } from "./peers.mjs";
import { throughput, allocatedBytesPerMessage } from "./measure.mjs";
import { runEspruinoBench } from "./espruino.mjs";
import { fleetTable, runFleetBench } from "./fleet.mjs";

const root = new URL("../../", import.meta.url).pathname;
const require = createRequire(import.meta.url);
// The device bundle itself (minified, Espruino-compatible), not a Node-only build of the sources.
const device = require(root + "dist/device/doorsip-core.js");

const corpusDir = root + "test/fixtures/corpus/";
const names = readdirSync(corpusDir).filter((f) => f.endsWith(".sip")).sort();
const corpus = names.map((f) => readFileSync(corpusDir + f).toString("latin1"));
const corpusBuffers = names.map((f) => readFileSync(corpusDir + f));
const corpusBytes = corpus.reduce((n, s) => n + s.length, 0);

// doorsip: parse, then read the same fields the peers read (top Via host/port/branch, From/To URI and tag,
// CSeq number and method, Call-ID). They are spans: reading them is arithmetic, nothing is materialised.
const msg = new device.SipMessage();
function doorsipParse(text) {
  const r = device.parseMessage(text, 0, text.length, msg);
  if (r < 0) throw new Error("doorsip rejected a corpus message: error " + msg.error);
  const v = msg.via;
  const f = msg.from;
  const t = msg.to;
  return (v.hostEnd - v.hostStart) + v.port + (v.branchEnd - v.branchStart) +
    (f.uri.end - f.uri.start) + (f.tagEnd - f.tagStart) + (t.uri.end - t.uri.start) + (t.tagEnd - t.tagStart) +
    msg.cseq + msg.cseqMethod + (msg.callIdEnd - msg.callIdStart);
}
// The same, starting from the Buffer node:dgram delivers: the latin1 decode is charged too.
function doorsipParseBuffer(buf) {
  return doorsipParse(buf.latin1Slice(0, buf.length));
}

const contenders = [
  { name: "doorsip", version: "this tree", parse: doorsipParse, input: corpus },
  { name: "doorsip, from a Buffer (incl. latin1 decode)", version: "this tree", parse: doorsipParseBuffer, input: corpusBuffers, noAlloc: true },
  ...peers.map((p) => ({ name: p.name, version: p.version, parse: p.parse, input: corpus })),
  { name: floor.name, version: "-", parse: floor.parse, input: corpus },
];

const RUNS = Number(process.env.BENCH_RUNS || 5);
const MIN_MS = Number(process.env.BENCH_MS || 1000);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// Runs are interleaved (every contender's run i before any run i+1) so drift in the machine's
// speed falls on all of them alike; the median of each contender's runs is reported.
const prepared = contenders.map((c) => {
  // Only messages the parser accepts are timed; failures are reported.
  const ok = [];
  let failures = 0;
  for (const m of c.input) { try { c.parse(m); ok.push(m); } catch { failures++; } }
  return { c, ok, failures, rates: [] };
});
for (let i = 0; i < RUNS; i++) {
  for (const p of prepared) p.rates.push(throughput(p.c.parse, p.ok, { minMs: MIN_MS }));
}
const results = [];
for (const p of prepared) {
  const bytes = p.c.noAlloc ? null : await allocatedBytesPerMessage(p.c.parse, p.ok, {});
  results.push({ name: p.c.name, version: p.c.version, messagesPerSecond: median(p.rates), runs: p.rates, bytesPerMessage: bytes, failures: p.failures });
  process.stderr.write(`  ${p.c.name}: ${Math.round(median(p.rates)).toLocaleString("en-US")} msg/s\n`);
}

const byName = (n) => results.find((r) => r.name === n);
const ours = byName("doorsip");
const floorResult = byName(floor.name);
const fastestPeer = peers.map((p) => byName(p.name)).sort((a, b) => b.messagesPerSecond - a.messagesPerSecond)[0];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

let table = `Parser benchmark: ${names.length} corpus messages (${corpusBytes} bytes), ${os.cpus()[0].model.trim()}, Node ${process.version}, median of ${RUNS} runs of ${MIN_MS} ms\n\n`;
table += "| parser | version | messages/s | vs doorsip | bytes allocated / message | failures |\n|---|---|---:|---:|---:|---:|\n";
for (const r of results) {
  const bytes = r.bytesPerMessage === null ? "–" : fmt(Math.max(0, r.bytesPerMessage));
  table += `| ${r.name} | ${r.version} | ${fmt(r.messagesPerSecond)} | ${(r.messagesPerSecond / ours.messagesPerSecond).toFixed(2)}× | ${bytes} | ${r.failures} |\n`;
}
table += `\ndoorsip / fastest peer (${fastestPeer.name}): ${(ours.messagesPerSecond / fastestPeer.messagesPerSecond).toFixed(1)}×; `;
table += `byte-walk floor / doorsip: ${(floorResult.messagesPerSecond / ours.messagesPerSecond).toFixed(1)}×\n`;

const report = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0].model.trim(), corpus: names, results };

// Transactions: a client and a server stack in one process, OPTIONS round trips (sim/bench-transactions.ts).
const txBench = await import(root + "dist/sim/bench-transactions.js");
const txResults = txBench.runTransactionBench([8, 64, 512], MIN_MS);
const input = txBench.inputBytesPerTransaction();
for (const r of txResults) {
  const batch = txBench.createBatch(r.concurrency);
  r.bytesPerTransaction = (await allocatedBytesPerMessage(batch, [0], {})) / r.concurrency;
  r.bytesPerTransactionExcludingInput = Math.max(0, r.bytesPerTransaction - input);
}
report.transactions = txResults;
table += `\nTransactions: a client and a server stack in one process, OPTIONS round trips through transport and transaction layers (parse, validate, match, respond, timers to completion), ${MIN_MS} ms per concurrency\n\n`;
table += "| transactions in flight | transactions/s | µs per transaction | bytes allocated / transaction | of which the received datagrams | beyond them |\n|---:|---:|---:|---:|---:|---:|\n";
for (const r of txResults) {
  table += `| ${r.concurrency} | ${fmt(r.transactionsPerSecond)} | ${r.microsecondsPerTransaction.toFixed(1)} | ${fmt(r.bytesPerTransaction)} | ${fmt(input)} | ${fmt(r.bytesPerTransactionExcludingInput)} |\n`;
}
// The fleet (issue 7): door phones registering with Kamailio from one process, beside sipp's registrations.
const fleetRows = await runFleetBench(root);
report.fleet = fleetRows;
table += "\nFleet: registrations with digest against Kamailio on 127.0.0.1 (2 UDP workers), offered " + (process.env.FLEET_RATE || 10000) +
  "/s to each: `doorsip-sim fleet` (the whole firmware per device, one Node process) and sipp (test/bench/sipp-register.xml), N registrations each\n\n" +
  fleetTable(fleetRows) + "\n";
const esp = await runEspruinoBench(root);
if (esp) { table += "\n" + esp.table; report.espruino = esp.results; }

mkdirSync(root + "dist/bench", { recursive: true });
writeFileSync(root + "dist/bench/parser.json", JSON.stringify(report, null, 2) + "\n");
process.stdout.write(table);
