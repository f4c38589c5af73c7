// The `npm start` demo: the door phone's stack on the virtual network, registering with digest and reaching a phone, as a ladder.
//
// Until the firmware exists (issue 6) and the demo runs on real sockets (issue 7), this plays what the
// stack does today: boot, REGISTER / 401 / REGISTER / 200 with a simulated registrar, an OPTIONS ping to
// the resident's phone, a refresh, and the orderly unregister, on a deterministic virtual clock.
import { Endpoint } from "./endpoint.ts";
import { Registrar } from "./registrar.ts";
import { VirtualClock, VirtualNetwork, VirtualPlatform, type CaptureRecord } from "./virtual.ts";

const NAMES: Record<string, string> = { "10.0.0.1": "door", "10.0.0.100": "registrar", "10.0.0.2": "phone" };
const COLUMNS = ["door", "registrar", "phone"];
const WIDTH = 22;

/** One ladder line: time, an arrow from one column to another, and the first line of the message. */
function ladderLine(r: CaptureRecord): string {
  const from = COLUMNS.indexOf(NAMES[r.from] || r.from);
  const to = COLUMNS.indexOf(NAMES[r.to] || r.to);
  const first = r.data.length <= 4 ? (r.data.length === 4 ? "ping (CRLF CRLF)" : "pong (CRLF)") : r.data.substring(0, r.data.indexOf("\r\n"));
  const label = first.startsWith("SIP/2.0 ") ? first.substring(8) : first.split(" ")[0];
  const callId = /\r\nCall-ID: *([^\r\n@]{0,8})/i.exec(r.data);
  const cells: string[] = [];
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  for (let c = 0; c < COLUMNS.length; c++) {
    if (c < lo || c >= hi) cells.push(c === COLUMNS.length - 1 ? "|" : "|".padEnd(WIDTH));
    else if (c === lo) {
      const span = (hi - lo) * WIDTH - 1;
      const text = (" " + label + " ").substring(0, span - 2);
      const dashes = span - text.length;
      const left = Math.floor(dashes / 2);
      const arrow = from < to
        ? "-".repeat(left) + text + "-".repeat(dashes - left - 1) + ">"
        : "<" + "-".repeat(left - 1) + text + "-".repeat(dashes - left);
      cells.push("|" + arrow);
    }
  }
  const t = (r.time / 1000).toFixed(3).padStart(9);
  const fate = r.fate === "delivered" ? "" : "  [" + r.fate + "]";
  return `${t}  ${cells.join("")}  ${callId ? callId[1] : ""}${fate}`;
}

export function runDemo(args: string[]): number {
  const verbose = args.indexOf("--verbose") >= 0;
  const clock = new VirtualClock();
  const lines: string[] = [];
  const network = new VirtualNetwork({
    clock, seed: 2026, defaults: { latency: 12, jitter: 6 },
    observer: (r) => { if (r.proto === "udp" && r.fate !== "pending") lines.push(ladderLine(r) + (verbose ? "\n" + r.data : "")); },
  });
  const registrar = new Registrar({
    platform: new VirtualPlatform({ network, address: "10.0.0.100" }), address: "10.0.0.100", port: 5060,
    realm: "sip.example.com", users: { "1001": "front-door-secret" }, maxExpires: 120,
  });
  const phone = new Endpoint({ platform: new VirtualPlatform({ network, address: "10.0.0.2" }), address: "10.0.0.2", port: 5060 });
  const door = new Endpoint({
    platform: new VirtualPlatform({ network, address: "10.0.0.1" }), address: "10.0.0.1", port: 5060,
    accounts: [{
      user: "1001", authUser: "", password: "front-door-secret", domain: "sip.example.com", registrar: "10.0.0.100",
      registrarPort: 5060, expires: 120, instanceId: "urn:uuid:2f6c4b2a-4d9e-4b6f-9a1e-0c3b7d5e8f21",
      localAddress: "10.0.0.1", localPort: 5060, backoffBase: 30, backoffMax: 1800, keepalive: 28,
    }],
  });
  if (registrar.open() !== 0 || phone.open() !== 0 || door.open() !== 0) { console.error("demo: could not open sockets"); return 1; }

  console.log("doorsip demo: the door (10.0.0.1) registers with a registrar (10.0.0.100, digest) and pings the resident's phone (10.0.0.2)");
  console.log("virtual network: 12 ms latency, 6 ms jitter; virtual time, seeded: every run is the same\n");
  console.log(`   time s  ${COLUMNS.map((c, i) => (i === COLUMNS.length - 1 ? c : c.padEnd(WIDTH))).join("")}  Call-ID`);
  door.registerAll();
  clock.advance(2000);
  door.sendRequest("OPTIONS", "sip:resident@10.0.0.2", "10.0.0.2", 5060);
  clock.advance(70000); // a keep-alive or two and the refresh at half the 120 s grant
  door.unregisterAll();
  clock.advance(6000); // past Timer K, so every transaction has ended
  for (const l of lines) console.log(l);
  const reg = door.registrations[0];
  console.log(`\nregistration: ${reg.stateName()} (last status ${reg.lastStatus} ${reg.lastReason}); registrar bindings: ${registrar.bindings.length}`);
  console.log(`transactions: ${door.layer.stats.created} created, ${door.layer.active} still live; datagrams: ${network.stats.sent} sent, ${network.stats.lost} lost`);
  return reg.stateName() === "unregistered" && registrar.bindings.length === 0 ? 0 : 1;
}
