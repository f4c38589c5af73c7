// The stored configuration: the README's example read exactly, every kind of mistake reported with the
// safe default kept, the defaults never changed; and the simulator's Storage implementations.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CONFIG_FILE, type ConfigProblem, describeProblems, loadConfig, MAX_ACCOUNTS, MAX_BUTTONS, type StoredConfig,
} from "../../firmware/config.ts";
import { DEFAULT_DOOR } from "../../firmware/door.ts";
import {
  DEFAULT_AUTO_ANSWER, DEFAULT_PHONE, DEFAULT_PLAN, DEFAULT_TRUST, PLAN_PARALLEL, PLAN_SEQUENTIAL, PLAN_SINGLE, REFUSE_DROP,
  REFUSE_REJECT,
} from "../../firmware/phone-config.ts";
import { HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_OK } from "../../hal/errors.ts";
import { DEFAULT_ACCOUNT, DEFAULT_CALL_CONFIG, TRANSPORT_TCP, TRANSPORT_UDP } from "../../sip-core/index.ts";
import { FileStorage, MemoryStorage } from "../../sim/file-storage.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const section = readme.slice(readme.indexOf("### The configuration file\n"), readme.indexOf("### CallConfig\n"));
/** The README's example document. */
const EXAMPLE_TEXT = section.slice(section.indexOf("```json\n") + 8, section.indexOf("```\n", section.indexOf("```json\n")));
const example = () => JSON.parse(EXAMPLE_TEXT);

function load(doc: unknown): { cfg: StoredConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const cfg = loadConfig(typeof doc === "string" || doc === null ? doc : JSON.stringify(doc), problems);
  return { cfg, problems };
}

/** The example with one change made by `edit`. */
function loadEdited(edit: (d: any) => void) {
  const d = example();
  edit(d);
  return load(d);
}

/** Problems as "path: why" (without values), for exact comparisons. */
const whys = (p: ConfigProblem[]) => p.map((x) => x.path + ": " + x.why);

/** The configuration with no file at all: every default, with the derived addresses. */
function defaults(): StoredConfig {
  const calls = { ...DEFAULT_CALL_CONFIG, codecs: [0, 8], localAddress: "0.0.0.0", localPort: 5060, answerDelay: DEFAULT_AUTO_ANSWER.delayMs };
  return {
    phone: {
      ...DEFAULT_PHONE, calls, door: { ...DEFAULT_DOOR }, trust: { ...DEFAULT_TRUST, allow: [] },
      autoAnswer: { ...DEFAULT_AUTO_ANSWER, from: [] }, accounts: [], buttons: [],
    },
    ssid: "", wifiPassword: "",
  };
}

describe("the README example", () => {
  it("loads without a problem into exactly these fields", () => {
    const { cfg, problems } = load(EXAMPLE_TEXT);
    expect(problems).toEqual([]);
    expect(cfg).toEqual({
      phone: {
        address: "0.0.0.0", port: 5060, callCapacity: 2, transactions: 16, timers: null,
        accounts: [{
          ...DEFAULT_ACCOUNT, user: "1001", authUser: "", password: "door-secret", domain: "sip.example.com",
          registrar: "10.0.0.100", registrarPort: 5060, expires: 600, keepalive: 28, instanceId: "",
          localAddress: "0.0.0.0", localPort: 5060,
        }],
        calls: {
          user: "1001", domain: "sip.example.com", displayName: "Front door", authUser: "", password: "door-secret",
          outboundProxy: "", outboundPort: 5060, outboundTransport: TRANSPORT_UDP, localAddress: "0.0.0.0", localPort: 5060, rtpAddress: "", rtpPortBase: 40000,
          codecs: [0, 8], telephoneEvent: 101, ringTimeout: 30, maxDuration: 300, rtpTimeout: 30, answerDelay: 1000, ringing: true, maxCalls: 1,
          maxRedirects: 3,
        },
        door: { code: "1234#", pulseMs: 3000, maxWrongCodes: 3, lockoutSeconds: 300, lockoutMaxSeconds: 86400, digitTimeoutMs: 5000, auditSize: 32, opensPerCall: 1 },
        relayPin: "D4", relayActiveLow: false,
        buttons: [{
          pin: "D0", hangupDuringCall: true,
          plan: {
            mode: PLAN_SEQUENTIAL,
            targets: [{ uri: "sip:1002@sip.example.com", ringTimeout: 0 }, { uri: "sip:1003@sip.example.com", ringTimeout: 20 }],
            nextOnBusy: true, nextOnDecline: true, nextOnNoAnswer: true, nextOnError: true,
          },
        }],
        statusLed: "D2", ledActiveLow: false,
        trust: {
          registrar: true, allow: ["10.0.0.5", "sip:alice@example.com"], challengeUser: "", challengePassword: "",
          challengeRealm: "doorsip", refuse: REFUSE_REJECT,
        },
        autoAnswer: { enabled: true, delayMs: 1000, from: [] },
        traceSize: 16, logLevel: 2,
        flood: { rate: 20, burst: 40, total: 200, sources: 8, refuse: REFUSE_DROP },
      },
      ssid: "home", wifiPassword: "wifi-secret",
    });
  });

  it("uses every key of the README's table, and the table lists every key the example uses", () => {
    const table = [...section.matchAll(/^\| `([\w.\[\]]+)` \|/gm)].map((m) => m[1]);
    const used: string[] = [];
    const walk = (v: any, path: string) => {
      if (Array.isArray(v)) {
        used.push(path);
        for (const x of v) if (typeof x === "object" && x !== null) walk(x, path + "[]");
      } else if (typeof v === "object" && v !== null) {
        for (const k of Object.keys(v)) walk(v[k], path === "" ? k : path + "." + k);
      } else used.push(path);
    };
    walk(example(), "");
    // a target given as an object has its own keys, described in the targets row
    const described = new Set([...table, "buttons[].plan.targets[].uri", "buttons[].plan.targets[].ringTimeout"]);
    expect(used.filter((k) => !described.has(k))).toEqual([]);
    expect(table.filter((k) => !used.includes(k) && !used.some((u) => u.startsWith(k + ".") || u.startsWith(k + "[]")))).toEqual([]);
    expect(new Set(table).size).toBe(table.length);
  });

  it("states each key's default as loadConfig uses it", () => {
    const rows = new Map([...section.matchAll(/^\| `([\w.\[\]]+)` \| [^|]+ \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2]]));
    const d = defaults().phone;
    const expected: Record<string, unknown> = {
      "sip.address": d.address, "sip.port": d.port, "sip.transactions": d.transactions, "sip.calls": d.callCapacity,
      "rtp.address": d.calls.rtpAddress, "rtp.portBase": d.calls.rtpPortBase, "rtp.telephoneEvent": d.calls.telephoneEvent,
      "accounts[].authUser": DEFAULT_ACCOUNT.authUser, "accounts[].password": DEFAULT_ACCOUNT.password,
      "accounts[].registrarPort": DEFAULT_ACCOUNT.registrarPort, "accounts[].expires": DEFAULT_ACCOUNT.expires,
      "accounts[].keepalive": DEFAULT_ACCOUNT.keepalive, "accounts[].instanceId": DEFAULT_ACCOUNT.instanceId,
      "accounts[].outboundPort": d.calls.outboundPort, "identity.displayName": d.calls.displayName,
      "buttons[].plan.mode": "single", "calls.ringTimeout": d.calls.ringTimeout, "calls.maxDuration": d.calls.maxDuration,
      "calls.maxCalls": d.calls.maxCalls, "calls.maxRedirects": d.calls.maxRedirects, "autoAnswer.enabled": d.autoAnswer.enabled,
      "autoAnswer.delayMs": d.autoAnswer.delayMs, "trust.registrar": d.trust.registrar, "trust.challenge.realm": d.trust.challengeRealm,
      "trust.refuse": "reject", "door.code": d.door.code, "door.relayPin": d.relayPin, "door.relayActiveLow": d.relayActiveLow,
      "door.pulseMs": d.door.pulseMs, "door.maxWrongCodes": d.door.maxWrongCodes, "door.lockoutSeconds": d.door.lockoutSeconds,
      "door.lockoutMaxSeconds": d.door.lockoutMaxSeconds, "flood.refuse": "drop",
      "door.digitTimeoutMs": d.door.digitTimeoutMs, "door.auditSize": d.door.auditSize, "led.pin": "", "led.activeLow": d.ledActiveLow,
      "log.level": "info", "log.traceSize": d.traceSize,
    };
    for (const [key, value] of Object.entries(expected)) {
      expect(rows.get(key), key).toBe(typeof value === "string" && value === "" ? '""' : String(value));
    }
    expect(DEFAULT_PLAN.mode).toBe(PLAN_SINGLE);
    expect(d.logLevel).toBe(2);
  });
});

describe("no file, not JSON, not an object", () => {
  it("null (no file): every default and one problem", () => {
    const { cfg, problems } = load(null);
    expect(cfg).toEqual(defaults());
    expect(problems).toEqual([{ path: "", value: "", why: "no configuration file doorsip.json (defaults used)" }]);
    expect(describeProblems(problems)).toBe("doorsip.json: no configuration file doorsip.json (defaults used)");
  });

  it("a syntax error: one problem at the file, every default, and no text of the file in it", () => {
    const { cfg, problems } = load('{ "accounts": [ { "password": "hunter2" ] }');
    expect(cfg).toEqual(defaults());
    expect(problems).toEqual([{ path: "", value: "", why: "not valid JSON (defaults used)" }]);
    expect(load("").problems).toEqual(problems);
  });

  it("a document that is not an object", () => {
    for (const doc of ["[1, 2]", "42", "null", '"text"']) {
      const { cfg, problems } = load(doc);
      expect(cfg).toEqual(defaults());
      expect(whys(problems)).toEqual([": not an object"]);
    }
  });

  it("{}: every default and no problem", () => {
    const { cfg, problems } = load({});
    expect(problems).toEqual([]);
    expect(cfg).toEqual(defaults());
  });
});

describe("mistakes: each reported, the default kept", () => {
  it("wrong types", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.sip.port = "5060";
      d.door.relayActiveLow = "no";
      d.identity.displayName = 7;
      d.calls.ringTimeout = null;
      d.led = "D2";
      d.trust.allow = "10.0.0.5";
    });
    expect(problems).toEqual([
      { path: "sip.port", value: '"5060"', why: "not a number" },
      { path: "identity.displayName", value: "7", why: "not a string" },
      { path: "calls.ringTimeout", value: "null", why: "not a number" },
      { path: "trust.allow", value: '"10.0.0.5"', why: "not a list" },
      { path: "door.relayActiveLow", value: '"no"', why: "not true or false" },
      { path: "led", value: '"D2"', why: "not an object" },
    ]);
    expect(cfg.phone.port).toBe(5060);
    expect(cfg.phone.calls.localPort).toBe(5060);
    expect(cfg.phone.relayActiveLow).toBe(false);
    expect(cfg.phone.calls.displayName).toBe("");
    expect(cfg.phone.calls.ringTimeout).toBe(30);
    expect(cfg.phone.trust.allow).toEqual([]);
    expect(cfg.phone.statusLed).toBe("");
  });

  it("out of range and not whole", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.sip.port = 70000;
      d.door.pulseMs = 10;
      d.calls.maxDuration = 1.5;
      d.rtp.telephoneEvent = 8;
      d.accounts[0].expires = 5;
    });
    expect(whys(problems)).toEqual([
      "sip.port: not in 1..65535",
      "rtp.telephoneEvent: not -1 (none) or a dynamic payload type 96..127",
      "accounts[0].expires: not in 10..86400",
      "calls.maxDuration: not a whole number",
      "door.pulseMs: not in 50..60000",
    ]);
    expect(problems[0].value).toBe("70000");
    expect(cfg.phone.port).toBe(5060);
    expect(cfg.phone.door.pulseMs).toBe(3000);
    expect(cfg.phone.calls.maxDuration).toBe(300);
    expect(cfg.phone.calls.telephoneEvent).toBe(101);
    expect(cfg.phone.accounts[0].expires).toBe(3600);
    expect(load({ rtp: { telephoneEvent: -1 } }).cfg.phone.calls.telephoneEvent).toBe(-1);
  });

  it("unknown keys, at every level, ignored and never shown with their value", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.sipp = { port: 1 };
      d.door.Code = "9999#";
      d.accounts[0].pasword = "typo-secret";
      d.buttons[0].plan.target = "sip:x@y";
      d.trust.challenge.pass = "x";
    });
    expect(problems).toEqual([
      { path: "sipp", value: "", why: "unknown key (ignored)" },
      { path: "accounts[0].pasword", value: "", why: "unknown key (ignored)" },
      { path: "buttons[0].plan.target", value: "", why: "unknown key (ignored)" },
      { path: "trust.challenge.pass", value: "", why: "unknown key (ignored)" },
      { path: "door.Code", value: "", why: "unknown key (ignored)" },
    ]);
    expect(cfg).toEqual(load(EXAMPLE_TEXT).cfg);
  });

  it("bad URIs and peers", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.buttons[0].plan.targets = ["tel:+1555", "sip:bob@", { uri: "http://x" }, "sips:ok@example.com;transport=tls"];
      d.trust.allow = ["10.0.0.5", "", "bob smith", "sip:@", "alice@example.com", "registrar"];
    });
    expect(problems).toEqual([
      { path: "buttons[0].plan.targets[0]", value: '"tel:+1555"', why: "not a sip: or sips: URI" },
      { path: "buttons[0].plan.targets[0]", value: "", why: "no valid uri (target ignored)" },
      { path: "buttons[0].plan.targets[1]", value: '"sip:bob@"', why: "no host in the URI" },
      { path: "buttons[0].plan.targets[1]", value: "", why: "no valid uri (target ignored)" },
      { path: "buttons[0].plan.targets[2].uri", value: '"http://x"', why: "not a sip: or sips: URI" },
      { path: "buttons[0].plan.targets[2]", value: "", why: "no valid uri (target ignored)" },
      { path: "trust.allow[1]", value: '""', why: "not an address, host, user@host or SIP URI" },
      { path: "trust.allow[2]", value: '"bob smith"', why: "not an address, host, user@host or SIP URI" },
      { path: "trust.allow[3]", value: '"sip:@"', why: "no host in the URI" },
    ]);
    expect(cfg.phone.buttons[0].plan.targets).toEqual([{ uri: "sips:ok@example.com;transport=tls", ringTimeout: 0 }]);
    expect(cfg.phone.trust.allow).toEqual(["10.0.0.5", "alice@example.com", "registrar"]);
  });

  it("bad pins: the relay keeps D4, the LED none, a button without a pin is left out", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.door.relayPin = "d4";
      d.led.pin = 300;
      d.buttons[0].pin = "";
      d.buttons.push({ pin: 5.5, plan: { targets: ["sip:a@b"] } }, { plan: { targets: ["sip:a@b"] } }, { pin: 12, plan: { targets: ["sip:a@b"] } });
    });
    expect(problems).toEqual([
      { path: "buttons[0].pin", value: '""', why: "not a pin (0..255 or a name like D4)" },
      { path: "buttons[0]", value: "", why: "no valid pin (button ignored)" },
      { path: "buttons[1].pin", value: "5.5", why: "not a pin (0..255 or a name like D4)" },
      { path: "buttons[1]", value: "", why: "no valid pin (button ignored)" },
      { path: "buttons[2]", value: "", why: "no valid pin (button ignored)" },
      { path: "door.relayPin", value: '"d4"', why: "not a pin (0..255 or a name like D4)" },
      { path: "led.pin", value: "300", why: "not a pin (0..255 or a name like D4)" },
    ]);
    expect(cfg.phone.relayPin).toBe("D4");
    expect(cfg.phone.statusLed).toBe("");
    expect(cfg.phone.buttons.map((b) => b.pin)).toEqual([12]);
    for (const pin of ["D0", "D48", "LED1", "BTN1", "A5", 0, 39]) expect(load({ door: { relayPin: pin } }).problems, String(pin)).toEqual([]);
    for (const pin of ["D", "4", "D123", "LEDXX1", "D4 ", -1]) expect(whys(load({ door: { relayPin: pin } }).problems), String(pin)).toEqual(["door.relayPin: not a pin (0..255 or a name like D4)"]);
  });

  it("bad addresses", () => {
    const bad = ["10.0.0", "10.0.0.256", "a.b.c.d", "10.0.0.1.2", "sip.example.com", "10..0.1", " 10.0.0.1", "1234.0.0.1"];
    for (const a of bad) expect(whys(load({ sip: { address: a } }).problems), a).toEqual(["sip.address: not an IPv4 address"]);
    expect(whys(load({ sip: { address: "" } }).problems)).toEqual(["sip.address: not an IPv4 address"]);
    expect(load({ rtp: { address: "" } }).problems).toEqual([]);
    const { cfg } = load({ sip: { address: "192.168.1.20", port: 5070 }, rtp: { address: "192.168.1.21" }, accounts: [{ user: "u", registrar: "10.0.0.1" }] });
    expect(cfg.phone.address).toBe("192.168.1.20");
    expect(cfg.phone.calls.localAddress).toBe("192.168.1.20");
    expect(cfg.phone.calls.localPort).toBe(5070);
    expect(cfg.phone.calls.rtpAddress).toBe("192.168.1.21");
    expect(cfg.phone.accounts[0].localAddress).toBe("192.168.1.20");
    expect(cfg.phone.accounts[0].localPort).toBe(5070);
  });

  it("bad enums", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.buttons[0].plan.mode = "round-robin";
      d.trust.refuse = "ignore";
      d.log.level = "verbose";
      d.rtp.codecs = ["G722", "PCMA"];
      d.buttons[0].plan.nextOn = ["busy", "timeout"];
    });
    expect(problems).toEqual([
      { path: "rtp.codecs[0]", value: '"G722"', why: "not one of PCMU, PCMA" },
      { path: "buttons[0].plan.mode", value: '"round-robin"', why: "not one of single, sequential, parallel" },
      { path: "buttons[0].plan.targets", value: "", why: "mode single takes one target (the first is used)" },
      { path: "buttons[0].plan.nextOn[1]", value: '"timeout"', why: "not one of busy, decline, noanswer, error" },
      { path: "trust.refuse", value: '"ignore"', why: "not one of reject, drop" },
      { path: "log.level", value: '"verbose"', why: "not one of error, warn, info, debug" },
    ]);
    expect(cfg.phone.calls.codecs).toEqual([8]);
    expect(cfg.phone.buttons[0].plan.mode).toBe(PLAN_SINGLE);
    expect(cfg.phone.buttons[0].plan.targets.length).toBe(1);
    expect(cfg.phone.buttons[0].plan).toMatchObject({ nextOnBusy: true, nextOnDecline: false, nextOnNoAnswer: false, nextOnError: false });
    expect(cfg.phone.trust.refuse).toBe(REFUSE_REJECT);
    expect(cfg.phone.logLevel).toBe(2);
    const ok = load({ trust: { refuse: "drop" }, log: { level: "debug" }, rtp: { codecs: ["PCMA", "PCMU"] } }).cfg.phone;
    expect([ok.trust.refuse, ok.logLevel, ok.calls.codecs]).toEqual([REFUSE_DROP, 3, [8, 0]]);
    expect(whys(load({ rtp: { codecs: [] } }).problems)).toEqual(["rtp.codecs: no codec (PCMU, PCMA used)"]);
    expect(load({ rtp: { codecs: ["G729"] } }).cfg.phone.calls.codecs).toEqual([0, 8]);
    expect(load({ rtp: { codecs: ["PCMA", "PCMA"] } }).cfg.phone.calls.codecs).toEqual([8]);
    expect(whys(load({ rtp: { codecs: ["PCMA", "PCMU", "PCMA"] } }).problems)).toEqual(["rtp.codecs: more than 2 entries (the rest ignored)"]);
  });

  it("too many accounts or buttons: the first ones are used", () => {
    const account = (i: number) => ({ user: "u" + i, registrar: "10.0.0." + i });
    const button = (i: number) => ({ pin: i, plan: { targets: ["sip:t" + i + "@example.com"] } });
    const { cfg, problems } = load({
      accounts: [1, 2, 3, 4, 5, 6].map(account), buttons: [1, 2, 3, 4, 5].map(button), sip: { calls: 4 },
    });
    expect(problems).toEqual([
      { path: "accounts", value: "[...]", why: "more than 4 entries (the rest ignored)" },
      { path: "buttons", value: "[...]", why: "more than 4 entries (the rest ignored)" },
    ]);
    expect(cfg.phone.accounts.map((a) => a.user)).toEqual(["u1", "u2", "u3", "u4"]);
    expect(cfg.phone.accounts.length).toBe(MAX_ACCOUNTS);
    expect(cfg.phone.buttons.map((b) => b.pin)).toEqual([1, 2, 3, 4]);
    expect(cfg.phone.buttons.length).toBe(MAX_BUTTONS);
  });

  it("a plan without targets leaves its button out", () => {
    const { cfg, problems } = loadEdited((d) => {
      d.buttons[0].plan.targets = [];
      d.buttons.push({ pin: "D1", plan: { mode: "single" } }, { pin: "D2" }, { pin: "D3", plan: { targets: ["sip:ok@example.com"] } });
    });
    expect(problems).toEqual([
      { path: "buttons[0].plan.targets", value: "", why: "no targets (button ignored)" },
      { path: "buttons[1].plan.targets", value: "", why: "no targets (button ignored)" },
      { path: "buttons[2].plan.targets", value: "", why: "no targets (button ignored)" },
    ]);
    expect(cfg.phone.buttons).toEqual([{
      pin: "D3", hangupDuringCall: true, plan: { ...DEFAULT_PLAN, targets: [{ uri: "sip:ok@example.com", ringTimeout: 0 }] },
    }]);
  });

  it("single with several targets: the first is used; parallel: at most one per call slot", () => {
    const targets = ["sip:a@x", "sip:b@x", "sip:c@x"];
    let r = load({ buttons: [{ pin: "D0", plan: { targets } }] });
    expect(r.problems).toEqual([{ path: "buttons[0].plan.targets", value: "", why: "mode single takes one target (the first is used)" }]);
    expect(r.cfg.phone.buttons[0].plan.targets).toEqual([{ uri: "sip:a@x", ringTimeout: 0 }]);
    expect(r.cfg.phone.callCapacity).toBe(1);
    r = load({ sip: { calls: 2 }, buttons: [{ pin: "D0", plan: { mode: "parallel", targets } }] });
    expect(whys(r.problems)).toEqual(["buttons[0].plan.targets: more parallel targets than sip.calls, the call slots (the first 2 used)"]);
    expect(r.cfg.phone.buttons[0].plan.mode).toBe(PLAN_PARALLEL);
    expect(r.cfg.phone.buttons[0].plan.targets.map((t) => t.uri)).toEqual(["sip:a@x", "sip:b@x"]);
    r = load({ sip: { calls: 3 }, buttons: [{ pin: "D0", plan: { mode: "parallel", targets } }] });
    expect(r.problems).toEqual([]);
    expect(r.cfg.phone.buttons[0].plan.targets.length).toBe(3);
  });

  it("without sip.calls, the call slots follow the largest parallel plan (one slot otherwise)", () => {
    const r = load({ buttons: [
      { pin: "D0", plan: { mode: "parallel", targets: ["sip:a@x", "sip:b@x"] } },
      { pin: "D1", plan: { mode: "parallel", targets: ["sip:a@x", "sip:b@x", "sip:c@x"] } },
      { pin: "D2", plan: { mode: "sequential", targets: ["sip:a@x", "sip:b@x", "sip:c@x", "sip:d@x"] } },
    ] });
    expect(r.problems).toEqual([]);
    expect(r.cfg.phone.callCapacity).toBe(3);
    expect(r.cfg.phone.buttons.map((b) => b.plan.targets.length)).toEqual([2, 3, 4]);
    expect(load({ buttons: [{ pin: "D0", plan: { mode: "sequential", targets: ["sip:a@x", "sip:b@x"] } }] }).cfg.phone.callCapacity).toBe(1);
  });

  it("a bad door code: DTMF opening off, the code never shown", () => {
    for (const code of ["12x4#", "#", "12345678901234567#", 1234]) {
      const { cfg, problems } = load({ door: { code } });
      expect(cfg.phone.door.code, String(code)).toBe("");
      expect(problems.length).toBe(1);
      expect(problems[0].path).toBe("door.code");
      expect(problems[0].value).toBe("***");
      expect(problems[0].why).toMatch(typeof code === "number" ? /^not a string$/ : /\(DTMF opening off\)$/);
    }
    expect(load({ door: { code: "12x4#" } }).problems[0].why).toBe("code key 'x' not one of 0-9 A-D ('#' only at the end) (DTMF opening off)");
    expect(load({ door: { code: "5" } }).cfg.phone.door.code).toBe("5");
  });

  it("passwords never appear in a problem", () => {
    const { problems } = loadEdited((d) => {
      d.accounts[0].password = 12345678;
      d.network.password = ["wifi-secret"];
      d.trust.challenge = { user: "guest", password: true };
    });
    expect(problems).toEqual([
      { path: "accounts[0].password", value: "***", why: "not a string" },
      { path: "trust.challenge.password", value: "***", why: "not a string" },
      { path: "trust.challenge.password", value: "", why: "empty (challenge off)" },
      { path: "network.password", value: "***", why: "not a string" },
    ]);
    const text = describeProblems(problems);
    for (const secret of ["12345678", "wifi-secret", "door-secret", "true"]) expect(text).not.toContain(secret);
  });

  it("accounts: required keys, domain and outbound proxy, transport, the first one's credentials for calls", () => {
    const { cfg, problems } = load({
      identity: { user: "door" },
      accounts: [
        { user: "", registrar: "10.0.0.1" },
        { user: "2001", registrar: "10.0.0.2", authUser: "a2001", password: "p1", outboundProxy: "10.0.0.9", outboundPort: 5080, transport: "tcp" },
        { user: "2002", registrar: "10.0.0.3", domain: "example.org", transport: "sctp" },
        "sip:2003@example.org",
      ],
    });
    expect(problems).toEqual([
      { path: "accounts[0]", value: "", why: "needs a user and a registrar (account ignored)" },
      { path: "accounts[2].transport", value: '"sctp"', why: "not one of udp, tcp" },
      { path: "accounts[3]", value: '"sip:2003@example.org"', why: "not an object" },
      { path: "accounts[3]", value: "", why: "needs a user and a registrar (account ignored)" },
    ]);
    const [a, b] = cfg.phone.accounts;
    expect(cfg.phone.accounts.length).toBe(2);
    expect([a.user, a.domain, a.registrar, a.registrarPort, a.authUser, a.password]).toEqual(["2001", "10.0.0.2", "10.0.0.9", 5080, "a2001", "p1"]);
    expect([b.user, b.domain, b.registrar, b.registrarPort]).toEqual(["2002", "example.org", "10.0.0.3", 5060]);
    expect([a.transport, b.transport]).toEqual([TRANSPORT_TCP, TRANSPORT_UDP]); // "sctp" keeps the default
    const c = cfg.phone.calls;
    expect([c.user, c.domain, c.authUser, c.password, c.outboundProxy, c.outboundPort, c.outboundTransport]).toEqual(["door", "10.0.0.2", "a2001", "p1", "10.0.0.9", 5080, TRANSPORT_TCP]);
    expect(load({ accounts: [{ user: "7", registrar: "10.0.0.1" }] }).cfg.phone.calls.user).toBe("7");
    expect(load({}).cfg.phone.calls.user).toBe("door");
  });

  it("maxCalls above the call slots is cut to them", () => {
    const { cfg, problems } = load({ sip: { calls: 2 }, calls: { maxCalls: 3 } });
    expect(problems).toEqual([{ path: "calls.maxCalls", value: "3", why: "more than sip.calls, the call slots (2 used)" }]);
    expect(cfg.phone.calls.maxCalls).toBe(2);
    // slots that follow a parallel plan count
    const r = load({ calls: { maxCalls: 3 }, buttons: [{ pin: "D0", plan: { mode: "parallel", targets: ["sip:a@x", "sip:b@x", "sip:c@x"] } }] });
    expect(r.problems).toEqual([]);
    expect(r.cfg.phone.calls.maxCalls).toBe(3);
  });

  it("many mistakes at once still give a working configuration", () => {
    const { cfg, problems } = load({ sip: [], rtp: 1, accounts: {}, identity: null, buttons: "D0", calls: true, autoAnswer: { from: [1] }, trust: { challenge: [] }, door: { code: {} }, led: {}, network: {}, log: { traceSize: -1 } });
    expect(whys(problems)).toEqual([
      "sip: not an object", "rtp: not an object", "identity: not an object", "accounts: not a list", "calls: not an object",
      "buttons: not a list", "autoAnswer.from[0]: not a string", "trust.challenge: not an object", "door.code: not a string",
      "log.traceSize: not in 0..256",
    ]);
    expect(cfg).toEqual(defaults());
  });

  it("describeProblems: one line per problem", () => {
    const { problems } = load({ sip: { port: 0 }, door: { relayPin: "X" }, bogus: 1 });
    expect(describeProblems(problems)).toBe(
      "bogus: unknown key (ignored)\nsip.port: not in 1..65535 (0)\ndoor.relayPin: not a pin (0..255 or a name like D4) (\"X\")");
    expect(describeProblems([])).toBe("");
  });

  it("long values are cut", () => {
    const { problems } = load({ identity: { displayName: 1 }, buttons: [{ pin: "D0", plan: { targets: ["http://" + "x".repeat(100)] } }] });
    expect(problems[1].value.length).toBe(48);
    expect(problems[1].value.endsWith("...")).toBe(true);
  });
});

describe("derived values", () => {
  it("autoAnswer.delayMs is the calls' answerDelay too", () => {
    expect(load({ autoAnswer: { delayMs: 250 } }).cfg.phone.calls.answerDelay).toBe(250);
    expect(load({ autoAnswer: { delayMs: 0 } }).cfg.phone.calls.answerDelay).toBe(0);
  });
});

describe("the defaults are never changed", () => {
  it("loading twice, with changes in between, gives equal and separate results", () => {
    const before = JSON.stringify([DEFAULT_PHONE, DEFAULT_CALL_CONFIG, DEFAULT_DOOR, DEFAULT_ACCOUNT, DEFAULT_TRUST, DEFAULT_AUTO_ANSWER, DEFAULT_PLAN]);
    const a = load(EXAMPLE_TEXT).cfg;
    const b = load(EXAMPLE_TEXT).cfg;
    expect(a).toEqual(b);
    a.phone.calls.codecs.push(18);
    a.phone.trust.allow.push("x");
    a.phone.autoAnswer.from.push("y");
    a.phone.buttons[0].plan.targets.push({ uri: "sip:z@z", ringTimeout: 0 });
    a.phone.door.code = "9";
    const c = load(null).cfg;
    const d = load("{}").cfg;
    c.phone.calls.codecs.push(3);
    c.phone.trust.allow.push("x");
    c.phone.autoAnswer.from.push("y");
    c.phone.accounts.push({ ...DEFAULT_ACCOUNT });
    c.phone.buttons.push(b.phone.buttons[0]);
    expect(d).toEqual(defaults());
    expect(load(EXAMPLE_TEXT).cfg).toEqual(b);
    expect(JSON.stringify([DEFAULT_PHONE, DEFAULT_CALL_CONFIG, DEFAULT_DOOR, DEFAULT_ACCOUNT, DEFAULT_TRUST, DEFAULT_AUTO_ANSWER, DEFAULT_PLAN])).toBe(before);
    expect(a.phone.calls).not.toBe(DEFAULT_CALL_CONFIG);
    expect(d.phone.calls).not.toBe(DEFAULT_CALL_CONFIG);
    expect(d.phone.door).not.toBe(DEFAULT_DOOR);
    expect(d.phone.trust).not.toBe(DEFAULT_TRUST);
    expect(d.phone.autoAnswer).not.toBe(DEFAULT_AUTO_ANSWER);
  });

  it("problems are appended to the caller's list", () => {
    const problems: ConfigProblem[] = [{ path: "earlier", value: "", why: "kept" }];
    loadConfig('{"x": 1}', problems);
    expect(whys(problems)).toEqual(["earlier: kept", "x: unknown key (ignored)"]);
  });
});

describe("MemoryStorage", () => {
  it("reads what was written, null for no file, erases, and refuses bad names", () => {
    const s = new MemoryStorage();
    expect(s.read(CONFIG_FILE)).toBeNull();
    expect(s.write(CONFIG_FILE, EXAMPLE_TEXT)).toBe(HAL_OK);
    expect(s.read(CONFIG_FILE)).toBe(EXAMPLE_TEXT);
    expect(s.write(CONFIG_FILE, "{}")).toBe(HAL_OK);
    expect(s.read(CONFIG_FILE)).toBe("{}");
    s.erase(CONFIG_FILE);
    s.erase("never-written");
    expect(s.read(CONFIG_FILE)).toBeNull();
    expect(s.write("", "x")).toBe(HAL_ERR_INVALID);
    expect(s.write("x".repeat(29), "x")).toBe(HAL_ERR_INVALID);
    expect(s.write("x".repeat(28), "x")).toBe(HAL_OK);
  });

  it("writing \"\" erases (as on Espruino, which cannot store an empty file)", () => {
    const s = new MemoryStorage();
    s.write("a", "1");
    expect(s.write("a", "")).toBe(HAL_OK);
    expect(s.read("a")).toBeNull();
  });

  it("a full store refuses a write and keeps the old contents", () => {
    const s = new MemoryStorage(10);
    expect(s.write("a", "12345")).toBe(HAL_OK);
    expect(s.write("b", "123456")).toBe(HAL_ERR_NO_RESOURCES);
    expect(s.write("a", "1234567890")).toBe(HAL_OK); // replacing frees the old contents
    expect(s.write("b", "1")).toBe(HAL_ERR_NO_RESOURCES);
    expect(s.read("a")).toBe("1234567890");
    expect(s.read("b")).toBeNull();
  });

  it("the configuration round trip: write, read, load", () => {
    const s = new MemoryStorage();
    s.write(CONFIG_FILE, EXAMPLE_TEXT);
    const problems: ConfigProblem[] = [];
    expect(loadConfig(s.read(CONFIG_FILE), problems)).toEqual(load(EXAMPLE_TEXT).cfg);
    expect(problems).toEqual([]);
  });
});

describe("FileStorage", () => {
  const dir = mkdtempSync(join(tmpdir(), "doorsip-storage-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("files in a folder made on the first write, binary-safe", () => {
    const s = new FileStorage(join(dir, "flash"));
    expect(s.read(CONFIG_FILE)).toBeNull();
    let bytes = "";
    for (let i = 0; i < 256; i++) bytes += String.fromCharCode(i);
    expect(s.write("bin", bytes)).toBe(HAL_OK);
    expect(s.read("bin")).toBe(bytes);
    expect(readFileSync(join(dir, "flash", "bin")).length).toBe(256);
    expect(s.write(CONFIG_FILE, EXAMPLE_TEXT)).toBe(HAL_OK);
    expect(readFileSync(join(dir, "flash", CONFIG_FILE), "utf8")).toBe(EXAMPLE_TEXT);
    s.erase(CONFIG_FILE);
    s.erase(CONFIG_FILE);
    expect(s.read(CONFIG_FILE)).toBeNull();
    expect(s.write("bin", "")).toBe(HAL_OK);
    expect(s.read("bin")).toBeNull();
  });

  it("reads a file written by another program; refuses names that leave the folder", () => {
    const s = new FileStorage(dir);
    writeFileSync(join(dir, CONFIG_FILE), '{"door": {"code": "42#"}}');
    expect(loadConfig(s.read(CONFIG_FILE), []).phone.door.code).toBe("42#");
    for (const name of ["../x", "a/b", "..", ".", "", "x".repeat(29)]) {
      expect(s.write(name, "x"), name).toBe(HAL_ERR_INVALID);
      expect(s.read(name), name).toBeNull();
    }
  });

  it("a folder that cannot be made: a HAL error, not an exception", () => {
    writeFileSync(join(dir, "plain-file"), "x");
    const s = new FileStorage(join(dir, "plain-file", "sub"));
    expect(s.write("a", "1")).toBeLessThan(0);
    expect(s.read("a")).toBeNull();
  });
});
