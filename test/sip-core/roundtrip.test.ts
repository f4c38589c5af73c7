// write(parse(x)) is a fixed point; parsing is position independent; stream framing reports every partial message as incomplete.
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ERR_CONTENT_LENGTH, ERR_INCOMPLETE, HDR_CALL_ID, HDR_CONTENT_LENGTH, HDR_CSEQ, SipMessage, SipWriter, parseMessage, writeMessage,
} from "../../sip-core/index.ts";

const fixtures = new URL("../fixtures/", import.meta.url).pathname;

interface Fixture {
  /** "rfc4475/wsinv", "corpus/invite.sip" */
  name: string;
  /** The file's bytes as a binary string (one char per byte). */
  src: string;
  /** The verdict: torture files carry one in expected.json; corpus messages are all valid. */
  accept: boolean;
}

function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const set of ["rfc4475", "rfc5118"]) {
    const dir = fixtures + "torture/" + set + "/";
    const expected: Record<string, { expect: string }> = JSON.parse(readFileSync(dir + "expected.json", "utf8"));
    for (const name of Object.keys(expected)) {
      out.push({ name: set + "/" + name, src: readFileSync(dir + name + ".dat").toString("latin1"), accept: expected[name].expect === "accept" });
    }
  }
  // The corpus is globbed when the file runs: new messages are picked up without editing this test.
  const corpus = fixtures + "corpus/";
  for (const f of readdirSync(corpus).filter((f) => f.endsWith(".sip")).sort()) {
    out.push({ name: "corpus/" + f, src: readFileSync(corpus + f).toString("latin1"), accept: true });
  }
  return out;
}

const ALL = loadFixtures();
const ACCEPTED = ALL.filter((f) => f.accept);

const LIMITS = { maxHeaders: 64, maxMessageSize: 8192, maxUriLength: 1024, maxBodySize: 4096 };

function fresh(stream = false): SipMessage {
  const m = new SipMessage(LIMITS);
  m.stream = stream;
  return m;
}

function write(m: SipMessage): string {
  const w = new SipWriter(65536);
  const n = writeMessage(w, m);
  expect(n, "writeMessage").toBeGreaterThan(0);
  return Buffer.from(w.buf.subarray(0, n)).toString("latin1");
}

/** The header lines as "name: value", optionally without Content-Length (which writeMessage regenerates). */
function headerLines(m: SipMessage, withContentLength: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < m.headerCount; i++) {
    if (!withContentLength && m.headerId(i) === HDR_CONTENT_LENGTH) continue;
    out.push(m.headerName(i) + ": " + m.headerValue(i));
  }
  return out;
}

function startLine(m: SipMessage): string {
  return m.isRequest ? "REQ " + m.method + " " + m.methodName() + " " + m.uriText() : "RES " + m.status + " " + m.reason();
}

/** Deterministic PRNG (mulberry32) so every run sees the same junk. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(rand() * 256));
  return s;
}

/** Junk that is most likely to confuse a parser that looks outside [off, off + len). */
function junkFlavours(rand: () => number, n: number): string[] {
  const cyc = (p: string) => p.repeat(Math.ceil(n / p.length)).substring(0, n);
  return [randomBytes(rand, n), cyc("\r\n"), cyc("\r\n\r\n "), cyc(": ;@>,\"=\r\n"), cyc(" SIP/2.0\r\n"), "\x00".repeat(n)];
}

/**
 * Everything a caller reads after a parse, as position-independent values (offsets relative to
 * off). Fields of parts that were not understood are left out: they are unspecified.
 */
function view(m: SipMessage, r: number, off: number): Record<string, unknown> {
  const v: Record<string, unknown> = {
    r,
    error: m.error,
    errorOffset: m.errorOffset < 0 ? -1 : m.errorOffset - off,
    startLineOk: m.startLineOk,
    viaOk: m.viaOk,
    start: m.start - off,
    length: m.length,
    headerCount: m.headerCount,
    contentLength: m.contentLength,
    cseq: m.cseq,
    maxForwards: m.maxForwards,
    expires: m.expires,
    viaCount: m.countVia(),
    contactCount: m.countContacts(),
    rejectStatus: m.rejectStatus(),
  };
  if (m.startLineOk) {
    v.isRequest = m.isRequest;
    v.startLine = startLine(m);
  }
  if (m.callIdStart >= 0) v.callId = m.callId();
  if (m.cseq >= 0) v.cseqMethod = m.src.substring(m.cseqMethodStart, m.cseqMethodEnd);
  if (m.viaOk) {
    v.viaHost = m.via.hostText();
    v.viaPort = m.via.port;
    v.viaBranch = m.via.branchText();
  }
  if (m.from.start >= 0) v.fromTag = m.from.tagText();
  if (m.to.start >= 0) v.toTag = m.to.tagText();
  v.headers = headerLines(m, true);
  const spans: number[] = [];
  for (let i = 0; i < m.headerCount; i++) {
    spans.push(m.headerNameStart(i) - off, m.headerNameEnd(i) - off, m.headerValueStart(i) - off, m.headerValueEnd(i) - off);
  }
  v.headerSpans = spans;
  if (r > 0 || m.bodyEnd > 0) {
    v.bodyStart = m.bodyStart - off;
    v.bodyEnd = m.bodyEnd - off;
  }
  return v;
}

describe("fixtures are present", () => {
  it("torture sets and corpus are loaded", () => {
    expect(ALL.filter((f) => f.name.startsWith("rfc4475/")).length).toBe(49);
    expect(ALL.filter((f) => f.name.startsWith("rfc5118/")).length).toBe(12);
    expect(ALL.filter((f) => f.name.startsWith("corpus/")).length).toBeGreaterThan(0);
  });
});

describe("write(parse(x)) round-trips", () => {
  for (const f of ACCEPTED) {
    it(f.name, () => {
      const m1 = fresh();
      const r1 = parseMessage(f.src, 0, f.src.length, m1);
      expect(r1, "error " + m1.error + " at " + m1.errorOffset).toBeGreaterThan(0);
      const w1 = write(m1);

      const m2 = fresh();
      const r2 = parseMessage(w1, 0, w1.length, m2);
      expect(r2, "reparse: error " + m2.error + " at " + m2.errorOffset).toBe(w1.length);
      const w2 = write(m2);
      expect(w2).toBe(w1);

      // Same start line, same header lines in order, same body.
      expect(startLine(m2)).toBe(startLine(m1));
      expect(m2.isRequest).toBe(m1.isRequest);
      expect(headerLines(m2, false)).toEqual(headerLines(m1, false));
      expect(m2.bodyText()).toBe(m1.bodyText());
      // The regenerated Content-Length is the last line and tells the body's length.
      expect(m2.contentLength).toBe(m1.bodyEnd - m1.bodyStart);
      expect(m2.headerId(m2.headerCount - 1)).toBe(HDR_CONTENT_LENGTH);
      expect(m2.headerCount).toBe(headerLines(m1, false).length + 1);
      // The decoded essentials are those of the header lines, and survive.
      expect(m1.callId()).toBe(m1.header(HDR_CALL_ID));
      expect(m1.cseq).toBe(parseInt(m1.header(HDR_CSEQ), 10));
      expect(m2.callId()).toBe(m1.callId());
      expect(m2.cseq).toBe(m1.cseq);
      expect(m2.cseqMethod).toBe(m1.cseqMethod);
      expect(m2.via.hostText()).toBe(m1.via.hostText());
      expect(m2.via.port).toBe(m1.via.port);
      expect(m2.via.branchText()).toBe(m1.via.branchText());
      expect(m2.countVia()).toBe(m1.countVia());
      expect(m2.from.tagText()).toBe(m1.from.tagText());
      expect(m2.to.tagText()).toBe(m1.to.tagText());
      expect(m2.from.uri.uriText()).toBe(m1.from.uri.uriText());
      expect(m2.to.uri.uriText()).toBe(m1.to.uri.uriText());
      expect(m2.maxForwards).toBe(m1.maxForwards);
      expect(m2.countContacts()).toBe(m1.countContacts());
      if (m1.isRequest) expect(m2.requestUri.uriText()).toBe(m1.requestUri.uriText());
    });
  }
});

describe("parsing is independent of the message's position in the buffer", () => {
  // One instance reused across every fixture: nothing of an earlier message may leak into a later one.
  const reused = fresh();
  const rand = prng(0x5ee0ff5e);
  for (const f of ALL) {
    it(f.name, () => {
      const base = fresh();
      const r0 = parseMessage(f.src, 0, f.src.length, base);
      expect(r0 !== 0).toBe(true);
      const want = view(base, r0, 0);
      const befores = junkFlavours(rand, 37);
      const afters = junkFlavours(rand, 11);
      for (let i = 0; i < befores.length; i++) {
        for (let j = 0; j < afters.length; j++) {
          const big = befores[i] + f.src + afters[j];
          const r = parseMessage(big, 37, f.src.length, reused);
          expect(view(reused, r, 37), "junk flavours " + i + "/" + j).toEqual(want);
        }
      }
    });
  }
});

describe("stream framing", () => {
  const withLength = ACCEPTED.filter((f) => {
    const m = fresh();
    return parseMessage(f.src, 0, f.src.length, m) > 0 && m.contentLength >= 0;
  });
  /** The message bytes alone (dblreq carries a second message after the first). */
  function messageOf(f: Fixture): string {
    const m = fresh();
    return f.src.substring(0, parseMessage(f.src, 0, f.src.length, m));
  }

  it("most accepted fixtures carry a Content-Length", () => {
    expect(withLength.length).toBeGreaterThan(ACCEPTED.length - 3);
  });

  for (const f of withLength) {
    it(f.name + ": every proper prefix is incomplete, the whole is consumed", () => {
      const msg = messageOf(f);
      const m = fresh(true);
      const n = msg.length;
      expect(parseMessage(msg, 0, n, m)).toBe(n);
      // The prefix as its own string, and as a window onto the whole message (bytes past the
      // window are in the string but must not be looked at).
      const padded = "JUNK" + msg + "MORE";
      for (let k = 1; k < n; k++) {
        const prefix = msg.substring(0, k);
        const r = parseMessage(prefix, 0, k, m);
        if (r !== -ERR_INCOMPLETE) expect.fail("prefix " + k + "/" + n + " gave " + r + " (error at " + m.errorOffset + ")");
        const r2 = parseMessage(padded, 4, k, m);
        if (r2 !== -ERR_INCOMPLETE) expect.fail("window " + k + "/" + n + " gave " + r2 + " (error at " + m.errorOffset + ")");
        expect(m.rejectStatus()).toBe(0);
      }
      expect(parseMessage(padded, 4, n, m)).toBe(n);
    });
  }

  it("an empty stream buffer and lone CRLFs are incomplete", () => {
    const m = fresh(true);
    expect(parseMessage("", 0, 0, m)).toBe(-ERR_INCOMPLETE);
    expect(parseMessage("\r", 0, 1, m)).toBe(-ERR_INCOMPLETE);
    expect(parseMessage("\r\n", 0, 2, m)).toBe(-ERR_INCOMPLETE);
    expect(parseMessage("\r\n\r\n", 0, 4, m)).toBe(-ERR_INCOMPLETE);
  });

  it("a stream message without Content-Length is refused with 400", () => {
    const f = ACCEPTED.find((x) => x.name === "rfc4475/inv2543") as Fixture;
    const m = fresh(true);
    expect(parseMessage(f.src, 0, f.src.length, m)).toBe(-ERR_CONTENT_LENGTH);
    expect(m.rejectStatus()).toBe(400);
  });

  for (let i = 0; i < withLength.length; i++) {
    const a = withLength[i];
    const b = withLength[(i + 1) % withLength.length];
    it(a.name + " + " + b.name + " back to back", () => {
      const ma = messageOf(a);
      const mb = messageOf(b);
      const both = ma + mb;
      const m = fresh(true);
      expect(parseMessage(both, 0, both.length, m)).toBe(ma.length);
      const callA = m.callId();
      expect(parseMessage(both, ma.length, mb.length, m)).toBe(mb.length);
      expect(m.start).toBe(ma.length);
      const callB = m.callId();
      const alone = fresh(true);
      expect(parseMessage(mb, 0, mb.length, alone)).toBe(mb.length);
      expect(callB).toBe(alone.callId());
      expect(m.bodyText()).toBe(alone.bodyText());
      expect(headerLines(m, true)).toEqual(headerLines(alone, true));
      // Keep-alive CRLFs between the two are consumed with the second.
      const gap = ma + "\r\n\r\n" + mb;
      expect(parseMessage(gap, 0, gap.length, m)).toBe(ma.length);
      expect(m.callId()).toBe(callA);
      expect(parseMessage(gap, ma.length, gap.length - ma.length, m)).toBe(mb.length + 4);
      expect(m.start).toBe(ma.length + 4);
      expect(m.callId()).toBe(callB);
    });
  }

  it("a reader fed in chunks of every size yields exactly the messages sent", () => {
    // Three messages (one with a binary body) pushed through a TCP-style reader that re-parses
    // its buffer after each chunk, for every chunk size from 1 to the whole stream.
    const pick = ["rfc4475/mpart01", "corpus/invite.sip", "rfc4475/wsinv"]
      .map((n) => withLength.find((f) => f.name === n))
      .filter((f): f is Fixture => f !== undefined);
    expect(pick.length).toBeGreaterThanOrEqual(2);
    const msgs = pick.map(messageOf);
    const stream = msgs.join("\r\n");
    const callIds = msgs.map((s) => { const m = fresh(); parseMessage(s, 0, s.length, m); return m.callId(); });
    const m = fresh(true);
    for (let chunk = 1; chunk <= stream.length; chunk += chunk < 64 ? 1 : 37) {
      let buf = "";
      let off = 0;
      const got: string[] = [];
      for (let sent = 0; sent < stream.length; sent += chunk) {
        buf += stream.substring(sent, sent + chunk);
        for (;;) {
          const r = parseMessage(buf, off, buf.length - off, m);
          if (r === -ERR_INCOMPLETE) break;
          if (r < 0) expect.fail("chunk " + chunk + ": error " + -r + " at " + m.errorOffset);
          got.push(m.callId());
          off += r;
        }
      }
      expect(got, "chunk size " + chunk).toEqual(callIds);
      expect(off).toBe(buf.length);
    }
  });
});

describe("a datagram with octets after a complete message consumes only the message", () => {
  const rand = prng(0xda7a);
  const withLength = ACCEPTED.filter((f) => {
    const m = fresh();
    return parseMessage(f.src, 0, f.src.length, m) > 0 && m.contentLength >= 0;
  });
  for (const f of withLength) {
    it(f.name, () => {
      const base = fresh();
      const n = parseMessage(f.src, 0, f.src.length, base);
      const msg = f.src.substring(0, n);
      const want = view(base, n, 0);
      const trailers = [
        "\r\n", "garbage", "\x00\x00\x00", randomBytes(rand, 100), "\r\n\r\n",
        "INVITE sip:x@y SIP/2.0\r\nContent-Length: 99999\r\n\r\n", msg,
      ];
      const m = fresh();
      for (const t of trailers) {
        const d = msg + t;
        expect(parseMessage(d, 0, d.length, m)).toBe(n);
        expect(view(m, n, 0)).toEqual(want);
      }
    });
  }

  it("dblreq: the REGISTER is consumed, the INVITE after it is left", () => {
    const f = ALL.find((x) => x.name === "rfc4475/dblreq") as Fixture;
    const m = fresh();
    const n = parseMessage(f.src, 0, f.src.length, m);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(f.src.length);
    expect(m.methodName()).toBe("REGISTER");
    expect(m.contentLength).toBe(0);
    expect(m.bodyEnd).toBe(n);
    // The archive puts one CRLF between the two; a datagram's second message is never parsed.
    expect(f.src.substring(n, n + 9)).toBe("\r\nINVITE ");
  });
});
