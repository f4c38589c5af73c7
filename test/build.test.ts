// build.mjs: the device build fails, naming the excess, when the bundle is over its size budget.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
// A private copy of what the build reads, so this build cannot race the suites reading dist/.
const dir = mkdtempSync(join(tmpdir(), "doorsip-build-"));
for (const p of ["build.mjs", "package.json", "scripts", "firmware", "sip-core", "hal", "sim"]) cpSync(join(root, p), join(dir, p), { recursive: true });
symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = (budget: string) =>
  spawnSync(process.execPath, ["build.mjs", "--device"], { cwd: dir, encoding: "utf8", env: { ...process.env, DOORSIP_SIZE_BUDGET: budget } });

// Each build runs the TypeScript checker for property mangling: seconds, more on a loaded CI machine.
const BUILD_TIMEOUT_MS = 120_000;

describe("device size budget", { timeout: BUILD_TIMEOUT_MS }, () => {
  it("passes and reports minified and gzipped sizes under a generous budget", () => {
    const r = build("1000000");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/device {2}dist\/device\/doorsip-core\.js {2}[\d,]+ B minified, [\d,]+ B gzip -9/);
  });
  it("fails with the excess named when the bundle is over budget", () => {
    const r = build("1000");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/over the 1,000 B budget by [\d,]+ B/);
  });
  it("rejects a budget that is not a positive integer", () => {
    const r = build("lots");
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/DOORSIP_SIZE_BUDGET must be a positive integer/);
  });
});
