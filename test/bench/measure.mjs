// Measurement helpers for `npm run bench`.
//
// Throughput (messages/second)
//   throughput(fn, messages, { minMs }) calls fn on every corpus message in
//   turn (round robin, so the mix of message kinds is the corpus's mix) for a
//   warm-up period, then keeps doing so for at least minMs (default 1000 ms),
//   timing with process.hrtime.bigint() and reading the clock only every batch
//   of passes (about 1 ms of work) so the clock is not what is measured. Every
//   result is stored into a module-level variable, so it escapes and neither the
//   call nor the allocations inside it can be optimised away. Result: calls
//   divided by elapsed seconds.
//
// Allocation (bytes/message)
//   allocatedBytesPerMessage(fn, messages, { count }) measures what one parse
//   allocates on the JS heap, including everything that becomes garbage at
//   once, which is what a GC-driven runtime pays for. Run node with
//   `--expose-gc --max-semi-space-size=256` (the bench script does). Method:
//     1. warm up fn on the corpus so it runs optimised code, as in the timed
//        runs;
//     2. before each measurement window call gc() twice, so the heap holds
//        live data only and the young generation is empty;
//     3. read the heap's used size (v8.getHeapSpaceStatistics(), every space
//        except the code spaces, so machine code the JIT installs mid-window is
//        not charged to the parser), call fn k times (continuing round robin
//        over the corpus), read it again: the difference is what those k calls
//        allocated, because nothing can have been freed without a collection;
//     4. a PerformanceObserver on 'gc' entries checks that no collection
//        started inside the window; if one did, the window is thrown away and
//        redone with k halved;
//     5. the same window around an empty function (the cost of reading the
//        statistics itself, a couple of KB; smallest of five) is subtracted.
//   k starts as what fits in half of the young generation's free space, from a
//   first estimate over one call per message; windows follow one another until
//   about `count` calls (default 2000, fewer when that would measure more than
//   maxBytes = 64 MiB in all), always whole passes over the corpus, so every
//   message weighs the same. Result: sum of window differences / calls. That
//   is an exact count of bytes allocated (to V8's object alignment), not a
//   sampling estimate.
//
// Both helpers expect every message to be one fn accepts: filter out messages
// a parser fails on before calling them (an exception propagates).

import { PerformanceObserver, performance } from "node:perf_hooks";
import v8 from "node:v8";

// Results escape here so the optimiser cannot drop the work.
export let blackhole;

// Details of the last allocatedBytesPerMessage measurement: { count (calls),
// windows, perWindow (calls), bytes (total, overhead removed), overhead (per
// window), discarded (windows thrown away because a GC started in them) }.
export let lastAllocationWindow;

function passes(fn, messages, n) {
  const m = messages.length;
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < m; i++) blackhole = fn(messages[i]);
  }
}

function runFor(fn, messages, ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  let total = 0;
  do {
    passes(fn, messages, 1);
    total++;
  } while (process.hrtime.bigint() < end);
  return total;
}

/**
 * Messages per second of fn over messages (round robin), timed for at least
 * minMs after a warm-up of warmupMs.
 * @param {(text: string) => unknown} fn
 * @param {string[]} messages
 * @param {{ minMs?: number, warmupMs?: number }} [options]
 * @returns {number} messages/second
 */
export function throughput(fn, messages, { minMs = 1000, warmupMs = 300 } = {}) {
  if (messages.length === 0) throw new Error("throughput: no messages");
  // Warm-up, and calibrate how many passes make about 1 ms between clock reads.
  const warmPasses = runFor(fn, messages, warmupMs);
  const batch = Math.max(1, Math.floor(warmPasses / warmupMs));
  const minNs = BigInt(Math.round(minMs * 1e6));
  let done = 0;
  const start = process.hrtime.bigint();
  let elapsed;
  do {
    passes(fn, messages, batch);
    done += batch;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < minNs);
  return (done * messages.length) / (Number(elapsed) / 1e9);
}

// used_heap_size without the code spaces: machine code the JIT happens to
// install during a window is not an allocation of the parser.
function heapUsed() {
  let used = 0;
  for (const s of v8.getHeapSpaceStatistics()) {
    if (!s.space_name.startsWith("code")) used += s.space_used_size;
  }
  return used;
}

function newSpaceAvailable() {
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space");
  return s ? s.space_available_size : Infinity;
}

// Let native GC callbacks and the observer's setImmediate run.
async function flushObservers() {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 1));
}

function noop() {
  return 0;
}

function calls(f, start, k, messages) {
  const n = messages.length;
  for (let i = start; i < start + k; i++) blackhole = f(messages[i % n]);
}

// One window: bytes allocated by calls start..start+k-1 (round robin), or
// undefined if a GC started inside it.
async function measureWindow(f, start, k, messages, gcStarts) {
  gc();
  gc();
  await flushObservers();
  gcStarts.length = 0;
  const t0 = performance.now();
  const before = heapUsed();
  calls(f, start, k, messages);
  const after = heapUsed();
  const t1 = performance.now();
  await flushObservers();
  if (gcStarts.some((t) => t >= t0 && t <= t1) || after < before) return undefined;
  return after - before;
}

/**
 * Bytes allocated on the JS heap per call of fn, averaged over whole passes
 * over messages (round robin, about `count` calls in all), measured in windows
 * with no garbage collection inside them (verified with a PerformanceObserver
 * on 'gc'; a window with a GC is thrown away and redone at half the size).
 * Needs node --expose-gc (and --max-semi-space-size=256 for large windows).
 * @param {(text: string) => unknown} fn
 * @param {string[]} messages
 * @param {{ count?: number, maxBytes?: number, warmupMs?: number }} [options]
 *   count: calls wanted (default 2000); maxBytes: cap on the total allocation
 *   measured (default 64 MiB), which lowers the number of calls for parsers
 *   that allocate megabytes per message. At least one whole pass is measured.
 * @returns {Promise<number>} bytes/message
 */
export async function allocatedBytesPerMessage(fn, messages, { count = 2000, maxBytes = 64 * 2 ** 20, warmupMs = 300 } = {}) {
  if (typeof globalThis.gc !== "function") {
    throw new Error("allocatedBytesPerMessage: run node with --expose-gc (and --max-semi-space-size=256)");
  }
  if (messages.length === 0) throw new Error("allocatedBytesPerMessage: no messages");
  const n = messages.length;
  const gcStarts = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcStarts.push(e.startTime);
  });
  observer.observe({ entryTypes: ["gc"] });
  const window = (f, start, k) => measureWindow(f, start, k, messages, gcStarts);

  try {
    runFor(fn, messages, warmupMs);
    runFor(noop, messages, 10);
    calls(fn, 0, 2 * n, messages);
    calls(noop, 0, 2 * n, messages);

    // The empty window's own allocation (the statistics objects read at its
    // ends): the smallest of a few.
    let overhead = Infinity;
    for (let tries = 0; tries < 5; tries++) {
      const bytes = await window(noop, 0, n);
      if (bytes !== undefined && bytes < overhead) overhead = bytes;
    }
    if (overhead === Infinity) throw new Error("allocatedBytesPerMessage: GC in every empty window");

    // A first estimate from one call per message, to size the windows so each
    // stays well inside the young generation.
    let estimate;
    for (let k = n; estimate === undefined; k = Math.floor(k / 2)) {
      if (k < 1) throw new Error("allocatedBytesPerMessage: GC inside every window down to 1 call");
      const bytes = await window(fn, 0, k);
      if (bytes !== undefined) estimate = Math.max(1, (bytes - overhead) / k);
    }
    gc();
    gc();
    let perWindow = Math.max(1, Math.floor((0.5 * newSpaceAvailable()) / estimate));
    const wanted = Math.min(count, Math.floor(maxBytes / estimate));
    const total = Math.max(1, Math.floor(wanted / n)) * n;

    let bytes = 0;
    let windows = 0;
    let discarded = 0;
    for (let done = 0; done < total; ) {
      const k = Math.min(perWindow, total - done);
      const b = await window(fn, done, k);
      if (b === undefined) {
        discarded++;
        if (k === 1) throw new Error("allocatedBytesPerMessage: GC inside every window down to 1 call");
        perWindow = Math.max(1, Math.floor(k / 2));
        continue;
      }
      bytes += b - overhead;
      done += k;
      windows++;
    }
    lastAllocationWindow = { count: total, windows, perWindow, bytes, overhead, discarded };
    return bytes / total;
  } finally {
    observer.disconnect();
  }
}
