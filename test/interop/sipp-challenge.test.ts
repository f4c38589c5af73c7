// The door phone's digest challenge for direct calls (README "Trust policy"), against real sipp on 127.0.0.1:
// the firmware booted from its configuration file (firmware/boot.ts over the Node platform) with no account,
// an empty allow list and trust.challenge set, so a caller that is not otherwise trusted gets 401 with
// WWW-Authenticate, and is accepted only when its Authorization verifies (sip-core/auth-server.ts). Each test
// checks sipp's verdict, the door's counters and call states, the relay, Wireshark's opinion of every
// datagram and the exact SIP ladder on the wire, and recomputes the digests there with node:crypto.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { boot } from "../../firmware/boot.ts";
import { CONFIG_FILE } from "../../firmware/config.ts";
import { MEDIA_PACKETS_SENT } from "../../firmware/media.ts";
import type { DoorPhone } from "../../firmware/phone.ts";
import { sleep, until } from "../../sim/cli-support.ts";
import { MemoryStorage } from "../../sim/file-storage.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import { ToneAudio } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualLink } from "../../sim/virtual-link.ts";
import { authParam, digestResponse, sipp, udpBound } from "./sipp-run.ts";
import { type Capture, countSip, decodeProblems, sipFields, startCapture } from "./tshark.ts";

const work = mkdtempSync(join(tmpdir(), "doorsip-sipp-challenge-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Ports 32500–32599, clear of the other interop files and below the ephemeral range (32768+): ten per
// process (by pid), used by one test after the other (each closes its sockets first). sipp binds its media port and the one two above it.
const BASE = 32500 + 10 * (process.pid % 10);
const DOOR = BASE;
const DOOR_RTP = BASE + 2;
const SIPP = BASE + 4;
const SIPP_MEDIA = BASE + 6;
const PORTS = [SIPP, DOOR];

const USER = "door";
const PASSWORD = "porch-7Qx-secret";
const REALM = "doorsip";
// sipp's [authentication] puts sip:<remote ip>:<remote port> in the digest's uri, whatever the Request-URI
// (sipp 3.6.1, call.cpp); the door hashes the uri the credentials name and does not compare it with the
// Request-URI (RFC 2617 §3.2.2.5 says a server SHOULD).
const DIGEST_URI = "sip:127.0.0.1:" + DOOR;

interface Door {
  phone: DoorPhone;
  /** The door phone's log lines (printed when a test fails). */
  log: string[];
  /** The relay's transitions (on, off, …). */
  relay: () => boolean[];
  /** Call slot 0's state names as polled every 5 ms, each change once; its most RTP packets sent. */
  seen: { states: string[]; rtpSent: number };
  stop: () => void;
}

/**
 * The door phone booted from its configuration file, as on the device: no account, trust.registrar on, an empty
 * allow list, the digest challenge for direct callers, auto-answer for every accepted caller, the code "5".
 */
async function startDoor(): Promise<Door> {
  expect(await until(() => !udpBound(DOOR) && !udpBound(DOOR_RTP), 2000)).toBe(true); // the previous test's door is gone
  const log: string[] = [];
  const platform = new NodePlatform({ logSink: (l) => log.push(l) });
  const storage = new MemoryStorage();
  storage.write(CONFIG_FILE, JSON.stringify({
    sip: { address: "127.0.0.1", port: DOOR, calls: 1 },
    rtp: { portBase: DOOR_RTP },
    trust: { registrar: true, allow: [], challenge: { user: USER, password: PASSWORD, realm: REALM } },
    autoAnswer: { enabled: true, delayMs: 200, from: [] },
    door: { code: "5", pulseMs: 200 },
  }));
  const board = new VirtualBoard(platform.clock, new ToneAudio({ frequencies: 440 }));
  const booted = boot(platform, board, storage, new VirtualLink("127.0.0.1", (fn) => setImmediate(fn)));
  expect(booted.problems).toEqual([]);
  expect(booted.config.accounts).toEqual([]);
  expect(booted.config.trust).toMatchObject({ registrar: true, allow: [], challengeUser: USER, challengePassword: PASSWORD, challengeRealm: REALM });
  const phone = booted.phone;
  expect(await until(() => udpBound(DOOR), 2000)).toBe(true);
  const seen = { states: ["free"], rtpSent: 0 };
  const watch = setInterval(() => {
    const s = phone.ua.calls!.calls[0].stateName();
    if (s !== seen.states[seen.states.length - 1]) seen.states.push(s);
    seen.rtpSent = Math.max(seen.rtpSent, phone.sessions[0].stats[MEDIA_PACKETS_SENT]);
  }, 5);
  return {
    phone, log, seen,
    relay: () => board.transitions(booted.config.relayPin).map((t) => t.on),
    stop: () => { clearInterval(watch); phone.close(); },
  };
}

/** The call states polled, without those that last a moment only (connecting: until sipp's ACK; ended). */
const lasting = (door: Door) => door.seen.states.filter((s) => s !== "connecting" && s !== "ended");

/** One SIP datagram on the wire: "> " sipp to the door, "< " the door to sipp; the request method or the status, and the CSeq. */
interface Wire { label: string; www: string; auth: string }

/**
 * Runs one sipp call (scenario, its files named `name`, more sipp arguments) against the door under a capture
 * of the sipp port; sipp must pass (exit 0, empty error file) and tshark flag nothing. The SIP datagrams in
 * order (on failure the door's log and status are printed).
 */
async function call(door: Door, scenario: string, name: string, args: string[]): Promise<Wire[]> {
  let capture: Capture | null = null;
  let child: ChildProcess | null = null;
  try {
    capture = await startCapture(SIPP);
    expect(await until(() => !udpBound(SIPP), 2000)).toBe(true);
    const run = await sipp(scenario, SIPP, { work, target: "127.0.0.1:" + DOOR, name, args: ["-mp", String(SIPP_MEDIA), ...args] });
    child = run.child;
    const done = await run.done;
    expect(done.errors, name).toBe("");
    expect(done.code, name + "\n" + done.messages).toBe(0);
    await sleep(300); // anything the door sends late (a retransmission, a stray 180) lands in the capture too
    const pcap = await capture.stop();
    capture = null;
    expect(decodeProblems(pcap, PORTS)).toEqual([]);
    const rows = sipFields(pcap, PORTS, "sip", ["udp.srcport", "sip.Method", "sip.Status-Code", "sip.CSeq", "sip.WWW-Authenticate", "sip.Authorization"]);
    expect(countSip(pcap, PORTS)).toBe(rows.length); // tshark's own count of SIP frames agrees
    return rows.map(([src, method, status, cseq, www, auth]) => ({
      label: (Number(src) === SIPP ? "> " : "< ") + (method || status) + " " + cseq, www: www ?? "", auth: auth ?? "",
    }));
  } catch (e) {
    console.error("the door's log\n" + door.log.join("\n") + "\nstatus " + door.phone.status());
    throw e;
  } finally {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (capture !== null) await capture.stop();
  }
}

/** The ladder up to sipp's second INVITE: challenged, ACKed, sent again with credentials. */
const CHALLENGED = ["> INVITE 1 INVITE", "< 401 1 INVITE", "> ACK 1 ACK", "> INVITE 2 INVITE"];

/** The Authorization sipp sent: for the nonce the door's 401 carried, our user and realm, nc 1. */
function checkCredentials(auth: string, www: string): void {
  expect(www).toMatch(/^Digest realm="doorsip", nonce="[0-9a-z]+\.[0-9a-f]{16}", algorithm=MD5, qop="auth"$/);
  expect(auth).toMatch(/^Digest /);
  expect([authParam(auth, "username"), authParam(auth, "realm"), authParam(auth, "uri"), authParam(auth, "qop"), authParam(auth, "nc")])
    .toEqual([USER, REALM, DIGEST_URI, "auth", "00000001"]);
  expect(authParam(auth, "nonce")).toBe(authParam(www, "nonce"));
  expect(authParam(auth, "cnonce")).not.toBe("");
}

describe("sipp calls the door phone directly: the 401 digest challenge", () => {
  it("right credentials: 401, then the INVITE with Authorization is accepted, rings, is answered, keys the code (the relay pulses), BYE", async () => {
    const door = await startDoor();
    try {
      const wire = await call(door, "uac-invite-auth.xml", "right", ["-au", USER, "-ap", PASSWORD]);
      expect(wire.map((w) => w.label)).toEqual([...CHALLENGED,
        "< 180 2 INVITE", "< 200 2 INVITE", "> ACK 2 ACK", "> INFO 3 INFO", "< 200 3 INFO", "> BYE 4 BYE", "< 200 4 BYE"]);
      checkCredentials(wire[3].auth, wire[1].www);
      // The digest sipp computed checks out with the door's password (and would not with another).
      const digest = digestResponse(wire[3].auth, "INVITE", USER, PASSWORD);
      expect(digest.got).toMatch(/^[0-9a-f]{32}$/);
      expect(digest.got).toBe(digest.expected);
      expect(digestResponse(wire[3].auth, "INVITE", USER, PASSWORD + "x").expected).not.toBe(digest.got);
      expect(door.phone.counters).toMatchObject({ challenged: 1, accepted: 1, refused: 0, dropped: 0 });
      expect(door.phone.digest!.refused).toBe(1); // the first INVITE, without credentials
      // Answered: the call rang (incoming), went active, media flowed, sipp's BYE ended it.
      expect(lasting(door)).toEqual(["free", "incoming", "active", "free"]);
      expect(door.seen.rtpSent).toBeGreaterThan(20);
      expect(door.phone.ua.calls!.liveCount()).toBe(0);
      // A caller accepted by digest is authorised: its code opens the door.
      expect(await until(() => door.relay().length === 2, 2000)).toBe(true);
      expect(door.relay()).toEqual([true, false]);
      expect(door.phone.door.opens).toBe(1);
    } finally {
      door.stop();
    }
  }, 20000);

  it("wrong password: the INVITE with credentials is challenged again (a fresh nonce); nothing rings, nothing is accepted, the door stays shut", async () => {
    const WRONG = PASSWORD + "-wrong";
    const door = await startDoor();
    try {
      const wire = await call(door, "uac-invite-auth-refused.xml", "wrong", ["-au", USER, "-ap", WRONG]);
      expect(wire.map((w) => w.label)).toEqual([...CHALLENGED, "< 401 2 INVITE", "> ACK 2 ACK"]);
      checkCredentials(wire[3].auth, wire[1].www);
      // sipp's digest is right for the password it was given: refused for the password alone.
      const digest = digestResponse(wire[3].auth, "INVITE", USER, WRONG);
      expect(digest.got).toBe(digest.expected);
      expect(digestResponse(wire[3].auth, "INVITE", USER, PASSWORD).expected).not.toBe(digest.got);
      expect(wire[4].www).toMatch(/^Digest realm="doorsip", nonce="[0-9a-z]+\.[0-9a-f]{16}", algorithm=MD5, qop="auth"$/);
      expect(authParam(wire[4].www, "nonce")).not.toBe(authParam(wire[1].www, "nonce"));
      expect(door.phone.counters).toMatchObject({ challenged: 2, accepted: 0, refused: 0, dropped: 0 });
      expect(door.phone.digest!.refused).toBe(2);
      expect(door.seen.states).toEqual(["free"]); // no call slot ever held past the policy's verdict
      expect(door.seen.rtpSent).toBe(0);
      expect(door.relay()).toEqual([]);
      expect(door.phone.door.opens).toBe(0);
    } finally {
      door.stop();
    }
  }, 20000);

  it("a replay: the Authorization of an accepted call, sent again word for word in a new INVITE, is challenged (401), not accepted", async () => {
    const door = await startDoor();
    try {
      const first = await call(door, "uac-invite-auth.xml", "replay-first", ["-au", USER, "-ap", PASSWORD]);
      expect(first.length).toBe(11);
      const auth = first[3].auth;
      checkCredentials(auth, first[1].www);
      expect(door.phone.counters).toMatchObject({ challenged: 1, accepted: 1 });
      expect(await until(() => door.relay().length === 2, 2000)).toBe(true);
      const replay = await call(door, "uac-invite-replay.xml", "replay", ["-key", "auth", auth]);
      expect(replay.map((w) => w.label)).toEqual(["> INVITE 1 INVITE", "< 401 1 INVITE", "> ACK 1 ACK"]);
      expect(replay[0].auth).toBe(auth); // the very credentials the door accepted, their nonce still live
      expect(authParam(replay[1].www, "nonce")).not.toBe(authParam(auth, "nonce"));
      expect(door.phone.counters).toMatchObject({ challenged: 2, accepted: 1, refused: 0, dropped: 0 });
      expect(lasting(door)).toEqual(["free", "incoming", "active", "free"]); // the first call only
      expect(door.relay()).toEqual([true, false]);
      expect(door.phone.door.opens).toBe(1);
    } finally {
      door.stop();
    }
  }, 25000);
});
