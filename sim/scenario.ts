// `doorsip-sim scenario <file>`: a declarative scenario on the virtual network — doors, a registrar, phones, link conditions, scripted events, expected outcomes.
import { INSTANCE_FILE, boot } from "../firmware/boot.ts";
import { CONFIG_FILE } from "../firmware/config.ts";
import { DoorPhone } from "../firmware/phone.ts";
import { Endpoint } from "./endpoint.ts";
import { MemoryStorage } from "./file-storage.ts";
import type { LadderMessage } from "./html-ladder.ts";
import { ladder, ladderHeader, ladderLabel } from "./ladder.ts";
import { simPhoneConfig } from "./phone-setup.ts";
import { Registrar } from "./registrar.ts";
import { ToneAudio } from "./virtual-audio.ts";
import { VirtualBoard } from "./virtual-board.ts";
import { VirtualLink } from "./virtual-link.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform, type CaptureRecord, type LinkConditions } from "./virtual.ts";

/**
 * A scenario document (JSON). Times are virtual ms from the start; every door boots at 0.
 *
 *   { "name": "…", "seed": 1, "until": 20000,
 *     "network": { "latency": 10, "jitter": 4, "loss": 0, … },           // LinkConditions, the defaults
 *     "registrar": { "address": "10.0.0.100", "realm": "sip.example.com", "users": { "1001": "secret" } },
 *     "doors": [{ "name": "door", "address": "10.0.0.1", "config": { …the device's configuration file… } }],
 *     "phones": [{ "name": "resident", "address": "10.0.0.2", "answer": 200, "answerDelayMs": 1000 }],
 *     "events": [{ "at": 2000, "press": "door" }, { "at": 6000, "digits": "resident", "keys": "1234#" },
 *                { "at": 9000, "hangup": "resident" }, { "at": 500, "link": ["10.0.0.1", "10.0.0.100"], "conditions": { "loss": 0.3 } },
 *                { "at": 7000, "call": "door", "uri": "sip:x@10.0.0.3" }, { "at": 9000, "registrar": "restart" }],
 *     "expect": [{ "door": "door", "registered": true }, { "door": "door", "opens": 1 }, { "door": "door", "relayPulses": 1 },
 *                { "door": "door", "ladder": ["REGISTER", "401 Unauthorized", …] }, { "phone": "resident", "calls": 1 },
 *                { "door": "door", "sent": "CANCEL", "to": "concierge", "count": 1 }, { "door": "door", "plan": "answered", "by": "resident" },
 *                { "door": "door", "presses": 2 }, { "registrar": [401, 200, 401, 200] }, { "registrar": "bindings", "count": 1 }] }
 *
 * A phone answering 200 is a door phone of its own (auto-answer after answerDelayMs, allowing every door; it can
 * send "digits" as RFC 4733 events and "hangup"); any other answer (486, 603, …) is an endpoint that refuses with it.
 * "ladder" expects the door's SIP messages (sent and received, in order) to begin with the labels given; "sent" counts
 * the requests with that method the door sent (to one phone, or to anyone), retransmissions included; "plan" is the
 * button's plan's state (idle, running, answered, failed, stopped), "by" the phone that answered it; "registrar" as a
 * list is every REGISTER's answer in order (0: it stayed silent), "bindings" the bindings it holds at the end.
 * A "registrar" event restarts it (bindings and nonces forgotten, as a rebooted server).
 */
export interface ScenarioDoc {
  name?: string;
  seed?: number;
  until: number;
  network?: Partial<LinkConditions>;
  registrar?: { address: string; port?: number; realm?: string; users: Record<string, string> };
  doors: { name: string; address: string; config: unknown }[];
  phones?: { name: string; address: string; answer?: number; answerDelayMs?: number; user?: string }[];
  events?: ScenarioEvent[];
  expect: ScenarioExpectation[];
}

export interface ScenarioEvent {
  at: number;
  press?: string;
  digits?: string;
  keys?: string;
  hangup?: string;
  call?: string;
  uri?: string;
  link?: [string, string];
  conditions?: Partial<LinkConditions>;
  registrar?: "restart";
}

export interface ScenarioExpectation {
  door?: string;
  phone?: string;
  registered?: boolean;
  opens?: number;
  relayPulses?: number;
  ladder?: string[];
  calls?: number;
  sent?: string;
  to?: string;
  count?: number;
  plan?: string;
  by?: string;
  presses?: number;
  registrar?: number[] | "bindings";
}

export interface ScenarioResult {
  ok: boolean;
  /** Each expectation's verdict, in order: "ok …" or "FAIL …". */
  verdicts: string[];
  /** The ladder of every SIP message on the network (one line each). */
  ladder: string[];
  /** A problem with the document itself ("" when none): the scenario did not run. */
  error: string;
  /** Every UDP datagram sent (SIP and RTP, lost ones too), for a pcap file. */
  records: CaptureRecord[];
  /** The SIP messages delivered, by column (columns), for the HTML ladder. */
  messages: LadderMessage[];
  columns: string[];
}

/** The plan states by value (firmware/plan.ts PLAN_*). */
const PLAN_STATES = ["idle", "running", "answered", "failed", "stopped"];

/** The host of a SIP URI ("sip:r@10.0.0.2:5060" → "10.0.0.2"). */
const hostOf = (uri: string) => uri.replace(/^sips?:([^@]*@)?/, "").replace(/[:;>].*$/, "");

/** Runs a scenario to its end on a fresh virtual network and clock; never throws for a bad document (error says why). */
export function runScenario(doc: ScenarioDoc): ScenarioResult {
  const fail = (error: string): ScenarioResult => ({ ok: false, verdicts: [], ladder: [], error, records: [], messages: [], columns: [] });
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.doors) || doc.doors.length === 0) return fail("scenario: \"doors\" must list at least one door");
  if (typeof doc.until !== "number" || doc.until <= 0) return fail("scenario: \"until\" must be a positive number of ms");
  if (!Array.isArray(doc.expect) || doc.expect.length === 0) return fail("scenario: \"expect\" must list at least one expectation");
  const clock = new VirtualClock();
  const names = new Map<string, string>(); // address → name
  const columns: string[] = [];
  const seen: { from: string; to: string; data: string; time: number }[] = [];
  const records: CaptureRecord[] = [];
  const network = new VirtualNetwork({
    clock, seed: doc.seed ?? 1, defaults: doc.network ?? {},
    observer: (r) => {
      if (r.proto === "udp" && r.fate !== "pending") records.push(r);
      if (r.proto !== "udp" || r.fate !== "delivered" || r.fromPort !== 5060 || r.toPort !== 5060) return; // SIP only, not RTP
      seen.push({ from: r.from, to: r.to, data: r.data, time: r.time });
    },
  });
  let registrar: Registrar | null = null;
  if (doc.registrar) {
    const g = doc.registrar;
    const reg = registrar = new Registrar({ platform: new VirtualPlatform({ network, address: g.address }), address: g.address, port: g.port ?? 5060,
      realm: g.realm ?? "sip.example.com", users: g.users });
    if (reg.open() !== 0) return fail("scenario: the registrar cannot open " + g.address);
    names.set(g.address, "registrar");
    columns.push("registrar");
  }
  const doors = new Map<string, { phone: DoorPhone; board: VirtualBoard }>();
  for (const d of doc.doors) {
    if (typeof d.name !== "string" || typeof d.address !== "string") return fail("scenario: a door needs a name and an address");
    const storage = new MemoryStorage();
    storage.write(CONFIG_FILE, JSON.stringify(d.config ?? {}));
    storage.write(INSTANCE_FILE, "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-" + String(doors.size + 1).padStart(12, "0"));
    const board = new VirtualBoard(clock, new ToneAudio({ frequencies: 440 }));
    const booted = boot(new VirtualPlatform({ network, address: d.address }), board, storage, new VirtualLink(d.address, (fn) => clock.schedule(clock.now(), fn)));
    if (booted.problems.length > 0) return fail("scenario: door " + d.name + " config: " + booted.problems.map((p) => (p.path || "(file)") + ": " + p.why).join("; "));
    doors.set(d.name, { phone: booted.phone, board });
    names.set(d.address, d.name);
    columns.unshift(d.name);
  }
  const phones = new Map<string, { door: DoorPhone | null; endpoint: Endpoint | null }>();
  for (const p of doc.phones ?? []) {
    const platform = new VirtualPlatform({ network, address: p.address });
    if ((p.answer ?? 200) === 200) {
      const phone = new DoorPhone(platform, new VirtualBoard(clock, new ToneAudio({ frequencies: 1000 })), simPhoneConfig(p.address, {
        user: p.user ?? p.name, relayPin: "D5", buttonPin: "", allow: doc.doors.map((d) => d.address), autoAnswer: { delayMs: p.answerDelayMs ?? 1000 },
      }));
      if (phone.open() !== 0) return fail("scenario: phone " + p.name + " cannot open " + p.address);
      phones.set(p.name, { door: phone, endpoint: null });
    } else {
      const endpoint = new Endpoint({ platform, address: p.address, port: 5060, inviteStatus: p.answer });
      if (endpoint.open() !== 0) return fail("scenario: phone " + p.name + " cannot open " + p.address);
      phones.set(p.name, { door: null, endpoint });
    }
    names.set(p.address, p.name);
    columns.push(p.name);
  }
  // The events, each at its time.
  const problems: string[] = [];
  for (const e of doc.events ?? []) {
    clock.schedule(e.at, () => {
      const door = (n: string | undefined) => (n !== undefined ? doors.get(n) : undefined);
      if (e.press !== undefined) {
        const d = door(e.press);
        if (d === undefined) problems.push("event at " + e.at + ": no door " + e.press);
        else d.board.pressButton(d.phone.config.buttons.length > 0 ? d.phone.config.buttons[0].pin : "D0", 100);
      } else if (e.call !== undefined) {
        const d = door(e.call);
        if (d === undefined || typeof e.uri !== "string") problems.push("event at " + e.at + ": call needs a door and a uri");
        else d.phone.call(e.uri);
      } else if (e.digits !== undefined || e.hangup !== undefined) {
        const p = phones.get((e.digits ?? e.hangup)!);
        const ph = p !== undefined ? p.door : null;
        const call = ph !== null && ph.ua.calls !== null ? ph.ua.calls.calls.find((c) => c.live()) : undefined;
        if (ph === null || call === undefined) problems.push("event at " + e.at + ": phone " + (e.digits ?? e.hangup) + " has no call");
        else if (e.digits !== undefined) for (const k of e.keys ?? "") ph.sessions[call.index].sendDigit(k.charCodeAt(0), 100);
        else ph.hangup(call);
      } else if (e.link !== undefined) {
        network.setLinks(e.link[0], e.link[1], e.conditions ?? {});
      } else if (e.registrar === "restart") {
        if (registrar === null) problems.push("event at " + e.at + ": no registrar to restart");
        else registrar.restart();
      } else problems.push("event at " + e.at + ": nothing to do");
    });
  }
  clock.advance(doc.until);
  // The verdicts.
  const verdicts = problems.map((p) => "FAIL " + p);
  for (const x of doc.expect) {
    const d = x.door !== undefined ? doors.get(x.door) : undefined;
    const say = (ok: boolean, what: string, got: unknown) => verdicts.push((ok ? "ok   " : "FAIL ") + what + (ok ? "" : " (got " + JSON.stringify(got) + ")"));
    if (x.door !== undefined && d === undefined) { verdicts.push("FAIL no door " + x.door); continue; }
    if (d !== undefined) {
      const ph = d.phone;
      if (x.registered !== undefined) {
        const states = ph.registrations.map((r) => r.stateName());
        say(states.length > 0 && states.every((s) => (s === "registered") === x.registered), `${x.door} registered: ${x.registered}`, states);
      }
      if (x.opens !== undefined) say(ph.door.opens === x.opens, `${x.door} opens the door ${x.opens}×`, ph.door.opens);
      if (x.relayPulses !== undefined) {
        const pin = ph.config.relayPin;
        const pulses = d.board.transitions(pin).filter((t) => t.on).length;
        say(pulses === x.relayPulses, `${x.door} relay pulses ${x.relayPulses}×`, pulses);
      }
      if (x.ladder !== undefined) {
        const mine = seen.filter((m) => names.get(m.from) === x.door || names.get(m.to) === x.door).map((m) => ladderLabel(m.data));
        say(x.ladder.every((l, i) => mine[i] === l), `${x.door} ladder begins ${x.ladder.join(", ")}`, mine.slice(0, x.ladder.length));
      }
      if (x.sent !== undefined) {
        const n = seen.filter((m) => names.get(m.from) === x.door && (x.to === undefined || names.get(m.to) === x.to) && ladderLabel(m.data) === x.sent).length;
        say(n === x.count, `${x.door} sends ${x.sent}${x.to !== undefined ? " to " + x.to : ""} ${x.count}×`, n);
      }
      if (x.plan !== undefined) {
        const state = PLAN_STATES[ph.plan.state];
        const answered = ph.plan.answered;
        const by = answered !== null ? names.get(hostOf(answered.peer)) ?? answered.peer : "";
        say(state === x.plan && (x.by === undefined || by === x.by), `${x.door} plan ${x.plan}${x.by !== undefined ? " by " + x.by : ""}`, by !== "" ? state + " by " + by : state);
      }
      if (x.presses !== undefined) say(ph.counters.buttonPresses === x.presses, `${x.door} counts ${x.presses} button press(es)`, ph.counters.buttonPresses);
    }
    if (x.registrar !== undefined) {
      if (registrar === null) { verdicts.push("FAIL no registrar"); continue; }
      if (x.registrar === "bindings") say(registrar.bindings.length === x.count, `registrar holds ${x.count} binding(s)`, registrar.bindings.length);
      else {
        const got = registrar.history.map((h) => h.status);
        say(got.length === x.registrar.length && x.registrar.every((st, i) => got[i] === st), `registrar answers ${x.registrar.join(", ")}`, got);
      }
    }
    if (x.phone !== undefined) {
      const p = phones.get(x.phone);
      if (p === undefined) { verdicts.push("FAIL no phone " + x.phone); continue; }
      if (x.calls !== undefined) {
        const addr = [...names].find(([, n]) => n === x.phone)![0];
        const invites = seen.filter((m) => m.to === addr && ladderLabel(m.data) === "INVITE" && !/\r\nTo:[^\r]*;tag=/i.test(m.data));
        const callIds = new Set(invites.map((m) => /\r\nCall-ID: *([^\r\n]+)/i.exec(m.data)?.[1]));
        say(callIds.size === x.calls, `${x.phone} receives ${x.calls} call(s)`, callIds.size);
      }
    }
  }
  const col = (a: string) => columns.indexOf(names.get(a) ?? a);
  const lines = seen.map((m) => ladder(m.time, col(m.from), col(m.to), m.data, columns.length, 18));
  const messages = seen.map((m) => ({ time: m.time, from: col(m.from), to: col(m.to), data: m.data }));
  return { ok: verdicts.every((v) => v.startsWith("ok")), verdicts, ladder: [ladderHeader(columns, 18), ...lines], error: "", records, messages, columns };
}
