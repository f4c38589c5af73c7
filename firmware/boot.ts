// Boot: read and check the stored configuration, make the door phone, bring the network up, register, and keep going through losses.
import type { Board, NetworkLink, Platform, Storage } from "../hal/types.ts";
import { LOG_ERROR, LOG_INFO, LOG_WARN } from "../hal/types.ts";
import { CONFIG_FILE, loadConfig, type ConfigProblem } from "./config.ts";
import { DoorPhone } from "./phone.ts";
import type { PhoneConfig } from "./phone-config.ts";

/** Where the device's RFC 5626 instance id is kept (made once, on the first boot). */
export const INSTANCE_FILE = "doorsip.uuid";

/**
 * The stored instance id, or a new urn:uuid (RFC 4122 version 4) from the platform's random numbers, written
 * back (so the registrar sees the same device after a reboot).
 */
function instanceId(platform: Platform, storage: Storage): string {
  const kept = storage.read(INSTANCE_FILE);
  if (kept !== null && kept.indexOf("urn:uuid:") === 0 && kept.length === 45) return kept;
  const hex = "0123456789abcdef";
  let id = "urn:uuid:";
  for (let i = 0; i < 32; i++) {
    let d = (platform.random.u32() >>> 0) & 15;
    if (i === 12) d = 4; // version 4
    else if (i === 16) d = (d & 3) | 8; // variant 10xx
    id += hex.charAt(d);
    if (i === 7 || i === 11 || i === 15 || i === 19) id += "-";
  }
  if (storage.write(INSTANCE_FILE, id) < 0) platform.log.write(LOG_WARN, "boot: could not store the instance id");
  return id;
}

/** What boot() made (an object literal: a class would cost the device ~10 variables more). */
export interface BootResult {
  /** The phone, the configuration it runs and the problems found in the stored one. */
  readonly phone: DoorPhone;
  readonly config: PhoneConfig;
  readonly problems: ConfigProblem[];
  /** The link's address once up ("" before). */
  address: string;
}

/**
 * Boots the door phone: the configuration from storage (each problem logged with its path, value
 * and why; safe defaults where it can), the phone, then the network link. When the link is up
 * the sockets open (first time) and every account registers; when it drops, the registrations
 * know; when it is back with another address, they register that one.
 */
export function boot(platform: Platform, board: Board, storage: Storage, link: NetworkLink): BootResult {
  const problems: ConfigProblem[] = [];
  const stored = loadConfig(storage.read(CONFIG_FILE), problems);
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i];
    platform.log.write(LOG_WARN, "config " + (p.path === "" ? "(file)" : p.path) + ": " + p.why + (p.value !== "" ? " (" + p.value + ")" : ""));
  }
  const config = stored.phone;
  let id = "";
  for (let i = 0; i < config.accounts.length; i++) {
    if (config.accounts[i].instanceId === "") {
      if (id === "") id = instanceId(platform, storage);
      config.accounts[i].instanceId = id;
    }
  }
  const phone = new DoorPhone(platform, board, config);
  const result: BootResult = { phone: phone, config: config, problems: problems, address: "" };
  let opened = false;
  const rc = link.connect({
    ssid: stored.ssid, password: stored.wifiPassword,
    onUp: function (address: string): void {
      // A link without its own address (wired, the host's network) keeps the configured one.
      const a = address !== "" ? address : config.address;
      const moved = result.address !== "" && result.address !== a;
      result.address = a;
      if (!opened) {
        const r = phone.open();
        if (r < 0) { platform.log.write(LOG_ERROR, "boot: SIP socket on port " + config.port + " failed (" + r + ")"); return; }
        opened = true;
      }
      phone.linkUp(a, moved);
      platform.log.write(LOG_INFO, "boot: network up (" + a + "), registering " + config.accounts.length + " account(s)");
    },
    onDown: function (): void {
      platform.log.write(LOG_WARN, "boot: network down");
      phone.linkDown();
    },
  });
  if (rc < 0) platform.log.write(LOG_ERROR, "boot: the network link could not start (" + rc + ")");
  return result;
}
