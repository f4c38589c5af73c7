// doorsip simulator command line: `node dist/sim/cli.js <command> [args]` (npm run sim -- <command>).
import { readFileSync } from "node:fs";
import { optionValue, writeOutputs } from "./cli-support.ts";
import { parseReport } from "./parse-command.ts";
import { runDemo } from "./demo.ts";
import { runLiveDemo } from "./live-demo.ts";
import { runCommand } from "./run-command.ts";
import { fleetCommand } from "./fleet.ts";
import { fuzzCommand } from "./fuzz.ts";
import { runScenario, type ScenarioDoc } from "./scenario.ts";

const USAGE = `usage: doorsip-sim <command>

commands:
  parse <file|->   parse one SIP message (a file, or - for standard input) and print it as JSON;
                   a rejected message prints "error <code> at <offset>: <reason>", the response
                   the stack would send, and exits 1; an unreadable input exits 2
  run --config f   the firmware on real sockets against the SIP server door.json names; keys on a terminal,
                   or commands on stdin (press, call <uri>, hangup, status, quit); run --help
  scenario <file> [--pcap out.pcap] [--html out.html]
                   a declarative scenario (JSON: doors, registrar, phones, links, events, expectations) on the
                   virtual network; prints the ladder and each expectation's verdict, exits 1 when one fails
  fleet            N door phones (the whole firmware each) registering against a real server, with a
                   report (rate, failures, latency, retransmissions); fleet --help
  fuzz             a mutation fuzzer driving the whole door phone on the virtual network; fuzz --help
  demo             the start-up demo (npm start): the door phone on real UDP sockets on 127.0.0.1 with a
                   built-in registrar and a resident's phone; demo --help for its options (--once, --pcap);
                   demo --virtual: the same story on the deterministic virtual network (--virtual --help)
`;

/** The reason of a file-system error without Node's "ENOENT: " prefix and ", open '<path>'" suffix. */
function readError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const message = err && typeof err.message === "string" ? err.message : String(e);
  return message.replace(/^[A-Z][A-Z0-9_]*: /, "").replace(/, \w+(?: '.*')?$/, "");
}

function main(argv: string[]): number | Promise<number> {
  const cmd = argv[0];
  if (cmd === "parse") {
    const file = argv[1];
    if (!file || file === "--help") { process.stdout.write(USAGE); return file ? 0 : 2; }
    let bytes: Buffer;
    try {
      bytes = file === "-" ? readFileSync(0) : readFileSync(file);
    } catch (e) {
      process.stderr.write("error: cannot read " + (file === "-" ? "standard input" : file) + ": " + readError(e) + "\n");
      return 2;
    }
    const report = parseReport(bytes);
    process.stdout.write(report.text + "\n");
    return report.ok ? 0 : 1;
  }
  if (cmd === "run") return runCommand(argv.slice(1));
  if (cmd === "scenario") {
    const file = argv[1];
    if (!file || file === "--help") { process.stdout.write(USAGE); return file ? 0 : 2; }
    const rest = argv.slice(2);
    const pcap = optionValue(rest, "--pcap"), html = optionValue(rest, "--html");
    const unknown = rest.filter((a, i) => a.startsWith("--") ? a !== "--pcap" && a !== "--html" : rest[i - 1] !== "--pcap" && rest[i - 1] !== "--html");
    if (pcap === null || html === null || unknown.length > 0) {
      process.stderr.write("scenario: " + (unknown.length > 0 ? "unknown argument " + unknown[0] : "an option lacks its file") + "\n" + USAGE);
      return 2;
    }
    let doc: ScenarioDoc;
    try {
      doc = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      process.stderr.write("scenario: cannot read " + file + ": " + readError(e) + "\n");
      return 2;
    }
    const r = runScenario(doc);
    if (r.error !== "") { process.stderr.write(r.error + "\n"); return 2; }
    process.stdout.write((doc.name ? doc.name + "\n\n" : "") + r.ladder.join("\n") + "\n\n" + r.verdicts.join("\n") + "\n");
    if (!writeOutputs("scenario", pcap, html, r.records, r.messages, "doorsip scenario: " + (doc.name || file), r.columns)) return 2;
    return r.ok ? 0 : 1;
  }
  if (cmd === "fleet") return fleetCommand(argv.slice(1));
  if (cmd === "fuzz") return fuzzCommand(argv.slice(1));
  if (cmd === "demo") {
    const rest = argv.slice(1);
    const v = rest.indexOf("--virtual");
    return v >= 0 ? runDemo(rest.slice(0, v).concat(rest.slice(v + 1))) : runLiveDemo(rest);
  }
  process.stdout.write(USAGE);
  return cmd === "--help" || cmd === "help" ? 0 : 2;
}

Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
  // The live demo's sockets and alarms are closed; anything left (a pending send) must not keep it waiting.
  if (process.argv[2] === "demo" || process.argv[2] === "run" || process.argv[2] === "fleet") setTimeout(() => process.exit(code), 200).unref();
});
