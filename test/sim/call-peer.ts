// A scripted SIP peer for call tests on the virtual network: raw messages in, hand-written messages out.
import { SipMessage, parseMessage } from "../../sip-core/index.ts";
import type { VirtualNetwork, VirtualUdpSocket } from "../../sim/virtual.ts";
import { VirtualPlatform } from "../../sim/virtual.ts";

export interface Received {
  at: number;
  text: string;
  from: string;
  port: number;
}

/** Parses a received datagram (throws when the stack sent something unparsable). */
export function parse(text: string): SipMessage {
  const m = new SipMessage();
  const r = parseMessage(text, 0, text.length, m);
  if (r <= 0) throw new Error("unparsable message from the stack (" + r + "):\n" + text);
  return m;
}

/** A header line's value by name (first one), "" when absent. */
export function header(text: string, name: string): string {
  const re = new RegExp("^" + name + ":[ \\t]*(.*)$", "im");
  const m = re.exec(text.split("\r\n\r\n")[0]);
  return m === null ? "" : m[1];
}

export function startLine(text: string): string {
  return text.substring(0, text.indexOf("\r\n"));
}

export function body(text: string): string {
  const i = text.indexOf("\r\n\r\n");
  return i < 0 ? "" : text.substring(i + 4);
}

export class RawPeer {
  readonly platform: VirtualPlatform;
  readonly socket: VirtualUdpSocket;
  readonly received: Received[] = [];
  onMessage: ((r: Received) => void) | null = null;

  constructor(network: VirtualNetwork, readonly address: string, readonly port: number) {
    this.platform = new VirtualPlatform({ network, address });
    const s = this.platform.openUdp({
      port, onMessage: (data, from, p) => {
        const r = { at: network.clock.now(), text: data, from, port: p };
        this.received.push(r);
        if (this.onMessage !== null) this.onMessage(r);
      },
    });
    if (typeof s === "number") throw new Error("bind failed " + s);
    this.socket = s;
  }

  send(text: string, to: string, port: number): void {
    const b = Buffer.from(text, "latin1");
    this.socket.send(new Uint8Array(b), b.length, to, port);
  }

  /** Requests received with this method (or responses with this status as "SIP/2.0 NNN"). */
  requests(method: string): Received[] {
    return this.received.filter((r) => r.text.startsWith(method + " "));
  }
  responses(status: number): Received[] {
    return this.received.filter((r) => r.text.startsWith("SIP/2.0 " + status + " "));
  }
  lines(): string[] {
    return this.received.map((r) => startLine(r.text));
  }

  /** A response to a received request: its Via, From, To (+tag), Call-ID and CSeq, then extra lines and an optional body. */
  respond(req: Received, status: string, toTag: string | null, extra: string[], sdp: string | null): void {
    const t = req.text.split("\r\n\r\n")[0].split("\r\n");
    const out = ["SIP/2.0 " + status];
    for (const l of t) {
      const n = l.substring(0, l.indexOf(":")).toLowerCase();
      if (n === "via" || n === "v" || n === "from" || n === "f" || n === "call-id" || n === "i" || n === "cseq") out.push(l);
      else if (n === "to" || n === "t") out.push(toTag !== null && !/;tag=/i.test(l) ? l + ";tag=" + toTag : l);
    }
    out.push(...extra);
    if (sdp !== null) out.push("Content-Type: application/sdp");
    out.push("Content-Length: " + (sdp === null ? 0 : sdp.length), "", sdp ?? "");
    this.send(out.join("\r\n"), req.from, req.port);
  }
}

/** An SDP body with one audio stream. */
export function sdpBody(address: string, port: number, payloads: number[], extra: string[] = [], version = 1): string {
  const lines = ["v=0", `o=peer 42 ${version} IN IP4 ${address}`, "s=-", `c=IN IP4 ${address}`, "t=0 0", `m=audio ${port} RTP/AVP ${payloads.join(" ")}`];
  for (const p of payloads) {
    if (p === 0) lines.push("a=rtpmap:0 PCMU/8000");
    else if (p === 8) lines.push("a=rtpmap:8 PCMA/8000");
    else if (p === 101) lines.push("a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15");
    else if (p === 9) lines.push("a=rtpmap:9 G722/8000");
  }
  lines.push(...extra);
  return lines.join("\r\n") + "\r\n";
}
