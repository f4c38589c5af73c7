// First-run installer: npm packages from the lock file, and the Debian packages the tests drive.
import { execSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, statSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const run = (cmd) => execSync(cmd, { cwd: root, stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });

// npm: reinstall when node_modules is missing or older than the lock file.
const stamp = root + "node_modules/.doorsip-installed";
const lock = root + "package-lock.json";
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
  console.log("[doorsip] installing npm packages (npm ci)…");
  run("npm ci --no-audit --no-fund --loglevel=error");
  writeFileSync(stamp, new Date().toISOString() + "\n");
}

// Debian packages the interop tests and benchmarks need, by the binary each provides.
const debs = JSON.parse(readFileSync(root + "scripts/debian-packages.json", "utf8"));
const which = (bin) => { try { execSync("command -v " + bin, { stdio: "ignore", shell: "/bin/sh" }); return true; } catch { return false; } };
const missing = Object.keys(debs).filter((bin) => !which(bin)).map((bin) => debs[bin]);
if (missing.length > 0) {
  if (process.getuid && process.getuid() !== 0) {
    console.error("[doorsip] missing Debian packages (run as root to install): " + missing.join(" "));
    process.exit(1);
  }
  console.log("[doorsip] installing Debian packages: " + missing.join(" "));
  run("apt-get update -qq");
  run("apt-get install -y -qq --no-install-recommends " + missing.join(" "));
}
