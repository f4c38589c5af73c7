// The ladder diagram as one self-contained HTML file (inline SVG and CSS, no script): a browser shows the run's SIP exchange.
import { ladderLabel, shortCallId } from "./ladder.ts";

/** One message on the ladder: when (ms), from column to column, and its text. */
export interface LadderMessage {
  time: number;
  from: number;
  to: number;
  data: string;
}

const COLUMN = 220;
const ROW = 30;
const TOP = 60;
const LEFT = 90;

function escape(t: string): string {
  return t.replace(/[&<>"]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"))
    .replace(/[^\x09\x0a\x0d\x20-\x7e]/g, (c) => "&#" + c.charCodeAt(0) + ";");
}

/**
 * The HTML page: a title, the columns with their lifelines, an arrow per message labelled with its status or
 * method (hover: the whole message), the time on the left and the short Call-ID on the right; then every
 * message in full, in order, each under its ladder line.
 */
export function htmlLadder(title: string, columns: string[], messages: LadderMessage[]): string {
  const width = LEFT + COLUMN * columns.length + 120;
  const height = TOP + ROW * (messages.length + 1);
  const x = (c: number) => LEFT + COLUMN * c + COLUMN / 2;
  const svg: string[] = [];
  svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">`);
  svg.push(`<defs><marker id="head" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#234"/></marker></defs>`);
  columns.forEach((name, c) => {
    svg.push(`<text class="column" x="${x(c)}" y="24" text-anchor="middle">${escape(name)}</text>`);
    svg.push(`<line class="life" x1="${x(c)}" y1="34" x2="${x(c)}" y2="${height - 10}"/>`);
  });
  messages.forEach((m, i) => {
    const y = TOP + ROW * i + 14;
    const label = ladderLabel(m.data);
    const kind = /^\d{3} /.test(label) ? "response s" + label[0] + "xx" : "request";
    svg.push(`<g class="msg ${kind}" id="m${i}"><title>${escape(m.data)}</title>`);
    svg.push(`<text class="time" x="8" y="${y + 4}">${(m.time / 1000).toFixed(3)} s</text>`);
    svg.push(`<line class="arrow" x1="${x(m.from)}" y1="${y}" x2="${x(m.to)}" y2="${y}" marker-end="url(#head)"/>`);
    svg.push(`<text class="label" x="${(x(m.from) + x(m.to)) / 2}" y="${y - 5}" text-anchor="middle">${escape(label)}</text>`);
    svg.push(`<text class="callid" x="${LEFT + COLUMN * columns.length + 8}" y="${y + 4}">${escape(shortCallId(m.data))}</text></g>`);
  });
  svg.push("</svg>");
  const details = messages.map((m, i) =>
    `<details id="d${i}"><summary>${(m.time / 1000).toFixed(3)} s ${escape(columns[m.from] + " → " + columns[m.to])}: ${escape(ladderLabel(m.data))}</summary><pre>${escape(m.data)}</pre></details>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; color: #123; }
svg { background: #fbfcfe; border: 1px solid #dde; }
.column { font-weight: bold; font-size: 15px; }
.life { stroke: #99a; stroke-dasharray: 4 3; }
.arrow { stroke: #234; stroke-width: 1.5; }
.label { font: 13px ui-monospace, monospace; }
.s1xx .label { fill: #777; } .s2xx .label { fill: #185; } .s4xx .label, .s5xx .label, .s6xx .label { fill: #b22; } .s3xx .label { fill: #a60; }
.time, .callid { font: 12px ui-monospace, monospace; fill: #667; }
.msg:hover .arrow { stroke: #06c; stroke-width: 3; }
pre { background: #f4f5f8; padding: 8px; overflow-x: auto; }
</style></head><body>
<h1>${escape(title)}</h1>
<p>${messages.length} SIP messages. Hover an arrow for the whole message; every message is below in order.</p>
${svg.join("\n")}
<h2>Messages</h2>
${details.join("\n")}
</body></html>
`;
}
