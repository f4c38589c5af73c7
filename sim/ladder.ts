// Ladder diagrams (sngrep-like) for the simulator's terminal output: one line per SIP message between columns.

/** The arrow's label: a response's status and reason, a request's method, or the keep-alive ping/pong. */
export function ladderLabel(data: string): string {
  if (data.length <= 4) return data.length === 4 ? "ping" : "pong"; // RFC 5626 CRLF CRLF / CRLF
  const first = data.substring(0, data.indexOf("\r\n"));
  return first.startsWith("SIP/2.0 ") ? first.substring(8) : first.split(" ")[0];
}

/** The first 8 characters of a message's Call-ID (before any "@"), "" when it has none. */
export function shortCallId(data: string): string {
  const m = /\r\n(?:Call-ID|i): *([^\r\n@]{0,8})/i.exec(data);
  return m ? m[1] : "";
}

/**
 * One ladder line: the time (ms, printed in s), an arrow from column `from` to column `to` (of `columns`,
 * each `width` wide) labelled with the message's first line, then the short Call-ID.
 */
export function ladder(time: number, from: number, to: number, data: string, columns: number, width: number): string {
  const label = ladderLabel(data);
  const cells: string[] = [];
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  for (let c = 0; c < columns; c++) {
    if (c < lo || c >= hi) cells.push(c === columns - 1 ? "|" : "|".padEnd(width));
    else if (c === lo) {
      const span = (hi - lo) * width - 1;
      const text = (" " + label + " ").substring(0, span - 2);
      const dashes = span - text.length;
      const left = Math.floor(dashes / 2);
      const arrow = from < to
        ? "-".repeat(left) + text + "-".repeat(dashes - left - 1) + ">"
        : "<" + "-".repeat(left - 1) + text + "-".repeat(dashes - left);
      cells.push("|" + arrow);
    }
  }
  return `${(time / 1000).toFixed(3).padStart(9)}  ${cells.join("")}  ${shortCallId(data)}`;
}

/** The header line above a ladder: the column names over their columns. */
export function ladderHeader(names: string[], width: number): string {
  return `   time s  ${names.map((c, i) => (i === names.length - 1 ? c : c.padEnd(width))).join("")}  Call-ID`;
}
