// The README's tables stay true: its error-code table is checked against the error factory.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as core from "../sip-core/index.ts";

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
