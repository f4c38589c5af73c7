// The whole-stack fuzzer (sim/fuzz.ts, `npm run fuzz`): 100,000 mutated messages against the door phone find nothing; the regressions replay clean; a planted fault is found.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSeeds, runFuzz } from "../../sim/fuzz.ts";
import { METHOD_OPTIONS, SipMessage, SipWriter, parseMessage, statelessToTag, writeResponseHead } from "../../sip-core/index.ts";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";

const SEEDS = loadSeeds(join(root, "test/fixtures"));
const REGRESSIONS = join(root, "test/fixtures/fuzz-regressions");

beforeAll(ensureSimBuilt, 60_000);

describe("whole-stack fuzzer", () => {
  it("100,000 cases (seed 20261126): nothing thrown, answers bounded, no response to a response, all it sends well formed, pools empty, the door shut", () => {
    const r = runFuzz({ cases: 100_000, seed: 20261126, seeds: SEEDS });
    expect(r.findings.map((f) => "case " + f.case + ": " + f.invariant)).toEqual([]);
    expect(r.cases).toBe(100_000);
    // It reached the layers it is meant to: rejections, answered requests, calls (from the spoofed registrar), RTP.
    expect(r.responses["4xx"]).toBeGreaterThan(10_000);
    expect(r.responses["2xx"]).toBeGreaterThan(100);
    expect(r.callsAccepted).toBeGreaterThan(10);
    expect(r.rtp).toBeGreaterThan(1_000);
    expect(r.maxAnswers).toBeLessThanOrEqual(4);
  }, 120_000);

  it("every regression fixture replays without a finding, and their 400s carry each header once", () => {
    const files = readdirSync(REGRESSIONS).filter((f) => f.endsWith(".sip")).sort();
    expect(files).toEqual(["duplicate-to-and-cseq.sip", "via-after-broken-via.sip"]);
    const inputs = files.map((f) => readFileSync(join(REGRESSIONS, f)).toString("latin1"));
    const r = runFuzz({ cases: 0, seed: 1, seeds: SEEDS, replay: inputs });
    expect(r.findings).toEqual([]);
    expect(r.cases).toBe(inputs.length);
    for (const input of inputs) {
      const req = new SipMessage();
      expect(parseMessage(input, 0, input.length, req)).toBeLessThan(0);
      req.sourceAddress = "192.0.2.7";
      req.sourcePort = 5060;
      const w = new SipWriter(4096);
      writeResponseHead(w, req, req.rejectStatus(), req.rejectReason(), statelessToTag(req));
      const out = Buffer.from(w.buf.subarray(0, w.pos)).toString("latin1");
      const names = out.split("\r\n").slice(1).filter((l) => l !== "").map((l) => l.substring(0, l.indexOf(":")));
      for (const once of ["To", "From", "Call-ID", "CSeq"]) expect(names.filter((n) => n === once).length, out).toBeLessThanOrEqual(1);
      // Its Vias are the request's, line for line (the broken one copied as it was), no bytes from between them.
      const vias = (t: string) => t.split("\r\n").filter((l) => /^(Via|v)\s*:/i.test(l)).map((l) => l.replace(/^(Via|v)\s*:\s*/i, ""));
      const sent = vias(out), had = vias(input);
      expect(sent.length).toBe(had.length);
      sent.forEach((v, k) => expect(v.startsWith(had[k].replace(/;rport$/, "")), v).toBe(true));
    }
  });

  it("a planted fault is found: a throw in the UA is a finding with the input that caused it", () => {
    const r = runFuzz({
      cases: 3000, seed: 5, seeds: SEEDS,
      tamper: (door) => {
        const onRequest = door.ua.onRequest.bind(door.ua);
        door.ua.onRequest = (tx, msg) => {
          if (msg.method === METHOD_OPTIONS) throw new Error("planted");
          onRequest(tx, msg);
        };
      },
    });
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings[0].invariant).toMatch(/^threw Error: planted/);
    expect(r.findings[0].input).toMatch(/^OPTIONS /);
  });

  it("the same seed replays the same run; the command reports and exits 0, and 2 for a bad option", () => {
    const a = runFuzz({ cases: 2000, seed: 9, seeds: SEEDS });
    const b = runFuzz({ cases: 2000, seed: 9, seeds: SEEDS });
    expect(b).toEqual(a);
    const ok = spawnSync(process.execPath, [cli, "fuzz", "--cases", "2000", "--seed", "9"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^fuzz: seed 9, 2000 cases \(\d+ RTP\) from \d+ seed files in [\d.]+ s; the door sent \d+ messages .*; 0 finding\(s\)\n$/);
    const bad = spawnSync(process.execPath, [cli, "fuzz", "--frob", "1"], { cwd: root, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("fuzz: bad option --frob");
  });
});
