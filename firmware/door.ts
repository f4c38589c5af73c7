// Door relay logic: DTMF code entry, relay pulse, wrong-code lockout and an audit ring, driven by time passed in.
//
// Device code (Espruino): no default/rest/spread/destructuring, no Map/Set, no regexes, no closures per
// event; every buffer is allocated in the constructor. It never reads a clock or makes a timer: the owner
// passes `now` (ms), and arms one alarm at nextDeadline() that calls poll(now).
import type { DigitalOutput } from "../hal/types.ts";
import { earliest } from "../sip-core/timerheap.ts";
import { defaultPhone } from "./phone-config.ts";

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
  lockoutSeconds: number;
  /** A pause longer than this between digits clears the entry, ms; 0: no timeout. */
  digitTimeoutMs: number;
  /** Audit entries kept (the newest). */
  auditSize: number;
}

/** The defaults (defaultPhone() makes them) as one shared object, never changed. */
export const DEFAULT_DOOR: DoorConfig = /* @__PURE__ */ (function (): DoorConfig { return defaultPhone().door; })();

/** Digits held in the entry buffer (and the longest code accepted). */
export const DOOR_ENTRY_CAPACITY = 16;

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
  opens: number;
  wrongCodes: number;
  lockouts: number;
  /** Why DTMF opening is off despite a code being set ("" when fine). */
  readonly configError: string;

  /** null: the board could not open it (the door logic still runs and audits). */
  private relay: DigitalOutput | null;
  private pulseMs: number;
  private maxWrong: number;
  private lockoutMs: number;
  private digitTimeoutMs: number;
  /**
   * The codes' keys without the final '#' (none: DTMF opening disabled), and whether '#' submits them (else
   * they all have the same length).
   */
  private codes: string[];
  private hashMode: boolean;

  private entry: Uint8Array;
  private entryLen: number;
  /** More keys than the buffer holds were typed: the submission is wrong whatever it holds. */
  private entryOverflow: boolean;
  private lastDigitAt: number;
  /** The call the entry belongs to, and whether it was already audited as refused / locked. */
  private caller: string;
  private callerRefused: boolean;
  private callerLocked: boolean;

  private wrongStreak: number;
  /** DTMF opening is locked out (read it; poll() and onDigit() change it). */
  locked: boolean;
  private lockoutUntil: number;
  /** The relay is on (read it; open() and poll() change it). */
  relayOn: boolean;
  private relayOffAt: number;

  // Audit ring: parallel arrays, allocated once.
  private auditAt: Float64Array;
  private auditKind: Uint8Array;
  private auditWho: string[];
  private auditDetail: string[];
  private auditHead: number; // next slot to write
  private auditLen: number;

  constructor(config: DoorConfig, relay: DigitalOutput | null) {
    this.relay = relay;
    this.pulseMs = config.pulseMs > 0 ? config.pulseMs : 0;
    this.maxWrong = config.maxWrongCodes > 0 ? config.maxWrongCodes : 0;
    this.lockoutMs = config.lockoutSeconds > 0 ? config.lockoutSeconds * 1000 : 0;
    this.digitTimeoutMs = config.digitTimeoutMs > 0 ? config.digitTimeoutMs : 0;
    const problem = doorCodeProblem(config.code);
    this.configError = problem;
    const code = problem === "" ? config.code : "";
    this.codes = code.length > 0 ? code.split(",") : [];
    this.hashMode = code.length > 0 && code.charCodeAt(code.length - 1) === HASH;
    for (let i = 0; i < this.codes.length; i++) {
      const c = this.codes[i];
      if (this.hashMode) this.codes[i] = c.substring(0, c.length - 1);
    }

    this.entry = new Uint8Array(DOOR_ENTRY_CAPACITY);
    this.entryLen = 0;
    this.entryOverflow = false;
    this.lastDigitAt = 0;
    this.caller = "";
    this.callerRefused = false;
    this.callerLocked = false;

    this.opens = 0;
    this.wrongCodes = 0;
    this.lockouts = 0;
    this.wrongStreak = 0;
    this.locked = false;
    this.lockoutUntil = 0;
    this.relayOn = false;
    this.relayOffAt = 0;

    const size = config.auditSize > 0 ? Math.floor(config.auditSize) : 1;
    this.auditAt = new Float64Array(size);
    this.auditKind = new Uint8Array(size);
    // The text columns grow with the entries, up to size, then the ring reuses them: an empty slot would
    // cost two variables on Espruino (64 for the default 32 entries) before anything happened.
    this.auditWho = [];
    this.auditDetail = [];
    this.auditHead = 0;
    this.auditLen = 0;
  }

  /** True when a code is configured (and valid): DTMF can open the door. */
  dtmfEnabled(): boolean {
    return this.codes.length > 0;
  }

  /**
   * A DTMF key (char code of 0-9 * # A-D) from call `who`; `authorised` says whether that caller may
   * open the door. Returns DOOR_PENDING, DOOR_OPENED, DOOR_WRONG, DOOR_LOCKOUT, DOOR_REFUSED, DOOR_LOCKED
   * or DOOR_DISABLED.
   */
  onDigit(who: string, authorised: boolean, digit: number, now: number): number {
    this.expire(now);
    if (who !== this.caller) this.newCaller(who);
    if (!authorised) {
      // Audited once per call, so a caller pressing keys cannot flush the audit ring.
      if (!this.callerRefused) {
        this.callerRefused = true;
        this.audit(now, AUDIT_REFUSED, who, "caller not authorised");
      }
      return DOOR_REFUSED;
    }
    if (this.codes.length === 0) return DOOR_DISABLED;
    if (this.locked) {
      if (!this.callerLocked) {
        this.callerLocked = true;
        this.audit(now, AUDIT_LOCKED, who, "digits ignored during lockout");
      }
      return DOOR_LOCKED;
    }
    if (this.entryLen > 0 && this.digitTimeoutMs > 0 && now - this.lastDigitAt > this.digitTimeoutMs) this.clearEntry();
    this.lastDigitAt = now;

    // '*' clears; so does '#' for codes without it.
    if (digit === STAR || (digit === HASH && !this.hashMode)) {
      this.clearEntry();
      return DOOR_PENDING;
    }
    if (digit !== HASH) {
      if (this.entryLen < DOOR_ENTRY_CAPACITY) this.entry[this.entryLen++] = digit;
      else this.entryOverflow = true;
      // '#' mode waits for the '#'; codes without it are judged every len(code) keys.
      if (this.hashMode || this.entryLen < this.codes[0].length) return DOOR_PENDING;
    } else if (this.entryLen === 0 && !this.entryOverflow) return DOOR_PENDING; // a lone '#' is no attempt

    // The code the entry equals (k), if any. Every key is compared (no early exit), so timing does not
    // tell how many keys were right.
    let k = -1;
    for (let j = 0; j < this.codes.length && !this.entryOverflow; j++) {
      const code = this.codes[j];
      if (this.entryLen !== code.length) continue;
      let diff = 0;
      for (let i = 0; i < code.length; i++) diff |= this.entry[i] ^ code.charCodeAt(i);
      if (diff === 0 && k < 0) k = j;
    }
    this.clearEntry();
    if (k >= 0) {
      // Audited as "code" (one code) or "code k+1" (which resident's code, never its keys).
      this.wrongStreak = 0;
      this.open(who, this.codes.length > 1 ? "code " + (k + 1) : "code", now);
      return DOOR_OPENED;
    }
    this.wrongCodes++;
    this.wrongStreak++;
    this.audit(now, AUDIT_WRONG, who, this.maxWrong > 0 ? this.wrongStreak + "/" + this.maxWrong : "" + this.wrongStreak);
    if (this.maxWrong === 0 || this.wrongStreak < this.maxWrong || this.lockoutMs === 0) return DOOR_WRONG;
    this.wrongStreak = 0;
    this.lockouts++;
    this.locked = true;
    this.lockoutUntil = now + this.lockoutMs;
    this.callerLocked = true; // the lockout entry already says this call is locked out
    this.audit(now, AUDIT_LOCKOUT, who, this.lockoutMs / 1000 + " s");
    return DOOR_LOCKOUT;
  }

  /** The call `who` ended: its partial entry goes (lockout and the wrong-code streak stay). */
  callEnded(who: string): void {
    if (who === this.caller) this.newCaller("");
  }

  /** Opens the door for another cause (a local button, an API): pulses the relay and audits it; lockout does not apply. */
  open(who: string, reason: string, now: number): void {
    this.opens++;
    this.audit(now, AUDIT_OPEN, who, reason);
    // A second opening during a pulse extends it.
    this.relayOffAt = now + this.pulseMs;
    if (!this.relayOn) {
      this.relayOn = true;
      if (this.relay !== null) this.relay.write(true);
    }
  }

  /** The next time poll() has work (relay off, lockout end), or -1. */
  nextDeadline(): number {
    return earliest(this.relayOn ? this.relayOffAt : -1, this.locked ? this.lockoutUntil : -1);
  }

  /** Does what is due at `now`: ends the relay pulse, ends a lockout. */
  poll(now: number): void {
    if (this.relayOn && now >= this.relayOffAt) {
      this.relayOn = false;
      if (this.relay !== null) this.relay.write(false);
    }
    this.expire(now);
  }

  /** Keys in the current entry (0 after a submission, a '*', a timeout or the end of the call). */
  entryLength(): number {
    return this.entryLen;
  }

  /** Wrong codes since the last correct one (0 again after a lockout starts). */
  wrongStreakCount(): number {
    return this.wrongStreak;
  }

  // --- audit

  auditCount(): number {
    return this.auditLen;
  }

  /** Fills `out` with entry i (0 = oldest kept); false when there is no such entry. */
  auditEntry(i: number, out: DoorAuditEntry): boolean {
    if (i < 0 || i >= this.auditLen) return false;
    const size = this.auditAt.length;
    const slot = (this.auditHead - this.auditLen + i + size) % size;
    out.at = this.auditAt[slot];
    // Made here, not kept at module level: only diagnostics ask.
    out.kind = ["open", "wrong", "lockout", "refused", "locked", "unlock"][this.auditKind[slot]];
    out.who = this.auditWho[slot];
    out.detail = this.auditDetail[slot];
    return true;
  }

  /** The audit log as text, oldest first, one "at kind who detail" line each (diagnostics only: it allocates). */
  auditText(): string {
    const e: DoorAuditEntry = { at: 0, kind: "", who: "", detail: "" };
    let s = "";
    for (let i = 0; i < this.auditLen; i++) {
      this.auditEntry(i, e);
      s += (e.at / 1000).toFixed(3) + " s " + e.kind + " " + (e.who === "" ? "-" : e.who) + (e.detail === "" ? "" : " " + e.detail) + "\n";
    }
    return s;
  }

  // --- internals

  private expire(now: number): void {
    if (this.locked && now >= this.lockoutUntil) {
      this.locked = false;
      this.callerLocked = false;
      this.audit(now, AUDIT_UNLOCK, "", "");
    }
  }

  private newCaller(who: string): void {
    this.caller = who;
    this.callerRefused = false;
    this.callerLocked = false;
    this.clearEntry();
  }

  private clearEntry(): void {
    this.entryLen = 0;
    this.entryOverflow = false;
  }

  private audit(now: number, kind: number, who: string, detail: string): void {
    const size = this.auditAt.length;
    const slot = this.auditHead;
    this.auditAt[slot] = now;
    this.auditKind[slot] = kind;
    this.auditWho[slot] = who;
    this.auditDetail[slot] = detail;
    this.auditHead = (slot + 1) % size;
    if (this.auditLen < size) this.auditLen++;
  }
}
