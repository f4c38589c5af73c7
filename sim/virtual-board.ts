// The simulator's board: virtual pins that record every output transition, buttons pressed by tests, and an optional audio device.
//
// Inputs behave like Espruino's setWatch with `debounce`: a level change is reported only once the pin
// has held it for `debounce` ms (timed on the clock's scheduler), so bounces shorter than that vanish.
import type {
  AudioDevice, AudioOptions, Board, Clock, DigitalInput, DigitalInputOptions, DigitalOutput, DigitalOutputOptions,
} from "../hal/types.ts";
import { HAL_ERR_ADDRESS_IN_USE, HAL_ERR_INVALID, HAL_ERR_UNSUPPORTED } from "../hal/errors.ts";

/** One change of an output's logical level ("on" = active, whatever the electrical polarity). */
export interface PinTransition {
  at: number;
  on: boolean;
}

/** A clock the board can time debounce and button releases on (VirtualClock is one). */
export interface BoardClock extends Clock {
  schedule?(at: number, fn: () => void): unknown;
  cancel?(ev: any): boolean;
}

/** The audio the board offers: a device (returned by every openAudio), or a factory called per openAudio. */
export type VirtualAudio = AudioDevice | ((options: AudioOptions) => AudioDevice | number);

const pinKey = (pin: number | string): string => String(pin);

export class VirtualOutput implements DigitalOutput {
  readonly pin: string;
  readonly activeLow: boolean;
  /** Every logical level change, oldest first (shared with the board's record of the pin). */
  readonly transitions: PinTransition[];
  /** write() calls, including those that did not change the level. */
  writes = 0;
  closed = false;
  private on = false;

  constructor(private board: VirtualBoard, pin: string, activeLow: boolean, transitions: PinTransition[]) {
    this.pin = pin;
    this.activeLow = activeLow;
    this.transitions = transitions;
  }

  write(on: boolean): void {
    if (this.closed) return;
    this.writes++;
    on = !!on;
    if (on === this.on) return;
    this.on = on;
    this.transitions.push({ at: this.board.clock.now(), on });
  }

  read(): boolean {
    return this.on;
  }

  /** The electrical level on the pin: high = true. */
  level(): boolean {
    return this.on !== this.activeLow;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.board.released(this.pin, this);
  }
}

export class VirtualInput implements DigitalInput {
  readonly pin: string;
  readonly activeLow: boolean;
  readonly debounce: number;
  closed = false;
  /** The debounced logical level (what onChange last reported). */
  private stable = false;
  private pending: unknown = null;
  private onChange: (on: boolean) => void;

  constructor(private board: VirtualBoard, pin: string, options: DigitalInputOptions) {
    this.pin = pin;
    this.activeLow = !!options.activeLow;
    this.debounce = options.debounce !== undefined && options.debounce > 0 ? options.debounce : 0;
    this.onChange = options.onChange;
    this.stable = this.logical(board.level(pin, this.activeLow));
  }

  read(): boolean {
    return this.stable;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelPending();
    this.board.released(this.pin, this);
  }

  /** The pin's electrical level changed (called by the board). */
  levelChanged(): void {
    if (this.closed) return;
    this.cancelPending();
    if (this.debounce === 0) {
      this.settle();
      return;
    }
    const clock = this.board.clock;
    if (!clock.schedule) throw new Error("VirtualBoard: an input with debounce needs a clock with schedule() (a VirtualClock)");
    this.pending = clock.schedule(clock.now() + this.debounce, () => {
      this.pending = null;
      this.settle();
    });
  }

  private settle(): void {
    const on = this.logical(this.board.level(this.pin, this.activeLow));
    if (on === this.stable) return; // bounced back within the debounce time
    this.stable = on;
    this.onChange(on);
  }

  private logical(high: boolean): boolean {
    return high !== this.activeLow;
  }

  private cancelPending(): void {
    if (this.pending !== null && this.board.clock.cancel) this.board.clock.cancel(this.pending);
    this.pending = null;
  }
}

/** A Board for the simulator: any pin name works; each pin has one user at a time. */
export class VirtualBoard implements Board {
  readonly clock: BoardClock;
  private audio: VirtualAudio | null;
  private outputs = new Map<string, VirtualOutput>();
  private inputs = new Map<string, VirtualInput>();
  /** Transitions per output pin, kept after the output closes (tests read them at the end). */
  private history = new Map<string, PinTransition[]>();
  /** Electrical level of each input pin driven so far (true = high). */
  private levels = new Map<string, boolean>();

  constructor(clock: BoardClock, audio: VirtualAudio | null = null) {
    this.clock = clock;
    this.audio = audio;
  }

  openOutput(options: DigitalOutputOptions): DigitalOutput | number {
    const key = validPin(options && options.pin);
    if (key === null) return HAL_ERR_INVALID;
    if (this.outputs.has(key) || this.inputs.has(key)) return HAL_ERR_ADDRESS_IN_USE; // the pin is taken
    let history = this.history.get(key);
    if (history === undefined) this.history.set(key, (history = []));
    const out = new VirtualOutput(this, key, !!options.activeLow, history);
    this.outputs.set(key, out);
    return out;
  }

  openInput(options: DigitalInputOptions): DigitalInput | number {
    const key = validPin(options && options.pin);
    if (key === null || typeof options.onChange !== "function") return HAL_ERR_INVALID;
    if (this.outputs.has(key) || this.inputs.has(key)) return HAL_ERR_ADDRESS_IN_USE;
    const input = new VirtualInput(this, key, options);
    this.inputs.set(key, input);
    return input;
  }

  openAudio(options: AudioOptions): AudioDevice | number {
    if (this.audio === null) return HAL_ERR_UNSUPPORTED;
    if (typeof this.audio === "function") return this.audio(options);
    return this.audio;
  }

  // --- for tests and the simulator

  /** The open output on a pin, if any. */
  output(pin: number | string): VirtualOutput | undefined {
    return this.outputs.get(pinKey(pin));
  }

  /** The open input on a pin, if any. */
  input(pin: number | string): VirtualInput | undefined {
    return this.inputs.get(pinKey(pin));
  }

  /** Every logical transition of an output pin since the board started (also after close). */
  transitions(pin: number | string): PinTransition[] {
    return (this.history.get(pinKey(pin)) ?? []).slice();
  }

  /** An output pin's logical level now (false when never opened). */
  isOn(pin: number | string): boolean {
    const out = this.outputs.get(pinKey(pin));
    return out !== undefined && out.read();
  }

  /**
   * Drives an input pin's electrical level (true = high). The input reports the change after its
   * debounce time if the level is still different then.
   */
  setLevel(pin: number | string, high: boolean): void {
    const key = pinKey(pin);
    const before = this.levels.get(key);
    this.levels.set(key, high);
    const input = this.inputs.get(key);
    if (input !== undefined && before !== high) input.levelChanged();
  }

  /** Presses (on = true) or releases a button: the electrical level follows the input's activeLow. */
  press(pin: number | string, on: boolean): void {
    const input = this.inputs.get(pinKey(pin));
    const activeLow = input !== undefined && input.activeLow;
    this.setLevel(pin, on !== activeLow);
  }

  /** Presses a button now and releases it `ms` later (on the clock's scheduler). */
  pressButton(pin: number | string, ms: number): void {
    if (!this.clock.schedule) throw new Error("VirtualBoard.pressButton needs a clock with schedule() (a VirtualClock)");
    this.press(pin, true);
    this.clock.schedule(this.clock.now() + ms, () => this.press(pin, false));
  }

  /** An input pin's electrical level; a pin not driven yet idles at its released level (pulled up when activeLow). */
  level(pin: string, activeLow: boolean): boolean {
    const v = this.levels.get(pin);
    return v === undefined ? activeLow : v;
  }

  /** Called by a pin object when it closes. */
  released(pin: string, user: VirtualOutput | VirtualInput): void {
    if (this.outputs.get(pin) === user) this.outputs.delete(pin);
    if (this.inputs.get(pin) === user) this.inputs.delete(pin);
  }
}

function validPin(pin: unknown): string | null {
  if (typeof pin === "number") return Number.isInteger(pin) && pin >= 0 ? String(pin) : null;
  if (typeof pin === "string") return pin.length > 0 ? pin : null;
  return null;
}
