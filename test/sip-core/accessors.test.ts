// On-demand header accessors (list cursors, media type, scalars, Warning, Event, auth params) and validateMessage, on realistic messages.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AuthParams, ERR_CONTACT, ERR_HEADER_VALUE, ERR_VIA, EventValue, HDR_ALLOW, HDR_AUTHORIZATION, HDR_CONTACT, HDR_PROXY_REQUIRE,
  HDR_RECORD_ROUTE, HDR_REQUIRE, HDR_ROUTE, HDR_SUPPORTED, HDR_UNSUPPORTED, HDR_WWW_AUTHENTICATE, HOST_DOMAIN, HOST_IPV4,
  HOST_IPV6, type MediaType, NameAddrCursor, SipMessage, TokenCursor, ViaCursor, WarningCursor, contentTypeIs, hasToken,
  HDR_CALL_ID, HDR_COUNT, HDR_FLOW_TIMER, HDR_OTHER, HDR_VIA, METHOD_OTHER, METHOD_PUBLISH, field, headerName, methodName, resolveMethod,
  findUriParam, minExpires, parseAuthParams, parseEvent, parseMediaType, parseMessage, resolveHeaderName, retryAfter,
  uriParamValueEnd, validateMessage,
} from "../../sip-core/index.ts";

const CRLF = "\r\n";

/** A media type with every span absent. */
function mediaType(): MediaType {
  return { typeStart: -1, typeEnd: -1, subtypeStart: -1, subtypeEnd: -1, paramStart: -1, paramEnd: -1 };
}

/** Builds a message from header lines (the start line first) and a body, with a correct Content-Length. */
function build(lines: string[], body = ""): string {
  return lines.join(CRLF) + CRLF + "Content-Length: " + body.length + CRLF + CRLF + body;
}

/** Parses src and insists it is accepted (the accessors are for accepted messages). */
function parsed(src: string): SipMessage {
  const msg = new SipMessage();
  const r = parseMessage(src, 0, src.length, msg);
  expect(r, "error " + msg.error + " at " + msg.errorOffset).toBe(src.length);
  return msg;
}

const REQ_HEAD = [
  "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-acc-1",
  "Max-Forwards: 70",
  "From: <sip:alice@example.org>;tag=f1",
  "To: <sip:bob@example.org>",
  "Call-ID: acc-1@192.0.2.20",
];

function request(method: string, extra: string[], body = ""): SipMessage {
  return parsed(build([method + " sip:bob@example.org SIP/2.0", ...REQ_HEAD, "CSeq: 1 " + method, ...extra], body));
}

function response(status: string, method: string, extra: string[], body = ""): SipMessage {
  return parsed(build(["SIP/2.0 " + status, ...REQ_HEAD.filter((l) => !l.startsWith("Max-")), "CSeq: 1 " + method, ...extra], body));
}

function tokens(msg: SipMessage, id: number): string[] {
  const c = new TokenCursor().begin(msg, id);
  const out: string[] = [];
  while (c.next()) out.push(c.text());
  expect(c.malformed).toBe(false);
  return out;
}

const span = (msg: SipMessage, s: number, e: number): string => (s < 0 ? "<absent>" : msg.src.substring(s, e));

describe("header names", () => {
  it("every id's canonical name resolves back to it, in any case; the packed table's ends are right", () => {
    expect([headerName(HDR_OTHER), headerName(HDR_CALL_ID), headerName(HDR_VIA), headerName(HDR_FLOW_TIMER)]).toEqual(["", "Call-ID", "Via", "Flow-Timer"]);
    for (let id = 1; id < HDR_COUNT; id++) {
      const n = headerName(id);
      expect(n).toMatch(/^[A-Za-z][A-Za-z-]*[A-Za-z]$/);
      expect(resolveHeaderName(n, 0, n.length)).toBe(id);
      expect(resolveHeaderName("x" + n.toUpperCase() + "y", 1, n.length + 1)).toBe(id);
    }
    expect(resolveHeaderName("Call-IDs", 0, 8)).toBe(HDR_OTHER);
    // Only letters fold: a CR (0x0D | 0x20 is "-") is no dash, "m" no "M" in a digit's place.
    expect(resolveHeaderName("Call\rID", 0, 7)).toBe(HDR_OTHER);
    expect(resolveHeaderName("call\rid", 0, 7)).toBe(HDR_OTHER);
  });

  it("a header name's end is where its token ends, for known and unknown names", () => {
    const m = request("OPTIONS", ["X-Thing \t: 1", "v : SIP/2.0/UDP h.example.com;branch=z9hG4bKx"]);
    const names: string[] = [];
    for (let i = 0; i < m.headerCount; i++) names.push(m.src.substring(m.headerNameStart(i), m.headerNameEnd(i)));
    expect(names).toContain("X-Thing");
    expect(names).toContain("Via");
    expect(names).toContain("v"); // a compact form, space before its colon
    expect(m.findHeaderByName("x-thing")).toBeGreaterThanOrEqual(0);
    expect(m.headerName(m.findHeaderByName("x-thing"))).toBe("X-Thing");
  });

  it("method names and '|' tables: every method id's name resolves back to it; a field past the end is empty", () => {
    expect(methodName(METHOD_OTHER)).toBe("");
    for (let id = 1; id <= METHOD_PUBLISH; id++) {
      const n = methodName(id);
      expect(n).toMatch(/^[A-Z]+$/);
      expect(resolveMethod(" " + n + " ", 1, n.length + 1)).toBe(id);
      expect(resolveMethod(n.slice(0, -1) + "x", 0, n.length)).toBe(METHOD_OTHER);
    }
    expect([field("a|bc|", 0), field("a|bc|", 1), field("a|bc|", 2), field("a|bc|", 3), field("", 0)]).toEqual(["a", "bc", "", "", ""]);
  });
});

describe("TokenCursor and hasToken", () => {
  const msg = request("INVITE", [
    "Allow: INVITE, ACK,CANCEL ,  OPTIONS,BYE",
    "Allow: REFER,,NOTIFY, ,  ",
    "Supported: timer, 100REL,,\tpath",
    "Supported: gruu",
    "k: outbound",
    "Require: precondition",
    "Proxy-Require: sec-agree, foo",
    "Unsupported: ,,",
    "Unsupported: 100rel",
  ]);

  it("walks every item of every line, trimmed, skipping empty ones", () => {
    expect(tokens(msg, HDR_ALLOW)).toEqual(["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REFER", "NOTIFY"]);
    expect(tokens(msg, HDR_SUPPORTED)).toEqual(["timer", "100REL", "path", "gruu", "outbound"]);
    expect(tokens(msg, HDR_REQUIRE)).toEqual(["precondition"]);
    expect(tokens(msg, HDR_PROXY_REQUIRE)).toEqual(["sec-agree", "foo"]);
    expect(tokens(msg, HDR_UNSUPPORTED)).toEqual(["100rel"]);
  });

  it("gives each item's span into the source", () => {
    const c = new TokenCursor().begin(msg, HDR_ALLOW);
    expect(c.next()).toBe(true);
    expect(c.itemStart).toBe(msg.src.indexOf("INVITE, ACK"));
    expect(c.itemEnd - c.itemStart).toBe(6);
  });

  it("matches tokens ignoring case, on any line, including compact-form lines", () => {
    expect(hasToken(msg, HDR_SUPPORTED, "100rel")).toBe(true);
    expect(hasToken(msg, HDR_SUPPORTED, "gruu")).toBe(true); // second line
    expect(hasToken(msg, HDR_SUPPORTED, "outbound")).toBe(true); // "k:" line
    expect(hasToken(msg, HDR_SUPPORTED, "replaces")).toBe(false);
    expect(hasToken(msg, HDR_SUPPORTED, "time")).toBe(false); // a prefix is not the token
    expect(hasToken(msg, HDR_ALLOW, "notify")).toBe(true);
    expect(hasToken(msg, HDR_ALLOW, "info")).toBe(false);
    expect(hasToken(msg, HDR_REQUIRE, "precondition")).toBe(true);
    expect(hasToken(msg, HDR_PROXY_REQUIRE, "sec-agree")).toBe(true);
    expect(hasToken(msg, HDR_UNSUPPORTED, "100rel")).toBe(true);
  });

  it("is() compares the current item", () => {
    const c = new TokenCursor().begin(msg, HDR_SUPPORTED);
    expect(c.next()).toBe(true);
    expect(c.is("timer")).toBe(true);
    expect(c.is("path")).toBe(false);
  });

  it("finds nothing in an absent header", () => {
    const bare = request("OPTIONS", []);
    expect(tokens(bare, HDR_REQUIRE)).toEqual([]);
    expect(hasToken(bare, HDR_SUPPORTED, "timer")).toBe(false);
  });

  it("stops at an unclosed quoted string", () => {
    const m = request("OPTIONS", ["Supported: timer, \"oops"]);
    const c = new TokenCursor().begin(m, HDR_SUPPORTED);
    expect(c.next()).toBe(true);
    expect(c.next()).toBe(false);
    expect(c.malformed).toBe(true);
  });
});

describe("NameAddrCursor over Contact", () => {
  const msg = request("REGISTER", [
    "Contact: \"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7;expires=3600, \"Mr. Watson\" <mailto:watson@bell-telephone.com>;q=0.1",
    "m: Bob Smith <sip:bob@192.0.2.4;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1",
    "Contact: sip:carol@host.example.com;expires=0",
  ]);

  it("walks values on one line and across lines", () => {
    const c = new NameAddrCursor().begin(msg, HDR_CONTACT);
    const seen: string[] = [];
    while (c.next()) seen.push(c.value.displayNameText() + "|" + c.value.uri.uriText() + "|" + c.value.expires + "|" + span(msg, c.value.qStart, c.value.qEnd));
    expect(c.malformed).toBe(false);
    expect(seen).toEqual([
      "Mr. Watson|sip:watson@worcester.bell-telephone.com|3600|0.7",
      "Mr. Watson|mailto:watson@bell-telephone.com|-1|0.1",
      "Bob Smith|sip:bob@192.0.2.4;transport=tcp|-1|<absent>",
      "|sip:carol@host.example.com|0|<absent>",
    ]);
    expect(msg.countContacts()).toBe(4);
  });

  it("keeps quotes in the display span, not in displayName()", () => {
    const c = new NameAddrCursor().begin(msg, HDR_CONTACT);
    expect(c.next()).toBe(true);
    expect(span(msg, c.value.displayStart, c.value.displayEnd)).toBe("\"Mr. Watson\"");
    expect(c.value.bracketed).toBe(true);
    c.next();
    c.next();
    expect(span(msg, c.value.displayStart, c.value.displayEnd)).toBe("Bob Smith");
    c.next();
    expect(c.value.displayStart).toBe(-1);
    expect(c.value.bracketed).toBe(false);
  });

  it("keeps a quoted +sip.instance parameter whole, '<' and '>' included", () => {
    const c = new NameAddrCursor().begin(msg, HDR_CONTACT);
    c.next();
    c.next();
    expect(c.next()).toBe(true);
    expect(c.value.uri.hostText()).toBe("192.0.2.4");
    expect(c.value.uri.hostKind).toBe(HOST_IPV4);
    const transport = findUriParam(c.value.uri, "transport");
    expect(span(msg, transport, uriParamValueEnd(c.value.uri, transport))).toBe("tcp");
    expect(span(msg, c.value.paramsStart, c.value.paramsEnd)).toBe(
      ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1");
    // The '>' inside the quoted parameter did not end the value early: the next one is Carol.
    expect(c.next()).toBe(true);
    expect(c.value.uri.userText()).toBe("carol");
  });

  it("an addr-spec's parameters are header parameters, not URI parameters", () => {
    const c = new NameAddrCursor().begin(msg, HDR_CONTACT);
    for (let i = 0; i < 4; i++) expect(c.next()).toBe(true);
    expect(c.value.uri.uriText()).toBe("sip:carol@host.example.com");
    expect(c.value.uri.paramsStart).toBe(-1);
    expect(c.value.expires).toBe(0);
    expect(c.next()).toBe(false);
  });

  it("Contact: * (§10.2.2)", () => {
    const m = request("REGISTER", ["Contact: *", "Expires: 0"]);
    const c = new NameAddrCursor().begin(m, HDR_CONTACT);
    expect(c.next()).toBe(true);
    expect(c.value.star).toBe(true);
    expect(c.next()).toBe(false);
    expect(c.malformed).toBe(false);
    expect(m.countContacts()).toBe(1);
    expect(validateMessage(m)).toBe(0);
  });

  it("'*' is only a Contact value", () => {
    const m = request("INVITE", ["Route: *"]);
    const c = new NameAddrCursor().begin(m, HDR_ROUTE);
    expect(c.next()).toBe(false);
    expect(c.malformed).toBe(true);
  });

  it("a malformed value stops the walk and says where", () => {
    const m = request("REGISTER", ["Contact: <sip:a@192.0.2.1>, \"unclosed <sip:b@192.0.2.2>", "Contact: <sip:c@192.0.2.3>"]);
    const c = new NameAddrCursor().begin(m, HDR_CONTACT);
    expect(c.next()).toBe(true);
    expect(c.value.uri.userText()).toBe("a");
    expect(c.malformed).toBe(false);
    expect(c.failedAt).toBe(-1);
    expect(c.next()).toBe(false);
    expect(c.malformed).toBe(true);
    expect(c.failedAt).toBeGreaterThan(m.src.indexOf("<sip:a@"));
    expect(m.src.substring(c.failedAt).trimStart().startsWith("\"unclosed")).toBe(true);
    // Stays stopped: the third value is not reached.
    expect(c.next()).toBe(false);
    expect(m.countContacts()).toBe(1);
    // begin() starts afresh.
    c.begin(m, HDR_CONTACT);
    expect(c.malformed).toBe(false);
    expect(c.failedAt).toBe(-1);
  });
});

describe("NameAddrCursor over Route and Record-Route", () => {
  const msg = request("INVITE", [
    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;transport=tcp;lr>",
    "Route: <sip:p3.example.com>",
    "Record-Route: <sip:rr2.example.net;lr>,",
    " <sip:192.0.2.77:5080;LR;ftag=abc>",
    "Record-Route: \"edge\" <sips:[2001:db8::1]:5061;lr>",
  ]);

  function walk(id: number): string[] {
    const c = new NameAddrCursor().begin(msg, id);
    const out: string[] = [];
    while (c.next()) out.push(c.value.uri.hostText() + (c.value.uri.port >= 0 ? ":" + c.value.uri.port : "") + (findUriParam(c.value.uri, "lr") >= 0 ? " lr" : " strict"));
    expect(c.malformed).toBe(false);
    return out;
  }

  it("Route values in order, with loose routing visible through the URI's lr parameter", () => {
    expect(walk(HDR_ROUTE)).toEqual(["p1.example.com lr", "p2.example.com lr", "p3.example.com strict"]);
  });

  it("Record-Route values across a folded line and a second line, lr in any case", () => {
    expect(walk(HDR_RECORD_ROUTE)).toEqual(["rr2.example.net lr", "192.0.2.77:5080 lr", "[2001:db8::1]:5061 lr"]);
  });

  it("a broken Route is found by validateMessage as a bad header value", () => {
    const m = request("INVITE", ["Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr"]);
    expect(validateMessage(m)).toBe(-ERR_HEADER_VALUE);
    expect(m.error).toBe(ERR_HEADER_VALUE);
    expect(m.rejectStatus()).toBe(400);
  });
});

describe("ViaCursor", () => {
  const msg = request("INVITE", [
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport, SIP/2.0/TCP proxy.example.com;branch=z9hG4bKnashds8;received=192.0.2.3;rport=5062",
    "Via: SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bK-6;maddr=224.2.0.1;ttl=16",
    "v: SIP / 2.0 / SCTP old.example.org ; branch=1234abc",
  ].concat([]));
  // REQ_HEAD's Via comes first; these follow it.

  interface ViaRow { host: string; port: number; transport: string; branch: string; cookie: boolean; rport: number; received: string; maddr: string; ttl: number; kind: number }
  function rows(m: SipMessage): ViaRow[] {
    const c = new ViaCursor().begin(m);
    const out: ViaRow[] = [];
    while (c.next()) {
      const v = c.value;
      out.push({
        host: v.hostText(), port: v.port, transport: v.transportText(), branch: v.branchText(), cookie: v.hasMagicCookie(), rport: v.rport,
        received: span(m, v.receivedStart, v.receivedEnd), maddr: span(m, v.maddrStart, v.maddrEnd), ttl: v.ttl, kind: v.hostKind,
      });
    }
    expect(c.malformed).toBe(false);
    return out;
  }

  it("walks every value across commas and lines, top first", () => {
    const r = rows(msg);
    expect(r.map((v) => v.host)).toEqual(["192.0.2.20", "192.0.2.1", "proxy.example.com", "[2001:db8::9:1]", "old.example.org"]);
    expect(r.map((v) => v.transport)).toEqual(["UDP", "UDP", "TCP", "UDP", "SCTP"]);
    expect(msg.countVia()).toBe(5);
  });

  it("rport without a value is 0, with a value its port, absent -1", () => {
    const r = rows(msg);
    expect(r[0].rport).toBe(-1);
    expect(r[1].rport).toBe(0);
    expect(r[2].rport).toBe(5062);
  });

  it("received, maddr, ttl and the sent-by port", () => {
    const r = rows(msg);
    expect(r[1].port).toBe(5060);
    expect(r[2].port).toBe(-1);
    expect(r[2].received).toBe("192.0.2.3");
    expect(r[1].received).toBe("<absent>");
    expect(r[3].maddr).toBe("224.2.0.1");
    expect(r[3].ttl).toBe(16);
    expect(r[2].ttl).toBe(-1);
  });

  it("an IPv6 sent-by keeps its brackets and takes the port after them", () => {
    const r = rows(msg);
    expect(r[3].kind).toBe(HOST_IPV6);
    expect(r[3].port).toBe(5070);
    expect(r[2].kind).toBe(HOST_DOMAIN);
    expect(r[1].kind).toBe(HOST_IPV4);
  });

  it("hasMagicCookie() tells RFC 3261 branches from RFC 2543 ones", () => {
    const r = rows(msg);
    expect(r.map((v) => v.cookie)).toEqual([true, true, true, true, false]);
    expect(r[4].branch).toBe("1234abc");
    expect(r[3].branch).toBe("z9hG4bK-6");
  });

  it("a branch that only starts like the cookie, or lacks it, is not RFC 3261", () => {
    const m = request("OPTIONS", ["Via: SIP/2.0/UDP h1.example.com;branch=z9hG4b, SIP/2.0/UDP h2.example.com;branch=Z9HG4BKabc, SIP/2.0/UDP h3.example.com"]);
    expect(rows(m).map((v) => v.cookie)).toEqual([true, false, false, false]);
  });

  it("a malformed second value: the walk stops, validateMessage rejects", () => {
    const m = request("OPTIONS", ["Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKok, SIP/2.0/UDP ;branch=z9hG4bKbad"]);
    expect(m.viaOk).toBe(true); // the top value parsed at parse time
    const top = m.via.branchText() + " " + m.via.hostText() + " " + m.via.end;
    expect(m.countVia()).toBe(2);
    expect(m.via.branchText() + " " + m.via.hostText() + " " + m.via.end).toBe(top); // msg.via is the top value again
    const c = new ViaCursor().begin(m);
    while (c.next()) { /* walk */ }
    expect(c.malformed).toBe(true);
    expect(m.src.substring(c.failedAt).trimStart().startsWith("SIP/2.0/UDP ;branch=z9hG4bKbad")).toBe(true);
    expect(validateMessage(m)).toBe(-ERR_VIA);
    expect(m.error).toBe(ERR_VIA);
    expect(m.errorOffset).toBe(c.failedAt);
    expect(m.rejectStatus()).toBe(400);
    expect(m.rejectReason()).toBe("Malformed Via");
    expect(m.via.branchText() + " " + m.via.hostText() + " " + m.via.end).toBe(top);
  });
});

describe("media type", () => {
  it("contentTypeIs ignores case and parameters", () => {
    const m = request("INVITE", ["Content-Type: Application/SDP ; charset=UTF-8"], "v=0\r\n");
    expect(contentTypeIs(m, "application", "sdp")).toBe(true);
    expect(contentTypeIs(m, "application", "pidf+xml")).toBe(false);
    expect(contentTypeIs(m, "text", "sdp")).toBe(false);
  });

  it("contentTypeIs reads the compact form and is false when absent", () => {
    const m = request("MESSAGE", ["c: text/plain;charset=utf-8"], "hi");
    expect(contentTypeIs(m, "text", "plain")).toBe(true);
    expect(contentTypeIs(request("OPTIONS", []), "application", "sdp")).toBe(false);
  });

  it("parseMediaType: type, subtype and parameters with LWS", () => {
    const src = "multipart/mixed ; boundary = \"unique-boundary-1\" ;\tx=1";
    const t = mediaType();
    expect(parseMediaType(src, 0, src.length, t)).toBe(0);
    expect(src.substring(t.typeStart, t.typeEnd)).toBe("multipart");
    expect(src.substring(t.subtypeStart, t.subtypeEnd)).toBe("mixed");
    expect(src.substring(t.paramStart, t.paramEnd)).toBe(" ; boundary = \"unique-boundary-1\" ;\tx=1");
  });

  it("parseMediaType: LWS around the slash, no parameters", () => {
    const src = "  text / html";
    const t = mediaType();
    expect(parseMediaType(src, 0, src.length, t)).toBe(0);
    expect(src.substring(t.typeStart, t.typeEnd)).toBe("text");
    expect(src.substring(t.subtypeStart, t.subtypeEnd)).toBe("html");
    expect(t.paramEnd).toBe(t.paramStart);
  });

  it("parseMediaType refuses malformed values", () => {
    const t = mediaType();
    for (const bad of ["text", "text/", "/plain", "text/plain;", "text/plain garbage", "text/plain;charset=\"utf-8", ""]) {
      expect(parseMediaType(bad, 0, bad.length, t), JSON.stringify(bad)).toBe(-1);
    }
  });

  it("a malformed Content-Type is not any type", () => {
    const m = request("INVITE", ["Content-Type: application"]);
    expect(contentTypeIs(m, "application", "sdp")).toBe(false);
  });
});

describe("scalars", () => {
  it("retryAfter with a comment and a duration parameter", () => {
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: 18000;duration=3600"]))).toBe(18000);
    expect(retryAfter(response("486 Busy Here", "INVITE", ["Retry-After: 120 (I'm in a meeting)"]))).toBe(120);
    expect(retryAfter(response("480 Temporarily Unavailable", "INVITE", ["Retry-After: 0 (back soon) ;duration=60"]))).toBe(0);
  });

  it("retryAfter is -1 when absent or garbage", () => {
    expect(retryAfter(response("503 Service Unavailable", "INVITE", []))).toBe(-1);
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: soon"]))).toBe(-1);
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: (tomorrow)"]))).toBe(-1);
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: 949302838503028349304023988"]))).toBe(-1);
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: 120abc"]))).toBe(-1);
    expect(retryAfter(response("503 Service Unavailable", "INVITE", ["Retry-After: 120 abc"]))).toBe(-1);
  });

  it("minExpires", () => {
    expect(minExpires(response("423 Interval Too Brief", "REGISTER", ["Min-Expires: 3600"]))).toBe(3600);
    expect(minExpires(response("423 Interval Too Brief", "REGISTER", []))).toBe(-1);
    expect(minExpires(response("423 Interval Too Brief", "REGISTER", ["Min-Expires: 1h"]))).toBe(-1);
  });
});

describe("WarningCursor", () => {
  it("code, agent and quoted text of several warnings on one line and across lines", () => {
    const m = response("488 Not Acceptable Here", "INVITE", [
      "Warning: 307 isi.edu \"Session parameter 'foo' not understood\", 301 isi.edu \"Incompatible network address type 'E.164'\"",
      "Warning: 399 [2001:db8::5]:5060 \"Miscellaneous \\\"quoted\\\" warning\"",
    ]);
    const w = new WarningCursor().begin(m);
    const seen: string[] = [];
    while (w.next()) seen.push(w.code + " " + m.src.substring(w.agentStart, w.agentEnd) + " " + m.src.substring(w.textStart, w.textEnd));
    expect(w.malformed).toBe(false);
    expect(seen).toEqual([
      "307 isi.edu \"Session parameter 'foo' not understood\"",
      "301 isi.edu \"Incompatible network address type 'E.164'\"",
      "399 [2001:db8::5]:5060 \"Miscellaneous \\\"quoted\\\" warning\"",
    ]);
  });

  it("a 4-digit code is malformed", () => {
    const m = response("503 Service Unavailable", "OPTIONS", ["Warning: 1812 overture \"In Progress\""]);
    const w = new WarningCursor().begin(m);
    expect(w.next()).toBe(false);
    expect(w.malformed).toBe(true);
    expect(w.failedAt).toBe(m.src.indexOf("1812"));
  });

  it("unquoted text and a missing agent are malformed", () => {
    for (const bad of ["399 example.com In Progress", "399 \"text only\"", "39 example.com \"x\"", "399 example.com \"x\" trailing"]) {
      const m = response("503 Service Unavailable", "OPTIONS", ["Warning: " + bad]);
      const w = new WarningCursor().begin(m);
      expect(w.next(), bad).toBe(false);
      expect(w.malformed, bad).toBe(true);
    }
  });
});

describe("parseEvent", () => {
  it("type and id parameter", () => {
    const m = request("SUBSCRIBE", ["Event: dialog;id=abc123;call-id=x", "Expires: 3600"]);
    const ev = new EventValue();
    expect(parseEvent(m, ev)).toBe(0);
    expect(m.src.substring(ev.typeStart, ev.typeEnd)).toBe("dialog");
    expect(m.src.substring(ev.idStart, ev.idEnd)).toBe("abc123");
  });

  it("compact form with LWS, and an event without id", () => {
    const ev = new EventValue();
    const m = request("NOTIFY", ["o: refer ; ID = 93809824"]);
    expect(parseEvent(m, ev)).toBe(0);
    expect(m.src.substring(ev.typeStart, ev.typeEnd)).toBe("refer");
    expect(m.src.substring(ev.idStart, ev.idEnd)).toBe("93809824");
    const p = request("SUBSCRIBE", ["Event: presence.winfo"]);
    expect(parseEvent(p, ev)).toBe(0);
    expect(p.src.substring(ev.typeStart, ev.typeEnd)).toBe("presence.winfo");
    expect(ev.idStart).toBe(-1); // cleared from the previous parse
  });

  it("absent or malformed is -1", () => {
    const ev = new EventValue();
    expect(parseEvent(request("SUBSCRIBE", []), ev)).toBe(-1);
    expect(parseEvent(request("SUBSCRIBE", ["Event: ;id=1"]), ev)).toBe(-1);
    expect(parseEvent(request("SUBSCRIBE", ["Event: dialog id=1"]), ev)).toBe(-1);
    expect(parseEvent(request("SUBSCRIBE", ["Event: dialog;"]), ev)).toBe(-1);
  });
});

describe("parseAuthParams", () => {
  function valueOf(msg: SipMessage, id: number): [number, number] {
    const i = msg.findHeader(id);
    expect(i).toBeGreaterThanOrEqual(0);
    return [msg.headerValueStart(i), msg.headerValueEnd(i)];
  }

  it("a digest challenge: every parameter, stale=TRUE read case-insensitively", () => {
    const m = response("401 Unauthorized", "REGISTER", [
      "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth,auth-int\", algorithm=SHA-256, opaque=\"xyz\", stale=TRUE",
    ]);
    const [s, e] = valueOf(m, HDR_WWW_AUTHENTICATE);
    const a = new AuthParams();
    expect(parseAuthParams(m.src, s, e, a)).toBe(e);
    expect(a.digest).toBe(true);
    expect(m.src.substring(a.schemeStart, a.schemeEnd)).toBe("Digest");
    expect(a.text(a.realmStart, a.realmEnd)).toBe("example.com");
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("abc");
    expect(a.text(a.qopStart, a.qopEnd)).toBe("auth,auth-int");
    expect(a.text(a.algorithmStart, a.algorithmEnd)).toBe("SHA-256");
    expect(a.text(a.opaqueStart, a.opaqueEnd)).toBe("xyz");
    expect(a.stale).toBe(true);
    expect(a.usernameStart).toBe(-1);
    expect(a.text(a.usernameStart, a.usernameEnd)).toBe("");
  });

  it("stale=false and a missing stale leave stale false", () => {
    const a = new AuthParams();
    const v1 = "Digest realm=\"r\", nonce=\"n\", stale=false";
    expect(parseAuthParams(v1, 0, v1.length, a)).toBe(v1.length);
    expect(a.stale).toBe(false);
    const v2 = "digest realm=\"r\", stale=\"true\"";
    expect(parseAuthParams(v2, 0, v2.length, a)).toBe(v2.length);
    expect(a.digest).toBe(true);
    expect(a.stale).toBe(true);
    const v3 = "Digest realm=\"r\"";
    expect(parseAuthParams(v3, 0, v3.length, a)).toBe(v3.length);
    expect(a.stale).toBe(false); // reset from the previous parse
  });

  it("digest credentials", () => {
    const m = request("REGISTER", [
      "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:example.com\", " +
        "response=\"6629fae49393a05397450978507c4ef1\", cnonce=\"0a4f113b\", nc=00000001, qop=auth, algorithm=MD5",
    ]);
    const [s, e] = valueOf(m, HDR_AUTHORIZATION);
    const a = new AuthParams();
    expect(parseAuthParams(m.src, s, e, a)).toBe(e);
    expect(a.digest).toBe(true);
    expect(a.text(a.usernameStart, a.usernameEnd)).toBe("alice");
    expect(a.text(a.uriStart, a.uriEnd)).toBe("sip:example.com");
    expect(a.text(a.responseStart, a.responseEnd)).toBe("6629fae49393a05397450978507c4ef1");
    expect(a.text(a.cnonceStart, a.cnonceEnd)).toBe("0a4f113b");
    expect(a.text(a.ncStart, a.ncEnd)).toBe("00000001");
    expect(a.text(a.qopStart, a.qopEnd)).toBe("auth");
    expect(a.text(a.algorithmStart, a.algorithmEnd)).toBe("MD5");
    expect(a.text(a.realmStart, a.realmEnd)).toBe("example.com");
  });

  it("a quoted realm with a backslash escape: the span keeps it, text() removes it", () => {
    const v = "Digest realm=\"door\\\"s \\\\ realm\", nonce=\"n\"";
    const a = new AuthParams();
    expect(parseAuthParams(v, 0, v.length, a)).toBe(v.length);
    expect(v.substring(a.realmStart, a.realmEnd)).toBe("door\\\"s \\\\ realm");
    expect(a.text(a.realmStart, a.realmEnd)).toBe("door\"s \\ realm");
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("n");
  });

  it("two challenges in one value: returns where the second starts", () => {
    const v = "Digest realm=\"example.com\", nonce=\"n1\", algorithm=SHA-256, Digest realm=\"example.com\", nonce=\"n2\", algorithm=MD5";
    const a = new AuthParams();
    const next = parseAuthParams(v, 0, v.length, a);
    expect(next).toBe(v.lastIndexOf("Digest"));
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("n1");
    expect(a.text(a.algorithmStart, a.algorithmEnd)).toBe("SHA-256");
    expect(parseAuthParams(v, next, v.length, a)).toBe(v.length);
    expect(a.text(a.nonceStart, a.nonceEnd)).toBe("n2");
    expect(a.text(a.algorithmStart, a.algorithmEnd)).toBe("MD5");
  });

  it("an unknown scheme with parameters (RFC 4475 regaut01)", () => {
    const src = readFileSync(new URL("../fixtures/torture/rfc4475/regaut01.dat", import.meta.url)).toString("latin1");
    const m = new SipMessage();
    expect(parseMessage(src, 0, src.length, m)).toBeGreaterThan(0);
    const [s, e] = valueOf(m, HDR_AUTHORIZATION);
    const a = new AuthParams();
    expect(parseAuthParams(m.src, s, e, a)).toBe(e);
    expect(a.digest).toBe(false);
    expect(m.src.substring(a.schemeStart, a.schemeEnd)).toBe("NoOneKnowsThisScheme");
    expect(a.opaqueStart).toBe(-1); // "opaque-data" is not "opaque"
    expect(a.realmStart).toBe(-1);
  });

  it("after a comma, a scheme alone or a scheme with parameters is the next challenge", () => {
    const a = new AuthParams();
    for (const v of ["Digest realm=\"a\", Negotiate", "Digest realm=\"a\", Foo x=1"]) {
      expect(parseAuthParams(v, 0, v.length, a), v).toBe(v.indexOf(", ") + 2);
      expect(a.text(a.realmStart, a.realmEnd)).toBe("a");
    }
  });

  it("a scheme alone", () => {
    const v = "Digest";
    const a = new AuthParams();
    expect(parseAuthParams(v, 0, v.length, a)).toBe(v.length);
    expect(a.digest).toBe(true);
  });

  it("malformed values are -1", () => {
    const a = new AuthParams();
    const bad = [
      "Digest realm=\"example.com, nonce=\"abc", // unbalanced quote
      "Digest realm=\"example.com", // unclosed at the end
      "Digest realm, nonce=\"abc\"", // parameter without '=' right after the scheme
      "Digest realm nonce=\"abc\"", // the same, no comma either
      "Digest realm", // the same, alone
      "Digest realm=\"a\", nonce \"abc\"", // parameter without '=' later on
      "Digest realm=\"a\", nonce, opaque=\"x\"", // the same, between two parameters
      "Digest realm=\"a\", nonce=\"abc\",", // trailing comma
      "Digest realm=\"a\",, nonce=\"abc\"", // empty parameter
      "Digest realm=\"a\" nonce=\"abc\"", // missing comma
      "Digest realm=", // empty value
      "Digest,realm=\"a\"", // no LWS after the scheme
      "",
    ];
    for (const v of bad) expect(parseAuthParams(v, 0, v.length, a), JSON.stringify(v)).toBe(-1);
  });
});

describe("validateMessage", () => {
  it("RFC 4475 regbadct: parseMessage accepts, validateMessage finds the Contact with URI headers", () => {
    const src = readFileSync(new URL("../fixtures/torture/rfc4475/regbadct.dat", import.meta.url)).toString("latin1");
    const m = new SipMessage();
    expect(parseMessage(src, 0, src.length, m)).toBe(src.length);
    expect(m.error).toBe(0);
    expect(m.rejectStatus()).toBe(0); // nothing to reject yet
    expect(validateMessage(m)).toBe(-ERR_CONTACT);
    expect(m.error).toBe(ERR_CONTACT);
    expect(m.errorOffset).toBeGreaterThanOrEqual(0);
    expect(src.substring(m.errorOffset).trimStart().startsWith("sip:user@example.com?Route=")).toBe(true);
    expect(m.rejectStatus()).toBe(400);
    expect(m.rejectReason()).toBe("Malformed Contact");
    expect(m.countContacts()).toBe(0);
  });

  it("a malformed Via first, a malformed Contact second: the Via is reported", () => {
    const m = request("INVITE", ["Via: SIP/2.0/UDP good.example.com;branch=z9hG4bK2, SIP/2.0/UDP", "Contact: <sip:a@b"]);
    expect(validateMessage(m)).toBe(-ERR_VIA);
    expect(m.error).toBe(ERR_VIA);
    // A second call keeps the first verdict.
    expect(validateMessage(m)).toBe(-ERR_VIA);
  });

  it("a well-formed message passes and keeps error 0", () => {
    const m = request("INVITE", [
      "Via: SIP/2.0/TCP 198.51.100.1;branch=z9hG4bKx, SIP/2.0/UDP [2001:db8::2]:5062;branch=z9hG4bKy;rport=5062",
      "Contact: <sip:alice@198.51.100.1;transport=tcp>;expires=60",
      "Route: <sip:edge.example.org;lr>",
      "Record-Route: <sip:core.example.org;lr>",
    ]);
    expect(validateMessage(m)).toBe(0);
    expect(m.error).toBe(0);
    expect(m.rejectStatus()).toBe(0);
  });
});

describe("countVia and countContacts", () => {
  it("count values across commas and lines", () => {
    const m = request("REGISTER", [
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2",
      "v: SIP/2.0/TCP c.example.com;branch=z9hG4bK3",
      "Contact: <sip:u@a.example.com>, <sip:u@b.example.com>",
      "m: <sip:u@c.example.com>",
    ]);
    const top = m.via.branchText();
    expect(m.countVia()).toBe(4); // REQ_HEAD's Via and these three
    expect(m.via.branchText()).toBe(top); // walked through msg.via, which holds the top value again
    expect(validateMessage(m)).toBe(0);
    expect(m.via.branchText()).toBe(top);
    expect(m.countContacts()).toBe(3);
    // Counting twice is stable (the shared cursor is restarted).
    expect(m.countVia()).toBe(4);
    expect(m.countContacts()).toBe(3);
  });

  it("zero when absent", () => {
    const m = request("OPTIONS", []);
    expect(m.countContacts()).toBe(0);
    expect(m.countVia()).toBe(1);
  });
});
