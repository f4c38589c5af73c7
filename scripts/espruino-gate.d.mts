// Types for espruino-gate.mjs, so TypeScript tests can import the gate.

/** One construct Espruino cannot run. `line` is 1-based, `column` 0-based (source-map convention). */
export interface Offence {
  construct: string;
  message: string;
  line: number;
  column: number;
  /** Original file as named in the source map (relative to the map's folder). */
  source?: string;
  sourceLine?: number;
  sourceColumn?: number;
}

/** Checks a bundle; with its source map, offences also carry the original source position. */
export function checkBundle(code: string, mapJson?: object | string): Offence[];

/** `file:line:col: construct — message`, at the original source when known. */
export function formatOffence(o: Offence, bundlePath: string, mapDir?: string): string;
