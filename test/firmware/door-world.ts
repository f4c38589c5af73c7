// A door phone registered with a registrar, and a resident's phone it calls, on the virtual network (flood and soak tests).
import { expect } from "vitest";
import { DoorPhone } from "../../firmware/phone.ts";
import { DEFAULT_ACCOUNT, type CallConfig } from "../../sip-core/index.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { Registrar } from "../../sim/registrar.ts";
import { ToneAudio } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform, type LinkConditions } from "../../sim/virtual.ts";

export const DOOR = "10.0.0.1", REGISTRAR = "10.0.0.100", RESIDENT = "10.0.0.2";
export const DOOR_CODE = "2580#";

export interface DoorWorldOptions {
  seed: number;
  link: Partial<LinkConditions>;
  /** The registration's expiry, asked and granted (refreshed at half). */
  expires: number;
  /** The resident answers this long after the INVITE. */
  answerDelayMs: number;
  calls?: Partial<CallConfig>;
}

/** The world, registered: the door (code DOOR_CODE, its button calls the resident, a keep-alive every 28 s). */
export function registeredDoor(o: DoorWorldOptions) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: o.seed, defaults: o.link, captureLimit: 16 });
  const registrar = new Registrar({ platform: new VirtualPlatform({ network, address: REGISTRAR }), address: REGISTRAR, port: 5060,
    realm: "sip.example.com", users: { door: "door-secret" }, maxExpires: o.expires });
  const board = new VirtualBoard(clock, new ToneAudio({ frequencies: 440 }));
  const door = new DoorPhone(new VirtualPlatform({ network, address: DOOR }), board, simPhoneConfig(DOOR, {
    code: DOOR_CODE, targets: ["sip:resident@" + RESIDENT + ":5060"],
    accounts: [{ ...DEFAULT_ACCOUNT, user: "door", password: "door-secret", domain: "sip.example.com", registrar: REGISTRAR, registrarPort: 5060,
      expires: o.expires, localAddress: DOOR, localPort: 5060, keepalive: 28 }],
    calls: o.calls,
  }));
  const resident = new DoorPhone(new VirtualPlatform({ network, address: RESIDENT }), new VirtualBoard(clock, new ToneAudio({ frequencies: 1000 })),
    simPhoneConfig(RESIDENT, { user: "resident", buttonPin: "", allow: [DOOR], autoAnswer: { delayMs: o.answerDelayMs } }));
  expect(registrar.open()).toBe(0);
  expect(door.open()).toBe(0);
  expect(resident.open()).toBe(0);
  door.registerAll();
  clock.advance(2000);
  return { clock, network, registrar, board, door, resident };
}

/**
 * What the door phone holds: objects, and the elements, bytes and characters in them, reachable from it
 * without crossing into the simulator's side of the HAL (network, sockets, clock, platform, board, log).
 */
export function footprint(root: object): { objects: number; size: number } {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let objects = 0, size = 0;
  // The simulator's side of the HAL (its board records every relay transition, its sockets their network).
  const outside = new Set(["VirtualNetwork", "VirtualClock", "VirtualPlatform", "VirtualBoard", "VirtualLog", "ToneAudio", "SeededRandom", "VirtualAlarm",
    "VirtualOutput", "VirtualInput", "VirtualUdpSocket", "VirtualTcpServer", "VirtualTcpConnection"]);
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") { size += v.length; continue; }
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    if (outside.has(v.constructor?.name ?? "")) continue;
    objects++;
    if (ArrayBuffer.isView(v)) { size += v.byteLength; continue; }
    for (const k of Object.keys(v)) {
      size++;
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return { objects, size };
}
