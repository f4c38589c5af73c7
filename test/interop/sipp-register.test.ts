// Registration against a real peer: sipp as a registrar challenging with MD5 qop=auth and verifying the digest.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REG_REGISTERED, REG_UNREGISTERED } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import { countSip, decodeProblems, startCapture } from "./tshark.ts";

const scenarios = new URL("./sipp/", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "doorsip-sipp-reg-"));
const STACK_PORT = 26060 + (process.pid % 200);
const SIPP_PORT = STACK_PORT + 400;
afterAll(() => rmSync(work, { recursive: true, force: true }));

const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 50) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

describe("sipp registrar (MD5, qop=auth)", () => {
  it("registers with a digest sipp verifies, then unregisters with the same nonce and nc 2; tshark decodes it all", async () => {
    const capture = await startCapture(SIPP_PORT);
    const sipp = spawn("sipp", ["-sf", join(scenarios, "registrar-md5.xml"), "-i", "127.0.0.1", "-p", String(SIPP_PORT), "-m", "1",
      "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err", "-error_file", join(work, "reg.err"),
      "-trace_msg", "-message_file", join(work, "reg.msg")], { cwd: work, stdio: "ignore" });
    const exited = new Promise<number | null>((r) => sipp.on("exit", (c) => r(c)));
    await new Promise((r) => setTimeout(r, 300));
    const door = new Endpoint({
      platform: new NodePlatform(), address: "127.0.0.1", port: STACK_PORT,
      accounts: [{
        user: "1001", authUser: "", password: "front-door-secret", domain: "sip.example.com", registrar: "127.0.0.1",
        registrarPort: SIPP_PORT, transport: 0, expires: 600, instanceId: "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21",
        localAddress: "127.0.0.1", localPort: STACK_PORT, backoffBase: 30, backoffMax: 1800, keepalive: 0,
      }],
    });
    expect(door.open()).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    door.registerAll();
    const reg = door.registrations[0];
    expect(await until(() => reg.state === REG_REGISTERED, 5000)).toBe(true);
    expect(reg.granted).toBe(600);
    door.unregisterAll();
    expect(await until(() => reg.state === REG_UNREGISTERED, 5000)).toBe(true);
    const code = await exited;
    door.close();
    const read = (f: string) => { try { return readFileSync(join(work, f), "latin1"); } catch { return ""; } };
    expect(read("reg.err")).toBe("");
    expect(code).toBe(0);
    expect(read("reg.msg")).toMatch(/Authorization: Digest username="1001", realm="sip.example.com", nonce="47364c23432d2e131a5fb210812c"/);
    const pcap = await capture.stop();
    expect(decodeProblems(pcap, [SIPP_PORT])).toEqual([]);
    expect(countSip(pcap, [SIPP_PORT])).toBe(6); // REGISTER, 401, REGISTER, 200, REGISTER (expires=0), 200
  }, 30000);
});
