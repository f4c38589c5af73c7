// doorsip simulator command line: `node dist/sim/cli.js <command> [args]` (npm run sim -- <command>).
import { readFileSync } from "node:fs";
import { parseReport } from "./parse-command.ts";
import { runDemo } from "./demo.ts";

const USAGE = `usage: doorsip-sim <command>

commands:
  parse <file|->   parse one SIP message (a file, or - for standard input) and print it as JSON;
                   a rejected message prints "error <code> at <offset>: <reason>", the response
                   the stack would send, and exits 1
  demo             the start-up demo (npm start)
`;

function main(argv: string[]): number {
  const cmd = argv[0];
  if (cmd === "parse") {
    const file = argv[1];
    if (!file || file === "--help") { process.stdout.write(USAGE); return file ? 0 : 2; }
    const bytes = file === "-" ? readFileSync(0) : readFileSync(file);
    const report = parseReport(bytes);
    process.stdout.write(report.text + "\n");
    return report.ok ? 0 : 1;
  }
  if (cmd === "demo") return runDemo(argv.slice(1));
  process.stdout.write(USAGE);
  return cmd === "--help" || cmd === "help" ? 0 : 2;
}

process.exitCode = main(process.argv.slice(2));
