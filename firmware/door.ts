// Door relay logic: DTMF code entry, relay pulse, wrong-code lockout and an audit ring, driven by time passed in.
//
// Device code (Espruino): no default/rest/spread/destructuring, no Map/Set, no regexes, no closures per
// event; every buffer is allocated in the constructor. It never reads a clock or makes a timer: the owner
// passes `now` (ms), and arms one alarm at nextDeadline() that calls poll(now).
import type { DigitalOutput } from "../hal/types.ts";
import { earliest } from "../sip-core/deadline.ts";
import { DEFAULT_PHONE } from "./phone-config.ts";

export interface DoorConfig {
  /**
   * DTMF code, e.g. "1234#" (submitted by '#') or "5" (opens as soon as typed); several separated by commas
   * ("1234#,9876#": all with '#' or none, codes without '#' of one length); "" disables DTMF opening.
   */
  code: string;
  /** Relay on time, ms. */
  pulseMs: number;
  /** Consecutive wrong codes (across calls) that lock DTMF opening out; 0 never locks out. */
  maxWrongCodes: number;
  /** The first lockout, s; each further one before a correct code lasts twice the one before. */
  lockoutSeconds: number;
  /** The longest lockout, s (at or below lockoutSeconds: every lockout lasts lockoutSeconds). */
  lockoutMaxSeconds: number;
  /** A pause longer than this between digits clears the entry, ms; 0: no timeout. */
  digitTimeoutMs: number;
  /** Audit entries kept (the newest). */
  auditSize: number;
  /** Openings by code one call may make (1: a caller cannot hold the door by keying the code again); 0: no limit. */
  opensPerCall: number;
}

/** The defaults (defaultPhone() makes them) as one shared object, never changed: DEFAULT_PHONE's. */
export const DEFAULT_DOOR: DoorConfig = /* @__PURE__ */ (function (): DoorConfig { return DEFAULT_PHONE.door; })();

/** Digits held in the entry buffer (and the longest code accepted). */
export const DOOR_ENTRY_CAPACITY = 16;

/**
 * The longest the relay stays on without a break, ms, whatever the configuration or repeated openings ask:
 * a strike or magnet held on overheats, and a door held open is an open door.
 */
export const DOOR_RELAY_MAX_MS = 60000;

// Audit kinds (their names: auditEntry()).
export const AUDIT_OPEN = 0;
export const AUDIT_WRONG = 1;
export const AUDIT_LOCKOUT = 2;
export const AUDIT_REFUSED = 3;
export const AUDIT_LOCKED = 4;
export const AUDIT_UNLOCK = 5;

// What onDigit did (so the call can answer with a tone or a prompt).
/** Digit taken, entry in progress (or a '*' / stray key cleared it). */
export const DOOR_PENDING = 0;
export const DOOR_OPENED = 1;
export const DOOR_WRONG = 2;
/** A wrong code that started a lockout. */
export const DOOR_LOCKOUT = 3;
/** Unauthorised call: digit ignored. */
export const DOOR_REFUSED = 4;
/** Locked out: digit ignored. */
export const DOOR_LOCKED = 5;
/** No (valid) code configured: digit ignored. */
export const DOOR_DISABLED = 6;

const HASH = 35; // '#'
const STAR = 42; // '*'
// Keys a code may contain ('*' is the clear key, '#' only ends a code).
const CODE_KEYS = "0123456789ABCD";

// The controller's numbers in one typed array (a field is ~1 variable on Espruino, a float field 2+; a
// typed array's byte costs ~1/27): index constants into `n` (Uint16Array) and `t` (Float64Array, ms).
const N_ENTRY_LEN = 0; // keys in the entry; DOOR_ENTRY_CAPACITY + 1: more were typed than it holds
const N_FLAGS = 1; // F_*
const N_AUDIT_HEAD = 2; // next audit slot to write
const N_AUDIT_LEN = 3;
const N_LOCKOUTS_IN_ROW = 4; // lockouts since the last correct code: the next one lasts 2^this times the first
const N_ENTRY = 5; // DOOR_ENTRY_CAPACITY keys
const N_AUDIT_KIND = 21; // N_ENTRY + DOOR_ENTRY_CAPACITY (a literal, so the build folds it): one per audit slot
/** The current caller was already audited as refused / as locked out. */
const F_CALLER_REFUSED = 1;
const F_CALLER_LOCKED = 2;
/** The current caller was audited as having used its openings. */
const F_CALLER_SPENT = 4;
/** The current caller's openings by code, in N_FLAGS' high byte. */
const OPENS_UNIT = 256;
const T_LAST_DIGIT = 0;
const T_LOCKOUT_UNTIL = 1;
const T_RELAY_OFF = 2;
const T_RELAY_ON = 3; // when the relay went on (DOOR_RELAY_MAX_MS counts from it)
const T_AUDIT = 4; // one per audit slot

/** One audit entry, filled by auditEntry(). */
export interface DoorAuditEntry {
  /** ms (the owner's clock). */
  at: number;
  kind: string;
  who: string;
  detail: string;
}

/** Why one code (no commas) is unusable, "" when fine. */
function oneCodeProblem(code: string): string {
  let n = code.length;
  if (n > 0 && code.charCodeAt(n - 1) === HASH) n--;
  if (n === 0) return code.length === 0 ? "empty code in the list" : "code is only '#'";
  if (n > DOOR_ENTRY_CAPACITY) return "code longer than " + DOOR_ENTRY_CAPACITY + " keys";
  for (let i = 0; i < n; i++) {
    if (CODE_KEYS.indexOf(code.charAt(i)) < 0) return "code key '" + code.charAt(i) + "' not one of 0-9 A-D ('#' only at the end)";
  }
  return "";
}

/**
 * "" when the code is usable, else why not (the controller then disables DTMF opening). Several codes
 * (one per resident) are separated by commas: "1234#,9876#". They must all end with '#', or none, and
 * codes without '#' must have the same length (an entry is judged after that many keys).
 */
export function doorCodeProblem(code: string): string {
  if (typeof code !== "string") return "code is not a string";
  if (code.length === 0) return "";
  let hash = -1;
  let len = -1;
  let p = 0;
  while (p <= code.length) {
    let e = code.indexOf(",", p);
    if (e < 0) e = code.length;
    const c = code.substring(p, e);
    const why = oneCodeProblem(c);
    if (why !== "") return why;
    const h = c.charCodeAt(c.length - 1) === HASH ? 1 : 0;
    if (hash >= 0 && h !== hash) return "codes mix '#' and no '#'";
    if (h === 0 && len >= 0 && c.length !== len) return "codes without '#' must have the same length";
    hash = h;
    len = c.length;
    p = e + 1;
  }
  return "";
}

export class DoorController {
  // Counters since start.
  opens = 0;
  wrongCodes = 0;
  lockouts = 0;
  /** Why DTMF opening is off despite a code being set ("" when fine). */
  readonly configError: string;
  /** DTMF opening is locked out (read it; poll() and onDigit() change it). */
  locked = false;
  /** The relay is on (read it; open() and poll() change it). */
  relayOn = false;

  /** null: the board could not open it (the door logic still runs and audits). */
  readonly relay: DigitalOutput | null;
  /** Pulse, lockout and digit timeout are read from it when used (copies would cost a field each). */
  private config: DoorConfig;
  /** The valid code list as configured ("" when none: DTMF opening disabled); '#' ends all of them or none. */
  private code: string;
  /** The call the entry belongs to. */
  private caller = "";
  /** Wrong codes since the last correct one (a field: it has no bound). */
  private wrongStreak = 0;
  private n: Uint16Array;
  private t: Float64Array;
  /** The audit ring's who and detail texts, two per slot: they grow with the entries, up to the ring's size, then the ring reuses them. */
  private auditTexts: string[] = [];

  constructor(config: DoorConfig, relay: DigitalOutput | null) {
    this.relay = relay;
    this.config = config;
    const problem = doorCodeProblem(config.code);
    this.configError = problem;
    this.code = problem === "" ? config.code : "";
    const size = config.auditSize > 0 ? Math.floor(config.auditSize) : 1;
    this.n = new Uint16Array(N_AUDIT_KIND + size);
    this.t = new Float64Array(T_AUDIT + size);
  }

  /** True when a code is configured (and valid): DTMF can open the door. */
  dtmfEnabled(): boolean {
    return this.code.length > 0;
  }

  /**
   * A DTMF key (char code of 0-9 * # A-D) from call `who`; `authorised` says whether that caller may
   * open the door. Returns DOOR_PENDING, DOOR_OPENED, DOOR_WRONG, DOOR_LOCKOUT, DOOR_REFUSED, DOOR_LOCKED
   * or DOOR_DISABLED.
   */
  onDigit(who: string, authorised: boolean, digit: number, now: number): number {
    const n = this.n;
    const c = this.config;
    this.expire(now);
    if (who !== this.caller) this.newCaller(who);
    if (!authorised) {
      // Audited once per call, so a caller pressing keys cannot flush the audit ring.
      if ((n[N_FLAGS] & F_CALLER_REFUSED) === 0) {
        n[N_FLAGS] |= F_CALLER_REFUSED;
        this.audit(now, AUDIT_REFUSED, who, "caller not authorised");
      }
      return DOOR_REFUSED;
    }
    const code = this.code;
    if (code.length === 0) return DOOR_DISABLED;
    if (this.locked) {
      if ((n[N_FLAGS] & F_CALLER_LOCKED) === 0) {
        n[N_FLAGS] |= F_CALLER_LOCKED;
        this.audit(now, AUDIT_LOCKED, who, "digits ignored during lockout");
      }
      return DOOR_LOCKED;
    }
    if (c.opensPerCall > 0 && (n[N_FLAGS] >> 8) >= c.opensPerCall) {
      // This call has opened the door as often as it may: its keys are ignored (audited once).
      if ((n[N_FLAGS] & F_CALLER_SPENT) === 0) {
        n[N_FLAGS] |= F_CALLER_SPENT;
        this.audit(now, AUDIT_REFUSED, who, "no more openings in this call");
      }
      return DOOR_REFUSED;
    }
    let len = n[N_ENTRY_LEN];
    if (len > 0 && c.digitTimeoutMs > 0 && now - this.t[T_LAST_DIGIT] > c.digitTimeoutMs) {
      len = 0;
      n[N_ENTRY_LEN] = 0;
    }
    this.t[T_LAST_DIGIT] = now;

    const hashMode = code.charCodeAt(code.length - 1) === HASH;
    // '*' clears; so does '#' for codes without it.
    if (digit === STAR || (digit === HASH && !hashMode)) {
      n[N_ENTRY_LEN] = 0;
      return DOOR_PENDING;
    }
    if (digit !== HASH) {
      if (len < DOOR_ENTRY_CAPACITY) n[N_ENTRY + len++] = digit;
      else len = DOOR_ENTRY_CAPACITY + 1;
      n[N_ENTRY_LEN] = len;
      // '#' mode waits for the '#'; codes without it (all of one length) are judged every len(code) keys.
      const first = code.indexOf(",");
      if (hashMode || len < (first < 0 ? code.length : first)) return DOOR_PENDING;
    } else if (len === 0) return DOOR_PENDING; // a lone '#' is no attempt
    n[N_ENTRY_LEN] = 0;

    // The code (the k-th of the list) the entry equals, if any. Every key is compared (no early exit), so
    // timing does not tell how many keys were right.
    let k = -1;
    let p = 0;
    for (let j = 0; p <= code.length && len <= DOOR_ENTRY_CAPACITY; j++) {
      let e = code.indexOf(",", p);
      if (e < 0) e = code.length;
      const keys = hashMode ? e - p - 1 : e - p;
      if (len === keys) {
        let diff = 0;
        for (let i = 0; i < keys; i++) diff |= n[N_ENTRY + i] ^ code.charCodeAt(p + i);
        if (diff === 0 && k < 0) k = j;
      }
      p = e + 1;
    }
    if (k >= 0) {
      // Audited as "code" (one code) or "code k+1" (which resident's code, never its keys).
      this.wrongStreak = 0;
      n[N_LOCKOUTS_IN_ROW] = 0;
      if (n[N_FLAGS] < 255 * OPENS_UNIT) n[N_FLAGS] += OPENS_UNIT;
      this.open(who, code.indexOf(",") >= 0 ? "code " + (k + 1) : "code", now);
      return DOOR_OPENED;
    }
    const maxWrong = c.maxWrongCodes > 0 ? c.maxWrongCodes : 0;
    // Exponential: lockoutSeconds, twice that, four times... up to lockoutMaxSeconds (a guesser's rate halves each time).
    let lockoutMs = c.lockoutSeconds > 0 ? c.lockoutSeconds * 1000 : 0;
    const maxMs = c.lockoutMaxSeconds * 1000;
    for (let i = n[N_LOCKOUTS_IN_ROW]; i > 0 && lockoutMs < maxMs; i--) lockoutMs *= 2;
    if (lockoutMs > maxMs && maxMs > c.lockoutSeconds * 1000) lockoutMs = maxMs;
    this.wrongCodes++;
    this.wrongStreak++;
    this.audit(now, AUDIT_WRONG, who, maxWrong > 0 ? this.wrongStreak + "/" + maxWrong : "" + this.wrongStreak);
    if (maxWrong === 0 || this.wrongStreak < maxWrong || lockoutMs === 0) return DOOR_WRONG;
    this.wrongStreak = 0;
    this.lockouts++;
    if (n[N_LOCKOUTS_IN_ROW] < 32) n[N_LOCKOUTS_IN_ROW]++;
    this.locked = true;
    this.t[T_LOCKOUT_UNTIL] = now + lockoutMs;
    n[N_FLAGS] |= F_CALLER_LOCKED; // the lockout entry already says this call is locked out
    this.audit(now, AUDIT_LOCKOUT, who, lockoutMs / 1000 + " s");
    return DOOR_LOCKOUT;
  }

  /** The call `who` ended: its partial entry goes (lockout and the wrong-code streak stay). */
  callEnded(who: string): void {
    if (who === this.caller) this.newCaller("");
  }

  /**
   * Opens the door for another cause (a local button, an API): pulses the relay and audits it; lockout does
   * not apply. A second opening during a pulse extends it, but never past DOOR_RELAY_MAX_MS from its start.
   */
  open(who: string, reason: string, now: number): void {
    const t = this.t;
    this.opens++;
    this.audit(now, AUDIT_OPEN, who, reason);
    if (!this.relayOn) t[T_RELAY_ON] = now;
    const off = now + (this.config.pulseMs > 0 ? this.config.pulseMs : 0);
    t[T_RELAY_OFF] = off < t[T_RELAY_ON] + DOOR_RELAY_MAX_MS ? off : t[T_RELAY_ON] + DOOR_RELAY_MAX_MS;
    if (!this.relayOn) {
      this.relayOn = true;
      if (this.relay !== null) this.relay.write(true);
    }
  }

  /** The next time poll() has work (relay off, lockout end), or -1. */
  nextDeadline(): number {
    return earliest(this.relayOn ? this.t[T_RELAY_OFF] : -1, this.locked ? this.t[T_LOCKOUT_UNTIL] : -1);
  }

  /** Does what is due at `now`: ends the relay pulse, ends a lockout. */
  poll(now: number): void {
    if (this.relayOn && now >= this.t[T_RELAY_OFF]) {
      this.relayOn = false;
      if (this.relay !== null) this.relay.write(false);
    }
    this.expire(now);
  }

  /** Keys in the current entry (0 after a submission, a '*', a timeout or the end of the call). */
  entryLength(): number {
    const len = this.n[N_ENTRY_LEN];
    return len > DOOR_ENTRY_CAPACITY ? DOOR_ENTRY_CAPACITY : len;
  }

  /** Wrong codes since the last correct one (0 again after a lockout starts). */
  wrongStreakCount(): number {
    return this.wrongStreak;
  }

  /** Lockouts since the last correct code (the next lasts 2^this times lockoutSeconds, up to lockoutMaxSeconds). */
  lockoutsInRow(): number {
    return this.n[N_LOCKOUTS_IN_ROW];
  }

  // --- audit

  auditCount(): number {
    return this.n[N_AUDIT_LEN];
  }

  /** Fills `out` with entry i (0 = oldest kept); false when there is no such entry. */
  auditEntry(i: number, out: DoorAuditEntry): boolean {
    const n = this.n;
    if (i < 0 || i >= n[N_AUDIT_LEN]) return false;
    const size = this.t.length - T_AUDIT;
    const slot = (n[N_AUDIT_HEAD] - n[N_AUDIT_LEN] + i + size) % size;
    out.at = this.t[T_AUDIT + slot];
    // Made here, not kept at module level: only diagnostics ask.
    out.kind = ["open", "wrong", "lockout", "refused", "locked", "unlock"][n[N_AUDIT_KIND + slot]];
    out.who = this.auditTexts[2 * slot];
    out.detail = this.auditTexts[2 * slot + 1];
    return true;
  }

  /** The audit log as text, oldest first, one "at kind who detail" line each (diagnostics only: it allocates). */
  auditText(): string {
    const e: DoorAuditEntry = { at: 0, kind: "", who: "", detail: "" };
    let s = "";
    for (let i = 0; i < this.n[N_AUDIT_LEN]; i++) {
      this.auditEntry(i, e);
      s += (e.at / 1000).toFixed(3) + " s " + e.kind + " " + (e.who === "" ? "-" : e.who) + (e.detail === "" ? "" : " " + e.detail) + "\n";
    }
    return s;
  }

  // --- internals

  private expire(now: number): void {
    if (this.locked && now >= this.t[T_LOCKOUT_UNTIL]) {
      this.locked = false;
      this.n[N_FLAGS] &= ~F_CALLER_LOCKED;
      this.audit(now, AUDIT_UNLOCK, "", "");
    }
  }

  private newCaller(who: string): void {
    this.caller = who;
    this.n[N_FLAGS] = 0;
    this.n[N_ENTRY_LEN] = 0;
  }

  private audit(now: number, kind: number, who: string, detail: string): void {
    const n = this.n;
    const size = this.t.length - T_AUDIT;
    const slot = n[N_AUDIT_HEAD];
    this.t[T_AUDIT + slot] = now;
    n[N_AUDIT_KIND + slot] = kind;
    this.auditTexts[2 * slot] = who;
    this.auditTexts[2 * slot + 1] = detail;
    n[N_AUDIT_HEAD] = (slot + 1) % size;
    if (n[N_AUDIT_LEN] < size) n[N_AUDIT_LEN]++;
  }
}
