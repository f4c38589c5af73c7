// Builds the Espruino device bundle (with size budget and compatibility gate) and the Node simulator.
//
//   node build.mjs            device + sim
//   node build.mjs --device   device only
//   node build.mjs --sim      sim only
//   --quiet                   no size report unless something fails
//
// Device bundle format. esbuild emits `format: "cjs"` from a generated entry that imports the named exports
// of firmware/main.ts and assigns them to `module.exports` as a plain object; a banner/footer wraps it all
// in `(function(){ … })();` so nothing leaks out of the function scope. Espruino's require() of a Storage
// module runs the text with `module` and `exports` in scope and returns `module.exports`; Node runs the same
// file as CommonJS (dist/device/package.json says so) or through `new Function("module", "exports", …)`.
// Why not `format: "iife"` + `globalName`: for a namespace export esbuild then adds `__export` (a getter per
// export) and `__toCommonJS`, whose `for (let key …)` loop builds getter closures — Espruino shares one
// binding across such iterations, so every getter would read the last key. And in iife/esm esbuild routes
// `require("dgram")` through a `__require` shim built on Proxy; in cjs a require call is left as written.
//
// Device code reaches Espruino's own modules with a `require("dgram")` call (listed in `espruinoModules`),
// not `import`: an import of an external module would pull in esbuild's `__toESM` interop helper.

import * as esbuild from "esbuild";
import { builtinModules } from "node:module";
import { gzipSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkBundle, formatOffence } from "./scripts/espruino-gate.mjs";

// Largest minified device bundle accepted, in bytes; DOORSIP_SIZE_BUDGET overrides it.
export const sizeBudget = 48 * 1024;

// Simulator entry points, each built to dist/sim/<name>.js.
export const simEntries = ["sim/cli.ts", "sim/bench-transactions.ts"];

// Modules built into the Espruino firmware: left as require("name") calls in the device bundle.
export const espruinoModules = ["Storage", "Wifi", "dgram", "net", "crypto", "http", "tls", "ESP32", "Flash", "heatshrink"];

export const root = dirname(fileURLToPath(import.meta.url));
export const deviceEntry = "firmware/main.ts";
export const deviceOutfile = "dist/device/doorsip.js";

// Resolve-time policy for the device bundle: Espruino modules stay external (as require calls only), and
// Node built-ins are refused outright — on platform "neutral" esbuild would otherwise quietly bundle an npm
// look-alike such as the "events" package from node_modules.
const devicePolicy = {
  name: "doorsip-device-modules",
  setup(build) {
    const espruino = new Set(espruinoModules);
    const node = new Set(builtinModules.filter((m) => !m.startsWith("_")));
    build.onResolve({ filter: /^[A-Za-z0-9_:\/.-]+$/ }, (args) => {
      const name = args.path;
      if (espruino.has(name)) {
        if (args.kind === "require-call") return { path: name, external: true };
        return { errors: [{ text: `Espruino module "${name}" must be loaded with require("${name}"), not import (import adds esbuild interop helpers that Espruino cannot run)` }] };
      }
      if (name.startsWith("node:") || node.has(name) || node.has(name.split("/")[0])) {
        return { errors: [{ text: `Node built-in "${name}" cannot be used in device code (Espruino has no such module)` }] };
      }
      return undefined;
    });
  },
};

// Options shared by every device build (the real one and the gate's tests).
export const deviceOptions = {
  bundle: true,
  format: "cjs",
  platform: "neutral",
  target: "es2015", // esbuild lowers ?., ??, **, object spread, class fields, async; the gate catches the rest
  minify: true,
  sourcemap: "external",
  legalComments: "none",
  charset: "ascii", // keep the bundle plain ASCII (Storage files and the REPL are byte oriented)
  banner: { js: "(function(){" },
  footer: { js: "})();" },
  plugins: [devicePolicy],
  logLevel: "warning",
};

// Named exports of the device entry, from an esbuild ESM pass (handles `export *` and re-exports).
async function entryExports(entry) {
  const r = await esbuild.build({
    entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "neutral", metafile: true,
    plugins: [devicePolicy], absWorkingDir: root, logLevel: "silent", outfile: "entry-exports.js",
  });
  const out = Object.values(r.metafile.outputs).find((o) => o.entryPoint);
  return out ? out.exports : [];
}

/**
 * Bundles a device entry. Returns { code, map, metafile }; writes outfile and outfile.map when `write`.
 * Throws esbuild's error (already printed) when the build fails.
 */
export async function bundleDevice({ entry = deviceEntry, outfile = deviceOutfile, write = true } = {}) {
  const absEntry = resolve(root, entry);
  let names;
  try {
    names = await entryExports(absEntry);
  } catch {
    names = []; // the real build below reports the same errors, printed properly
  }
  const imports = names.map((n, i) => `${JSON.stringify(n)} as e${i}`).join(", ");
  const contents =
    (names.length ? `import { ${imports} } from ${JSON.stringify(absEntry)};\n` : `import ${JSON.stringify(absEntry)};\n`) +
    `module.exports = { ${names.map((n, i) => `${JSON.stringify(n)}: e${i}`).join(", ")} };\n`;
  const result = await esbuild.build({
    ...deviceOptions,
    stdin: { contents, resolveDir: root, sourcefile: "doorsip-device-entry.js", loader: "js" },
    outfile: resolve(root, outfile),
    absWorkingDir: root,
    metafile: true,
    write: false,
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (write) {
    mkdirSync(dirname(js.path), { recursive: true });
    writeFileSync(js.path, js.contents);
    writeFileSync(map.path, map.contents);
    // The repo is "type": "module"; this lets Node require() the bundle as the CommonJS file it is.
    writeFileSync(join(dirname(js.path), "package.json"), '{ "type": "commonjs" }\n');
  }
  return { code: js.text, map: map.text, metafile: result.metafile };
}

function budgetBytes() {
  const env = process.env.DOORSIP_SIZE_BUDGET;
  if (env === undefined || env === "") return sizeBudget;
  const n = Number(env);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`DOORSIP_SIZE_BUDGET must be a positive integer (bytes), got "${env}"`);
  return n;
}

const kb = (n) => n.toLocaleString("en-US") + " B";

// Builds, measures and gates the device bundle. Returns the number of failures (0 = fine).
async function buildDevice(quiet) {
  const budget = budgetBytes();
  const { code, map, metafile } = await bundleDevice();
  const bytes = Buffer.byteLength(code);
  const gzipBytes = gzipSync(code, { level: 9 }).length;
  const outKey = Object.keys(metafile.outputs).find((k) => k.endsWith(".js"));
  const inputs = Object.entries(metafile.outputs[outKey].inputs)
    .map(([path, v]) => [path, v.bytesInOutput])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const withinBudget = bytes <= budget;
  const report = { bundle: deviceOutfile, bytes, gzipBytes, budgetBytes: budget, withinBudget, inputs: Object.fromEntries(inputs) };
  writeFileSync(resolve(root, "dist/device/size.json"), JSON.stringify(report, null, 2) + "\n");

  const offences = checkBundle(code, map);
  const failed = !withinBudget || offences.length > 0;
  if (!quiet || failed) {
    console.log(`device  ${deviceOutfile}  ${kb(bytes)} minified, ${kb(gzipBytes)} gzip -9  (budget ${kb(budget)}, ${Math.round((bytes / budget) * 100)}% used)`);
    for (const [path, n] of inputs.slice(0, 5)) console.log(`        ${kb(n).padStart(9)}  ${path}`);
  }
  let failures = 0;
  if (!withinBudget) {
    console.error(`build: device bundle is ${kb(bytes)}, over the ${kb(budget)} budget by ${kb(bytes - budget)} (set DOORSIP_SIZE_BUDGET or sizeBudget in build.mjs to change it)`);
    failures++;
  }
  if (offences.length > 0) {
    const mapDir = dirname(resolve(root, deviceOutfile));
    for (const o of offences) console.error(formatOffence(o, deviceOutfile, mapDir));
    console.error(`build: Espruino gate found ${offences.length} construct${offences.length === 1 ? "" : "s"} that Espruino cannot run`);
    failures++;
  }
  return failures;
}

async function buildSim(quiet) {
  await esbuild.build({
    entryPoints: simEntries.map((e) => resolve(root, e)),
    outdir: resolve(root, "dist/sim"),
    outbase: resolve(root, "sim"),
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked", // run with node --enable-source-maps for TypeScript positions in stack traces
    logLevel: "warning",
  });
  if (!quiet) console.log(`sim     ${simEntries.map((e) => relative(root, resolve(root, "dist", e.replace(/\.ts$/, ".js")))).join(", ")}`);
  return 0;
}

async function main(argv) {
  const known = new Set(["--sim", "--device", "--quiet"]);
  const unknown = argv.filter((a) => !known.has(a));
  if (unknown.length) {
    console.error(`build: unknown option ${unknown.join(" ")} (use --device, --sim, --quiet)`);
    return 2;
  }
  const quiet = argv.includes("--quiet");
  const sim = argv.includes("--sim");
  const device = argv.includes("--device");
  const both = !sim && !device;
  let failures = 0;
  try {
    if (device || both) failures += await buildDevice(quiet);
    if (sim || both) failures += await buildSim(quiet);
  } catch (e) {
    // esbuild has already printed its errors; anything else is ours to show.
    if (!(e && Array.isArray(e.errors))) console.error("build: " + (e && e.message ? e.message : e));
    else console.error(`build: failed with ${e.errors.length} error${e.errors.length === 1 ? "" : "s"}`);
    return 1;
  }
  return failures > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
