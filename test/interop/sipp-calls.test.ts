// Call flows baresip cannot produce, against real sipp on real sockets (NodePlatform, 127.0.0.1 only):
// 486, a 302 redirect, a 407 challenge, the CANCEL/200 race, two 200s from a forking proxy, and SIP INFO
// DTMF. Each test runs its own sipp (-m 1) and tshark capture on the sipp port, and checks sipp's verdict,
// the stack's call states, Wireshark's opinion of every datagram and the exact number of SIP messages.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Endpoint } from "../../sim/endpoint.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import type { CallConfig } from "../../sip-core/index.ts";
import { type SippRun, digestResponse, sipp, udpBound } from "./sipp-run.ts";
import { type Capture, countSip, decodeProblems, sipSummary, startCapture } from "./tshark.ts";

const work = mkdtempSync(join(tmpdir(), "doorsip-sipp-calls-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Ports 29000–30999, clear of the other interop files (20000–28399): each test k has its own pair, so a
// socket still closing from the previous test never gets in the way.
const SLOT = process.pid % 100;
const stackPort = (k: number) => 29000 + 20 * SLOT + k;
const sippPort = (k: number) => 29010 + 20 * SLOT + k;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 20) await sleep(20);
  return cond();
};

/** The stack on its own port, with call settings for this test. */
async function door(port: number, calls: Partial<CallConfig>, inviteStatus: number): Promise<Endpoint> {
  const e = new Endpoint({ platform: new NodePlatform(), address: "127.0.0.1", port, inviteStatus, calls: { ringTimeout: 20, ...calls } });
  expect(e.open()).toBe(0);
  expect(await until(() => udpBound(port), 2000)).toBe(true);
  return e;
}

/** "state [status reason]" of every call-state event, the call index left out. */
const states = (e: Endpoint) => e.events.filter((x) => x.kind === "call-state").map((x) => x.detail.split(" ").slice(1).join(" "));

interface ExchangeOptions {
  /** Call settings over DEFAULT_CALL_CONFIG. */
  calls?: Partial<CallConfig>;
  /** sipp calls the stack (the stack answers 200) instead of the other way round. */
  sippCalls?: boolean;
  /** Hooks on the stack, set before sipp starts. */
  setup?: (d: Endpoint) => void;
}

/**
 * Runs one test's exchange: capture on the sipp port, the stack, sipp, the test's part (drive), then the
 * checks every test shares — sipp passed (exit 0, empty error file), tshark flags nothing, and exactly
 * `messages` SIP datagrams went by (on failure the stack's event log is printed).
 */
async function exchange(k: number, scenario: string, messages: number, o: ExchangeOptions,
  drive: (d: Endpoint, sippAt: string) => Promise<void>): Promise<{ d: Endpoint; trace: string }> {
  const SIPP = sippPort(k);
  const ports = [SIPP, stackPort(k)];
  let capture: Capture | null = null;
  let run: SippRun | null = null;
  let d: Endpoint | null = null;
  try {
    capture = await startCapture(SIPP);
    d = await door(stackPort(k), o.calls || {}, o.sippCalls === true ? 200 : 486);
    if (o.setup !== undefined) o.setup(d);
    run = await sipp(scenario, SIPP, { work, target: o.sippCalls === true ? "127.0.0.1:" + stackPort(k) : undefined });
    await drive(d, "127.0.0.1:" + SIPP);
    const r = await run.done;
    await sleep(300); // anything sent late (a retransmission, a stray request) lands in the capture too
    const pcap = await capture.stop();
    capture = null;
    expect(r.errors).toBe("");
    expect(r.code).toBe(0);
    expect(decodeProblems(pcap, ports)).toEqual([]);
    const n = countSip(pcap, ports);
    // On a mismatch, the capture's SIP summary lines show what was extra or missing.
    expect({ sip: n, summary: n === messages ? [] : sipSummary(pcap, ports) }).toEqual({ sip: messages, summary: [] });
    return { d, trace: r.messages };
  } catch (e) {
    if (d !== null) console.error(scenario + ": the stack's events\n" + d.events.map((x) => x.at.toFixed(0) + " " + x.kind + " " + x.detail).join("\n"));
    throw e;
  } finally {
    if (run !== null && run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    if (capture !== null) await capture.stop();
    if (d !== null) d.close();
  }
}

interface Snapshot { peer: string; remoteTag: string; remoteTarget: string; payload: number; port: number }

/** What the call looked like when it went active (the Call is reset once it ends). */
function whenActive(d: Endpoint): { at: Snapshot | null } {
  const w: { at: Snapshot | null } = { at: null };
  d.onCall = (c) => {
    if (c.stateName() === "active" && w.at === null) {
      w.at = { peer: c.peer, remoteTag: c.dialog.remoteTag, remoteTarget: c.dialog.remoteTarget, payload: c.mediaPayload, port: c.mediaRemotePort };
    }
  };
  return w;
}

/** Waits for the call to end (the call-state event "ended …"). */
const ended = (d: Endpoint, ms = 5000) => until(() => states(d).some((s) => s.startsWith("ended")), ms);

/** Calls sipp at `at`, waits until the call is active (w, from whenActive), hangs up and waits for the end. */
async function callThenHangUp(d: Endpoint, at: string, w: { at: Snapshot | null }): Promise<void> {
  const call = d.call("sip:sipp@" + at);
  expect(call).not.toBe(null);
  expect(await until(() => w.at !== null, 5000)).toBe(true);
  await sleep(100);
  d.hangup(call!);
  expect(await ended(d)).toBe(true);
}

describe("the stack calls sipp", () => {
  it("486 Busy Here: the call ends with 486 and sipp gets the transaction's ACK", async () => {
    const { d } = await exchange(0, "call-busy.xml", 4, {}, async (d, at) => {
      expect(d.call("sip:sipp@" + at)).not.toBe(null);
      expect(await ended(d)).toBe(true);
    });
    expect(states(d)).toEqual(["calling", "ended 486 Busy Here"]); // a 100 does not make it ring
  }, 20000);

  it("302: the stack ACKs it and INVITEs the Contact (same Call-ID, CSeq 2); 180/200/ACK, then the test's BYE", async () => {
    let w: { at: Snapshot | null } = { at: null };
    const { d } = await exchange(1, "call-302.xml", 9, { setup: (d) => { w = whenActive(d); } }, (d, at) => callThenHangUp(d, at, w));
    expect(states(d)).toEqual(["calling", "ringing", "active", "ending", "ended 200 local hangup"]);
    expect(w.at).toEqual({ peer: "sip:other@127.0.0.1:" + sippPort(1), remoteTag: "other200",
      remoteTarget: "sip:other@127.0.0.1:" + sippPort(1), payload: 0, port: expect.any(Number) });
  }, 20000);

  it("407: the INVITE is resent with Proxy-Authorization (CSeq 2) whose digest checks out; the ACK repeats it", async () => {
    const PASSWORD = "porch-7Qx-secret";
    let w: { at: Snapshot | null } = { at: null };
    const { d, trace } = await exchange(2, "call-407.xml", 8, { calls: { password: PASSWORD }, setup: (d) => { w = whenActive(d); } }, (d, at) => callThenHangUp(d, at, w));
    expect(states(d)).toEqual(["calling", "active", "ending", "ended 200 local hangup"]);
    expect(w.at).toMatchObject({ remoteTag: "auth200", payload: 8 });
    // sipp 3.6.1's verifyauth reads only an Authorization header: recompute the digest from what sipp received.
    const creds = [...trace.matchAll(/^Proxy-Authorization: *(.*?)\r?$/gm)].map((m) => m[1]);
    expect(creds.length).toBe(2); // the second INVITE's and the ACK's (sipp checked they are equal)
    expect(creds[0]).toMatch(/^Digest username="door", /);
    expect(creds[0]).toMatch(/[ ,]qop=auth(,|$)/);
    const digest = digestResponse(creds[0], "INVITE", "door", PASSWORD);
    expect(digest.got).toMatch(/^[0-9a-f]{32}$/);
    expect(digest.got).toBe(digest.expected);
    expect(digestResponse(creds[0], "INVITE", "door", PASSWORD + "x").expected).not.toBe(digest.got);
  }, 20000);

  it("CANCEL race: the 200 crosses the CANCEL; the stack ACKs it and ends the call with a BYE", async () => {
    const { d } = await exchange(3, "call-cancel.xml", 8, {}, async (d, at) => {
      const call = d.call("sip:sipp@" + at);
      expect(call).not.toBe(null);
      expect(await until(() => call!.stateName() === "ringing", 5000)).toBe(true);
      d.hangup(call!);
      expect(call!.stateName()).toBe("cancelling");
      expect(await ended(d)).toBe(true);
    });
    expect(states(d)).toEqual(["calling", "ringing", "cancelling", "ending", "ended 200 answered after cancel"]);
  }, 20000);

  it("two 200s from a forking proxy: fork A is kept, fork B is ACKed and BYEd; the test's BYE goes to A", async () => {
    let w: { at: Snapshot | null } = { at: null };
    const { d, trace } = await exchange(4, "call-fork.xml", 10, { setup: (d) => { w = whenActive(d); } }, async (d, at) => {
      const call = d.call("sip:sipp@" + at);
      expect(call).not.toBe(null);
      // 200 A, 200 B, then the 200 to B's BYE: the stack traces each response it receives.
      const okCount = () => d.events.filter((e) => e.kind === "response" && e.detail === "200").length;
      expect(await until(() => okCount() === 3, 5000)).toBe(true);
      await sleep(100);
      expect([call!.stateName(), call!.dialog.remoteTag, call!.dialog.remoteTarget, call!.mediaPayload])
        .toEqual(["active", "forkA", "sip:a@127.0.0.1:" + sippPort(4), 0]);
      d.hangup(call!);
      expect(await ended(d)).toBe(true);
    });
    expect(states(d)).toEqual(["calling", "ringing", "active", "ending", "ended 200 local hangup"]);
    expect(d.events.some((e) => e.kind === "call" && e.detail.includes("a second fork answered"))).toBe(true);
    const forkA = /o=fork-a [\s\S]*?^m=audio (\d+) /m.exec(trace);
    expect(forkA).not.toBe(null);
    expect(w.at).toEqual({ peer: "sip:sipp@127.0.0.1:" + sippPort(4), remoteTag: "forkA", remoteTarget: "sip:a@127.0.0.1:" + sippPort(4),
      payload: 0, port: Number(forkA![1]) });
    expect(d.events.filter((e) => e.kind === "media").length).toBe(1); // fork B's answer (PCMA) never touched the media
  }, 20000);
});

describe("sipp calls the stack", () => {
  it("SIP INFO DTMF: dtmf-relay 1 2 3 4 # and dtmf 5 reach the application in order; sipp's BYE ends the call", async () => {
    const digits: string[] = [];
    const setup = (d: Endpoint) => { d.onDigit = (_call, digit) => { digits.push(String.fromCharCode(digit)); }; };
    const { d } = await exchange(5, "call-info.xml", 18, { calls: { answerDelay: 100 }, sippCalls: true, setup }, async (d) => {
      expect(await ended(d, 8000)).toBe(true);
    });
    expect(digits.join("")).toBe("1234#5");
    expect(d.events.filter((e) => e.kind === "info-digit").map((e) => e.detail).join("")).toBe("1234#5");
    expect(states(d)).toEqual(["incoming", "connecting", "active", "ended 0 remote hangup"]);
    expect(d.events.filter((e) => e.kind === "media").length).toBe(1);
  }, 20000);
});
