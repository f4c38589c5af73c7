// The network link on Espruino: the Wifi module (ESP32, ESP8266) with reconnection; a wired or host link (no SSID) is simply up.
import type { NetworkLink, NetworkOptions } from "../types.ts";
import { HAL_ERR_PLATFORM } from "../errors.ts";

declare function require(name: string): any;
declare function setTimeout(fn: () => void, ms: number): number;

/** After a failed connect or a loss, the next attempt waits this long (ms). */
const RETRY_MS = 10000;

export class EspruinoLink implements NetworkLink {
  private ip = "";
  private options: NetworkOptions | null = null;
  private wifi: any = null;

  connect(options: NetworkOptions): number {
    this.options = options;
    const self = this;
    if (options.ssid === "") {
      // No Wi-Fi to join (Ethernet, or the Linux build on its host's network): up at once, address from the config.
      setTimeout(function (): void { options.onUp(""); }, 0);
      return 0;
    }
    try {
      this.wifi = require("Wifi");
      this.wifi.on("connected", function (details: { ip?: string }): void {
        self.ip = details && details.ip ? details.ip : "";
        options.onUp(self.ip);
      });
      this.wifi.on("disconnected", function (): void {
        self.ip = "";
        options.onDown();
        setTimeout(function (): void { self.join(); }, RETRY_MS);
      });
    } catch (e) {
      return HAL_ERR_PLATFORM;
    }
    this.join();
    return 0;
  }

  private join(): void {
    const o = this.options;
    if (o === null || this.wifi === null || this.ip !== "") return;
    const self = this;
    try {
      this.wifi.connect(o.ssid, { password: o.password }, function (err: unknown): void {
        if (err) setTimeout(function (): void { self.join(); }, RETRY_MS);
      });
    } catch (e) {
      setTimeout(function (): void { self.join(); }, RETRY_MS);
    }
  }

  address(): string { return this.ip; }
}
