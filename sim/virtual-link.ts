// The simulator's network link: up at once with the endpoint's address; tests take it down and bring it back.
import type { NetworkLink, NetworkOptions } from "../hal/types.ts";

export class VirtualLink implements NetworkLink {
  private options: NetworkOptions | null = null;
  private up = false;
  /** connect() calls, and the options last given (ssid/password are kept for tests). */
  connects = 0;
  ssid = "";

  constructor(private readonly ip: string, private readonly schedule: (fn: () => void) => void) {}

  connect(options: NetworkOptions): number {
    this.options = options;
    this.connects++;
    this.ssid = options.ssid;
    this.schedule(() => this.bringUp());
    return 0;
  }

  address(): string { return this.up ? this.ip : ""; }

  /** The link drops (Wi-Fi gone): onDown. */
  takeDown(): void {
    if (!this.up || this.options === null) return;
    this.up = false;
    this.options.onDown();
  }

  /** The link is back: onUp with the address. */
  bringUp(): void {
    if (this.up || this.options === null) return;
    this.up = true;
    this.options.onUp(this.ip);
  }
}
