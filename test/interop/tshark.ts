// tshark helpers for the interop tests: capture loopback traffic on SIP ports, then ask Wireshark's
// dissectors for a second opinion on what the stack sent and received.
//
// Wireshark is lenient (a wrong Content-Length or `CSeq: abc` is not flagged), so pair it with a strict
// peer (Kamailio answers such messages with 400). What it does catch: malformed packets, expert-info
// warnings and errors, and datagrams on a SIP port that do not decode as SIP at all (a `SIP/3.0` start
// line is shown as bare UDP, not flagged) — decodeProblems() reports all three.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Capture {
  /** Stops the capture (flushing the file) and returns the pcap path. */
  stop(): Promise<string>;
}

/** Runs tshark on a pcap with every port decoded as SIP; the packet summary lines. */
function read(pcap: string, ports: number[], filter: string): string[] {
  const args = ["-n", "-r", pcap];
  for (const p of ports) args.push("-d", "udp.port==" + p + ",sip");
  args.push("-Y", filter);
  const out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20000 });
  return out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/**
 * Captures UDP on `lo` for the given port (either direction), and any extra ports (RTP), into a fresh
 * pcap. Resolves once tshark says "Capture started.", so nothing sent afterwards is missed.
 */
export function startCapture(port: number, timeoutMs = 10000, extraPorts: number[] = []): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-pcap-"));
  const pcap = join(dir, "capture-" + port + ".pcap");
  const filter = [port, ...extraPorts].map((p) => "udp port " + p).join(" or ");
  const child = spawn("tshark", ["-n", "-q", "-i", "lo", "-f", filter, "-w", pcap], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let stderr = "";
  return new Promise<Capture>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("tshark did not start capturing within " + timeoutMs + " ms: " + stderr));
    }, timeoutMs);
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      const before = stderr;
      stderr += d;
      // Packets are recorded only from "Capture started." on ("Capturing on" comes 20 ms to much longer
      // before it under load: captures missed their first messages).
      if (!before.includes("Capture started") && stderr.includes("Capture started")) {
        clearTimeout(timer);
        setTimeout(() => resolve({
          async stop() {
            if (child.exitCode === null && child.signalCode === null) {
              // Let the kernel hand the last datagrams to dumpcap before stopping it (libpcap delivers in blocks,
              // on a read timeout: with 200 ms the last messages of a call were missing from the file).
              await new Promise((r) => setTimeout(r, 700));
              child.kill("SIGINT");
              const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
              await exited;
              clearTimeout(kill);
            }
            return pcap;
          },
        }), 50);
      }
    });
    void exited.then((code) => {
      if (!stderr.includes("Capture started")) { clearTimeout(timer); reject(new Error("tshark exited (" + code + "): " + stderr)); }
    });
  });
}

/** RFC 5626 keep-alives on UDP: a CRLFCRLF ping or a CRLF pong (Wireshark shows them as bare UDP). */
const KEEPALIVE = "(udp.payload == 0d:0a:0d:0a || udp.payload == 0d:0a)";

/**
 * Packets Wireshark finds wrong: malformed, an expert-info warning or error, or a datagram on one of
 * the SIP ports that did not decode as SIP (RFC 5626 keep-alives excepted). Empty when the capture is clean.
 */
export function decodeProblems(pcap: string, ports: number[]): string[] {
  const flagged = read(pcap, ports, "_ws.malformed || _ws.expert.severity >= warning");
  const notSip = read(pcap, ports, "udp.port in {" + ports.join(",") + "} && !sip && !" + KEEPALIVE);
  return flagged.map((l) => "flagged: " + l).concat(notSip.map((l) => "not SIP: " + l));
}

/** RFC 5626 keep-alive datagrams (pings and pongs) on the ports. */
export function countKeepalives(pcap: string, ports: number[]): number {
  return read(pcap, ports, "udp.port in {" + ports.join(",") + "} && " + KEEPALIVE).length;
}

/** Packets that decode as SIP (requests and responses). */
export function countSip(pcap: string, ports: number[]): number {
  return read(pcap, ports, "sip").length;
}

/** The SIP summary lines (frame, addresses, `Request: REGISTER …` / `Status: 200 OK …`), for diagnostics. */
export function sipSummary(pcap: string, ports: number[]): string[] {
  return read(pcap, ports, "sip");
}

/** Fields of the SIP packets in a pcap (the given ports decoded as SIP) matching filter, tab-separated. */
export function sipFields(pcap: string, ports: number[], filter: string, fields: string[]): string[][] {
  const args = ["-n", "-r", pcap];
  for (const p of ports) args.push("-d", "udp.port==" + p + ",sip");
  args.push("-Y", filter, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|");
  for (const f of fields) args.push("-e", f);
  const out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20000 });
  return out.split("\n").filter((l) => l.trim() !== "").map((l) => l.split("\t"));
}

/**
 * What Wireshark makes of the RTP the stack sent from `rtpPort`: the packets of each payload type, and
 * the ones it flags (malformed, or an expert warning or error).
 */
export function rtpSent(pcap: string, rtpPort: number): { byType: Record<string, number>; flagged: string[] } {
  const args = (filter: string, fields: string[]) => {
    const a = ["-n", "-r", pcap, "-d", "udp.port==" + rtpPort + ",rtp", "-Y", "udp.srcport == " + rtpPort + " && (" + filter + ")"];
    if (fields.length > 0) { a.push("-T", "fields"); for (const f of fields) a.push("-e", f); }
    return execFileSync("tshark", a, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20000 })
      .split("\n").map((l) => l.trim()).filter((l) => l !== "");
  };
  const byType: Record<string, number> = {};
  for (const t of args("rtp", ["rtp.p_type"])) byType[t] = (byType[t] ?? 0) + 1;
  return { byType, flagged: args("!rtp || _ws.malformed || _ws.expert.severity >= warning", []) };
}
