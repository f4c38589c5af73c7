// The fleet benchmark (issue 7): `doorsip-sim fleet` against Kamailio on 127.0.0.1 for N = 100, 1,000, 5,000 door
// phones — registrations per second from one Node process, each device the whole firmware — side by side with sipp
// registering as many accounts against Kamailio in the same run (its scenario: test/bench/sipp-register.xml).
//
// Both are tuned as a load test would be: the same offered rate and window, sipp with a socket buffer that holds
// its bursts, the fleet after its JIT warm-up (--warmup, against its own registrar, off the clock).
// Each measurement gets a Kamailio of its own, freshly started: a location table left full by the run before
// slows the next one (sipp, which does not unregister, left 5,000 bindings and the next run lost a third of its
// rate). The two alternate (fleet first, then sipp first, …) and each figure is the median of FLEET_REPS runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importForNode } from "../device/espruino-run.mjs";

const PASSWORD = "fleet-secret";
// The offered load, registrations started per second, for both (sipp: -r; the fleet: --rate).
const RATE = Number(process.env.FLEET_RATE || 10000);
// Registrations in progress at once, at most, for both (sipp: -l; the fleet: --concurrency).
const WINDOW = Number(process.env.FLEET_WINDOW || 300);
// Runs of each tool at each size.
const REPS = Number(process.env.FLEET_REPS || 3);

/** The run with the median rate (the lower of the middle two for an even count). */
const medianRun = (runs) => runs.slice().sort((a, b) => a.registrationsPerSecond - b.registrationsPerSecond)[(runs.length - 1) >> 1];

/** sipp's CPU time (user + system, in seconds) from bash's `times` line for its children. */
function childCpuSeconds(line) {
  const t = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(line || "");
  return t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : NaN;
}

/** Runs the benchmark for each N; returns rows { devices, fleet: the median run's report + every run's rate, sipp: the same }. */
export async function runFleetBench(root, sizes = [100, 1000, 5000]) {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-fleet-bench-"));
  const { startKamailio, stopKamailioAndWait } = await importForNode(dir, { "test/interop/kamailio.ts": ["startKamailio", "stopKamailioAndWait"] });
  const template = readFileSync(join(root, "test/interop/kamailio/fleet.cfg.tmpl"), "utf8");
  let kport = 29800 + (process.pid % 50) * 4;
  const withKamailio = async (run) => {
    kport += 1;
    const k = await startKamailio({ template, port: kport, values: { ALGORITHM: "MD5", PASSWORD, LOAD_USER: "loadgen", MIN_EXPIRES: "10", MAX_EXPIRES: "3600", NONCE_EXPIRE: "300", ON_WRONG_PASSWORD: "forbidden" } });
    try {
      return run(kport);
    } finally {
      await stopKamailioAndWait(k);
    }
  };
  const fleetRun = (n, port) => {
    const f = spawnSync(process.execPath, ["--expose-gc", join(root, "dist/sim/cli.js"), "fleet", "--devices", String(n), "--registrar", "127.0.0.1:" + port,
      "--password", PASSWORD, "--user", "fleet" + n + "-{n}", "--rate", String(RATE), "--concurrency", String(WINDOW), "--port-base", "20000", "--duration", "60", "--json", "-"],
      { encoding: "utf8", timeout: 180_000, maxBuffer: 1 << 24 });
    if (f.status === null) throw new Error("fleet " + n + " did not finish: " + f.stderr);
    return JSON.parse(f.stdout);
  };
  const sippRun = (n, port) => {
    const users = join(dir, "users" + n + ".csv");
    writeFileSync(users, "SEQUENTIAL\n" + Array.from({ length: n }, (_, i) => "sipp" + n + "-" + (i + 1)).join("\n") + "\n");
    const out = join(dir, "sipp.out");
    const args = ["127.0.0.1:" + port, "-sf", join(root, "test/bench/sipp-register.xml"), "-inf", users, "-m", String(n), "-r", String(RATE),
      "-l", String(WINDOW), "-au", "loadgen", "-ap", PASSWORD, "-i", "127.0.0.1", "-p", String(19000 - (process.pid % 100)), "-nostdin", "-timeout", "120s",
      // A 1 MB socket buffer: with its default (64 KB) sipp drops responses in its own bursts and a run then waits
      // out a 500 ms retransmission (1,000 registrations: 1,650/s instead of ~7,800/s).
      "-buff_size", "1048576"];
    // bash's `times` gives sipp's CPU time.
    const t0 = performance.now();
    const s = spawnSync("bash", ["-c", 'sipp "$@" > "$OUT"; s=$?; times; exit $s', "sipp", ...args], { encoding: "utf8", timeout: 180_000, cwd: dir, env: { ...process.env, OUT: out } });
    const ms = performance.now() - t0;
    const stdout = readFileSync(out, "utf8");
    const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(stdout);
    // Its message table's Retrans column (REGISTER lines: "REGISTER ---------->  5000  12  0").
    let retransmissions = 0;
    for (const m of stdout.matchAll(/REGISTER -+>\s+\d+\s+(\d+)/g)) retransmissions += Number(m[1]);
    const cpu = childCpuSeconds(s.stdout.trim().split("\n").pop());
    // sipp's own clock (its statistics screen: Start Time to Current Time, in µs), as the fleet's excludes its set-up.
    const start = /Start Time\s*\|[^|]*?(\d+\.\d+)\s*\n/.exec(stdout), end = /Current Time\s*\|[^|]*?(\d+\.\d+)\s*\n/.exec(stdout);
    const runMs = start && end ? (Number(end[1]) - Number(start[1])) * 1000 : ms;
    return { registrationsPerSecond: Math.round((n * 10000) / runMs) / 10, ms: Math.round(runMs), processMs: Math.round(ms), exit: s.status, failed: failed ? Number(failed[1]) : -1, retransmissions,
      cpuMicrosPerRegistration: Math.round((cpu * 1e6) / n) };
  };
  const rows = [];
  try {
    for (const n of sizes) {
      const fleetRuns = [], sippRuns = [];
      for (let rep = 0; rep < REPS; rep++) {
        const order = rep % 2 === 0 ? ["fleet", "sipp"] : ["sipp", "fleet"];
        for (const tool of order) {
          if (tool === "fleet") fleetRuns.push(await withKamailio((port) => fleetRun(n, port)));
          else sippRuns.push(await withKamailio((port) => sippRun(n, port)));
        }
      }
      const rates = (runs) => runs.map((r) => r.registrationsPerSecond);
      rows.push({ devices: n, fleet: { ...medianRun(fleetRuns), rates: rates(fleetRuns) }, sipp: { ...medianRun(sippRuns), rates: rates(sippRuns) } });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as the README's table. */
export function fleetTable(rows) {
  const fmt = (x) => Math.round(x).toLocaleString("en-US");
  const range = (xs) => fmt(Math.min(...xs)) + "–" + fmt(Math.max(...xs));
  const lines = ["| devices | doorsip fleet, registrations/s (runs) | sipp, registrations/s (runs) | fleet / sipp | fleet p50 / p99 latency, ms | CPU per registration: fleet / sipp | retransmissions: fleet / sipp | heap per device |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|"];
  for (const r of rows) {
    const f = r.fleet, s = r.sipp;
    lines.push(`| ${fmt(r.devices)} | ${fmt(f.registrationsPerSecond)} (${range(f.rates)}) | ${fmt(s.registrationsPerSecond)} (${range(s.rates)}) | ` +
      `${(f.registrationsPerSecond / s.registrationsPerSecond).toFixed(2)}× | ${f.latencyMs.p50} / ${f.latencyMs.p99} | ${f.cpuMicrosPerRegistration} / ${s.cpuMicrosPerRegistration} µs | ` +
      `${f.retransmissions} / ${s.retransmissions} | ${(f.heapBytesPerDevice / 1024).toFixed(1)} KB |`);
  }
  return lines.join("\n");
}

if (import.meta.url === "file://" + process.argv[1]) {
  const root = new URL("../../", import.meta.url).pathname;
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const rows = await runFleetBench(root, sizes.length ? sizes : undefined);
  console.log(fleetTable(rows));
}
