// The README's tables stay true: its error-code table is checked against the error factory.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as core from "../sip-core/index.ts";
import { DEFAULT_DOOR } from "../firmware/door.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README error codes", () => {
  const rows = [...readme.matchAll(/^\| (\d+) \| (ERR_[A-Z_]+) \| ([^|]+) \| (\d+) \|$/gm)];
  it("lists every code the factory has", () => {
    expect(rows.length).toBe(core.ERR_COUNT - 1);
  });
  for (const [, code, name, reason, status] of rows) {
    it(name + " is code " + code + ", '" + reason.trim() + "', status " + status, () => {
      expect((core as unknown as Record<string, number>)[name]).toBe(Number(code));
      expect(core.errorReason(Number(code))).toBe(reason.trim());
      expect(core.errorStatus(Number(code))).toBe(Number(status));
    });
  }
});

describe("README limits", () => {
  it("states the parser's default capacities", () => {
    for (const [key, value] of Object.entries(core.DEFAULT_LIMITS)) {
      expect(readme).toContain("| `" + key + "` | " + value + " |");
    }
  });
});

describe("README configuration reference", () => {
  /** The `| key | default | meaning |` rows of the table under `### title`. */
  function table(title: string): Map<string, string> {
    const start = readme.indexOf("### " + title + "\n");
    expect(start, "README has ### " + title).toBeGreaterThanOrEqual(0);
    const end = readme.indexOf("\n#", start + 4);
    const rows = new Map<string, string>();
    for (const m of readme.slice(start, end).matchAll(/^\| `(\w+)` \| `([^`]*)` \| [^|]+ \|$/gm)) rows.set(m[1], m[2]);
    return rows;
  }
  const cases: [string, object][] = [["CallConfig", core.DEFAULT_CALL_CONFIG], ["DoorConfig", DEFAULT_DOOR], ["AccountConfig", core.DEFAULT_ACCOUNT]];
  for (const [title, defaults] of cases) {
    it(title + ": every key is documented with its default, and nothing else", () => {
      const rows = table(title);
      expect([...rows.keys()].sort()).toEqual(Object.keys(defaults).sort());
      for (const [key, value] of Object.entries(defaults)) expect(rows.get(key), key).toBe(String(value));
    });
  }
});
