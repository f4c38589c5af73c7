// Transaction benchmark: a client and a server stack in one process exchange OPTIONS round trips through transport + transaction layers.
//
// The two stacks are joined by an in-memory datagram queue (the virtual network's work, without its
// bookkeeping): each datagram becomes the binary string a socket would deliver, the one allocation
// that is the received input. Requests are written from a template with the branch digits patched
// in place; the server TU answers 200 with writeResponseHead. Time is virtual: after each batch it
// jumps past Timers J and K, so every transaction is created, answered, completed and freed.
import {
  DEFAULT_LIMITS, DEFAULT_TIMERS, METHOD_OPTIONS, SipMessage, SipTransport, SipWriter, TRANSPORT_UDP, TransactionLayer,
  parseMessage, writeResponseHead, type Transaction, type TransactionUser, type TransportPort,
} from "../sip-core/index.ts";

const TEMPLATE =
  "OPTIONS sip:phone@10.0.0.2 SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-000000000;rport\r\n" +
  "Max-Forwards: 70\r\n" +
  "From: <sip:door@10.0.0.1>;tag=4f2a9c\r\n" +
  "To: <sip:phone@10.0.0.2>\r\n" +
  "Call-ID: 000000000@10.0.0.1\r\n" +
  "CSeq: 1 OPTIONS\r\n" +
  "Content-Length: 0\r\n\r\n";

/** A fixed ring of datagrams in flight, as the strings a socket delivers. */
class Queue implements TransportPort {
  private readonly data: string[];
  private readonly to: Int32Array;
  private head = 0;
  private tail = 0;
  private readonly bytes = Buffer.alloc(2048);
  constructor(private readonly capacity: number) {
    this.data = new Array(capacity).fill("");
    this.to = new Int32Array(capacity);
  }
  send(d: Uint8Array, n: number, _address: string, port: number): number {
    const b = this.bytes;
    for (let i = 0; i < n; i++) b[i] = d[i];
    this.data[this.tail] = b.toString("latin1", 0, n);
    this.to[this.tail] = port;
    this.tail = (this.tail + 1) % this.capacity;
    return 0;
  }
  /** Delivers everything queued (and what that provokes) to the stacks by port. */
  drain(client: SipTransport, server: SipTransport, now: number): void {
    while (this.head !== this.tail) {
      const d = this.data[this.head];
      const port = this.to[this.head];
      this.head = (this.head + 1) % this.capacity;
      if (port === 5060) server.receiveDatagram(d, "10.0.0.1", 5070, now);
      else client.receiveDatagram(d, "10.0.0.2", 5060, now);
    }
  }
}

class Pair implements TransactionUser {
  readonly queue: Queue;
  readonly client: TransactionLayer;
  readonly server: TransactionLayer;
  readonly clientTransport: SipTransport;
  readonly serverTransport: SipTransport;
  private readonly writer = new SipWriter(1500);
  private readonly request: Uint8Array;
  private readonly branchAt: number;
  private readonly callIdAt: number;
  now = 0;
  finals = 0;
  counter = 0;

  constructor(capacity: number) {
    this.queue = new Queue(capacity * 4 + 16);
    const timers = DEFAULT_TIMERS;
    const clientTu = this;
    const serverTu: TransactionUser = {
      onRequest: (tx, msg) => this.answer(tx, msg), onResponse() {}, onTimeout() {}, onTransportError() {},
      onTerminated() {}, onAck() {}, onStrayResponse() {},
    };
    this.client = new TransactionLayer({ capacity, bufferSize: 1500, timers, retryAfter: 5 }, this.queue, clientTu);
    this.server = new TransactionLayer({ capacity, bufferSize: 1500, timers, retryAfter: 5 }, this.queue, serverTu);
    this.clientTransport = new SipTransport(this.client, this.queue, DEFAULT_LIMITS, 1500);
    this.serverTransport = new SipTransport(this.server, this.queue, DEFAULT_LIMITS, 1500);
    this.request = new Uint8Array(1500);
    for (let i = 0; i < TEMPLATE.length; i++) this.request[i] = TEMPLATE.charCodeAt(i);
    this.branchAt = TEMPLATE.indexOf("z9hG4bK-") + 8;
    this.callIdAt = TEMPLATE.indexOf("Call-ID: ") + 9;
  }

  private patch(at: number, v: number): void {
    for (let i = 8; i >= 0; i--) { this.request[at + i] = 48 + (v % 10); v = Math.floor(v / 10); }
  }

  /** Starts one OPTIONS transaction. */
  send(): Transaction | null {
    const n = ++this.counter;
    this.patch(this.branchAt, n);
    this.patch(this.callIdAt, n);
    return this.client.sendRequest(this.request, TEMPLATE.length, METHOD_OPTIONS, this.branchAt - 8, this.branchAt + 9,
      "10.0.0.2", 5060, TRANSPORT_UDP, this.now);
  }

  private answer(tx: Transaction, msg: SipMessage): void {
    const w = this.writer.reset();
    writeResponseHead(w, msg, 200, "OK", "srv1");
    const n = w.end(null, 0, 0);
    this.server.respond(tx, w.buf, n, 200, this.now);
  }

  /** One batch: `count` transactions in flight at once, answered, then every timer run out. */
  batch(count: number): void {
    for (let i = 0; i < count; i++) this.send();
    this.queue.drain(this.clientTransport, this.serverTransport, this.now);
    this.now += 40000; // past Timer J (64×T1) and Timer K (T4)
    this.client.poll(this.now);
    this.server.poll(this.now);
    // Both pools are empty now; restart the virtual clock before it leaves the small-integer range,
    // where every stored time would be a boxed double (an allocation of the benchmark, not the stack).
    if (this.now > 1e9 && this.client.active === 0 && this.server.active === 0) this.now = 0;
  }

  onRequest(): void {}
  onResponse(_tx: Transaction, msg: SipMessage): void { if (msg.status >= 200) this.finals++; }
  onTimeout(): void {}
  onTransportError(): void {}
  onTerminated(): void {}
  onAck(): void {}
  onStrayResponse(): void {}
}

export interface TransactionBenchResult {
  concurrency: number;
  transactionsPerSecond: number;
  microsecondsPerTransaction: number;
  bytesPerTransaction: number;
  bytesPerTransactionExcludingInput: number;
}

/** V8's size of a sequential one-byte string of n chars (header 16 bytes, 8-byte aligned; no pointer compression in Node). */
const stringBytes = (n: number) => (16 + n + 7) & ~7;

/** One batch of `concurrency` transactions, for an allocation measurement. */
export function createBatch(concurrency: number): () => number {
  const pair = new Pair(concurrency);
  for (let i = 0; i < 200; i++) pair.batch(concurrency);
  return () => { pair.batch(concurrency); return pair.finals; };
}

/** The received input per transaction: one request and one response string, as V8 stores them. */
export function inputBytesPerTransaction(): number {
  return stringBytes(TEMPLATE.length) + stringBytes(answerLength());
}

/** Throughput at each concurrency (allocation is measured by the caller through createBatch). */
export function runTransactionBench(concurrencies: number[], minMs: number): TransactionBenchResult[] {
  const results: TransactionBenchResult[] = [];
  for (const c of concurrencies) {
    const pair = new Pair(c);
    // Warm up, and check the exchange works before timing it.
    for (let i = 0; i < 200; i++) pair.batch(c);
    if (pair.finals !== 200 * c || pair.client.active !== 0 || pair.server.active !== 0) {
      throw new Error(`transaction bench: ${pair.finals} finals for ${200 * c} requests, ${pair.client.active}/${pair.server.active} left in the pools`);
    }
    let done = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    const minNs = BigInt(minMs) * 1000000n;
    while (elapsed < minNs) {
      for (let i = 0; i < 20; i++) pair.batch(c);
      done += 20 * c;
      elapsed = process.hrtime.bigint() - start;
    }
    const perSecond = done / (Number(elapsed) / 1e9);
    results.push({
      concurrency: c, transactionsPerSecond: perSecond, microsecondsPerTransaction: 1e6 / perSecond,
      bytesPerTransaction: NaN, bytesPerTransactionExcludingInput: NaN,
    });
  }
  return results;
}

/** Length of the 200 the server writes for the template (for the input-size subtraction). */
function answerLength(): number {
  const m = new SipMessage();
  if (parseMessage(TEMPLATE, 0, TEMPLATE.length, m) < 0) return 0;
  m.sourceAddress = "10.0.0.1";
  m.sourcePort = 5070;
  const w = new SipWriter(1500);
  writeResponseHead(w, m, 200, "OK", "srv1");
  return w.end(null, 0, 0);
}
