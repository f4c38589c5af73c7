// Registration against a real registrar: Kamailio 5.6 (registrar + usrloc in memory, digest checked in the
// script with pv_www_authenticate), MD5 and SHA-256 challenges, wrong passwords, an expired nonce, keep-alive,
// with tshark decoding the traffic. Each test gets a fresh Kamailio (bindings would survive otherwise) and
// its own ports, so the tests run concurrently: the file takes as long as its longest test (~23 s).
import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, describe, it } from "vitest";
import { REG_FAILED, REG_REGISTERED, REG_UNREGISTERED, TRANSPORT_TCP, TRANSPORT_UDP, type AccountConfig } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { NodePlatform } from "../../sim/node-platform.ts";
import { startKamailio as launch, stopAllKamailio, stopKamailio, ulDump, type Kamailio } from "./kamailio.ts";
import { countKeepalives, countSip, decodeProblems, sipSummary, startCapture } from "./tshark.ts";

const template = readFileSync(new URL("./kamailio/registrar.cfg.tmpl", import.meta.url), "utf8");
// Other interop tests use 25060+ and 26060+ (pid % 200). These use 27000..28399: slot k is
// 27000 + 100·k + pid % 100; each test takes two slots (the stack's port, Kamailio's).
const port = (k: number) => 27000 + 100 * k + (process.pid % 100);
const USER = "1001";
const PASSWORD = "front-door-secret";
const INSTANCE = "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = () => new Promise((r) => setTimeout(r, 300));

/** Ends a test's world: the endpoint, Kamailio, and the capture (stopped here if the test did not). */
async function teardown(d: { close(): void }, kam: Parameters<typeof stop>[0], capture: { stop(): Promise<string> }, pcap: string): Promise<void> {
  d.close();
  stop(kam);
  if (pcap === "") pcap = await capture.stop();
  rmSync(dirname(pcap), { recursive: true, force: true });
}
const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 50) await sleep(50);
  return cond();
};

const cleanups: (() => Promise<unknown> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups) await c();
  await stopAllKamailio(); // SIGTERM: Kamailio exits about 1.6 s later.
}, 15000);

interface KamailioOptions {
  algorithm: "MD5" | "SHA-256";
  /** registrar min_expires / max_expires (0: no ceiling). Kamailio's defaults: 60 / 0. */
  min: number;
  max: number;
  /** auth nonce_expire, seconds (default 300). */
  nonceExpire?: number;
  /** A wrong password gets 403 (default) or a new challenge (Kamailio's stock script). */
  onWrongPassword?: "forbidden" | "challenge";
}

/** Kamailio with the registrar template (see ./kamailio.ts): its log lines RX, AUTH, SAVED, SANITY. */
function startKamailio(kamPort: number, o: KamailioOptions): Promise<Kamailio> {
  return launch({
    template, port: kamPort,
    values: {
      ALGORITHM: o.algorithm, USER, PASSWORD, MIN_EXPIRES: String(o.min), MAX_EXPIRES: String(o.max),
      NONCE_EXPIRE: String(o.nonceExpire ?? 300), ON_WRONG_PASSWORD: o.onWrongPassword ?? "forbidden",
    },
  });
}

const stop = stopKamailio;

/** The door: one account for user 1001 at 127.0.0.1; keep-alive off unless asked (it has its own tests). */
async function door(stackPort: number, registrarPort: number, password: string, keepalive = 0, transport = TRANSPORT_UDP): Promise<Endpoint> {
  const account: AccountConfig = {
    user: USER, authUser: "", password, domain: "127.0.0.1", registrar: "127.0.0.1", registrarPort, transport, expires: 60,
    instanceId: INSTANCE, localAddress: "127.0.0.1", localPort: stackPort, backoffBase: 30, backoffMax: 1800, keepalive,
  };
  const d = new Endpoint({ platform: new NodePlatform(), address: "127.0.0.1", port: stackPort, accounts: [account] });
  const rc = d.open();
  if (rc !== 0) throw new Error("cannot open the stack's socket on " + stackPort + ": " + rc);
  cleanups.push(() => d.close());
  await sleep(100);
  return d;
}

/** The Contact the stack registers, as Kamailio stores it. */
const contactOf = (stackPort: number) => "sip:" + USER + "@127.0.0.1:" + stackPort + ";transport=udp";
/** The stack's "registered for N s" log entries (one per successful REGISTER, refreshes included). */
const grants = (d: Endpoint) => d.events.filter((e) => e.kind === "reg" && / registered for \d+ s/.test(e.detail));
const noted = (d: Endpoint, re: RegExp) => d.events.some((e) => (e.kind === "reg" || e.kind === "reg-warn") && re.test(e.detail));
/** What both sides saw, for a failing assertion's message. */
const why = (d: Endpoint, k: Kamailio) => "\n--- stack events\n" + d.events.map((e) => Math.round(e.at) + " " + e.kind + " " + e.detail).join("\n")
  + "\n--- kamailio\n" + k.lines(/RX |AUTH|SAVED|SANITY|ERROR|WARN/).join("\n");

describe("Kamailio registrar (no database, digest checked in the script)", () => {
  it.concurrent("MD5: registers, shows in the location table, refreshes at half the grant, unregisters; tshark finds nothing wrong", async ({ expect }) => {
    const STACK = port(0);
    const KAM = port(1);
    const CONTACT = contactOf(STACK);
    // max_expires 20: the stack asks for 60, Kamailio grants 20, so the refresh comes after 10 s (not 30).
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 10, max: 20 });
    const capture = await startCapture(KAM);
    let pcap = "";
    cleanups.push(async () => { if (pcap === "") pcap = await capture.stop(); });
    const d = await door(STACK, KAM, PASSWORD);
    const reg = d.registrations[0];
    try {
      const t0 = performance.now();
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      const registeredMs = performance.now() - t0;
      expect(reg.granted).toBe(20);
      expect(reg.lastStatus).toBe(200);
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/AUTH rc=-5 /).length).toBe(1); // the first REGISTER had no credentials: challenged
      const dump1 = await ulDump(kam);
      expect(dump1).toMatch(new RegExp("AoR: " + USER + "\\b"));
      expect(dump1).toContain("Address: " + CONTACT);
      expect(dump1).toContain(INSTANCE);

      // The refresh: a second successful REGISTER about 10 s later, with the same nonce (nc 2).
      expect(await until(() => kam.lines(/SAVED/).length >= 2 && grants(d).length >= 2, 15000), why(d, kam)).toBe(true);
      const g = grants(d);
      const refreshAfter = g[1].at - g[0].at;
      expect(refreshAfter).toBeGreaterThan(9500);
      expect(refreshAfter).toBeLessThan(11500);
      expect(reg.state).toBe(REG_REGISTERED);
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/RX REGISTER/).length, why(d, kam)).toBe(3); // no new challenge for the refresh
      const dump2 = await ulDump(kam);
      expect(dump2).toContain("Address: " + CONTACT);
      expect(dump2.match(/Address: /g)?.length).toBe(1); // refreshed, not a second binding

      d.unregisterAll();
      expect(await until(() => reg.state === REG_UNREGISTERED, 5000), why(d, kam)).toBe(true);
      expect(reg.lastStatus).toBe(200);
      const dump3 = await ulDump(kam);
      expect(dump3).not.toContain(CONTACT);
      expect(dump3).not.toMatch(new RegExp("AoR: " + USER + "\\b"));
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/SAVED cseq=\d+ expires=0 /).length).toBe(1);

      pcap = await capture.stop();
      const problems = decodeProblems(pcap, [KAM]);
      expect(problems, problems.join("\n")).toEqual([]);
      // REGISTER, 401, REGISTER, 200, refresh, 200, unregister, 200.
      const sip = countSip(pcap, [KAM]);
      expect(sip, sipSummary(pcap, [KAM]).join("\n")).toBe(8);
      console.log("[kamailio MD5] registered in " + Math.round(registeredMs) + " ms, refresh after " + Math.round(refreshAfter)
        + " ms, " + sip + " SIP packets captured, none flagged by tshark");
    } finally {
      await teardown(d, kam, capture, pcap);
    }
  }, 40000);

  it.concurrent("a wrong password: 403 from Kamailio, REG_FAILED, two REGISTERs and no loop", async ({ expect }) => {
    const KAM = port(3);
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 60, max: 0 });
    const capture = await startCapture(KAM);
    const d = await door(port(2), KAM, "back-door-secret");
    const reg = d.registrations[0];
    let pcap = "";
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_FAILED, 5000), why(d, kam)).toBe(true);
      expect(reg.lastStatus).toBe(403);
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/AUTH rc=-2 /).length).toBe(1);
      // Nothing more goes out (the next attempt is backoffMax away).
      await sleep(1500);
      expect(kam.lines(/RX REGISTER/).length, why(d, kam)).toBe(2);
      expect(reg.state).toBe(REG_FAILED);
      expect(reg.nextAttemptAt - performance.now()).toBeGreaterThan(1700 * 1000);
      expect(await ulDump(kam)).not.toContain(contactOf(port(2)));
      pcap = await capture.stop();
      expect(decodeProblems(pcap, [KAM])).toEqual([]);
      expect(countSip(pcap, [KAM])).toBe(4); // REGISTER, 401, REGISTER, 403
    } finally {
      await teardown(d, kam, capture, pcap);
    }
  }, 20000);

  it.concurrent("SHA-256: Kamailio challenges with algorithm=SHA-256; registered with the default grant, binding visible", async ({ expect }) => {
    const KAM = port(5);
    const kam = await startKamailio(KAM, { algorithm: "SHA-256", min: 60, max: 0 });
    const capture = await startCapture(KAM);
    const d = await door(port(4), KAM, PASSWORD);
    const reg = d.registrations[0];
    let pcap = "";
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      pcap = await capture.stop();
      expect(decodeProblems(pcap, [KAM])).toEqual([]);
      expect(countSip(pcap, [KAM])).toBe(4); // REGISTER, 401 (SHA-256), REGISTER, 200
      expect(reg.granted).toBe(60);
      expect(noted(d, /answering a SHA-256 challenge/), why(d, kam)).toBe(true);
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/AUTH rc=/).length).toBe(1); // only the credential-less first REGISTER
      const dump = await ulDump(kam);
      expect(dump).toMatch(new RegExp("AoR: " + USER + "\\b"));
      expect(dump).toContain("Address: " + contactOf(port(4)));
      expect(dump).toMatch(/Expires: (5[0-9]|60)\b/);
    } finally {
      await teardown(d, kam, capture, pcap);
    }
  }, 20000);

  it.concurrent("a wrong password answered with a new challenge (Kamailio's stock script): REG_FAILED with 401, no loop", async ({ expect }) => {
    const KAM = port(7);
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 60, max: 0, onWrongPassword: "challenge" });
    const d = await door(port(6), KAM, "back-door-secret");
    const reg = d.registrations[0];
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_FAILED, 5000), why(d, kam)).toBe(true);
      expect(reg.lastStatus).toBe(401);
      await sleep(1500);
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/RX REGISTER/).length, why(d, kam)).toBe(2);
      expect(kam.lines(/AUTH rc=-2 /).length).toBe(1);
      expect(reg.state).toBe(REG_FAILED);
    } finally {
      d.close();
      stop(kam);
    }
  }, 20000);

  it.concurrent("an expired nonce at the refresh: Kamailio challenges with stale=true, the stack answers it and stays registered", async ({ expect }) => {
    const KAM = port(9);
    // Grant 10 s (refresh after 5 s), nonces live 3 s: the refresh carries an expired nonce.
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 10, max: 10, nonceExpire: 3 });
    const d = await door(port(8), KAM, PASSWORD);
    const reg = d.registrations[0];
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      expect(reg.granted).toBe(10);
      expect(await until(() => grants(d).length >= 2, 9000), why(d, kam)).toBe(true);
      expect(reg.state).toBe(REG_REGISTERED);
      // REGISTER 401, REGISTER 200, refresh 401 (stale), refresh 200.
      await settle(); // Kamailio's log lines arrive on its stderr, a moment after the SIP
      expect(kam.lines(/RX REGISTER/).length, why(d, kam)).toBe(4);
      expect(kam.lines(/AUTH rc=-4 /).length).toBe(1);
      expect(kam.lines(/SAVED/).length).toBe(2);
      expect(noted(d, /stale nonce/), why(d, kam)).toBe(true);
      expect(await ulDump(kam)).toContain("Address: " + contactOf(port(8)));
    } finally {
      d.close();
      stop(kam);
    }
  }, 20000);

  it.concurrent("over TCP: REGISTER and its challenge on one connection, binding with transport=tcp, CRLF pings answered on it", async ({ expect }) => {
    const STACK = port(14);
    const KAM = port(15);
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 10, max: 0 });
    const d = await door(STACK, KAM, PASSWORD, 2, TRANSPORT_TCP);
    const reg = d.registrations[0];
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      await settle();
      const rx = kam.lines(/RX REGISTER/);
      expect(rx.length, why(d, kam)).toBe(2);
      for (const line of rx) expect(line).toContain("proto=tcp");
      const dump = await ulDump(kam);
      expect(dump).toContain("Address: sip:" + USER + "@127.0.0.1:" + STACK + ";transport=tcp");
      expect(dump).toContain("Socket: tcp:127.0.0.1:" + KAM);
      // Keep-alive every 2 s: Kamailio answers each CRLFCRLF with a CRLF on the connection.
      expect(await until(() => d.events.filter((e) => e.kind === "pong").length >= 3, 9000), why(d, kam)).toBe(true);
      expect(noted(d, /no pong/)).toBe(false);
      expect(reg.state).toBe(REG_REGISTERED);
      expect(kam.lines(/RX (REGISTER|OPTIONS)/).length, why(d, kam)).toBe(2); // no OPTIONS fallback, no re-registration
    } finally {
      d.close();
      stop(kam);
    }
  }, 30000);

  it.concurrent("keep-alive: Kamailio does not pong UDP CRLF pings, so the stack falls back to OPTIONS (200); no re-registration", async ({ expect }) => {
    const KAM = port(11);
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 60, max: 0 });
    const capture = await startCapture(KAM);
    let pcap = "";
    cleanups.push(async () => { if (pcap === "") pcap = await capture.stop(); });
    // A ping 10.4–13 s after registering; no pong within 10 s: OPTIONS from then on.
    const d = await door(port(10), KAM, PASSWORD, 13);
    const reg = d.registrations[0];
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      expect(await until(() => kam.lines(/RX OPTIONS/).length >= 1, 25000), why(d, kam)).toBe(true);
      expect(await until(() => d.events.filter((e) => e.kind === "response" && e.detail === "200").length >= 2, 2000), why(d, kam)).toBe(true);
      expect(noted(d, /no pong to CRLF keep-alive; using OPTIONS/), why(d, kam)).toBe(true);
      expect(reg.state).toBe(REG_REGISTERED);
      expect(kam.lines(/RX REGISTER/).length, why(d, kam)).toBe(2); // the flow was never declared dead
      expect(kam.lines(/SANITY/).length).toBe(0); // the OPTIONS passed Kamailio's sanity checks
      d.unregisterAll();
      expect(await until(() => reg.state === REG_UNREGISTERED, 5000), why(d, kam)).toBe(true);
      pcap = await capture.stop();
      const problems = decodeProblems(pcap, [KAM]);
      expect(problems, problems.join("\n")).toEqual([]);
      expect(countKeepalives(pcap, [KAM])).toBe(1); // one unanswered ping, then OPTIONS
      // REGISTER, 401, REGISTER, 200, unregister, 200, and each OPTIONS with its 200 (a second one can
      // leave 0.4–3 s after the first: the fallback OPTIONS does not push the next keep-alive back).
      const options = kam.lines(/RX OPTIONS/).length;
      expect(options).toBeLessThanOrEqual(2);
      expect(countSip(pcap, [KAM]), sipSummary(pcap, [KAM]).join("\n")).toBe(6 + 2 * options);
    } finally {
      await teardown(d, kam, capture, pcap);
    }
  }, 40000);

  // Regression: with a period under the 10 s pong wait, later pings must not push the first deadline back.
  it.concurrent("keep-alive shorter than the pong wait (2 s): still falls back to OPTIONS within 13 s", async ({ expect }) => {
    const KAM = port(13);
    const kam = await startKamailio(KAM, { algorithm: "MD5", min: 60, max: 0 });
    const d = await door(port(12), KAM, PASSWORD, 2);
    const reg = d.registrations[0];
    try {
      d.registerAll();
      expect(await until(() => reg.state === REG_REGISTERED, 5000), why(d, kam)).toBe(true);
      // First ping after 1.6–2 s, its pong deadline 10 s later: OPTIONS by about 12 s.
      expect(await until(() => kam.lines(/RX OPTIONS/).length >= 1, 13000), why(d, kam)).toBe(true);
    } finally {
      d.close();
      stop(kam);
    }
  }, 30000);
});
