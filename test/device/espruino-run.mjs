// Runs a script on Espruino's Linux interpreter (path in ESPRUINO) with modules required as on a board.
import { spawn, spawnSync } from "node:child_process";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { bundleDevice, byteLiteral, root } from "../../build.mjs";
import { checkBundle, formatOffence } from "../../scripts/espruino-gate.mjs";

/** The interpreter's path from ESPRUINO; without it, says so and exits 2 (the command cannot run here). */
export function espruinoPath(command) {
  const bin = process.env.ESPRUINO;
  if (!bin) {
    console.error(command + ": set ESPRUINO to the path of an Espruino interpreter (its Linux build)");
    process.exit(2);
  }
  return bin;
}

/**
 * Runs `script` in a fresh folder where each of `modules` (name → file) sits in node_modules, so
 * `require(name)` loads it as a board loads a Storage module (and no stale espruino.flash can shadow it).
 * The script must print "@@END" last. Returns its output; throws with the output's tail when the run
 * failed: an uncaught error (Espruino may still exit 0), no "@@END", or a non-zero exit.
 */
export function runOnEspruino(bin, modules, script, timeoutMs = 300000) {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-espruino-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    for (const name of Object.keys(modules)) copyFileSync(modules[name], join(dir, "node_modules", name + ".js"));
    writeFileSync(join(dir, "run.js"), script);
    const out = spawnSync(bin, ["run.js"], { cwd: dir, encoding: "latin1", timeout: timeoutMs });
    const text = out.stdout || "";
    if (!text.includes("@@END") || text.includes("Uncaught") || out.status !== 0) {
      throw new Error("Espruino run failed (status " + out.status + "):\n" + text.slice(-3000));
    }
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A binary string as an ASCII-only JavaScript literal: the build's byteLiteral (build.mjs). */
export const binaryLiteral = byteLiteral;

/**
 * Named checks with a tally: check(name, ok, detail) prints "FAIL name: detail" when ok is false;
 * finish() prints "<label>: N passed, M failed" and exits 1 on a failure.
 */
export function checks(label) {
  let passed = 0;
  let failed = 0;
  return {
    check(name, ok, detail) {
      if (ok) passed++;
      else {
        failed++;
        console.log("FAIL " + name + (detail !== undefined && detail !== "" ? ": " + detail : ""));
      }
    },
    failures: () => failed,
    finish() {
      console.log(`${label}: ${passed} passed, ${failed} failed`);
      process.exit(failed === 0 ? 0 : 1);
    },
  };
}

/**
 * Starts `run.js` in dir on the interpreter, stdin a pipe left open (with /dev/null the Linux build's input
 * thread reads EOF as characters: getch() returns an uninitialised byte when read() returns 0, which fill the
 * console FIFO). Each output line "@@KIND rest" calls onDirective(kind, rest), then onOutput() runs after
 * every chunk. Returns the child, output() (everything printed, stdout and stderr), exited (a promise of
 * {code, signal}) and exit() (that value once known, else null).
 */
export function spawnDevice(bin, dir, onDirective, onOutput) {
  const child = spawn(bin, ["run.js"], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let pending = "";
  let exit = null;
  child.stdout.setEncoding("latin1");
  child.stderr.setEncoding("latin1");
  child.stdout.on("data", (d) => {
    out += d;
    pending += d;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
      const m = /@@(\w+) ?(.*)$/.exec(line);
      if (m) onDirective(m[1], m[2]);
    }
    onOutput();
  });
  child.stderr.on("data", (d) => { out += d; });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => { exit = { code, signal }; onOutput(); resolve(exit); }));
  return { child, output: () => out, exited, exit: () => exit };
}

/** True when port is free for UDP and TCP on every interface (Espruino binds 0.0.0.0 for TCP). */
export async function portFree(port) {
  const udp = await new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", () => { s.close(); resolve(false); });
    s.bind(port, "0.0.0.0", () => s.close(() => resolve(true)));
  });
  if (!udp) return false;
  return new Promise((resolve) => {
    const t = net.createServer();
    t.once("error", () => resolve(false));
    t.listen(port, "0.0.0.0", () => t.close(() => resolve(true)));
  });
}

/**
 * A base port with `n` free ports after it, in blocks of 16 from `from` (device tests: call.mjs 31000–46999,
 * boot.mjs and memory.mjs 48000–59999; clear of the interop tests).
 */
export async function freeBlock(n, from, blocks) {
  for (let tries = 0; tries < 50; tries++) {
    const base = from + 16 * Math.floor(Math.random() * blocks);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error("no block of " + n + " free ports");
}

/**
 * Bundles entry the way the device bundle is built (build.mjs bundleDevice) into outfile and runs the Espruino
 * gate on it: each offence is printed with its TypeScript location, and check(label) records the verdict.
 * Returns bundleDevice's result (code, map, metafile, mangleCache).
 */
/**
 * A script's `.@name` written as the bundle reaches that field or method: `.renamed`, `.P[slot]` (a packed
 * number) or `.name` (kept); a `"@name"` (a method's name as a string) as `"renamed"`. A firmware build renames
 * what only tests see; a test marks such names with `@`.
 */
export function spellInternals(internals, text) {
  return text.replace(/\.@([A-Za-z_$][\w$]*)/g, (m, name) => internals[name] || "." + name).replace(/"@([A-Za-z_$][\w$]*)"/g, (m, name) => {
    const at = internals[name] || "." + name;
    if (!/^\.[\w$]+$/.test(at)) throw new Error("spellInternals: " + name + " is a packed number, not a property (" + at + ")");
    return JSON.stringify(at.slice(1));
  });
}

/**
 * Bundles entry as the device build does (users: files whose spellings keep names, as a library's users do;
 * by default none, as the firmware: a test that reads inside spells `.@name`, see spellInternals).
 */
export async function bundleGated(entry, outfile, check, label, users = []) {
  const r = await bundleDevice({ entry, outfile, write: true, users });
  const offences = checkBundle(r.code, r.map);
  for (const o of offences) console.log(formatOffence(o, basename(outfile), dirname(outfile)));
  check(label, offences.length === 0, offences.length + " offences");
  return r;
}

/**
 * The Node side of a device test (the simulator's peers, the Node HAL, the firmware's MediaSession): the
 * sources' exports ({ file: [names] }, files relative to the repository) bundled for Node in dir, imported.
 */
export async function importForNode(dir, exportsByFile) {
  const entry = join(dir, "node-entry.ts");
  writeFileSync(entry, Object.entries(exportsByFile)
    .map(([file, names]) => `export { ${names.join(", ")} } from ${JSON.stringify(join(root, file))};\n`).join(""));
  await esbuild.build({
    entryPoints: [entry], outfile: join(dir, "node-side.mjs"), bundle: true, platform: "node",
    format: "esm", target: "node20", packages: "external", absWorkingDir: root, logLevel: "warning",
  });
  return import(pathToFileURL(join(dir, "node-side.mjs")).href);
}
