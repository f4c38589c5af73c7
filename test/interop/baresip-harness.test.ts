// The baresip harness checked on its own (no doorsip stack): two baresip 1.0.0 instances on 127.0.0.1 call each
// other through ctrl_tcp, auto-answer and manual answer, RFC 4733 DTMF, RTP both ways (counted by tshark on the
// caller's RTP port, by baresip's own counters, and heard in the decoded audio), hang-up from either side.
// It also pins down what baresip puts on the wire, which the stack's interop tests rely on.
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { baresipPorts, readWav, rtpEventDigits, rtpPackets, startBaresip, toneShare, type Baresip } from "./baresip.ts";
import { startCapture, type Capture } from "./tshark.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms: number) => {
  for (let t = 0; t < ms && !cond(); t += 50) await sleep(50);
  return cond();
};
const running: Baresip[] = [];
const scratch = mkdtempSync(join(tmpdir(), "doorsip-baresip-test-"));

afterAll(async () => {
  await Promise.all(running.map((b) => b.stop()));
  rmSync(scratch, { recursive: true, force: true });
}, 15000);

async function start(...args: Parameters<typeof startBaresip>): Promise<Baresip> {
  const b = await startBaresip(...args);
  running.push(b);
  return b;
}

/** A 16-bit mono 8 kHz WAV with a sine of freq Hz. */
function toneWav(path: string, freq: number, seconds: number): string {
  const rate = 8000, n = rate * seconds;
  const b = Buffer.alloc(44 + 2 * n);
  b.write("RIFF", 0, "latin1"); b.writeUInt32LE(36 + 2 * n, 4); b.write("WAVEfmt ", 8, "latin1");
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(2 * rate, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write("data", 36, "latin1"); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + 2 * i);
  writeFileSync(path, b);
  return path;
}

/** The received audio's dominant-tone check: mostly `freq`, not silence. */
function heard(b: Baresip, freq: number): { share: number; rms: number; seconds: number } {
  const files = b.recordings().decode;
  expect(files.length, b.name + " recorded no received audio").toBe(1);
  const w = readWav(files[0]);
  expect(w.rate).toBe(8000);
  // Skip the first 200 ms (jitter buffer fill, silence).
  const s = w.samples.subarray(1600);
  return { ...toneShare(s, w.rate, freq), seconds: w.samples.length / w.rate };
}

describe("baresip harness: two baresip instances, no doorsip stack", () => {
  it("A dials B, B auto-answers; A sends DTMF 1234# as RFC 4733 and B reports it; RTP flows both ways; A hangs up", async () => {
    const t0 = performance.now();
    // A's RTP port is pinned (a 2-port range gives exactly that even port), so one capture sees both directions.
    const aRtp = baresipPorts(0).rtp[0];
    const cleanup: (() => void)[] = [];
    const [a, b] = await Promise.all([
      start({ name: "A", slot: 0, user: "door", displayName: "Front Door", rtpPorts: [aRtp, aRtp + 1], source: { sine: 440 } }),
      start({ name: "B", slot: 1, source: { sine: 1000 } }),
    ]);
    const startedMs = performance.now() - t0;
    let capture: Capture | null = await startCapture(aRtp);
    // tshark prints "Capturing on" a little before packets are really captured: without this pause the first
    // 20–80 ms of RTP (and once the first RFC 4733 packet) were missing from the pcap.
    await sleep(500);
    try {
      await a.dial(b.uri);
      const [estA, estB] = await Promise.all([a.waitEvent("CALL_ESTABLISHED", 5000), b.waitEvent("CALL_ESTABLISHED", 5000)]);
      expect(estA.direction).toBe("outgoing");
      expect(estB.direction).toBe("incoming");
      expect(estA.id).toBe(estB.id); // the Call-ID
      expect(estB.peeruri).toBe("sip:door@127.0.0.1");
      expect(a.events.some((e) => e.type === "CALL_RINGING"), "A saw B's 180").toBe(true);
      await Promise.all([a.waitEvent("CALL_RTPESTAB", 3000), b.waitEvent("CALL_RTPESTAB", 3000)]);
      await sleep(300); // (sndcode works right away too; this keeps the digits clear of the capture's start)

      const tDtmf = performance.now();
      await a.sendDtmf("1234#");
      await b.waitEvent((e) => e.type === "CALL_DTMF_START" && e.param === "#", 4000);
      const hashAt = b.events.findIndex((e) => e.type === "CALL_DTMF_START" && e.param === "#");
      await b.waitEvent("CALL_DTMF_END", 2000, hashAt);
      const dtmfMs = performance.now() - tDtmf;
      expect(b.dtmfReceived(estB.id)).toBe("1234#");
      expect(b.events.filter((e) => e.type === "CALL_DTMF_END").length).toBe(5);
      expect(a.dtmfReceived()).toBe(""); // nothing came back

      await sleep(1000); // a second of audio after the digits
      const [dbgA, dbgB] = await Promise.all([a.audioDebug(), b.audioDebug()]);
      expect(dbgA, "A has an audio stream").not.toBe(null);
      expect(dbgB, "B has an audio stream").not.toBe(null);
      expect(dbgA!.localPort).toBe(aRtp);
      expect(dbgB!.remote).toBe("127.0.0.1:" + aRtp);
      expect(dbgA!.remote).toBe("127.0.0.1:" + dbgB!.localPort);
      expect(dbgA!.encoder).toBe("PCMU");
      expect(dbgB!.decoder).toBe("PCMU");
      // ~2.6 s of call at 50 packets/s.
      for (const d of [dbgA!, dbgB!]) {
        expect(d.txPackets).toBeGreaterThan(80);
        expect(d.rxPackets).toBeGreaterThan(80);
      }

      await a.hangup();
      const [closedA, closedB] = await Promise.all([a.waitEvent("CALL_CLOSED", 3000), b.waitEvent("CALL_CLOSED", 3000)]);
      expect(closedA.param).toBe("Connection reset by user");
      expect(closedB.param).toBe("Connection reset by peer");
      const pcap = await capture.stop();
      capture = null;
      cleanup.push(() => rmSync(dirname(pcap), { recursive: true, force: true }));

      // RTP as tshark saw it on A's port.
      const pkts = rtpPackets(pcap, [aRtp]);
      const aToB = pkts.filter((p) => p.src === aRtp);
      const bToA = pkts.filter((p) => p.dst === aRtp);
      const audioAB = aToB.filter((p) => p.pt === 0).length;
      const audioBA = bToA.filter((p) => p.pt === 0).length;
      expect(audioAB).toBeGreaterThan(80);
      expect(audioBA).toBeGreaterThan(80);
      expect(new Set(aToB.map((p) => p.pt))).toEqual(new Set([0, 101]));
      expect(new Set(bToA.map((p) => p.pt))).toEqual(new Set([0]));
      const events = aToB.filter((p) => p.pt === 101);
      expect(rtpEventDigits(events)).toBe("1234#");
      // Per digit: marker on the first packet, 9 updates then 3 end packets (same timestamp, final duration).
      const perDigit = [...new Set(events.map((p) => p.ts))].map((ts) => events.filter((p) => p.ts === ts).map((p) => (p.event!.end ? "E" : "s") + p.event!.duration).join(" "));
      expect(events.length, perDigit.join("\n")).toBe(5 * 12);

      expect(events.filter((p) => p.marker).length).toBe(5);
      expect(events.filter((p) => p.event!.end).length).toBe(15);
      expect(new Set(events.map((p) => p.event!.volume))).toEqual(new Set([10]));
      expect(Math.max(...events.map((p) => p.event!.duration))).toBe(1440);
      // baresip keeps sending PCMU during an event, in the same sequence space (one SSRC).
      expect(new Set(aToB.map((p) => p.ssrc)).size).toBe(1);
      const seqs = aToB.map((p) => p.seq);
      expect(seqs.every((s, i) => i === 0 || s === ((seqs[i - 1] + 1) & 0xffff)), "A's RTP sequence numbers are contiguous").toBe(true);

      // Each side's end-of-call summary (rtp_stats) agrees with the capture and the other side, give or take the
      // edges of the call: on an idle machine the counts match within 1–2 (baresip sends one more RTP packet just
      // after its BYE, which the peer may drop); under load the receiver misses up to a few more at either end.
      expect(await until(() => a.callSummaries().length === 1 && b.callSummaries().length === 1, 2000)).toBe(true);
      const [sumA, sumB] = [a.callSummaries()[0], b.callSummaries()[0]];
      const near = (got: number, of: number) => got <= of && got >= of - 10;
      expect(near(aToB.length, sumA.txPackets), "A sent " + sumA.txPackets + ", captured " + aToB.length).toBe(true);
      expect(near(bToA.length, sumB.txPackets), "B sent " + sumB.txPackets + ", captured " + bToA.length).toBe(true);
      expect(near(sumB.rxPackets, sumA.txPackets), "B received " + sumB.rxPackets + " of " + sumA.txPackets).toBe(true);
      expect(near(sumA.rxPackets, sumB.txPackets), "A received " + sumA.rxPackets + " of " + sumB.txPackets).toBe(true);
      expect(sumA.rxErrors + sumB.rxErrors).toBe(0);

      // What each heard: B's tone at A, A's tone at B (the DTMF events are not in the audio).
      const atA = heard(a, 1000);
      const atB = heard(b, 440);
      expect(atA.rms).toBeGreaterThan(1000);
      expect(atB.rms).toBeGreaterThan(1000);
      expect(atA.share).toBeGreaterThan(0.8);
      expect(atB.share).toBeGreaterThan(0.8);
      expect(heard(a, 440).share).toBeLessThan(0.1);

      // The SIP exchange, from the -s traces: INVITE, 180, 200, ACK, BYE, 200 (no 100 Trying from B).
      const sentByA = a.sipTrace().filter((m) => m.sent).map((m) => m.message);
      const sentByB = b.sipTrace().filter((m) => m.sent).map((m) => m.message);
      expect(sentByA.map((m) => m.split(" ")[0])).toEqual(["INVITE", "ACK", "BYE"]);
      expect(sentByB.map((m) => m.split("\r\n")[0])).toEqual(["SIP/2.0 180 Ringing", "SIP/2.0 200 Answering", "SIP/2.0 200 OK"]);
      const invite = sentByA[0];
      expect(invite.startsWith("INVITE " + b.uri + " SIP/2.0\r\n")).toBe(true);
      expect(invite).toMatch(new RegExp("\r\nVia: SIP/2\\.0/UDP 127\\.0\\.0\\.1:" + a.sipPort + ";branch=z9hG4bK[0-9a-f]+;rport\r\n"));
      expect(invite).toMatch(new RegExp("\r\nContact: <sip:door-0x[0-9a-f]+@127\\.0\\.0\\.1:" + a.sipPort + ">\r\n"));
      expect(invite).toContain('\r\nFrom: "Front Door" <sip:door@127.0.0.1>;tag=');
      expect(invite).toContain("\r\nUser-Agent: baresip v1.0.0 (x86_64/linux)\r\n");
      expect(invite).toContain("\r\nm=audio " + aRtp + " RTP/AVP 0 8 101\r\n");
      expect(invite).toContain("\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n");
      expect(invite).toContain("\r\nc=IN IP4 127.0.0.1\r\n");
      const body = invite.slice(invite.indexOf("\r\n\r\n") + 4);
      expect(invite).toContain("\r\nContent-Length: " + Buffer.byteLength(body, "latin1") + "\r\n");
      const ack = sentByA[1];
      expect(ack).toMatch(/^ACK sip:resident-0x[0-9a-f]+@127\.0\.0\.1:\d+ SIP\/2\.0\r\n/); // to B's Contact

      console.log("[baresip harness] started both in " + Math.round(startedMs) + " ms; DTMF 1234# took " + Math.round(dtmfMs)
        + " ms; RTP captured A→B " + aToB.length + " (" + events.length + " RFC 4733), B→A " + bToA.length
        + "; baresip counted A tx/rx " + sumA.txPackets + "/" + sumA.rxPackets + ", B " + sumB.txPackets + "/" + sumB.rxPackets
        + "; tone share at A " + atA.share.toFixed(2) + ", at B " + atB.share.toFixed(2) + "; test " + Math.round(performance.now() - t0) + " ms");
    } finally {
      if (capture) { const pcap = await capture.stop(); cleanup.push(() => rmSync(dirname(pcap), { recursive: true, force: true })); }
      await Promise.all([a.stop(), b.stop()]);
      for (const c of cleanup) c();
    }
    const exits = await Promise.all([a.exited, b.exited]);
    expect(exits).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
  }, 20000);

  it("manual answer, a WAV file source, PCMA only: B accepts, hears A's tone, and hangs up", async () => {
    const wav = toneWav(join(scratch, "tone700.wav"), 700, 10);
    const [a, b] = await Promise.all([
      start({ name: "A2", slot: 2, source: { file: wav }, accountParams: "audio_codecs=pcma" }),
      start({ name: "B2", slot: 3, answermode: "manual", source: { sine: 1000 } }),
    ]);
    try {
      await a.dial(b.uri);
      const inc = await b.waitEvent("CALL_INCOMING", 3000);
      expect(inc.direction).toBe("incoming");
      await a.waitEvent("CALL_RINGING", 3000);
      await sleep(300);
      expect(a.events.some((e) => e.type === "CALL_ESTABLISHED")).toBe(false); // still ringing
      await b.accept();
      await Promise.all([a.waitEvent("CALL_ESTABLISHED", 3000), b.waitEvent("CALL_ESTABLISHED", 3000)]);
      await sleep(1200);
      const dbgB = await b.audioDebug();
      expect(dbgB?.encoder).toBe("PCMA");
      expect(dbgB?.decoder).toBe("PCMA");
      await b.hangup();
      const closedA = await a.waitEvent("CALL_CLOSED", 3000);
      expect(closedA.param).toBe("Connection reset by peer");
      const atB = heard(b, 700);
      expect(atB.share).toBeGreaterThan(0.8);
      expect(atB.seconds).toBeGreaterThan(1);
      const offer = a.sipTrace().find((m) => m.sent && m.message.startsWith("INVITE "))!.message;
      expect(offer).toContain("\r\nm=audio ");
      expect(offer).toMatch(/\r\nm=audio \d+ RTP\/AVP 8 101\r\n/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 15000);

  it("registers through an outbound proxy with digest auth (a fake registrar in the test): REGISTER_OK", async () => {
    // A minimal registrar: 401 with an MD5 qop=auth challenge, then 200 if the digest is right, 403 if not.
    const port = baresipPorts(4).sip;
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(port, "127.0.0.1", () => r()));
    const got: string[] = [];
    const md5 = (x: string) => createHash("md5").update(x).digest("hex");
    sock.on("message", (m, from) => {
      const req = m.toString("latin1");
      got.push(req);
      const h = (n: string) => new RegExp("^" + n + ": (.*?)\r$", "mi").exec(req)?.[1] ?? "";
      const auth = h("Authorization");
      const p = (k: string) => new RegExp(k + '="?([^",]*)"?').exec(auth)?.[1] ?? "";
      const ha1 = md5("1001:doorsip-test:front-door-secret");
      const good = auth !== "" && p("response") === md5(ha1 + ":" + p("nonce") + ":" + p("nc") + ":" + p("cnonce") + ":" + p("qop") + ":" + md5("REGISTER:" + p("uri")));
      const status = auth === "" ? "401 Unauthorized" : good ? "200 OK" : "403 Forbidden";
      sock.send("SIP/2.0 " + status + "\r\nVia: " + h("Via") + ";received=127.0.0.1\r\nFrom: " + h("From") + "\r\nTo: " + h("To") + ";tag=reg1\r\n"
        + "Call-ID: " + h("Call-ID") + "\r\nCSeq: " + h("CSeq") + "\r\n"
        + (auth === "" ? 'WWW-Authenticate: Digest realm="doorsip-test", nonce="n0nce1", qop="auth", algorithm=MD5\r\n' : "")
        + (good ? "Contact: " + h("Contact") + "\r\n" : "") + "Content-Length: 0\r\n\r\n", from.port, from.address);
    });
    const r = await start({ name: "R", slot: 5, user: "1001", domain: "sip.example.test", regint: 60, authPass: "front-door-secret", outbound: "sip:127.0.0.1:" + port });
    try {
      const ev = await r.waitEvent((e) => e.type === "REGISTER_OK" || e.type === "REGISTER_FAIL", 5000);
      expect(ev.type, got.join("\n----\n")).toBe("REGISTER_OK");
      expect(r.events.map((e) => e.type).slice(0, 2)).toEqual(["REGISTERING", "REGISTER_OK"]);
      expect(got.length).toBe(2);
      expect(got[0]).toMatch(/^REGISTER sip:sip\.example\.test SIP\/2\.0\r\n/);
      expect(got[0]).toContain("\r\nRoute: <sip:127.0.0.1:" + port + ";lr>\r\n");
      // A clean +sip.instance (a newline in the uuid file ends up inside the header).
      expect(got[0]).toMatch(/\r\nContact: <sip:1001-0x[0-9a-f]+@127\.0\.0\.1:\d+>;expires=60;\+sip\.instance="<urn:uuid:[0-9a-f-]{36}>"\r\n/);
      expect(got[1]).toMatch(/\r\nAuthorization: Digest username="1001", realm="doorsip-test", nonce="n0nce1", uri="sip:sip\.example\.test", response="[0-9a-f]{32}", cnonce="[0-9a-f]+", qop=auth, nc=00000001\r\n/);
      expect((await r.command("reginfo")).data).toMatch(/OK/);
    } finally {
      await r.stop();
      sock.close();
    }
  }, 15000);
});
