// Read-only tables: filled once when their module loads and never written after, so a device can keep them in flash.

/**
 * Marks `table` (a typed array a module has just filled) as read-only from here on, and returns it. Declare one as
 * `export const NAME = rom(expression)`: the device build evaluates the expression when it builds and writes the
 * table's bytes into the bundle instead (an Espruino ArrayBuffer over them, which the firmware written to Storage
 * keeps in flash: ~3 variables, where the array filled in RAM costs one per ~20 bytes, for the device's life).
 * Writing into a table after this is a bug: on the device the write would go nowhere.
 */
export function rom<T extends Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array>(table: T): T {
  return table;
}
