// Call plans: what a button press calls — one target, a sequence (each target rings for its time; busy, decline, no answer move on), or a parallel group (the first answer cancels the others).
import { CALL_ACTIVE, CALL_ENDED, type Call } from "../sip-core/index.ts";
import { PLAN_PARALLEL, PLAN_SEQUENTIAL, type CallPlan } from "./phone-config.ts";

/** Targets a plan follows at most (each parallel one needs a call slot). */
export const MAX_PLAN_TARGETS = 4;

// How a plan ended.
export const PLAN_IDLE = 0;
export const PLAN_RUNNING = 1;
export const PLAN_ANSWERED = 2;
export const PLAN_FAILED = 3;
export const PLAN_STOPPED = 4;

/** What a plan needs from the phone. */
export interface Dialer {
  call(uri: string): Call | null;
  hangup(call: Call): void;
  now(): number;
}

/** The targets a plan follows (at most MAX_PLAN_TARGETS). */
function targetCount(plan: CallPlan): number {
  return plan.targets.length < MAX_PLAN_TARGETS ? plan.targets.length : MAX_PLAN_TARGETS;
}

/**
 * Runs one plan at a time. Calls it starts are remembered by slot and serial (slots are reused), so
 * state changes of other calls are ignored.
 */
export class PlanRunner {
  state = PLAN_IDLE;
  private plan: CallPlan | null = null;
  private next = 0;
  /** The i-th call started: its slot at i, its serial at MAX_PLAN_TARGETS + i (-1: ended). One array: each costs ~3 variables. */
  private readonly calls: Int32Array = new Int32Array(2 * MAX_PLAN_TARGETS);
  private count = 0;
  private readonly dialer: Dialer;
  /** The call that answered, while it lasts. */
  answered: Call | null = null;
  /**
   * A sequential plan moves on at the next poll, not inside the ended call's state change: the slot that
   * call held is free only once every listener has heard the end (a one-slot phone reuses it).
   */
  pending = false;

  constructor(dialer: Dialer) {
    this.dialer = dialer;
  }

  /** Starts plan; false when it has no target or nothing could be called. */
  start(plan: CallPlan): boolean {
    this.plan = plan;
    this.pending = false;
    this.count = 0;
    this.next = 0;
    this.answered = null;
    this.state = PLAN_RUNNING;
    const n = targetCount(plan);
    if (plan.mode === PLAN_PARALLEL) {
      for (let i = 0; i < n; i++) this.dial(i);
      this.next = n;
    } else {
      while (this.next < n && !this.dial(this.next++)) { /* a target that cannot be called: the next one */ }
    }
    if (this.count === 0) this.state = PLAN_FAILED;
    return this.count > 0;
  }

  private dial(i: number): boolean {
    const plan = this.plan as CallPlan;
    const t = plan.targets[i];
    const c = this.dialer.call(t.uri);
    if (c === null) return false;
    if (t.ringTimeout > 0) c.ringAt = this.dialer.now() + t.ringTimeout * 1000;
    // A single-target plan still uses the slot table (count 1).
    this.calls[this.count] = c.index;
    this.calls[MAX_PLAN_TARGETS + this.count] = c.serial;
    this.count++;
    return true;
  }

  /** The caller gave up: every call the plan still has ringing is cancelled (an answered one is not the plan's any more). */
  stop(all: Call[]): void {
    if (this.state !== PLAN_RUNNING) return;
    this.pending = false;
    this.state = PLAN_STOPPED; // first: the ends these hang-ups cause must not restart the plan
    for (let i = 0; i < this.count; i++) {
      const o = all[this.calls[i]];
      if (o.serial === this.calls[MAX_PLAN_TARGETS + i] && o.live()) this.dialer.hangup(o);
    }
  }

  /** Every call state change of the phone. */
  onCallState(c: Call, all: Call[]): void {
    if (this.state !== PLAN_RUNNING) {
      if (this.answered === c && c.state === CALL_ENDED) this.answered = null;
      return;
    }
    let k = this.count - 1;
    while (k >= 0 && !(this.calls[k] === c.index && this.calls[MAX_PLAN_TARGETS + k] === c.serial)) k--;
    if (k < 0) return; // not one of the plan's calls
    if (c.state === CALL_ACTIVE) {
      this.state = PLAN_ANSWERED;
      this.answered = c;
      // Parallel: the first answer wins; the others are cancelled.
      for (let i = 0; i < this.count; i++) {
        if (i === k) continue;
        const o = all[this.calls[i]];
        if (o.serial === this.calls[MAX_PLAN_TARGETS + i] && o.live()) this.dialer.hangup(o);
      }
      return;
    }
    if (c.state !== CALL_ENDED) return;
    const plan = this.plan as CallPlan;
    this.calls[MAX_PLAN_TARGETS + k] = -1; // ended
    if (plan.mode === PLAN_PARALLEL) {
      for (let i = 0; i < this.count; i++) if (this.calls[MAX_PLAN_TARGETS + i] >= 0) return; // others still ring
      this.state = PLAN_FAILED;
      return;
    }
    // Why it failed, as the plan's nextOn options name it.
    const s = c.endStatus;
    const go = plan.mode === PLAN_SEQUENTIAL && (c.ringExpired || s === 408 || s === 480 ? plan.nextOnNoAnswer
      : s === 486 || s === 600 ? plan.nextOnBusy : s === 603 || s === 403 ? plan.nextOnDecline : plan.nextOnError); // else an error (4xx/5xx/6xx, transport)
    if (go && this.next < targetCount(plan)) this.pending = true;
    else this.state = PLAN_FAILED;
  }

  /** Dials the next target of a sequential plan when one is due (see pending). */
  poll(): void {
    if (!this.pending || this.state !== PLAN_RUNNING) return;
    this.pending = false;
    const n = targetCount(this.plan as CallPlan);
    const before = this.count;
    while (this.next < n && this.count === before && this.count < MAX_PLAN_TARGETS) this.dial(this.next++);
    if (this.count === before) this.state = PLAN_FAILED;
  }
}
