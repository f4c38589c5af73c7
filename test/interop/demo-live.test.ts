// `npm start -- --once`: the door phone on real UDP sockets on 127.0.0.1 plays the whole story and exits 0; its pcap decodes in tshark.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";
import { countSip, decodeProblems } from "./tshark.ts";

const dir = mkdtempSync(join(tmpdir(), "doorsip-live-demo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(ensureSimBuilt, 60_000);

describe("npm start -- --once (real sockets on 127.0.0.1)", () => {
  it("registers with digest, calls the resident, the code opens the door, hangs up, unregisters; exit 0; the pcap decodes as SIP, SDP and RTP", () => {
    const pcap = join(dir, "demo.pcap");
    const r = spawnSync(process.execPath, [cli, "demo", "--once", "--pcap", pcap], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout;
    // The ladder as it was printed live: the story in order (the short Call-ID at the end of each line left out).
    const labels = out.split("\n").filter((l) => /^\s+\d+\.\d{3}  \|/.test(l))
      .map((l) => l.replace(/[-|<> ]+/g, " ").trim().split(" ").slice(1).join(" ").replace(/ [0-9a-z]{6,8}$/, ""));
    expect(labels).toEqual(["REGISTER", "401 Unauthorized", "REGISTER", "200 OK", "INVITE", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK",
      "REGISTER", "200 OK"]);
    expect(out).toMatch(/digits received 5\n/);
    expect(out).toMatch(/door relay: on at \d+\.\d{3} s, off at \d+\.\d{3} s; audit: .* open sip:resident@127\.0\.0\.1:\d+ code/);
    expect(out).toContain("registration: unregistered (last status 200 OK); registrar bindings: 0");
    const sent = /RTP (\d+) packets sent and (\d+) received by the door/.exec(out);
    expect(sent).not.toBeNull();
    expect(Number(sent![1])).toBeGreaterThan(100); // ~3.5 s of 20 ms packets
    expect(Number(sent![2])).toBeGreaterThan(100);

    // The pcap: every SIP message, and the RTP Wireshark finds through the SDP, with nothing flagged.
    const ports = [/door \(127\.0\.0\.1:(\d+)\)/, /registrar \(:(\d+)/, /phone \(:(\d+)\)/].map((re) => Number(re.exec(out)![1]));
    const written = /pcap: (\d+) datagrams written/.exec(out);
    expect(written).not.toBeNull();
    expect(decodeProblems(pcap, ports)).toEqual([]);
    expect(countSip(pcap, ports)).toBe(12);
    const rtp = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "rtp"], { encoding: "utf8", timeout: 20_000 }).split("\n").filter((l) => l.trim() !== "");
    expect(rtp.length).toBeGreaterThan(200);
    expect(rtp.length + 12).toBe(Number(written![1])); // every datagram is SIP or RTP
    const events = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "rtpevent"], { encoding: "utf8", timeout: 20_000 }).split("\n").filter((l) => l.trim() !== "");
    expect(events.length).toBeGreaterThanOrEqual(5); // the resident's 1234# as RFC 4733 events
  }, 60_000);

  it("--help prints its usage and exits 0; an unknown option exits 2", () => {
    const help = spawnSync(process.execPath, [cli, "demo", "--help"], { cwd: root, encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--once");
    expect(help.stdout).toContain("--pcap out.pcap");
    const bad = spawnSync(process.execPath, [cli, "demo", "--bogus"], { cwd: root, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option --bogus");
  });
});
