// Storage for the simulator: files in a folder (FileStorage) or in memory (MemoryStorage, for tests).
// Both behave as EspruinoStorage does: names of 1..28 characters (and, here, no path separators or dot
// names), contents binary strings (one char per byte, kept as latin1), and writing "" erases the file.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HAL_ERR_INVALID, HAL_ERR_NO_RESOURCES, HAL_ERR_PLATFORM, HAL_OK } from "../hal/errors.ts";
import type { Storage } from "../hal/types.ts";
import { STORAGE_NAME_MAX } from "../hal/espruino/storage.ts";

/** Whether a Storage name is usable on both platforms (and safe as a file name). */
export function storageNameOk(name: string): boolean {
  return name.length > 0 && name.length <= STORAGE_NAME_MAX && !/[\/\\\0]/.test(name) && name !== "." && name !== "..";
}

export class FileStorage implements Storage {
  /** The folder; made on the first write. */
  constructor(readonly dir: string) {}

  read(name: string): string | null {
    if (!storageNameOk(name)) return null;
    try {
      return readFileSync(join(this.dir, name), "latin1");
    } catch {
      return null;
    }
  }

  write(name: string, data: string): number {
    if (!storageNameOk(name)) return HAL_ERR_INVALID;
    if (data.length === 0) {
      this.erase(name);
      return HAL_OK;
    }
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, name), data, "latin1");
      return HAL_OK;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === "ENOSPC" || code === "EDQUOT" ? HAL_ERR_NO_RESOURCES : HAL_ERR_PLATFORM;
    }
  }

  erase(name: string): void {
    if (storageNameOk(name)) rmSync(join(this.dir, name), { force: true });
  }
}

export class MemoryStorage implements Storage {
  readonly files = new Map<string, string>();

  /** capacity: total bytes the files may hold (a full flash: write gives HAL_ERR_NO_RESOURCES). */
  constructor(readonly capacity = Infinity) {}

  /** Bytes held by all files. */
  used(): number {
    let n = 0;
    for (const data of this.files.values()) n += data.length;
    return n;
  }

  read(name: string): string | null {
    const data = this.files.get(name);
    return data === undefined ? null : data;
  }

  write(name: string, data: string): number {
    if (!storageNameOk(name)) return HAL_ERR_INVALID;
    if (data.length === 0) {
      this.files.delete(name);
      return HAL_OK;
    }
    if (this.used() - (this.files.get(name)?.length ?? 0) + data.length > this.capacity) return HAL_ERR_NO_RESOURCES;
    this.files.set(name, data);
    return HAL_OK;
  }

  erase(name: string): void {
    this.files.delete(name);
  }
}
