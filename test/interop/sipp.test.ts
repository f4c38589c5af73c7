// Real sockets, real peer: the stack (Node platform) and sipp exchange OPTIONS and INVITE transactions on 127.0.0.1.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodePlatform } from "../../sim/node-platform.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { countSip, decodeProblems, startCapture } from "./tshark.ts";

const scenarios = new URL("./sipp/", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "doorsip-sipp-"));
const STACK_PORT = 25060 + (process.pid % 200);
const SIPP_PORT = STACK_PORT + 400;

/** Runs one sipp scenario to completion; resolves with its exit code and its error log. */
function sipp(scenario: string, extra: string[]): Promise<{ code: number | null; errors: string; messages: string; stderr: string }> {
  const tag = scenario.replace(".xml", "");
  const args = ["-sf", join(scenarios, scenario), "-i", "127.0.0.1", "-p", String(SIPP_PORT), "-m", "1", "-nostdin",
    "-timeout", "15s", "-timeout_error", "-default_behaviors", "all,-bye",
    "-trace_err", "-error_file", join(work, tag + ".err"), "-trace_msg", "-message_file", join(work, tag + ".msg"), ...extra];
  return new Promise((resolve) => {
    const p = spawn("sipp", args, { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => { stderr += d; });
    p.on("exit", (code) => {
      const read = (f: string) => { try { return readFileSync(join(work, f), "latin1"); } catch { return ""; } };
      // stderr carries sipp's progress chatter ("Resolving remote host…"); failures are in the error file.
      resolve({ code, errors: read(tag + ".err"), messages: read(tag + ".msg"), stderr });
    });
  });
}

let endpoint: Endpoint;

/** Runs an exchange under a capture of the stack's port: tshark must decode at least `sip` SIP messages, none flagged. */
async function decodedClean<T>(sip: number, exchange: () => Promise<T>): Promise<T> {
  const capture = await startCapture(STACK_PORT);
  const result = await exchange();
  const pcap = await capture.stop();
  expect(decodeProblems(pcap, [STACK_PORT, SIPP_PORT])).toEqual([]);
  expect(countSip(pcap, [STACK_PORT, SIPP_PORT])).toBeGreaterThanOrEqual(sip);
  return result;
}

beforeAll(async () => {
  endpoint = new Endpoint({ platform: new NodePlatform(), address: "127.0.0.1", port: STACK_PORT, inviteStatus: 486 });
  expect(endpoint.open()).toBe(0);
  await new Promise((r) => setTimeout(r, 100)); // the socket binds asynchronously
});

afterAll(() => {
  endpoint.close();
  rmSync(work, { recursive: true, force: true });
});

describe("sipp calls the stack", () => {
  it("OPTIONS is answered 200 with Allow, and rport filled in", async () => {
    const r = await decodedClean(2, () => sipp("uac-options.xml", ["127.0.0.1:" + STACK_PORT]));
    expect(r.errors).toBe("");
    expect(r.code).toBe(0);
    expect(endpoint.events.some((e) => e.kind === "request" && e.detail === "OPTIONS")).toBe(true);
  });

  it("INVITE is answered 486 and sipp's ACK completes the server transaction", async () => {
    const before = endpoint.layer.stats.terminated;
    const r = await decodedClean(3, () => sipp("uac-invite.xml", ["127.0.0.1:" + STACK_PORT]));
    expect(r.errors).toBe("");
    expect(r.code).toBe(0);
    expect(r.messages).toContain("SIP/2.0 486 Busy Here");
    // The ACK moved the transaction to Confirmed; Timer I (T4) then frees the slot.
    await new Promise((res) => setTimeout(res, 5500));
    expect(endpoint.layer.stats.terminated).toBeGreaterThan(before);
  }, 20000);
});

describe("the stack calls sipp", () => {
  it("an OPTIONS transaction completes with 200", async () => {
    const r = await decodedClean(2, async () => {
      const run = sipp("uas-options.xml", []);
      await new Promise((res) => setTimeout(res, 300));
      expect(endpoint.sendRequest("OPTIONS", "sip:sipp@127.0.0.1:" + SIPP_PORT, "127.0.0.1", SIPP_PORT)).not.toBe(null);
      return run;
    });
    expect(r.errors).toBe("");
    expect(r.code).toBe(0);
    expect(endpoint.events.some((e) => e.kind === "response" && e.detail === "200")).toBe(true);
  });

  it("an INVITE transaction gets 100 and 486, and the transaction's own ACK satisfies sipp", async () => {
    const r = await decodedClean(4, async () => {
      const run = sipp("uas-invite.xml", []);
      await new Promise((res) => setTimeout(res, 300));
      expect(endpoint.sendRequest("INVITE", "sip:sipp@127.0.0.1:" + SIPP_PORT, "127.0.0.1", SIPP_PORT)).not.toBe(null);
      return run;
    });
    expect(r.errors).toBe("");
    expect(r.code).toBe(0);
    const got = endpoint.events.filter((e) => e.kind === "response").map((e) => e.detail);
    expect(got).toContain("100");
    expect(got).toContain("486");
    expect(r.messages).toMatch(/ACK sip:sipp@127\.0\.0\.1:\d+ SIP\/2\.0/);
  });
});
