// `doorsip-sim run --config door.json`: the firmware with the Node HAL on real sockets against the SIP server the configuration names; commands on stdin.
import { readFileSync } from "node:fs";
import * as readline from "node:readline";
import { INSTANCE_FILE, boot } from "../firmware/boot.ts";
import { CONFIG_FILE } from "../firmware/config.ts";
import { REG_UNREGISTERED } from "../sip-core/index.ts";
import { MemoryStorage } from "./file-storage.ts";
import { ladder, ladderHeader } from "./ladder.ts";
import { pushRecord, sleep, until, writeOutputs } from "./cli-support.ts";
import type { LadderMessage } from "./html-ladder.ts";
import { NodePlatform, type CapturedDatagram } from "./node-platform.ts";
import { ToneAudio } from "./virtual-audio.ts";
import { VirtualBoard } from "./virtual-board.ts";
import { VirtualLink } from "./virtual-link.ts";
import type { CaptureRecord } from "./virtual.ts";

export const RUN_USAGE = `usage: doorsip-sim run --config door.json [--verbose] [--pcap out.pcap] [--html out.html] [--log-level N]

The door-phone firmware with the Node HAL on real sockets, booted from door.json (the device's configuration
format, README "The configuration file"): it registers every account with the server(s) the file names and
answers calls as configured. Commands, one per line on standard input (a pipe), or one key each on a
terminal (the key in brackets; c then asks for the URI, ? lists the keys):

  press   [b]      the first button (its call plan; a press during a call hangs it up when so configured)
  call <uri> [c]   call a SIP URI
  hangup  [h]      hang up every live call
  status  [s]      the phone's status (JSON)
  quit    [q]      unregister and exit (also Ctrl-C, or the end of the input)

Each SIP message the door sends or receives is drawn as a ladder line (--verbose: with the message).
`;

const WIDTH = 30;

/** Options: the flags with a value, and those without; null (and a message) when the command line is wrong. */
function options(args: string[]): Record<string, string> | null {
  const withValue = new Set(["--config", "--pcap", "--html", "--log-level"]);
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--verbose") { out[a] = "1"; continue; }
    if (!withValue.has(a)) { process.stderr.write("run: unknown option " + a + "\n"); return null; }
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) { process.stderr.write("run: " + a + " lacks its value\n"); return null; }
    out[a] = v;
    i++;
  }
  return out;
}

export async function runCommand(args: string[]): Promise<number> {
  if (args.indexOf("--help") >= 0) { process.stdout.write(RUN_USAGE); return 0; }
  const o = options(args);
  if (o === null) { process.stderr.write(RUN_USAGE); return 2; }
  if (!o["--config"]) { process.stderr.write("run: --config door.json is required\n" + RUN_USAGE); return 2; }
  let text: string;
  try {
    text = readFileSync(o["--config"], "utf8");
  } catch (e) {
    process.stderr.write("run: cannot read " + o["--config"] + ": " + (e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : String(e)) + "\n");
    return 2;
  }
  const verbose = o["--verbose"] === "1";
  const logLevel = o["--log-level"] !== undefined ? Number(o["--log-level"]) : 2;
  const start = performance.now();
  const records: CaptureRecord[] = [];
  const messages: LadderMessage[] = [];
  let local = "";
  const draw = (time: number, out: boolean, peer: string, data: string) => {
    messages.push({ time, from: out ? 0 : 1, to: out ? 1 : 0, data });
    console.log(ladder(time, out ? 0 : 1, out ? 1 : 0, data, 2, WIDTH) + "  " + peer + (verbose ? "\n" + data : ""));
  };
  // Everything the door sends is recorded (its RTP too), and what its SIP socket receives; SIP is drawn.
  const capture = (d: CapturedDatagram) => {
    const time = performance.now() - start;
    pushRecord(records, time, d.from, d.fromPort, d.to, d.toPort, d.data);
    if (d.fromPort === sipPort) draw(time, true, d.to + ":" + d.toPort, d.data);
  };
  const captureReceived = (d: CapturedDatagram) => {
    if (d.toPort !== sipPort) return;
    const time = performance.now() - start;
    pushRecord(records, time, d.from, d.fromPort, local, sipPort, d.data);
    draw(time, false, d.from + ":" + d.fromPort, d.data);
  };
  const platform = new NodePlatform({ capture, captureReceived, logLevel, logSink: (l) => console.log("   # " + l) });
  let sipPort = 0;
  const storage = new MemoryStorage();
  storage.write(CONFIG_FILE, text);
  storage.write(INSTANCE_FILE, "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-" + (Date.now() % 1e12).toString(16).padStart(12, "0"));
  const board = new VirtualBoard(platform.clock, new ToneAudio({ frequencies: 440 }));
  const booted = boot(platform, board, storage, new VirtualLink("127.0.0.1", (fn) => setImmediate(fn)));
  const door = booted.phone;
  sipPort = booted.config.port;
  local = booted.config.address || "127.0.0.1";
  console.log(`doorsip: the door phone from ${o["--config"]} on ${local}:${sipPort}, ${booted.config.accounts.length} account(s); ` +
    (process.stdin.isTTY === true ? "keys: b press, c call, h hangup, s status, q quit, ? help" : "commands: press, call <uri>, hangup, status, quit"));
  console.log(ladderHeader(["door", "network"], WIDTH) + "  peer");

  // Registration states as they change.
  const seen: string[] = [];
  const watch = setInterval(() => {
    door.registrations.forEach((r, i) => {
      const now = r.stateName() + (r.lastStatus ? " (" + r.lastStatus + " " + r.lastReason + ")" : "");
      if (seen[i] !== now) { seen[i] = now; console.log(`   -- ${r.config.user}@${r.config.domain}: ${now}`); }
    });
  }, 100);

  return new Promise<number>((resolve) => {
    let quitting = false;
    const quit = async () => {
      if (quitting) return;
      quitting = true;
      if (rl !== null) rl.close();
      else { process.stdin.setRawMode(false); process.stdin.pause(); }
      door.unregisterAll();
      await until(() => door.registrations.every((r) => r.state === REG_UNREGISTERED), 5000);
      clearInterval(watch);
      door.registrations.forEach((r) => console.log(`   -- ${r.config.user}@${r.config.domain}: ${r.stateName()}`));
      await sleep(50);
      door.close();
      resolve(writeOutputs("run", o["--pcap"] || "", o["--html"] || "", records, messages, "doorsip: the door phone from " + o["--config"], ["door", "network"]) ? 0 : 1);
    };
    const command = (line: string) => {
      const [cmd, ...rest] = line.trim().split(/\s+/);
      if (cmd === "" || cmd === undefined) return;
      if (cmd === "press" || cmd === "b") {
        const c = door.buttonPressed();
        console.log("   -- button: " + (c !== null ? "calling (slot " + c.index + ")" : "no call started"));
      } else if (cmd === "call" && rest.length === 1) {
        const c = door.call(rest[0]);
        console.log("   -- call " + rest[0] + ": " + (c === null ? "not started (no free call slot, or a bad URI)" : "calling (slot " + c.index + ")"));
      } else if (cmd === "hangup" || cmd === "h") {
        const calls = door.ua.calls;
        let n = 0;
        if (calls !== null) for (const c of calls.calls) if (c.live()) { door.hangup(c); n++; }
        console.log("   -- hangup: " + n + " call(s)");
      } else if (cmd === "status" || cmd === "s") {
        console.log(door.status());
      } else if (cmd === "quit" || cmd === "q") {
        void quit();
      } else console.log("   -- unknown command " + JSON.stringify(line.trim()) + " (press, call <uri>, hangup, status, quit)");
    };
    const tty = process.stdin.isTTY === true;
    // On a terminal a key is a command (b, h, s, q, Ctrl-C; c asks for the URI); a pipe gives lines.
    let rl: readline.Interface | null = null;
    if (!tty) {
      rl = readline.createInterface({ input: process.stdin, terminal: false });
      rl.on("line", command);
      rl.on("close", () => void quit());
    } else {
      readline.emitKeypressEvents(process.stdin);
      process.stdin.setRawMode(true);
      process.stdin.resume();
      let typing: string | null = null; // the URI being typed after c
      process.stdin.on("keypress", (str: string | undefined, key: { name?: string; ctrl?: boolean } | undefined) => {
        const name = key?.name ?? "";
        if (key?.ctrl && (name === "c" || name === "d")) { void quit(); return; }
        if (typing !== null) {
          if (name === "return" || name === "enter") { const uri = typing; typing = null; process.stdout.write("\n"); if (uri !== "") command("call " + uri); }
          else if (name === "escape") { typing = null; process.stdout.write("  (cancelled)\n"); }
          else if (name === "backspace") { if (typing.length > 0) { typing = typing.slice(0, -1); process.stdout.write("\b \b"); } }
          else if (str !== undefined && str >= " " && str.length === 1) { typing += str; process.stdout.write(str); }
          return;
        }
        if (name === "c") { typing = ""; process.stdout.write("   call (Enter to dial, Esc to cancel): "); }
        else if (name === "p") command("press");
        else if (name === "b" || name === "h" || name === "s" || name === "q") command(name);
        else if (str === "?") console.log("   -- keys: b press, c call <uri>, h hangup, s status, q quit");
      });
    }
    process.once("SIGINT", () => void quit());
  });
}
