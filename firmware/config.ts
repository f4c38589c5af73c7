// The stored configuration: one JSON document (the Storage file "doorsip.json") read key by key into a PhoneConfig.
//
// Device code (Espruino): no default/rest/spread/destructuring, no Map/Set, no regexes; runs once at boot.
// It never throws and never bricks the device: every mistake becomes a ConfigProblem {path, value, why} and
// that key keeps its default (an entry that cannot work without the key is left out, and says so); a file
// that is not JSON gives the whole default configuration. A missing key takes its default silently; an
// unknown key is a problem and is ignored. Passwords (keys containing "pass") and the door code never
// appear in a problem's value ("***"), and an unknown key's value is never shown.
// Espruino's JSON.parse is more lenient than Node's (trailing commas, single quotes, text after the
// document): check a file on a computer (the simulator) before blaming the device.
//
// The document; every key is optional (README, "The configuration file", gives types, ranges, defaults):
// { "sip": { "address": "0.0.0.0", "port": 5060, "transactions": 16, "calls": 2 },
//   "rtp": { "address": "", "portBase": 40000, "codecs": ["PCMU", "PCMA"], "telephoneEvent": 101 },
//   "accounts": [ { "user": "1001", "authUser": "", "password": "secret", "domain": "sip.example.com",
//                   "registrar": "10.0.0.100", "registrarPort": 5060, "outboundProxy": "", "outboundPort": 5060,
//                   "expires": 600, "transport": "udp", "keepalive": 28, "instanceId": "" } ],
//   "identity": { "user": "door", "displayName": "Front door" },
//   "buttons": [ { "pin": "D0", "hangupDuringCall": true,
//                  "plan": { "mode": "single" | "sequential" | "parallel",
//                            "targets": [ "sip:a@x" | { "uri": "sip:a@x", "ringTimeout": 20 } ],
//                            "nextOn": ["busy", "decline", "noanswer", "error"] } } ],
//   "calls": { "ringTimeout": 30, "maxDuration": 300, "rtpTimeout": 30, "maxCalls": 1, "maxRedirects": 3 },
//   "autoAnswer": { "enabled": true, "delayMs": 1000, "from": [] },
//   "trust": { "registrar": true, "allow": ["10.0.0.5", "sip:alice@example.com"],
//              "challenge": { "user": "", "password": "", "realm": "doorsip" }, "refuse": "reject" | "drop" },
//   "door": { "code": "1234#", "relayPin": "D4", "relayActiveLow": false, "pulseMs": 3000, "maxWrongCodes": 3,
//             "lockoutSeconds": 300, "lockoutMaxSeconds": 86400, "digitTimeoutMs": 5000, "auditSize": 32, "opensPerCall": 1 },
//   "led": { "pin": "", "activeLow": false },
//   "network": { "ssid": "", "password": "" },
//   "log": { "level": "error" | "warn" | "info" | "debug", "traceSize": 16 },
//   "flood": { "perSecond": 20, "burst": 40, "totalPerSecond": 200, "sources": 8, "refuse": "drop" | "reject" } }
//
// Where values go: sip.address/port → address/port, calls.localAddress/localPort and every account's
// localAddress/localPort; sip.calls → callCapacity; rtp.* → calls.rtpAddress/rtpPortBase/codecs (PCMU 0,
// PCMA 8)/telephoneEvent; identity.user (else the first account's user) and displayName → calls.user and
// calls.displayName; the first account's domain, authUser, password, outboundProxy/outboundPort/transport → the same
// keys of calls; an account's outboundProxy (when set) is where its REGISTERs go (registrar/registrarPort);
// a domain "" is the registrar's address; door.relayPin/relayActiveLow → relayPin/relayActiveLow; led.* →
// statusLed/ledActiveLow; log.level → logLevel (0..3); autoAnswer.delayMs → calls.answerDelay too; network.* →
// StoredConfig.ssid/wifiPassword.
import { defaultAccount, defaultCallConfig } from "../sip-core/index.ts";
import { doorCodeProblem } from "./door.ts";
import { MAX_PLAN_TARGETS } from "./plan.ts";
import {
  defaultPhone, defaultPlan, PLAN_PARALLEL, PLAN_SINGLE,
  type ButtonConfig, type CallTarget, type PhoneConfig,
} from "./phone-config.ts";

/** The Storage file the configuration lives in. */
export const CONFIG_FILE = "doorsip.json";
export const MAX_ACCOUNTS = 4;
export const MAX_BUTTONS = 4;
/** Targets per call plan (what the plan runner follows). */
export const MAX_TARGETS = MAX_PLAN_TARGETS;
/** Entries of trust.allow and autoAnswer.from. */
export const MAX_PEERS = 16;

/** One mistake: where ("" = the file itself), the value as text ("" when none, "***" for secrets), and why. */
export interface ConfigProblem {
  path: string;
  value: string;
  why: string;
}

/** What the file configures: the phone, and the Wi-Fi credentials for the network link. */
export interface StoredConfig {
  phone: PhoneConfig;
  ssid: string;
  wifiPassword: string;
}

// What a key holds (val()): a and b are its range, choices, or whether "" is allowed.
/** Read by the caller, not by fill(). */
const SKIP = 0;
const STR = 1;
/** A whole number in a..b. */
const INT = 2;
const BOOL = 3;
/** One of the names in a; the value read is its index. */
const ENUM = 4;
/** A GPIO: a number 0..255 or a name like "D4" or "LED1" ("" too when a). */
const PIN = 5;
/** A sip: or sips: URI with a host. */
const URI = 6;
/** An IPv4 address ("" too when a). */
const IP = 7;
/** A trust-list entry: an address or host, user@host, or a SIP URI. */
const PEER = 8;

/**
 * The configuration in `text` (the file's contents; null when there is no file), with every problem
 * appended to `problems`. Never throws; every object in the result is its own (made by the default* functions).
 */
export function loadConfig(text: string | null, problems: ConfigProblem[]): StoredConfig {
  // The helpers and tables are made for this load and dropped with it: at module level Espruino would keep
  // them (function objects and arrays: ~600 variables, measured) for as long as the device runs, and they
  // are needed once, at boot.

  function problem(path: string, v: any, why: string): void {
    const t = typeof v;
    let s = v === undefined ? "" : t === "string" ? JSON.stringify(v) : t !== "object" || v === null ? String(v) : Array.isArray(v) ? "[...]" : "{...}";
    const p = path.toLowerCase();
    if (s !== "" && (p.indexOf("pass") >= 0 || p.endsWith("code"))) s = "***";
    if (s.length > 48) s = s.substring(0, 45) + "...";
    problems.push({ path: path, value: s, why: why });
  }

  /** The index after the run of characters lo..hi from i. */
  function span(s: string, i: number, lo: number, hi: number): number {
    while (i < s.length && s.charCodeAt(i) >= lo && s.charCodeAt(i) <= hi) i++;
    return i;
  }

  /** "D4", "LED1": one to four capitals, then one or two digits. */
  function pinName(s: string): boolean {
    const i = span(s, 0, 65, 90);
    const j = span(s, i, 48, 57);
    return i > 0 && i < 5 && j > i && j < i + 3 && j === s.length;
  }

  function ipv4(s: string): boolean {
    const p = s.split(".");
    let ok = p.length === 4;
    for (let i = 0; ok && i < 4; i++) ok = p[i].length > 0 && p[i].length < 4 && span(p[i], 0, 48, 57) === p[i].length && +p[i] < 256;
    return ok;
  }

  /** v checked as `kind`; def (and a problem at path) when it is not one; def, silently, when it is undefined. */
  function val(v: any, path: string, kind: number, def: any, a?: any, b?: any): any {
    if (v === undefined) return def;
    const t = typeof v;
    let r = v;
    let why = "";
    if (kind === INT) {
      why = t !== "number" ? "not a number" : Math.floor(v) !== v ? "not a whole number" : v < a || v > b ? "not in " + a + ".." + b : "";
    } else if (kind === BOOL) {
      if (t !== "boolean") why = "not true or false";
    } else if (kind === PIN) {
      if (t === "number" ? !(v >= 0 && v < 256 && Math.floor(v) === v) : t !== "string" || !(v === "" ? a : pinName(v))) {
        why = "not a pin (0..255 or a name like D4)";
      }
    } else if (t !== "string") {
      why = "not a string";
    } else if (kind === ENUM) {
      r = a.indexOf(v);
      if (r < 0) why = "not one of " + a.join(", ");
    } else if (kind === IP) {
      if (!(v === "" ? a : ipv4(v))) why = "not an IPv4 address";
    } else if (kind === URI || (kind === PEER && v.indexOf(":") >= 0)) {
      const c = v.indexOf(":");
      const scheme = v.substring(0, c).toLowerCase();
      const host = v.substring(v.indexOf("@") + 1 || c + 1).split(";")[0].split("?")[0].split(":")[0];
      if (scheme !== "sip" && scheme !== "sips") why = "not a sip: or sips: URI";
      else if (host === "" || host.indexOf(" ") >= 0) why = "no host in the URI";
    } else if (kind === PEER) {
      if (v === "" || v.indexOf(" ") >= 0) why = "not an address, host, user@host or SIP URI";
    }
    if (why === "") return r;
    problem(path, v, why);
    return def;
  }

  /** v as an object to read keys from: {} when missing or not an object (a problem). */
  function obj(v: any, path: string): any {
    if (v !== undefined && (typeof v !== "object" || v === null || Array.isArray(v))) {
      problem(path, v, "not an object");
      v = undefined;
    }
    return v === undefined ? {} : v;
  }

  /** v as a list of at most max entries (the rest dropped, a problem); null when missing or not a list. */
  function list(v: any, path: string, max: number): any[] | null {
    if (v === undefined) return null;
    if (!Array.isArray(v)) {
      problem(path, v, "not a list");
      return null;
    }
    if (v.length <= max) return v;
    problem(path, v, "more than " + max + " entries (the rest ignored)");
    return v.slice(0, max);
  }

  /** A list whose entries are values of one kind: the valid ones (each invalid one a problem), or null. */
  function items(v: any, path: string, max: number, kind: number, a?: any): any[] | null {
    const l = list(v, path, max);
    if (l === null) return null;
    const r: any[] = [];
    for (let i = 0; i < l.length; i++) {
      const x = val(l[i], path + "[" + i + "]", kind, null, a);
      if (x !== null) r.push(x);
    }
    return r;
  }

  /** Reads section o's keys into target by table (path ends in "." below the top); other keys are problems. */
  function fill(o: any, path: string, target: any, table: any[][]): void {
    const names = Object.keys(o);
    for (let i = 0; i < names.length; i++) {
      let j = 0;
      while (j < table.length && table[j][0] !== names[i]) j++;
      if (j === table.length) problem(path + names[i], undefined, "unknown key (ignored)");
    }
    for (let i = 0; i < table.length; i++) {
      const k = table[i];
      const f = k[4] || k[0];
      if (k[1] !== SKIP) target[f] = val(o[k[0]], path + k[0], k[1], target[f], k[2], k[3]);
    }
  }

  /** Reads parent[key] (at path + key) as a section by table; returns it ({} when missing or not an object). */
  function section(parent: any, path: string, key: string, target: any, table: any[][]): any {
    const o = obj(parent[key], path + key);
    fill(o, path + key + ".", target, table);
    return o;
  }

  // Names whose index is the value (PLAN_*, REFUSE_*, logLevel, payload via CODEC_PT).
  const MODES = ["single", "sequential", "parallel"];
  const REFUSALS = ["reject", "drop"];
  const LEVELS = ["error", "warn", "info", "debug"];
  const CODECS = ["PCMU", "PCMA"];
  const CODEC_PT = [0, 8];
  const TRANSPORTS = ["udp", "tcp"];
  const NEXT_ON = ["busy", "decline", "noanswer", "error"];

  // Each section's keys: [key, kind, a, b, field (when it differs from key)].
  const TOP = [["sip", SKIP], ["rtp", SKIP], ["accounts", SKIP], ["identity", SKIP], ["buttons", SKIP], ["calls", SKIP],
    ["autoAnswer", SKIP], ["trust", SKIP], ["door", SKIP], ["led", SKIP], ["network", SKIP], ["log", SKIP], ["flood", SKIP]];
  const SIP = [["address", IP, 0], ["port", INT, 1, 65535], ["transactions", INT, 4, 128], ["calls", INT, 1, 8, "callCapacity"]];
  const RTP = [["address", IP, 1, 0, "rtpAddress"], ["portBase", INT, 1024, 65534, "rtpPortBase"], ["codecs", SKIP],
    ["telephoneEvent", INT, -1, 127]];
  const ACCOUNT = [["user", STR], ["authUser", STR], ["password", STR], ["domain", STR], ["registrar", IP, 0],
    ["registrarPort", INT, 1, 65535], ["outboundProxy", SKIP], ["outboundPort", SKIP], ["expires", INT, 10, 86400],
    ["transport", ENUM, TRANSPORTS], ["keepalive", INT, 0, 3600], ["instanceId", STR]];
  const IDENTITY = [["user", STR], ["displayName", STR]];
  const BUTTON = [["pin", PIN, 0], ["hangupDuringCall", BOOL], ["plan", SKIP]];
  const PLAN = [["mode", ENUM, MODES], ["targets", SKIP], ["nextOn", SKIP]];
  const TARGET = [["uri", URI], ["ringTimeout", INT, 0, 600]];
  const CALLS = [["ringTimeout", INT, 1, 600], ["maxDuration", INT, 0, 86400], ["rtpTimeout", INT, 0, 3600], ["maxCalls", INT, 1, 8], ["maxRedirects", INT, 0, 10]];
  const AUTO = [["enabled", BOOL], ["delayMs", INT, 0, 60000], ["from", SKIP]];
  const TRUST = [["registrar", BOOL], ["allow", SKIP], ["challenge", SKIP], ["refuse", ENUM, REFUSALS]];
  const CHALLENGE = [["user", STR, 0, 0, "challengeUser"], ["password", STR, 0, 0, "challengePassword"],
    ["realm", STR, 0, 0, "challengeRealm"]];
  const DOOR = [["code", STR], ["relayPin", SKIP], ["relayActiveLow", SKIP], ["pulseMs", INT, 50, 60000],
    ["maxWrongCodes", INT, 0, 100], ["lockoutSeconds", INT, 0, 86400], ["lockoutMaxSeconds", INT, 0, 604800], ["digitTimeoutMs", INT, 0, 60000], ["auditSize", INT, 1, 256],
    ["opensPerCall", INT, 0, 100]];
  const LED = [["pin", PIN, 1, 0, "statusLed"], ["activeLow", BOOL, 0, 0, "ledActiveLow"]];
  const NETWORK = [["ssid", STR], ["password", STR, 0, 0, "wifiPassword"]];
  const LOG = [["level", ENUM, LEVELS, 0, "logLevel"], ["traceSize", INT, 0, 256]];
  const FLOOD = [["perSecond", INT, 0, 100000, "rate"], ["burst", INT, 1, 100000], ["totalPerSecond", INT, 0, 100000, "total"], ["sources", INT, 1, 256],
    ["refuse", ENUM, REFUSALS]];

  const phone = defaultPhone();
  const calls = phone.calls;
  const door = phone.door;
  const trust = phone.trust;
  const auto = phone.autoAnswer;
  const result: StoredConfig = { phone: phone, ssid: "", wifiPassword: "" };

  let doc: any = {};
  if (text === null) {
    problem("", undefined, "no configuration file " + CONFIG_FILE + " (defaults used)");
  } else {
    try {
      doc = obj(JSON.parse(text), "");
    } catch (e) {
      problem("", undefined, "not valid JSON (defaults used)"); // the parser's message may quote a password
    }
  }
  fill(doc, "", null, TOP);
  const sip = section(doc, "", "sip", phone, SIP);
  // Without sip.calls the slots follow the plans: one, or the largest parallel group (each slot holds RTP buffers).
  const slotsFromPlans = sip.calls === undefined;
  calls.localAddress = phone.address;
  calls.localPort = phone.port;

  let o = section(doc, "", "rtp", calls, RTP);
  if (calls.telephoneEvent >= 0 && calls.telephoneEvent < 96) {
    problem("rtp.telephoneEvent", calls.telephoneEvent, "not -1 (none) or a dynamic payload type 96..127");
    calls.telephoneEvent = defaultCallConfig().telephoneEvent;
  }
  const codecs = items(o.codecs, "rtp.codecs", 2, ENUM, CODECS);
  if (codecs !== null && codecs.length === 0) problem("rtp.codecs", o.codecs, "no codec (PCMU, PCMA used)");
  else if (codecs !== null) {
    calls.codecs = [];
    for (let i = 0; i < codecs.length; i++) if (calls.codecs.indexOf(CODEC_PT[codecs[i]]) < 0) calls.codecs.push(CODEC_PT[codecs[i]]);
  }

  const ident = { user: "", displayName: calls.displayName };
  section(doc, "", "identity", ident, IDENTITY);

  let l = list(doc.accounts, "accounts", MAX_ACCOUNTS) || [];
  for (let i = 0; i < l.length; i++) {
    const p = "accounts[" + i + "]";
    o = obj(l[i], p);
    const a = defaultAccount();
    fill(o, p + ".", a, ACCOUNT);
    const proxy = val(o.outboundProxy, p + ".outboundProxy", IP, "", 1);
    const proxyPort = val(o.outboundPort, p + ".outboundPort", INT, 5060, 1, 65535);
    if (a.user === "" || a.registrar === "") {
      problem(p, undefined, "needs a user and a registrar (account ignored)");
      continue;
    }
    if (a.domain === "") a.domain = a.registrar;
    if (phone.accounts.length === 0) {
      calls.user = a.user;
      calls.domain = a.domain;
      calls.authUser = a.authUser;
      calls.password = a.password;
      calls.outboundProxy = proxy;
      calls.outboundPort = proxyPort;
      calls.outboundTransport = a.transport; // the account's transport reaches its proxy for calls too
    }
    if (proxy !== "") {
      a.registrar = proxy;
      a.registrarPort = proxyPort;
    }
    a.localAddress = phone.address;
    a.localPort = phone.port;
    phone.accounts.push(a);
  }
  if (ident.user !== "") calls.user = ident.user;
  calls.displayName = ident.displayName;

  section(doc, "", "calls", calls, CALLS);

  l = list(doc.buttons, "buttons", MAX_BUTTONS) || [];
  for (let i = 0; i < l.length; i++) {
    const p = "buttons[" + i + "]";
    o = obj(l[i], p);
    const plan = defaultPlan();
    plan.targets = [];
    const b: ButtonConfig = { pin: "", plan: plan, hangupDuringCall: true };
    fill(o, p + ".", b, BUTTON);
    const q = p + ".plan.";
    const po = section(o, p + ".", "plan", plan, PLAN);
    const ts = list(po.targets, q + "targets", MAX_TARGETS) || [];
    for (let j = 0; j < ts.length; j++) {
      const tp = q + "targets[" + j + "]";
      const t: CallTarget = { uri: "", ringTimeout: 0 };
      if (typeof ts[j] === "string") t.uri = val(ts[j], tp, URI, "");
      else fill(obj(ts[j], tp), tp + ".", t, TARGET);
      if (t.uri !== "") plan.targets.push(t);
      else problem(tp, undefined, "no valid uri (target ignored)");
    }
    const n = plan.targets.length;
    if (plan.mode === PLAN_SINGLE && n > 1) {
      problem(q + "targets", undefined, "mode single takes one target (the first is used)");
      plan.targets.splice(1, n - 1);
    }
    if (plan.mode === PLAN_PARALLEL && slotsFromPlans && n > phone.callCapacity) phone.callCapacity = n;
    if (plan.mode === PLAN_PARALLEL && n > phone.callCapacity) {
      problem(q + "targets", undefined, "more parallel targets than sip.calls, the call slots (the first " + phone.callCapacity + " used)");
      plan.targets.splice(phone.callCapacity, n - phone.callCapacity);
    }
    const next = items(po.nextOn, q + "nextOn", 4, ENUM, NEXT_ON);
    if (next !== null) {
      plan.nextOnBusy = next.indexOf(0) >= 0;
      plan.nextOnDecline = next.indexOf(1) >= 0;
      plan.nextOnNoAnswer = next.indexOf(2) >= 0;
      plan.nextOnError = next.indexOf(3) >= 0;
    }
    if (b.pin === "") problem(p, undefined, "no valid pin (button ignored)");
    else if (n === 0) problem(q + "targets", undefined, "no targets (button ignored)");
    else phone.buttons.push(b);
  }

  if (calls.maxCalls > phone.callCapacity) {
    problem("calls.maxCalls", calls.maxCalls, "more than sip.calls, the call slots (" + phone.callCapacity + " used)");
    calls.maxCalls = phone.callCapacity;
  }

  o = section(doc, "", "autoAnswer", auto, AUTO);
  auto.from = items(o.from, "autoAnswer.from", MAX_PEERS, PEER) || auto.from;
  // What the phone's calls use (set here, the phone need not copy the call settings to change it).
  calls.answerDelay = auto.delayMs;

  o = section(doc, "", "trust", trust, TRUST);
  trust.allow = items(o.allow, "trust.allow", MAX_PEERS, PEER) || trust.allow;
  section(o, "trust.", "challenge", trust, CHALLENGE);
  if (trust.challengeUser !== "" && trust.challengePassword === "") {
    problem("trust.challenge.password", undefined, "empty (challenge off)");
    trust.challengeUser = "";
  }

  o = section(doc, "", "door", door, DOOR);
  phone.relayPin = val(o.relayPin, "door.relayPin", PIN, phone.relayPin);
  phone.relayActiveLow = val(o.relayActiveLow, "door.relayActiveLow", BOOL, phone.relayActiveLow);
  const why = doorCodeProblem(door.code);
  if (why !== "") {
    problem("door.code", door.code, why + " (DTMF opening off)");
    door.code = "";
  }

  section(doc, "", "led", phone, LED);
  section(doc, "", "network", result, NETWORK);
  section(doc, "", "log", phone, LOG);
  section(doc, "", "flood", phone.flood, FLOOD);
  return result;
}

/** One line per problem: "path: why (value)"; the file itself is named by CONFIG_FILE. */
export function describeProblems(problems: ConfigProblem[]): string {
  let s = "";
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i];
    s += (i > 0 ? "\n" : "") + (p.path === "" ? CONFIG_FILE : p.path) + ": " + p.why + (p.value === "" ? "" : " (" + p.value + ")");
  }
  return s;
}
