// The simulator's command line for tests: its path, and a build when the bundle is missing or older than the sources.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const cli = join(root, "dist/sim/cli.js");

/** Builds dist/sim when cli.js is missing or older than a source of sim/, sip-core/, firmware/ or hal/ (`npm test` builds first; a bare `vitest run` may not). */
export function ensureSimBuilt(): void {
  let newest = 0;
  for (const d of ["sim", "sip-core", "firmware", "hal"]) {
    for (const f of readdirSync(join(root, d))) if (f.endsWith(".ts")) newest = Math.max(newest, statSync(join(root, d, f)).mtimeMs);
  }
  if (existsSync(cli) && statSync(cli).mtimeMs >= newest) return;
  const b = spawnSync(process.execPath, ["build.mjs", "--sim", "--quiet"], { cwd: root, encoding: "utf8" });
  if (b.status !== 0) throw new Error("node build.mjs --sim failed:\n" + b.stdout + b.stderr);
}
