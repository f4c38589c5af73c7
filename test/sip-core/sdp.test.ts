// SDP parsing (RFC 4566), audio offer/answer (RFC 3264), the SDP writer, malformed bodies and a mutation fuzz.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AudioAnswer, PCMA, PCMU, SDP_DIR_NONE, SDP_ERR_LIMIT, SDP_ERR_SYNTAX, SDP_INACTIVE, SDP_RECVONLY, SDP_SENDONLY,
  SDP_SENDRECV, SdpAudioParams, SdpSession, SipWriter, negotiateAudio, parseSdp, rejectedMedia, writeSdp, writeSdpAnswer,
} from "../../sip-core/index.ts";

const fixture = (p: string) => readFileSync(new URL("../fixtures/" + p, import.meta.url), "latin1");
const text = (w: SipWriter, from = 0) => Buffer.from(w.buf.subarray(from, w.pos)).toString("latin1");

/** The body of a SIP message: everything after the first blank line (CRLF or LF). */
function body(msg: string): string {
  let i = msg.indexOf("\r\n\r\n");
  if (i >= 0) return msg.substring(i + 4);
  i = msg.indexOf("\n\n");
  return msg.substring(i + 2);
}

function parsed(src: string): SdpSession {
  const s = new SdpSession();
  const r = parseSdp(src, 0, src.length, s);
  expect(r, "error at " + s.errorOffset).toBe(0);
  return s;
}

const mt = (s: SdpSession, i: number) => s.text(s.media(i).typeStart, s.media(i).typeEnd);
const pts = (s: SdpSession, i: number) => Array.from(s.media(i).pt.subarray(0, s.media(i).ptCount));

const OFFER = [
  "v=0", "o=alice 2890844526 2890844527 IN IP4 198.51.100.1", "s=-", "c=IN IP4 198.51.100.1", "t=0 0",
  "m=audio 49170 RTP/AVP 0 8 97", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:97 telephone-event/8000", "a=fmtp:97 0-16", "a=ptime:20", "a=sendrecv", "",
].join("\r\n");

const sdp = (...lines: string[]) => lines.join("\r\n") + "\r\n";
const HEAD = ["v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0"];

describe("parseSdp: fixtures", () => {
  it("Linphone INVITE offer (corpus/invite.sip)", () => {
    const s = parsed(body(fixture("corpus/invite.sip")));
    expect(s.text(s.originUserStart, s.originUserEnd)).toBe("1001");
    expect(s.text(s.sessIdStart, s.sessIdEnd)).toBe("3712");
    expect(s.text(s.sessVersionStart, s.sessVersionEnd)).toBe("1823");
    expect(s.sessVersion).toBe(1823);
    expect(s.text(s.connStart, s.connEnd)).toBe("192.168.1.23");
    expect(s.connIp).toBe(4);
    expect(s.mediaCount).toBe(1);
    const m = s.media(0);
    expect(mt(s, 0)).toBe("audio");
    expect(m.port).toBe(7078);
    expect(s.text(m.protoStart, m.protoEnd)).toBe("RTP/AVP");
    expect(pts(s, 0)).toEqual([0, 8, 101]);
    expect(s.text(m.encStart(0), m.encEnd(0))).toBe("PCMU");
    expect(m.clockRate(0)).toBe(8000);
    expect(s.text(m.encStart(1), m.encEnd(1))).toBe("PCMA");
    const te = s.telephoneEventIndex(0);
    expect(te).toBe(2);
    expect(s.text(m.fmtpStart(te), m.fmtpEnd(te))).toBe("0-15");
    expect(m.ptime).toBe(20);
    expect(m.direction).toBe(SDP_SENDRECV);
    expect(m.connStart).toBe(-1);
  });

  it("200 OK answer (corpus/200-invite.sip)", () => {
    const s = parsed(body(fixture("corpus/200-invite.sip")));
    expect(s.text(s.originUserStart, s.originUserEnd)).toBe("-");
    expect(s.sessVersion).toBe(20069);
    expect(s.text(s.connStart, s.connEnd)).toBe("203.0.113.10");
    expect(pts(s, 0)).toEqual([0, 101]);
    expect(s.media(0).port).toBe(11796);
    expect(s.telephoneEventIndex(0)).toBe(1);
  });

  it("RFC 4475 esc01: audio and video, LF line ends", () => {
    const s = parsed(body(fixture("torture/rfc4475/esc01.dat")));
    expect(s.text(s.originUserStart, s.originUserEnd)).toBe("mhandley");
    expect(s.sessVersion).toBe(7272939);
    expect(s.mediaCount).toBe(2);
    expect(mt(s, 0)).toBe("audio");
    expect(pts(s, 0)).toEqual([0, 12]);
    expect(mt(s, 1)).toBe("video");
    expect(s.media(1).port).toBe(3227);
    expect(pts(s, 1)).toEqual([31]);
    expect(s.text(s.media(1).encStart(0), s.media(1).encEnd(0))).toBe("LPC"); // a name without a clock rate
    expect(s.media(1).clockRate(0)).toBe(-1);
  });

  it("RFC 5118 ipv6-in-sdp: IP6 session address, 64-bit sess-id", () => {
    const s = parsed(body(fixture("torture/rfc5118/ipv6-in-sdp.dat")));
    expect(s.text(s.sessIdStart, s.sessIdEnd)).toBe("971731711378798081");
    expect(s.sessVersion).toBe(0);
    expect(s.connIp).toBe(6);
    expect(s.text(s.connStart, s.connEnd)).toBe("2001:db8::20");
    expect(s.mediaCount).toBe(2);
    expect(s.text(s.media(0).encStart(0), s.media(0).encEnd(0))).toBe("G726-32");
    expect(s.media(1).clockRate(0)).toBe(90000);
  });

  it("RFC 5118 mult-ip-in-sdp: media-level c= lines, IP4 and IP6", () => {
    const s = parsed(body(fixture("torture/rfc5118/mult-ip-in-sdp.dat")));
    expect(s.connStart).toBe(-1);
    expect(s.text(s.media(0).connStart, s.media(0).connEnd)).toBe("192.0.2.1");
    expect(s.media(0).connIp).toBe(4);
    expect(s.text(s.media(1).connStart, s.media(1).connEnd)).toBe("2001:db8::1");
    expect(s.media(1).connIp).toBe(6);
  });

  it("parses a span inside a larger string and strips multicast TTL", () => {
    const b = sdp("v=0", "o=x 1 2 IN IP4 h", "s=-", "c=IN IP4 224.2.1.1/127/3", "t=0 0", "m=audio 5004/2 RTP/AVP 0");
    const src = "HEADERS\r\n\r\n" + b + "TRAILER";
    const s = new SdpSession();
    expect(parseSdp(src, 11, 11 + b.length, s)).toBe(0);
    expect(s.text(s.connStart, s.connEnd)).toBe("224.2.1.1");
    expect(s.media(0).port).toBe(5004);
    expect(s.media(0).portCount).toBe(2);
  });

  it("direction: session-level applies, media-level overrides, default sendrecv", () => {
    const s = parsed(sdp(...HEAD, "a=recvonly", "m=audio 1000 RTP/AVP 0", "m=audio 1002 RTP/AVP 0", "a=inactive", "m=audio 1004 RTP/AVP 0"));
    expect(s.direction).toBe(SDP_RECVONLY);
    expect(s.media(0).direction).toBe(SDP_DIR_NONE);
    expect(s.mediaDirection(0)).toBe(SDP_RECVONLY);
    expect(s.mediaDirection(1)).toBe(SDP_INACTIVE);
    const d = parsed(sdp(...HEAD, "m=audio 1000 RTP/AVP 0"));
    expect(d.mediaDirection(0)).toBe(SDP_SENDRECV);
  });

  it("media(i) parses description i again into the one shared slot, in any order", () => {
    const s = parsed(sdp(...HEAD, "m=audio 1000 RTP/AVP 0 101", "c=IN IP4 192.0.2.9", "a=rtpmap:101 telephone-event/8000", "a=ptime:30",
      "a=recvonly", "m=video 1002 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 1004 RTP/AVP 8"));
    for (const i of [2, 0, 1, 0, 2]) {
      const m = s.media(i);
      expect(m.port).toBe(1000 + 2 * i);
      expect(pts(s, i)).toEqual([[0, 101], [96], [8]][i]);
      expect(s.text(m.connStart, m.connEnd)).toBe(i === 0 ? "192.0.2.9" : "");
      expect(m.ptime).toBe(i === 0 ? 30 : -1);
      expect(m.direction).toBe(i === 0 ? SDP_RECVONLY : SDP_DIR_NONE);
      expect(s.telephoneEventIndex(i)).toBe(i === 0 ? 1 : -1);
      expect(m.clockRate(0)).toBe(i === 1 ? 90000 : -1);
    }
  });

  it("skips unknown lines and attributes, tolerates bare LF and non-RTP fmt lists", () => {
    const s = parsed(["v=0", "o=- 1 1 IN IP4 h", "s=x", "i=info", "u=http://x", "e=a@b", "b=AS:64", "t=0 0", "z=0 0",
      "k=clear:x", "a=tool:foo", "m=application 9 TCP/BFCP *", "a=setup:actpass", "m=image 0 udptl t38", "m=audio 4000 RTP/AVP 8", "a=weird",
      "a=rtpmap:99 foo/8000", ""].join("\n"));
    expect(s.mediaCount).toBe(3);
    expect(s.media(0).rtp).toBe(false);
    expect(s.text(s.media(0).fmtStart, s.media(0).fmtEnd)).toBe("*");
    expect(s.media(1).port).toBe(0);
    expect(pts(s, 2)).toEqual([8]);
  });
});

describe("negotiateAudio", () => {
  const ans = new AudioAnswer();
  const neg = (src: string, prefs = [PCMU, PCMA]) => { const s = parsed(src); return { s, ok: negotiateAudio(s, prefs, ans) }; };

  it("picks PCMU when offered first, with telephone-event, address, port and ptime", () => {
    const { s, ok } = neg(OFFER);
    expect(ok).toBe(true);
    expect(ans.mediaIndex).toBe(0);
    expect(ans.payload).toBe(PCMU);
    expect(ans.telephoneEvent).toBe(97);
    expect(s.text(ans.eventsStart, ans.eventsEnd)).toBe("0-16");
    expect(s.text(ans.addrStart, ans.addrEnd)).toBe("198.51.100.1");
    expect(ans.port).toBe(49170);
    expect(ans.ptime).toBe(20);
    expect(ans.direction).toBe(SDP_SENDRECV);
  });

  it("follows the offer's order, not ours", () => {
    neg(sdp(...HEAD, "m=audio 4000 RTP/AVP 8 0"), [PCMU, PCMA]);
    expect(ans.payload).toBe(PCMA);
  });

  it("PCMA when only PCMA is offered", () => {
    expect(neg(sdp(...HEAD, "m=audio 4000 RTP/AVP 8 101", "a=rtpmap:101 Telephone-Event/8000")).ok).toBe(true);
    expect(ans.payload).toBe(PCMA);
    expect(ans.telephoneEvent).toBe(101);
    expect(ans.eventsStart).toBe(-1);
  });

  it("no common codec: false (488)", () => {
    expect(neg(sdp(...HEAD, "m=audio 4000 RTP/AVP 18 9 96", "a=rtpmap:96 opus/48000/2")).ok).toBe(false);
    expect(ans.mediaIndex).toBe(-1);
  });

  it("telephone-event at another clock rate is not DTMF", () => {
    neg(sdp(...HEAD, "m=audio 4000 RTP/AVP 0 100", "a=rtpmap:100 telephone-event/48000"));
    expect(ans.telephoneEvent).toBe(-1);
  });

  it("mirrors direction", () => {
    const cases: [string, number][] = [["sendonly", SDP_RECVONLY], ["recvonly", SDP_SENDONLY], ["inactive", SDP_INACTIVE], ["sendrecv", SDP_SENDRECV]];
    for (const [d, want] of cases) {
      neg(sdp(...HEAD, "m=audio 4000 RTP/AVP 0", "a=" + d));
      expect(ans.direction, d).toBe(want);
    }
    neg(sdp(...HEAD, "a=sendonly", "m=audio 4000 RTP/AVP 0"));
    expect(ans.direction).toBe(SDP_RECVONLY);
  });

  it("port 0 is a rejected stream; a later audio stream is taken", () => {
    expect(neg(sdp(...HEAD, "m=audio 0 RTP/AVP 0")).ok).toBe(false);
    expect(neg(sdp(...HEAD, "m=audio 0 RTP/AVP 0", "m=audio 5000 RTP/AVP 8")).ok).toBe(true);
    expect(ans.mediaIndex).toBe(1);
    expect(ans.port).toBe(5000);
  });

  it("skips SRTP and video; media c= beats session c=; no address at all fails", () => {
    expect(neg(sdp(...HEAD, "m=audio 4000 RTP/SAVP 0")).ok).toBe(false);
    const { s } = neg(body(fixture("torture/rfc5118/mult-ip-in-sdp.dat")));
    expect(ans.mediaIndex).toBe(0);
    expect(s.text(ans.addrStart, ans.addrEnd)).toBe("192.0.2.1");
    expect(neg(sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0")).ok).toBe(false);
  });
});

const params = (over: Partial<SdpAudioParams> = {}): SdpAudioParams => ({
  username: "doorsip", sessionId: "4242", version: 7, address: "192.0.2.50", port: 40000,
  payloads: [PCMU, PCMA], telephoneEvent: 101, direction: SDP_SENDRECV, ptime: 20, maxptime: 0, ...over,
});

describe("writeSdp", () => {
  it("writes the expected body", () => {
    const w = new SipWriter(1024);
    const n = writeSdp(w, params());
    expect(n).toBe(w.pos);
    expect(text(w)).toBe(sdp("v=0", "o=doorsip 4242 7 IN IP4 192.0.2.50", "s=-", "c=IN IP4 192.0.2.50", "t=0 0",
      "m=audio 40000 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000",
      "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"));
  });

  it("writes a=maxptime after a=ptime when set (RFC 4566 §6)", () => {
    const w = new SipWriter(1024);
    writeSdp(w, params({ maxptime: 60 }));
    expect(text(w)).toContain("a=ptime:20\r\na=maxptime:60\r\na=sendrecv\r\n");
  });

  it("parses back to the same values (IP4 and IP6, every direction)", () => {
    for (let d = 0; d < 4; d++) {
      for (const address of ["192.0.2.50", "2001:db8::7"]) {
        const w = new SipWriter(1024);
        const o = params({ direction: d, address, payloads: [PCMA], telephoneEvent: d === 3 ? -1 : 96, version: 1000 + d });
        writeSdp(w, o);
        const s = parsed(text(w));
        expect(s.text(s.originUserStart, s.originUserEnd)).toBe("doorsip");
        expect(s.text(s.sessIdStart, s.sessIdEnd)).toBe("4242");
        expect(s.sessVersion).toBe(1000 + d);
        expect(s.text(s.connStart, s.connEnd)).toBe(address);
        expect(s.connIp).toBe(address.indexOf(":") >= 0 ? 6 : 4);
        expect(s.media(0).port).toBe(40000);
        expect(pts(s, 0)).toEqual(d === 3 ? [8] : [8, 96]);
        expect(s.telephoneEventIndex(0)).toBe(d === 3 ? -1 : 1);
        expect(s.media(0).ptime).toBe(20);
        expect(s.mediaDirection(0)).toBe(d);
        const a = new AudioAnswer();
        expect(negotiateAudio(s, [PCMU, PCMA], a)).toBe(true);
        expect(a.payload).toBe(PCMA);
      }
    }
  });

  it("reports a full buffer", () => {
    const w = new SipWriter(40);
    expect(writeSdp(w, params())).toBeLessThan(0);
  });

  it("answer rejects the video m-line with port 0 and keeps the line count", () => {
    const offer = parsed(body(fixture("torture/rfc4475/esc01.dat")));
    const a = new AudioAnswer();
    expect(negotiateAudio(offer, [PCMU, PCMA], a)).toBe(true);
    expect(a.payload).toBe(PCMU);
    const w = new SipWriter(1024);
    const n = writeSdpAnswer(w, params({ payloads: [a.payload], telephoneEvent: a.telephoneEvent, direction: a.direction }), rejectedMedia(offer, a), a.mediaIndex);
    expect(n).toBe(w.pos);
    const out = text(w);
    expect(out).toContain("m=video 0 RTP/AVP 31\r\n");
    const s = parsed(out);
    expect(s.mediaCount).toBe(offer.mediaCount);
    expect(mt(s, 0)).toBe("audio");
    expect(s.media(0).port).toBe(40000);
    expect(pts(s, 0)).toEqual([0]);
    expect(mt(s, 1)).toBe("video");
    expect(s.media(1).port).toBe(0);
  });

  it("answer keeps a rejected audio stream before the accepted one", () => {
    const offer = parsed(sdp(...HEAD, "m=audio 4000 RTP/SAVP 0", "m=audio 4002 RTP/AVP 8 0", "m=application 9 TCP/BFCP *"));
    const a = new AudioAnswer();
    expect(negotiateAudio(offer, [PCMU, PCMA], a)).toBe(true);
    expect(a.mediaIndex).toBe(1);
    const w = new SipWriter(1024);
    writeSdpAnswer(w, params({ payloads: [a.payload], telephoneEvent: -1 }), rejectedMedia(offer, a), a.mediaIndex);
    const s = parsed(text(w));
    expect(s.mediaCount).toBe(3);
    expect([s.media(0).port, s.media(1).port, s.media(2).port]).toEqual([0, 40000, 0]);
    expect(pts(s, 1)).toEqual([8]);
    expect(s.text(s.media(2).fmtStart, s.media(2).fmtEnd)).toBe("*");
  });
});

describe("malformed SDP", () => {
  const bad = (src: string, code = SDP_ERR_SYNTAX) => {
    const s = new SdpSession();
    expect(parseSdp(src, 0, src.length, s), JSON.stringify(src)).toBe(code);
    expect(s.errorOffset).toBeGreaterThanOrEqual(0);
  };

  it("rejects bad lines with an error code", () => {
    bad(sdp(...HEAD, "m=audio abc RTP/AVP 0"));
    bad(sdp(...HEAD, "m=audio 70000 RTP/AVP 0"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 0 x"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 128"));
    bad(sdp(...HEAD, "m=audio"));
    bad(sdp(...HEAD, "this line has no equals"));
    bad(sdp(...HEAD, "a"));
    bad(sdp(...HEAD, "=x"));
    bad(sdp("v=1", "s=-"));
    bad(sdp("s=-", "v=0"));
    bad("");
    bad(sdp(...HEAD, "c=IN IP4"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/x"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 /8000"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:x PCMU/8000"));
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP 0", "a=ptime:abc"));
    bad(sdp("v=0", "o=onlyuser"));
  });

  it("enforces the fixed capacities", () => {
    const many: number[] = [];
    for (let i = 0; i < 17; i++) many.push(i);
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP " + many.join(" ")), SDP_ERR_LIMIT);
    const huge: number[] = [];
    for (let i = 0; i < 5000; i++) huge.push(i % 128);
    bad(sdp(...HEAD, "m=audio 4000 RTP/AVP " + huge.join(" ")), SDP_ERR_LIMIT);
    bad(sdp(...HEAD, "m=audio 1 RTP/AVP 0", "m=audio 2 RTP/AVP 0", "m=audio 3 RTP/AVP 0", "m=audio 4 RTP/AVP 0", "m=audio 5 RTP/AVP 0"), SDP_ERR_LIMIT);
    const lines: string[] = [...HEAD];
    for (let i = 0; i < 300; i++) lines.push("a=x" + i);
    bad(sdp(...lines), SDP_ERR_LIMIT);
  });

  it("2,000 random mutations of a valid body never throw", () => {
    let seed = 12345;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const alphabet = "v=oscmta0123456789 :/\r\n-IPN46RTAVPrtpmapfmtp.*\x00\xff";
    const s = new SdpSession();
    const a = new AudioAnswer();
    const w = new SipWriter(2048);
    let ok = 0;
    for (let i = 0; i < 2000; i++) {
      let src = OFFER;
      const edits = 1 + rnd(6);
      for (let e = 0; e < edits; e++) {
        const p = rnd(src.length + 1);
        const op = rnd(4);
        if (op === 0) src = src.substring(0, p) + src.substring(p + 1 + rnd(8));
        else if (op === 1) src = src.substring(0, p) + alphabet.charAt(rnd(alphabet.length)) + src.substring(p);
        else if (op === 2) src = src.substring(0, p) + alphabet.charAt(rnd(alphabet.length)) + src.substring(p + 1);
        else { const q = rnd(src.length); src = src.substring(0, p) + src.substring(q, q + rnd(30)) + src.substring(p); }
      }
      const r = parseSdp(src, 0, src.length, s);
      expect(r === 0 || r === SDP_ERR_SYNTAX || r === SDP_ERR_LIMIT).toBe(true);
      if (r === 0) {
        ok++;
        if (negotiateAudio(s, [PCMU, PCMA], a)) {
          expect(a.addrEnd).toBeGreaterThanOrEqual(a.addrStart);
          w.reset();
          writeSdpAnswer(w, params({ payloads: [a.payload], telephoneEvent: a.telephoneEvent, direction: a.direction }), rejectedMedia(s, a), a.mediaIndex);
        }
      }
    }
    expect(ok).toBeGreaterThan(0);
  });
});
