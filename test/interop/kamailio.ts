// Kamailio 5.6 for the interop tests: a config template filled and checked with `kamailio -c`, run in the
// foreground (-DD -E) with its own runtime directory, its log kept in memory, its ctl socket for kamcmd.
//
// What 5.6.3 does, as observed on Debian 12 (see also /work/shared/peers-notes.md):
// - No database needed: digest passwords checked in the script (pv_www_authenticate / pv_proxy_authenticate),
//   usrloc in memory (db_mode 0). Bindings live as long as the process: start one per test.
// - Binds in about 0.4 s; exits about 1.6 s after SIGTERM.
// - -Y DIR moves its runtime directory out of /run/kamailio, so several instances run at once; the ctl and
//   jsonrpcs FIFO paths are in DIR as well.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Kamailio {
  port: number;
  /** Its directory (config, ctl socket, FIFO); removed once the process has exited. */
  dir: string;
  ctl: string;
  proc: ChildProcess;
  exited: Promise<void>;
  /** Lines of its log (stderr with -E) matching re: the script's xlog lines. */
  lines(re: RegExp): string[];
  /** The whole log so far. */
  log(): string;
}

export interface KamailioStart {
  /** The config template's text; placeholders are NAME in double braces. */
  template: string;
  /** UDP port on 127.0.0.1: the template's PORT. */
  port: number;
  /** The other placeholders' values (PORT, CTL and FIFO are filled here). */
  values?: Record<string, string>;
  /** How long to wait for the ctl socket (default 5000 ms). */
  startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running = new Set<Kamailio>();

// Safety net: a test run that dies must not leave Kamailio running.
let exitHook = false;
function track(k: Kamailio): void {
  running.add(k);
  void k.exited.then(() => running.delete(k));
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => { for (const r of running) { try { r.proc.kill("SIGKILL"); } catch { /* gone */ } } });
  }
}

/** Fills a template: every placeholder must have a value. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error("template placeholder " + name + " has no value");
    return values[name];
  });
}

/** kamcmd over the instance's ctl socket. */
export const kamcmd = (k: Kamailio, ...cmd: string[]) => new Promise<string>((resolve, reject) => {
  execFile("kamcmd", ["-s", "unix:" + k.ctl, ...cmd], { encoding: "utf8", timeout: 5000 }, (err, out) => (err ? reject(err) : resolve(out)));
});

/** Kamailio's location table (usrloc, in memory) as kamcmd prints it. */
export const ulDump = (k: Kamailio) => kamcmd(k, "ul.dump");

/** Fills the template, checks it with `kamailio -c`, starts Kamailio in the foreground, waits until its ctl socket answers. */
export async function startKamailio(o: KamailioStart): Promise<Kamailio> {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-kamailio-" + o.port + "-"));
  const ctl = join(dir, "ctl");
  const cfg = join(dir, "kamailio.cfg");
  writeFileSync(cfg, fillTemplate(o.template, { ...o.values, PORT: String(o.port), CTL: ctl, FIFO: join(dir, "rpc.fifo") }));
  try {
    execFileSync("kamailio", ["-c", "-f", cfg], { stdio: "pipe", timeout: 10000 });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    rmSync(dir, { recursive: true, force: true });
    throw new Error("kamailio -c rejected the config:\n" + (err.stderr?.toString() ?? String(e)));
  }
  // -Y: its runtime directory (not /run/kamailio), so several instances can run at once.
  const proc = spawn("kamailio", ["-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let text = "";
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => { text += d; });
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const k: Kamailio = {
    port: o.port, dir, ctl, proc, exited,
    lines: (re) => text.split("\n").filter((l) => re.test(l)),
    log: () => text,
  };
  track(k);
  const timeout = o.startTimeoutMs ?? 5000;
  for (let t = 0; t < timeout; t += 100) {
    if (proc.exitCode !== null) throw new Error("kamailio exited (" + proc.exitCode + "):\n" + text);
    try { await kamcmd(k, "core.version"); return k; } catch { await sleep(100); }
  }
  stopKamailio(k);
  throw new Error("kamailio did not answer on its ctl socket:\n" + text);
}

/** SIGTERM (it exits about 1.6 s later); does not wait. */
export function stopKamailio(k: Kamailio): void {
  if (k.proc.exitCode === null && k.proc.signalCode === null) k.proc.kill("SIGTERM");
}

/** SIGTERM and wait for the exit (SIGKILL after 5 s). */
export async function stopKamailioAndWait(k: Kamailio): Promise<void> {
  stopKamailio(k);
  const hard = setTimeout(() => k.proc.kill("SIGKILL"), 5000);
  await k.exited;
  clearTimeout(hard);
}

/** Stops every instance this process started and waits for them (for afterAll). */
export async function stopAllKamailio(): Promise<void> {
  await Promise.all([...running].map(stopKamailioAndWait));
}
