// The firmware from boot on the virtual network: stored configuration → network up → register → button → sequential plan → code → relay → hang up.
import { describe, expect, it } from "vitest";
import { INSTANCE_FILE, boot } from "../../firmware/boot.ts";
import { CONFIG_FILE } from "../../firmware/config.ts";
import { DoorPhone } from "../../firmware/phone.ts";
import { CALL_ACTIVE, REG_REGISTERED, REG_UNREGISTERED } from "../../sip-core/index.ts";
import { Endpoint } from "../../sim/endpoint.ts";
import { MemoryStorage } from "../../sim/file-storage.ts";
import { simPhoneConfig } from "../../sim/phone-setup.ts";
import { Registrar } from "../../sim/registrar.ts";
import { ToneAudio } from "../../sim/virtual-audio.ts";
import { VirtualBoard } from "../../sim/virtual-board.ts";
import { VirtualLink } from "../../sim/virtual-link.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";

const DOOR_CONFIG = {
  sip: { address: "10.0.0.1", port: 5060 },
  accounts: [{ user: "1001", password: "front-door-secret", domain: "sip.example.com", registrar: "10.0.0.100", expires: 600 }],
  buttons: [{ pin: "D0", plan: { mode: "sequential", targets: ["sip:busy@10.0.0.2:5060", { uri: "sip:resident@10.0.0.3:5060", ringTimeout: 20 }] } }],
  autoAnswer: { delayMs: 500 },
  trust: { allow: ["10.0.0.3"] },
  door: { code: "1234#", relayPin: "D4", pulseMs: 2000 },
  network: { ssid: "home", password: "wifi-secret" },
};

function world(configText: string | null) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed: 8, defaults: { latency: 12, jitter: 4 } });
  const registrar = new Registrar({ platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
    realm: "sip.example.com", users: { "1001": "front-door-secret" } });
  const busy = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2" }), address: "10.0.0.2", port: 5060, inviteStatus: 486 });
  const resident = new DoorPhone(new VirtualPlatform({ network, address: "10.0.0.3" }), new VirtualBoard(clock, new ToneAudio({ frequencies: 800 })),
    simPhoneConfig("10.0.0.3", { user: "resident", buttonPin: "", relayPin: "D5", allow: ["10.0.0.1"], autoAnswer: { delayMs: 1500 } }));
  for (const n of [registrar, busy, resident]) expect(n.open()).toBe(0);
  const storage = new MemoryStorage();
  if (configText !== null) storage.write(CONFIG_FILE, configText);
  const platform = new VirtualPlatform({ network, address: "10.0.0.1" });
  const board = new VirtualBoard(clock, new ToneAudio({ frequencies: 440 }));
  const link = new VirtualLink("10.0.0.1", (fn) => clock.schedule(clock.now() + 3000, fn)); // Wi-Fi joins in 3 s
  return { clock, network, registrar, busy, resident, storage, platform, board, link };
}

describe("boot", () => {
  it("boot → Wi-Fi → register → button → busy first target, second answers → 1234# → relay → hang up", () => {
    const w = world(JSON.stringify(DOOR_CONFIG));
    const b = boot(w.platform, w.board, w.storage, w.link);
    expect(b.problems).toEqual([]);
    expect(w.link.ssid).toBe("home");
    const phone = b.phone;
    expect(phone.sessions.length).toBe(1); // no sip.calls and no parallel plan: one call slot, reused by the plan
    w.clock.advance(2000);
    expect(w.registrar.history.length).toBe(0); // no network yet
    w.clock.advance(2000);
    expect(phone.registrations[0].state).toBe(REG_REGISTERED);
    expect(w.registrar.binding("1001")?.contact).toBe("sip:1001@10.0.0.1:5060;transport=udp");
    w.board.pressButton("D0", 120);
    w.clock.advance(4000);
    const calls = w.network.capture().filter((r) => r.from === "10.0.0.1" && r.data.startsWith("INVITE")).map((r) => r.to);
    expect(calls).toEqual(["10.0.0.2", "10.0.0.3"]);
    const call = phone.plan.answered!;
    expect(call.state).toBe(CALL_ACTIVE);
    for (const d of "1234#") w.resident.sessions[0].sendDigit(d.charCodeAt(0), 100);
    w.clock.advance(2200); // the code's digits arrive, each held 1 s of the stream for its order (DtmfReceiver)
    expect(w.board.transitions("D4").map((t) => t.on)).toEqual([true]);
    w.clock.advance(2500);
    expect(w.board.transitions("D4").map((t) => t.on)).toEqual([true, false]);
    w.resident.hangup(w.resident.ua.calls!.calls[0]);
    w.clock.advance(1000);
    expect(phone.ua.calls!.liveCount()).toBe(0);
    expect(phone.sessions.every((s) => !s.isRunning())).toBe(true);
    const status = JSON.parse(phone.status());
    expect(status.registrations[0].state).toBe("registered");
    expect(status.door.opens).toBe(1);
  });

  it("the instance id is made once and kept across boots", () => {
    const w = world(JSON.stringify(DOOR_CONFIG));
    const first = boot(w.platform, w.board, w.storage, w.link);
    const id = w.storage.read(INSTANCE_FILE)!;
    expect(id).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.config.accounts[0].instanceId).toBe(id);
    first.phone.close();
    const w2 = world(JSON.stringify(DOOR_CONFIG));
    w2.storage.write(INSTANCE_FILE, id);
    expect(boot(w2.platform, w2.board, w2.storage, w2.link).config.accounts[0].instanceId).toBe(id);
  });

  it("the network drops and comes back: the binding is distrusted, then registered again", () => {
    const w = world(JSON.stringify(DOOR_CONFIG));
    const { phone } = boot(w.platform, w.board, w.storage, w.link);
    w.clock.advance(5000);
    const reg = phone.registrations[0];
    expect(reg.state).toBe(REG_REGISTERED);
    w.link.takeDown();
    expect(reg.state).toBe(REG_UNREGISTERED);
    const before = w.registrar.history.length;
    w.link.bringUp();
    w.clock.advance(1000);
    expect(reg.state).toBe(REG_REGISTERED);
    expect(w.registrar.history.length).toBeGreaterThan(before);
  });

  it("a file that is not JSON: the problem is logged, the device boots on defaults and still answers OPTIONS", () => {
    const w = world("{ this is not json");
    const b = boot(w.platform, w.board, w.storage, w.link);
    expect(b.problems.length).toBe(1);
    expect(b.problems[0].path).toBe("");
    expect(w.platform.log.lines.some((l) => /config \(file\): /.test(l))).toBe(true);
    w.clock.advance(5000);
    expect(b.phone.boundPort()).toBe(5060);
    w.busy.sendRequest("OPTIONS", "sip:door@10.0.0.1", "10.0.0.1", 5060);
    w.clock.advance(500);
    expect(w.busy.events.some((e) => e.kind === "response" && e.detail === "200")).toBe(true);
  });

  it("no configuration file: defaults, one problem, no crash", () => {
    const w = world(null);
    const b = boot(w.platform, w.board, w.storage, w.link);
    expect(b.problems.map((p) => p.path)).toEqual([""]);
    w.clock.advance(5000);
    expect(b.phone.registrations.length).toBe(0);
  });

  it("a bad key keeps its default and is reported with its path; the rest of the file still applies", () => {
    const bad = JSON.parse(JSON.stringify(DOOR_CONFIG));
    bad.door.pulseMs = "long";
    bad.accounts[0].password = 42;
    const w = world(JSON.stringify(bad));
    const b = boot(w.platform, w.board, w.storage, w.link);
    const paths = b.problems.map((p) => p.path);
    expect(paths).toContain("door.pulseMs");
    expect(b.config.door.pulseMs).toBe(3000);
    expect(b.config.door.code).toBe("1234#");
    expect(w.platform.log.lines.join("\n")).not.toContain("42");
  });
});
