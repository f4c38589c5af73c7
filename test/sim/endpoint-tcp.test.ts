// §18.1.1 on the virtual network: a request near the MTU goes over TCP, its responses come back on the connection.
import { describe, expect, it } from "vitest";
import { Endpoint } from "../../sim/endpoint.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform } from "../../sim/virtual.ts";

function pair(seed: number) {
  const clock = new VirtualClock();
  const network = new VirtualNetwork({ clock, seed, defaults: { latency: 15 } });
  const door = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060 });
  const phone = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2" }), address: "10.0.0.2", port: 5060, inviteStatus: 486 });
  expect(door.open()).toBe(0);
  expect(phone.open()).toBe(0);
  return { clock, network, door, phone };
}

describe("transport selection by size (§18.1.1)", () => {
  it("a small INVITE goes by UDP; a 1,400-byte one by TCP, answered 486 and ACKed on the same connection", () => {
    const { clock, network, door, phone } = pair(3);
    door.sendRequest("INVITE", "sip:phone@10.0.0.2", "10.0.0.2", 5060);
    clock.runUntilIdle(120000);
    door.sendRequest("INVITE", "sip:phone@10.0.0.2", "10.0.0.2", 5060, 1100);
    clock.runUntilIdle(120000);
    const finals = door.events.filter((e) => e.kind === "response" && e.detail === "486");
    expect(finals.length).toBe(2);
    expect(door.events.some((e) => e.kind === "timeout")).toBe(false);
    const cap = network.capture();
    const udpInvites = cap.filter((r) => r.proto === "udp" && r.data.startsWith("INVITE "));
    expect(udpInvites.length).toBe(1);
    expect(udpInvites[0].data.length).toBeLessThan(1300);
    const tcp = cap.filter((r) => r.proto === "tcp").map((r) => r.data).join("");
    expect(tcp).toContain("Via: SIP/2.0/TCP 10.0.0.1:5060;branch=");
    expect(tcp).toContain("SIP/2.0 486 Busy Here");
    expect(tcp).toMatch(/ACK sip:phone@10\.0\.0\.2 SIP\/2\.0\r\nVia: SIP\/2\.0\/TCP/);
    expect(door.layer.active).toBe(0);
    expect(phone.layer.active).toBe(0);
  });

  it("on a path whose MTU would drop it as a datagram, the large request still arrives (by TCP)", () => {
    const { clock, network, door } = pair(4);
    network.setDefaults({ mtu: 1300 });
    door.sendRequest("OPTIONS", "sip:phone@10.0.0.2", "10.0.0.2", 5060, 1100);
    clock.runUntilIdle(120000);
    expect(network.stats.mtuDropped).toBe(0);
    expect(door.events.filter((e) => e.kind === "response" && e.detail === "200").length).toBe(1);
  });
});
