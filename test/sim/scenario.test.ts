// Declarative scenarios (`doorsip-sim scenario <file>`): the runner, its verdicts and exit codes, on the fixtures in test/fixtures/scenarios.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runScenario, type ScenarioDoc } from "../../sim/scenario.ts";
import { countSip, decodeProblems } from "../interop/tshark.ts";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";

const fixture = (name: string) => join(root, "test/fixtures/scenarios", name);
const load = (name: string): ScenarioDoc => JSON.parse(readFileSync(fixture(name), "utf8"));

beforeAll(ensureSimBuilt, 60_000);

describe("scenario runner", () => {
  it("a sequential plan with the first target busy and the second answering, under 30 % loss to the registrar: every expectation holds", () => {
    const r = runScenario(load("sequential-busy-then-answer.json"));
    expect(r.error).toBe("");
    expect(r.verdicts).toEqual(["ok   door registered: true", "ok   concierge receives 1 call(s)", "ok   resident receives 1 call(s)",
      "ok   door opens the door 1×", "ok   door relay pulses 1×"]);
    expect(r.ok).toBe(true);
    expect(r.ladder.some((l) => l.includes("486 Busy Here"))).toBe(true);
    // Seeded: the same document plays the same way.
    expect(runScenario(load("sequential-busy-then-answer.json")).ladder).toEqual(r.ladder);
  });

  it("every other fixture holds: stories older tests told in code (plans, registrar restart, outage, wrong password) and chaos on every link", () => {
    const files = readdirSync(join(root, "test/fixtures/scenarios")).filter((f) => f.endsWith(".json") && f !== "wrong-code.json").sort();
    expect(files).toEqual(["chaos-lossy-links.json", "network-outage.json", "parallel-first-answer-wins.json", "press-cancels-then-hangs-up.json",
      "registrar-restart.json", "sequential-busy-then-answer.json", "wrong-password.json"]);
    for (const f of files) {
      const doc = load(f);
      const r = runScenario(doc);
      expect(r.error, f).toBe("");
      expect(r.verdicts.length, f).toBe(doc.expect.length);
      expect(r.verdicts.filter((v) => !v.startsWith("ok")), f).toEqual([]);
    }
  });

  it("the plan, sent, presses and registrar expectations fail with what was found", () => {
    const parallel = load("parallel-first-answer-wins.json");
    const p = runScenario({ ...parallel, expect: [{ door: "door", plan: "answered", by: "slow" }, { door: "door", sent: "CANCEL", to: "quick", count: 1 },
      { door: "door", presses: 2 }, { registrar: [401, 200] }] });
    expect(p.verdicts).toEqual(["FAIL door plan answered by slow (got \"answered by quick\")", "FAIL door sends CANCEL to quick 1× (got 0)",
      "FAIL door counts 2 button press(es) (got 1)", "FAIL no registrar"]);
    const restart = load("registrar-restart.json");
    const r = runScenario({ ...restart, expect: [{ registrar: [401, 200] }, { registrar: "bindings", count: 0 }] });
    expect(r.verdicts).toEqual(["FAIL registrar answers 401, 200 (got [401,200,401,200,200])", "FAIL registrar holds 0 binding(s) (got 1)"]);
    const noRegistrar = runScenario({ ...parallel, events: [{ at: 100, registrar: "restart" }] });
    expect(noRegistrar.verdicts[0]).toBe("FAIL event at 100: no registrar to restart");
  });

  it("an expectation that does not hold is a FAIL verdict with what was found; the others still pass", () => {
    const r = runScenario(load("wrong-code.json"));
    expect(r.ok).toBe(false);
    expect(r.verdicts).toEqual(["ok   door registered: true", "ok   door ladder begins REGISTER, 401 Unauthorized, REGISTER, 200 OK, INVITE",
      "FAIL door opens the door 1× (got 0)"]);
  });

  it("a bad document says why and runs nothing; an event naming nothing fails its scenario", () => {
    expect(runScenario({ until: 1000, doors: [], expect: [] } as unknown as ScenarioDoc).error).toBe("scenario: \"doors\" must list at least one door");
    const doc = load("wrong-code.json");
    expect(runScenario({ ...doc, until: 0 }).error).toBe("scenario: \"until\" must be a positive number of ms");
    expect(runScenario({ ...doc, doors: [{ ...doc.doors[0], config: { sip: { port: "x" } } }] }).error).toMatch(/^scenario: door door config: sip\.port/);
    const r = runScenario({ ...doc, events: [{ at: 500, press: "gate" }], expect: [{ door: "door", registered: true }] });
    expect(r.ok).toBe(false);
    expect(r.verdicts[0]).toBe("FAIL event at 500: no door gate");
  });

  it("--pcap and --html: the scenario's SIP and RTP as tshark decodes them, and its ladder as one page", () => {
    const dir = mkdtempSync(join(tmpdir(), "doorsip-scenario-"));
    try {
      const pcap = join(dir, "s.pcap"), html = join(dir, "s.html");
      const r = spawnSync(process.execPath, [cli, "scenario", fixture("parallel-first-answer-wins.json"), "--pcap", pcap, "--html", html], { cwd: root, encoding: "utf8", timeout: 30_000 });
      expect(r.status).toBe(0);
      const written = /pcap: (\d+) datagrams written/.exec(r.stdout);
      expect(written).not.toBeNull();
      expect(r.stdout).toContain("html: the ladder of 10 SIP messages written to " + html);
      expect(decodeProblems(pcap, [5060])).toEqual([]);
      expect(countSip(pcap, [5060])).toBe(10); // 2 INVITEs, 2 × 180, 200, ACK, CANCEL, its 200, 487, its ACK
      const rtp = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "rtp"], { encoding: "utf8", timeout: 20_000 }).split("\n").filter((l) => l.trim() !== "");
      expect(rtp.length).toBeGreaterThan(100);
      expect(rtp.length + 10).toBe(Number(written![1]));
      expect(readFileSync(html, "utf8")).toContain("487 Request Terminated");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the command: exit 0 when every expectation holds, 1 when one fails, 2 for an unreadable file", () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cli, "scenario", ...args], { cwd: root, encoding: "utf8", timeout: 30_000 });
    const good = run([fixture("sequential-busy-then-answer.json")]);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain("ok   door opens the door 1×");
    const bad = run([fixture("wrong-code.json")]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("FAIL door opens the door 1× (got 0)");
    const lacking = run([fixture("wrong-code.json"), "--pcap"]);
    expect([lacking.status, lacking.stderr.split("\n")[0]]).toEqual([2, "scenario: an option lacks its file"]);
    const unknown = run([fixture("wrong-code.json"), "--frob"]);
    expect([unknown.status, unknown.stderr.split("\n")[0]]).toEqual([2, "scenario: unknown argument --frob"]);
    const missing = run([fixture("nope.json")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^scenario: cannot read .*nope\.json: no such file or directory/);
  });
});
