// Storage on Espruino: small named files in flash through require("Storage").
//
// Device code: no default/rest/spread/destructuring, no Map/Set, no regexes. Espruino facts (2v29):
// read() of a missing file gives undefined; write() returns true or false and throws for some failures;
// a zero-length file cannot be written (so writing "" erases the file, and read() then gives null); names
// longer than 28 characters are silently cut, so they are refused here (HAL_ERR_INVALID).
import type { Storage } from "../types.ts";
import { HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_OK } from "../errors.ts";

declare function require(name: string): any;

/** The longest Storage file name Espruino keeps. */
export const STORAGE_NAME_MAX = 28;

export class EspruinoStorage implements Storage {
  private s: any;

  constructor() {
    this.s = require("Storage");
  }

  read(name: string): string | null {
    try {
      const t = this.s.read(name);
      return typeof t === "string" ? t : null;
    } catch (e) {
      return null;
    }
  }

  write(name: string, data: string): number {
    if (name.length === 0 || name.length > STORAGE_NAME_MAX) return HAL_ERR_INVALID;
    if (data.length === 0) {
      this.erase(name);
      return HAL_OK;
    }
    try {
      return this.s.write(name, data) ? HAL_OK : HAL_ERR_NO_RESOURCES;
    } catch (e) {
      return HAL_ERR_NO_RESOURCES;
    }
  }

  erase(name: string): void {
    try {
      this.s.erase(name);
    } catch (e) {
      // nothing to erase, or the flash refused: the file stays as it was
    }
  }
}
