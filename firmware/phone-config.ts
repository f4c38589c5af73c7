// The door phone's runtime configuration: what firmware/config.ts produces from the stored JSON, with the defaults.
import { defaultCallConfig, type AccountConfig, type CallConfig, type TimerConfig } from "../sip-core/index.ts";
import type { DoorConfig } from "./door.ts";
import type { FloodConfig } from "./flood.ts";

// Call plan modes.
/** One target. */
export const PLAN_SINGLE = 0;
/** Targets one after the other: each rings for its own time; busy/decline/no answer moves on (configurable). */
export const PLAN_SEQUENTIAL = 1;
/** All targets at once: the first to answer wins, the others are cancelled. */
export const PLAN_PARALLEL = 2;

export interface CallTarget {
  uri: string;
  /** Seconds this target rings (0: the call's ringTimeout). */
  ringTimeout: number;
}

export interface CallPlan {
  mode: number;
  targets: CallTarget[];
  /** Sequential: the failures that move on to the next target (else the plan stops there). */
  nextOnBusy: boolean;
  nextOnDecline: boolean;
  nextOnNoAnswer: boolean;
  nextOnError: boolean;
}

export interface ButtonConfig {
  pin: number | string;
  plan: CallPlan;
  /** A press during a call hangs it up (else it is ignored). A press while an incoming call rings answers it. */
  hangupDuringCall: boolean;
}

// What happens to a caller the trust policy does not accept.
export const REFUSE_REJECT = 0;
/** Dropped without an answer (a scanner learns nothing); counted all the same. */
export const REFUSE_DROP = 1;

/**
 * Who may call in. An INVITE is accepted when any enabled rule accepts it; everything else is refused
 * (403) or dropped, and counted. The door code works only in calls the device placed or accepted.
 */
export interface TrustConfig {
  /** From the registrar or outbound proxy address of an account that is registered. */
  registrar: boolean;
  /** Addresses ("10.0.0.5") or URIs ("sip:alice@example.com", "alice@example.com") allowed directly. */
  allow: string[];
  /** Direct calls answered with a 401 digest challenge; accepted when the credentials match ("" user: off). */
  challengeUser: string;
  challengePassword: string;
  challengeRealm: string;
  refuse: number;
}

export interface AutoAnswerConfig {
  enabled: boolean;
  /** ms after the INVITE (180 Ringing meanwhile). */
  delayMs: number;
  /**
   * Who is auto-answered among accepted callers: empty = all of them; else entries like the trust allow
   * list, or "registrar" for calls through the registrar. Others ring until the button answers.
   */
  from: string[];
}

export interface PhoneConfig {
  address: string;
  port: number;
  accounts: AccountConfig[];
  calls: CallConfig;
  /** Call slots (each has its RTP session, allocated at boot). */
  callCapacity: number;
  transactions: number;
  timers: TimerConfig | null;
  door: DoorConfig;
  relayPin: number | string;
  relayActiveLow: boolean;
  buttons: ButtonConfig[];
  /** Status LED ("" for none): off unregistered, on registered, blinking while calling or in a call. */
  statusLed: number | string;
  ledActiveLow: boolean;
  trust: TrustConfig;
  autoAnswer: AutoAnswerConfig;
  /** SIP messages kept in the diagnostic trace ring (first line and size of each). */
  traceSize: number;
  /** 0 error, 1 warn, 2 info, 3 debug. */
  logLevel: number;
  /** Rate limits for SIP datagrams from untrusted sources (firmware/flood.ts). */
  flood: FloodConfig;
}

// Defaults are made fresh by these functions (two: each function costs the device ~5 variables), run at boot:
// the device keeps no template alive once its configuration is loaded. The DEFAULT_* objects are the same
// values shared (the simulator and tests; never changed), dropped from a bundle that does not use them.

export function defaultPlan(): CallPlan {
  return { mode: PLAN_SINGLE, targets: [], nextOnBusy: true, nextOnDecline: true, nextOnNoAnswer: true, nextOnError: true };
}

/** The whole configuration with its parts (door, trust, autoAnswer, calls), each object its own. */
export function defaultPhone(): PhoneConfig {
  return {
    address: "0.0.0.0", port: 5060, accounts: [], calls: defaultCallConfig(), callCapacity: 1, transactions: 16, timers: null,
    // No default code: a device must never ship with a code anyone can read in the source.
    door: { code: "", pulseMs: 3000, maxWrongCodes: 3, lockoutSeconds: 300, lockoutMaxSeconds: 86400, digitTimeoutMs: 5000, auditSize: 32, opensPerCall: 1 },
    relayPin: "D4", relayActiveLow: false, buttons: [], statusLed: "", ledActiveLow: false,
    trust: { registrar: true, allow: [], challengeUser: "", challengePassword: "", challengeRealm: "doorsip", refuse: REFUSE_REJECT },
    autoAnswer: { enabled: true, delayMs: 1000, from: [] }, traceSize: 16, logLevel: 2,
    flood: { rate: 20, burst: 40, total: 200, sources: 8, refuse: REFUSE_DROP },
  };
}

export const DEFAULT_PLAN: CallPlan = /* @__PURE__ */ defaultPlan();
export const DEFAULT_PHONE: PhoneConfig = /* @__PURE__ */ defaultPhone();
// DEFAULT_PHONE's parts, wrapped in a pure call: esbuild keeps a bare property read in every bundle.
export const DEFAULT_TRUST: TrustConfig = /* @__PURE__ */ (function (): TrustConfig { return DEFAULT_PHONE.trust; })();
export const DEFAULT_AUTO_ANSWER: AutoAnswerConfig = /* @__PURE__ */ (function (): AutoAnswerConfig { return DEFAULT_PHONE.autoAnswer; })();
