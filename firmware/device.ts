// The device's entry: the door phone booted on Espruino's HAL (storage, Wi-Fi or wired link, board, platform).
import { EspruinoBoard } from "../hal/espruino/board.ts";
import { EspruinoLink } from "../hal/espruino/network.ts";
import { EspruinoPlatform } from "../hal/espruino/platform.ts";
import { EspruinoStorage } from "../hal/espruino/storage.ts";
import { boot, type BootResult } from "./boot.ts";

/** Boots the door phone from the configuration in Storage ("doorsip.json"); call it from onInit. */
export function start(): BootResult {
  return boot(new EspruinoPlatform({ logLevel: 2 }), new EspruinoBoard(), new EspruinoStorage(), new EspruinoLink());
}

export { boot };
