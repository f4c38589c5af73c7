import * as acorn from "acorn";
import { readFileSync } from "node:fs";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
const f = process.argv[2];
const code = readFileSync(f, "utf8"); const map = new TraceMap(readFileSync(f + ".map", "utf8"));
const ast = acorn.parse(code, { ecmaVersion: 2020, locations: true });
const uses = new Map(); const defs = [];
const bump = (n) => uses.set(n, (uses.get(n) || 0) + 1);
(function walk(n) {
  if (!n || typeof n.type !== "string") return;
  if (n.type === "MemberExpression" && !n.computed) bump(n.property.name);
  if (n.type === "MethodDefinition" && n.kind === "method" && !n.computed) defs.push(n);
  if (n.type === "Property" && !n.computed && n.key.type === "Identifier") bump(n.key.name);
  if (n.type === "Literal" && typeof n.value === "string") bump(n.value);
  for (const k in n) { const v = n[k]; if (Array.isArray(v)) v.forEach(walk); else if (v && typeof v === "object" && v.type) walk(v); }
})(ast);
let dead = 0;
for (const d of defs) {
  const name = d.key.name;
  if (!uses.get(name)) {
    dead++;
    const o = originalPositionFor(map, { line: d.loc.start.line, column: d.loc.start.column });
    console.log(String(d.end - d.start).padStart(5), name.padEnd(22), (o.source || "").replace("../../", "") + ":" + o.line);
  }
}
console.log("methods", defs.length, "never referenced by name:", dead);
