// VirtualBoard: output transitions, inputs with activeLow and debounce, button presses on the virtual clock, audio.
import { describe, expect, it } from "vitest";
import { HAL_ERR_ADDRESS_IN_USE, HAL_ERR_INVALID, HAL_ERR_UNSUPPORTED } from "../../hal/errors.ts";
import type { AudioDevice, DigitalInput, DigitalOutput } from "../../hal/types.ts";
import { VirtualClock } from "../../sim/virtual.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";

const silentAudio = (): AudioDevice => ({ read: () => 0, write: () => {}, close: () => {} });

describe("VirtualBoard outputs", () => {
  it("record each logical transition with its time, not repeated writes", () => {
    const clock = new VirtualClock({ start: 5 });
    const board = new VirtualBoard(clock);
    const led = board.openOutput({ pin: 2 }) as DigitalOutput;
    expect(led.read()).toBe(false);
    led.write(true);
    clock.advance(10);
    led.write(true);
    clock.advance(10);
    led.write(false);
    expect(board.transitions(2)).toEqual([{ at: 5, on: true }, { at: 25, on: false }]);
    expect(board.transitions("2")).toEqual(board.transitions(2));
    expect(board.output(2)!.writes).toBe(3);
  });

  it("active low inverts the electrical level, not the logical one", () => {
    const board = new VirtualBoard(new VirtualClock());
    board.openOutput({ pin: "D4", activeLow: true });
    const out = board.output("D4")!;
    expect(out.level()).toBe(true); // off = high
    out.write(true);
    expect(out.level()).toBe(false);
    expect(board.isOn("D4")).toBe(true);
  });

  it("keeps the history after close, ignores writes after close, and frees the pin", () => {
    const board = new VirtualBoard(new VirtualClock());
    const a = board.openOutput({ pin: 1 }) as DigitalOutput;
    expect(board.openOutput({ pin: 1 })).toBe(HAL_ERR_ADDRESS_IN_USE);
    expect(board.openInput({ pin: 1, onChange: () => {} })).toBe(HAL_ERR_ADDRESS_IN_USE);
    a.write(true);
    a.close();
    a.write(false);
    expect(board.transitions(1)).toEqual([{ at: 0, on: true }]);
    const b = board.openOutput({ pin: 1 }) as DigitalOutput;
    expect(typeof b).toBe("object");
    b.write(true);
    expect(board.transitions(1).length).toBe(2);
  });

  it("refuses a bad pin", () => {
    const board = new VirtualBoard(new VirtualClock());
    expect(board.openOutput({ pin: "" })).toBe(HAL_ERR_INVALID);
    expect(board.openOutput({ pin: -1 })).toBe(HAL_ERR_INVALID);
    expect(board.openInput({ pin: 3 } as any)).toBe(HAL_ERR_INVALID);
  });
});

describe("VirtualBoard inputs", () => {
  it("without debounce, press and release are reported at once", () => {
    const board = new VirtualBoard(new VirtualClock());
    const seen: boolean[] = [];
    const btn = board.openInput({ pin: 0, onChange: (on) => seen.push(on) }) as DigitalInput;
    expect(btn.read()).toBe(false);
    board.press(0, true);
    expect(btn.read()).toBe(true);
    board.press(0, true); // no change, no event
    board.press(0, false);
    expect(seen).toEqual([true, false]);
  });

  it("active low: idle high, pressed pulls low; setLevel drives the electrical level", () => {
    const board = new VirtualBoard(new VirtualClock());
    const seen: boolean[] = [];
    const btn = board.openInput({ pin: "D0", activeLow: true, onChange: (on) => seen.push(on) }) as DigitalInput;
    expect(board.level("D0", true)).toBe(true);
    expect(btn.read()).toBe(false);
    board.press("D0", true);
    expect(board.level("D0", true)).toBe(false);
    board.setLevel("D0", true);
    board.setLevel("D0", false);
    expect(seen).toEqual([true, false, true]);
  });

  it("debounce: a change is reported after it held for debounce ms; shorter bounces vanish", () => {
    const clock = new VirtualClock();
    const board = new VirtualBoard(clock);
    const seen: [number, boolean][] = [];
    board.openInput({ pin: 5, debounce: 20, onChange: (on) => seen.push([clock.now(), on]) });
    board.press(5, true);
    clock.advance(5);
    board.press(5, false); // bounce
    clock.advance(5);
    board.press(5, true); // t=10
    clock.advance(19);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(seen).toEqual([[30, true]]);
    board.press(5, false); // t=30
    clock.advance(10);
    board.press(5, true); // back before 20 ms: nothing
    clock.advance(100);
    expect(seen).toEqual([[30, true]]);
  });

  it("pressButton presses now and releases later on the clock", () => {
    const clock = new VirtualClock({ start: 100 });
    const board = new VirtualBoard(clock);
    const seen: [number, boolean][] = [];
    board.openInput({ pin: 7, activeLow: true, debounce: 10, onChange: (on) => seen.push([clock.now(), on]) });
    board.pressButton(7, 500);
    clock.runUntilIdle(10_000);
    expect(seen).toEqual([[110, true], [610, false]]);
  });

  it("a closed input reports nothing, even a change pending its debounce", () => {
    const clock = new VirtualClock();
    const board = new VirtualBoard(clock);
    const seen: boolean[] = [];
    const btn = board.openInput({ pin: 5, debounce: 20, onChange: (on) => seen.push(on) }) as DigitalInput;
    board.press(5, true);
    btn.close();
    clock.advance(100);
    board.press(5, false);
    expect(seen).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it("debounce and pressButton need a scheduling clock", () => {
    const board = new VirtualBoard({ now: () => 0 });
    board.openInput({ pin: 1, debounce: 5, onChange: () => {} });
    expect(() => board.press(1, true)).toThrow(/schedule/);
    expect(() => board.pressButton(2, 100)).toThrow(/schedule/);
  });
});

describe("VirtualBoard audio", () => {
  it("is unsupported without a device", () => {
    expect(new VirtualBoard(new VirtualClock()).openAudio({ sampleRate: 8000 })).toBe(HAL_ERR_UNSUPPORTED);
  });

  it("returns the given device, or what the factory makes", () => {
    const dev = silentAudio();
    expect(new VirtualBoard(new VirtualClock(), dev).openAudio({ sampleRate: 8000 })).toBe(dev);
    const rates: number[] = [];
    const board = new VirtualBoard(new VirtualClock(), (o) => { rates.push(o.sampleRate); return o.sampleRate === 8000 ? silentAudio() : HAL_ERR_INVALID; });
    expect(typeof board.openAudio({ sampleRate: 8000 })).toBe("object");
    expect(board.openAudio({ sampleRate: 16000 })).toBe(HAL_ERR_INVALID);
    expect(rates).toEqual([8000, 16000]);
  });
});
