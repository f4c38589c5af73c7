// DoorController: code entry ('#' and single-key codes), relay pulse timing, lockout, refused callers and the audit ring.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_DOOR, DOOR_DISABLED, DOOR_RELAY_MAX_MS, DOOR_LOCKED, DOOR_LOCKOUT, DOOR_OPENED, DOOR_PENDING, DOOR_REFUSED, DOOR_WRONG,
  type DoorAuditEntry, type DoorConfig, DoorController, doorCodeProblem,
} from "../../firmware/door.ts";
import type { DigitalOutput } from "../../hal/types.ts";
import { VirtualClock } from "../../sim/virtual.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";

const RELAY = "D4";

/** A door on a virtual board, with its owner's one alarm: poll() at nextDeadline() on the virtual clock. */
function setup(config: Partial<DoorConfig> = {}, start = 1000) {
  const clock = new VirtualClock({ start });
  const board = new VirtualBoard(clock);
  const relay = board.openOutput({ pin: RELAY, activeLow: true }) as DigitalOutput;
  // Any number of openings a call unless a test asks (the code logic is what most of these test; the
  // one-opening-a-call rule has its own tests below).
  const door = new DoorController({ ...DEFAULT_DOOR, code: "1234#", opensPerCall: 0, ...config }, relay);
  let ev: ReturnType<VirtualClock["schedule"]> | null = null;
  const rearm = () => {
    if (ev !== null) clock.cancel(ev);
    ev = null;
    const at = door.nextDeadline();
    if (at >= 0) ev = clock.schedule(at, () => { ev = null; door.poll(clock.now()); rearm(); });
  };
  /** Types keys (a string of 0-9*#A-D) at the current time, one per `gap` ms; returns the last result. */
  const keys = (s: string, who = "alice", authorised = true, gap = 0): number => {
    let r = -1;
    for (let i = 0; i < s.length; i++) {
      if (i > 0 && gap > 0) clock.advance(gap);
      r = door.onDigit(who, authorised, s.charCodeAt(i), clock.now());
      rearm();
    }
    return r;
  };
  const audit = (): DoorAuditEntry[] => {
    const out: DoorAuditEntry[] = [];
    for (let i = 0; i < door.auditCount(); i++) {
      const e: DoorAuditEntry = { at: 0, kind: "", who: "", detail: "" };
      expect(door.auditEntry(i, e)).toBe(true);
      out.push(e);
    }
    return out;
  };
  const kinds = () => audit().map((e) => e.kind);
  return { clock, board, relay, door, keys, audit, kinds, rearm };
}

describe("DoorController: '#' codes", () => {
  it("opens on the right code and pulses the relay for exactly pulseMs", () => {
    const t = setup();
    expect(t.keys("123")).toBe(DOOR_PENDING);
    expect(t.keys("4")).toBe(DOOR_PENDING);
    expect(t.board.transitions(RELAY)).toEqual([]);
    expect(t.keys("#")).toBe(DOOR_OPENED);
    expect(t.board.isOn(RELAY)).toBe(true);
    expect(t.board.output(RELAY)!.level()).toBe(false); // active low: on drives the pin low
    expect(t.door.nextDeadline()).toBe(4000);
    t.clock.advance(2999);
    expect(t.board.isOn(RELAY)).toBe(true);
    t.clock.advance(1);
    expect(t.board.transitions(RELAY)).toEqual([{ at: 1000, on: true }, { at: 4000, on: false }]);
    expect(t.door.nextDeadline()).toBe(-1);
    expect(t.door.opens).toBe(1);
    expect(t.audit()).toEqual([{ at: 1000, kind: "open", who: "alice", detail: "code" }]);
  });

  it("honours a configured pulse length", () => {
    const t = setup({ pulseMs: 750 });
    t.keys("1234#");
    t.clock.runUntilIdle(10_000);
    expect(t.board.transitions(RELAY)).toEqual([{ at: 1000, on: true }, { at: 1750, on: false }]);
  });

  it("counts a wrong code, and a code with extra keys is wrong", () => {
    const t = setup({ maxWrongCodes: 5 });
    expect(t.keys("1235#")).toBe(DOOR_WRONG);
    expect(t.keys("12345#")).toBe(DOOR_WRONG);
    expect(t.keys("123#")).toBe(DOOR_WRONG);
    expect(t.door.wrongCodes).toBe(3);
    expect(t.audit().map((e) => e.kind + " " + e.detail)).toEqual(["wrong 1/5", "wrong 2/5", "wrong 3/5"]);
    expect(t.board.transitions(RELAY)).toEqual([]);
  });

  it("'*' clears the entry", () => {
    const t = setup();
    expect(t.keys("99*1234#")).toBe(DOOR_OPENED);
    expect(t.door.wrongCodes).toBe(0);
    const u = setup();
    expect(u.keys("12*34#")).toBe(DOOR_WRONG);
    expect(u.door.wrongCodes).toBe(1);
  });

  it("a lone '#' is no attempt", () => {
    const t = setup();
    expect(t.keys("#")).toBe(DOOR_PENDING);
    expect(t.door.wrongCodes).toBe(0);
    expect(t.door.auditCount()).toBe(0);
  });

  it("more keys than the buffer holds are wrong, even if the code is at the end", () => {
    const t = setup();
    expect(t.keys("0".repeat(20) + "1234#")).toBe(DOOR_WRONG);
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
  });

  it("a pause longer than digitTimeoutMs clears the entry", () => {
    const t = setup({ digitTimeoutMs: 5000 });
    t.keys("12");
    t.clock.advance(5001);
    expect(t.keys("34#")).toBe(DOOR_WRONG); // the entry was "34"
    const u = setup({ digitTimeoutMs: 5000 });
    expect(u.keys("1234#", "alice", true, 5000)).toBe(DOOR_OPENED); // exactly the timeout still counts
    expect(u.board.transitions(RELAY)[0]).toEqual({ at: 1000 + 4 * 5000, on: true });
    const v = setup({ digitTimeoutMs: 5000 });
    v.keys("12");
    v.clock.advance(5001);
    expect(v.keys("#")).toBe(DOOR_PENDING); // a lone '#' after the pause: no attempt, and the entry is empty
    expect(v.door.entryLength()).toBe(0);
  });

  it("the entry belongs to a call: callEnded and a new caller clear it", () => {
    const t = setup();
    t.keys("12", "alice");
    t.door.callEnded("alice");
    expect(t.door.entryLength()).toBe(0);
    expect(t.keys("34#", "alice")).toBe(DOOR_WRONG);
    t.keys("12", "alice");
    t.door.callEnded("bob"); // another call: not ours
    expect(t.door.entryLength()).toBe(2);
    expect(t.keys("34#", "bob")).toBe(DOOR_WRONG); // bob's keys start a fresh entry
    t.keys("12", "carol");
    t.door.callEnded("carol");
    expect(t.keys("34#", "carol")).toBe(DOOR_LOCKOUT); // third wrong in a row
  });

  it("A-D keys can be part of a code", () => {
    const t = setup({ code: "A1D#" });
    expect(t.keys("A1D#")).toBe(DOOR_OPENED);
  });
});

describe("DoorController: codes without '#'", () => {
  it("a single key opens at once", () => {
    const t = setup({ code: "5" });
    expect(t.keys("5")).toBe(DOOR_OPENED);
    expect(t.board.isOn(RELAY)).toBe(true);
  });

  it("a single wrong key counts as a wrong code", () => {
    const t = setup({ code: "5" });
    expect(t.keys("4")).toBe(DOOR_WRONG);
    expect(t.keys("5")).toBe(DOOR_OPENED);
    expect(t.door.wrongCodes).toBe(1);
    expect(t.door.wrongStreakCount()).toBe(0);
  });

  it("a multi-key code is judged every len(code) keys, then the entry restarts", () => {
    const t = setup({ code: "246" });
    expect(t.keys("24")).toBe(DOOR_PENDING);
    expect(t.keys("6")).toBe(DOOR_OPENED);
    const u = setup({ code: "246" });
    expect(u.keys("124")).toBe(DOOR_WRONG);
    expect(u.keys("6")).toBe(DOOR_PENDING); // "6" alone: a new entry
    expect(u.keys("24")).toBe(DOOR_WRONG); // "624"
    expect(u.door.wrongStreakCount()).toBe(2);
    expect(u.keys("246")).toBe(DOOR_OPENED);
    expect(u.door.wrongStreakCount()).toBe(0);
  });

  it("'*' and '#' clear a partial entry", () => {
    const t = setup({ code: "246" });
    expect(t.keys("1*246")).toBe(DOOR_OPENED);
    expect(t.keys("11#246")).toBe(DOOR_OPENED);
    expect(t.door.wrongCodes).toBe(0);
  });
});

describe("DoorController: the relay's hard maximum", () => {
  it("a pulse longer than DOOR_RELAY_MAX_MS is cut to it; openings during a pulse extend it, never past the maximum from its start", () => {
    const long = setup({ pulseMs: 10 * DOOR_RELAY_MAX_MS }, 0); // a configuration from code, not checked by the JSON loader
    expect(long.keys("1234#")).toBe(DOOR_OPENED);
    long.clock.advance(DOOR_RELAY_MAX_MS - 1);
    expect(long.board.isOn(RELAY)).toBe(true);
    long.clock.advance(1);
    expect(long.board.isOn(RELAY)).toBe(false);
    // 3 s pulses re-triggered every 2 s (a button held, an API loop): on for DOOR_RELAY_MAX_MS, then off.
    const t = setup({ pulseMs: 3000 }, 0);
    const on: number[] = [];
    for (let ms = 0; ms < 2 * DOOR_RELAY_MAX_MS; ms += 2000) {
      if (!t.board.isOn(RELAY)) on.push(ms);
      t.door.open("api", "test", t.clock.now());
      t.rearm();
      t.clock.advance(2000);
    }
    expect(t.board.transitions(RELAY).length).toBeGreaterThanOrEqual(3);
    expect(on.slice(0, 2)).toEqual([0, DOOR_RELAY_MAX_MS]);
    expect(t.door.opens).toBe(DOOR_RELAY_MAX_MS / 1000);
  });
});

describe("DoorController: lockout", () => {
  it("locks DTMF out after maxWrongCodes consecutive wrong codes, for lockoutSeconds", () => {
    const t = setup({ maxWrongCodes: 3, lockoutSeconds: 60 });
    expect(t.keys("1111#")).toBe(DOOR_WRONG);
    expect(t.keys("2222#")).toBe(DOOR_WRONG);
    expect(t.keys("3333#")).toBe(DOOR_LOCKOUT);
    expect(t.door.locked).toBe(true);
    expect(t.door.lockouts).toBe(1);
    expect(t.door.nextDeadline()).toBe(61_000);
    expect(t.keys("1234#")).toBe(DOOR_LOCKED);
    expect(t.board.transitions(RELAY)).toEqual([]);
    t.clock.advance(59_999);
    expect(t.keys("1234#", "bob")).toBe(DOOR_LOCKED);
    t.clock.advance(1); // 61 000: the alarm ends the lockout
    expect(t.door.locked).toBe(false);
    expect(t.door.nextDeadline()).toBe(-1);
    expect(t.keys("1234#", "bob")).toBe(DOOR_OPENED);
    expect(t.audit().map((e) => [e.at, e.kind, e.who])).toEqual([
      [1000, "wrong", "alice"], [1000, "wrong", "alice"], [1000, "wrong", "alice"], [1000, "lockout", "alice"],
      [60_999, "locked", "bob"], [61_000, "unlock", ""], [61_000, "open", "bob"],
    ]);
    expect(t.audit()[3].detail).toBe("60 s");
    expect(t.audit()[2].detail).toBe("3/3");
    expect(t.door.auditText()).not.toMatch(/1111|2222|3333|1234/); // attempts audited, never their keys
  });

  it("each lockout before a correct code lasts twice the one before, up to lockoutMaxSeconds; a correct code starts again at lockoutSeconds", () => {
    const t = setup({ maxWrongCodes: 2, lockoutSeconds: 10, lockoutMaxSeconds: 35 });
    const lockout = () => {
      expect(t.keys("0000#")).toBe(DOOR_WRONG);
      expect(t.keys("0000#")).toBe(DOOR_LOCKOUT);
      const start = t.clock.now();
      while (t.door.locked) t.clock.advance(t.door.nextDeadline() - t.clock.now()); // the alarms (relay off, lockout end)
      return t.clock.now() - start;
    };
    expect([lockout(), lockout(), lockout(), lockout()]).toEqual([10_000, 20_000, 35_000, 35_000]);
    expect(t.door.lockoutsInRow()).toBe(4);
    expect(t.audit().filter((e) => e.kind === "lockout").map((e) => e.detail)).toEqual(["10 s", "20 s", "35 s", "35 s"]);
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
    expect(t.door.lockoutsInRow()).toBe(0);
    expect(lockout()).toBe(10_000);
    // A ceiling at or below the first lockout: every lockout lasts lockoutSeconds.
    const f = setup({ maxWrongCodes: 1, lockoutSeconds: 10, lockoutMaxSeconds: 0 });
    for (let i = 0; i < 3; i++) {
      expect(f.keys("0000#")).toBe(DOOR_LOCKOUT);
      expect(f.door.nextDeadline() - f.clock.now()).toBe(10_000);
      f.clock.advance(10_000);
    }
  });

  it("with the defaults, a guesser keying codes as fast as the lockouts allow gets fewer than 120 tries in 30 days (3 a day once at the 24 h ceiling)", () => {
    const t = setup({ code: "2580#" });
    let tries = 0;
    let code = 0;
    const end = t.clock.now() + 30 * 86_400_000;
    while (t.clock.now() < end) {
      const r = t.keys(String(code).padStart(4, "0") + "#", "guesser-" + tries);
      if (r === DOOR_WRONG || r === DOOR_LOCKOUT) { tries++; code = (code + 1) % 10_000; if (code === 2580) code++; }
      else expect(r).toBe(DOOR_LOCKED);
      t.door.callEnded("guesser-" + tries);
      const at = t.door.nextDeadline();
      t.clock.advance(at > t.clock.now() ? at - t.clock.now() : 1000);
    }
    // 3 tries, then 5 min, 10 min, 20 min ... 24 h: 3 + 3·9 in the first ~3 days, then 3 a day.
    expect(tries).toBeGreaterThan(100);
    expect(tries).toBeLessThan(120);
    expect(t.door.opens).toBe(0);
    expect(t.board.transitions(RELAY)).toEqual([]);
  });

  it("counts wrong codes across calls, and a correct code resets the streak", () => {
    const t = setup({ maxWrongCodes: 3 });
    t.keys("0000#", "a");
    t.door.callEnded("a");
    t.keys("0000#", "b");
    expect(t.door.wrongStreakCount()).toBe(2);
    expect(t.keys("1234#", "b")).toBe(DOOR_OPENED);
    expect(t.door.wrongStreakCount()).toBe(0);
    expect(t.keys("0000#0000#", "c")).toBe(DOOR_WRONG);
    expect(t.door.locked).toBe(false);
    expect(t.keys("0000#", "d")).toBe(DOOR_LOCKOUT);
    expect(t.door.wrongCodes).toBe(5);
  });

  it("audits 'locked' once per call, and the call that caused the lockout not at all", () => {
    const t = setup({ maxWrongCodes: 1 });
    expect(t.keys("9#")).toBe(DOOR_LOCKOUT);
    expect(t.keys("1234#")).toBe(DOOR_LOCKED);
    t.keys("1234#", "bob");
    t.keys("5", "bob");
    t.door.callEnded("bob");
    t.keys("1", "bob");
    expect(t.kinds()).toEqual(["wrong", "lockout", "locked", "locked"]);
  });

  it("a local open() still works during a lockout", () => {
    const t = setup({ maxWrongCodes: 1 });
    t.keys("9#");
    t.door.open("button", "local button", t.clock.now());
    t.rearm();
    t.clock.advance(3000);
    expect(t.board.transitions(RELAY)).toEqual([{ at: 1000, on: true }, { at: 4000, on: false }]);
    expect(t.door.locked).toBe(true);
    expect(t.audit()[2]).toEqual({ at: 1000, kind: "open", who: "button", detail: "local button" });
  });

  it("maxWrongCodes 0 never locks out", () => {
    const t = setup({ maxWrongCodes: 0 });
    for (let i = 0; i < 10; i++) expect(t.keys("0#")).toBe(DOOR_WRONG);
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
  });
});

describe("DoorController: callers, pulses, disabled code", () => {
  it("an unauthorised caller never opens, and is audited once per call", () => {
    const t = setup();
    expect(t.keys("1234#", "mallory", false)).toBe(DOOR_REFUSED);
    expect(t.keys("1234#", "mallory", false)).toBe(DOOR_REFUSED);
    expect(t.board.transitions(RELAY)).toEqual([]);
    expect(t.door.wrongCodes).toBe(0);
    t.door.callEnded("mallory");
    t.keys("5", "mallory", false);
    expect(t.audit()).toEqual([
      { at: 1000, kind: "refused", who: "mallory", detail: "caller not authorised" },
      { at: 1000, kind: "refused", who: "mallory", detail: "caller not authorised" },
    ]);
  });

  it("a second opening during a pulse extends it (one on, one off)", () => {
    const t = setup();
    t.keys("1234#");
    t.clock.advance(2000);
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
    expect(t.door.nextDeadline()).toBe(6000);
    t.clock.runUntilIdle(60_000);
    expect(t.board.transitions(RELAY)).toEqual([{ at: 1000, on: true }, { at: 6000, on: false }]);
    expect(t.board.output(RELAY)!.writes).toBe(2);
    expect(t.door.opens).toBe(2);
  });

  it("poll() before the deadline does nothing; a late poll still turns the relay off", () => {
    const t = setup();
    t.door.onDigit("a", true, "1".charCodeAt(0), 0);
    t.door.open("a", "test", 100);
    t.door.poll(3099);
    expect(t.door.relayOn).toBe(true);
    t.door.poll(9999);
    expect(t.door.relayOn).toBe(false);
    expect(t.board.transitions(RELAY).map((x) => x.on)).toEqual([true, false]);
  });

  it("an empty code disables DTMF opening", () => {
    const t = setup({ code: "" });
    expect(t.door.dtmfEnabled()).toBe(false);
    expect(t.keys("1234#")).toBe(DOOR_DISABLED);
    expect(t.keys("#")).toBe(DOOR_DISABLED);
    expect(t.door.wrongCodes).toBe(0);
    expect(t.door.auditCount()).toBe(0);
    expect(t.board.transitions(RELAY)).toEqual([]);
  });

  it("an invalid code disables DTMF opening and says why", () => {
    expect(doorCodeProblem("12*3#")).toContain("'*'");
    expect(doorCodeProblem("1#2")).toContain("'#'");
    expect(doorCodeProblem("#")).toBe("code is only '#'");
    expect(doorCodeProblem("1".repeat(17))).toContain("longer");
    expect(doorCodeProblem("1".repeat(16) + "#")).toBe("");
    const t = setup({ code: "12*3#" });
    expect(t.door.dtmfEnabled()).toBe(false);
    expect(t.door.configError).toContain("'*'");
    expect(t.keys("12*3#")).toBe(DOOR_DISABLED);
  });

  it("the default config has no code", () => {
    expect(DEFAULT_DOOR).toEqual({ code: "", pulseMs: 3000, maxWrongCodes: 3, lockoutSeconds: 300, lockoutMaxSeconds: 86400, digitTimeoutMs: 5000, auditSize: 32, opensPerCall: 1 });
  });

  it("one opening a call by default: the code again in the same call is ignored (audited once, not as wrong); the next call opens again", () => {
    const t = setup({ opensPerCall: 1 });
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
    expect(t.keys("1234#")).toBe(DOOR_REFUSED);
    expect(t.keys("9999#")).toBe(DOOR_REFUSED); // no guessing either, and no lockout count
    expect(t.door.opens).toBe(1);
    expect(t.door.wrongCodes).toBe(0);
    expect(t.audit().map((a) => a.kind + " " + a.detail)).toEqual(["open code", "refused no more openings in this call"]);
    t.door.callEnded("alice");
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
    expect(t.door.opens).toBe(2);
    // Another caller has its own count.
    expect(t.keys("1234#", "bob")).toBe(DOOR_OPENED);
  });

  it("opensPerCall 2 allows two; 0 any number", () => {
    const two = setup({ opensPerCall: 2 });
    expect([two.keys("1234#"), two.keys("1234#"), two.keys("1234#")]).toEqual([DOOR_OPENED, DOOR_OPENED, DOOR_REFUSED]);
    const any = setup({ opensPerCall: 0 });
    for (let i = 0; i < 5; i++) expect(any.keys("1234#")).toBe(DOOR_OPENED);
  });
});

describe("DoorController: audit ring", () => {
  it("keeps the newest auditSize entries, oldest first", () => {
    const t = setup({ auditSize: 4, code: "7" });
    for (let i = 0; i < 6; i++) {
      t.door.open("who" + i, "r" + i, 100 * i);
    }
    expect(t.door.auditCount()).toBe(4);
    expect(t.audit().map((e) => [e.at, e.who, e.detail])).toEqual([
      [200, "who2", "r2"], [300, "who3", "r3"], [400, "who4", "r4"], [500, "who5", "r5"],
    ]);
    const e: DoorAuditEntry = { at: -1, kind: "x", who: "x", detail: "x" };
    expect(t.door.auditEntry(4, e)).toBe(false);
    expect(t.door.auditEntry(-1, e)).toBe(false);
    expect(e.at).toBe(-1);
    expect(t.door.auditText()).toBe("0.200 s open who2 r2\n0.300 s open who3 r3\n0.400 s open who4 r4\n0.500 s open who5 r5\n");
  });

  it("a one-entry ring keeps only the last", () => {
    const t = setup({ auditSize: 1, maxWrongCodes: 2, lockoutSeconds: 10 });
    t.keys("1#");
    t.keys("2#"); // wrong, lockout
    expect(t.door.auditText()).toBe("1.000 s lockout alice 10 s\n");
    t.clock.advance(10_000);
    expect(t.door.auditText()).toBe("11.000 s unlock -\n");
  });
});

describe("several codes (one per resident)", () => {
  it("'#' codes: each opens, the audit says which (never the keys); another entry is wrong", () => {
    const t = setup({ code: "1234#,98765#" });
    expect(t.keys("98765#")).toBe(DOOR_OPENED);
    expect(t.keys("1234#")).toBe(DOOR_OPENED);
    expect(t.keys("9876#")).toBe(DOOR_WRONG);
    const opens = t.audit().filter((e) => e.kind === "open").map((e) => e.detail);
    expect(opens).toEqual(["code 2", "code 1"]);
    expect(t.door.auditText()).not.toMatch(/1234|98765|9876/); // neither the codes nor what a caller typed
  });

  it("codes without '#': all of one length, judged after that many keys", () => {
    const t = setup({ code: "12,34" });
    expect(t.keys("3")).toBe(DOOR_PENDING);
    expect(t.keys("4")).toBe(DOOR_OPENED);
    expect(t.keys("13")).toBe(DOOR_WRONG);
  });

  it("a list that mixes modes or lengths, or has an empty code, disables DTMF opening with the reason", () => {
    expect(doorCodeProblem("1234#,5678")).toBe("codes mix '#' and no '#'");
    expect(doorCodeProblem("12,345")).toBe("codes without '#' must have the same length");
    expect(doorCodeProblem("1234#,")).toBe("empty code in the list");
    const t = setup({ code: "12,345" });
    expect(t.door.dtmfEnabled()).toBe(false);
    expect(t.keys("12")).toBe(DOOR_DISABLED);
  });
});
