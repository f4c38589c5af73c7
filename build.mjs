// Builds the Espruino device bundles (firmware and message layer, with size budget and compatibility gate) and the Node simulator.
//
//   node build.mjs            device + sim
//   node build.mjs --device   device only
//   node build.mjs --sim      sim only
//   --quiet                   no size report unless something fails
//
// Device bundle format. esbuild emits `format: "cjs"` from a generated entry that imports the named exports
// of firmware/main.ts and assigns them to `module.exports` as a plain object; the last pass (rootScript) names
// every top-level binding `$name` and ends the file with "module.exports = X where there is a module, else the
// global doorsip = X" (doorsipCore for the message layer). So one file runs three ways: Espruino's require() (a
// scope of its own with `module`), Node's CommonJS (dist/device/package.json says so, or `new Function("module",
// "exports", …)`), and the device's boot code, `eval(require("Storage").read("doorsip"))` at the root, the
// cheapest: a function made at the root keeps no scope link (4 variables a function from Storage instead of 5).
// The `$` keeps the names apart from Espruino's globals and the user's.
// No `(function(){ … })();` wrapper: on Espruino every function keeps its chain of enclosing scopes, one scope
// is kept as a reference but two (the module's and a wrapper's) as a copied array, 3 more variables per
// function (measured on 2v29: 6 variables for a one-parameter function from Storage, 9 inside a wrapper).
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
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
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
// The message layer alone (parser, writer, URIs, digest): the device conformance tests and benchmarks run it; held to the budget.
export const deviceEntry = "firmware/main.ts";
export const deviceOutfile = "dist/device/doorsip-core.js";
/**
 * The door-phone firmware (firmware/device.ts: boot, SIP, calls, media, door), what a board stores as the
 * module "doorsip": gated like the message layer, its size reported but not yet held to the budget (issue 6:
 * it is ~2.7×).
 */
export const firmwareEntry = "firmware/device.ts";
export const firmwareOutfile = "dist/device/doorsip.js";
/** The firmware as a board stores it (rawStrings: long strings and the rom tables stay in flash); only Espruino reads it. */
export const firmwareStorageOutfile = "dist/device/doorsip.storage.js";

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

// ---------------------------------------------------------------------------------------------
// Read-only tables (sip-core/rom.ts). A device source declares one as `export const NAME = rom(expression)`;
// device builds evaluate every such table once (the sources bundled for Node) and write its bytes in place of
// the expression: `rom(kind, "…")`, with rom.ts's device form (ROM_DEVICE_SOURCE) making the typed array over
// them (Espruino: E.toArrayBuffer, a view of the string itself; Node, which runs the device bundles in tests:
// a copy). The builders then go unused and esbuild drops them; in the Storage form (rawStrings) the bytes are a
// raw string the interpreter keeps in flash, so a table costs ~3 variables instead of one per ~20 bytes of RAM.
// ---------------------------------------------------------------------------------------------
const ROM_DECLARATION = /export const ([A-Za-z_$][\w$]*)(\s*:\s*[\w<>\[\] |]+)?\s*=\s*rom\(/g;
const romTypes = ["Uint8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array"];
let romValues = null;

/** The device sources' rom tables, evaluated: Map file → Map name → { type, bytes } (bytes: a latin1 string). */
export async function romTables() {
  if (romValues !== null) return romValues;
  const found = new Map();
  const scan = (dir) => {
    for (const f of readdirSync(dir)) {
      const abs = join(dir, f);
      if (statSync(abs).isDirectory()) scan(abs);
      else if (f.endsWith(".ts") && f !== "rom.ts") {
        const names = [...readFileSync(abs, "utf8").matchAll(ROM_DECLARATION)].map((m) => m[1]);
        if (names.length > 0) found.set(abs, names);
      }
    }
  };
  for (const d of deviceDirs) if (existsSync(resolve(root, d))) scan(resolve(root, d));
  const values = new Map();
  if (found.size > 0) {
    const entry = [...found].map(([file, names], i) => `export { ${names.map((n) => n + " as t" + i + "_" + n).join(", ")} } from ${JSON.stringify(file)};`).join("\n");
    const out = await esbuild.build({
      stdin: { contents: entry, resolveDir: root, sourcefile: "doorsip-rom-tables.js", loader: "js" },
      bundle: true, format: "esm", platform: "neutral", write: false, logLevel: "warning",
    });
    const mod = await import("data:text/javascript;base64," + Buffer.from(out.outputFiles[0].text).toString("base64"));
    [...found].forEach(([file, names], i) => {
      const tables = new Map();
      for (const n of names) {
        const v = mod["t" + i + "_" + n];
        const type = v && v.constructor ? v.constructor.name : "";
        if (!romTypes.includes(type)) throw new Error(`build: rom table ${n} in ${relative(root, file)} is not a typed array (${type || typeof v})`);
        tables.set(n, { type, bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1") });
      }
      values.set(file, tables);
    });
  }
  romValues = values;
  return values;
}

/**
 * A binary string as an ASCII-only JavaScript literal (every byte outside printable ASCII, and quotes and
 * backslashes, as \xHH): an interpreter reads exactly the bytes it holds whatever the file's encoding.
 */
export function byteLiteral(t) {
  return '"' + t.replace(/[^\x20-\x7e]|["\\]/g, (ch) => "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0")) + '"';
}

/** rom.ts in device builds: rom(kind, bytes), kind the index in romTypes. */
const ROM_DEVICE_SOURCE = `// Device form of rom.ts (build.mjs): the typed array over a table's bytes, made when the bundle was built.
export function rom(kind, bytes) {
  var b;
  if (typeof E !== "undefined") b = E.toArrayBuffer(bytes);
  else { var a = new Uint8Array(bytes.length); for (var i = 0; i < a.length; i++) a[i] = bytes.charCodeAt(i); b = a.buffer; }
  return kind === 0 ? new Uint8Array(b) : kind === 1 ? new Uint16Array(b) : kind === 2 ? new Int16Array(b) : kind === 3 ? new Uint32Array(b) : new Int32Array(b);
}
`;

/** source with the argument of each `rom(…)` of tables (name → { type, bytes }) replaced by the table's kind and bytes. */
export function substituteRom(source, tables, file = "") {
  let out = "", at = 0;
  for (const m of source.matchAll(ROM_DECLARATION)) {
    const t = tables.get(m[1]);
    if (t === undefined) throw new Error(`build: no value for rom table ${m[1]} in ${file}`);
    const open = m.index + m[0].length - 1; // the "(" of rom(
    let depth = 0, end = -1;
    for (let i = open; i < source.length; i++) {
      const c = source[i];
      if (c === "(") depth++;
      else if (c === ")" && --depth === 0) { end = i + 1; break; }
    }
    if (end < 0) throw new Error(`build: rom(…) of ${m[1]} in ${file} is not closed`);
    out += source.slice(at, open + 1) + romTypes.indexOf(t.type) + ", " + byteLiteral(t.bytes) + ")";
    at = end;
  }
  return out + source.slice(at);
}

// Device builds: the rom tables' bytes in place of the code that fills them.
const romPlugin = {
  name: "doorsip-rom-tables",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path === resolve(root, "sip-core/rom.ts")) return { contents: ROM_DEVICE_SOURCE, loader: "js" };
      const tables = (await romTables()).get(args.path);
      if (tables === undefined) return undefined;
      return { contents: substituteRom(readFileSync(args.path, "utf8"), tables, relative(root, args.path)), loader: "ts" };
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Property mangling. On Espruino every property name is a variable of the pool, two when it is longer
// than 8 characters (Linux build; a board's smaller variables hold fewer), once per method on its
// prototype and once per field on every instance: 16 transactions × 26 fields, 4 SDP media lines, 2 calls
// and 2 media sessions of ~55 fields each. So the device bundle renames the properties our own classes
// declare to short names, which also takes ~30 % off the bundle. A name keeps its spelling when anything
// outside our classes can see it:
//   - members of interfaces and type literals (configuration read from JSON, the HAL's contracts, the
//     Espruino globals declared in hal/espruino), and keys of object literals (option bags, JSON output);
//   - names the ES library declares (length, push, charCodeAt, value, next…), any property read from a
//     value typed any (Espruino modules, parsed JSON), and any identifier-like string in the device sources
//     (obj["x"], "x" in obj, tables of keys);
//   - fields of the counter classes (…Stats, …Counters: status() serialises them as JSON);
//   - in the message layer (a library), names its users spell: README.md, the conformance test and the
//     benchmarks (every `.name` and quoted identifier there; see libraryUsers).
// The classes' names and module exports are not properties and keep their names regardless.
// ---------------------------------------------------------------------------------------------
const deviceDirs = ["sip-core", "hal", "firmware"];
// The message layer (doorsip-core.js) is a library: its API is what README.md documents and the conformance
// test and benchmarks read. The firmware's users reach it through its exports, status() and the configuration
// (object literals and interfaces); tests that look inside a firmware build spell names as `.@name`
// (test/device/espruino-run.mjs maps them), so they keep no name.
export const libraryUsers = ["test/device/torture.mjs", "test/bench", "README.md"];
let sourceAnalysis = null;
const mangleNamesFor = new Map(), numberFieldsFor = new Map();
/** The property names our classes (and the interfaces they implement) declare: filled by devicePropertyNames(). */
export const declaredNames = new Set();
/** Why a name our classes declare keeps its spelling (the first reason found): filled by devicePropertyNames(). */
export const keptBecause = new Map();

/** Adds name to reserved, noting why (the first reason found) in keptBecause. */
function keepName(reserved, name, why) {
  reserved.add(name);
  if (!keptBecause.has(name)) keptBecause.set(name, why);
}

/** What the device sources say about property names (computed once): { declared, reserved, numberDecl }. */
async function analyseSources() {
  if (sourceAnalysis !== null) return sourceAnalysis;
  const { default: ts } = await import("typescript");
  // The device sources as tsconfig.device.json compiles them (set here: a copy of the build may lack it).
  const rootNames = [];
  const sources = (dir) => {
    for (const f of readdirSync(dir)) {
      const abs = join(dir, f);
      if (statSync(abs).isDirectory()) sources(abs);
      else if (f.endsWith(".ts")) rootNames.push(abs);
    }
  };
  for (const d of deviceDirs) if (existsSync(resolve(root, d))) sources(resolve(root, d));
  const options = {
    target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2017.d.ts"], types: [], strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true,
  };
  const program = ts.createProgram({ rootNames, options });
  const checker = program.getTypeChecker();
  const ours = (f) => deviceDirs.some((d) => f.fileName.startsWith(resolve(root, d) + "/"));
  const declared = declaredNames;
  declared.clear();
  const reserved = new Set(["constructor", "prototype", "__proto__", "length", "name", "toString", "toJSON", "valueOf"]);
  // Interfaces a class of ours implements (TransactionUser, the HAL's Platform, UdpSocket…) describe objects the
  // device code makes, not data from outside (configuration, Espruino's objects): their members may be renamed.
  const implemented = new Set();
  for (const sf of program.getSourceFiles()) {
    if (!ours(sf)) continue;
    const find = (node) => {
      if (ts.isClassLike(node) && node.heritageClauses) {
        for (const h of node.heritageClauses) {
          if (h.token !== ts.SyntaxKind.ImplementsKeyword) continue;
          for (const t of h.types) {
            const sym = checker.getSymbolAtLocation(t.expression);
            const target = sym && sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
            if (target && target.declarations) for (const d of target.declarations) if (ts.isInterfaceDeclaration(d) && ours(d.getSourceFile())) implemented.add(d);
          }
        }
      }
      ts.forEachChild(node, find);
    };
    find(sf);
  }
  const nameOf = (n) => (n && (ts.isIdentifier(n) || ts.isPrivateIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n)) ? n.text : null);
  // A field whose every declaration holds a number (not optional, not static, not `!`, not undefined): packNumbers.
  const NUMBER = ts.TypeFlags.NumberLike, NOT_NUMBER = ts.TypeFlags.StringLike | ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Any | ts.TypeFlags.Unknown;
  const numberType = (t) => (t.isUnion() ? t.types : [t]).every((u) => (u.flags & NUMBER) !== 0 && (u.flags & NOT_NUMBER) === 0);
  const numberDecl = new Map();
  const noteField = (n, isNumber) => { const t = nameOf(n); if (t !== null) numberDecl.set(t, numberDecl.get(t) !== false && isNumber); };
  const hasModifier = (m, kind) => (ts.getModifiers ? ts.getModifiers(m) || [] : m.modifiers || []).some((x) => x.kind === kind);
  const plainNumberField = (m) => !hasModifier(m, ts.SyntaxKind.StaticKeyword) && !hasModifier(m, ts.SyntaxKind.DeclareKeyword) &&
    !m.questionToken && !m.exclamationToken && numberType(checker.getTypeAtLocation(m));
  const keep = (t, why) => keepName(reserved, t, why);
  const add = (set, n, why) => { const t = nameOf(n); if (t === null) return; if (set === reserved) keep(t, why); else set.add(t); };
  for (const sf of program.getSourceFiles()) {
    const mine = ours(sf);
    const visit = (node) => {
      if (ts.isClassLike(node)) {
        const counters = node.name !== undefined && /(Stats|Counters)$/.test(node.name.text);
        for (const m of node.members) {
          if (ts.isConstructorDeclaration(m)) {
            for (const p of m.parameters) {
              if (!p.modifiers || !p.modifiers.length) continue;
              add(mine && !counters ? declared : reserved, p.name, mine ? "a counters class" : "a foreign class");
              noteField(p.name, plainNumberField(p));
            }
          } else if (m.name) {
            add(mine && !counters ? declared : reserved, m.name, mine ? "a counters class" : "a foreign class");
            noteField(m.name, ts.isPropertyDeclaration(m) && plainNumberField(m));
          }
        }
      } else if (ts.isPropertySignature(node) || ts.isMethodSignature(node)) {
        add(mine && implemented.has(node.parent) ? declared : reserved, node.name, "interface member in " + relative(root, sf.fileName));
        noteField(node.name, ts.isPropertySignature(node) && !node.questionToken && numberType(checker.getTypeAtLocation(node)));
      }
      else if (ts.isObjectLiteralExpression(node)) for (const p of node.properties) add(reserved, p.name, "object literal key in " + relative(root, sf.fileName));
      else if (mine && ts.isPropertyAccessExpression(node)) {
        const t = checker.getTypeAtLocation(node.expression);
        const sym = checker.getSymbolAtLocation(node.name);
        const foreign = !sym || !sym.declarations || sym.declarations.some((d) => !ours(d.getSourceFile()));
        if ((t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0 || foreign) keep(node.name.text, "read from an untyped or foreign value in " + relative(root, sf.fileName));
      } else if (mine && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && /^[A-Za-z_$][\w$]*$/.test(node.text)) {
        // Any identifier-like string may name a property (obj["x"], "x" in obj, a table of keys a loop assigns).
        keep(node.text, "a string in " + relative(root, sf.fileName));
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  sourceAnalysis = { declared, reserved, numberDecl };
  return sourceAnalysis;
}

/**
 * The property names a device bundle renames (see above): those our classes declare that nothing outside
 * them sees, nor any of `users` (files or folders whose every `.name` and quoted identifier is kept) spells.
 */
export async function devicePropertyNames(users = libraryUsers) {
  const key = users.join("\n");
  if (mangleNamesFor.has(key)) return mangleNamesFor.get(key);
  const { declared, reserved: fromSources, numberDecl } = await analyseSources();
  const reserved = new Set(fromSources);
  const files = [];
  const collect = (p) => {
    const abs = resolve(root, p);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) for (const f of readdirSync(abs)) collect(join(p, f));
    else if (/\.(mjs|js|md)$/.test(p)) files.push(abs);
  };
  for (const p of users) collect(p);
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/\.([A-Za-z_$][\w$]*)|["'`]([A-Za-z_$][\w$]*)["'`]/g)) keepName(reserved, m[1] || m[2], "spelled in " + relative(root, f));
  }
  const names = [...declared].filter((n) => !reserved.has(n) && /^[A-Za-z_$][\w$]*$/.test(n)).sort();
  mangleNamesFor.set(key, names);
  numberFieldsFor.set(key, new Set(names.filter((n) => numberDecl.get(n) === true)));
  return names;
}

/** The renamed property names that are number fields wherever declared (see packNumbers). */
export async function deviceNumberFields(users = libraryUsers) {
  await devicePropertyNames(users);
  return numberFieldsFor.get(users.join("\n"));
}

/** esbuild's mangleProps for a device bundle: exactly the names devicePropertyNames(users) lists. */
async function deviceMangleOptions(users) {
  if (process.env.DOORSIP_NO_MANGLE) return {};
  const names = await devicePropertyNames(users);
  return names.length ? { mangleProps: new RegExp("^(?:" + names.join("|") + ")$") } : {};
}

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
  plugins: [devicePolicy, romPlugin],
  logLevel: "warning",
};

// Named exports of the device entry, from an esbuild ESM pass (handles `export *` and re-exports).
async function entryExports(entry) {
  const r = await esbuild.build({
    entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "neutral", metafile: true,
    plugins: [devicePolicy, romPlugin], absWorkingDir: root, logLevel: "silent", outfile: "entry-exports.js",
  });
  const out = Object.values(r.metafile.outputs).find((o) => o.entryPoint);
  return out ? out.exports : [];
}

/**
 * The mangle cache with another short name for each property esbuild named as a string literal of `code` spells
 * (a header name such as "To"): uniqueMethods counts a string as a possible computed access, so a method given
 * such a name is never written out where it is called (4 variables on Espruino for each). Null when none is.
 */
async function respellCollisions(code, cache) {
  const { parse } = await import("acorn");
  const strings = new Set(), used = new Set(Object.values(cache).filter((v) => typeof v === "string"));
  const visit = (n) => {
    if (n.type === "Literal" && typeof n.value === "string") strings.add(n.value);
    if (n.type === "Identifier") used.add(n.name);
    eachChild(n, visit);
  };
  visit(parse(code, { ecmaVersion: 2022, sourceType: "script" }));
  const clashing = Object.keys(cache).filter((k) => typeof cache[k] === "string" && strings.has(cache[k]));
  if (clashing.length === 0) return null;
  const out = { ...cache };
  let k = 0;
  for (const name of clashing) {
    let t;
    do t = shortName(k++); while (used.has(t) || strings.has(t) || RESERVED_WORDS.has(t));
    used.add(t);
    out[name] = t;
  }
  return out;
}

/**
 * Bundles a device entry. Returns { code, map, metafile, mangleCache } (mangleCache: original property name →
 * its name in the bundle, false for a name kept); writes outfile and outfile.map when `write`.
 * Throws esbuild's error (already printed) when the build fails.
 */
export async function bundleDevice({ entry = deviceEntry, outfile = deviceOutfile, write = true, globalName = "doorsip", users } = {}) {
  if (users === undefined) users = entry === deviceEntry ? libraryUsers : [];
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
  const build = async (mangleCache) => esbuild.build({
    ...deviceOptions,
    ...(await deviceMangleOptions(users)),
    mangleCache,
    stdin: { contents, resolveDir: root, sourcefile: "doorsip-device-entry.js", loader: "js" },
    outfile: resolve(root, outfile),
    absWorkingDir: root,
    metafile: true,
    write: false,
  });
  let result = await build({});
  // A short name that a string of the bundle spells is not one the inliners can take for a method's own
  // (a computed access could reach it): such names are given others, and the bundle made again.
  const respelled = await respellCollisions(result.outputFiles.find((f) => f.path.endsWith(".js")).text, result.mangleCache || {});
  if (respelled !== null) result = await build(respelled);
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  const cache = result.mangleCache || {};
  const mangled = new Set(Object.values(cache).filter((v) => typeof v === "string"));
  let out = { code: js.text, map: map.text };
  let packing = { packed: new Map(), prop: null };
  if (!process.env.DOORSIP_NO_PACK) {
    packing = await packNumbers(out.code, out.map, new Set([...(await deviceNumberFields(users))].map((n) => cache[n]).filter((v) => typeof v === "string")));
    out = packing;
  }
  out = await inlineConstants(out.code, out.map, js.path, mangled);
  if (!process.env.DOORSIP_NO_INLINE) out = await inlineCalls(out.code, out.map, mangled);
  const bodies = !process.env.DOORSIP_NO_INLINE && !process.env.DOORSIP_NO_BODIES;
  if (bodies) out = await inlineBodies(out.code, out.map, mangled);
  out = await rootScript(out.code, out.map, globalName);
  if (!process.env.DOORSIP_NO_FLATTEN) out = await flattenClasses(out.code, out.map);
  if (!process.env.DOORSIP_NO_PROTO) out = await prototypeObjects(out.code, out.map);
  // Factories called once (or a few times) are bodies to write out where they are called.
  if (bodies && !process.env.DOORSIP_NO_PROTO) out = await inlineBodies(out.code, out.map, mangled);
  if (!process.env.DOORSIP_NO_ARGS) out = await paramsToArguments(out.code, out.map);
  if (!process.env.DOORSIP_NO_SHARE) out = await shareConstants(out.code, out.map);
  if (write) {
    mkdirSync(dirname(js.path), { recursive: true });
    writeFileSync(js.path, out.code);
    writeFileSync(map.path, out.map);
    // The repo is "type": "module"; this lets Node require() the bundle as the CommonJS file it is.
    writeFileSync(join(dirname(js.path), "package.json"), '{ "type": "commonjs" }\n');
  }
  // How code outside reaches a field or method by its source name: `.name`, `.renamed` or `.P[slot]`.
  const internals = {};
  for (const [name, renamed] of Object.entries(cache)) {
    if (typeof renamed !== "string") continue;
    internals[name] = packing.packed.has(renamed) ? "." + packing.prop + "[" + packing.packed.get(renamed) + "]" : "." + renamed;
  }
  return { code: out.code, map: out.map, metafile: result.metafile, mangleCache: result.mangleCache || {}, internals };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Source-map "mappings" decoded: per generated line, segments of absolute [column, source, line, column, name]. */
function decodeMappings(text) {
  const lines = [];
  const state = [0, 0, 0, 0, 0];
  for (const lineText of text.split(";")) {
    const segs = [];
    state[0] = 0;
    for (const segText of lineText.split(",")) {
      if (segText === "") continue;
      const seg = [];
      let value = 0, shift = 0;
      for (const ch of segText) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) { shift += 5; continue; }
        const v = value & 1 ? -(value >>> 1) : value >>> 1;
        state[seg.length] += v;
        seg.push(state[seg.length]);
        value = 0;
        shift = 0;
      }
      segs.push(seg);
    }
    lines.push(segs);
  }
  return lines;
}

function encodeMappings(lines) {
  const state = [0, 0, 0, 0, 0];
  const vlq = (v) => {
    let x = v < 0 ? (-v << 1) | 1 : v << 1, out = "";
    do { let d = x & 31; x >>>= 5; if (x > 0) d |= 32; out += B64[d]; } while (x > 0);
    return out;
  };
  return lines.map((segs) => {
    state[0] = 0;
    return segs.map((seg) => seg.map((v, i) => { const r = vlq(v - state[i]); state[i] = v; return r; }).join("")).join(",");
  }).join(";");
}

/** Calls fn(child, key) for each child node of an acorn node (in arrays too). */
function eachChild(n, fn) {
  for (const k in n) {
    const v = n[k];
    if (Array.isArray(v)) { for (const c of v) if (c && typeof c.type === "string") fn(c, k); }
    else if (v && typeof v === "object" && typeof v.type === "string") fn(v, k);
  }
}

/** Expression text as a statement: one starting with `function`, `class`, `{` or `let [` is parenthesized. */
function asStatement(t) {
  return (/^(function|class|\{|let\s*\[)/.test(t) ? "(" + t + ")" : t) + ";";
}

/** True for a node that gives its code its own `this`: a non-arrow function, or a class. */
function ownsThis(n) {
  return n.type === "FunctionExpression" || n.type === "FunctionDeclaration" || n.type === "ClassExpression" || n.type === "ClassDeclaration";
}

/** True for a function node of any kind (declaration, expression, arrow). */
function isFunction(n) {
  return n.type === "FunctionDeclaration" || n.type === "FunctionExpression" || n.type === "ArrowFunctionExpression";
}

/** Pushes onto out the names a binding pattern declares (`a`, `{a, b: [c]}`, `d = 1`, `...e`). */
function patternNames(p, out) {
  if (p.type === "Identifier") out.push(p.name);
  else if (p.type === "ObjectPattern") for (const q of p.properties) patternNames(q.type === "RestElement" ? q.argument : q.value, out);
  else if (p.type === "ArrayPattern") { for (const q of p.elements) if (q !== null) patternNames(q, out); }
  else if (p.type === "AssignmentPattern") patternNames(p.left, out);
  else if (p.type === "RestElement") patternNames(p.argument, out);
}

/** A bundle's text without its trailing `//# sourceMappingURL=` line, and that line ("" when none). */
function splitMapComment(code) {
  const tail = /\/\/# sourceMappingURL=[^\n]*\n?$/.exec(code);
  return tail === null ? { text: code, tail: "" } : { text: code.slice(0, tail.index), tail: tail[0] };
}

/** Where statements may be inserted at the top of a body: after its directives ("use strict" must stay first). */
function afterDirectives(stmts, start) {
  let at = start;
  for (const st of stmts) { if (st.type !== "ExpressionStatement" || st.directive === undefined) break; at = st.end; }
  return at;
}

/** The line (0-based) of an offset of text, and its column. */
function lineIndex(text) {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  const lineOf = (pos) => { let lo = 0, hi = starts.length - 1; while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid] <= pos) lo = mid; else hi = mid - 1; } return lo; };
  return { lineOf, columnOf: (pos) => pos - starts[lineOf(pos)] };
}

/**
 * Applies edits [start, end, inserted, keep] (sorted, not overlapping, each within one line) to text, and moves
 * the source map's mappings to match: what is deleted loses its mappings, what follows on the line shifts (an
 * insertion with `keep` takes the mapping at its position instead).
 */
function applyEdits(text, map, edits) {
  let out = "", at = 0;
  for (const [s, e, t] of edits) { out += text.slice(at, s) + t; at = e; }
  out += text.slice(at);
  const { lineOf, columnOf } = lineIndex(text);
  const m = JSON.parse(map);
  const before = m.mappings;
  m.mappings = editMappings(before, edits.map(([s, e, t, at]) => [lineOf(s), columnOf(s), e - s, t.length, at === true]));
  // An edit [start, end, inserted, keep, [offset, from]] also maps inserted[offset…] where the input's `from` maps
  // (a name the edit makes points at what it stands for).
  if (edits.some((x) => x[4] !== undefined)) {
    const was = decodeMappings(before), now = decodeMappings(m.mappings);
    const shift = new Map(); // a line's growth so far, edits in order
    for (const [s, e, t, , copy] of edits) {
      const line = lineOf(s), grown = shift.get(line) || 0;
      if (copy !== undefined) {
        const [offset, from] = copy;
        const segs = was[lineOf(from)] || [];
        let src = null;
        for (const seg of segs) if (seg[0] <= columnOf(from) && seg.length >= 4) src = seg;
        if (src !== null && line < now.length) {
          const col = columnOf(s) + grown + offset;
          now[line] = now[line].filter((seg) => seg[0] !== col).concat([[col, ...src.slice(1)]]).sort((a, b) => a[0] - b[0]);
        }
      }
      shift.set(line, grown + t.length - (e - s));
    }
    m.mappings = encodeMappings(now);
  }
  return { code: out, map: m };
}

/**
 * Packs number fields into one Float64Array per object: on Espruino each field of an object is a variable of
 * the pool, where a Float64Array costs ~4 variables and a third of one per number (measured on 2v29: 24 numbers
 * 8 variables more than one). `names` are the renamed property names that are number fields wherever a class of
 * ours declares them (deviceNumberFields); each gets one slot, the same in every class, slots of names one class
 * holds differ (a greedy colouring); `x.name` becomes `x.P[slot]` everywhere (P: a property name the bundle does
 * not use), and the constructor of a hierarchy's base allocates the array first. A name is packed only when
 * every class that holds it is (a class with fewer than `minSlots` slots is not: the array would cost more), is
 * only ever read or written as `x.name` (never deleted, never a key), and is held by some class.
 * Float64Array holds any number exactly (NaN, -0, fractions, times past 2^31), as the field did. `arrayCost`:
 * the variables an array costs over its numbers (the tests set 0).
 */
export async function packNumbers(code, map, names, minSlots = 8, arrayCost = 4) {
  const { parse } = await import("acorn");
  const ast = parse(code, { ecmaVersion: 2022, sourceType: "script" });
  const classes = [], boundTo = new Map(), used = new Set(), bad = new Set(), accesses = [];
  const visit = (n, p) => {
    if (n.type === "ClassExpression" || n.type === "ClassDeclaration") {
      classes.push(n);
      if (n.id) boundTo.set(n.id.name, n);
      if (p && p.type === "VariableDeclarator" && p.init === n && p.id.type === "Identifier") boundTo.set(p.id.name, n);
      if (p && p.type === "AssignmentExpression" && p.right === n && p.left.type === "Identifier") boundTo.set(p.left.name, n);
    }
    if (n.type === "MemberExpression" && !n.computed && n.property.type === "Identifier") {
      used.add(n.property.name);
      if (names.has(n.property.name)) {
        if ((p && p.type === "UnaryExpression" && p.operator === "delete") || n.object.type === "Super") bad.add(n.property.name);
        else accesses.push(n);
      }
    } else if ((n.type === "Property" || n.type === "MethodDefinition" || n.type === "PropertyDefinition") && !n.computed) {
      const k = n.key.type === "Identifier" ? n.key.name : n.key.type === "Literal" ? String(n.key.value) : null;
      if (k !== null) { used.add(k); if (names.has(k)) bad.add(k); }
    } else if (n.type === "Literal" && typeof n.value === "string") {
      used.add(n.value);
      if (names.has(n.value)) bad.add(n.value);
    }
    eachChild(n, (c) => visit(c, n));
  };
  visit(ast, null);
  // Hierarchies: a class joins its base's when the base is a class of the bundle; else (or with no classes) none.
  const rootOf = (c) => {
    for (let k = c, seen = 0; ; seen++) {
      if (k.superClass === null) return k;
      if (k.superClass.type !== "Identifier" || !boundTo.has(k.superClass.name) || seen > 50) return null;
      k = boundTo.get(k.superClass.name);
    }
  };
  // The names a class holds: `this.name` in its methods and constructor (not in a nested non-arrow function).
  const holds = new Map(); // root class → Set of names
  const family = new Map(); // class → root (null: a base outside the bundle)
  for (const c of classes) {
    const r = rootOf(c);
    family.set(c, r);
    const key = r === null ? c : r;
    if (!holds.has(key)) holds.set(key, new Set());
    const set = holds.get(key);
    const walk = (n) => {
      if (n.type === "MemberExpression" && n.object.type === "ThisExpression" && !n.computed && names.has(n.property.name)) set.add(n.property.name);
      if (ownsThis(n)) return;
      eachChild(n, walk);
    };
    for (const m of c.body.body) if (m.value) { if (m.value.type === "FunctionExpression") eachChild(m.value, walk); else walk(m.value); }
  }
  const foreign = new Set();
  for (const [c, r] of family) if (r === null) for (const nm of holds.get(c)) foreign.add(nm);
  // A name is packed when every hierarchy that holds it is; a hierarchy is when it holds `minSlots` packed names
  // or more and its array (slots up to the highest it uses) costs less than the fields: ~4 variables + a third
  // of one per slot against one per field. Repeated until nothing changes.
  let packed = new Set([...names].filter((nm) => !bad.has(nm) && !foreign.has(nm)));
  const roots = [...holds.keys()].filter((r) => family.get(r) === r);
  let dropped = new Set(), packedRoots = [], slot = new Map();
  for (;;) {
    const count = (r) => [...holds.get(r)].filter((nm) => packed.has(nm)).length;
    packedRoots = roots.filter((r) => !dropped.has(r) && count(r) >= minSlots);
    const held = new Set(), inPacked = new Set();
    for (const r of roots) for (const nm of holds.get(r)) (packedRoots.includes(r) ? inPacked : held).add(nm);
    const next = new Set([...packed].filter((nm) => !held.has(nm) && inPacked.has(nm)));
    if (next.size !== packed.size) { packed = next; continue; }
    // Slots: names held by the most hierarchies first, each the lowest slot no name of its hierarchies has.
    slot = new Map();
    const takenBy = new Map(packedRoots.map((r) => [r, new Set()]));
    const holders = (nm) => packedRoots.filter((r) => holds.get(r).has(nm));
    for (const nm of [...packed].sort((a, b) => holders(b).length - holders(a).length || (a < b ? -1 : 1))) {
      const hs = holders(nm);
      let s = 0;
      while (hs.some((r) => takenBy.get(r).has(s))) s++;
      slot.set(nm, s);
      for (const r of hs) takenBy.get(r).add(s);
    }
    const sparse = packedRoots.filter((r) => arrayCost + (Math.max(...takenBy.get(r)) + 1) / 3 >= count(r));
    if (sparse.length === 0) break;
    for (const r of sparse) dropped.add(r);
  }
  // One or two letters ("$" names are the later passes'), the first the bundle does not use as a property.
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const candidates = [...letters].concat([...letters].flatMap((x) => [...letters].map((y) => x + y)));
  const prop = candidates.find((x) => !used.has(x));
  if (prop === undefined || packed.size === 0) return { code, map, packed: new Map(), prop: null, arrays: [] };
  const arrays = [];
  const edits = [];
  for (const a of accesses) {
    if (!packed.has(a.property.name)) continue;
    const dot = code.lastIndexOf(".", a.property.start);
    if (dot < a.object.end) throw new Error("build: packNumbers found no '.' before " + a.property.name);
    edits.push([dot, a.property.end, "." + prop + "[" + slot.get(a.property.name) + "]"]);
  }
  for (const r of packedRoots) {
    const held = [...holds.get(r)].filter((nm) => packed.has(nm));
    const size = Math.max(...held.map((nm) => slot.get(nm))) + 1;
    const alloc = "this." + prop + "=new Float64Array(" + size + ")";
    arrays.push({ at: r.start, names: held.length, size });
    const ctor = r.body.body.find((m) => m.type === "MethodDefinition" && m.kind === "constructor");
    if (ctor) { const b = ctor.value.body; edits.push([b.start + 1, b.start + 1, alloc + (b.body.length ? ";" : "")]); }
    else edits.push([r.body.start + 1, r.body.start + 1, "constructor(){" + alloc + "}"]);
  }
  edits.sort((x, y) => x[0] - y[0]);
  const out = applyEdits(code, map, edits);
  return { code: out.code, map: JSON.stringify(out.map), packed: slot, prop, arrays };
}

/**
 * Inlines the bundle's numeric constants (HDR_VIA, CH_CR, TS_TRYING…: ~200 in the phone). esbuild folds a
 * `const` into its uses only within one file, so after bundling each stays a top-level `var`: on Espruino a
 * variable of the module's scope each (and a scope lookup at every use). This pass moves the top-level
 * `var NAME = <number>` declarations to the top as `const` and lets esbuild's minifier fold them, as an ES
 * module (whose top level is its own), then turns `export default` back into `module.exports =`. A name that
 * is assigned somewhere is not constant: esbuild says so, and it stays a `var`. The source map is chained.
 */
export async function inlineConstants(code, map, path, mangled) {
  const { parse } = await import("acorn");
  const body = code.replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, "\n");
  const ast = parse(body, { ecmaVersion: 2022, sourceType: "script" });
  const dead = deadMethods(ast, mangled);
  const isNumber = (e) => e !== null && ((e.type === "Literal" && typeof e.value === "number") ||
    (e.type === "UnaryExpression" && e.operator === "-" && e.argument.type === "Literal" && typeof e.argument.value === "number"));
  const last = ast.body[ast.body.length - 1];
  const exportsAt = last && last.type === "ExpressionStatement" && last.expression.type === "AssignmentExpression" &&
    body.slice(last.start, last.expression.right.start).replace(/\s/g, "") === "module.exports=" ? last : null;
  if (exportsAt === null) return { code, map };
  // The edits delete characters within lines (declarators and their commas) and put the constants on a line
  // of their own above the bundle; the first pass's source map is moved to match (deleted columns go, the
  // rest shift left; one more line on top), so the second pass chains to the TypeScript positions.
  const { lineOf } = lineIndex(body);
  const attempt = async (keep) => {
    const consts = [];
    const cuts = []; // [start, end) of body, each within one line
    for (const st of ast.body) {
      if (st.type !== "VariableDeclaration" || st.kind !== "var") continue;
      const ds = st.declarations;
      const folded = ds.map((d) => d.id.type === "Identifier" && isNumber(d.init) && !keep.has(d.id.name) && lineOf(d.start) === lineOf(d.end));
      if (!folded.some((f) => f)) continue;
      if (folded.every((f) => f) && lineOf(st.start) === lineOf(st.end)) cuts.push([st.start, st.end]);
      else {
        // A statement over several lines (esbuild joins constants to the statement holding a class) loses each
        // declarator whose cut stays on one line, and keeps its last one (a `var` with none left is no statement).
        if (folded.every((f) => f)) folded[folded.length - 1] = false;
        let keptBefore = false;
        for (let i = 0; i < ds.length; i++) {
          if (!folded[i]) { keptBefore = true; continue; }
          const cut = keptBefore ? [ds[i - 1].end, ds[i].end] : [ds[i].start, ds[i + 1].start];
          if (lineOf(cut[0]) !== lineOf(cut[1])) { folded[i] = false; keptBefore = true; continue; }
          cuts.push(cut);
        }
      }
      for (let i = 0; i < ds.length; i++) if (folded[i]) consts.push(body.slice(ds[i].start, ds[i].end));
    }
    for (const m of dead) if (lineOf(m.start) === lineOf(m.end)) cuts.push([m.start, m.end]);
    cuts.sort((a, b) => a[0] - b[0]);
    const edited = applyEdits(body, map, cuts.map(([cs, ce]) => [cs, ce, ""]));
    let text = edited.code;
    const m = edited.map;
    // `module.exports=` → `export default `: the same length, at the end (no cut after it).
    const ex = text.lastIndexOf("module.exports=");
    text = text.slice(0, ex) + "export default " + text.slice(ex + 15);
    text = "const " + (consts.length ? consts.join(",") : "_$=0") + ";\n" + text;
    m.mappings = ";" + m.mappings;
    text += "\n//# sourceMappingURL=data:application/json;base64," + Buffer.from(JSON.stringify(m)).toString("base64") + "\n";
    return esbuild.transform(text, {
      minify: true, treeShaking: true, format: "esm", target: deviceOptions.target, charset: deviceOptions.charset, legalComments: "none",
      sourcemap: "external", sourcefile: path, logLevel: "silent",
    });
  };
  const keep = new Set();
  for (let tries = 0; tries < 20; tries++) {
    let r;
    try {
      r = await attempt(keep);
    } catch (e) {
      const names = (e.errors || []).map((x) => /Cannot assign to "([^"]+)"/.exec(x.text)).filter((m) => m !== null).map((m) => m[1]);
      if (names.length === 0) throw e;
      for (const n of names) keep.add(n);
      continue;
    }
    // A top-level const or let that was not folded away becomes a var (Espruino keeps a module's top-level
    // let/const in a block scope of its own); "const" → "var  " keeps every column of the source map.
    let folded = r.code;
    for (const st of parse(folded, { ecmaVersion: 2022, sourceType: "module" }).body) {
      if (st.type === "VariableDeclaration" && st.kind !== "var") folded = folded.slice(0, st.start) + (st.kind === "const" ? "var  " : "var") + folded.slice(st.start + st.kind.length);
    }
    r = { code: folded, map: r.map };
    // esbuild ends an ES module with `export { x as default };` or `export default …;`: back to CommonJS.
    const m = /export\s*\{\s*([\w$]+)\s+as\s+default\s*\};?\s*$/.exec(r.code) || /export\s+default\s+/.exec(r.code);
    if (m === null) throw new Error("build: unexpected end of the constant-inlining pass");
    const outCode = m[0].startsWith("export default")
      ? r.code.slice(0, m.index) + "module.exports=" + r.code.slice(m.index + m[0].length)
      : r.code.slice(0, m.index) + "module.exports=" + m[1] + ";\n";
    // Sources as the first pass wrote them (relative to the bundle's folder).
    const outMap = JSON.parse(r.map);
    const first = JSON.parse(map);
    outMap.sources = outMap.sources.map((src) => {
      const abs = resolve(dirname(path), src);
      const known = first.sources.find((f) => resolve(dirname(path), f) === abs || abs.endsWith("/" + f.replace(/^(\.\.\/)+/, "")));
      return known !== undefined ? known : relative(dirname(path), abs);
    });
    return { code: outCode + "//# sourceMappingURL=" + path.split("/").pop() + ".map\n", map: JSON.stringify(outMap) };
  }
  throw new Error("build: the constant-inlining pass did not settle");
}

/**
 * Methods of the device's classes that nothing in the bundle calls: those the sim and the tests use (a
 * getter for a test, a helper of the simulator's subclass). Each would cost Espruino ~5 variables for its
 * function object. Only renamed (mangled) names are candidates: a name that kept its spelling may be called
 * from outside the bundle. A method is dead when its name is never read as a property, written as an object
 * key or spelled as a string anywhere but inside other dead methods (found to a fixed point).
 */
export function deadMethods(ast, mangled) {
  const methods = [];
  const find = (n) => {
    if (n.type === "MethodDefinition" && n.kind !== "constructor" && !n.computed && n.key.type === "Identifier" && mangled.has(n.key.name)) methods.push(n);
    eachChild(n, find);
  };
  find(ast);
  const removed = new Set();
  for (;;) {
    const used = new Set();
    const walk = (n) => {
      if (removed.has(n)) return;
      if (n.type === "MemberExpression" && !n.computed) used.add(n.property.name);
      else if (n.type === "Property" && !n.computed && n.key.type === "Identifier") used.add(n.key.name);
      else if (n.type === "Literal" && typeof n.value === "string") used.add(n.value);
      eachChild(n, walk);
    };
    walk(ast);
    const more = methods.filter((m) => !removed.has(m) && !used.has(m.key.name));
    if (more.length === 0) return [...removed];
    for (const m of more) removed.add(m);
  }
}

/**
 * Moves mappings for edits [line, column, deleted, inserted, keep] (within lines, not overlapping). A mapping
 * right after an edit moves with the text, unless `keep`: then an insertion takes it (a renamed name's prefix).
 */
function editMappings(text, edits) {
  if (edits.length === 0) return text;
  const lines = decodeMappings(text);
  const byLine = new Map();
  for (const e of edits) { if (!byLine.has(e[0])) byLine.set(e[0], []); byLine.get(e[0]).push(e); }
  for (const [line, es] of byLine) {
    if (line >= lines.length) continue;
    es.sort((a, b) => a[1] - b[1]);
    lines[line] = lines[line].filter((seg) => !es.some((e) => seg[0] >= e[1] && seg[0] < e[1] + e[2])).map((seg) => {
      let col = seg[0];
      for (const e of es) if (e[1] + e[2] < seg[0] || (e[1] + e[2] === seg[0] && !e[4])) col += e[3] - e[2];
      return [col, ...seg.slice(1)];
    });
  }
  return encodeMappings(lines);
}

/** Renamed method names that one method definition has and no key or string spells: its calls are its only uses. */
function uniqueMethods(nodes, mangled) {
  const count = new Map(), spelled = new Set();
  for (const n of nodes) {
    if (n.type === "MethodDefinition" && !n.computed && n.key.type === "Identifier") count.set(n.key.name, (count.get(n.key.name) || 0) + 1);
    if ((n.type === "Property" || n.type === "PropertyDefinition") && !n.computed && n.key.type === "Identifier") spelled.add(n.key.name);
    if (n.type === "Literal" && typeof n.value === "string") spelled.add(n.value);
  }
  const out = new Set();
  for (const [name, k] of count) if (k === 1 && mangled.has(name) && !spelled.has(name)) out.add(name);
  return out;
}

/**
 * Calls to small functions replaced by their bodies. On Espruino each function object costs ~5 variables for
 * as long as it exists (and each call a scope and a lexer restart); a getter or a one-expression helper
 * (`return this.headers[i*5+3]`, `t>=65&&t<=90?t|32:t`) is cheaper written out where it is called.
 * A candidate: a top-level function declaration or `var f=function(){…}`, or a method of a top-level class whose
 * (renamed) name no other method, key or string spells; its body one `return e` or one expression statement, with no nested function,
 * `arguments`, `super`, recursion or assignment to a parameter. Every reference must be a plain call inside a
 * block-bodied function; then each call becomes `(tmp=arg, …, e')`: receiver and arguments are evaluated once,
 * first and in order, into temporaries the calling function declares (`var $$0,…`) — or substituted as written
 * when that cannot be told apart (a literal, `this`, the caller's own variable, or any side-effect-free read
 * when the body has no effects). The body's free names must mean the same at the call site (no function around
 * it declares them). A function is inlined only when the text added stays under `maxGrowth` bytes; its
 * definition is then deleted. Rounds run to a fixed point (a body may call another candidate).
 */
export async function inlineCalls(code, map, mangled, maxGrowth = 160) {
  const { parse } = await import("acorn");
  let { text, tail } = splitMapComment(code);
  let m = typeof map === "string" ? JSON.parse(map) : map;
  if (text.includes("$$")) throw new Error("build: the bundle already spells $$, the inliner's temporaries");
  let inlined = 0;
  let temp = 0; // temporaries are numbered across rounds: a later round's may sit beside an earlier one's
  for (let round = 0; round < 10; round++) {
    const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
    const parent = new Map();
    const nodes = [];
    const walk = (n) => { nodes.push(n); eachChild(n, (c) => { parent.set(c, n); walk(c); }); };
    walk(ast);
    const isPropName = (n) => {
      const p = parent.get(n);
      return (p.type === "MemberExpression" && p.property === n && !p.computed) ||
        ((p.type === "Property" || p.type === "MethodDefinition" || p.type === "PropertyDefinition") && p.key === n && !p.computed);
    };
    const fnOf = (n) => { let p = parent.get(n); while (p && !isFunction(p) && p.type !== "Program") p = parent.get(p); return p; };
    // Names each function declares (parameters, var/let/const/function/class, catch), nested functions excluded.
    const declared = new Map([[ast, new Set()]]);
    const declare = (fn, names) => { if (!declared.has(fn)) declared.set(fn, new Set()); for (const x of names) declared.get(fn).add(x); };
    for (const n of nodes) {
      const names = [];
      if (isFunction(n)) { n.params.forEach((p) => patternNames(p, names)); if (n.type === "FunctionExpression" && n.id) names.push(n.id.name); declare(n, names); continue; }
      if (n.type === "VariableDeclarator") patternNames(n.id, names);
      else if ((n.type === "FunctionDeclaration" || n.type === "ClassDeclaration") && n.id) names.push(n.id.name);
      else if (n.type === "CatchClause" && n.param) patternNames(n.param, names);
      if (names.length) declare(fnOf(n), names);
    }
    const innerDeclared = new Set();
    for (const [fn, names] of declared) if (fn !== ast) for (const x of names) innerDeclared.add(x);
    const unique = uniqueMethods(nodes, mangled);
    // Candidates by name.
    const cands = new Map();
    for (const n of nodes) {
      let fn = null, name = null, method = false;
      if (n.type === "FunctionDeclaration" && parent.get(n) === ast && !innerDeclared.has(n.id.name)) { fn = n; name = n.id.name; }
      else if (n.type === "MethodDefinition" && n.kind === "method" && !n.static && !n.computed && n.key.type === "Identifier" &&
          unique.has(n.key.name) && fnOf(n) === ast) { fn = n.value; name = n.key.name; method = true; }
      if (fn === null || fn.async || fn.generator || fn.params.some((p) => p.type !== "Identifier")) continue;
      if (fn.body.type !== "BlockStatement" || fn.body.body.length !== 1) continue;
      const s = fn.body.body[0];
      const expr = s.type === "ReturnStatement" ? s.argument : s.type === "ExpressionStatement" ? s.expression : null;
      if (expr === null || text.slice(expr.start, expr.end).includes("\n")) continue;
      const params = fn.params.map((p) => p.name);
      let bad = false, pure = true;
      const free = new Set();
      const visit = (x) => {
        if (isFunction(x) || /^(Super|MetaProperty|ClassExpression|AwaitExpression|YieldExpression|SpreadElement|TemplateLiteral|TaggedTemplateExpression)$/.test(x.type)) bad = true;
        else if (x.type === "ThisExpression" && !method) bad = true;
        else if (x.type === "Identifier" && !isPropName(x)) {
          if (x.name === "arguments" || x.name === name) bad = true;
          else if (!params.includes(x.name)) free.add(x.name);
        } else if (x.type === "AssignmentExpression" || x.type === "UpdateExpression") {
          const target = x.left || x.argument;
          if (target.type === "Identifier" && params.includes(target.name)) bad = true;
        } else if (method && x.type === "MemberExpression" && !x.computed && x.property.name === name) bad = true;
        if (/^(AssignmentExpression|UpdateExpression|CallExpression|NewExpression)$/.test(x.type) || (x.type === "UnaryExpression" && x.operator === "delete")) pure = false;
        if (!bad) eachChild(x, visit);
      };
      visit(expr);
      if (!bad) cands.set(name, { method, fn, def: n, expr, value: s.type === "ReturnStatement", pure, params, free, sites: [], bad: false });
    }
    // References: every one must be a plain call inside a block-bodied function.
    const siteOf = new Map();
    for (const n of nodes) {
      let c;
      if (n.type === "Identifier" && !isPropName(n)) c = cands.get(n.name);
      else if (n.type === "MemberExpression" && !n.computed) c = cands.get(n.property.name);
      if (c === undefined || (n.type === "Identifier") === c.method) continue;
      if (!c.method && parent.get(n) === c.fn) continue; // the declaration's own name
      const call = parent.get(n);
      const home = fnOf(n);
      if (!call || call.type !== "CallExpression" || call.callee !== n || call.optional || home === ast || home.body.type !== "BlockStatement" ||
          call.arguments.some((a) => a.type === "SpreadElement") || text.slice(call.start, call.end).includes("\n") ||
          (c.method && call.callee.object.type === "Super")) { c.bad = true; continue; }
      for (let p = home; p; p = parent.get(p)) {
        if (p === c.fn) c.bad = true; // a call inside its own body
        if (isFunction(p)) for (const x of c.free) if (declared.get(p).has(x)) c.bad = true;
      }
      c.sites.push(call);
      siteOf.set(call, c);
    }
    // A candidate whose body calls another candidate waits for a later round (its sites would copy the call).
    const chosen = new Set();
    for (const c of cands.values()) {
      if (c.bad || c.sites.length === 0) continue;
      let calls = false;
      const cv = (x) => { if (x.type === "CallExpression" && siteOf.has(x) && siteOf.get(x) !== c) calls = true; eachChild(x, cv); };
      cv(c.expr);
      if (!calls) chosen.add(c);
    }
    // Replacement text, built inside out: an argument may itself hold a chosen call.
    const temps = new Map(); // function → the temporaries it declares
    const render = (n) => {
      const subs = [];
      const find = (x) => { if (x !== n && x.type === "CallExpression" && siteOf.has(x) && chosen.has(siteOf.get(x))) subs.push([x.start, x.end, expand(x)]); else eachChild(x, find); };
      if (n.type === "CallExpression" && siteOf.has(n) && chosen.has(siteOf.get(n))) return expand(n);
      find(n);
      subs.sort((a, b) => a[0] - b[0]);
      let s = "", at = n.start;
      for (const [ss, se, t] of subs) { s += text.slice(at, ss) + t; at = se; }
      return s + text.slice(at, n.end);
    };
    const expand = (call) => {
      const c = siteOf.get(call);
      const home = fnOf(call);
      const local = (x) => x.type === "Identifier" && [...declared.entries()].some(([f, names]) => f !== ast && names.has(x.name) && (() => { for (let p = parent.get(call); p; p = parent.get(p)) if (p === f) return true; return false; })());
      const direct = (x) => x.type === "Literal" || x.type === "ThisExpression" || local(x) ||
        (x.type === "UnaryExpression" && (x.operator === "!" || x.operator === "-" || x.operator === "void") && x.argument.type === "Literal") ||
        (c.pure && (x.type === "Identifier" || (x.type === "MemberExpression" && !x.computed && direct(x.object))));
      const constant = (x) => x.type === "Literal" || x.type === "ThisExpression" || (x.type === "UnaryExpression" && x.argument.type === "Literal");
      // A read stays as written only when nothing evaluated after it goes to a temporary: temporaries are
      // assigned first, and one may write what the read reads (`g(x, x = 5)`).
      const items = (c.method ? [call.callee.object] : []).concat(call.arguments);
      const keep = new Set();
      let later = false;
      for (let i = items.length - 1; i >= 0; i--) {
        const x = items[i];
        if (!direct(x)) later = true;
        else if (!later || constant(x)) keep.add(x);
      }
      const pre = [];
      const bind = (x) => {
        if (x === undefined) return "void 0";
        if (keep.has(x)) return text.slice(x.start, x.end);
        const name = "$$" + temp++;
        if (!temps.has(home)) temps.set(home, []);
        temps.get(home).push(name);
        pre.push(name + "=" + (x.type === "SequenceExpression" ? "(" + render(x) + ")" : render(x))); // acorn drops a sequence's parentheses
        return name;
      };
      const self = c.method ? bind(call.callee.object) : null;
      const args = c.params.map((_, i) => bind(call.arguments[i]));
      for (let i = c.params.length; i < call.arguments.length; i++) if (!keep.has(call.arguments[i])) pre.push(render(call.arguments[i])); // evaluated, unused
      const subs = [];
      const sub = (x) => {
        if (x.type === "ThisExpression") { subs.push([x.start, x.end, self]); return; }
        if (x.type === "Identifier" && !isPropName(x) && c.params.includes(x.name)) {
          const t = args[c.params.indexOf(x.name)];
          const p = parent.get(x);
          // A name, a literal or a member chain goes in as it is; anything else in parentheses (`x--1`).
          subs.push([x.start, x.end, p.type === "Property" && p.shorthand ? x.name + ":" + t : /^[\w$]+(\.[\w$]+)*$|^"[^"]*"$/.test(t) ? t : "(" + t + ")"]);
          return;
        }
        eachChild(x, sub);
      };
      sub(c.expr);
      subs.sort((a, b) => a[0] - b[0]);
      let s = "", at = c.expr.start;
      for (const [ss, se, t] of subs) { s += text.slice(at, ss) + t; at = se; }
      s += text.slice(at, c.expr.end);
      const used = c.value || parent.get(call).type !== "ExpressionStatement";
      return "(" + pre.map((p) => p + ",").join("") + s + (!c.value && used ? ",void 0)" : ")");
    };
    // Growth per function decides (measured with temporaries that are then numbered again).
    const firstTemp = temp;
    for (const c of chosen) {
      let added = -(c.def.end - c.def.start);
      for (const call of c.sites) added += expand(call).length - (call.end - call.start);
      if (added > maxGrowth) chosen.delete(c);
    }
    if (chosen.size === 0) break;
    temps.clear();
    temp = firstTemp;
    // The outermost chosen calls are the edits (render() expands those in their arguments).
    const edits = [];
    for (const n of nodes) {
      if (n.type !== "CallExpression" || !siteOf.has(n) || !chosen.has(siteOf.get(n))) continue;
      let inside = false;
      for (let p = parent.get(n); p; p = parent.get(p)) if (p.type === "CallExpression" && siteOf.has(p) && chosen.has(siteOf.get(p)) && p !== n) inside = true;
      if (!inside) edits.push([n.start, n.end, expand(n)]);
    }
    for (const c of chosen) { edits.push([c.def.start, c.def.end, ""]); inlined++; }
    for (const [fn, names] of temps) {
      const at = afterDirectives(fn.body.body, fn.body.start + 1);
      edits.push([at, at, "var " + names.join(",") + ";"]);
    }
    edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < edits.length; i++) if (edits[i][0] < edits[i - 1][1]) throw new Error("build: overlapping inline edits");
    const { lineOf } = lineIndex(text);
    if (edits.some(([s, e, t]) => lineOf(s) !== lineOf(e) || t.includes("\n"))) throw new Error("build: an inline edit spans lines");
    const out = applyEdits(text, JSON.stringify(m), edits);
    text = out.code;
    m = out.map;
  }
  parse(text, { ecmaVersion: 2022, sourceType: "script" }); // still JavaScript
  return { code: text + tail, map: JSON.stringify(m), inlined };
}

const RESERVED_WORDS = new Set(("do if in for let new try var case else enum eval null this true void with await break catch class const " +
  "false super throw while yield delete export import public return static switch typeof default extends finally package private " +
  "continue debugger function arguments interface protected implements instanceof undefined NaN Infinity").split(" "));
/** The n-th short identifier: a…z, A…Z, _, then two characters. */
function shortName(n) {
  const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
  const rest = first + "0123456789";
  if (n < first.length) return first[n];
  n -= first.length;
  return first[Math.floor(n / rest.length) % first.length] + rest[n % rest.length] + (n >= first.length * rest.length ? String(Math.floor(n / (first.length * rest.length))) : "");
}

/**
 * Functions with one caller (or a few, when small) written out there, statements and all (inlineCalls takes
 * one-expression bodies).
 * On Espruino a function costs ~4 variables for as long as it exists, however often it runs; a state machine's
 * entry point, a parser's helper or a codec that one place calls is cheaper as part of that place. The source
 * keeps them apart; the bundle does not.
 * A candidate: a top-level function declaration, or a method of a top-level class whose (renamed) name no other
 * method, key or string spells; parameters plain names; no nested function or class, `arguments`, `super`,
 * `new.target`, and `this` only in a method; its text on one line and at most `maxBody` bytes; every
 * reference a call (no spread) inside a block-bodied function that is not itself, where no scope declares a
 * name the body reads from outside. One caller: written out whatever it adds; two to four: only while the
 * text added stays under `maxGrowth` bytes (on the device a copy costs flash, a function costs RAM).
 * The call's statement is lowered so that the call stands alone: `a(),f(x)` becomes `a();f(x)`, `c&&f(x)` and
 * `c?f(x):y` become `if`s, `return c?f(x):y` becomes `if(c)return f(x);return y`; `let v=f(x)` and `v=f(x)`
 * (v a name, or a member of `this` or of a local) take the value; a statement whose first evaluation is the
 * call (`if(f(x)<0)`, `let a=1,b=f(x)?…`) takes it into a temporary first. Else the statement is put in
 * A-normal form: what it evaluates before the call goes to temporaries in order (but literals, `this`, and the
 * caller's locals when the call's arguments can change none), a `&&`, `||`, `??` or `?:` the call sits in a
 * branch of becomes an `if` filling a temporary, and a `while` or `for` test holding the call is checked at the top
 * of a `for(;;)` body (a `continue` still runs the update, then the test). The call becomes: receiver and
 * arguments into temporaries (short names neither the calling function nor anything written this round reads),
 * in order, then the body with its own names renamed to temporaries (declarations become assignments; `let x;`
 * resets x, and every `var` starts undefined), `this` the receiver, and each `return e` an assignment (or e
 * alone) and a `break` out of a `do{…}while(0)` around the body (Espruino has no labels); a return inside a loop
 * or switch of the body sets a flag each enclosing loop or switch checks after it to break on. With a `try` in
 * the body the value goes through a temporary, so the caller's assignment comes after its catch and finally.
 * Under `return f(x)` the body's returns stay returns. The temporaries are the calling function's `var`s,
 * declared where the body is written out (Espruino makes a `var`'s variable when its statement runs): those only
 * the body spells where the body starts, after what its statement runs first; when a call follows the body in
 * its function, as `let`s in a block around the body, which Espruino frees as the block ends (LET_BLOCK_MIN). A
 * parameter given `this`, a number or a caller's local that cannot change meanwhile takes no temporary, and
 * bodies written out one after another share their temporaries' names (shareTemporaries).
 * Rounds run to a fixed point.
 */
export async function inlineBodies(code, map, mangled, maxBody = 1200, maxGrowth = 500) {
  const { parse } = await import("acorn");
  let { text, tail } = splitMapComment(code);
  let m = typeof map === "string" ? JSON.parse(map) : map;
  let inlined = 0;
  const reasons = new Map();
  for (let round = 0; round < 200; round++) {
    reasons.clear();
    const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
    const { parent, refs, scopes } = resolveNames(ast);
    const { lineOf } = lineIndex(text);
    const oneLine = (n) => lineOf(n.start) === lineOf(n.end);
    const within = (x, n) => n.start <= x.start && x.end <= n.end;
    const fnOf = (n) => { let p = parent.get(n); while (p && !isFunction(p) && p.type !== "Program") p = parent.get(p); return p; };
    const nodes = [];
    const walk = (n) => { nodes.push(n); eachChild(n, walk); };
    walk(ast);
    const unique = uniqueMethods(nodes, mangled);
    // Candidates.
    const cands = new Map();
    for (const n of nodes) {
      let fn = null, name = null, method = false;
      if (n.type === "FunctionDeclaration" && parent.get(n) === ast) { fn = n; name = n.id.name; }
      else if (n.type === "VariableDeclarator" && n.id.type === "Identifier" && n.init !== null && n.init.type === "FunctionExpression" &&
          !n.init.id && parent.get(parent.get(n)) === ast) { fn = n.init; name = n.id.name; } // `var f=function(){…}` (a factory)
      else if (n.type === "MethodDefinition" && n.kind === "method" && !n.static && !n.computed && n.key.type === "Identifier" &&
          unique.has(n.key.name) && fnOf(n) === ast) { fn = n.value; name = n.key.name; method = true; }
      if (fn === null || fn.async || fn.generator || fn.params.some((p) => p.type !== "Identifier") || fn.body.type !== "BlockStatement") continue;
      if (!oneLine(n) || n.end - n.start > maxBody) continue;
      let bad = false;
      const check = (x) => {
        if (x !== fn && (isFunction(x) || x.type === "ClassExpression" || x.type === "ClassDeclaration")) { bad = true; return; }
        if (x.type === "Super" || x.type === "MetaProperty" || x.type === "YieldExpression" || x.type === "AwaitExpression" || x.type === "LabeledStatement") bad = true;
        if (x.type === "ThisExpression" && !method) bad = true;
        if (x.type === "Identifier" && x.name === "arguments") bad = true;
        eachChild(x, check);
      };
      check(fn);
      if (!bad) cands.set(name, { name, method, fn, def: n, refs: [] });
    }
    // References.
    for (const r of refs) {
      const c = cands.get(r.id.name);
      if (c === undefined || c.method || r.scope !== ast || r.parent === c.fn || r.parent === c.def) continue;
      c.refs.push(r.id);
    }
    for (const n of nodes) {
      if (n.type === "MemberExpression" && !n.computed && n.property.type === "Identifier") {
        const c = cands.get(n.property.name);
        if (c !== undefined && c.method) c.refs.push(n);
      }
    }
    // What the body reads from outside must mean the same at the call.
    const inside = (scope, fn) => scope !== null && within(scope, fn);
    // What a body reads from outside it (memoized per candidate): its names, and whether each is visible
    // wherever the body may go (a global or a top-level name; not a class expression's own name, say).
    const freeMemo = new Map();
    const freeRefs = (c) => {
      if (!freeMemo.has(c)) freeMemo.set(c, refs.filter((r) => within(r.id, c.fn.body) && !inside(r.scope, c.fn)));
      return freeMemo.get(c);
    };
    const freeNames = (c) => new Set(freeRefs(c).map((r) => r.id.name));
    // Lowering: the call's statement rewritten so that the call stands alone (null: it cannot be).
    const L = (n) => text.slice(n.start, n.end);
    const paren = (n) => (n.type === "SequenceExpression" ? "(" + L(n) + ")" : L(n));
    const lowerings = (c, call, home) => {
      const localName = (x) => x.type === "Identifier" && refs.some((r) => r.id === x && r.scope !== null && r.scope !== ast && within(call, r.scope) && within(r.scope, home));
      const safeTarget = (x) => x.type === "Identifier" || (x.type === "MemberExpression" && !x.computed && (x.object.type === "ThisExpression" || localName(x.object)));
      const expr = (e) => {
        if (!within(call, e)) return asStatement(L(e));
        if (e === call) return { mode: "none" };
        if (e.type === "SequenceExpression") return seq(e.expressions.map((x) => expr(x)));
        if (e.type === "UnaryExpression" && (e.operator === "void" || e.operator === "!")) return expr(e.argument);
        if (e.type === "LogicalExpression" && within(call, e.right)) return wrap("if(" + (e.operator === "||" ? "!(" + L(e.left) + ")" : e.operator === "&&" ? L(e.left) : null) + "){", expr(e.right), "}", e.operator === "??");
        if (e.type === "ConditionalExpression" && !within(call, e.test)) return ifElse(e, expr);
        if (e.type === "AssignmentExpression" && e.operator === "=" && within(call, e.right) && safeTarget(e.left)) return assign(L(e.left), e.right);
        return null;
      };
      const assign = (lhs, e) => {
        if (e === call) return { mode: "assign", lhs };
        if (e.type === "SequenceExpression") return seq(e.expressions.map((x, i) => (i < e.expressions.length - 1 ? expr(x) : assign(lhs, x))));
        if (e.type === "ConditionalExpression" && !within(call, e.test)) return ifElse(e, (x) => (within(call, x) ? assign(lhs, x) : lhs + "=" + paren(x) + ";"));
        return null;
      };
      const ret = (e) => {
        if (e === call) return { mode: "return" };
        if (e.type === "SequenceExpression") return seq(e.expressions.map((x, i) => (i < e.expressions.length - 1 ? expr(x) : within(call, x) ? ret(x) : "return " + L(x) + ";")));
        if (e.type === "ConditionalExpression" && !within(call, e.test)) return ifElse(e, (x) => (within(call, x) ? ret(x) : "return " + paren(x) + ";"));
        return null;
      };
      // Pieces: strings, and the one place the call goes ({mode, lhs}); null anywhere fails the lowering.
      const seq = (parts) => (parts.some((q) => q === null) ? null : parts);
      const wrap = (open, inner, close, no) => (no || inner === null ? null : [open, inner, close]);
      const ifElse = (e, f) => { const a = f(e.consequent), b = f(e.alternate); return a === null || b === null ? null : ["if(" + L(e.test) + "){", a, "}else{", b, "}"]; };
      // ANF: what a statement evaluates, in order, as statements before the call and an expression after it.
      // Operands evaluated before the call go to temporaries (markers \u0001n\u0001, named when written out) unless
      // the call cannot change them (literals, `this`, the caller's locals when the arguments assign nothing); a
      // `&&`, `||`, `??` or `?:` the call sits in a branch of becomes an `if`. lower(e) gives {pre, res}, or null.
      const marker = (i) => "\u0001" + i + "\u0001";
      let markers = 0;
      const tmp = () => marker(markers++);
      // The caller's locals are stable when nothing evaluated before the body runs can write one: no assignment,
      // update, call (a closure may assign) or `new` among the call's receiver and arguments or the statement's
      // operands before it (anfStatement looks at those).
      let writes = false;
      const findWrite = (x) => { if (x.type === "AssignmentExpression" || x.type === "UpdateExpression" || x.type === "CallExpression" || x.type === "NewExpression" || isFunction(x)) writes = true; else eachChild(x, findWrite); };
      findWrite(call.callee);
      for (const a of call.arguments) findWrite(a);
      const stable = (x) => x.type === "Literal" || x.type === "ThisExpression" || (x.type === "Identifier" && !writes && localName(x)) ||
        (x.type === "TemplateLiteral" && x.expressions.length === 0);
      // An operand's text, parenthesized unless it is a primary expression (an assignment or `?:` is not).
      const opnd = (x) => (/^(Identifier|Literal|ThisExpression|MemberExpression|CallExpression|ArrayExpression|TemplateLiteral)$/.test(x.type) &&
        typeof x.value !== "number" ? L(x) : "(" + L(x) + ")");
      const hoist = (x, pre) => { if (stable(x)) return opnd(x); const t = tmp(); pre.push(t + "=" + paren(x) + ";"); return t; };
      const word = (op) => (/^[a-z]/.test(op) ? " " + op + " " : op);
      const lower = (e) => {
        if (e === call) { const t = tmp(); return { pre: [{ mode: "assign", lhs: t }], res: t }; }
        const pre = [];
        const sub = (x) => { const r = lower(x); if (r === null) return null; pre.push(...r.pre); return r.res; };
        const has = (x) => x !== null && within(call, x);
        switch (e.type) {
          case "SequenceExpression": {
            const i = e.expressions.findIndex(has);
            for (const x of e.expressions.slice(0, i)) pre.push(asStatement(L(x)));
            const r = sub(e.expressions[i]);
            if (r === null) return null;
            const after = e.expressions.slice(i + 1).map(L);
            return { pre, res: after.length ? "(" + [r, ...after].join(",") + ")" : r };
          }
          case "UnaryExpression": {
            if (e.operator === "delete") return null;
            const r = sub(e.argument);
            return r === null ? null : { pre, res: "(" + e.operator + (/^[a-z]/.test(e.operator) ? " " : "") + r + ")" };
          }
          case "BinaryExpression": {
            const l = has(e.left) ? sub(e.left) : hoist(e.left, pre);
            const r = l === null ? null : has(e.left) ? opnd(e.right) : sub(e.right);
            return r === null ? null : { pre, res: "(" + l + word(e.operator) + r + ")" };
          }
          case "LogicalExpression": {
            if (has(e.left)) { const l = sub(e.left); return l === null ? null : { pre, res: "(" + l + e.operator + opnd(e.right) + ")" }; }
            const t = tmp(), r = lower(e.right);
            if (r === null) return null;
            const test = e.operator === "&&" ? t : e.operator === "||" ? "!" + t : t + "==null";
            pre.push(t + "=" + opnd(e.left) + ";", "if(" + test + "){", ...r.pre, t + "=" + r.res + ";", "}");
            return { pre, res: t };
          }
          case "ConditionalExpression": {
            if (has(e.test)) { const c = sub(e.test); return c === null ? null : { pre, res: "(" + c + "?" + opnd(e.consequent) + ":" + opnd(e.alternate) + ")" }; }
            const t = tmp();
            const branch = (x) => { if (!has(x)) return [t + "=" + opnd(x) + ";"]; const r = lower(x); return r === null ? null : [...r.pre, t + "=" + r.res + ";"]; };
            const a = branch(e.consequent), b = branch(e.alternate);
            if (a === null || b === null) return null;
            pre.push("if(" + opnd(e.test) + "){", ...a, "}else{", ...b, "}");
            return { pre, res: t };
          }
          case "MemberExpression": {
            if (e.optional) return null;
            if (has(e.object)) { const o = sub(e.object); return o === null ? null : { pre, res: "(" + o + ")" + (e.computed ? "[" + paren(e.property) + "]" : "." + e.property.name) }; }
            const o = hoist(e.object, pre), r = sub(e.property);
            return r === null ? null : { pre, res: o + "[" + r + "]" };
          }
          case "CallExpression":
          case "NewExpression": {
            if (e.optional || e.arguments.some((a) => a.type === "SpreadElement")) return null;
            const isNew = e.type === "NewExpression";
            let callee;
            const f = e.callee;
            if (has(f)) {
              if (isNew) return null;
              if (f.type === "MemberExpression" && !f.optional && has(f.object) && !(f.computed && has(f.property))) {
                const o = sub(f.object);
                if (o === null) return null;
                callee = "(" + o + ")" + (f.computed ? "[" + L(f.property) + "]" : "." + f.property.name);
              } else { const c = sub(f); if (c === null) return null; callee = "(" + c + ")"; }
              return { pre, res: callee + "(" + e.arguments.map(L).join(",") + ")" };
            }
            let self = null;
            if (f.type === "MemberExpression" && !isNew) {
              // o.m(…, f(x)) looks m up before the arguments: the method goes to a temporary, called on o.
              if (f.optional || f.object.type === "Super") return null;
              self = hoist(f.object, pre);
              callee = tmp();
              pre.push(callee + "=" + self + (f.computed ? "[" + paren(f.property) + "]" : "." + f.property.name) + ";");
            } else callee = hoist(f, pre);
            const i = e.arguments.findIndex(has);
            const args = e.arguments.slice(0, i).map((a) => hoist(a, pre));
            const r = sub(e.arguments[i]);
            if (r === null) return null;
            args.push(r, ...e.arguments.slice(i + 1).map(paren));
            if (self !== null) return { pre, res: callee + ".call(" + [self, ...args].join(",") + ")" };
            return { pre, res: (isNew ? "new " : "") + callee + "(" + args.join(",") + ")" };
          }
          case "AssignmentExpression": {
            if (has(e.left)) return null;
            const l = e.left;
            let target;
            if (/^(\|\||&&|\?\?)=$/.test(e.operator)) return null; // short-circuit assignments
            if (l.type === "Identifier") target = l.name;
            else if (l.type === "MemberExpression" && e.operator === "=" && !l.optional && l.object.type !== "Super") {
              target = hoist(l.object, pre) + (l.computed ? "[" + hoist(l.property, pre) + "]" : "." + l.property.name);
            } else return null;
            // `y+=…` reads y before the right side: its value goes first, `y=old+…` after.
            let old = null;
            if (e.operator !== "=") { old = tmp(); pre.push(old + "=" + target + ";"); }
            const r = sub(e.right);
            if (r === null) return null;
            return { pre, res: "(" + target + "=" + (old === null ? r : old + word(e.operator.slice(0, -1)) + "(" + r + ")") + ")" };
          }
          case "ArrayExpression": {
            if (e.elements.some((x) => x !== null && x.type === "SpreadElement")) return null;
            const i = e.elements.findIndex(has);
            const items = e.elements.slice(0, i).map((x) => (x === null ? "" : hoist(x, pre)));
            const r = sub(e.elements[i]);
            if (r === null) return null;
            items.push(r, ...e.elements.slice(i + 1).map((x) => (x === null ? "" : paren(x))));
            return { pre, res: "[" + items.join(",") + (e.elements[e.elements.length - 1] === null ? ",]" : "]") };
          }
          case "ObjectExpression": {
            if (e.properties.some((p) => p.type !== "Property" || p.computed || p.kind !== "init" || p.method || p.shorthand)) return null;
            const key = (p) => L(p.key) + ":";
            const i = e.properties.findIndex(has);
            const items = e.properties.slice(0, i).map((p) => key(p) + hoist(p.value, pre));
            const r = sub(e.properties[i].value);
            if (r === null) return null;
            items.push(key(e.properties[i]) + r, ...e.properties.slice(i + 1).map((p) => key(p) + paren(p.value)));
            return { pre, res: "({" + items.join(",") + "})" };
          }
          case "TemplateLiteral": {
            const i = e.expressions.findIndex(has);
            // A substitution is made text as it is evaluated: one before the call is, into a temporary.
            const parts = e.expressions.slice(0, i).map((x) => { if (x.type === "Literal") return L(x); const t = tmp(); pre.push(t + "=`${" + L(x) + "}`;"); return t; });
            const r = sub(e.expressions[i]);
            if (r === null) return null;
            parts.push(r, ...e.expressions.slice(i + 1).map(L));
            return { pre, res: "`" + e.quasis.map((q, j) => q.value.raw + (j < parts.length ? "${" + parts[j] + "}" : "")).join("") + "`" };
          }
          default:
            return null;
        }
      };
      const anfStatement = (st, k, declaredBefore, kind) => {
        // What the statement evaluates before the call may write a local (see `writes`); no labels (Espruino has none).
        const before = (x) => {
          if (x.end <= call.start && /^(AssignmentExpression|UpdateExpression|CallExpression|NewExpression)$/.test(x.type)) writes = true;
          else if (x.start < call.start) eachChild(x, before);
        };
        before(st);
        if (parent.get(st).type === "LabeledStatement") return null;
        const from = (x) => text.slice(x.start, st.end);
        const loopTest = (r, body) => ["{", ...r.pre, "if(!(" + r.res + "))break;", L(body), "}"];
        let r;
        switch (st.type) {
          case "ExpressionStatement": r = lower(st.expression); return r ? [...r.pre, asStatement(r.res)] : null;
          case "ReturnStatement": r = st.argument && lower(st.argument); return r ? [...r.pre, "return " + r.res + ";"] : null;
          case "ThrowStatement": r = lower(st.argument); return r ? [...r.pre, "throw " + r.res + ";"] : null;
          case "IfStatement": r = within(call, st.test) && lower(st.test); return r ? [...r.pre, "if(" + r.res + ")" + from(st.consequent)] : null;
          case "SwitchStatement": r = within(call, st.discriminant) && lower(st.discriminant); return r ? [...r.pre, "switch(" + r.res + ")" + text.slice(text.indexOf("{", st.discriminant.end), st.end)] : null;
          case "WhileStatement": r = within(call, st.test) && lower(st.test); return r ? ["for(;;)", ...loopTest(r, st.body)] : null;
          case "ForStatement":
            r = st.test !== null && within(call, st.test) && lower(st.test);
            return r ? ["for(" + (st.init ? L(st.init) : "") + ";;" + (st.update ? L(st.update) : "") + ")", ...loopTest(r, st.body)] : null;
          case "VariableDeclaration": {
            if (k < 0) return null;
            const d = st.declarations[k], after = st.declarations.slice(k + 1);
            r = d.id.type === "Identifier" && d.init && lower(d.init);
            return r ? [declaredBefore + kind + d.id.name + ";", ...r.pre, d.id.name + "=" + r.res + ";", after.length ? st.kind + " " + after.map(L).join(",") + ";" : ""] : null;
          }
          default:
            return null;
        }
      };
      // The statement holding the call.
      let st = call;
      while (!/Statement$|Declaration$/.test(st.type)) st = parent.get(st);
      const holder = parent.get(st);
      // A declaration (not a for's head) is split before the declarator k that holds the call: those before it
      // are declared first, as they were evaluated first; k's is `let` (a `const` has no value yet).
      const k = st.type === "VariableDeclaration" && !/^For/.test(holder.type) ? st.declarations.findIndex((d) => within(call, d)) : -1;
      const declaredBefore = k > 0 ? st.kind + " " + st.declarations.slice(0, k).map(L).join(",") + ";" : "";
      const kind = st.kind === "var" ? "var " : "let ";
      let parts = null;
      if (st.type === "ExpressionStatement") parts = expr(st.expression);
      else if (st.type === "ReturnStatement" && st.argument) parts = ret(st.argument);
      else if (k >= 0) {
        const d = st.declarations[k], after = st.declarations.slice(k + 1);
        const a = d.id.type === "Identifier" && d.init ? assign(d.id.name, d.init) : null;
        if (a !== null) parts = [declaredBefore + kind + d.id.name + ";", a, after.length ? st.kind + " " + after.map(L).join(",") + ";" : ""];
      }
      // Else: the call evaluated first in the statement (on the left edge of what it evaluates) goes before it,
      // its value in a temporary: `if(f(x)<0)…` is `R=f(x);if(R<0)…`.
      if (parts === null) {
        const first = (e) => {
          for (let x = e; x;) {
            if (x === call) return true;
            if (x.type === "BinaryExpression" || x.type === "LogicalExpression") x = x.left;
            else if (x.type === "UnaryExpression" && x.operator !== "delete" && x.operator !== "typeof") x = x.argument;
            else if (x.type === "MemberExpression") x = x.object;
            else if (x.type === "ConditionalExpression") x = x.test;
            else if (x.type === "SequenceExpression") x = x.expressions[0];
            else if (x.type === "CallExpression" && x.callee.type === "MemberExpression") x = x.callee.object;
            else return false;
          }
          return false;
        };
        const head = st.type === "IfStatement" ? st.test : st.type === "ReturnStatement" || st.type === "ThrowStatement" ? st.argument :
          st.type === "ExpressionStatement" ? st.expression : st.type === "SwitchStatement" ? st.discriminant :
          k >= 0 ? st.declarations[k].init : null;
        if (head !== null && first(head)) {
          const r = { mode: "assign", lhs: null }; // the temporary is named when the call is written out
          parts = k > 0 ? [declaredBefore, r, { rest: st, from: st.declarations[k].start, prefix: kind }] : [r, { rest: st }];
        }
      }
      // Else: the statement's expression in order, the call standing alone (see anf below).
      if (parts === null) parts = anfStatement(st, k, declaredBefore, kind);
      if (parts === null) return null;
      if (!Array.isArray(parts)) parts = [parts];
      const listed = holder.type === "BlockStatement" || holder.type === "Program" || holder.type === "SwitchCase" || holder.type === "StaticBlock";
      return { st, parts, braces: !listed };
    };
    // Writes one call out: the new text of its statement, and the temporaries its function must declare.
    const render = (c, { call, home, low, at }) => {
      const temps = [];
      // Short names the calling function and the body do not spell (a temporary shadows nothing either reads).
      const taken = new Set(freeNames(c));
      for (const x of roundNames) taken.add(x); // what this round writes anywhere (a nested function may read it)
      for (const r of refs) if (within(r.id, home)) taken.add(r.id.name);
      for (const [node, names] of scopes) if (within(node, home)) for (const x of names) taken.add(x);
      // Spelled `_$n` while rounds run (unique in the bundle); shareTemporaries names them at the end.
      const fresh = () => {
        const t = TEMP_PREFIX + tempSeq++;
        taken.add(t);
        temps.push(t);
        return t;
      };
      if (at.mode === "assign" && at.lhs === null) at.lhs = fresh();
      const pre = [];
      let self = "this";
      if (c.method && call.callee.object.type !== "ThisExpression") { self = fresh(); pre.push(self + "=" + paren(call.callee.object) + ";"); }
      // The body's own names (parameters, declarations) as temporaries, one per binding.
      const own = new Map();
      const nameFor = (scope, name) => { const k = scope.start + ":" + scope.type + ":" + name; if (!own.has(k)) own.set(k, fresh()); return own.get(k); };
      // A parameter the body never assigns, given `this`, a number or a local of the caller that nothing can
      // change while the body runs, is read as that argument: no temporary. On Espruino every temporary is a
      // variable of the calling frame for as long as it runs, and deep call paths are where the peak is.
      const assigned = new Set();
      const findAssigned = (x) => {
        const target = x.type === "AssignmentExpression" ? x.left : x.type === "VariableDeclarator" ? x.id : x.type === "UpdateExpression" ? x.argument :
          (x.type === "ForInStatement" || x.type === "ForOfStatement") && x.left.type !== "VariableDeclaration" ? x.left : null;
        if (target !== null) { const names = []; patternNames(target, names); for (const n of names) assigned.add(n); }
        eachChild(x, findAssigned);
      };
      findAssigned(c.fn.body);
      let argWrites = false;
      const findArgWrite = (x) => { if (/^(AssignmentExpression|UpdateExpression|CallExpression|NewExpression)$/.test(x.type) || isFunction(x)) argWrites = true; else eachChild(x, findArgWrite); };
      for (const a of call.arguments) findArgWrite(a);
      const closureMentions = (name) => {
        let found = false;
        const look = (x, inFn) => {
          if (found) return;
          if (inFn && x.type === "Identifier" && x.name === name) { found = true; return; }
          eachChild(x, (y) => look(y, inFn || (isFunction(y) && y !== home)));
        };
        look(home, false);
        return found;
      };
      const callerLocal = (x) => refs.some((r) => r.id === x && r.scope !== null && r.scope !== ast && within(call, r.scope) && within(r.scope, home));
      const asIs = (a) => a.type === "ThisExpression" || (a.type === "Literal" && typeof a.value === "number" && a.value >= 0) ||
        (a.type === "Identifier" && !argWrites && callerLocal(a) && !closureMentions(a.name));
      c.fn.params.forEach((p, i) => {
        const a = i < call.arguments.length ? call.arguments[i] : null;
        if (a !== null && !assigned.has(p.name) && asIs(a)) { own.set(c.fn.start + ":" + c.fn.type + ":" + p.name, L(a)); return; }
        const t = nameFor(c.fn, p.name);
        pre.push(t + "=" + (a !== null ? paren(a) : "void 0") + ";");
      });
      // Every call starts the body's `var`s undefined (the temporaries keep the last run's values).
      const vars = [];
      hoistedNames(c.fn.body, vars);
      for (let i = c.fn.params.length; i < call.arguments.length; i++) pre.push("(" + L(call.arguments[i]) + ");"); // evaluated, unused
      for (const v of new Set(vars)) if (!c.fn.params.some((p) => p.name === v)) pre.push(nameFor(c.fn, v) + "=void 0;");
      // With a try in the body, the value goes to a temporary first: the caller's assignment (a setter that
      // throws, a name a finally reads) must come after the body's catch and finally, as after a call.
      let hasTry = false;
      const findTry = (x) => { if (x.type === "TryStatement") hasTry = true; else eachChild(x, findTry); };
      findTry(c.fn.body);
      const target = at.mode === "assign" && hasTry ? fresh() : at.lhs;
      const body = c.fn.body;
      const subs = [];
      for (const r of refs) {
        if (!within(r.id, body) || !inside(r.scope, c.fn)) continue;
        const t = nameFor(r.scope, r.id.name);
        subs.push([r.id.start, r.id.end, r.parent.type === "Property" && r.parent.shorthand ? r.id.name + ":" + t : t]);
      }
      const lastStmt = body.body[body.body.length - 1];
      const early = [];
      // A return inside a loop or switch of the body sets a flag and breaks; after each loop or switch
      // holding one, `if(flag)break;` carries the break out to the do-while.
      let flag = null;
      const carried = new Set();
      const breakable = (x) => /^(ForStatement|ForInStatement|ForOfStatement|WhileStatement|DoWhileStatement|SwitchStatement)$/.test(x.type);
      const visit = (x) => {
        if (x.type === "ThisExpression") subs.push([x.start, x.end, self]);
        else if (x.type === "VariableDeclaration") {
          const loopHead = parent.get(x) && /^(ForStatement|ForInStatement|ForOfStatement)$/.test(parent.get(x).type) && parent.get(x).body !== x;
          subs.push([x.start, x.declarations[0].start, ""]);
          // `let x;` resets x (a loop runs it again); `var x;` and a for-in/of head do not.
          // (not a `let` of this pass's own temporaries, which are set before they are read)
          for (const d of x.declarations) if (d.init === null && x.kind !== "var" && !(loopHead && parent.get(x).type !== "ForStatement") && !d.id.name.startsWith(TEMP_PREFIX)) subs.push([d.end, d.end, "=void 0"]);
        } else if (x.type === "ReturnStatement" && at.mode !== "return") {
          const isTail = x === lastStmt;
          if (!isTail) early.push(x);
          let nested = false;
          for (let p = parent.get(x); p !== body; p = parent.get(p)) if (breakable(p)) { nested = true; carried.add(p); }
          if (nested && flag === null) flag = fresh();
          const end = isTail ? "" : nested ? flag + "=1;break" : "break";
          if (x.argument === null) subs.push([x.start, x.end, at.mode === "assign" ? (isTail ? target + "=void 0;" : "{" + target + "=void 0;" + end + "}") : (isTail ? "" : "{" + end + "}")]);
          else {
            const open = at.mode === "assign" ? target + "=(" : "(";
            subs.push([x.start, x.argument.start, isTail ? open : "{" + open]);
            subs.push([x.argument.end, x.end, isTail ? ");" : ");" + end + "}"]);
          }
        }
        eachChild(x, visit);
      };
      for (const st of body.body) visit(st);
      for (const loop of carried) {
        const p = parent.get(loop);
        const listed = p.type === "BlockStatement" || p.type === "SwitchCase";
        if (!listed) subs.push([loop.start, loop.start, "{"]);
        subs.push([loop.end, loop.end, ";if(" + flag + ")break;" + (listed ? "" : "}")]);
      }
      subs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let bodyText = "", pos = body.start + 1;
      for (const [ss, se, t] of subs) { if (ss < pos) continue; bodyText += text.slice(pos, ss) + t; pos = se; }
      bodyText += text.slice(pos, body.end - 1);
      let inlinedText;
      if (at.mode === "return") inlinedText = pre.join("") + bodyText + (lastStmt && (lastStmt.type === "ReturnStatement" || lastStmt.type === "ThrowStatement") ? "" : ";return");
      else {
        const noTailValue = at.mode === "assign" && !(lastStmt && lastStmt.type === "ReturnStatement") ? ";" + target + "=void 0" : "";
        inlinedText = pre.join("") + (flag !== null ? flag + "=0;" : "") + (early.length > 0 ? "do{" + bodyText + noTailValue + "}while(0)" : bodyText + noTailValue);
        if (target !== at.lhs) inlinedText += ";" + at.lhs + "=" + target;
      }
      let out = low.parts.flat(Infinity).map((q) => (typeof q === "string" ? q : q.rest ? (q.prefix || "") + text.slice(q.from !== undefined ? q.from : q.rest.start, call.start) + at.lhs +
        (/[\w$]/.test(text[call.end]) ? " " : "") + text.slice(call.end, q.rest.end) : "\u0002;")).join("");
      // The lowering's temporaries, named now.
      const named = new Map();
      const name = (t) => t.replace(/\u0001(\d+)\u0001/g, (m0, i) => { if (!named.has(i)) named.set(i, fresh()); return named.get(i); });
      out = name(out);
      inlinedText = name(inlinedText);
      // A temporary only the body spells is declared where the body starts, not before what the statement
      // runs first (`a(),f(x)`): on Espruino a `var` is a variable from when it runs, so one declared before
      // a(), made at once, would be in the frame under a() too (the poll's alarm: 11 under the UA's poll).
      const spelled = (t) => new RegExp("(?<![\\w$])" + t.replace(/\$/g, "\\$") + "(?![\\w$])").test(out);
      const first = temps.filter(spelled), late = temps.filter((t) => !spelled(t));
      // A body with LET_BLOCK_MIN temporaries of its own or more, followed in its function by a call (after its
      // statement, or before it in a loop around both), keeps them in a block of `let`s: Espruino frees a block's
      // scope when the block ends, where a `var` stays in the frame under that call. The block costs ~2 variables
      // while the body runs (a call inside it is then deeper by that much): fewer temporaries do not pay.
      let callsLater = false;
      const again = (x) => {
        if (x.start >= low.st.end) return true;
        for (let p = parent.get(low.st); p && p !== home; p = parent.get(p)) {
          if (/^(For|ForIn|ForOf|While|DoWhile)Statement$/.test(p.type) && !(p.type === "DoWhileStatement" && p.test.type === "Literal" && p.test.value === 0) && within(x, p)) return true;
        }
        return false;
      };
      const look = (x) => {
        if (callsLater || (isFunction(x) && x !== home)) return;
        if ((x.type === "CallExpression" || x.type === "NewExpression") && (x.start >= low.st.end || x.end <= low.st.start) && again(x)) callsLater = true;
        eachChild(x, look);
      };
      if (late.length >= LET_BLOCK_MIN) look(home.body);
      const block = callsLater;
      const lateDecl = late.length > 0 ? (block ? "let " : "var ") + late.join(",") + ";" : "";
      out = out.replace("\u0002", () => (block ? "{" : "") + lateDecl + inlinedText + (block ? "}" : ""));
      // (the growth limit counts the text without its declarations and their block, wherever they are)
      return { text: low.braces ? "{" + out + "}" : out, temps, first, braces: low.braces, declared: shortTemps(lateDecl).length + (block ? 2 : 0) };
    };
    // Choose: a candidate's every call must stand alone in its statement; statements written this round do not
    // hold one another, and no chosen body holds a chosen call. One call: any size up to maxBody; more: only
    // while the text added stays under maxGrowth.
    const chosen = [];
    const roundNames = new Set(); // the temporaries and the outside names this round writes, in any function
    const roundTemps = new Set(); // the temporaries this round declares, in any function
    const why = (c, r) => { reasons.set(c.name, text.slice(c.def.start, c.def.start + 40) + " — " + r); };
    const siteOf = (c, ref) => {
      const call = parent.get(ref);
      if (!call || call.type !== "CallExpression" || call.callee !== ref || call.optional || call.arguments.some((a) => a.type === "SpreadElement")) return "a reference that is not a call";
      if (c.method && ref.object.type === "Super") return "super";
      const home = fnOf(call);
      if (home === ast || home.body.type !== "BlockStatement" || within(call, c.fn)) return "called outside a block-bodied function";
      for (const r of freeRefs(c)) if (r.scope !== null && r.scope !== ast && !within(call, r.scope)) return r.id.name + " is not visible at the call";
      const free = freeNames(c);
      for (let p = parent.get(call); p && p !== ast; p = parent.get(p)) {
        const names = scopes.get(p);
        if (names) for (const x of free) if (names.has(x)) return "the caller declares " + x;
      }
      // A temporary declared this round, in any function, could hide what this body reads (in a function nested
      // in that one, or a global): such a body waits for the next round.
      for (const x of free) if (roundTemps.has(x)) return "waits: this round declares " + x;
      const low = lowerings(c, call, home);
      if (low === null || !oneLine(low.st)) return "lowering " + text.slice(call.start - 30, call.end + 10);
      return { call, home, low, at: low.parts.flat(Infinity).find((q) => typeof q === "object" && q.mode !== undefined) };
    };
    const overlaps = (x, y) => x.start < y.end && y.start < x.end;
    // What goes with a definition: a declarator takes a comma with it, or its whole statement when alone.
    const removal = (def) => {
      if (def.type !== "VariableDeclarator") return [def.start, def.end, ""];
      const list = parent.get(def), i = list.declarations.indexOf(def);
      if (list.declarations.length === 1) return [list.start, list.end, ""];
      return i + 1 < list.declarations.length ? [def.start, list.declarations[i + 1].start, ""] : [list.declarations[i - 1].end, def.end, ""];
    };
    for (const c of cands.values()) {
      if (c.refs.length === 0 || c.refs.length > 4) continue;
      const sites = [];
      let reason = null;
      for (const ref of c.refs) { const site = siteOf(c, ref); if (typeof site === "string") { reason = site; break; } sites.push(site); }
      if (reason !== null) { why(c, reason); continue; }
      if (c.def.type === "VariableDeclarator" && chosen.some((o) => parent.get(o.c.def) === parent.get(c.def))) { why(c, "waits for another"); continue; }
      const stmts = sites.map((x) => x.low.st);
      if (stmts.some((x, i) => stmts.some((y, j) => i !== j && overlaps(x, y))) ||
          chosen.some((o) => o.sites.some((x) => stmts.some((y) => overlaps(x.low.st, y)) || within(x.call, c.fn)) || sites.some((x) => within(x.call, o.c.fn)))) {
        why(c, "waits for another");
        continue;
      }
      const rendered = sites.map((x) => render(c, x));
      if (sites.length > 1) {
        let added = -(c.def.end - c.def.start);
        sites.forEach((x, i) => { added += shortTemps(rendered[i].text).length - rendered[i].declared - (x.low.st.end - x.low.st.start); });
        if (added > maxGrowth) { why(c, sites.length + " calls, " + added + " bytes more"); continue; }
      }
      chosen.push({ c, sites, rendered });
      sites.forEach((x, i) => { for (const t of rendered[i].temps) { roundNames.add(t); roundTemps.add(t); } });
      for (const f of freeNames(c)) roundNames.add(f);
    }
    if (chosen.length === 0) break;
    const edits = [];
    for (const { c, sites, rendered } of chosen) {
      sites.forEach((x, i) => {
        // The temporaries are declared where the body is written out: on Espruino a `var` makes its variable
        // when the statement runs, so one at the top of the function would make every temporary of every
        // body written out there on each call (a frame of ~140 variables in the transaction layer's receive).
        // A statement standing alone as an if's or a loop's body is braced with them (it is no declaration).
        const r = rendered[i], decl = r.first.length > 0 ? "var " + r.first.join(",") + ";" : "";
        const listed = /^(BlockStatement|SwitchCase|StaticBlock)$/.test(parent.get(x.low.st).type);
        let t = r.text;
        if (decl !== "" && r.braces) t = "{" + decl + t.slice(1);
        else if (decl !== "" && listed) t = decl + t;
        else if (decl !== "") t = "{" + decl + t + "}";
        edits.push([x.low.st.start, x.low.st.end, t]);
      });
      edits.push(removal(c.def));
      inlined++;
    }
    edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < edits.length; i++) if (edits[i][0] < edits[i - 1][1]) throw new Error("build: overlapping inlineBodies edits");
    if (edits.some(([s, e, t]) => lineOf(s) !== lineOf(e) || t.includes("\n"))) throw new Error("build: an inlineBodies edit spans lines");
    const out = applyEdits(text, JSON.stringify(m), edits);
    text = out.code;
    m = out.map;
  }
  if (process.env.DOORSIP_DEBUG_INLINE) for (const [name, r] of reasons) console.log("inlineBodies: kept " + name + ": " + r);
  const shared = shareTemporaries(text, JSON.stringify(m), parse);
  parse(shared.code, { ecmaVersion: 2022, sourceType: "script" }); // still JavaScript
  return { code: shared.code + tail, map: shared.map, inlined };
}

/** The fewest temporaries of its own an inlined body keeps in a block of `let`s (see render in inlineBodies). */
const LET_BLOCK_MIN = 3;

/** How inlineBodies spells a temporary until shareTemporaries names it. */
const TEMP_PREFIX = "_$";
const TEMP_RE = /(?<![\w$])_\$\d+(?![\w$])/g;
let tempSeq = 0;
/** Text with its `_$n` temporaries at the length they will have once named (two characters), for growth limits. */
function shortTemps(t) {
  return t.replace(TEMP_RE, "aa");
}

/**
 * Names inlineBodies' temporaries, sharing names within a function: a temporary lives from the start of the
 * statement written out for its body (which assigns it before any read: parameters, `var`s set undefined,
 * lowering temporaries) to its last use in that text, so two whose texts do not overlap can be one variable.
 * On Espruino each name a frame declares is a variable for as long as the frame runs, and the peak is in the
 * deepest frames: a function with bodies written out one after another needs the most of them at once, not the
 * sum. Intervals are coloured greedily in text order with the shortest names the function does not spell.
 */
function shareTemporaries(text, map, parse) {
  const at = new Map(); // name -> offsets of its occurrences
  for (const mt of text.matchAll(TEMP_RE)) {
    if (!at.has(mt[0])) at.set(mt[0], []);
    at.get(mt[0]).push(mt.index);
  }
  if (at.size === 0) return { code: text, map };
  const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
  // A loop runs its text again: a temporary used in a loop and also before it or in its head (a for's update
  // is written before the body but runs after it) lives through the whole loop.
  const loops = [];
  const findLoops = (n) => { if (/^(For|ForIn|ForOf|While|DoWhile)Statement$/.test(n.type)) loops.push(n); eachChild(n, findLoops); };
  findLoops(ast);
  // A temporary declared with `let` (inlineBodies' blocks) lives to its block's end: a `var` of the same name
  // declared inside that block would not be JavaScript.
  const letEnd = new Map();
  const findLets = (n, block) => {
    if (n.type === "VariableDeclaration" && n.kind === "let" && block !== null) {
      for (const d of n.declarations) if (d.id.type === "Identifier" && at.has(d.id.name)) letEnd.set(d.id.name, block.end);
    }
    eachChild(n, (c) => findLets(c, n.type === "BlockStatement" ? n : isFunction(n) ? null : block));
  };
  findLets(ast, null);
  const occ = new Map(); // name -> [start, end] of its life in the text
  for (const [name, offs] of at) {
    const span = [offs[0], Math.max(offs[offs.length - 1] + name.length, letEnd.get(name) || 0)];
    for (const l of loops) {
      if (!offs.some((o) => l.start <= o && o < l.end)) continue;
      if (offs.some((o) => o < l.body.start || o >= l.body.end)) { span[0] = Math.min(span[0], l.start); span[1] = Math.max(span[1], l.end); }
    }
    occ.set(name, span);
  }
  // The innermost function (or the program) holding each temporary, and every name spelled in each function.
  const fns = [];
  const spelled = new Map();
  const visit = (n, chain) => {
    const own = isFunction(n) || n.type === "Program";
    const next = own ? [...chain, n] : chain;
    if (own) { fns.push(n); spelled.set(n, new Set()); }
    if (n.type === "Identifier") for (const f of next) spelled.get(f).add(n.name);
    eachChild(n, (c) => visit(c, next));
  };
  visit(ast, []);
  const innermost = (pos) => { let best = ast; for (const f of fns) if (f.start <= pos && pos < f.end && f.start >= best.start && f !== ast) best = f; return best; };
  const byOwner = new Map();
  for (const [name, span] of occ) {
    const f = innermost(span[0]);
    if (!byOwner.has(f)) byOwner.set(f, []);
    byOwner.get(f).push({ name, start: span[0], end: span[1] });
  }
  const rename = new Map();
  for (const [f, temps] of byOwner) {
    const taken = spelled.get(f);
    const names = []; // colour index -> [name, end of its last interval]
    let k = 0;
    const nextName = () => { let t; do { t = shortName(k++); } while (taken.has(t) || RESERVED_WORDS.has(t)); return t; };
    temps.sort((a, b) => a.start - b.start);
    for (const t of temps) {
      let slot = names.find((x) => x[1] <= t.start);
      if (slot === undefined) { slot = [nextName(), 0]; names.push(slot); }
      slot[1] = t.end;
      rename.set(t.name, slot[0]);
    }
  }
  const edits = [];
  for (const mt of text.matchAll(TEMP_RE)) edits.push([mt.index, mt.index + mt[0].length, rename.get(mt[0])]);
  const out = applyEdits(text, map, edits);
  return { code: out.code, map: JSON.stringify(out.map) };
}

/**
 * Parameters read from `arguments` instead of being declared. Espruino keeps one variable per declared
 * parameter name with every function object, for as long as the function exists; `var a=arguments[0]` costs
 * variables only while the function runs. Measured on the firmware from Storage (2v29): the call's peak
 * 8,592 -> 7,684 variables, for 14.6 KB more minified text (0.7 KB gzipped) and no time difference above the
 * noise per SIP message or RTP tick. Only functions not nested in another function are rewritten: Espruino
 * resolves `arguments` in a nested function to the enclosing function's (a closure keeps its parameters).
 * Arrow functions are left alone (they have no `arguments` of their own). A parameter read in at most
 * DIRECT_READS places, each a plain read outside loops and nested functions, is read as `arguments[i]` where it
 * stands instead of through a local: the local is a variable more in each of the function's frames, and the
 * firmware's peak is in deep call paths (the 200 to a BYE: −31 variables, for a lookup per read).
 */
const DIRECT_READS = Number(process.env.DOORSIP_DIRECT_READS || 3);
export async function paramsToArguments(code, map) {
  const { parse } = await import("acorn");
  const ast = parse(code, { ecmaVersion: 2022, sourceType: "script" });
  const { lineOf } = lineIndex(code);
  const kept = await keepsParams(code, map);
  const { parent, refs } = resolveNames(ast);
  const refsOf = new Map(); // function node -> name -> its references in the body
  for (const r of refs) {
    if (r.scope === null || !isFunction(r.scope)) continue;
    if (!refsOf.has(r.scope)) refsOf.set(r.scope, new Map());
    const byName = refsOf.get(r.scope);
    if (!byName.has(r.id.name)) byName.set(r.id.name, []);
    byName.get(r.id.name).push(r);
  }
  // A reference read where it stands: not written, not called (`arguments[0]()` would get `arguments` as
  // `this`), not in a loop (each pass would look it up again) nor in a nested function.
  const plainRead = (r, fn) => {
    const p = r.parent;
    if ((p.type === "AssignmentExpression" && r.key === "left") || p.type === "UpdateExpression" || (p.type === "VariableDeclarator" && r.key === "id") ||
        ((p.type === "ForInStatement" || p.type === "ForOfStatement") && r.key === "left") || /Pattern$|RestElement/.test(p.type) ||
        (p.type === "CallExpression" && r.key === "callee") || (p.type === "Property" && p.shorthand && parent.get(p) && parent.get(p).type === "ObjectPattern")) return false;
    for (let x = p; x && x !== fn; x = parent.get(x)) {
      if (isFunction(x)) return false;
      if (/^(For|ForIn|ForOf|While)Statement$/.test(x.type)) return false;
      // the inliner's do{…}while(0) runs once
      if (x.type === "DoWhileStatement" && !(x.test.type === "Literal" && x.test.value === 0)) return false;
    }
    return true;
  };
  const edits = [];
  const walk = (n, inFunction) => {
    const isFn = isFunction(n);
    // Only functions not nested in another: Espruino resolves `arguments` in a nested function to the outer one's.
    if (!inFunction && (n.type === "FunctionDeclaration" || n.type === "FunctionExpression") && n.params.length > 0 &&
        n.params.every((p) => p.type === "Identifier") && n.body.type === "BlockStatement" && !kept(n)) {
      const first = n.params[0], last = n.params[n.params.length - 1];
      const open = n.body.start + 1;
      if (lineOf(first.start) === lineOf(last.end)) {
        // Only the parameters the body reads (a callback's unused ones cost nothing then). One read in at most
        // DIRECT_READS places, each a plain read, is read from `arguments` there: a copy in a local is a variable
        // more in every frame of the function (a deep call path has many).
        const byName = refsOf.get(n) || new Map();
        const vars = [];
        n.params.forEach((p, i) => {
          const rs = (byName.get(p.name) || []).filter((r) => n.body.start <= r.id.start && r.id.end <= n.body.end);
          if (rs.length === 0) return;
          if (rs.length > DIRECT_READS || n.params.some((q, j) => j !== i && q.name === p.name) || !rs.every((r) => plainRead(r, n))) { vars.push(p.name + "=arguments[" + i + "]"); return; }
          for (const r of rs) edits.push([r.id.start, r.id.end, (r.parent.type === "Property" && r.parent.shorthand ? p.name + ":" : "") + "arguments[" + i + "]"]);
        });
        edits.push([first.start, last.end, ""]);
        if (vars.length > 0) edits.push([open, open, "var " + vars.join(",") + ";"]);
      }
    }
    eachChild(n, (c) => walk(c, inFunction || isFn));
  };
  walk(ast, false);
  edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // the declarations go in before a read at the body's start
  const out = applyEdits(code, map, edits);
  return { code: out.code, map: JSON.stringify(out.map) };
}

/**
 * Which functions keep their declared parameters: those whose doc comment in the source says @keepParams. A frame
 * that reads `arguments` holds a copy of them (3 + n variables on Espruino) and its locals copied from it; a
 * declared parameter costs 1 for as long as the function exists. For the frames under every send (the peak's
 * path), declared parameters cost less. A function node is found in the source through the map.
 */
async function keepsParams(code, map) {
  const { TraceMap, originalPositionFor } = await import("@jridgewell/trace-mapping");
  const m = typeof map === "string" ? JSON.parse(map) : map;
  const tm = new TraceMap(m);
  const li = lineIndex(code);
  const lines = new Map(); // source -> its lines
  return (n) => {
    const o = originalPositionFor(tm, { line: li.lineOf(n.start) + 1, column: li.columnOf(n.start) });
    if (!o.source || o.line === null) return false;
    if (!lines.has(o.source)) {
      const i = m.sources.indexOf(o.source);
      lines.set(o.source, m.sourcesContent && i >= 0 && m.sourcesContent[i] ? m.sourcesContent[i].split("\n") : []);
    }
    const src = lines.get(o.source);
    // The comment lines right above the declaration.
    for (let l = o.line - 2; l >= 0; l--) {
      const t = src[l].trim();
      if (!(t.startsWith("*") || t.startsWith("/*") || t.startsWith("//"))) break;
      if (t.includes("@keepParams")) return true;
    }
    return false;
  };
}

// Names a scope node declares: `var`s hoisted to functions and the program, the rest to their block.
function hoistedNames(n, out) {
  if (n.type === "VariableDeclaration" && n.kind === "var") for (const d of n.declarations) patternNames(d.id, out);
  if (!isFunction(n)) eachChild(n, (c) => hoistedNames(c, out));
}
function lexicalNames(stmts, out) {
  for (const s of stmts) {
    if (s.type === "VariableDeclaration" && s.kind !== "var") for (const d of s.declarations) patternNames(d.id, out);
    else if ((s.type === "FunctionDeclaration" || s.type === "ClassDeclaration") && s.id) out.push(s.id.name);
  }
}
const SCOPE_NODE = /^(BlockStatement|StaticBlock|SwitchStatement|ForStatement|ForInStatement|ForOfStatement|CatchClause|ClassExpression)$/;
/** The names a scope node (the program, a function, a block, a for, a catch, a named class expression) declares. */
function scopeNames(n) {
  const out = [];
  if (n.type === "Program") { hoistedNames(n, out); lexicalNames(n.body, out); }
  else if (isFunction(n)) {
    n.params.forEach((p) => patternNames(p, out));
    if (n.type === "FunctionExpression" && n.id) out.push(n.id.name);
    if (n.type !== "ArrowFunctionExpression") out.push("arguments");
    if (n.body.type === "BlockStatement") { hoistedNames(n.body, out); lexicalNames(n.body.body, out); }
  } else if (n.type === "BlockStatement" || n.type === "StaticBlock") lexicalNames(n.body, out);
  else if (n.type === "SwitchStatement") for (const c of n.cases) lexicalNames(c.consequent, out);
  else if (n.type === "ForStatement" || n.type === "ForInStatement" || n.type === "ForOfStatement") {
    const init = n.type === "ForStatement" ? n.init : n.left;
    if (init && init.type === "VariableDeclaration" && init.kind !== "var") lexicalNames([init], out);
  } else if (n.type === "CatchClause" && n.param) patternNames(n.param, out);
  else if (n.type === "ClassExpression" && n.id) out.push(n.id.name);
  return new Set(out);
}

/**
 * Every name read or declared in a program, with the scope node that declares it (null: a global): refs
 * [{ id, scope, parent, key }]; parent maps each node to its parent; scopes maps a scope node to its names.
 * Property names, keys and labels are not names.
 */
function resolveNames(ast) {
  const parent = new Map(), refs = [], scopes = new Map();
  const visit = (n, chain, p, key) => {
    if (p !== null) parent.set(n, p);
    if (n.type === "Identifier") {
      const isKey = p && !p.computed && ((p.type === "MemberExpression" && key === "property") ||
        ((p.type === "Property" || p.type === "MethodDefinition" || p.type === "PropertyDefinition") && key === "key"));
      const isLabel = p && (p.type === "LabeledStatement" || p.type === "BreakStatement" || p.type === "ContinueStatement") && key === "label";
      if (isKey || isLabel || p.type === "MetaProperty") return;
      let i = chain.length - 1;
      while (i >= 0 && !chain[i][1].has(n.name)) i--;
      refs.push({ id: n, scope: i >= 0 ? chain[i][0] : null, parent: p, key });
      return;
    }
    // A declaration's name belongs to the scope around it; a function's or class's body to its own.
    const decl = n.type === "FunctionDeclaration" || n.type === "ClassDeclaration";
    if (decl && n.id) visit(n.id, chain, n, "id");
    const own = n.type === "Program" || isFunction(n) || SCOPE_NODE.test(n.type) ? scopeNames(n) : null;
    if (own !== null) scopes.set(n, own);
    const inner = own !== null && own.size > 0 ? chain.concat([[n, own]]) : chain;
    eachChild(n, (c, k) => { if (!(decl && k === "id")) visit(c, inner, n, k); });
  };
  visit(ast, [], null, null);
  return { parent, refs, scopes };
}

/**
 * Makes the bundle a script that also runs at Espruino's root: every top-level binding is renamed `$name`
 * and `module.exports = X` becomes "module.exports = X where there is a module, else the global `globalName`".
 * Why: a function made at the root keeps no scope link, one variable less per function than in a module's
 * scope (411 variables for the firmware's ~455 functions, measured on 2v29), and `eval(require("Storage")
 * .read(file))` at the root keeps the bodies in flash as require() does. The `$` keeps the bundle's names apart
 * from Espruino's globals (`E`, the pins `D5`, `A0`) and from the names a user's own code gives. A reference
 * resolves through block, function, catch and class scopes; a new name that any scope already spells stops the
 * build rather than being captured there.
 */
export async function rootScript(code, map, globalName) {
  const { parse } = await import("acorn");
  const ast = parse(code, { ecmaVersion: 2022, sourceType: "script" });
  const top = scopeNames(ast);
  const spelled = new Set();
  const edits = [];
  for (const r of resolveNames(ast).refs) {
    spelled.add(r.id.name); // a variable's name (property names and labels cannot capture one)
    if (r.scope !== ast) continue;
    // `{a}` is `{a: a}` (acorn gives the value its own node, with the key's range).
    const shorthand = r.parent.type === "Property" && r.parent.shorthand;
    edits.push([r.id.start, r.id.start, (shorthand ? r.id.name + ":" : "") + "$", true]); // the name's mapping stays at its start
  }
  for (const name of top) if (spelled.has("$" + name)) throw new Error(`build: rootScript would rename ${name} to $${name}, a name the bundle already spells`);
  // The export: module.exports where there is a module (require, Node), else a global of the root.
  const last = ast.body[ast.body.length - 1];
  const e = last && last.type === "ExpressionStatement" ? last.expression : null;
  if (!(e && e.type === "AssignmentExpression" && e.left.type === "MemberExpression" && !e.left.computed &&
      e.left.object.name === "module" && e.left.property.name === "exports")) {
    throw new Error("build: rootScript expects the bundle to end with module.exports = …");
  }
  if (e.right.type === "Identifier" && top.has(e.right.name)) {
    edits.push([last.start, last.start, 'typeof module<"u"?'], [e.right.end, e.right.end, ":" + globalName + "=$" + e.right.name]);
  } else {
    if (spelled.has("$exports")) throw new Error("build: rootScript needs $exports, a name the bundle already spells");
    edits.push([e.left.start, e.right.start, "var $exports="],
      [e.right.end, e.right.end, ';typeof module<"u"?module.exports=$exports:' + globalName + "=$exports"]);
  }
  edits.sort((a, b) => a[0] - b[0]);
  const out = applyEdits(code, map, edits);
  return { code: out.code, map: JSON.stringify(out.map) };
}

/**
 * The root script's top-level classes (`class X{…}`, `var X=class{…}`) for flattenClasses and prototypeObjects,
 * each with its references but its binding; free(base) gives a name nothing in the script spells.
 */
async function rootClasses(code) {
  const { parse } = await import("acorn");
  const { text, tail } = splitMapComment(code);
  const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
  const { refs } = resolveNames(ast);
  const used = new Set(refs.map((r) => r.id.name));
  const free = (base) => { let n = base, i = 0; while (used.has(n)) n = base + i++; used.add(n); return n; };
  const candidates = [];
  for (const st of ast.body) {
    if (st.type === "ClassDeclaration") candidates.push({ cls: st, name: st.id.name, decl: true });
    else if (st.type === "VariableDeclaration") {
      for (const d of st.declarations) if (d.id.type === "Identifier" && d.init && d.init.type === "ClassExpression" && !d.init.id) candidates.push({ cls: d.init, name: d.id.name, decl: false });
    }
  }
  for (const c of candidates) {
    const { cls, name, decl } = c;
    c.uses = refs.filter((r) => r.id.name === name && r.scope === ast && r.id !== (decl ? cls.id : null) && !(r.parent.type === "VariableDeclarator" && r.parent.id === r.id));
  }
  return { text, tail, used, free, candidates };
}

/** The class passes' result: their edits sorted and applied, the source map moved and the map comment back on. */
function classPassOut(text, tail, map, edits) {
  edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = applyEdits(text, typeof map === "string" ? map : JSON.stringify(map), edits);
  return { code: out.code + tail, map: JSON.stringify(out.map) };
}

/** True when reference r is the callee of a `new X…` spelled plainly (not `new (X)`). */
function plainNew(text, r) {
  return r.parent.type === "NewExpression" && r.parent.callee === r.id && /^new\s*$/.test(text.slice(r.parent.start, r.id.start));
}

/** Edits turning each `new X(…)` (uses: references to X, each a plain NewExpression's callee) into the call `X(…)`. */
function newsToCalls(text, uses, edits) {
  for (const r of uses) {
    const n = r.parent;
    edits.push([n.start, r.id.start, ""]);
    if (text[n.end - 1] !== ")") edits.push([n.end, n.end, "()"]);
  }
}

/**
 * Classes left with nothing but a constructor (their methods dropped or inlined) become factories: on
 * Espruino a class costs its prototype, the names "prototype" and "constructor" (two variables each) and every
 * instance a "__proto__" name (two more); a plain object costs none of them. A candidate: a top-level class with
 * no superclass, no other member, a constructor with no nested function, no `return`, `super` or `new.target`,
 * whose every reference is `new X(…)`. It becomes `function X(…){var o={};…(this as o)…;return o}` and each
 * `new X(…)` a call `X(…)`. Runs on the root script (names final).
 */
export async function flattenClasses(code, map) {
  const { text, tail, free, candidates } = await rootClasses(code);
  const obj = free("$$o");
  const edits = [];
  let flattened = 0;
  for (const { cls, name, decl, uses } of candidates) {
    if (cls.superClass || cls.body.body.length !== 1) continue;
    const ctor = cls.body.body[0];
    if (ctor.type !== "MethodDefinition" || ctor.kind !== "constructor" || ctor.static) continue;
    const fn = ctor.value;
    let bad = fn.params.some((p) => p.type !== "Identifier");
    const thisNodes = [];
    const check = (x) => {
      if (x !== fn && (isFunction(x) || x.type === "ClassExpression" || x.type === "ClassDeclaration")) { bad = true; return; }
      if (x.type === "ReturnStatement" || x.type === "Super" || x.type === "MetaProperty") bad = true;
      if (x.type === "ThisExpression") thisNodes.push(x);
      eachChild(x, check);
    };
    check(fn);
    if (bad || uses.some((r) => !plainNew(text, r))) continue;
    // The class becomes a factory; `this` the object it fills.
    const params = fn.params.map((p) => p.name).join(",");
    const bodyStart = fn.body.start + 1;
    edits.push([cls.start, bodyStart, (decl ? "function " + name : "function") + "(" + params + "){" ]);
    // `var o={};` first in the body (before the `var a=arguments[0]` of paramsToArguments: it reads no `this`).
    edits.push([bodyStart, bodyStart, "var " + obj + "={};"]);
    for (const t of thisNodes) edits.push([t.start, t.end, obj]);
    edits.push([fn.body.end - 1, cls.end, ";return " + obj + "}"]);
    newsToCalls(text, uses, edits);
    flattened++;
  }
  return { ...classPassOut(text, tail, map, edits), flattened };
}

/**
 * Classes with methods become a prototype object and a factory: on Espruino a class costs its constructor as a
 * function of its own beside the methods, a prototype reached through a "prototype" name, and a "constructor"
 * name back (seven variables with the constructor); an object literal of methods and a factory making
 * instances with Object.create cost three fewer, and a factory called once is a body inlineBodies can write
 * out (four more). A candidate: a top-level class with only plain non-static methods with names (a constructor
 * first, if any), no `new.target`, a constructor with no `return`, whose every reference is `new X(…)`.
 * `var X=class{constructor(a){…}m(){…}}` becomes
 * `var X=function(a){var o=Object.create(X$p);…(this as o, arrows included)…;return o},X$p={m(){…}}`,
 * and each `new X(…)` a call `X(…)`.
 * A base class only extended (never `new`ed) by such classes, with a constructor, is kept as its constructor (a
 * function its subclasses' factories call on the new object) and `B$p={…}`; a subclass's prototype object is
 * `{__proto__:B$p,…}`, its `super(…)` is `B.call(o,…)` (`B.apply(o,arguments)` without a constructor) and
 * `super.m(…)` is `B$p.m.call(this,…)`.
 * Instances differ in what no device code asks: their prototype's `constructor` is Object's, `for…in` would
 * list the methods (the bundle has no `for…in` over them), and the methods and factories run in the script's
 * mode, not a class's strict mode (Espruino has no strict mode; TypeScript rejects undeclared names, and a
 * detached method call or a write to `arguments` is not in the sources). The prototype object's name maps where its
 * class was. Runs on the root script (names final), after flattenClasses.
 */
export async function prototypeObjects(code, map) {
  const { text, tail, free, candidates } = await rootClasses(code);
  const obj = free("$$o");
  const edits = [];
  let rewritten = 0;
  const byName = new Map(candidates.map((c) => [c.name, c]));
  const isNew = (r) => plainNew(text, r);
  const isExtends = (r) => (r.parent.type === "ClassExpression" || r.parent.type === "ClassDeclaration") && r.parent.superClass === r.id;
  // The shape every rewritten class has; the walk of its code finds `this` and `super` where they stand.
  const shape = (c) => {
    const members = c.cls.body.body;
    if (members.length === 0 || members.some((m) => m.type !== "MethodDefinition")) return false;
    c.ctor = members[0].kind === "constructor" ? members[0] : null;
    c.methods = c.ctor === null ? members : members.slice(1);
    if (members.some((m) => m.static || m.computed || (m !== c.ctor && (m.kind !== "method" || m.key.type !== "Identifier")))) return false;
    let bad = false;
    c.thisNodes = []; c.superCalls = []; c.superMembers = [];
    // `this` in the constructor and its arrows is the new object (a nested function or class has its own); a
    // `return` of the constructor's own (not an arrow's) would change what `new` gives; `super(…)` stands in
    // the constructor's own code, `super.m(…)` in a method's.
    // `super(…)` is taken where its value goes unused: a statement, or a sequence that is one.
    const unused = (up, up2) => up.type === "ExpressionStatement" || (up.type === "SequenceExpression" && up2 !== null && up2.type === "ExpressionStatement");
    const inCtor = (x, up, own, arrow, up2) => {
      if (x.type === "MetaProperty") bad = true;
      if (x.type === "CallExpression" && x.callee.type === "Super" && !unused(up, up2)) bad = true;
      if (x.type === "Super") {
        if (own && !arrow && up.type === "CallExpression" && up.callee === x && !up.arguments.some((a) => a.type === "SpreadElement")) c.superCalls.push(up);
        else bad = true;
      }
      if (x.type === "ReturnStatement" && own && !arrow) bad = true;
      if (x.type === "ThisExpression" && own) c.thisNodes.push(x);
      eachChild(x, (ch) => inCtor(ch, x, own && !ownsThis(x), arrow || ch.type === "ArrowFunctionExpression", up));
    };
    if (c.ctor !== null) eachChild(c.ctor.value.body, (ch) => inCtor(ch, c.ctor.value.body, true, false, null));
    const inMethod = (x, up, upper, own) => {
      if (x.type === "MetaProperty") bad = true;
      if (x.type === "Super") {
        if (own && up.type === "MemberExpression" && up.object === x && !up.computed && upper.type === "CallExpression" && upper.callee === up &&
            !upper.arguments.some((a) => a.type === "SpreadElement")) c.superMembers.push([up, upper]);
        else bad = true;
      }
      eachChild(x, (ch) => inMethod(ch, x, up, own && !ownsThis(x)));
    };
    for (const m of c.methods) eachChild(m.value.body, (ch) => inMethod(ch, m.value.body, m.value, true));
    return !bad;
  };
  for (const c of candidates) c.ok = shape(c);
  // Bases: no superclass, a constructor, never `new`ed, extended only by candidates that are themselves only `new`ed.
  const ofClass = (cls) => candidates.find((c) => c.cls === cls);
  const base = (name) => {
    const b = byName.get(name);
    return b !== undefined && b.ok && !b.cls.superClass && b.ctor !== null && b.superCalls.length === 0 && b.superMembers.length === 0 &&
      b.uses.length > 0 && b.uses.every((r) => { const sub = isExtends(r) ? ofClass(r.parent) : undefined; return sub !== undefined && sub.ok && sub.uses.every(isNew); });
  };
  const protoOf = new Map();
  const protoName = (c) => { if (!protoOf.has(c.name)) protoOf.set(c.name, free(c.name + "$p")); return protoOf.get(c.name); };
  for (const c of candidates) {
    const { cls, name, decl, uses, ctor, methods } = c;
    if (!c.ok) continue;
    const proto = protoName(c);
    const sep = decl ? ";var " : ",";
    // The prototype object's start, after the constructor (parentProto: its `__proto__:…` key, or "").
    const protoHead = (parentProto) => [ctor.end, methods.length ? methods[0].start : cls.end,
      sep + proto + "={" + parentProto + (methods.length ? "" : "}" + (decl ? ";" : "")), false, [sep.length, cls.start]];
    const closeMethods = () => {
      for (let i = 0; i < methods.length; i++) {
        const m = methods[i];
        edits.push([m.end, i + 1 < methods.length ? methods[i + 1].start : cls.end, i + 1 < methods.length ? "," : "}" + (decl ? ";" : "")]);
      }
    };
    if (!cls.superClass && base(name)) {
      // A base: its constructor stays a function (called on the subclass's object), its methods an object.
      edits.push([cls.start, ctor.value.start, decl ? "function " + name : "function"]);
      edits.push(protoHead(""));
      closeMethods();
      rewritten++;
      continue;
    }
    let parentProto = "";
    if (cls.superClass) {
      if (cls.superClass.type !== "Identifier" || !base(cls.superClass.name)) continue;
      parentProto = "__proto__:" + protoName(byName.get(cls.superClass.name)) + (methods.length ? "," : "");
    } else if (methods.length === 0 || c.superCalls.length || c.superMembers.length) continue; // no methods: flattenClasses' case
    if (uses.some((r) => !isNew(r))) continue;
    const superName = cls.superClass ? cls.superClass.name : "";
    const make = "var " + obj + "=Object.create(" + proto + ");";
    // The factory, where the class started.
    if (ctor !== null) {
      edits.push([cls.start, ctor.value.start, decl ? "function " + name : "function"]);
      edits.push([ctor.value.body.start + 1, ctor.value.body.start + 1, make]);
      for (const t of c.thisNodes) edits.push([t.start, t.end, obj]);
      for (const call of c.superCalls) edits.push([call.callee.start, text.indexOf("(", call.callee.end) + 1, superName + ".call(" + obj + (call.arguments.length ? "," : "")]);
      edits.push([ctor.value.body.end - 1, ctor.value.body.end - 1, ";return " + obj]);
      edits.push(protoHead(parentProto));
    } else {
      const body = superName ? make + superName + ".apply(" + obj + ",arguments);return " + obj : "return Object.create(" + proto + ")";
      const head = (decl ? "function " + name : "function") + "(){" + body + "}" + sep;
      edits.push([cls.start, methods[0].start, head + proto + "={" + parentProto, false, [head.length, cls.start]]);
    }
    for (const [m, call] of c.superMembers) {
      const open = text.indexOf("(", m.end) + 1;
      edits.push([m.start, m.end, protoName(byName.get(superName)) + "." + m.property.name + ".call"], [open, open, "this" + (call.arguments.length ? "," : "")]);
    }
    closeMethods();
    newsToCalls(text, uses, edits);
    rewritten++;
  }
  return { ...classPassOut(text, tail, map, edits), rewritten };
}

/**
 * Shared constants for the values objects keep: on Espruino a field holding `true`, `false`, `null` or ""
 * costs two variables (its name and a value of its own: every `!0`, `null` or `""` evaluated makes one),
 * one when the value is a variable the field shares. Where a value is stored (assigned to a property or a
 * top-level name, in an object or array literal), these literals become four top-level names declared
 * first (`var $T=!0,$F=!1,$N=null,$E=""`, a digit added to a name the bundle has), and a stored boolean
 * expression (comparisons, `!x`, && and || of those) becomes `(…)?$T:$F`. Tests, arguments, returns and
 * local variables keep their literals (a name is found by a scan of the root).
 * Strings are safe to share: Espruino appends in place only to a string nothing else references.
 */
export async function shareConstants(code, map) {
  const { parse } = await import("acorn");
  const { text, tail } = splitMapComment(code);
  const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
  const { refs } = resolveNames(ast);
  const used = new Set(refs.map((r) => r.id.name));
  const free = (base) => { let n = base, i = 0; while (used.has(n)) n = base + i++; used.add(n); return n; };
  const T = free("$T"), F = free("$F"), N = free("$N"), E = free("$E");
  const edits = [];
  let shared = 0;
  const comparison = /^(===|!==|==|!=|<|>|<=|>=|instanceof|in)$/;
  const stored = (v) => {
    if (v.type === "Literal" && v.value === null && v.raw === "null") { edits.push([v.start, v.end, N]); shared++; }
    else if (v.type === "Literal" && v.value === "") { edits.push([v.start, v.end, E]); shared++; }
    else if (v.type === "UnaryExpression" && v.operator === "!" && v.argument.type === "Literal" && (v.argument.value === 0 || v.argument.value === 1)) {
      edits.push([v.start, v.end, v.argument.value === 0 ? T : F]); shared++;
    } else if (v.type === "ConditionalExpression") { stored(v.consequent); stored(v.alternate); }
    else if (boolean(v)) { edits.push([v.start, v.start, "("], [v.end, v.end, ")?" + T + ":" + F]); shared++; }
  };
  // An expression whose value is a boolean whatever its operands: a comparison, a `!`, or && / || of those.
  const boolean = (v) => (v.type === "BinaryExpression" && comparison.test(v.operator)) || (v.type === "UnaryExpression" && v.operator === "!") ||
    (v.type === "LogicalExpression" && v.operator !== "??" && boolean(v.left) && boolean(v.right)) || (v.type === "Literal" && typeof v.value === "boolean");
  const walk = (n, parent) => {
    if (n.type === "AssignmentExpression" && n.operator === "=" && n.right.type !== "AssignmentExpression" &&
        (n.left.type === "MemberExpression" || (n.left.type === "Identifier" && refs.some((r) => r.id === n.left && r.scope === ast)))) stored(n.right);
    else if (n.type === "Property" && parent.type === "ObjectExpression" && !n.shorthand && n.kind === "init") stored(n.value);
    else if (n.type === "ArrayExpression") { for (const e of n.elements) if (e !== null) stored(e); }
    else if (n.type === "VariableDeclarator" && n.init !== null && parent && ast.body.includes(parent)) stored(n.init);
    eachChild(n, (c) => walk(c, n));
  };
  walk(ast, null);
  edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const at = afterDirectives(ast.body, 0);
  edits.unshift([at, at, "var " + T + "=!0," + F + "=!1," + N + "=null," + E + '="";']);
  const out = applyEdits(text, typeof map === "string" ? map : JSON.stringify(map), edits);
  return { code: out.code + tail, map: JSON.stringify(out.map), shared };
}

/**
 * The firmware as written to a board's Storage: each string literal of RAW_STRING_MIN characters or more (every
 * character a byte) becomes one of Espruino's pretokenised raw strings (jslex.h: LEX_RAW_STRING8 = 0xD1 then a
 * length byte, LEX_RAW_STRING16 = 0xD2 then the length low byte first, then the bytes as they are). Espruino's
 * lexer, reading code from flash, makes such a string a reference into the flash (one variable) where a quoted
 * literal is copied into RAM each time it is evaluated (a variable per ~20 characters on the Linux build, ~12 on
 * a board): a module's constant tables and texts stay in flash, and an answer's reason phrase costs one
 * variable. Object keys and directives are left quoted. The result is not JavaScript any more (bytes ≥ 0x80
 * outside strings): only Espruino reads it; the bundle and its source map stay the JavaScript form.
 */
export const RAW_STRING_MIN = 8;
export const LEX_RAW_STRING8 = 0xd1;
export const LEX_RAW_STRING16 = 0xd2;
export async function rawStrings(code, min = RAW_STRING_MIN) {
  const { parse } = await import("acorn");
  const { text } = splitMapComment(code);
  const ast = parse(text, { ecmaVersion: 2022, sourceType: "script" });
  const edits = [];
  const bytesOnly = (v) => { for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 255) return false; return true; };
  const walk = (n, parent) => {
    let value = null;
    if (n.type === "Literal" && typeof n.value === "string") value = n.value;
    else if (n.type === "TemplateLiteral" && n.expressions.length === 0 && typeof n.quasis[0].value.cooked === "string") value = n.quasis[0].value.cooked;
    const key = parent !== null && (parent.type === "Property" || parent.type === "MethodDefinition" || parent.type === "PropertyDefinition") && parent.key === n && !parent.computed;
    const directive = parent !== null && parent.type === "ExpressionStatement" && parent.directive !== undefined;
    const tagged = parent !== null && parent.type === "TaggedTemplateExpression";
    if (value !== null && !key && !directive && !tagged && value.length >= min && value.length <= 0xffff && bytesOnly(value)) {
      const head = value.length < 256 ? String.fromCharCode(LEX_RAW_STRING8, value.length) : String.fromCharCode(LEX_RAW_STRING16, value.length & 255, value.length >> 8);
      edits.push([n.start, n.end, head + value]);
      return;
    }
    eachChild(n, (c) => walk(c, n));
  };
  walk(ast, null);
  edits.sort((a, b) => a[0] - b[0]);
  let out = "", at = 0;
  for (const [s, e, t] of edits) { out += text.slice(at, s) + t; at = e; }
  out += text.slice(at);
  return { code: Buffer.from(out, "latin1"), strings: edits.length };
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
  const { code, map, metafile } = await bundleDevice({ globalName: "doorsipCore" });
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
  // The firmware bundle: gated, measured, reported.
  const fw = await bundleDevice({ entry: firmwareEntry, outfile: firmwareOutfile });
  const fwBytes = Buffer.byteLength(fw.code);
  const fwGzip = gzipSync(fw.code, { level: 9 }).length;
  const stored = await rawStrings(fw.code);
  writeFileSync(resolve(root, firmwareStorageOutfile), stored.code);
  report.firmware = { bundle: firmwareOutfile, bytes: fwBytes, gzipBytes: fwGzip, withinBudget: fwBytes <= budget, storage: firmwareStorageOutfile, storageBytes: stored.code.length, rawStrings: stored.strings };
  writeFileSync(resolve(root, "dist/device/size.json"), JSON.stringify(report, null, 2) + "\n");
  const fwOffences = checkBundle(fw.code, fw.map);
  if (!quiet || fwOffences.length > 0) {
    console.log(`device  ${firmwareOutfile}  ${kb(fwBytes)} minified, ${kb(fwGzip)} gzip -9  (${fwBytes <= budget ? "within" : "over"} the ${kb(budget)} budget: reported, not enforced yet)`);
    console.log(`device  ${firmwareStorageOutfile}  ${kb(stored.code.length)}: the same for Storage, ${stored.strings} strings kept in flash`);
  }
  if (fwOffences.length > 0) {
    for (const o of fwOffences) console.error(formatOffence(o, firmwareOutfile, dirname(resolve(root, firmwareOutfile))));
    console.error(`build: Espruino gate found ${fwOffences.length} construct(s) in the firmware bundle that Espruino cannot run`);
    failures++;
  }
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
