// libpcap file writer for the virtual network's capture: each UDP datagram as a raw IPv4 packet (LINKTYPE_RAW), readable by Wireshark/tshark.
import type { CaptureRecord } from "./virtual.ts";

const LINKTYPE_RAW = 101;

function ipv4(a: string): number[] {
  return a.split(".").map((x) => Number(x) & 255);
}

/** IPv4 header checksum (RFC 791): one's complement of the one's-complement sum of the 16-bit words. */
function checksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * A pcap file of the UDP records (delivered, duplicated and lost ones alike, at their send time),
 * with synthetic IPv4/UDP headers (UDP checksum 0: not computed, allowed for IPv4).
 */
export function writePcap(records: CaptureRecord[]): Uint8Array {
  const udp = records.filter((r) => r.proto === "udp");
  let size = 24;
  for (const r of udp) size += 16 + 28 + r.data.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, LINKTYPE_RAW, true);
  let p = 24;
  let id = 0;
  for (const r of udp) {
    const len = 28 + r.data.length;
    const t = r.time;
    v.setUint32(p, Math.floor(t / 1000), true);
    v.setUint32(p + 4, Math.floor((t % 1000) * 1000), true);
    v.setUint32(p + 8, len, true);
    v.setUint32(p + 12, len, true);
    p += 16;
    const ip = p;
    out[p] = 0x45;
    v.setUint16(p + 2, len);
    v.setUint16(p + 4, ++id & 0xffff);
    out[p + 8] = 64;
    out[p + 9] = 17;
    out.set(ipv4(r.from), p + 12);
    out.set(ipv4(r.to), p + 16);
    v.setUint16(p + 10, checksum(out, ip, 20));
    p += 20;
    v.setUint16(p, r.fromPort);
    v.setUint16(p + 2, r.toPort);
    v.setUint16(p + 4, 8 + r.data.length);
    p += 8;
    for (let i = 0; i < r.data.length; i++) out[p + i] = r.data.charCodeAt(i) & 255;
    p += r.data.length;
  }
  return out;
}
