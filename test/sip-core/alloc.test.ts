// The parser allocates nothing per message, a transaction nothing beyond its two received datagrams (README): V8 heap statistics around whole passes.
import { readFileSync, readdirSync } from "node:fs";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { SipMessage, parseMessage } from "../../sip-core/index.ts";
import { createBatch, inputBytesPerTransaction } from "../../sim/bench-transactions.ts";
// @ts-expect-error: a plain JavaScript helper shared with the benchmarks
import { allocatedBytesPerMessage, lastAllocationWindow } from "../bench/measure.mjs";

// The measurement needs gc(): turn it on in this worker (the bench runs node with --expose-gc instead).
v8.setFlagsFromString("--expose-gc");
(globalThis as { gc?: () => void }).gc = runInNewContext("gc") as () => void;

const dir = new URL("../fixtures/corpus/", import.meta.url).pathname;
const corpus = readdirSync(dir).filter((f) => f.endsWith(".sip")).sort().map((f) => readFileSync(dir + f).toString("latin1"));

describe("allocation", () => {
  // Bounds leave room for one-off allocations in the worker during a window (a few KB over thousands of
  // calls); the smallest string V8 makes is 16 bytes, and a string per header line costs hundreds a message.
  it("parsing the corpus allocates under 8 bytes a message (a string made per header would be hundreds)", async () => {
    const msg = new SipMessage();
    const parse = (t: string) => parseMessage(t, 0, t.length, msg);
    for (const t of corpus) expect(parse(t)).toBeGreaterThan(0);
    const bytes = await allocatedBytesPerMessage(parse, corpus, { count: 20000 });
    expect(bytes, JSON.stringify(lastAllocationWindow)).toBeLessThan(8);
  }, 60_000);

  it("an OPTIONS round trip through both stacks allocates nothing beyond the two datagram strings it receives", async () => {
    const input = inputBytesPerTransaction();
    const batch = createBatch(8);
    const bytes = (await allocatedBytesPerMessage(batch, [0], { count: 4000 })) / 8;
    expect(bytes - input, JSON.stringify(lastAllocationWindow)).toBeLessThan(16);
  }, 60_000);
});
