// Door-phone configurations for the simulator, the demo and the tests: DEFAULT_PHONE with the few things a scenario changes.
import { DEFAULT_DOOR, type DoorConfig } from "../firmware/door.ts";
import type { FloodConfig } from "../firmware/flood.ts";
import {
  DEFAULT_AUTO_ANSWER, DEFAULT_PHONE, DEFAULT_PLAN, DEFAULT_TRUST, PLAN_SINGLE,
  type AutoAnswerConfig, type CallPlan, type PhoneConfig, type TrustConfig,
} from "../firmware/phone-config.ts";
import { DEFAULT_CALL_CONFIG, type AccountConfig, type CallConfig } from "../sip-core/index.ts";

export interface SimPhoneOptions {
  port?: number;
  /** Our user part (calls.user). */
  user?: string;
  accounts?: AccountConfig[];
  /** The first button's plan targets (ring timeout 0: the call's); "" buttonPin: no button. */
  targets?: string[];
  plan?: Partial<CallPlan>;
  buttonPin?: string;
  hangupDuringCall?: boolean;
  /** trust.allow */
  allow?: string[];
  trust?: Partial<TrustConfig>;
  autoAnswer?: Partial<AutoAnswerConfig>;
  /** The door code (DTMF opening off when absent). */
  code?: string;
  door?: Partial<DoorConfig>;
  relayPin?: string;
  statusLed?: string;
  calls?: Partial<CallConfig>;
  callCapacity?: number;
  transactions?: number;
  /** Flood control (firmware/flood.ts) over the defaults; { rate: 0, total: 0 } turns it off. */
  flood?: Partial<FloodConfig>;
}

export function simPhoneConfig(address: string, o: SimPhoneOptions): PhoneConfig {
  const port = o.port ?? 5060;
  const plan: CallPlan = { ...DEFAULT_PLAN, mode: PLAN_SINGLE, targets: (o.targets ?? []).map((uri) => ({ uri, ringTimeout: 0 })), ...o.plan };
  const buttons = o.buttonPin === "" || plan.targets.length === 0 && o.buttonPin === undefined && o.targets === undefined
    ? [] : [{ pin: o.buttonPin ?? "D0", plan, hangupDuringCall: o.hangupDuringCall ?? true }];
  return {
    ...DEFAULT_PHONE,
    address, port, accounts: o.accounts ?? [],
    calls: { ...DEFAULT_CALL_CONFIG, user: o.user ?? "door", localAddress: address, localPort: port, rtpAddress: address, ...o.calls },
    callCapacity: o.callCapacity ?? 2, transactions: o.transactions ?? 32,
    door: { ...DEFAULT_DOOR, code: o.code ?? "", ...o.door }, relayPin: o.relayPin ?? "D4",
    buttons, statusLed: o.statusLed ?? "",
    trust: { ...DEFAULT_TRUST, allow: o.allow ?? [], ...o.trust },
    autoAnswer: { ...DEFAULT_AUTO_ANSWER, ...o.autoAnswer },
    flood: { ...DEFAULT_PHONE.flood, ...o.flood },
  };
}
