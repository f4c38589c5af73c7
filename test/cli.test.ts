// The simulator command line as a user runs it: `node dist/sim/cli.js <command>`, exit codes, stdout and stderr.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { goertzelPower, parseWav, wavBytes } from "../sim/virtual-audio.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/sim/cli.js");
const corpus = join(root, "test/fixtures/corpus");
const torture = join(root, "test/fixtures/torture/rfc4475");

/** Newest modification time of the TypeScript sources the simulator bundle is built from. */
function newestSource(): number {
  let t = 0;
  for (const dir of ["sim", "sip-core"]) {
    for (const f of readdirSync(join(root, dir))) if (f.endsWith(".ts")) t = Math.max(t, statSync(join(root, dir, f)).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  // `npm test` builds first; a bare `vitest run` may find no bundle, or one older than the sources.
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource()) {
    const b = spawnSync(process.execPath, ["build.mjs", "--sim", "--quiet"], { cwd: root, encoding: "utf8" });
    if (b.status !== 0) throw new Error("node build.mjs --sim failed:\n" + b.stdout + b.stderr);
  }
}, 60_000);

function run(args: string[], input?: Buffer | string): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, input, encoding: "latin1", timeout: 30_000 });
  if (r.error) throw r.error;
  return r;
}

const COMPACT: Record<string, string> = { v: "Via", f: "From", t: "To", i: "Call-ID", m: "Contact", l: "Content-Length", c: "Content-Type", k: "Supported", s: "Subject" };

/** The header lines of a message file, split by hand (the corpus has no folded lines). */
function headerLines(src: string): { name: string; value: string }[] {
  const head = src.substring(0, src.indexOf("\r\n\r\n"));
  return head.split("\r\n").slice(1).map((line) => {
    const colon = line.indexOf(":");
    const name = line.substring(0, colon).trim();
    return { name: COMPACT[name] || name, value: line.substring(colon + 1).trim() };
  });
}

interface Parsed {
  kind: string; method?: string; methodKnown?: boolean; requestUri?: string; status?: number; reason?: string;
  headers: { name: string; value: string }[]; bodyLength: number; consumed: number;
}

describe("parse <file>", () => {
  const file = join(corpus, "invite.sip");
  const src = readFileSync(file).toString("latin1");

  it("prints the request as JSON and exits 0", () => {
    const r = run(["parse", file]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j: Parsed = JSON.parse(r.stdout);
    expect(j.kind).toBe("request");
    expect(j.method).toBe("INVITE");
    expect(j.methodKnown).toBe(true);
    expect(j.requestUri).toBe("sip:2001@sip.example.com");
    expect(j.headers).toEqual(headerLines(src));
    expect(j.headers.map((h) => h.name).slice(0, 5)).toEqual(["Via", "From", "To", "CSeq", "Call-ID"]);
    const cl = Number(/\r\nContent-Length: (\d+)\r\n/.exec(src)![1]);
    expect(cl).toBe(318);
    expect(j.bodyLength).toBe(cl);
    expect(j.consumed).toBe(src.length);
  });

  it("compact header names come out canonical, values raw", () => {
    const f = join(corpus, "compact.sip");
    const r = run(["parse", f]);
    expect(r.status).toBe(0);
    const j: Parsed = JSON.parse(r.stdout);
    expect(j.method).toBe("MESSAGE");
    expect(j.headers.map((h) => h.name)).toEqual([
      "Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Contact", "Supported", "Subject", "User-Agent", "Content-Type", "Content-Length",
    ]);
    expect(j.headers).toEqual(headerLines(readFileSync(f).toString("latin1")));
    expect(j.bodyLength).toBe(70);
  });

  it("a response prints its status and reason", () => {
    const r = run(["parse", join(corpus, "180.sip")]);
    expect(r.status).toBe(0);
    const j: Parsed = JSON.parse(r.stdout);
    expect(j.kind).toBe("response");
    expect(j.status).toBe(180);
    expect(j.reason).toBe("Ringing");
    expect(j.method).toBeUndefined();
  });

  it("parse - reads standard input and prints the same JSON", () => {
    const fromFile = run(["parse", file]);
    const fromStdin = run(["parse", "-"], readFileSync(file));
    expect(fromStdin.status).toBe(0);
    expect(fromStdin.stderr).toBe("");
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(JSON.parse(fromStdin.stdout).method).toBe("INVITE");
  });
});

describe("parse of a rejected message", () => {
  it("a request: the error line, then the response the stack sends, exit 1 (badvers → 505)", () => {
    const src = readFileSync(join(torture, "badvers.dat")).toString("latin1");
    const r = run(["parse", join(torture, "badvers.dat")]);
    expect(r.status).toBe(1);
    const lines = r.stdout.split("\n");
    const m = /^error 4 at (\d+): Version Not Supported$/.exec(lines[0]);
    expect(m, lines[0]).not.toBeNull();
    // The offset points at the request's version.
    expect(src.startsWith("SIP/7.0", Number(m![1]))).toBe(true);
    const response = r.stdout.substring(lines[0].length + 1);
    expect(response.startsWith("SIP/2.0 505 Version Not Supported\r\n")).toBe(true);
    expect(response).toContain("\r\nVia: SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n");
    expect(response).toContain("\r\nCall-ID: badvers.31417@c.example.com\r\n");
    expect(response).toContain("\r\nCSeq: 1 OPTIONS\r\n");
    expect(response).toContain("\r\nFrom: A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n");
    expect(response).toMatch(/\r\nTo: T\. Watson <sip:t\.watson@example\.org>;tag=[0-9a-f]{8}\r\n/);
    expect(response).toContain("\r\nContent-Length: 0\r\n\r\n");
  });

  it("the To tag is the same on a retransmission", () => {
    const a = run(["parse", join(torture, "badvers.dat")]).stdout;
    const b = run(["parse", "-"], readFileSync(join(torture, "badvers.dat"))).stdout;
    expect(b).toBe(a);
  });

  it("a response: the error line and no answer, exit 1 (scalarlg)", () => {
    const r = run(["parse", join(torture, "scalarlg.dat")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^error 25 at \d+: Malformed CSeq\n\(no response: dropped\)\n$/);
  });
});

describe("command line errors", () => {
  it("a missing file: a one-line message on stderr, exit 2, no stack trace", () => {
    const missing = join(root, "test/fixtures/no-such-file.sip");
    const r = run(["parse", missing]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: cannot read " + missing + ": no such file or directory\n");
  });

  it("a directory is not a message", () => {
    const r = run(["parse", corpus]);
    expect(r.status).toBe(2);
    expect(r.stderr.startsWith("error: cannot read " + corpus + ": ")).toBe(true);
    expect(r.stderr).not.toContain("    at ");
  });

  it("--help prints usage and exits 0", () => {
    for (const args of [["--help"], ["help"], ["parse", "--help"]]) {
      const r = run(args);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout.startsWith("usage: doorsip-sim <command>")).toBe(true);
      expect(r.stdout).toContain("parse <file|->");
    }
  });

  it("an unknown command, no command, or parse without a file: usage and exit 2", () => {
    for (const args of [["frobnicate"], [], ["parse"]]) {
      const r = run(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout.startsWith("usage: doorsip-sim <command>")).toBe(true);
    }
  });
});

describe("demo --virtual (the story on the virtual network and clock)", () => {
  it("plays registration with digest, a button call answered by the resident, the code opening the door, keep-alive, refresh and unregister; exit 0", () => {
    const r = run(["demo", "--virtual"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const ladder = r.stdout.split("\n").filter((l) => /^\s+\d+\.\d{3}  \|/.test(l)).map((l) => l.replace(/[-|<> ]+/g, " ").trim().split(" ").slice(1).join(" "));
    // Time, then the arrow's label, then the short Call-ID: the story in order.
    const labels = ladder.map((l) => l.replace(/ [0-9a-z]{6,8}$/, ""));
    expect(labels.slice(0, 10)).toEqual(["REGISTER", "401 Unauthorized", "REGISTER", "200 OK", "INVITE", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK"]);
    expect(labels).toContain("ping");
    expect(labels).toContain("pong");
    expect(labels.slice(-2)).toEqual(["REGISTER", "200 OK"]);
    expect(r.stdout).toContain("registration: unregistered (last status 200 OK); registrar bindings: 0");
    expect(r.stdout).toContain("0 still live");
    expect(r.stdout).toMatch(/digits received 5\n/);
    expect(r.stdout).toMatch(/door relay: on at (\d+\.\d+) s, off at \d+\.\d+ s; audit: \d+\.\d{3} s open sip:resident@10\.0\.0\.2:5060 code/);
    // Deterministic: a second run prints the same thing.
    expect(run(["demo", "--virtual"]).stdout).toBe(r.stdout);
  });

  it("--mic plays a WAV file into the call; --record and --phone-record write what each side heard", () => {
    const dir = mkdtempSync(join(tmpdir(), "doorsip-demo-"));
    try {
      const tone = new Int16Array(8000);
      for (let i = 0; i < tone.length; i++) tone[i] = Math.round(6000 * Math.sin((2 * Math.PI * 700 * i) / 8000));
      writeFileSync(join(dir, "mic.wav"), wavBytes(tone));
      const r = run(["demo", "--virtual", "--mic", join(dir, "mic.wav"), "--record", join(dir, "door.wav"), "--phone-record", join(dir, "phone.wav")]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/door speaker: \d+\.\d\d s written to .*door\.wav/);
      const heard = (f: string) => parseWav(new Uint8Array(readFileSync(join(dir, f)))).samples;
      const phone = heard("phone.wav");
      const door = heard("door.wav");
      expect(phone.length).toBeGreaterThan(8000 * 2); // seconds of talk
      // The resident hears the door's WAV (700 Hz), the door the resident's 1000 Hz tone; not the other way round.
      const mid = (x: Int16Array) => Math.floor(x.length / 2);
      expect(goertzelPower(phone, 700, 8000, mid(phone), 1600)).toBeGreaterThan(100 * goertzelPower(phone, 440, 8000, mid(phone), 1600));
      expect(goertzelPower(door, 1000, 8000, mid(door), 1600)).toBeGreaterThan(100 * goertzelPower(door, 700, 8000, mid(door), 1600));
      // A file that is not a WAV is refused with a reason, exit 2.
      writeFileSync(join(dir, "bad.wav"), "not a wav file");
      const bad = run(["demo", "--virtual", "--mic", join(dir, "bad.wav")]);
      expect([bad.status, bad.stderr.trim()]).toEqual([2, "demo: --mic " + join(dir, "bad.wav") + ": parseWav: not a RIFF/WAVE file"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

