import * as acorn from "acorn";
import { readFileSync } from "node:fs";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
const f = process.argv[2];
const code = readFileSync(f, "utf8"); const map = new TraceMap(readFileSync(f + ".map", "utf8"));
const ast = acorn.parse(code, { ecmaVersion: 2020, locations: true });
const rows = [];
(function walk(n, parent) {
  if (!n || typeof n.type !== "string") return;
  if (/Function/.test(n.type)) {
    const o = originalPositionFor(map, { line: n.loc.start.line, column: n.loc.start.column });
    rows.push([n.end - n.start, (o.source || "?").replace("../../", "") + ":" + o.line, o.name || "", code.slice(n.start, Math.min(n.end, n.start + 70))]);
  }
  for (const k in n) { const v = n[k]; if (Array.isArray(v)) v.forEach((c) => walk(c, n)); else if (v && typeof v === "object" && v.type) walk(v, n); }
})(ast);
rows.sort((a, b) => a[0] - b[0]);
const small = rows.filter((r) => r[0] < Number(process.argv[3] || 80));
console.log("functions", rows.length, "under", process.argv[3] || 80, "chars:", small.length);
for (const r of small) console.log(String(r[0]).padStart(4), r[1].padEnd(34), r[3]);
