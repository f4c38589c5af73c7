// `doorsip-sim fleet` against Kamailio on 127.0.0.1: 200 door phones (the whole firmware each) register with digest; the report's shape and figures.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";
import { kamcmd, startKamailio, stopAllKamailio, ulDump, type Kamailio } from "./kamailio.ts";
import { countSip, decodeProblems } from "./tshark.ts";

const template = readFileSync(new URL("./kamailio/fleet.cfg.tmpl", import.meta.url), "utf8");
// Kamailio on 32400–32499 (clear of the other interop files, see run-command.test.ts), the devices on 44000+.
const KAM = 32400 + (process.pid % 100);
const PORTS = 44000 + (process.pid % 40) * 250;
const PASSWORD = "fleet-secret";
let kam: Kamailio;

beforeAll(async () => {
  ensureSimBuilt();
  kam = await startKamailio({
    template, port: KAM,
    values: { ALGORITHM: "MD5", PASSWORD, LOAD_USER: "loadgen", MIN_EXPIRES: "10", MAX_EXPIRES: "3600", NONCE_EXPIRE: "300", ON_WRONG_PASSWORD: "forbidden" },
  });
}, 60_000);
afterAll(() => stopAllKamailio(), 15_000);

/** REGISTER requests Kamailio has received (its core statistics). */
async function registersReceived(): Promise<number> {
  const out = await kamcmd(kam, "stats.get_statistics", "rcv_requests_register");
  const m = /rcv_requests_register\s*=\s*(\d+)/.exec(out);
  if (!m) throw new Error("no REGISTER count in: " + out);
  return Number(m[1]);
}

function fleet(args: string[]) {
  const r = spawnSync(process.execPath, [cli, "fleet", "--registrar", "127.0.0.1:" + KAM, "--port-base", String(PORTS), ...args],
    { cwd: root, encoding: "utf8", timeout: 90_000 });
  if (r.error) throw r.error;
  return r;
}

describe("fleet against Kamailio", () => {
  it("--devices 200: all register (401, then 200 each) within the window, the JSON report has every figure, and all unregister at the end", async () => {
    const before = await registersReceived();
    const r = fleet(["--devices", "200", "--password", PASSWORD, "--rate", "100000", "--concurrency", "25", "--warmup", "40", "--json", "-"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report).sort()).toEqual(["calls", "cpuMicrosPerRegistration", "devices", "elapsedMs", "failed", "failures", "heapBytesPerDevice", "latencyMs",
      "maxInProgress", "pending", "registered", "registrationsPerSecond", "requestsSent", "retransmissions", "unregistered", "warmupRegistrations"]);
    expect(report).toMatchObject({ devices: 200, registered: 200, failed: 0, pending: 0, failures: {}, unregistered: 200, warmupRegistrations: 40, calls: null });
    // Offered 100,000/s with a window of 25: the window is what holds them back, and it fills.
    expect(report.maxInProgress).toBe(25);
    expect(report.cpuMicrosPerRegistration).toBeGreaterThan(0);
    expect(report.requestsSent).toBe(400); // a challenged REGISTER and an answered one each
    expect(report.registrationsPerSecond).toBeGreaterThan(0);
    const l = report.latencyMs;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max).toBe(true);
    expect(report.heapBytesPerDevice).toBeGreaterThan(1000);
    expect(Number.isInteger(report.retransmissions)).toBe(true);
    expect(await ulDump(kam)).not.toContain("sip:door1@");
    // Kamailio saw the fleet's 400 REGISTERs and 200 unregistrations, none of the warm-up's (an in-process registrar's).
    expect((await registersReceived()) - before).toBe(600);
  }, 90_000);

  it("--pcap and --html: every datagram the devices sent and received (REGISTER, 401, REGISTER, 200, then the unregistration), decoded by tshark; none of the warm-up's", () => {
    const dir = mkdtempSync(join(tmpdir(), "doorsip-fleet-"));
    try {
      const pcap = join(dir, "fleet.pcap"), html = join(dir, "fleet.html");
      const r = fleet(["--devices", "10", "--password", PASSWORD, "--user", "cap{n}", "--warmup", "20", "--pcap", pcap, "--html", html, "--json", "-"]);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).registered).toBe(10); // the JSON alone on standard output
      expect(r.stderr).toContain("pcap: 60 datagrams written to " + pcap);
      expect(r.stderr).toContain("html: the ladder of 60 SIP messages written to " + html);
      const ports = [KAM, ...Array.from({ length: 10 }, (_, i) => PORTS + i)];
      expect(decodeProblems(pcap, ports)).toEqual([]);
      expect(countSip(pcap, ports)).toBe(60);
      const page = readFileSync(html, "utf8");
      expect(page).toContain("door phones");
      expect((page.match(/401 Unauthorized/g) || []).length).toBeGreaterThanOrEqual(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("--calls pairs: 20 door phones register, then 1 calls 2, 3 calls 4, … through Kamailio (407, INVITE with credentials, relayed): 10 answered, RTP both ways, hung up", async () => {
    const invites = async () => Number(/rcv_requests_invite\s*=\s*(\d+)/.exec(await kamcmd(kam, "stats.get_statistics", "rcv_requests_invite"))![1]);
    const before = await invites();
    const r = fleet(["--devices", "20", "--password", PASSWORD, "--user", "pair{n}", "--warmup", "20", "--calls", "pairs", "--call-hold", "500", "--json", "-"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ registered: 20, unregistered: 20 });
    expect(report.calls).toMatchObject({ attempted: 10, answered: 10, completed: 10, failed: 0, failures: {} });
    const s = report.calls.setupMs;
    expect(s.p50).toBeGreaterThan(0);
    expect(s.p50 <= s.p99 && s.p99 <= s.max).toBe(true);
    // 500 ms of 20 ms packets each way in each call, give or take the first and last.
    expect(report.calls.rtpSent).toBeGreaterThan(10 * 2 * 20);
    expect(report.calls.rtpReceived).toBeGreaterThan(10 * 2 * 20);
    expect((await invites()) - before).toBe(20); // each INVITE challenged (407), then sent with credentials
  }, 90_000);

  it("a wrong password: every device fails with 403, counted by status in the text report; exit 1", () => {
    const r = fleet(["--devices", "20", "--password", "wrong", "--user", "gate{n}"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("devices: 20; registered 0, failed 20, still pending 0");
    expect(r.stdout).toContain("failures by status: 403 ×20");
    expect(r.stdout).toMatch(/registrations per second: 0 /);
  }, 90_000);

  it("refuses a command line without --devices or --registrar (exit 2) and prints its usage on --help", () => {
    const bad = spawnSync(process.execPath, [cli, "fleet", "--devices", "3"], { cwd: root, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--devices N and --registrar host:port are required");
    const help = spawnSync(process.execPath, [cli, "fleet", "--help"], { cwd: root, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--rate R");
  });
});
