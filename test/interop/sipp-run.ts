// Running real sipp against the stack on 127.0.0.1, for the interop tests: wait for a UDP port to be bound,
// start one sipp scenario (-m 1) and collect its verdict, and recompute the digest of a credentials header.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "../../sim/cli-support.ts";

/** The folder of the sipp scenarios (test/interop/sipp/). */
export const scenarios = new URL("./sipp/", import.meta.url).pathname;

/** Something (sipp, the stack) has a UDP socket bound to 127.0.0.1:port: it is ready to receive. */
export function udpBound(port: number): boolean {
  const local = "0100007F:" + port.toString(16).toUpperCase().padStart(4, "0");
  try {
    return readFileSync("/proc/net/udp", "latin1").split("\n").some((l) => l.trim().split(/\s+/)[1] === local);
  } catch {
    return false;
  }
}

export interface SippRun {
  /** Exit code (0 all calls passed), error log, message trace. */
  done: Promise<{ code: number | null; errors: string; messages: string }>;
  child: ChildProcess;
}

export interface SippOptions {
  /** Folder for sipp's error and message files (and its working directory). */
  work: string;
  /** host:port to call: sipp is then the client. */
  target?: string;
  /** More sipp arguments (-au, -ap, -key, -mp …). */
  args?: string[];
  /** Name of the error and message files (default: the scenario's); a second run of one scenario needs its own. */
  name?: string;
}

/** Starts sipp on scenario (a file in `scenarios`); resolves once its SIP socket is bound. */
export async function sipp(scenario: string, port: number, o: SippOptions): Promise<SippRun> {
  const tag = o.name ?? scenario.replace(".xml", "");
  const args = ["-sf", join(scenarios, scenario), "-i", "127.0.0.1", "-p", String(port), "-m", "1", "-nostdin",
    "-timeout", "10s", "-timeout_error", "-default_behaviors", "all,-bye",
    "-trace_err", "-error_file", join(o.work, tag + ".err"), "-trace_msg", "-message_file", join(o.work, tag + ".msg"), ...(o.args ?? [])];
  if (o.target !== undefined) args.push(o.target);
  const child = spawn("sipp", args, { cwd: o.work, stdio: "ignore" });
  const done = new Promise<{ code: number | null; errors: string; messages: string }>((resolve) => {
    child.on("exit", (code) => {
      const read = (f: string) => { try { return readFileSync(join(o.work, f), "latin1"); } catch { return ""; } };
      resolve({ code, errors: read(tag + ".err"), messages: read(tag + ".msg") });
    });
  });
  if (!(await until(() => udpBound(port) || child.exitCode !== null, 5000))) throw new Error("sipp did not bind " + port);
  return { done, child };
}

/** A parameter of a digest challenge or credentials header value ("" when absent), quotes removed. */
export function authParam(header: string, name: string): string {
  const m = new RegExp("[ ,]" + name + "=(\"([^\"]*)\"|([^, ]*))").exec(header);
  return m === null ? "" : (m[2] ?? m[3]);
}

/** RFC 2617 digest response (MD5, qop=auth) recomputed from a credentials header's own fields. */
export function digestResponse(header: string, method: string, user: string, password: string): { expected: string; got: string } {
  const p = (name: string) => authParam(header, name);
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const ha1 = md5(user + ":" + p("realm") + ":" + password);
  const ha2 = md5(method + ":" + p("uri"));
  return { expected: md5([ha1, p("nonce"), p("nc"), p("cnonce"), p("qop"), ha2].join(":")), got: p("response") };
}
