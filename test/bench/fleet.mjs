// The fleet benchmark (issue 7): `doorsip-sim fleet` against Kamailio on 127.0.0.1 for N = 100, 1,000, 5,000 door
// phones — registrations per second from one Node process, each device the whole firmware — side by side with sipp
// registering as many accounts against the same Kamailio in the same run (its scenario: test/bench/sipp-register.xml).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importForNode } from "../device/espruino-run.mjs";

const PASSWORD = "fleet-secret";
// The offered load, registrations started per second, for both (sipp: -r; the fleet: --rate).
const RATE = Number(process.env.FLEET_RATE || 10000);

/** Runs the benchmark for each N; returns rows { devices, fleet: report, sipp: { registrationsPerSecond, ms, failed } }. */
export async function runFleetBench(root, sizes = [100, 1000, 5000]) {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-fleet-bench-"));
  const { startKamailio, stopAllKamailio } = await importForNode(dir, { "test/interop/kamailio.ts": ["startKamailio", "stopAllKamailio"] });
  const template = readFileSync(join(root, "test/interop/kamailio/fleet.cfg.tmpl"), "utf8");
  const kport = 29800 + (process.pid % 100);
  const rows = [];
  try {
    await startKamailio({ template, port: kport, values: { ALGORITHM: "MD5", PASSWORD, LOAD_USER: "loadgen", MIN_EXPIRES: "10", MAX_EXPIRES: "3600", NONCE_EXPIRE: "300", ON_WRONG_PASSWORD: "forbidden" } });
    for (const n of sizes) {
      // The fleet: every device started at once (--rate above N), as fast as the process and Kamailio go.
      const f = spawnSync(process.execPath, ["--expose-gc", join(root, "dist/sim/cli.js"), "fleet", "--devices", String(n), "--registrar", "127.0.0.1:" + kport,
        "--password", PASSWORD, "--user", "fleet" + n + "-{n}", "--rate", String(RATE), "--port-base", "20000", "--duration", "60", "--json", "-"],
        { encoding: "utf8", timeout: 180_000, maxBuffer: 1 << 24 });
      if (f.status === null) throw new Error("fleet " + n + " did not finish: " + f.stderr);
      const fleet = JSON.parse(f.stdout);
      // sipp: the same number of registrations (one per call), as fast as it goes: -r far above, up to 1,000 at once.
      const users = join(dir, "users" + n + ".csv");
      writeFileSync(users, "SEQUENTIAL\n" + Array.from({ length: n }, (_, i) => "sipp" + n + "-" + (i + 1)).join("\n") + "\n");
      const t0 = performance.now();
      const s = spawnSync("sipp", ["127.0.0.1:" + kport, "-sf", join(root, "test/bench/sipp-register.xml"), "-inf", users, "-m", String(n), "-r", String(RATE),
        "-l", "1000", "-au", "loadgen", "-ap", PASSWORD, "-i", "127.0.0.1", "-p", String(19000 - (process.pid % 100)), "-nostdin", "-timeout", "120s", "-trace_err", "-error_file", join(dir, "sipp-err.log")],
        { encoding: "utf8", timeout: 180_000, cwd: dir });
      const ms = performance.now() - t0;
      const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(s.stdout || "");
      rows.push({ devices: n, fleet, sipp: { registrationsPerSecond: Math.round((n * 10000) / ms) / 10, ms: Math.round(ms), exit: s.status, failed: failed ? Number(failed[1]) : -1 } });
    }
  } finally {
    await stopAllKamailio();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as the README's table. */
export function fleetTable(rows) {
  const fmt = (x) => Math.round(x).toLocaleString("en-US");
  const lines = ["| devices | doorsip fleet, registrations/s | sipp, registrations/s | fleet / sipp | fleet p50 / p99 latency, ms | fleet retransmissions | heap per device |",
    "|---:|---:|---:|---:|---:|---:|---:|"];
  for (const r of rows) {
    const f = r.fleet;
    lines.push(`| ${fmt(r.devices)} | ${fmt(f.registrationsPerSecond)} (${f.registered} registered) | ${fmt(r.sipp.registrationsPerSecond)} (exit ${r.sipp.exit}) | ` +
      `${(f.registrationsPerSecond / r.sipp.registrationsPerSecond).toFixed(2)}× | ${f.latencyMs.p50} / ${f.latencyMs.p99} | ${f.retransmissions} | ${(f.heapBytesPerDevice / 1024).toFixed(1)} KB |`);
  }
  return lines.join("\n");
}

if (import.meta.url === "file://" + process.argv[1]) {
  const root = new URL("../../", import.meta.url).pathname;
  const rows = await runFleetBench(root, process.argv.slice(2).map(Number).filter((n) => n > 0).length ? process.argv.slice(2).map(Number) : undefined);
  console.log(fleetTable(rows));
}
