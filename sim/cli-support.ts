// Pieces the simulator's commands share: option values, waiting on real time, captured datagrams, the pcap and HTML outputs.
import { writeFileSync } from "node:fs";
import { htmlLadder, type LadderMessage } from "./html-ladder.ts";
import { writePcap } from "./pcap.ts";
import type { CaptureRecord } from "./virtual.ts";

/** The value after a --flag: "" when the flag is absent, null when it has no value. */
export function optionValue(args: string[], flag: string): string | null {
  const i = args.indexOf(flag);
  if (i < 0) return "";
  const v = args[i + 1];
  return v === undefined || v.startsWith("--") ? null : v;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until ok() (polled every 20 ms) or ms pass; whether it happened. */
export async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** Appends a datagram seen on real sockets to records, as the virtual network captures one (delivered, at time ms). */
export function pushRecord(records: CaptureRecord[], time: number, from: string, fromPort: number, to: string, toPort: number, data: string): void {
  const id = records.length;
  records.push({ id, proto: "udp", time, arrival: time, from, fromPort, to, toPort, data, fate: "delivered", duplicate: false, original: id, reordered: false });
}

/**
 * Writes the pcap and the HTML ladder asked for ("": not asked), each said (say: standard output unless
 * given); false, said on stderr (prefixed with the command's name), when one cannot be written.
 */
export function writeOutputs(command: string, pcap: string, html: string, records: CaptureRecord[], messages: LadderMessage[], title: string, columns: string[],
  say: (line: string) => void = (line) => console.log(line)): boolean {
  const outputs: [string, string, () => Uint8Array | string, string][] = [
    ["pcap", pcap, () => writePcap(records.slice().sort((x, y) => x.time - y.time || x.id - y.id)), records.length + " datagrams"],
    ["html", html, () => htmlLadder(title, columns, messages), "the ladder of " + messages.length + " SIP messages"],
  ];
  for (const [kind, file, make, what] of outputs) {
    if (file === "") continue;
    try {
      writeFileSync(file, make());
    } catch (e) {
      process.stderr.write(command + ": cannot write " + file + ": " + (e instanceof Error ? e.message : String(e)) + "\n");
      return false;
    }
    say(`${kind}: ${what} written to ${file}`);
  }
  return true;
}
