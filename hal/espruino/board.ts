// The board on Espruino: relay/LED outputs with digitalWrite, buttons with setWatch; no audio (board-specific).
//
// Device code: no default/rest/spread/destructuring, no Map/Set, no regexes; the one watch callback of an
// input is made when it opens, never per event. Pins are numbers or names ("D4"), as Espruino takes them.
import type {
  AudioDevice, AudioOptions, Board, DigitalInput, DigitalInputOptions, DigitalOutput, DigitalOutputOptions,
} from "../types.ts";
import { HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_ERR_UNSUPPORTED } from "../errors.ts";

// Espruino globals (no @types for them).
declare function digitalWrite(pin: number | string, value: boolean): void;
declare function digitalRead(pin: number | string): number;
declare function pinMode(pin: number | string, mode: string): void;
declare function setWatch(fn: (e: { state: boolean; time: number }) => void, pin: number | string, options: object): number;
declare function clearWatch(id: number): void;

/** The electrical level for a logical one: on, unless the pin is active low. */
function levelFor(on: boolean, activeLow: boolean): boolean {
  return on !== activeLow;
}

export class EspruinoOutput implements DigitalOutput {
  private pin: number | string;
  private activeLow: boolean;
  private on: boolean;
  private closed: boolean;

  constructor(pin: number | string, activeLow: boolean) {
    this.pin = pin;
    this.activeLow = activeLow;
    this.on = false;
    this.closed = false;
  }

  write(on: boolean): void {
    if (this.closed) return;
    this.on = !!on;
    digitalWrite(this.pin, levelFor(this.on, this.activeLow));
  }

  read(): boolean {
    return this.on;
  }

  /** Leaves the pin driven off: a floating relay input could switch the door. */
  close(): void {
    if (this.closed) return;
    this.on = false;
    digitalWrite(this.pin, levelFor(false, this.activeLow));
    this.closed = true;
  }
}

export class EspruinoInput implements DigitalInput {
  private pin: number | string;
  private activeLow: boolean;
  private on: boolean;
  private watch: number;
  private onChange: (on: boolean) => void;

  constructor(pin: number | string, options: DigitalInputOptions) {
    this.pin = pin;
    this.activeLow = !!options.activeLow;
    this.onChange = options.onChange;
    this.on = levelFor(digitalRead(pin) !== 0, this.activeLow);
    this.watch = 0;
  }

  /** Starts the watch; false when Espruino refused it (no free watch/interrupt line for the pin). */
  start(debounce: number): boolean {
    const self = this;
    try {
      this.watch = setWatch(function (e: { state: boolean; time: number }) {
        const on = levelFor(!!e.state, self.activeLow);
        // Debounced edges may repeat a level; report changes only.
        if (on === self.on) return;
        self.on = on;
        self.onChange(on);
      }, this.pin, { repeat: true, edge: "both", debounce: debounce });
    } catch (e) {
      return false;
    }
    return !!this.watch;
  }

  read(): boolean {
    return this.on;
  }

  close(): void {
    // clearWatch() with no argument clears every watch: only ever clear our own.
    if (this.watch) clearWatch(this.watch);
    this.watch = 0;
  }
}

export class EspruinoBoard implements Board {
  constructor() {}

  openOutput(options: DigitalOutputOptions): DigitalOutput | number {
    const pin = options.pin;
    const activeLow = !!options.activeLow;
    try {
      // Drive the off level before the pin becomes an output, so an active-low relay does not click.
      digitalWrite(pin, levelFor(false, activeLow));
      pinMode(pin, "output");
    } catch (e) {
      return HAL_ERR_INVALID; // not a pin this board has
    }
    return new EspruinoOutput(pin, activeLow);
  }

  openInput(options: DigitalInputOptions): DigitalInput | number {
    const pin = options.pin;
    let input: EspruinoInput;
    try {
      // An active-low button goes to ground: hold the pin high with the internal pull-up.
      pinMode(pin, options.activeLow ? "input_pullup" : "input");
      input = new EspruinoInput(pin, options);
    } catch (e) {
      return HAL_ERR_INVALID;
    }
    const debounce = options.debounce !== undefined && options.debounce > 0 ? options.debounce : 0;
    if (!input.start(debounce)) return HAL_ERR_NO_RESOURCES;
    return input;
  }

  /** Audio hardware (I2S codec, DAC/ADC pins) differs per board: a board-specific Board provides it. */
  openAudio(options: AudioOptions): AudioDevice | number {
    return HAL_ERR_UNSUPPORTED;
  }
}
