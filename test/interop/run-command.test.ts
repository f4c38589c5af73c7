// `doorsip-sim run --config door.json` against Kamailio on 127.0.0.1: the firmware registers with digest, answers stdin commands, unregisters on quit.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";
import { startKamailio, stopAllKamailio, ulDump } from "./kamailio.ts";

const template = readFileSync(new URL("./kamailio/registrar.cfg.tmpl", import.meta.url), "utf8");
// Ports 32000–32399, clear of the other interop files (sipp-calls 29000–30999, kamailio-calls 31000–31999) and
// below the ephemeral range: Kamailio and the door, then the same pair for the terminal test.
const KAM = 32000 + (process.pid % 100) * 4;
const DOOR = KAM + 1;
const KAM_TTY = KAM + 2;
const DOOR_TTY = KAM + 3;
const USER = "1001";
const PASSWORD = "front-door-secret";
const dir = mkdtempSync(join(tmpdir(), "doorsip-run-"));

beforeAll(ensureSimBuilt, 60_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stopAllKamailio();
}, 15_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (ok: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !ok(); t += 50) await sleep(50);
  return ok();
};

/** Kamailio on kamPort with the door's account, and door.json (named `name`) for a door on doorPort. */
async function kamailioAndConfig(kamPort: number, doorPort: number, name: string) {
  const kam = await startKamailio({
    template, port: kamPort,
    values: { ALGORITHM: "MD5", USER, PASSWORD, MIN_EXPIRES: "10", MAX_EXPIRES: "3600", NONCE_EXPIRE: "300", ON_WRONG_PASSWORD: "forbidden" },
  });
  const config = join(dir, name);
  writeFileSync(config, JSON.stringify({
    sip: { address: "127.0.0.1", port: doorPort },
    accounts: [{ user: USER, password: PASSWORD, domain: "127.0.0.1", registrar: "127.0.0.1", registrarPort: kamPort, expires: 60 }],
  }));
  return { kam, config };
}

describe("run --config against Kamailio", () => {
  it("registers (401, then 200), prints its status on `status`, unregisters and exits 0 on `quit`; Kamailio keeps the binding meanwhile", async () => {
    const { kam, config } = await kamailioAndConfig(KAM, DOOR, "door.json");
    const proc = spawn(process.execPath, [cli, "run", "--config", config, "--log-level", "1"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => { err += d; });
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      expect(await until(() => out.includes("-- 1001@127.0.0.1: registered"), 10_000), out + err).toBe(true);
      expect(await ulDump(kam)).toContain("sip:" + USER + "@127.0.0.1:" + DOOR);
      proc.stdin.write("status\n");
      expect(await until(() => /"state":"registered","lastStatus":200/.test(out), 5_000), out).toBe(true);
      proc.stdin.write("frobnicate\n");
      expect(await until(() => out.includes('-- unknown command "frobnicate"'), 5_000), out).toBe(true);
      proc.stdin.write("quit\n");
      expect(await exited).toBe(0);
    } finally {
      proc.kill();
    }
    expect(err).toBe("");
    const labels = out.split("\n").filter((l) => /^\s+\d+\.\d{3}  \|/.test(l))
      .map((l) => l.replace(/\s+\d+\.\d+\.\d+\.\d+:\d+$/, "").replace(/[-|<> ]+/g, " ").trim().split(" ").slice(1).join(" ").replace(/ [0-9a-z]{6,10}$/, ""));
    expect(labels).toEqual(["REGISTER", "401 Unauthorized", "REGISTER", "200 OK", "REGISTER", "200 OK"]);
    expect(out).toContain("-- 1001@127.0.0.1: unregistered");
    expect(await ulDump(kam)).not.toContain("sip:" + USER + "@127.0.0.1:" + DOOR);
  }, 40_000);

  it("on a terminal (a pty from script(1)) single keys are the commands: s status, c + URI + Esc cancels, ? help, q unregisters and exits 0", async () => {
    const { kam, config } = await kamailioAndConfig(KAM_TTY, DOOR_TTY, "door-tty.json");
    const inner = [process.execPath, cli, "run", "--config", config, "--log-level", "1"].map((a) => "'" + a + "'").join(" ");
    const proc = spawn("script", ["-qfec", inner, "/dev/null"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => { out += d; });
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      expect(await until(() => out.includes("-- 1001@127.0.0.1: registered"), 10_000), out).toBe(true);
      expect(out).toContain("keys: b press, c call, h hangup, s status, q quit, ? help");
      proc.stdin.write("s");
      expect(await until(() => /"state":"registered","lastStatus":200/.test(out), 5_000), out).toBe(true);
      proc.stdin.write("c");
      expect(await until(() => out.includes("call (Enter to dial, Esc to cancel): "), 5_000), out).toBe(true);
      proc.stdin.write("sip:x\x1b");
      expect(await until(() => out.includes("sip:x  (cancelled)"), 5_000), out).toBe(true);
      proc.stdin.write("?");
      expect(await until(() => out.includes("-- keys: b press, c call <uri>, h hangup, s status, q quit"), 5_000), out).toBe(true);
      expect(out).not.toContain("-- call "); // the cancelled URI was not dialled
      proc.stdin.write("q");
      expect(await exited).toBe(0);
    } finally {
      proc.kill();
    }
    expect(out).toContain("-- 1001@127.0.0.1: unregistered");
    expect(await ulDump(kam)).not.toContain("sip:" + USER + "@127.0.0.1:" + DOOR_TTY);
  }, 40_000);

  it("without --config, or with an unreadable file: a one-line reason and exit 2", async () => {
    const run = (args: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, "run", ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      p.stderr.setEncoding("utf8").on("data", (d: string) => { err += d; });
      p.on("exit", (code) => resolve({ code, err }));
    });
    const none = await run([]);
    expect([none.code, none.err.split("\n")[0]]).toEqual([2, "run: --config door.json is required"]);
    const missing = await run(["--config", join(dir, "nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^run: cannot read .*nope\.json: no such file or directory/);
  });
});
