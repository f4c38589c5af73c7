// The parser allocates nothing per message (README: 0 bytes): measured with V8's heap statistics around whole passes over the corpus.
import { readFileSync, readdirSync } from "node:fs";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { SipMessage, parseMessage } from "../../sip-core/index.ts";
// @ts-expect-error: a plain JavaScript helper shared with the benchmarks
import { allocatedBytesPerMessage, lastAllocationWindow } from "../bench/measure.mjs";

// The measurement needs gc(): turn it on in this worker (the bench runs node with --expose-gc instead).
v8.setFlagsFromString("--expose-gc");
(globalThis as { gc?: () => void }).gc = runInNewContext("gc") as () => void;

const dir = new URL("../fixtures/corpus/", import.meta.url).pathname;
const corpus = readdirSync(dir).filter((f) => f.endsWith(".sip")).sort().map((f) => readFileSync(dir + f).toString("latin1"));

describe("allocation", () => {
  it("parsing the corpus allocates under one byte per message (a string made per header would be hundreds)", async () => {
    const msg = new SipMessage();
    const parse = (t: string) => parseMessage(t, 0, t.length, msg);
    for (const t of corpus) expect(parse(t)).toBeGreaterThan(0);
    const bytes = await allocatedBytesPerMessage(parse, corpus, { count: 4000 });
    expect(bytes, JSON.stringify(lastAllocationWindow)).toBeLessThan(1);
  }, 60_000);
});
