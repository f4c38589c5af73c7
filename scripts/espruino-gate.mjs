// Espruino compatibility gate: finds syntax, globals and methods in a JS bundle that Espruino 2v29 lacks.
//
// Usage as a library:  checkBundle(code, sourceMap?) -> Offence[]
// Usage as a CLI:      node scripts/espruino-gate.mjs dist/device/doorsip.js   (reads doorsip.js.map if present)
//
// The list of what fails comes from /work/shared/espruino-facts.md (measured on the interpreter). Offence
// positions: `line` is 1-based and `column` 0-based (acorn / source-map convention); the printed form adds 1
// to columns so `file:line:col` opens at the right character in editors.

import { readFileSync, existsSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as acorn from "acorn";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";

// Globals Espruino does not have. `globalThis` is deliberately absent: Espruino defines it (same object as
// `global`) since 2v22 (src/jswrap_functions.c), and the facts were measured on 2v29.
const MISSING_GLOBALS = {
  Map: "no Map on Espruino: use a plain object keyed by string, or parallel arrays",
  Set: "no Set on Espruino: use a plain object as a set of string keys",
  WeakMap: "no WeakMap on Espruino (esbuild also emits it for #private fields)",
  WeakSet: "no WeakSet on Espruino (esbuild also emits it for #private methods)",
  WeakRef: "no WeakRef on Espruino",
  FinalizationRegistry: "no FinalizationRegistry on Espruino",
  Symbol: "no Symbol on Espruino (no iterators protocol, no well-known symbols)",
  Proxy: "no Proxy on Espruino",
  Reflect: "no Reflect on Espruino",
  BigInt: "no BigInt on Espruino: use two 32-bit halves",
  BigInt64Array: "no BigInt64Array on Espruino",
  BigUint64Array: "no BigUint64Array on Espruino",
  TextEncoder: "no TextEncoder on Espruino: use E.toUint8Array(str)",
  TextDecoder: "no TextDecoder on Espruino: use E.toString(u8)",
  setImmediate: "no setImmediate on Espruino: use setTimeout(fn, 0)",
  queueMicrotask: "no queueMicrotask on Espruino: use Promise.resolve().then(fn) or setTimeout(fn, 0)",
  structuredClone: "no structuredClone on Espruino: copy explicitly",
};

// Static methods missing on a global object, keyed "Object.name".
const MISSING_STATICS = {
  "Math.imul": "no Math.imul on Espruino: split into 16-bit halves, finish with >>> 0 or | 0",
  "Math.trunc": "no Math.trunc on Espruino: use x | 0 (32-bit) or x < 0 ? Math.ceil(x) : Math.floor(x)",
  "Math.clz32": "no Math.clz32 on Espruino: count with shifts",
  "Math.log2": "no Math.log2 on Espruino: use Math.log(x) / Math.LN2 or shifts",
  "Math.fround": "no Math.fround on Espruino: use a Float32Array element",
  "Math.pow": "Math.pow is inexact on Espruino (Math.pow(2, 32) = 4294967295.99…); use shifts / >>> 0, or multiply (esbuild lowers ** to Math.pow)",
  "Array.from": "no Array.from on Espruino: loop, or use typedArray.map / Array.prototype-free code",
  "Array.of": "no Array.of on Espruino: use an array literal",
  "Object.freeze": "no Object.freeze on Espruino",
  "Object.seal": "no Object.seal on Espruino",
  "Promise.race": "no Promise.race on Espruino",
  "Promise.allSettled": "no Promise.allSettled on Espruino",
  "Promise.any": "no Promise.any on Espruino",
  "process.nextTick": "no process.nextTick on Espruino: use setTimeout(fn, 0)",
};

// Instance methods missing whatever the receiver; flagged where called as `x.name(...)`.
const MISSING_METHODS = {
  lastIndexOf: "no lastIndexOf on Espruino: scan with indexOf from a position, or loop backwards",
  flat: "no Array.prototype.flat on Espruino: concatenate in a loop",
  flatMap: "no Array.prototype.flatMap on Espruino: push in a loop",
  finally: "no Promise.prototype.finally on Espruino: call the cleanup in both then and catch",
};

// Built-ins whose prototype methods cannot be reached as `X.prototype.m` on Espruino (the prototype is a
// plain object there), which breaks `Array.prototype.slice.call(arguments)` and similar helper idioms.
// Object is not listed: Object's methods are found on any object, including Object.prototype.
const UNREACHABLE_PROTOTYPES = new Set([
  "Array", "String", "Number", "Boolean", "Function", "Date", "RegExp", "ArrayBuffer", "DataView",
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float32Array", "Float64Array",
]);

// `class extends X` fails for these on Espruino.
const UNEXTENDABLE = new Set([
  "Array", "Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError",
  "InternalError", "AggregateError",
]);

// Espruino modules that do not exist (the facts list require("events")).
const MISSING_MODULES = { events: "no \"events\" module on Espruino: objects have on/emit built in" };

const SYNTAX_MESSAGES = {
  "default parameter": "Espruino has no default parameters: test for undefined in the body",
  "rest parameter": "Espruino has no rest parameters: pass an array",
  "spread call": "Espruino has no spread in calls: use fn.apply(obj, array)",
  "array spread": "Espruino has no array spread: use concat or a loop",
  "object spread": "Espruino has no object spread: use Object.assign",
  destructuring: "Espruino destructuring is missing or silently wrong: read the properties one by one",
  "computed key": "Espruino has no computed keys: create the object, then assign obj[key] = value",
  "labelled statement": "Espruino has no labelled break/continue: use a flag or a function with return",
  "async function": "Espruino has no async/await (esbuild lowers it to generators, which are missing too): use Promise.then",
  "for await": "Espruino has no for await",
  generator: "Espruino has no generators: write an explicit iterator or callback",
  "tagged template": "Espruino has no tagged templates: call a function with the parts",
  "private member": "Espruino has no #private members (esbuild lowers them to WeakMap, also missing): use a plain or _prefixed property",
  "exponent operator": "Espruino has no ** (esbuild would lower it to inexact Math.pow): multiply or shift",
  "optional chaining": "Espruino has no ?. : use x != null && x.y (esbuild lowers it at target es2015)",
  "logical assignment": "Espruino has no ??=, ||=, &&= : write x = x ?? y",
  "BigInt literal": "Espruino has no BigInt",
  "regex literal": "do not use regexes in device code (Espruino lacks lookaround, lazy quantifiers, named groups, /m, /y; and they are slow): use indexOf/charCodeAt",
  "RegExp constructor": "do not use regexes in device code: use indexOf/charCodeAt",
  "static block": "Espruino has no static class blocks: run the code after the class",
  "for-let closure": "Espruino shares one binding of a for (let/const …) variable across iterations, so this closure sees the last value: copy it into a function parameter (e.g. call a helper or use forEach)",
  "arguments in arrow": "Espruino arrow functions have no lexical `arguments`: use a function expression or named parameters",
  "module syntax": "Espruino loads scripts, not ES modules: the bundle must not contain import/export",
  "syntax error": "the bundle does not parse",
};

/**
 * @typedef {{ construct: string, message: string, line: number, column: number,
 *   source?: string, sourceLine?: number, sourceColumn?: number }} Offence
 */

// ---- scopes ---------------------------------------------------------------------------------------------

class Scope {
  constructor(parent, kind) {
    this.parent = parent;
    this.kind = kind; // "function" | "arrow" | "block" | "loop" (a for statement's head scope)
    this.names = new Set();
  }
  get isFunction() { return this.kind === "function" || this.kind === "arrow"; }
  functionScope() {
    let s = this;
    while (!s.isFunction && s.parent) s = s.parent;
    return s;
  }
}

// Child AST nodes of a node, with the key they sit under (so callers can tell `a.b`'s b from a reference).
function* children(node) {
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "start" || key === "end" || key === "type") continue;
    const v = node[key];
    if (Array.isArray(v)) {
      for (const c of v) if (c && typeof c.type === "string") yield [c, key];
    } else if (v && typeof v.type === "string") {
      yield [v, key];
    }
  }
}

function patternNames(p, out) {
  if (!p) return out;
  switch (p.type) {
    case "Identifier": out.push(p.name); break;
    case "ObjectPattern": for (const prop of p.properties) patternNames(prop.type === "RestElement" ? prop : prop.value, out); break;
    case "ArrayPattern": for (const el of p.elements) patternNames(el, out); break;
    case "AssignmentPattern": patternNames(p.left, out); break;
    case "RestElement": patternNames(p.argument, out); break;
  }
  return out;
}

const isFunctionNode = (n) => n.type === "FunctionDeclaration" || n.type === "FunctionExpression" || n.type === "ArrowFunctionExpression";
const isForNode = (n) => n.type === "ForStatement" || n.type === "ForInStatement" || n.type === "ForOfStatement";

// Pass 1: give every scope-making node a Scope and declare the names bound in it (with var/function hoisting).
function buildScopes(program) {
  const scopes = new Map();
  const visit = (node, scope) => {
    let inner = scope;
    if (node.type === "Program") {
      inner = new Scope(null, "function");
    } else if (isFunctionNode(node)) {
      if (node.type === "FunctionDeclaration" && node.id) {
        scope.names.add(node.id.name);
        scope.functionScope().names.add(node.id.name); // sloppy-mode (Annex B) hoisting, as Espruino does
      }
      inner = new Scope(scope, node.type === "ArrowFunctionExpression" ? "arrow" : "function");
      if (node.type === "FunctionExpression" && node.id) inner.names.add(node.id.name);
      for (const p of node.params) for (const n of patternNames(p, [])) inner.names.add(n);
      if (node.body.type === "BlockStatement") scopes.set(node.body, inner); // body shares the function scope
    } else if (node.type === "ClassDeclaration" || node.type === "ClassExpression") {
      if (node.id) {
        if (node.type === "ClassDeclaration") scope.names.add(node.id.name);
        else { inner = new Scope(scope, "block"); inner.names.add(node.id.name); }
      }
    } else if (isForNode(node)) {
      inner = new Scope(scope, "loop");
      const head = node.type === "ForStatement" ? node.init : node.left;
      if (head && head.type === "VariableDeclaration" && head.kind !== "var") inner.loopNode = node;
    } else if (node.type === "CatchClause") {
      inner = new Scope(scope, "block");
      for (const n of patternNames(node.param, [])) inner.names.add(n);
    } else if (node.type === "BlockStatement" || node.type === "StaticBlock" || node.type === "SwitchStatement") {
      if (!scopes.has(node)) inner = new Scope(scope, "block");
      else inner = scopes.get(node);
    } else if (node.type === "VariableDeclaration") {
      const target = node.kind === "var" ? scope.functionScope() : scope;
      for (const d of node.declarations) for (const n of patternNames(d.id, [])) target.names.add(n);
    } else if (node.type === "ImportDeclaration") {
      for (const s of node.specifiers) scope.functionScope().names.add(s.local.name);
    }
    if (inner !== scope || node.type === "Program") scopes.set(node, inner);
    for (const [c] of children(node)) visit(c, inner);
  };
  visit(program, null);
  return scopes;
}

// Where a name is declared, seen from `scope`; `crossed` tells whether a function boundary lies in between.
function lookup(name, scope) {
  let crossed = false;
  for (let s = scope; s; s = s.parent) {
    if (s.names.has(name)) return { scope: s, crossed };
    if (s.isFunction) crossed = true;
  }
  return null;
}

// An Identifier that is a variable reference (not a property name, key or label).
function isReference(parent, key) {
  if (!parent) return true;
  switch (parent.type) {
    case "MemberExpression": return key !== "property" || parent.computed;
    case "Property": case "PropertyDefinition": case "MethodDefinition": return key !== "key" || parent.computed;
    case "LabeledStatement": case "BreakStatement": case "ContinueStatement": return false;
    case "MetaProperty": return false;
    case "ImportSpecifier": case "ExportSpecifier": return false;
    default: return true;
  }
}

// Name of a non-computed (or string-literal computed) member: `a.b` and `a["b"]` both give "b".
function memberName(m) {
  if (!m.computed && m.property.type === "Identifier") return m.property.name;
  if (m.computed && m.property.type === "Literal" && typeof m.property.value === "string") return m.property.value;
  return null;
}

// ---- the check ------------------------------------------------------------------------------------------

function parse(code) {
  const base = { ecmaVersion: "latest", locations: true, allowHashBang: true, allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true };
  try {
    return acorn.parse(code, { ...base, sourceType: "script" });
  } catch (scriptError) {
    try {
      return acorn.parse(code, { ...base, sourceType: "module" }); // import/export are then reported as offences
    } catch {
      throw scriptError;
    }
  }
}

/**
 * Checks a bundle for constructs that fail on Espruino.
 * @param {string} code the bundle's text
 * @param {object|string} [mapJson] its source map (object or JSON text) to locate offences in the sources
 * @returns {Offence[]} sorted by position; empty when the bundle is fine
 */
export function checkBundle(code, mapJson) {
  const offences = [];
  const add = (construct, node, message) => {
    offences.push({ construct, message: message || SYNTAX_MESSAGES[construct], line: node.loc.start.line, column: node.loc.start.column, pos: node.start });
  };

  let program;
  try {
    program = parse(code);
  } catch (e) {
    const loc = e.loc || { line: 1, column: 0 };
    offences.push({ construct: "syntax error", message: String(e.message), line: loc.line, column: loc.column, pos: e.pos || 0 });
    return locate(offences, mapJson);
  }

  const scopes = buildScopes(program);
  const loopCaptures = new Set(); // one for-let offence per loop and variable
  // `var p = Math.pow` (esbuild's lowering of ** is exactly this helper): calls of p are reported too, as
  // they are what maps back to the source line that needs changing.
  const aliases = new Map(); // Scope -> Map(name -> [construct, message])
  const calls = []; // [callee Identifier, declaring Scope]
  const isGlobal = (id, scope) => id.type === "Identifier" && !lookup(id.name, scope);

  // Pass 2: walk with the current scope, check each node. `inPattern` is true below the outermost pattern,
  // so one destructuring is reported once.
  const visit = (node, parent, key, scope, inPattern) => {
    const own = scopes.get(node);
    if (own) scope = own;
    let childInPattern = false;

    switch (node.type) {
      case "Identifier": {
        if (!isReference(parent, key)) break;
        const found = lookup(node.name, scope);
        if (found && parent && parent.type === "CallExpression" && key === "callee") calls.push([node, found.scope]);
        if (found) {
          if (found.crossed && found.scope.loopNode) {
            const tag = found.scope.loopNode.start + ":" + node.name;
            if (!loopCaptures.has(tag)) {
              loopCaptures.add(tag);
              add("for-let closure", node, `closure captures loop variable "${node.name}": ` + SYNTAX_MESSAGES["for-let closure"]);
            }
          }
        } else if (node.name === "arguments") {
          if (scope.functionScope().kind === "arrow") add("arguments in arrow", node);
        } else if (Object.prototype.hasOwnProperty.call(MISSING_GLOBALS, node.name)) {
          // `typeof X` is a harmless feature test; any other use of X fails at run time.
          if (!(parent && parent.type === "UnaryExpression" && parent.operator === "typeof")) add(node.name, node, MISSING_GLOBALS[node.name]);
        }
        break;
      }
      case "FunctionDeclaration": case "FunctionExpression": case "ArrowFunctionExpression":
        if (node.async) add("async function", node);
        if (node.generator) add("generator", node);
        for (const p of node.params) {
          if (p.type === "AssignmentPattern") add("default parameter", p);
          else if (p.type === "RestElement") add("rest parameter", p);
        }
        break;
      case "ObjectPattern": case "ArrayPattern":
        if (!inPattern) add("destructuring", node);
        childInPattern = true;
        break;
      case "AssignmentPattern": case "RestElement":
        childInPattern = inPattern; // as a parameter (inPattern false) a pattern below it is still reported
        break;
      case "Property":
        if (parent.type === "ObjectPattern") childInPattern = inPattern;
        else if (node.computed) add("computed key", node.key);
        break;
      case "MethodDefinition": case "PropertyDefinition":
        if (node.computed) add("computed key", node.key);
        break;
      case "SpreadElement":
        if (parent.type === "ArrayExpression") add("array spread", node);
        else if (parent.type === "ObjectExpression") add("object spread", node);
        else if (parent.callee && parent.callee.type === "Super" && node.argument.type === "Identifier" && node.argument.name === "arguments") {
          // esbuild writes this constructor for a subclass that has field initializers but no constructor.
          add("spread call", node, "Espruino has no spread in calls; esbuild generated super(...arguments) for a subclass with field initializers and no constructor: write the constructor, e.g. constructor(a) { super(a); }");
        } else add("spread call", node);
        break;
      case "LabeledStatement": add("labelled statement", node); break;
      case "ForOfStatement": if (node.await) add("for await", node); break;
      case "TaggedTemplateExpression": add("tagged template", node); break;
      case "PrivateIdentifier": add("private member", node); break;
      case "StaticBlock": add("static block", node); break;
      case "ChainExpression": add("optional chaining", node); break;
      case "BinaryExpression": if (node.operator === "**") add("exponent operator", node); break;
      case "AssignmentExpression":
        if (node.operator === "**=") add("exponent operator", node);
        else if (node.operator === "??=" || node.operator === "||=" || node.operator === "&&=") add("logical assignment", node);
        break;
      case "Literal":
        if (node.bigint !== undefined) add("BigInt literal", node);
        else if (node.regex) add("regex literal", node);
        break;
      case "ImportDeclaration": case "ExportNamedDeclaration": case "ExportDefaultDeclaration": case "ExportAllDeclaration": case "ImportExpression":
        add("module syntax", node);
        break;
      case "MetaProperty":
        if (node.meta.name === "import") add("module syntax", node);
        break;
      case "ClassDeclaration": case "ClassExpression":
        if (node.superClass && node.superClass.type === "Identifier" && UNEXTENDABLE.has(node.superClass.name) && isGlobal(node.superClass, scope)) {
          const base = node.superClass.name === "Array" ? "Array" : "Error";
          add("class extends " + base, node, `class extends ${node.superClass.name} fails on Espruino: wrap an instance instead of subclassing`);
        }
        break;
      case "NewExpression": case "CallExpression": {
        const callee = node.callee;
        if (callee.type === "Identifier" && callee.name === "RegExp" && isGlobal(callee, scope)) add("RegExp constructor", node);
        if (node.type === "CallExpression" && callee.type === "Identifier" && callee.name === "require" && isGlobal(callee, scope)) {
          const arg = node.arguments[0];
          if (arg && arg.type === "Literal" && Object.prototype.hasOwnProperty.call(MISSING_MODULES, arg.value)) {
            add(`require("${arg.value}")`, node, MISSING_MODULES[arg.value]);
          }
        }
        if (node.type === "CallExpression" && callee.type === "MemberExpression") {
          const name = memberName(callee);
          if (name && Object.prototype.hasOwnProperty.call(MISSING_METHODS, name)) add("." + name + "()", callee.property, MISSING_METHODS[name]);
        }
        break;
      }
      case "MemberExpression": {
        const name = memberName(node);
        if (name && node.object.type === "Identifier" && isGlobal(node.object, scope)) {
          const qualified = node.object.name + "." + name;
          if (Object.prototype.hasOwnProperty.call(MISSING_STATICS, qualified)) {
            add(qualified, node, MISSING_STATICS[qualified]);
            if (parent && parent.type === "VariableDeclarator" && key === "init" && parent.id.type === "Identifier") {
              const declared = lookup(parent.id.name, scope);
              if (declared) {
                if (!aliases.has(declared.scope)) aliases.set(declared.scope, new Map());
                aliases.get(declared.scope).set(parent.id.name, qualified);
              }
            }
          }
          if (name === "prototype" && UNREACHABLE_PROTOTYPES.has(node.object.name) && parent && parent.type === "MemberExpression" && key === "object") {
            const method = memberName(parent) || "[…]";
            add("Array.prototype method", node, `${qualified}.${method} is not reachable on Espruino (prototype methods are not on X.prototype, so X.prototype.m.call/apply throws): call the method on an instance, or copy in a loop`);
          }
        }
        break;
      }
    }
    for (const [c, k] of children(node)) visit(c, node, k, scope, childInPattern);
  };
  visit(program, null, null, null, false);
  for (const [id, declared] of calls) {
    const qualified = aliases.has(declared) && aliases.get(declared).get(id.name);
    if (qualified) add(qualified, id, `called through an alias of ${qualified}: ${MISSING_STATICS[qualified]}`);
  }
  return locate(offences, mapJson);
}

// Sort, drop the internal offset, and add the original source position when a map is given.
function locate(offences, mapJson) {
  offences.sort((a, b) => a.pos - b.pos || a.construct.localeCompare(b.construct));
  let tracer = null;
  if (mapJson) tracer = new TraceMap(typeof mapJson === "string" ? JSON.parse(mapJson) : mapJson);
  return offences.map(({ pos, ...o }) => {
    if (tracer) {
      const orig = originalPositionFor(tracer, { line: o.line, column: o.column });
      if (orig.source != null) {
        o.source = orig.source;
        o.sourceLine = orig.line;
        o.sourceColumn = orig.column;
      }
    }
    return o;
  });
}

/**
 * One offence as `file:line:col: construct — message`, at the TypeScript source when the map knows it
 * (then with the bundle position in brackets). Source paths in the map are relative to the map's folder;
 * give `mapDir` to print them relative to the working directory.
 * @param {Offence} o
 * @param {string} bundlePath
 * @param {string} [mapDir]
 */
export function formatOffence(o, bundlePath, mapDir) {
  const at = `${bundlePath}:${o.line}:${o.column + 1}`;
  if (o.source == null) return `${at}: ${o.construct} — ${o.message}`;
  const src = mapDir ? relative(process.cwd(), resolve(mapDir, o.source)) : o.source;
  return `${src}:${o.sourceLine}:${o.sourceColumn + 1}: ${o.construct} — ${o.message} [bundle ${at}]`;
}

// ---- command line ---------------------------------------------------------------------------------------

function cli(args) {
  if (args.length === 0) {
    console.error("usage: node scripts/espruino-gate.mjs BUNDLE.js [MORE.js …]   (reads BUNDLE.js.map when present)");
    return 2;
  }
  let total = 0;
  for (const file of args) {
    const code = readFileSync(file, "utf8");
    const mapFile = file + ".map";
    const map = existsSync(mapFile) ? readFileSync(mapFile, "utf8") : undefined;
    const offences = checkBundle(code, map);
    for (const o of offences) console.error(formatOffence(o, file, dirname(mapFile)));
    total += offences.length;
  }
  if (total > 0) {
    console.error(`espruino-gate: ${total} construct${total === 1 ? "" : "s"} that Espruino cannot run`);
    return 1;
  }
  console.log(`espruino-gate: ${args.join(", ")} ok`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = cli(process.argv.slice(2));
}
