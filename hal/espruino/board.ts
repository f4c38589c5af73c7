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

/** EspruinoPin.watch of an open output (watch ids are positive). */
const OUTPUT = -1;

/**
 * A pin opened as an output (the door relay, an LED: write drives it, starting off) or as an input (a
 * button: a watch reports debounced changes). One class for both: a class apiece would cost its own
 * constructor, prototype and read/close methods on the device. The electrical level is `on !== inverted`.
 */
export class EspruinoPin implements DigitalOutput, DigitalInput {
  private pin: number | string;
  /** @internal The options' activeLow (a name of 8 characters at most fits its variable on Espruino). */
  inverted: boolean;
  /** @internal The level last written, or the debounced input level ("on" = true). */
  on: boolean;
  /** @internal An input's watch (> 0); OUTPUT for an open output; 0 for an input not watched yet and once closed. */
  watch: number;

  constructor(pin: number | string, inverted: boolean, on: boolean, watch: number) {
    this.pin = pin;
    this.inverted = inverted;
    this.on = on;
    this.watch = watch;
  }

  /** Drives an open output; ignored on inputs and closed outputs. */
  write(on: boolean): void {
    if (this.watch !== OUTPUT) return;
    this.on = !!on;
    digitalWrite(this.pin, this.on !== this.inverted);
  }

  read(): boolean {
    return this.on;
  }

  /** An output is left driven off (a floating relay input could switch the door); an input's watch is cleared. */
  close(): void {
    if (this.watch === OUTPUT) {
      this.on = false;
      digitalWrite(this.pin, this.inverted);
    } else if (this.watch > 0) {
      // clearWatch() with no argument clears every watch: only ever clear our own.
      clearWatch(this.watch);
    }
    this.watch = 0;
  }
}

export class EspruinoBoard implements Board {
  openOutput(options: DigitalOutputOptions): DigitalOutput | number {
    const pin = options.pin;
    const activeLow = !!options.activeLow;
    try {
      // Drive the off level before the pin becomes an output, so an active-low relay does not click.
      digitalWrite(pin, activeLow);
      pinMode(pin, "output");
    } catch (e) {
      return HAL_ERR_INVALID; // not a pin this board has
    }
    return new EspruinoPin(pin, activeLow, false, OUTPUT);
  }

  openInput(options: DigitalInputOptions): DigitalInput | number {
    const pin = options.pin;
    const activeLow = !!options.activeLow;
    let input: EspruinoPin;
    try {
      // An active-low button goes to ground: hold the pin high with the internal pull-up.
      pinMode(pin, activeLow ? "input_pullup" : "input");
      input = new EspruinoPin(pin, activeLow, (digitalRead(pin) !== 0) !== activeLow, 0);
    } catch (e) {
      return HAL_ERR_INVALID;
    }
    try {
      // The input's one callback, made here (it keeps this call's scope, so the options' onChange needs no field).
      input.watch = setWatch(function (e: { state: boolean; time: number }) {
        const on = !!e.state !== activeLow;
        // Debounced edges may repeat a level; report changes only.
        if (on === input.on) return;
        input.on = on;
        options.onChange(on);
      }, pin, { repeat: true, edge: "both", debounce: options.debounce !== undefined && options.debounce > 0 ? options.debounce : 0 });
    } catch (e) {
      // no free watch/interrupt line for the pin
    }
    return input.watch > 0 ? input : HAL_ERR_NO_RESOURCES;
  }

  /** Audio hardware (I2S codec, DAC/ADC pins) differs per board: a board-specific Board provides it. */
  openAudio(options: AudioOptions): AudioDevice | number {
    return HAL_ERR_UNSUPPORTED;
  }
}
