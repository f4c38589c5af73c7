// Tests the Espruino gate: every forbidden construct is caught, allowed code passes, and the real device bundle passes.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkBundle, formatOffence } from "../scripts/espruino-gate.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
// build.mjs is plain JS; importing it through a variable keeps the type checker out of it.
const buildModule = pathToFileURL(join(root, "build.mjs")).href;
const build: any = await import(buildModule);

const constructs = (code: string) => checkBundle(code).map((o) => o.construct);

/** Runs a CommonJS text (a bundle, or a pass's output) and returns its exports. */
function load(text: string) {
  const module = { exports: {} as any };
  new Function("module", "exports", text)(module, module.exports);
  return module.exports;
}

// [construct the gate must report, snippet containing exactly that one construct]
const forbidden: [string, string][] = [
  ["default parameter", "function f(a = 1) { return a; }"],
  ["default parameter", "var f = (a, b = 2) => a + b;"],
  ["rest parameter", "function f(a, ...r) { return r; }"],
  ["spread call", "f(...xs);"],
  ["spread call", "new F(...xs);"],
  ["spread call", "class B extends A { constructor() { super(...arguments); this.x = 0; } }"],
  ["array spread", "var a = [1, ...xs];"],
  ["object spread", "var o = { a: 1, ...p };"],
  ["destructuring", "var { a, b } = o;"],
  ["destructuring", "const [x, y] = pair;"],
  ["destructuring", "function f({ a }) { return a; }"],
  ["destructuring", "[a, b] = [b, a];"],
  ["destructuring", "({ a } = o);"],
  ["destructuring", "for (var [k, v] of list) use(k, v);"],
  ["destructuring", "try { f(); } catch ({ message }) { log(message); }"],
  ["computed key", "var o = { [k]: 1 };"],
  ["computed key", "var o = { ['a' + b]() {} };"],
  ["computed key", "class A { [k]() {} }"],
  ["computed key", "class A { static [k] = 1; }"],
  ["labelled statement", "outer: for (var i = 0; i < 3; i++) { for (;;) { continue outer; } }"],
  ["async function", "async function f() { return 1; }"],
  ["async function", "var f = async () => { await g(); };"],
  ["async function", "class A { async m() {} }"],
  ["generator", "function* g() { yield 1; }"],
  ["tagged template", "var s = tag`a${b}`;"],
  ["private member", "class A { #m() {} }"],
  ["exponent operator", "var y = x ** 2;"],
  ["exponent operator", "x **= 2;"],
  ["optional chaining", "var y = a?.b;"],
  ["optional chaining", "a?.();"],
  ["optional chaining", "var y = a?.[k];"],
  ["logical assignment", "a ??= 1;"],
  ["logical assignment", "a ||= 1;"],
  ["logical assignment", "a &&= 1;"],
  ["BigInt literal", "var n = 10n;"],
  ["regex literal", "var r = /a+b/g;"],
  ["RegExp constructor", "var r = new RegExp('a+');"],
  ["RegExp constructor", "var r = RegExp('a+');"],
  ["class extends Error", "class E extends Error {}"],
  ["class extends Error", "var E = class extends TypeError {};"],
  ["class extends Array", "class L extends Array {}"],
  ["static block", "class A { static { init(); } }"],
  ["Map", "var m = new Map();"],
  ["Set", "var s = new Set([1]);"],
  ["WeakMap", "var w = new WeakMap();"],
  ["WeakSet", "var w = new WeakSet();"],
  ["WeakRef", "var w = new WeakRef(o);"],
  ["Symbol", "var s = Symbol('x');"],
  ["Symbol", "var it = o[Symbol.iterator];"],
  ["Proxy", "var p = new Proxy(o, {});"],
  ["Reflect", "Reflect.ownKeys(o);"],
  ["BigInt", "var n = BigInt(1);"],
  ["TextEncoder", "var e = new TextEncoder();"],
  ["TextDecoder", "var d = new TextDecoder();"],
  ["setImmediate", "setImmediate(f);"],
  ["queueMicrotask", "queueMicrotask(f);"],
  ["structuredClone", "var c = structuredClone(o);"],
  ["process.nextTick", "process.nextTick(f);"],
  ["Math.imul", "var h = Math.imul(a, b);"],
  ["Math.trunc", "var t = Math.trunc(x);"],
  ["Math.clz32", "var z = Math.clz32(x);"],
  ["Math.log2", "var l = Math.log2(x);"],
  ["Math.fround", "var f = Math.fround(x);"],
  ["Math.pow", "var p = Math.pow(2, 32);"],
  ["Math.pow", "var pow = Math['pow'];"],
  ["Array.from", "var a = Array.from(u8);"],
  ["Array.of", "var a = Array.of(1, 2);"],
  ["Object.freeze", "Object.freeze(o);"],
  ["Object.seal", "Object.seal(o);"],
  ["Promise.race", "Promise.race([p, q]);"],
  ["Promise.allSettled", "Promise.allSettled([p]);"],
  ["Promise.any", "Promise.any([p]);"],
  [".lastIndexOf()", "var i = s.lastIndexOf(';');"],
  [".flat()", "var f = a.flat();"],
  [".flatMap()", "var f = a.flatMap(g);"],
  [".finally()", "p.then(f).finally(g);"],
  ["Array.prototype method", "function f() { return Array.prototype.slice.call(arguments); }"],
  ["Array.prototype method", "Array.prototype.push.apply(a, b);"],
  ["Array.prototype method", "var t = String.prototype.trim.call(s);"],
  ["for-let closure", "for (let i = 0; i < 3; i++) fs.push(() => i);"],
  ["for-let closure", "for (const k of keys) setTimeout(function () { use(k); }, 0);"],
  ["for-let closure", "for (let k in o) { fs.push(function () { return o[k]; }); }"],
  ["for-let closure", "for (let i = 0; i < 3; i++) { if (i) { cb(() => { return () => i; }); } }"],
  ["arguments in arrow", "function f() { return () => arguments[0]; }"],
  ["require(\"events\")", "var E = require('events');"],
  ["module syntax", "import x from 'y';"],
  ["module syntax", "export var a = 1;"],
];

// Code Espruino runs: none of it may be flagged.
const allowed: [string, string][] = [
  ["arrow functions", "var f = (a, b) => a + b; var g = x => { return x * 2; }; var h = () => ({ a: 1 });"],
  ["classes with fields, getters, setters, statics, extends", `
    class A { x = 1; static n = 2; constructor() { this.y = 2; }
      get z() { return this.x; } set z(v) { this.x = v; } static make() { return new A(); } m() { return 1; } }
    class B extends A { m() { return super.m() + 1; } }`],
  ["template literals", "var s = `a${b}c` + `\n`;"],
  ["let and const", "let a = 1; const b = 2; { let a = 3; const c = a; }"],
  ["for-of over arrays and typed arrays", "var sum = 0; for (const x of [1, 2, 3]) sum += x; for (let b of new Uint8Array(4)) sum += b;"],
  ["nullish coalescing", "var y = a ?? 1;"],
  ["typed arrays and DataView", "var u = new Uint8Array(16); u.set([1], 0); u.subarray(1, 2).fill(0); var d = new DataView(u.buffer); d.getUint16(0); u.indexOf(1);"],
  ["computed member access", "var v = o[k]; o[k] = 1; o['a' + b] = 2;"],
  ["a local variable named Map", "function f() { var Map = {}; Map.x = 1; return Map; }"],
  ["a let named Set and a parameter named Symbol", "{ let Set = 1; use(Set); } function g(Symbol) { return Symbol; }"],
  ["a top-level declaration shadowing a global", "var Map = function () {}; new Map(); function Proxy() {} Proxy();"],
  ["a hoisted function used before its declaration", "function f() { return new Set(); function Set() {} }"],
  ["a class named WeakMap", "class WeakMap {} new WeakMap();"],
  ["globals as property names", "o.Map = 1; o.Symbol = 2; var p = { Map: 1, Set() {}, Proxy: 3 }; class C { Map() {} }"],
  ["missing-method names not called", "var lastIndexOf = 1; o.flat = true; var q = { finally: 1 };"],
  ["optional catch binding and try/catch", "try { f(); } catch { g(); } try { f(); } catch (e) { log(e.message); }"],
  ["shorthand properties and methods", "var o = { a, b, m() { return 1; } };"],
  ["Promise basics", "Promise.resolve(1).then(f).catch(g); Promise.all([p]); new Promise((res, rej) => res(1));"],
  ["typeof feature tests", "var hasMap = typeof Map !== 'undefined'; var s = typeof Symbol;"],
  ["globalThis (built in since Espruino 2v22)", "var g = globalThis;"],
  ["Object and String helpers", "Object.keys(o); Object.assign({}, o); Object.create(null); Object.prototype.hasOwnProperty.call(o, k); s.startsWith('a'); s.padStart(2, '0'); s.indexOf(';');"],
  ["Math that works", "Math.floor(x); Math.max(a, b); Math.abs(-1); x >>> 0;"],
  ["for-let without a closure", "var t = 0; for (let i = 0; i < 9; i++) t += i;"],
  ["for-let with a closure that does not capture the loop variable", "for (let i = 0; i < 3; i++) { setTimeout(() => tick(), 0); }"],
  ["for-var with a closure (function-scoped on every engine)", "for (var i = 0; i < 3; i++) fs.push(() => i);"],
  ["a closure over a let declared inside the loop body", "for (var i = 0; i < 3; i++) { let j = i; use(j); }"],
  ["arguments in a function nested in an arrow", "var f = () => function () { return arguments.length; };"],
  ["require of an Espruino module", "var dgram = require('dgram'); var s = require('Storage');"],
  ["a Storage-module wrapper", "(function(){ var a = 1; module.exports = { a: a }; })();"],
];

describe("checkBundle flags each forbidden construct", () => {
  it.each(forbidden)("%s: %s", (construct, snippet) => {
    expect(constructs(snippet)).toEqual([construct]);
  });

  it("reports bundle line and column of the construct", () => {
    const [o] = checkBundle("var a = 1;\nvar b = x  ** 2;");
    expect(o).toMatchObject({ construct: "exponent operator", line: 2, column: 8 });
    expect(o.message).toMatch(/\*\*/);
  });

  it("also reports calls through an alias such as esbuild's `var __pow = Math.pow`", () => {
    const code = "function f(x) { return p(x, 2) + q(x); } var p = Math.pow, q = Math.floor;";
    const offences = checkBundle(code);
    expect(offences.map((o) => [o.construct, o.column])).toEqual([["Math.pow", code.indexOf("p(x")], ["Math.pow", code.indexOf("Math.pow")]]);
  });

  it("reports a destructuring once, however deeply nested", () => {
    expect(constructs("var { a: [b, { c }], ...d } = o;")).toEqual(["destructuring"]);
  });

  it("reports a parse failure as an offence instead of throwing", () => {
    expect(constructs("var = ;")).toEqual(["syntax error"]);
  });
});

describe("checkBundle accepts what Espruino runs", () => {
  it.each(allowed)("%s", (_name, snippet) => {
    expect(checkBundle(snippet)).toEqual([]);
  });
});

describe("device build options and source maps", { timeout: 60_000 }, () => {
  let dir = "";
  beforeAll(() => {
    mkdirSync(join(root, "tmp"), { recursive: true }); // inside the repo so tsconfig.json applies as for real code
    dir = mkdtempSync(join(root, "tmp", "gate-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bundle = async (name: string, source: string) => {
    const entry = join(dir, name);
    writeFileSync(entry, source);
    return build.bundleDevice({ entry, outfile: join(dir, "out", name.replace(/\.ts$/, ".js")), write: false });
  };
  const load = (code: string) => {
    const module = { exports: {} as any };
    new Function("module", "exports", "require", code)(module, module.exports, () => { throw new Error("no require"); });
    return module.exports;
  };

  it("lowers ?. and ?? so the gate accepts the output, and the bundle still works", async () => {
    const { code, map } = await bundle("optional.ts",
      "export function get(a: { b?: { c: number } } | undefined): number {\n  return a?.b?.c ?? -1;\n}\n");
    expect(code).not.toContain("?.");
    expect(checkBundle(code, map)).toEqual([]);
    const { get } = load(code);
    expect(get({ b: { c: 7 } })).toBe(7);
    expect(get(undefined)).toBe(-1);
  });

  it("flags a default parameter at its TypeScript source position", async () => {
    const src = "// greeting helper\nexport function greet(name: string, greeting = \"hi\"): string {\n  return greeting + \" \" + name;\n}\n";
    const { code, map } = await bundle("default-param.ts", src);
    const offences = checkBundle(code, map);
    expect(offences.map((o) => o.construct)).toEqual(["default parameter"]);
    expect(offences[0].source).toMatch(/default-param\.ts$/);
    expect(offences[0].sourceLine).toBe(2);
    expect(offences[0].sourceColumn).toBe(src.split("\n")[1].indexOf("greeting"));
  });

  it("flags ** in TypeScript as Math.pow, which esbuild lowers it to", async () => {
    const src = "export function square(x: number): number {\n  return x ** 2;\n}\n";
    const { code, map } = await bundle("pow.ts", src);
    const offences = checkBundle(code, map);
    // Once at esbuild's `var __pow = Math.pow` helper (no source), once at the call, which maps to line 2.
    expect(offences.map((o) => o.construct)).toEqual(["Math.pow", "Math.pow"]);
    const atSource = offences.filter((o) => o.source);
    expect(atSource).toHaveLength(1);
    expect(atSource[0].source).toMatch(/pow\.ts$/);
    expect(atSource[0].sourceLine).toBe(2);
    expect(atSource[0].sourceColumn).toBe(src.split("\n")[1].indexOf("x ** 2"));
  });

  it("explains the super(...arguments) esbuild writes for a subclass with fields and no constructor", async () => {
    const src = "class A { a = 1; }\nexport class B extends A {\n  b = 2;\n}\n";
    const { code, map } = await bundle("subclass.ts", src);
    const offences = checkBundle(code, map);
    expect(offences.map((o) => o.construct)).toEqual(["spread call"]);
    expect(offences[0].message).toMatch(/write the constructor/);
    expect(offences[0].sourceLine).toBe(2);
  });

  it("leaves require() of Espruino modules as written", async () => {
    const { code, map } = await bundle("net.ts",
      "declare function require(name: string): any;\nexport function sock() { return require(\"dgram\").createSocket(\"udp4\"); }\n");
    expect(code).toContain('require("dgram")');
    expect(checkBundle(code, map)).toEqual([]);
  });

  it("refuses Node built-ins and import of Espruino modules in device code", async () => {
    await expect(bundle("fs.ts", "import { readFileSync } from \"node:fs\";\nexport const r = readFileSync;\n")).rejects.toThrow(/Node built-in/);
    await expect(bundle("events.ts", "import { EventEmitter } from \"events\";\nexport const E = EventEmitter;\n")).rejects.toThrow(/Node built-in/);
    await expect(bundle("dgram.ts", "import * as dgram from \"dgram\";\nexport const d = dgram;\n")).rejects.toThrow(/require\("dgram"\)/);
  });
});

describe("dead methods: the device build drops renamed methods nothing calls", () => {
  const dead = async (code: string, names: string[]) => {
    const { parse } = await import("acorn");
    const ast = parse(code, { ecmaVersion: 2022, sourceType: "script" });
    return (build.deadMethods(ast, new Set(names)) as { key: { name: string } }[]).map((m) => m.key.name).sort();
  };
  it("finds a method never read, and one only the dead method calls (to a fixed point)", async () => {
    const code = "var K=class{a(){return this.b()}b(){return 1}c(){return 2}get g(){return 3}};var k=new K;k.c();";
    expect(await dead(code, ["a", "b", "c", "g"])).toEqual(["a", "b", "g"]);
  });
  it("keeps what is read as a property, written as a key or spelled as a string, and names that kept their spelling", async () => {
    const code = "var K=class{a(){}b(){}c(){}d(){}};var o={b:1};f(o,\"c\");K.prototype.a;";
    expect(await dead(code, ["a", "b", "c"])).toEqual([]);
    expect(await dead(code, ["a", "b", "c", "d"])).toEqual(["d"]);
  });
});

describe("numeric constants: the device build folds them into their uses", () => {
  it("folds a constant esbuild joined to a statement holding a class over several lines, and keeps one that is assigned", async () => {
    const code = "var K=class{\nm(){return A+B}\n},A=5,B=-2;var C=7,D=class{\nn(){return C+G}\n},E=1;var G=1;function bump(){G++}\nmodule.exports={K:K,D:D,E:E,bump:bump};\n";
    const map = JSON.stringify({ version: 3, sources: ["a.ts"], names: [], mappings: "" });
    const { code: out } = await build.inlineConstants(code, map, "/tmp/constants.js", new Set());
    // esbuild renames the variables: look for the values.
    expect(out).not.toMatch(/=5\b|=-2\b|=7\b/);
    expect(out).toMatch(/=1[,;]/); // G is assigned in bump(): it stays a variable
    const module = { exports: {} as any };
    new Function("module", "exports", out)(module, module.exports);
    const m = module.exports;
    expect([new m.K().m(), new m.D().n(), m.E]).toEqual([3, 8, 1]);
    m.bump();
    expect(new m.D().n()).toBe(9);
  });
});

describe("parameters from arguments: the device build's rewrite of functions not nested in another", () => {
  const code = [
    "function add(a,b){return a+b}",
    "var K=class{constructor(x){this.x=x}m(y,z){return this.x+y+(z===void 0?0:z)}};",
    "function outer(p){var f=function(q){return p+q};return f(2)+[1,2].map(function(v){return v*p}).join(\",\")}",
    "var g=(u)=>u*3;",
    "function ignore(a,b){return 1}",
    "function second(a,b){return b.a}",
    "function copies(n,s,c,w,k){let t=0;for(let i=0;i<n;i++)t+=s;c=c+1;return [t,c,w(k),k,k,k,k]}",
    "function short(a,b){return {a,b:b+1}}",
    "function once(a){do{if(a>1)break;a=2}while(0);return a}",
    "module.exports={add:add,K:K,outer:outer,g:g,copies:copies,short:short,once:once};",
  ].join("\n");

  it("rewrites top-level functions, constructors and methods; leaves closures and arrows their parameters; same results", async () => {
    const { code: out, map } = await build.paramsToArguments(code, JSON.stringify({ version: 3, sources: [], names: [], mappings: "" }));
    // Read in three places or fewer, each a plain read outside loops: read from arguments where it stands (no local).
    expect(out).toContain("function add(){return arguments[0]+arguments[1]}");
    expect(out).toContain("constructor(){this.x=arguments[0]}");
    expect(out).toContain("m(){return this.x+arguments[0]+(arguments[1]===void 0?0:arguments[1])}");
    // Read in a nested function: a local the closure keeps.
    expect(out).toContain("function outer(){var p=arguments[0];var f=function(q){return p+q}");
    expect(out).toContain("function(v){return v*p}");
    expect(out).toContain("var g=(u)=>u*3;");
    expect(out).toContain("function ignore(){return 1}"); // unread parameters cost nothing
    expect(out).toContain("function second(){return arguments[1].a}"); // b.a reads b, not a
    // Read in a loop, assigned, called, or read in more than three places: copied into a local.
    expect(out).toContain("function copies(){var n=arguments[0],s=arguments[1],c=arguments[2],w=arguments[3],k=arguments[4];");
    expect(out).toContain("function short(){return {a:arguments[0],b:arguments[1]+1}}");
    expect(out).toContain("function once(){var a=arguments[0];");
    expect(JSON.parse(map).version).toBe(3);
    const a = load(code), b = load(out);
    expect([b.add(2, 3), new b.K(1).m(2), new b.K(1).m(2, 3), b.outer(5), b.g(2)]).toEqual([a.add(2, 3), new a.K(1).m(2), new a.K(1).m(2, 3), a.outer(5), a.g(2)]);
    const w = (x: number) => x * 10;
    expect(b.copies(3, 2, 5, w, 7)).toEqual(a.copies(3, 2, 5, w, 7));
    expect(b.short(1, 2)).toEqual(a.short(1, 2));
    expect([b.once(1), b.once(5)]).toEqual([a.once(1), a.once(5)]);
  });
});

describe("inlined calls: the device build writes small functions out where they are called", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  const inline = async (code: string, mangled: string[] = [], growth = 1000) => (await build.inlineCalls(code, noMap, new Set(mangled), growth)).code as string;

  it("replaces calls of a one-expression function and of a renamed method; their definitions go; results are the same", async () => {
    const code = [
      "function lower(c){return c>=65&&c<=90?c|32:c}",
      "var K=class{constructor(){this.h=[1,2,3,4,5,6]}g(i){return this.h[i*2+1]}run(){return this.g(0)+this.g(2)+lower(66)}};",
      "function twice(k){return k.g(1)*2}",
      "module.exports={K:K,twice:twice};",
    ].join("\n");
    const out = await inline(code, ["g"]);
    expect(out).not.toContain("function lower");
    expect(out).not.toMatch(/\bg\(i\)/);
    expect(out).not.toMatch(/\.g\(/);
    const a = load(code), b = load(out);
    expect([new b.K().run(), b.twice(new b.K())]).toEqual([new a.K().run(), a.twice(new a.K())]);
  });

  it("evaluates a call's receiver and arguments once, first and in order, however often the body reads them", async () => {
    const code = [
      "function sum(a,b){return b+b+a}",
      "var log=[];function f(x){log.push(x);return x}",
      "function run(){log.length=0;var r=sum(f(1),f(10));return [r,log.join(\",\")]}",
      "var K=class{constructor(){this.n=0}bump(){this.n++}};function go(){var ks=[new K,new K];var i=0;ks[i++].bump();return [i,ks[0].n,ks[1].n]}",
      "function store(o,v){o.v=v}function unit(){var o={};return [store(o,f(3)),o.v]}",
      "module.exports={run:run,go:go,unit:unit};",
    ].join("\n");
    const out = await inline(code, ["bump"]);
    expect(out).not.toContain("function sum");
    expect(out).not.toContain("bump(){");
    expect(out).not.toContain("function store");
    expect(out).toMatch(/var \$\$0/);
    const a = load(code), b = load(out);
    expect(b.run()).toEqual(a.run());
    expect(b.run()).toEqual([21, "1,10"]);
    expect(b.go()).toEqual(a.go());
    expect(b.unit()).toEqual([undefined, 3]);
  });

  it("keeps order when a later argument writes what an earlier one reads; leaves spread calls; keeps \"use strict\" first", async () => {
    const code = [
      "function g(a,b){return b+a}function local(){var x=1;return g(x,x=5)}",
      "function h(a,b){return a*10+b}function member(){var o={p:1};return h(o.p,o.p=5)}",
      "function s(a,b){return a+b}function spread(){var xs=[1,2];return s(...xs)+s(3,4)}",
      "function id(a){return a}function f(){return 1}function strict(){\"use strict\";var r=id(f());return [r,(function(){return this===undefined})()]}",
      "module.exports={local:local,member:member,spread:spread,strict:strict};",
    ].join("\n");
    const out = await inline(code);
    expect(out).toContain("function s(a,b)"); // a spread call cannot be written out
    const a = load(code), b = load(out);
    expect([b.local(), b.member(), b.spread(), b.strict()]).toEqual([a.local(), a.member(), a.spread(), a.strict()]);
    expect([b.local(), b.member(), b.strict()]).toEqual([6, 15, [1, true]]);
  });

  it("leaves a function that is passed as a value, recursive, shadowed where called, spelled as a string, called at the top level or over the growth limit", async () => {
    const code = [
      "function asValue(x){return x+1}var t=[1].map(asValue);",
      "function rec(n){return n<=0?0:rec(n-1)}function r(){return rec(3)}",
      "var base=5;function plus(x){return x+base}function shadow(){var base=100;return plus(1)}",
      "var K=class{m(){return 1}k(){return 2}};var o={k:1};function callK(q){return q.m()+q.k()+q[\"m\"]()}",
      "function top(){return 7}var v=top();",
      "function big(x){return x+\"" + "a".repeat(200) + "\"}function useBig(){return big(1)+big(2)}",
      "module.exports={t:t,r:r,shadow:shadow,K:K,callK:callK,v:v,useBig:useBig};",
    ].join("\n");
    const out = await inline(code, ["m", "k"], 160);
    for (const kept of ["function asValue", "function rec", "function plus", "m(){return 1}", "k(){return 2}", "function top", "function big"]) expect(out).toContain(kept);
    const a = load(code), b = load(out);
    expect([b.t, b.r(), b.shadow(), b.callK(new b.K()), b.v, b.useBig()]).toEqual([a.t, a.r(), a.shadow(), a.callK(new a.K()), a.v, a.useBig()]);
  });

  it("inlines inside out: a call in an argument of another, and a body that calls another candidate (next round)", async () => {
    const code = [
      "function earliest(a,b){return b>=0&&(a<0||b<a)?b:a}",
      "function tidy(x){return earliest(x,3)}",
      "function next(p,q,r){return tidy(earliest(earliest(p,q),r))}",
      "module.exports={next:next};",
    ].join("\n");
    const out = await inline(code);
    expect(out).not.toMatch(/function (earliest|tidy)/);
    const a = load(code), b = load(out);
    for (const args of [[-1, 5, 2], [4, -1, -1], [1, 2, 3], [9, 8, 7]]) expect(b.next(...args)).toBe(a.next(...args));
  });
});

// The firmware (dist/device/doorsip.js) and the message layer (dist/device/doorsip-core.js, held to the budget).
describe.each([["doorsip.js", false], ["doorsip-core.js", true]])("the real device bundle %s", (name, budgeted) => {
  const file = join(root, "dist/device", name);

  beforeAll(async () => {
    // `npm test` runs `node build.mjs` first; build here too when this file is run on its own.
    if (!existsSync(file)) await (budgeted ? build.bundleDevice() : build.bundleDevice({ entry: build.firmwareEntry, outfile: build.firmwareOutfile }));
  }, 120_000);

  it("passes the Espruino gate", () => {
    const code = readFileSync(file, "utf8");
    const map = readFileSync(file + ".map", "utf8");
    // Compared as printed lines so a failure names the TypeScript file and line to fix.
    expect(checkBundle(code, map).map((o) => formatOffence(o, "dist/device/" + name, join(root, "dist/device")))).toEqual([]);
  });

  it("is plain ASCII, and the message layer is within the size budget", () => {
    const code = readFileSync(file, "utf8");
    const budget = Number(process.env.DOORSIP_SIZE_BUDGET || build.sizeBudget);
    if (budgeted) expect(Buffer.byteLength(code)).toBeLessThanOrEqual(budget);
    expect(/^[\x00-\x7f]*$/.test(code)).toBe(true);
  });

  it("loads as a CommonJS module and exports its entry's names", () => {
    const exported = createRequire(import.meta.url)(file);
    expect(Object.keys(exported).length).toBeGreaterThan(0);
    if (!budgeted) expect(Object.keys(exported).sort()).toEqual(["boot", "start"]);
    expect(load(readFileSync(file, "utf8"))).toEqual(expect.any(Object));
  });

  const load = (code: string) => {
    const module = { exports: {} as any };
    new Function("module", "exports", "require", code)(module, module.exports, () => undefined);
    return module.exports;
  };
});

describe("root script: the device bundle also runs at Espruino's root, its names kept apart", () => {
  const noMap = JSON.stringify({ version: 3, sources: ["a.ts"], names: [], mappings: "AAAA,EAAE,EAAE" });
  const code = [
    "var x=1,D5=2;function f(a){let x=a;{const D5=x+1;return D5+g()}}",
    "function g(){return x+D5}",
    "class K{m(){return{x,D5:D5,f}}static s(){try{throw x}catch(x){return x+1}}}",
    "var h=function x(n){return n>0?x(n-1):D5};",
    "for(let D5=0;D5<1;D5++)x+=10;",
    "var out={f:f,g:g,K:K,h:h,get x(){return x}};module.exports=out;",
  ].join("\n");

  it("renames every top-level binding and only those; the module.exports path gives the same results", async () => {
    const { code: out } = await build.rootScript(code, noMap, "lib");
    expect(out).toContain("var $x=1,$D5=2;function $f(a){let x=a;{const D5=x+1;return D5+$g()}}"); // shadowed names kept
    expect(out).toContain("function $g(){return $x+$D5}");
    expect(out).toContain("m(){return{x:$x,D5:$D5,f:$f}}"); // a shorthand property keeps its key
    expect(out).toContain("catch(x){return x+1}");
    expect(out).toContain("var $h=function x(n){return n>0?x(n-1):$D5}");
    expect(out).toContain("for(let D5=0;D5<1;D5++)$x+=10;");
    expect(out).toContain('typeof module<"u"?module.exports=$out:lib=$out;');
    const a = load(code), b = load(out);
    const results = (o: any) => [o.f(3), o.g(), JSON.stringify(new o.K().m().x), o.K.s(), o.h(2), o.x];
    expect(results(b)).toEqual(results(a));
  });

  it("at a root with no module, defines the global and touches no global a user or the board owns", async () => {
    const { code: out } = await build.rootScript(code, noMap, "lib");
    const vm = await import("node:vm");
    const ctx: any = vm.createContext({ D5: "pin", x: "user" });
    vm.runInContext(out, ctx);
    expect(ctx.D5).toBe("pin");
    expect(ctx.x).toBe("user");
    expect(ctx.lib.g()).toBe(13);
    expect(typeof ctx.$f).toBe("function");
  });

  it("keeps a renamed name's source mapping at its start, and refuses a new name the bundle already spells", async () => {
    const { map } = await build.rootScript("var a=1;module.exports=a;", noMap, "lib");
    expect(JSON.parse(map).mappings.split(",")[0]).toBe("AAAA");
    await expect(build.rootScript("var a=1;function f($a){return $a+a}module.exports=f;", noMap, "lib")).rejects.toThrow(/\$a/);
    // A property of that name captures nothing.
    expect((await build.rootScript("var a=1,o={$a:2};o.$a=a;module.exports=o;", noMap, "lib")).code).toContain("$o={$a:2};$o.$a=$a;");
    await expect(build.rootScript("var a=1;", noMap, "lib")).rejects.toThrow(/module.exports/);
    // An export that is not a top-level name is held in one.
    const { code: out } = await build.rootScript("var a=1;module.exports={a};", noMap, "lib");
    expect(out).toBe('var $a=1;var $exports={a:$a};typeof module<"u"?module.exports=$exports:lib=$exports;');
  });
});

describe("inlined bodies: a function with one caller is written out in it", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  const inline = async (code: string, mangled: string[] = []) => (await build.inlineBodies(code, noMap, new Set(mangled))).code as string;

  it("declares a body's temporaries where it is written out (a branch not taken makes none), in loops too; same results", async () => {
    const code = [
      "function pick(a,b){var s=a*2;let u;if(b)u=s+1;return u===void 0?s:u}",
      "function step(x){var k=x+1;return k*k}",
      "function run(n,flag){var out=[];for(var i=0;i<n;i++){if(flag&&i%2)out.push(pick(i,i%3));else if(i>3)out.push(step(i))}return out.join(',')}",
      "module.exports={run};",
    ].join("\n");
    const out = await inline(code);
    expect(out).not.toContain("function pick");
    expect(out).not.toContain("function step");
    // run's own declarations come first; the temporaries sit in the branches that use them.
    expect(out).toMatch(/function run\(n,flag\)\{var out=\[\];for\(var i=0;/);
    expect(out).toMatch(/if\(flag&&i%2\)\{var [a-z$]/);
    for (const [n, flag] of [[9, true], [9, false], [0, true]] as const) expect(load(out).run(n, flag)).toBe(load(code).run(n, flag));
  });

  it("a call anywhere in an expression: operands before it keep their order, && || ?: ?? short-circuit, loop tests run every pass", async () => {
    const code = [
      "var log=[];var box={v:1,w:[0,0]};",
      "function t(x){log.push('t'+x);return x}",
      "function f(x){log.push('f'+x);box.v+=x;return x*2}",
      "function g(x){log.push('g'+x);if(x>2)return x-1;return 0}",
      "function h(x){log.push('h'+x);return x>0}",
      "function k(x){log.push('k'+x);return x+1}",
      "function m(x){log.push('m'+x);return'm'+x}",
      "function n(x){log.push('n'+x);return x}",
      "function p(x){log.push('p'+x);return null}",
      "function q(x){log.push('q'+x);return x<3}",
      "function r(x){log.push('r'+x);return x}",
      "function u(x){log.push('u'+x);return x}",
      "function v(x){log.push('v'+x);return x}",
      "function w(x){log.push('w'+x);return x}",
      "function b2(x){let y=x,z=[y,y=5,w(x)];return z}",
      "function a(x){let e=[box.v>100||u(x),box.v<100||v(x)];let y=0,z=box.v+t(1)*f(x)-box.v;if(t(2)&&g(x)>1||t(3))y=[t(4),k(x),t(5)];",
      "  box.w[t(0)]=n(x);let s=`${t(6)}:${m(x)}`,o={a:t(7),b:p(x)??t(8)};",
      "  switch(r(x)){case 1:y=1;break;default:y=2}",
      "  let i=0,c=0;while(q(i)){i++;if(i===1)continue;c++}",
      "  for(let j=0;h(2-j);j++){if(j===0)continue;c+=10}",
      "  return[e,z,y,s,o,box.v,box.w.slice(),i,c,x>1?t(9):t(10)]}",
      "module.exports={a,b2,log,box};",
    ].join("\n");
    const out = await inline(code);
    for (const fn of ["f", "g", "h", "k", "m", "n", "p", "q", "r", "u", "v", "w"]) expect(out).not.toContain("function " + fn + "(");
    expect(load(out).b2(3)).toEqual([3, 5, 3]); // a local read before an assignment in the same statement keeps its old value
    const A = load(code), B = load(out);
    for (const x of [1, 3, 5]) {
      A.box.v = B.box.v = 1;
      expect(B.a(x)).toEqual(A.a(x));
      expect(B.log.splice(0)).toEqual(A.log.splice(0));
    }
  });

  it("an argument the body cannot see change is read as written (no temporary); one that could is copied first", async () => {
    const code = [
      "function sum3(a,b,c){var x=a+b;var y=x+c;return y}",
      "function run(p,q){var r=sum3(p,q,1);var s=sum3(q,p,2);return[r,s]}",
      "function twice(a){var k=a;a=a*2;return k+a}",
      "function run2(p){var r=twice(p);return r+p}",
      "function peek(a,f){f();return a}",
      "function run3(){var v=1;var bump=function(){v=5};var r=peek(v,bump);return[r,v]}",
      "module.exports={run,run2,run3};",
    ].join("\n");
    const out = await inline(code);
    for (const fn of ["sum3", "twice", "peek"]) expect(out).not.toContain("function " + fn + "(");
    // sum3's parameters are p, q and a number: only its two vars are temporaries, the same two at both calls.
    const run = /function run\(p,q\)\{(.*?)return\[r,s\]\}/.exec(out)![1];
    expect(run).not.toMatch(/=p;|=q;|=1;|=2;/);
    const declared = new Set([...run.matchAll(/var ([\w$,]+);/g)].flatMap((m) => m[1].split(",")).filter((n) => n !== "r" && n !== "s"));
    expect(declared.size).toBe(2);
    // twice assigns its parameter; peek's caller has a closure that writes v: both take a copy.
    expect(out).toMatch(/function run2\(p\)\{.*=p;/);
    expect(out).toMatch(/function run3\(\)\{.*=v;/);
    const A = load(code), B = load(out);
    expect(B.run(3, 4)).toEqual(A.run(3, 4));
    expect(B.run2(5)).toEqual(A.run2(5));
    expect(B.run3()).toEqual([1, 5]);
  });

  it("temporaries of bodies written out one after another share names, but not across a loop that one of them lives through", async () => {
    const code = [
      // each is written out first (the first candidate), scale in the next round: its temporary is new then,
      // in a loop whose counter only the loop's head reads (the update is written before the body, runs after).
      "function each(n,k){var s=0;for(var j=0;j<n;j++){s+=scale(k,2)}return s}",
      "function scale(x,f){var y=x*f;return y}",
      "function run4(n,m){var r=each(n,m);var t=each(n+1,m);return[r,t]}",
      "module.exports={run4};",
    ].join("\n");
    const out = await inline(code);
    expect(out).not.toContain("function scale(");
    expect(out).not.toContain("function each(");
    expect(load(out).run4(3, 5)).toEqual([30, 40]);
    expect(load(out).run4(0, 5)).toEqual([0, 10]);
    // Shared where they can be: run4 declares fewer names than the bodies written out in it have.
    const run4 = /function run4\(n,m\)\{(.*)\}/.exec(out)![1];
    const names = [...run4.matchAll(/var ([\w$,]+);/g)].flatMap((x) => x[1].split(",")).filter((x) => x !== "r" && x !== "t");
    expect(new Set(names).size).toBeLessThan(names.length);
  });

  it("a factory `var f=function(){…}` is a candidate: its declarator goes with its comma, or its statement when alone", async () => {
    const code = [
      "var a=2,f=function(x){return x+a},b=3;",
      "var c=4,g=function(x){return x*c};",
      "var h=function(x){return x-1};",
      "function run(v){let p=f(v);let q=g(p);let r=h(q);return[p,q,r,a,b,c]}",
      "module.exports={run};",
    ].join("\n");
    const out = await inline(code);
    for (const n of ["f=", "g=", "h="]) expect(out).not.toContain(n);
    expect(out).toContain("var a=2,b=3;");
    expect(out).toContain("var c=4;");
    expect(load(out).run(5)).toEqual(load(code).run(5));
    // One declared with another chosen in the same list waits for the next round; both go.
    const two = "var f=function(x){return x+1},g=function(x){return x*2};function run(v){let p=f(v);let q=g(p);return[p,q]}module.exports={run};";
    const out2 = await inline(two);
    expect(out2).not.toContain("function(x)");
    expect(load(out2).run(5)).toEqual([6, 12]);
  });

  it("statement, assignment, declaration and return sites; early returns, loops and resets; same results", async () => {
    const code = [
      "var log=[];",
      "function find(a,x){for(let i=0;i<a.length;i++){switch(a[i]){case x:return i;default:if(a[i]>x*10)return-2}}return-1}",
      "function note(v){if(v<0){log.push('neg');return}log.push('note')}",
      "function mark(v){let s;if(v>5)s='big';log.push(s||'small')}",
      "function sum(n){let t=0;for(let i=1;i<=n;i++)t+=i;return t}",
      "function sign(v){if(v<0)return-1;if(v>0)return 1;return 0}",
      "function pick(v){return v>1?'many':'one'}",
      "function run(a,x){let r=find(a,x);note(r);let s,q=sum(r+2);s=sign(r);return[r,s,q,pick(r)]}",
      "function loop(vs){let out=[];for(let i=0;i<vs.length;i++)mark(vs[i]);return out.concat(log.splice(0))}",
      "module.exports={run,loop,log};",
    ].join("\n");
    const out = await inline(code);
    for (const f of ["find", "note", "mark", "sum", "sign"]) expect(out).not.toContain("function " + f + "(");
    expect(out).not.toContain("function pick("); // called inside an array literal: what comes before it goes first
    expect(out).toContain("do{"); // an early return breaks out of the written-out body
    const a = load(code), b = load(out);
    for (const [arr, x] of [[[1, 2, 3], 2], [[1, 50, 3], 3], [[7], 9], [[], 1]] as [number[], number][]) {
      expect(b.run(arr, x)).toEqual(a.run(arr, x));
      expect(b.log.splice(0)).toEqual(a.log.splice(0));
    }
    expect(b.loop([-1, 9, 2, 7])).toEqual(a.loop([-1, 9, 2, 7])); // `let s;` is undefined again on every pass
  });

  it("methods: the receiver is evaluated once, before the arguments; `this` is the receiver", async () => {
    const code = [
      "var order=[];",
      "var K=class{constructor(){this.v=1}add(n){if(n<0)return this.v;this.v+=n;return this.v}};",
      "function get(k){order.push('k');return k}",
      "function arg(n){order.push('n'+n);return n}",
      "function go(k){let r=get(k).add(arg(5));return[r,k.v]}",
      "module.exports={K,go,order};",
    ].join("\n");
    const out = await inline(code, ["add"]);
    expect(out).not.toContain("add(n)");
    const a = load(code), b = load(out);
    expect(b.go(new b.K())).toEqual(a.go(new a.K()));
    expect(b.order).toEqual(a.order);
  });

  it("lowers minified statements so the call stands alone: sequences, &&, ?:, return ?:, a test that starts with the call", async () => {
    const code = [
      "var log=[];",
      "function f(x){if(x>3)return x*2;log.push(x);return x}",
      "function g1(x){return log.push('a'),f(x)}",
      "function g2(c,x){c&&f(x);return log.length}",
      "function g3(c,x){return c?f(x):-1}",
      "function g4(x){if(h(x)<5)return'lt';return'ge'}",
      "function h(x){let y=x+1;if(y>4)return y*10;return y}",
      "function g5(c,x){c?log.push('c'):k(x)}",
      "function k(x){log.push('k'+x)}",
      "module.exports={g1,g2,g3,g4,g5,log};",
    ].join("\n");
    const out = await inline(code);
    for (const n of ["h", "k"]) expect(out).not.toContain("function " + n + "(");
    const a = load(code), b = load(out);
    const calls = (m: any) => [m.g1(2), m.g2(true, 9), m.g2(false, 1), m.g3(true, 5), m.g3(false, 5), m.g4(1), m.g4(7), m.g5(true, 1), m.g5(false, 2), m.log.splice(0)];
    expect(calls(b)).toEqual(calls(a));
  });

  it("a small function called from a few places is written out at each; a larger one stays", async () => {
    const code = [
      "var log=[];",
      "function clamp(v,lo){if(v<lo){log.push(v);return lo}return v}",
      "function big(v){" + Array.from({ length: 16 }, (_, i) => "if(v===" + i + ")log.push('value " + i + " seen here');").join("") + "return v}",
      "function a(x){let y=clamp(x,0);return big(y)}",
      "function b(x){return clamp(x,5)+big(x)}",
      "module.exports={a,b,log};",
    ].join("\n");
    const out = await inline(code);
    expect(out).not.toContain("function clamp(");
    expect(out).toContain("function big(");
    const m = load(out), o = load(code);
    expect([m.a(-3), m.a(4), m.b(2), m.b(9), m.log]).toEqual([o.a(-3), o.a(4), o.b(2), o.b(9), o.log]);
  });

  it("review cases: temporaries hide nothing a nested body reads; try and var keep call semantics; a class's own name stays", async () => {
    const cases: [string, string][] = [
      // A temporary of H must not hide `a`, read by the body written into the function nested in H.
      ["var a=7;function A(x){let y=x+1;return y*2}function B(){let z=a;return z}function H(){var r=A(1);var g=function(){var s=B();return s};return[r,g()]}",
        "H"],
      // The caller's assignment (a setter that throws) comes after the body's catch, as after a call.
      ["var log=[];var K=class{set p(v){log.push('set '+v);if(v<0)throw Error('no')}m(s){try{return s*1}catch(e){log.push('caught');return 0}}go(s){try{this.p=this.m(s)}catch(e){log.push('outer')}return log}};" +
        "function H(){return new K().go(-1)}", "H"],
      // A finally reads the assigned name before the caller assigns it.
      ["var v=0,seen=-1;function f(){try{return 1}finally{seen=v}}function H(){v=f();return[v,seen]}", "H"],
      // Each call starts a var undefined.
      ["function f(c){var r;if(c)r=1;return r}function H(){let a=f(1);let b=f(0);return[a,b]}", "H"],
      // A class expression's own name is not visible where its method would go.
      ["var K=class Q{m(a){let q=Q.z+a;return q}};K.z=5;function H(){let k=new K();let r=k.m(3);return r}", "H"],
      // A declaration of several names is split before the one whose value starts with the call.
      ["var log=[];function f(x){if(x>1)return x;log.push(x);return 0}function H(){let a=log.length,b=f(a+2)?'big':'small',c=b+a;return[a,b,c,log.length]}", "H"],
      // Extra arguments are evaluated, in parentheses.
      ["var n=0;function f(a){return a+1}function H(){let r=f(1,function(){n++},{a:1});return[r,n]}", "H"],
    ];
    for (const [body, fn] of cases) {
      const code = body + "\nmodule.exports={" + fn + "};";
      const out = await inline(code, ["m"]);
      expect([body, load(out)[fn]()]).toEqual([body, load(code)[fn]()]);
    }
  });

  it("review cases of the A-normal form: what runs before the body keeps its order and values", async () => {
    const cases: [string, string[]][] = [
      // A closure called by an earlier operand writes a local read before it.
      ["function f(x){return x}function H(){let y=1;let g=()=>{y=5};return[y,g(),f(2)]}", []],
      // Writes in the receiver of a method call, directly and through a closure.
      ["var K=class{m(a){return a}};function H(){let y=1,o=new K;return[y,(y=5,o).m(2)]}", ["m"]],
      ["var K=class{m(a){return a}};function H(){let y=1,o=new K,g=()=>(y=5,o);return[y,g().m(2)]}", ["m"]],
      // A compound assignment reads its target first.
      ["function f(x){return x}function H(){let y=1;let g=()=>{y=10;return 0};y+=g()+f(2);return y}", []],
      ["function f(x){return x}function H(){let y=1;let g=()=>{y=5;return 2};y+=f(g());return y}", []],
      // The method is looked up before the arguments run (a body that replaces it, a getter).
      ["var o={m(a){return'old'+a},n(a){return'new'+a}};function f(x){o.m=o.n;return x}function H(){return o.m(f(1))}", []],
      ["var log=[];var o={get m(){log.push('get');return function(a){return a}}};function f(x){log.push('f');return x}function H(){o.m(f(1));return log}", []],
      // Sequences after the call keep their parentheses; a trailing hole stays.
      ["function f(x){return x}function g(){return arguments.length}function H(){return g(f(1),(2,3))}", []],
      ["function f(x){return x}function H(){return[f(1),(2,3)]}", []],
      ["function f(x){return x}function H(){return JSON.stringify({b:f(1),c:(2,3)})}", []],
      ["function f(x){return x}function H(){return[f(1),,].length}", []],
      // A substitution before the call is made text before it.
      ["var s=0;var o={toString(){return'v'+s}};function f(x){s=x;return x}function H(){return`${o}:${f(5)}`}", []],
      // A logical assignment is left as it is; `in` after a temporary keeps its space; a function expression first in a sequence.
      ["var n=0;function f(x){n++;return x}function H(){let y=1;y||=f(2);return[y,n]}", []],
      ["function f(x){return x}function H(){let o={a:1};return f('a')in o}", []],
      ["var n=0;function f(x){return x}function H(){return[(function(){n++}(),f(1)),n]}", []],
    ];
    for (const [body, mangled] of cases) {
      const code = body + "\nmodule.exports={H};";
      const out = await inline(code, mangled);
      expect([body, load(out).H()]).toEqual([body, load(code).H()]);
    }
  });

  it("keeps a function called from many places, one whose body reads a name the caller shadows, and one with a nested function", async () => {
    const code = [
      "var n=1;",
      "function twice(x){return x+1}",
      "function reads(){let y=n*2;return y}",
      "function nested(x){let g=function(){return x};return g()}",
      "function a(){return twice(1)+twice(2)+twice(0)+twice(0)+twice(-1)-1}",
      "function b(){let n=5;return reads()+n}",
      "function c(){return nested(3)}",
      "module.exports={a,b,c};",
    ].join("\n");
    const out = await inline(code);
    for (const f of ["twice", "reads", "nested"]) expect(out).toContain("function " + f + "(");
    expect([load(out).a(), load(out).b(), load(out).c()]).toEqual([6, 7, 3]);
  });
});

describe("shared constants: stored true, false, null and \"\" are one value each", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  it("replaces the values objects keep, wraps stored comparisons, leaves tests, arguments and returns alone; same results", async () => {
    const code = [
      "var K=class{constructor(a){this.on=!1,this.name=\"\",this.next=null,this.big=a>10,this.neg=!a,this.x=a?!0:null}",
      "flip(){return this.on=!this.on,this.on===!0}",
      "label(){return this.name===\"\"?(this.name+=\"k\",this.name):\"\"}};",
      "var top=null,list=[!0,\"\",null],obj={a:!1,b:\"\"};",
      "function f(k){if(k.next===null)return!1;return g(null,\"\")}",
      "function g(a,b){return a===null&&b===\"\"}",
      "module.exports={K,top,list,obj,f};",
    ].join("\n");
    const { code: out } = await build.shareConstants(code, noMap);
    expect(out.startsWith('var $T=!0,$F=!1,$N=null,$E="";')).toBe(true);
    expect(out).toContain("this.on=$F,this.name=$E,this.next=$N,this.big=(a>10)?$T:$F,this.neg=(!a)?$T:$F,this.x=a?$T:$N");
    expect(out).toContain("this.on=(!this.on)?$T:$F");
    expect(out).toContain("var top=$N,list=[$T,$E,$N],obj={a:$F,b:$E}");
    expect(out).toContain('if(k.next===null)return!1;return g(null,"")'); // a test, a return, arguments
    expect(out).toContain('this.name===""?(this.name+="k",this.name):""'); // a comparison, a compound assignment, a value returned
    const a = load(code), b = load(out);
    const run = (m: any) => { const k = new m.K(12), j = new m.K(0); return [k.on, k.name, k.next, k.big, k.neg, k.x, j.x, k.flip(), k.label(), k.label(), j.name, m.top, m.list, m.obj, m.f(k)]; };
    expect(run(b)).toEqual(run(a));
  });

  it("declares the shared names after a \"use strict\" directive, which stays one", async () => {
    const code = '"use strict";var o={a:null};function f(){return typeof this}\nmodule.exports={o,f};';
    const { code: out } = await build.shareConstants(code, noMap);
    expect(out.startsWith('"use strict";var $T=!0')).toBe(true);
    expect(load(out).f.call(undefined)).toBe("undefined");
  });
});

describe("prototype objects: a class with methods becomes an object of methods and a factory", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  it("rewrites classes (with or without a constructor) and their `new`s; `this` in the constructor's arrows; keeps the rest", async () => {
    const code = [
      "var A=class{constructor(){var a=arguments[0];this.v=a;this.f=()=>this.v;this.g=function(){return this}}get(){return this.v}inc(){this.v++;return this}},n=1;",
      "class B{m(){return 2}}",
      "var R=class{constructor(){this.a=1}m(){return 1}};var isR=(o)=>o instanceof R;",
      "var S=class{static s(){return 1}m(){return 2}};",
      "var G=class{get x(){return 1}};",
      "var Q=class{constructor(){return{q:1}}m(){return 3}};",
      "var P=class{m(){return 4}};var K=class extends P{};",
      "function make(){let a=new A(5);a.inc();let g=a.g();return[a.get(),a.f(),g===a,new B().m(),new B instanceof Object,isR(new R),S.s(),new G().x,new Q().q,new K().m(),n]}",
      "module.exports={make};",
    ].join("\n");
    const { code: out, rewritten } = await build.prototypeObjects(code, noMap);
    expect(rewritten).toBe(2);
    expect(out).toContain("var A=function(){var $$o=Object.create(A$p);var a=arguments[0];$$o.v=a;$$o.f=()=>$$o.v;$$o.g=function(){return this};return $$o},A$p={get(){return this.v},inc(){this.v++;return this}},n=1;");
    expect(out).toContain("function B(){return Object.create(B$p)};var B$p={m(){return 2}};");
    expect(out).toContain("let a=A(5);");
    expect(out).toContain("B().m(),B() instanceof Object");
    for (const kept of ["var R=class", "var S=class", "var G=class", "var Q=class", "var P=class"]) expect(out).toContain(kept);
    const a = load(code).make(), b = load(out).make();
    expect(b).toEqual(a);
    expect(b.slice(0, 3)).toEqual([6, 6, true]); // a nested function's `this` stays its own (the receiver here)
  });

  it("leaves `new (X)` and a super(…) whose value is used as they were", async () => {
    const code = [
      "var A=class{m(){return 1}};",
      "var W=class{constructor(a){this.a=a}m(){return 1}};var T=class extends W{constructor(a){var s=super(a);this.same=s===this}};",
      "function H(){return[(new (A)).m(),new T(1).same]}",
      "module.exports={H};",
    ].join("\n");
    const { code: out, rewritten } = await build.prototypeObjects(code, noMap);
    expect(rewritten).toBe(0);
    expect(load(out).H()).toEqual([1, true]);
  });

  it("a base only extended keeps its constructor as a function; subclasses chain their prototypes, super(…) and super.m(…) call it", async () => {
    const code = [
      "var W=class{constructor(a){this.a=a;this.n=0}start(x){this.n+=x;return this}name(){return 'W'+this.a}};",
      "var T=class extends W{constructor(a,b){super(a),this.b=b}name(){return 'T'+super.name()+this.b}more(){return super.start(2).n}};",
      "var U=class extends W{tick(){return this.start(1).n}};",
      "var V=class{constructor(){this.v=1}m(){return 1}};var Y=class extends V{};",
      "var X=class{constructor(){this.x=1}m(){return 2}};var Z=class extends X{m(){return 3}};var Z2=class extends Z{};",
      "function make(){let t=new T(1,2),u=new U(7);return[t.name(),t.more(),t.a,t.b,u.tick(),u.tick(),u.name(),new V().m(),new Y().v,new Z2().m()]}",
      "module.exports={make};",
    ].join("\n");
    const { code: out, rewritten } = await build.prototypeObjects(code, noMap);
    expect(rewritten).toBe(3); // W, T, U; V is `new`ed, Z extended
    expect(out).toContain("var W=function(a){this.a=a;this.n=0},W$p={start(x)");
    expect(out).toContain("var T=function(a,b){var $$o=Object.create(T$p);W.call($$o,a),$$o.b=b;return $$o},T$p={__proto__:W$p,name(){return 'T'+W$p.name.call(this)+this.b},more(){return W$p.start.call(this,2).n}};");
    expect(out).toContain("var U=function(){var $$o=Object.create(U$p);W.apply($$o,arguments);return $$o},U$p={__proto__:W$p,tick()");
    for (const kept of ["var V=class", "var Y=class", "var X=class", "var Z=class"]) expect(out).toContain(kept);
    const a = load(code).make(), b = load(out).make();
    expect(b).toEqual(a);
    expect(b.slice(0, 7)).toEqual(["TW12", 2, 1, 2, 1, 2, "W7"]);
  });
});

describe("packed numbers: number fields live in one Float64Array per object", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  it("packs a hierarchy's fields (the base allocates, with or without a constructor), one slot per name in every class; same results", async () => {
    const code = [
      "var A=class{constructor(){this.a=1,this.b=-0,this.c=NaN,this.d=2**40+.5,this.s='x'}sum(){return this.a+this.b+this.d}};",
      "var B=class extends A{constructor(){super(),this.e=3,this.f=0}bump(){this.e++,this.f+=2,this.a*=3;return this}};",
      "var P=class{m(){return this.q}};var Q=class extends P{constructor(){super(),this.q=7,this.a=5}};",
      "function make(){let b=new B().bump(),q=new Q();return[b.sum(),Object.is(b.b,-0),Number.isNaN(b.c),b.d,b.e,b.f,b.s,q.m(),q.a,b instanceof A]}",
      "module.exports={make};",
    ].join("\n");
    const { code: out, packed, prop } = await build.packNumbers(code, noMap, new Set(["a", "b", "c", "d", "e", "f", "q"]), 2, 0);
    expect(prop).toBe("g"); // the first letter no property of the bundle spells
    expect([...packed.keys()].sort()).toEqual(["a", "b", "c", "d", "e", "f", "q"]);
    expect(packed.get("a")).toBe(0); // held by both hierarchies: the same slot in each
    expect(new Set(["a", "b", "c", "d", "e", "f"].map((n) => packed.get(n))).size).toBe(6);
    expect(packed.get("q")).not.toBe(packed.get("a"));
    expect(out).toContain("var A=class{constructor(){this.g=new Float64Array(6);this.g[0]=1,");
    expect(out).toContain("var P=class{constructor(){this.g=new Float64Array(2)}m(){return this.g[" + packed.get("q") + "]}}");
    expect(out).toContain("this.g[" + packed.get("e") + "]++");
    expect(out).not.toMatch(/\.(a|b|c|d|e|f|q)\b/);
    expect(load(out).make()).toEqual(load(code).make());
    // At ~4 variables an array, six numbers cost as much packed (4 + 6/3) as not: nothing is packed.
    expect((await build.packNumbers(code, noMap, new Set(["a", "b", "c", "d", "e", "f", "q"]), 2)).code).toBe(code);
  });

  it("leaves a name deleted, used as a key or a string, read through super, or held by a class below the minimum, a base outside the bundle or none", async () => {
    const code = [
      "var A=class{constructor(){this.a=1,this.e=0,this.b=2,this.c=3,this.d=4,this.k=5,this.x=6,this.y=7}m(){delete this.d;return this.a+this.e}};",
      "var B=class{constructor(){this.b=1}};", // b: held by a class with one name (below the minimum of 2)
      "var C=class extends Array{constructor(){super(),this.c=1,this.z=1}};", // c, z: a base outside the bundle
      "var o={k:1},s='x';function f(){return o.k+A.w}", // k: a key; x: a string; w: held by no class
      "var D=class extends A{constructor(){super(),this.y=super.y}};", // y: through super
      "module.exports={A,B,C,f,D};",
    ].join("\n");
    const names = new Set(["a", "b", "c", "d", "e", "k", "x", "y", "z", "w"]);
    const { packed } = await build.packNumbers(code, noMap, names, 2, 0);
    expect([...packed.keys()].sort()).toEqual(["a", "e"]);
    const none = await build.packNumbers(code, noMap, names, 3, 0);
    expect(none.code).toBe(code); // two names left, below the minimum of 3: nothing changes
  });

  it("a firmware build renames what only tests read (no users), and `internals` reaches each field as the bundle has it", async () => {
    const dir = mkdtempSync(join(root, "dist/.internals-"));
    try {
      const entry = join(dir, "entry.ts");
      writeFileSync(entry, `export { SipMessage, parseMessage } from ${JSON.stringify(join(root, "sip-core/index.ts"))};\n`);
      const lib = await build.bundleDevice({ entry, outfile: join(dir, "lib.js"), write: false, users: build.libraryUsers });
      const fw = await build.bundleDevice({ entry, outfile: join(dir, "fw.js"), write: false, users: [] });
      // The library keeps what its users spell (the benchmark reads callIdStart); the firmware-like build does not.
      expect(lib.internals.callIdStart).toBeUndefined();
      expect(fw.internals.callIdStart).toMatch(/^\.[A-Za-z]+(\[\d+\])?$/);
      const text = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\n" +
        "Call-ID: abc@h\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
      const read = (code: string, at: (n: string) => string) => {
        const d = load(code);
        const m = new d.SipMessage();
        expect(d.parseMessage(text, 0, text.length, m)).toBeGreaterThan(0);
        return new Function("m", "return [" + ["callIdStart", "callIdEnd", "cseq"].map((n) => "m" + at(n)).join(",") + "]")(m);
      };
      const fromLib = read(lib.code, (n) => lib.internals[n] || "." + n);
      expect(fromLib).toEqual([text.indexOf("abc@h"), text.indexOf("abc@h") + 5, 7]);
      expect(read(fw.code, (n) => fw.internals[n] || "." + n)).toEqual(fromLib);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the device's number fields are renamed names, and the firmware bundle packs some", async () => {
    const names = await build.devicePropertyNames(), numbers = await build.deviceNumberFields();
    expect(numbers.size).toBeGreaterThan(50);
    for (const n of numbers) expect(names).toContain(n);
    expect(readFileSync(join(root, build.firmwareOutfile), "utf8")).toMatch(/=new Float64Array\(\d+\)/);
  });
});

describe("flattened classes: a class with nothing but a constructor becomes a factory of plain objects", () => {
  const noMap = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  it("rewrites the class and its `new`s; keeps classes with methods, other references, closures or returns; same fields", async () => {
    const code = [
      "var H=class{constructor(){var a=arguments[0];this.v=a>>>0,this.n=0}};",
      "class P{constructor(x){this.x=x;this.h=new H}}",
      "var M=class{constructor(){this.a=1}m(){return this.a}};",
      "var R=class{constructor(){this.a=1}};var isR=(o)=>o instanceof R;",
      "var C=class{constructor(){let s=this;this.f=function(){return s}}};",
      "function make(){return[new H(7),new P(3),new M().m(),isR(new R),new C().f()!==null]}",
      "module.exports={make};",
    ].join("\n");
    const { code: out, flattened } = await build.flattenClasses(code, noMap);
    expect(flattened).toBe(2);
    expect(out).toContain("var H=function(){var $$o={};var a=arguments[0];$$o.v=a>>>0,$$o.n=0;return $$o};");
    expect(out).toContain("function P(x){var $$o={};$$o.x=x;$$o.h=H();return $$o}");
    expect(out).toContain("return[H(7),P(3),new M().m(),isR(new R),new C().f()!==null]");
    const a = load(code).make(), b = load(out).make();
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(Object.getPrototypeOf(b[0])).toBe(Object.prototype);
  });
});

describe("the Storage form: long strings as Espruino's raw strings, kept in flash", () => {
  const raw = (n: number, s: string) => (n < 256 ? String.fromCharCode(0xd1, n) : String.fromCharCode(0xd2, n & 255, n >> 8)) + s;

  it("writes each string literal of 8 characters or more as 0xD1, its length, its bytes; leaves keys, directives and short ones", async () => {
    const code = '"use strict";var a="abcdefgh",b="short",c={"a long key, quoted":1,k:"value of k!"},d=`template text`,e=`x${a}yyyyyyyy`,f="\\x00\\xff\\n tab\\there";';
    const { code: out, strings } = await build.rawStrings(code);
    const text = Buffer.from(out).toString("latin1");
    expect(strings).toBe(4);
    expect(text).toBe('"use strict";var a=' + raw(8, "abcdefgh") + ',b="short",c={"a long key, quoted":1,k:' + raw(11, "value of k!") + "},d=" +
      raw(13, "template text") + ",e=`x${a}yyyyyyyy`,f=" + raw(12, "\x00\xff\n tab\there") + ";");
  });

  it("a string of 256 bytes or more gets the 16-bit length (0xD2, low byte first); one with a character above 255 stays quoted", async () => {
    const long = "x".repeat(300);
    const { code: out } = await build.rawStrings(`var a="${long}",b="snowman \\u2603 here";`);
    expect(Buffer.from(out).toString("latin1")).toBe("var a=" + raw(300, long) + ',b="snowman \\u2603 here";');
  });

  it("the build writes the firmware's Storage form beside it, shorter, with the same code around the strings", () => {
    const js = readFileSync(join(root, build.firmwareOutfile), "latin1");
    const stored = readFileSync(join(root, build.firmwareStorageOutfile), "latin1");
    expect(stored.length).toBeLessThan(js.length);
    expect(stored).toContain(String.fromCharCode(0xd1));
    // Every byte of 0x80 and above is a raw string's marker or inside one: the JavaScript form is all ASCII.
    expect(/[^\x00-\x7f]/.test(js)).toBe(false);
  });
});

describe("rom tables: filled by the sources, written into the device bundle as bytes", () => {
  it("every rom table of the sources is evaluated to the bytes the parser uses", async () => {
    const constants = await import("../sip-core/constants.ts");
    const tables = await build.romTables();
    const mine = tables.get(join(root, "sip-core/constants.ts"));
    expect([...mine.keys()].sort()).toEqual(["CHAR_CLASS", "COMPACT_IDS", "HEADER_IS_LIST", "HEADER_IS_SINGLE", "HEADER_NAME_AT", "METHOD_NAME_AT", "NAME_SLOTS"]);
    for (const [name, t] of mine) {
      const v = (constants as any)[name];
      expect(t.type).toBe(v.constructor.name);
      expect(t.bytes).toBe(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1"));
    }
  });

  it("replaces the argument of each rom(…) with the table's kind and bytes, whatever the expression", () => {
    const source = "export const T: Uint16Array = rom(build(1, [2, (3)]));\nconst x = 1;\nexport const U = rom(new Uint8Array([1, 2]));\n";
    const tables = new Map([["T", { type: "Uint16Array", bytes: "\x01\x00\xff\x00" }], ["U", { type: "Uint8Array", bytes: "\x01\x02" }]]);
    expect(build.substituteRom(source, tables)).toBe('export const T: Uint16Array = rom(1, "\\x01\\x00\\xff\\x00");\nconst x = 1;\nexport const U = rom(0, "\\x01\\x02");\n');
    expect(() => build.substituteRom(source, new Map())).toThrow(/no value for rom table T/);
  });

  it("the device bundles carry no table builder, and run in Node (a copy of the bytes) parsing as the sources do", async () => {
    const core = readFileSync(join(root, build.deviceOutfile), "utf8");
    expect(core).not.toMatch(/"-\.!%\*_\+`'~"/); // buildCharClasses' token characters: the builder is gone
    expect((core.match(/E\.toArrayBuffer/g) || []).length).toBe(1);
    const module = { exports: {} as any };
    new Function("module", "exports", "require", core)(module, module.exports, () => undefined);
    const { SipMessage, parseMessage, validateMessage } = module.exports;
    const text = "OPTIONS sip:door@192.0.2.10 SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\nf: <sip:a@b>;tag=1\r\n" +
      "t: <sip:door@b>\r\ni: c1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
    const msg = new SipMessage();
    expect(parseMessage(text, 0, text.length, msg)).toBe(text.length);
    expect(validateMessage(msg)).toBeGreaterThanOrEqual(0);
    const twice = text.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nCall-ID: c2\r\n");
    expect(parseMessage(twice, 0, twice.length, new SipMessage())).toBeLessThan(0); // a second Call-ID (i:): HEADER_IS_SINGLE, NAME_SLOTS
  });
});
