// Property tests (fast-check, fixed seeds): random and mutated input never throws, stays in bounds, re-serialises, and a rejection's answer parses.
import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as core from "../../sip-core/index.ts";
import {
  ERR_CALL_ID, ERR_COUNT, ERR_CSEQ, ERR_DUPLICATE_HEADER, ERR_INCOMPLETE, ERR_FROM, ERR_MISSING_CALL_ID, ERR_MISSING_CSEQ,
  ERR_MISSING_FROM, ERR_MISSING_TO, ERR_MISSING_VIA, ERR_TO, ERR_VIA, HDR_CALL_ID, HDR_CONTENT_LENGTH, HDR_CSEQ, HDR_FROM,
  HDR_TO, HDR_VIA, METHOD_ACK,
  ParserLimits, SipMessage, SipWriter, ViaCursor, parseMessage, statelessToTag, writeMessage, writeResponseHead,
} from "../../sip-core/index.ts";

// Fixed so a failure replays; FUZZ_SEED and FUZZ_RUNS explore further (report the seed with any failure).
const SEED = Number(process.env.FUZZ_SEED || 20260425);
const RUNS = Number(process.env.FUZZ_RUNS || 2000);
const PARAMS = { seed: SEED, numRuns: RUNS, endOnFailure: true };

const fixtures = new URL("../fixtures/", import.meta.url).pathname;

function loadAll(): { name: string; src: string }[] {
  const out: { name: string; src: string }[] = [];
  for (const set of ["rfc4475", "rfc5118"]) {
    const dir = fixtures + "torture/" + set + "/";
    for (const name of Object.keys(JSON.parse(readFileSync(dir + "expected.json", "utf8")))) {
      out.push({ name: set + "/" + name, src: readFileSync(dir + name + ".dat").toString("latin1") });
    }
  }
  const corpus = fixtures + "corpus/";
  for (const f of readdirSync(corpus).filter((f) => f.endsWith(".sip")).sort()) {
    out.push({ name: "corpus/" + f, src: readFileSync(corpus + f).toString("latin1") });
  }
  return out;
}

const ALL = loadAll();

const LIMITS: ParserLimits = { maxHeaders: 64, maxMessageSize: 8192, maxUriLength: 1024, maxBodySize: 4096 };
/** For re-parsing what the writer made: canonical names and a regenerated Content-Length can make it a little larger. */
const ROOMY: ParserLimits = { maxHeaders: 256, maxMessageSize: 1 << 20, maxUriLength: 1 << 20, maxBodySize: 1 << 20 };
const STATUSES = [0, 400, 413, 414, 416, 420, 501, 505, 513];
/** Errors a response can inherit from the request header values it copies. */
const COPY_ERRORS = [
  ERR_VIA, ERR_FROM, ERR_TO, ERR_CALL_ID, ERR_CSEQ, ERR_MISSING_VIA, ERR_MISSING_FROM, ERR_MISSING_TO,
  ERR_MISSING_CALL_ID, ERR_MISSING_CSEQ, ERR_DUPLICATE_HEADER,
];

/**
 * The stack's verdict on a message: parseMessage, then validateMessage (the checks a UAS runs
 * before acting: every Via, Contact and Route value) where sip-core has it.
 */
const validate = (core as unknown as { validateMessage?: (m: SipMessage) => number }).validateMessage;
function verdict(src: string, off: number, len: number, m: SipMessage): number {
  const r = parseMessage(src, off, len, m);
  if (r <= 0 || validate === undefined) return r;
  const v = validate(m);
  if (v !== 0 && (v >= 0 || m.error !== -v)) throw new Error("validateMessage returned " + v + " with error " + m.error);
  return v < 0 ? v : r;
}

const dgram = new SipMessage(LIMITS);
const stream = new SipMessage(LIMITS);
stream.stream = true;
const roomy = new SipMessage(ROOMY);
const writer = new SipWriter(1 << 20);

function bin(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/**
 * The return contract, checked after every parse: > 0 and ≤ len with every span inside the
 * consumed bytes, or a valid negative code equal to msg.error with its offset inside the window.
 */
function checkContract(m: SipMessage, r: number, off: number, len: number): void {
  if (!Number.isInteger(r) || r === 0) throw new Error("return value " + r);
  const end = off + len;
  if (r > 0) {
    if (r > len) throw new Error("consumed " + r + " of " + len);
    if (m.error !== 0) throw new Error("accepted with error " + m.error);
    if (m.length !== r) throw new Error("length " + m.length + " but returned " + r);
    if (m.start < off || m.bodyStart < m.start || m.bodyEnd < m.bodyStart || m.bodyEnd !== off + r) {
      throw new Error("spans start " + m.start + " body " + m.bodyStart + "-" + m.bodyEnd + " for " + off + "+" + r);
    }
    for (let i = 0; i < m.headerCount; i++) {
      const ns = m.headerNameStart(i);
      const ne = m.headerNameEnd(i);
      const vs = m.headerValueStart(i);
      const ve = m.headerValueEnd(i);
      if (!(m.start < ns && ns < ne && ne < vs + 1 && vs <= ve && ve <= m.bodyStart)) {
        throw new Error("header " + i + " spans " + [ns, ne, vs, ve].join(","));
      }
    }
    if (m.rejectStatus() !== 0) throw new Error("accepted message has a reject status");
    // The decoded essentials agree with the header lines they came from.
    if (m.callId() !== m.header(HDR_CALL_ID)) throw new Error("Call-ID " + JSON.stringify(m.callId()) + " vs " + JSON.stringify(m.header(HDR_CALL_ID)));
    const cseq = m.header(HDR_CSEQ);
    if (m.cseq !== parseInt(cseq, 10) || !cseq.endsWith(m.src.substring(m.cseqMethodStart, m.cseqMethodEnd))) throw new Error("CSeq " + m.cseq + " vs " + cseq);
    const via = m.findHeader(HDR_VIA);
    if (via < 0 || m.via.start < m.headerValueStart(via) || m.via.end > m.headerValueEnd(via)) throw new Error("top Via outside the first Via line");
    const from = m.findHeader(HDR_FROM);
    if (from < 0 || m.from.start !== m.headerValueStart(from) || m.from.end !== m.headerValueEnd(from)) throw new Error("From span");
    const to = m.findHeader(HDR_TO);
    if (to < 0 || m.to.start !== m.headerValueStart(to) || m.to.end !== m.headerValueEnd(to)) throw new Error("To span");
  } else {
    if (-r >= ERR_COUNT) throw new Error("unknown error code " + r);
    if (m.error !== -r) throw new Error("returned " + r + " but error is " + m.error);
    if (m.errorOffset < off || m.errorOffset > end) throw new Error("error offset " + m.errorOffset + " outside " + off + "-" + end);
    if (!STATUSES.includes(m.rejectStatus())) throw new Error("reject status " + m.rejectStatus());
  }
  if (m.headerCount < 0 || m.headerCount > m.limits.maxHeaders) throw new Error("header count " + m.headerCount);
}

/**
 * Everything a parse leaves readable, position-independent (offsets relative to off), to compare
 * a message at 0 with the same bytes elsewhere, and a fresh instance with a reused one. Parts
 * that were not understood are left out: their fields are unspecified.
 */
function summary(m: SipMessage, r: number, off: number): string {
  const rel = (p: number) => (p < 0 ? -1 : p - off);
  const parts: (string | number | boolean)[] = [
    r, m.error, rel(m.errorOffset), m.headerCount, rel(m.start), m.startLineOk, m.isRequest, m.method, m.status,
    m.methodEnd > m.methodStart ? rel(m.methodStart) + ":" + rel(m.methodEnd) : "-", m.viaOk, rel(m.callIdStart), rel(m.callIdEnd), m.cseq, m.cseqMethod,
    rel(m.cseqMethodStart), m.maxForwards, m.expires, m.contentLength, rel(m.from.start), rel(m.from.tagStart),
    rel(m.from.tagEnd), rel(m.to.start), rel(m.to.tagStart), rel(m.to.tagEnd),
  ];
  if (m.viaOk) parts.push(rel(m.via.hostStart), rel(m.via.hostEnd), m.via.port, rel(m.via.branchStart), rel(m.via.branchEnd), m.via.rport);
  if (r > 0) {
    parts.push(rel(m.bodyStart), rel(m.bodyEnd), m.countVia(), m.countContacts());
    if (m.isRequest) parts.push(m.requestUri.scheme, rel(m.requestUri.hostStart), rel(m.requestUri.hostEnd), m.requestUri.port);
  }
  for (let i = 0; i < m.headerCount; i++) {
    parts.push(m.headerId(i), rel(m.headerNameStart(i)), rel(m.headerNameEnd(i)), rel(m.headerValueStart(i)), rel(m.headerValueEnd(i)));
  }
  return parts.join("|");
}

/**
 * Parses src every way a transport would: as a datagram (fresh instance, reused instance, inside
 * junk) and as a stream (whole, and cut short). Checks the contract each time, that the results
 * agree, and returns the datagram verdict.
 */
function parseEveryWay(src: string): number {
  const len = src.length;
  const fresh = new SipMessage(LIMITS);
  const r = verdict(src, 0, len, fresh);
  checkContract(fresh, r, 0, len);
  const want = summary(fresh, r, 0);
  // dgram last parsed another input: nothing of it may show.
  const r1 = verdict(src, 0, len, dgram);
  checkContract(dgram, r1, 0, len);
  const reused = summary(dgram, r1, 0);
  if (reused !== want) throw new Error("a reused instance differs from a fresh one:\n" + want + "\n" + reused);
  const junk = "\r\n\r\nSIP/2.0 200 OK\r\n<\"[";
  const big = junk + src + "\r\n\r\n:;<\"\x00";
  const off = junk.length;
  const r2 = verdict(big, off, len, dgram);
  checkContract(dgram, r2, off, len);
  const got = summary(dgram, r2, off);
  if (got !== want) throw new Error("offset changes the result:\n" + want + "\n" + got);

  // Stream framing is datagram framing plus two rules: Content-Length is required, and a
  // partial message is incomplete.
  const rs = verdict(src, 0, len, stream);
  checkContract(stream, rs, 0, len);
  if (rs > 0 && rs !== r) throw new Error("stream consumed " + rs + ", datagram " + r);
  if (r > 0 && fresh.contentLength >= 0 && rs !== r) throw new Error("datagram with Content-Length consumed " + r + ", stream gave " + rs);
  if (rs > 0) {
    const hdrEnd = src.indexOf("\r\n\r\n", stream.start);
    for (const k of [1, hdrEnd + 2, hdrEnd + 3, hdrEnd + 4, rs >> 1, (rs * 0.37) | 0, (rs * 0.89) | 0, rs - 1]) {
      if (k <= 0 || k >= rs) continue;
      const rk = verdict(src, 0, k, stream);
      if (rk !== -ERR_INCOMPLETE) throw new Error("stream prefix " + k + " of " + rs + " gave " + rk + " (error at " + stream.errorOffset + ")");
      const rw = verdict(big, off, k, stream);
      if (rw !== -ERR_INCOMPLETE) throw new Error("stream window " + k + " of " + rs + " gave " + rw);
    }
  }
  return r;
}

function headerList(m: SipMessage): string[] {
  const out: string[] = [];
  for (let i = 0; i < m.headerCount; i++) {
    if (m.headerId(i) !== HDR_CONTENT_LENGTH) out.push(m.headerName(i) + ": " + m.headerValue(i));
  }
  return out;
}

function writeOut(m: SipMessage): string {
  writer.reset();
  const n = writeMessage(writer, m);
  if (n <= 0) throw new Error("writeMessage returned " + n);
  return Buffer.from(writer.buf.subarray(0, n)).toString("latin1");
}

/** (c): an accepted message re-serialises into one that parses to the same thing, and writing is a fixed point. */
function checkRewrite(src: string): void {
  const r = verdict(src, 0, src.length, dgram);
  if (r <= 0) {
    if (!STATUSES.includes(dgram.rejectStatus())) throw new Error("reject status " + dgram.rejectStatus());
    return;
  }
  const first = writeOut(dgram);
  const startLine = dgram.isRequest ? dgram.methodName() + " " + dgram.uriText() : dgram.status + " " + dgram.reason();
  const headers = headerList(dgram);
  const body = dgram.bodyText();
  const r2 = verdict(first, 0, first.length, roomy);
  if (r2 !== first.length) throw new Error("rewritten message gave " + r2 + " (error " + roomy.error + " at " + roomy.errorOffset + "):\n" + JSON.stringify(first));
  expect(headerList(roomy).length).toBe(headers.length);
  expect(headerList(roomy)).toEqual(headers);
  expect(roomy.isRequest ? roomy.methodName() + " " + roomy.uriText() : roomy.status + " " + roomy.reason()).toBe(startLine);
  expect(roomy.bodyText()).toBe(body);
  expect(writeOut(roomy)).toBe(first);
}

function viaValues(m: SipMessage): string[] {
  const c = new ViaCursor().begin(m);
  const out: string[] = [];
  while (c.next()) out.push(m.src.substring(c.value.start, c.value.end));
  return out;
}

/**
 * (d): the answer to a rejected request (writeResponseHead + end, as `sim parse` sends it)
 * parses as a response with that status, the request's Call-ID and CSeq, and a To tag.
 * strict: the request's Via, From, To, Call-ID and CSeq are known good, so the answer must parse whole.
 */
function checkAnswer(src: string, strict: boolean): boolean {
  const r = verdict(src, 0, src.length, dgram);
  const status = dgram.rejectStatus();
  if (!STATUSES.includes(status)) throw new Error("reject status " + status);
  if (r > 0 || status === 0) return false;
  const req = dgram;
  writer.reset();
  writeResponseHead(writer, req, status, req.rejectReason(), statelessToTag(req));
  const n = writer.end(null, 0, 0);
  if (n <= 0) throw new Error("response not written: " + n);
  const resp = Buffer.from(writer.buf.subarray(0, n)).toString("latin1");
  const rr = verdict(resp, 0, resp.length, roomy);
  checkContract(roomy, rr, 0, resp.length);
  if (!roomy.startLineOk || roomy.isRequest || roomy.status !== status) throw new Error("not a " + status + " response:\n" + resp);
  if (rr < 0 && (strict || !COPY_ERRORS.includes(roomy.error))) {
    throw new Error("response rejected with " + roomy.error + " at " + roomy.errorOffset + " (request error " + req.error + "):\n" + resp);
  }
  if (req.callIdStart >= 0) expect(roomy.callId()).toBe(req.callId());
  if (req.cseq >= 0) {
    expect(roomy.cseq).toBe(req.cseq);
    expect(roomy.src.substring(roomy.cseqMethodStart, roomy.cseqMethodEnd)).toBe(req.src.substring(req.cseqMethodStart, req.cseqMethodEnd));
  }
  if (strict) {
    expect(rr).toBe(resp.length);
    expect(roomy.from.tagText()).toBe(req.from.tagText());
    expect(roomy.to.tagText()).toBe(req.to.tagStart >= 0 ? req.to.tagText() : statelessToTag(req));
    expect(roomy.countVia()).toBe(req.countVia());
    expect(viaValues(roomy)).toEqual(viaValues(req));
    expect(roomy.bodyText()).toBe("");
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Pieces of SIP, so random concatenations reach past the start line. */
const FRAGMENTS = [
  "INVITE", "ACK", "REGISTER", "OPTIONS", "FOO", " ", "  ", "\t", "sip:", "sips:", "tel:", "alice", "@", "example.com",
  "[2001:db8::1]", ":5060", ":", ";", ",", "=", "?", "&", "<", ">", "\"", "\\", "%", "%41", "%4", "SIP/2.0", "SIP/3.0",
  "\r\n", "\r\n ", "\r\n\r\n", "\n", "\r", "Via: ", "v:", "SIP/2.0/UDP ", "host", ";branch=z9hG4bK", ";rport", ";received=",
  "From: ", "To: ", "f:", "t:", ";tag=", "Call-ID: ", "i:", "CSeq: ", "1 INVITE", "Contact: ", "m:", "*", "Max-Forwards: ",
  "Content-Length: ", "l:", "0", "10", "4294967296", "99999999999999999999", "Expires: ", "Date: ", "GMT",
  "Route: ", "Content-Type: ", "application/sdp", "\x00", "\x80", "\xff", "v=0", "200", " OK", "SIP/2.0 200 OK",
];

const sipish = fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 80 }).map((a) => a.join(""));

type Op =
  | { k: "set"; pos: number; b: number }
  | { k: "bit"; pos: number; bit: number }
  | { k: "del"; pos: number; n: number }
  | { k: "dup"; pos: number; n: number }
  | { k: "ins"; pos: number; s: string }
  | { k: "trunc"; pos: number }
  | { k: "dupLine"; line: number; times: number }
  | { k: "delLine"; line: number }
  | { k: "swapLines"; a: number; b: number }
  | { k: "num"; which: number; s: string }
  | { k: "eol"; which: number; s: string };

const INSERTS = [
  "\r\n", "\r\n ", "\r\n\t", "\r\n\r\n", "\r", "\n", "\x00", "\x7f", "\x80", "\xff", "\xc3\xa9", " ", "\t", ":", ";", ",",
  "=", "<", ">", "\"", "\\", "@", "%", "%4", "%00", "?", "[", "]", "X-Dup: 1\r\n", "Via: SIP/2.0/UDP x\r\n",
  "Content-Length: 5\r\n", "l: 0\r\n",
];
const HUGE = [
  "99999999999999999999", "4294967295", "4294967296", "65535", "65536", "256", "0", "00000000000000000001", "-1", "1e3",
  "9".repeat(400), "", " 1", "1 ",
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("set" as const), pos: fc.nat(), b: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant("bit" as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant("del" as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant("dup" as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ k: fc.constant("ins" as const), pos: fc.nat(), s: fc.constantFrom(...INSERTS) }),
  fc.record({
    k: fc.constant("ins" as const), pos: fc.nat(),
    s: fc.tuple(fc.constantFrom("\"", "<", ">", "[", "]", "(", "\\", ";", ",", ":", "\r\n ", "%", "@"), fc.integer({ min: 1, max: 3000 }))
      .map(([c, n]) => c.repeat(n)),
  }),
  fc.record({ k: fc.constant("trunc" as const), pos: fc.nat() }),
  fc.record({ k: fc.constant("dupLine" as const), line: fc.nat(), times: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ k: fc.constant("delLine" as const), line: fc.nat() }),
  fc.record({ k: fc.constant("swapLines" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ k: fc.constant("num" as const), which: fc.nat(), s: fc.constantFrom(...HUGE) }),
  fc.record({ k: fc.constant("eol" as const), which: fc.nat(), s: fc.constantFrom("\n", "\r", "", "\r\r\n", "\n\r", " \r\n") }),
);

function applyOp(s: string, op: Op): string {
  const at = (p: number) => p % (s.length + 1);
  switch (op.k) {
    case "set": { const p = at(op.pos); return p >= s.length ? s : s.substring(0, p) + String.fromCharCode(op.b) + s.substring(p + 1); }
    case "bit": { const p = at(op.pos); return p >= s.length ? s : s.substring(0, p) + String.fromCharCode(s.charCodeAt(p) ^ (1 << op.bit)) + s.substring(p + 1); }
    case "del": { const p = at(op.pos); return s.substring(0, p) + s.substring(p + op.n); }
    case "dup": { const p = at(op.pos); return s.substring(0, p + op.n) + s.substring(p, p + op.n) + s.substring(p + op.n); }
    case "ins": { const p = at(op.pos); return s.substring(0, p) + op.s + s.substring(p); }
    case "trunc": return s.substring(0, at(op.pos));
    case "dupLine": case "delLine": case "swapLines": {
      const lines = s.split("\r\n");
      if (op.k === "dupLine") { const i = op.line % lines.length; for (let t = 0; t < op.times; t++) lines.splice(i, 0, lines[i]); }
      else if (op.k === "delLine") lines.splice(op.line % lines.length, 1);
      else { const a = op.a % lines.length; const b = op.b % lines.length; const t = lines[a]; lines[a] = lines[b]; lines[b] = t; }
      return lines.join("\r\n");
    }
    case "num": case "eol": {
      const re = op.k === "num" ? /\d+/g : /\r\n/g;
      const hits: number[][] = [];
      for (let m = re.exec(s); m; m = re.exec(s)) hits.push([m.index, m[0].length]);
      if (hits.length === 0) return s;
      const [p, n] = hits[op.which % hits.length];
      return s.substring(0, p) + op.s + s.substring(p + n);
    }
  }
}

const mutated = fc.record({
  fixture: fc.integer({ min: 0, max: ALL.length - 1 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
}).map(({ fixture, ops }) => ops.reduce(applyOp, ALL[fixture].src));

// Faults outside the headers a response copies (Via, From, To, Call-ID, CSeq): the answer must parse whole.
type Fault = (s: string) => string;
function beforeBlank(s: string, lines: string): string {
  const i = s.indexOf("\r\n\r\n");
  return s.substring(0, i + 2) + lines + s.substring(i + 2);
}
function replaceHeader(s: string, re: RegExp, line: string): string {
  const head = s.substring(0, s.indexOf("\r\n\r\n") + 2);
  // line keeps the CRLF before it (it replaces one); appended, it goes without.
  return re.test(head) ? s.replace(re, line) : beforeBlank(s, line.substring(2));
}
// [name, fault, the status it earns alone]
const FAULTS: [string, Fault, number][] = [
  ["version", (s) => s.replace(" SIP/2.0\r\n", " SIP/3.0\r\n"), 505],
  ["request-uri", (s) => s.replace(/^(\S+) \S+/, "$1 sip:%G1@bad"), 400],
  ["uri too long", (s) => s.replace(/^(\S+) \S+/, "$1 sip:" + "u".repeat(1100) + "@h"), 414],
  ["max-forwards", (s) => replaceHeader(s, /\r\nMax-Forwards:[^\r]*\r\n/i, "\r\nMax-Forwards: many\r\n"), 400],
  ["expires", (s) => beforeBlank(s, "Expires: soon\r\n"), 400],
  ["date", (s) => beforeBlank(s, "Date: Sat, 13 Nov 2010 23:29:00 PST\r\n"), 400],
  ["contact", (s) => beforeBlank(s, "Contact: <sip:unclosed@h\r\n"), 400],
  ["content-length", (s) => replaceHeader(s, /\r\n(Content-Length|l)[ \t]*:[^\r]*\r\n/i, "\r\nContent-Length: twelve\r\n"), 400],
  ["truncated body", (s) => replaceHeader(s, /\r\n(Content-Length|l)[ \t]*:[^\r]*\r\n/i, "\r\nContent-Length: 9999\r\n"), 400],
  ["header line", (s) => beforeBlank(s, "NoColonHere\r\n"), 400],
  ["too many headers", (s) => beforeBlank(s, "X-Pad: 1\r\n".repeat(70)), 513],
  ["body too large", (s) => replaceHeader(s, /\r\n(Content-Length|l)[ \t]*:[^\r]*\r\n/i, "\r\n") + "b".repeat(5000), 413],
  ["message too large", (s) => beforeBlank(s, ("X-Big: " + "y".repeat(500) + "\r\n").repeat(17)), 513],
];

const answerable = ALL.map((f) => f.src).filter((src) => {
  const m = new SipMessage(LIMITS);
  return verdict(src, 0, src.length, m) > 0 && m.isRequest && m.method !== METHOD_ACK;
});

const faulty = fc.record({
  fixture: fc.integer({ min: 0, max: answerable.length - 1 }),
  faults: fc.uniqueArray(fc.integer({ min: 0, max: FAULTS.length - 1 }), { minLength: 1, maxLength: 3 }),
}).map(({ fixture, faults }) => faults.reduce((s, i) => FAULTS[i][1](s), answerable[fixture]));

// ---------------------------------------------------------------------------------------------

describe("fuzz: parseMessage never throws and keeps its return contract", () => {
  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => { parseEveryWay(bin(bytes)); }), PARAMS);
  });

  it("random bytes after a valid start line", () => {
    const lead = fc.constantFrom("INVITE sip:a@b SIP/2.0\r\n", "SIP/2.0 200 OK\r\n", "\r\n\r\nOPTIONS sip:x SIP/2.0\r\n");
    fc.assert(fc.property(lead, fc.uint8Array({ maxLength: 1500 }), (l, bytes) => { parseEveryWay(l + bin(bytes)); }), PARAMS);
  });

  it("random concatenations of SIP fragments", () => {
    fc.assert(fc.property(sipish, (s) => { parseEveryWay(s); }), PARAMS);
  });

  it("mutated fixtures and corpus messages", () => {
    let accepted = 0;
    fc.assert(fc.property(mutated, (s) => { if (parseEveryWay(s) > 0) accepted++; }), PARAMS);
    // The mutations must leave some messages valid, or (c) below tests nothing.
    expect(accepted).toBeGreaterThan(RUNS / 20);
  });

  it("64 KB inputs, random and adversarial, return (and in bounds)", () => {
    const N = 65536;
    const rand = fc.sample(fc.uint8Array({ minLength: N, maxLength: N }), { seed: SEED, numRuns: 2 });
    const head = "OPTIONS sip:a@b SIP/2.0\r\n";
    const fill = (prefix: string, unit: string, suffix: string) => prefix + unit.repeat(Math.floor((N - prefix.length - suffix.length) / unit.length)) + suffix;
    const inputs = [
      ...rand.map(bin),
      fill("", "\r\n", ""),
      fill(head, "a\r\n", "\r\n\r\n:"), // header lines without a colon, the only colon at the very end
      fill(head + "Contact: ", "sip:a,", "sip:a\r\n\r\n"),
      fill(head + "Contact: ", "<sip:a>,", "<sip:a>\r\n\r\n"),
      fill(head + "Via: ", "SIP/2.0/UDP a,", "SIP/2.0/UDP a\r\n\r\n"),
      fill(head + "To: ", "\"", "\r\n\r\n"),
      fill(head + "To: ", "<", "\r\n\r\n"),
      fill(head + "X: a", "\r\n ", "\r\n\r\n"),
      fill(head, "X: y\r\n", "\r\n"),
      fill("INVITE sip:", "a", " SIP/2.0\r\n\r\n"),
      fill("", " ", "\r\n\r\n"),
      fill(head + "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n", "\x00", ""),
    ];
    const big = new SipMessage({ maxHeaders: 128, maxMessageSize: 65535, maxUriLength: 1024, maxBodySize: 65535 });
    for (const s of inputs) {
      for (const isStream of [false, true]) {
        big.stream = isStream;
        dgram.stream = isStream;
        checkContract(big, verdict(s, 0, s.length, big), 0, s.length);
        checkContract(dgram, verdict(s, 0, s.length, dgram), 0, s.length);
      }
    }
    dgram.stream = false;
  });
});

describe("fuzz: accepted messages re-serialise; rejected ones earn a valid status", () => {
  it("write(parse(mutated)) parses again with the same headers, start line and body", () => {
    fc.assert(fc.property(mutated, (s) => { checkRewrite(s); }), PARAMS);
  });

  it("the same for random fragment soups", () => {
    fc.assert(fc.property(sipish, (s) => { checkRewrite(s); }), PARAMS);
  });
});

describe("fuzz: the answer to a rejected request parses", () => {
  it("faults outside the copied headers: the answer parses whole, with the request's Via, Call-ID, CSeq and a To tag", () => {
    expect(answerable.length).toBeGreaterThan(20);
    let answered = 0;
    fc.assert(fc.property(faulty, (s) => { if (checkAnswer(s, true)) answered++; }), PARAMS);
    // Every fault makes a request that is answered.
    expect(answered).toBe(RUNS);
  });

  it("each fault alone, on every answerable request, earns its status", () => {
    for (const [name, fault, status] of FAULTS) {
      for (const src of answerable) {
        const s = fault(src);
        expect(verdict(s, 0, s.length, dgram), name).toBeLessThan(0);
        expect(dgram.rejectStatus(), name + ": error " + dgram.error).toBe(status);
        expect(checkAnswer(s, true)).toBe(true);
      }
    }
  });

  it("any mutated request: the answer is a response of that status with the request's Call-ID and CSeq", () => {
    let answered = 0;
    fc.assert(fc.property(mutated, (s) => { if (checkAnswer(s, false)) answered++; }), PARAMS);
    expect(answered).toBeGreaterThan(RUNS / 10);
  });
});

describe("fuzz harness", () => {
  it("mutations replay: the same seed gives the same inputs", () => {
    const a = fc.sample(mutated, { seed: SEED, numRuns: 20 });
    const b = fc.sample(mutated, { seed: SEED, numRuns: 20 });
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(10);
  });

  it("the contract checker catches a broken parse", () => {
    const m = new SipMessage(LIMITS);
    const src = ALL[0].src;
    const r = parseMessage(src, 0, src.length, m);
    expect(() => checkContract(m, r + 1, 0, src.length)).toThrow();
    expect(() => checkContract(m, 0, 0, src.length)).toThrow();
    expect(() => checkContract(m, -ERR_COUNT, 0, src.length)).toThrow();
    expect(() => checkContract(m, r, 0, src.length)).not.toThrow();
    expect(HDR_VIA).toBeGreaterThan(0);
  });
});
