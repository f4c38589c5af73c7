// Declarative scenarios (`doorsip-sim scenario <file>`): the runner, its verdicts and exit codes, on the fixtures in test/fixtures/scenarios.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runScenario, type ScenarioDoc } from "../../sim/scenario.ts";
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

  it("the command: exit 0 when every expectation holds, 1 when one fails, 2 for an unreadable file", () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cli, "scenario", ...args], { cwd: root, encoding: "utf8", timeout: 30_000 });
    const good = run([fixture("sequential-busy-then-answer.json")]);
    expect(good.status).toBe(0);
    expect(good.stdout).toContain("ok   door opens the door 1×");
    const bad = run([fixture("wrong-code.json")]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("FAIL door opens the door 1× (got 0)");
    const missing = run([fixture("nope.json")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^scenario: cannot read .*nope\.json: no such file or directory/);
  });
});
