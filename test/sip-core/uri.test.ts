// parseUri field by field (SIP, SIPS, tel, IPv6 references, parameters, headers, escapes), rejection of malformed URIs, §19.1.4 equality.
import { describe, expect, it } from "vitest";
import {
  HOST_DOMAIN, HOST_IPV4, HOST_IPV6, HOST_NONE, SCHEME_OTHER, SCHEME_SIP, SCHEME_SIPS, SCHEME_TEL, SipUri,
  findUriParam, parseUri, uriEquals, uriParamValueEnd,
} from "../../sip-core/index.ts";

/** The fields a caller reads, spans turned into text (null: absent). */
interface Fields {
  scheme: number;
  /** The user span as sent (escapes kept). */
  rawUser: string | null;
  /** user(): escapes decoded. */
  user: string;
  password: string | null;
  host: string;
  hostKind: number;
  port: number;
  params: string | null;
  headers: string | null;
  transport: string | null;
  userParam: string | null;
  method: string | null;
  maddr: string | null;
  ttl: number;
  lr: boolean;
}

function span(src: string, s: number, e: number): string | null {
  return s < 0 ? null : src.substring(s, e);
}

/** A parameter's value looked up by name (null: absent or without a value). */
function param(u: SipUri, name: string): string | null {
  const v = findUriParam(u, name);
  const e = v < 0 ? -1 : uriParamValueEnd(u, v);
  return e > v ? u.src.substring(v, e) : null;
}

function fields(u: SipUri): Fields {
  const s = u.src;
  const ttl = param(u, "ttl");
  return {
    scheme: u.scheme,
    rawUser: span(s, u.userStart, u.userEnd),
    user: u.userText(),
    // The password (SIP, SIPS) follows a ':' that ends the user span, up to the '@' before the host.
    password: u.hostStart >= 0 && u.userStart >= 0 && s.charCodeAt(u.userEnd) === 58 ? s.substring(u.userEnd + 1, u.hostStart - 1) : null,
    host: u.hostText(),
    hostKind: u.hostKind,
    port: u.port,
    // The parameters end at the headers' '?', the headers at the URI's end.
    params: span(s, u.paramsStart, u.headersStart >= 0 ? u.headersStart - 1 : u.end),
    headers: span(s, u.headersStart, u.end),
    transport: param(u, "transport"),
    userParam: param(u, "user"),
    method: param(u, "method"),
    maddr: param(u, "maddr"),
    ttl: ttl === null ? -1 : Number(ttl),
    lr: findUriParam(u, "lr") >= 0,
  };
}

const NONE: Fields = {
  scheme: SCHEME_SIP, rawUser: null, user: "", password: null, host: "", hostKind: HOST_NONE, port: -1, params: null,
  headers: null, transport: null, userParam: null, method: null, maddr: null, ttl: -1, lr: false,
};

function parse(text: string): { r: number; u: SipUri } {
  const u = new SipUri();
  return { r: parseUri(text, 0, text.length, u), u };
}

// [URI, the fields that differ from NONE]
const VALID: [string, Partial<Fields>][] = [
  // RFC 3261 §19.1.3 examples
  ["sip:alice@atlanta.com", { rawUser: "alice", user: "alice", host: "atlanta.com", hostKind: HOST_DOMAIN }],
  ["sip:alice:secretword@atlanta.com;transport=tcp", {
    rawUser: "alice", user: "alice", password: "secretword", host: "atlanta.com", hostKind: HOST_DOMAIN,
    params: ";transport=tcp", transport: "tcp",
  }],
  ["sips:alice@atlanta.com?subject=project%20x&priority=urgent", {
    scheme: SCHEME_SIPS, rawUser: "alice", user: "alice", host: "atlanta.com", hostKind: HOST_DOMAIN,
    headers: "subject=project%20x&priority=urgent",
  }],
  ["sip:+1-212-555-1212:1234@gateway.com;user=phone", {
    rawUser: "+1-212-555-1212", user: "+1-212-555-1212", password: "1234", host: "gateway.com", hostKind: HOST_DOMAIN,
    params: ";user=phone", userParam: "phone",
  }],
  ["sips:1212@gateway.com", { scheme: SCHEME_SIPS, rawUser: "1212", user: "1212", host: "gateway.com", hostKind: HOST_DOMAIN }],
  ["sip:alice@192.0.2.4", { rawUser: "alice", user: "alice", host: "192.0.2.4", hostKind: HOST_IPV4 }],
  ["sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", {
    host: "atlanta.com", hostKind: HOST_DOMAIN, params: ";method=REGISTER", method: "REGISTER", headers: "to=alice%40atlanta.com",
  }],
  ["sip:alice;day=tuesday@atlanta.com", {
    rawUser: "alice;day=tuesday", user: "alice;day=tuesday", host: "atlanta.com", hostKind: HOST_DOMAIN,
  }],
  // Ports
  ["sip:bob@biloxi.com:5060", { rawUser: "bob", user: "bob", host: "biloxi.com", hostKind: HOST_DOMAIN, port: 5060 }],
  ["sip:bob@biloxi.com:0", { rawUser: "bob", user: "bob", host: "biloxi.com", hostKind: HOST_DOMAIN, port: 0 }],
  ["sip:bob@biloxi.com:65535", { rawUser: "bob", user: "bob", host: "biloxi.com", hostKind: HOST_DOMAIN, port: 65535 }],
  ["sip:bob@192.0.2.4:05060", { rawUser: "bob", user: "bob", host: "192.0.2.4", hostKind: HOST_IPV4, port: 5060 }],
  ["sip:a@b.com.:5060", { rawUser: "a", user: "a", host: "b.com.", hostKind: HOST_DOMAIN, port: 5060 }],
  // IPv6 references (RFC 5118)
  ["sip:[2001:db8::10]", { host: "[2001:db8::10]", hostKind: HOST_IPV6 }],
  ["sip:[2001:db8::10]:5070", { host: "[2001:db8::10]", hostKind: HOST_IPV6, port: 5070 }],
  ["sip:[2001:db8::10:5070]", { host: "[2001:db8::10:5070]", hostKind: HOST_IPV6 }], // §4.4: no port
  ["sip:user@[::ffff:192.0.2.10]:5060", { rawUser: "user", user: "user", host: "[::ffff:192.0.2.10]", hostKind: HOST_IPV6, port: 5060 }],
  ["sip:[2001:db8:::192.0.2.1]", { host: "[2001:db8:::192.0.2.1]", hostKind: HOST_IPV6 }], // §4.9: tolerated
  ["sip:[2001:db8::192.0.2.1]", { host: "[2001:db8::192.0.2.1]", hostKind: HOST_IPV6 }],
  ["sip:a@[::1]", { rawUser: "a", user: "a", host: "[::1]", hostKind: HOST_IPV6 }],
  ["sips:[2001:DB8::9:1]:5061;transport=tls;maddr=[2001:db8::1]", {
    scheme: SCHEME_SIPS, host: "[2001:DB8::9:1]", hostKind: HOST_IPV6, port: 5061,
    params: ";transport=tls;maddr=[2001:db8::1]", transport: "tls", maddr: "[2001:db8::1]",
  }],
  // Parameters: every well-known one, flags, unknown ones, case and escapes in names
  ["sip:alice@atlanta.com;transport=TCP;user=ip;method=INVITE;maddr=192.0.2.9;ttl=15;lr;foo=bar;baz", {
    rawUser: "alice", user: "alice", host: "atlanta.com", hostKind: HOST_DOMAIN,
    params: ";transport=TCP;user=ip;method=INVITE;maddr=192.0.2.9;ttl=15;lr;foo=bar;baz",
    transport: "TCP", userParam: "ip", method: "INVITE", maddr: "192.0.2.9", ttl: 15, lr: true,
  }],
  ["sip:proxy.example.com;lr", { host: "proxy.example.com", hostKind: HOST_DOMAIN, params: ";lr", lr: true }],
  ["sip:proxy.example.com;LR", { host: "proxy.example.com", hostKind: HOST_DOMAIN, params: ";LR", lr: true }],
  ["sip:proxy.example.com;%6C%72", { host: "proxy.example.com", hostKind: HOST_DOMAIN, params: ";%6C%72", lr: true }],
  ["sip:h;Transport=UDP;TTL=0", { host: "h", hostKind: HOST_DOMAIN, params: ";Transport=UDP;TTL=0", transport: "UDP", ttl: 0 }],
  ["sip:h;ttl=255", { host: "h", hostKind: HOST_DOMAIN, params: ";ttl=255", ttl: 255 }],
  ["sip:user@host;unknown=%41%42;x-flag", {
    rawUser: "user", user: "user", host: "host", hostKind: HOST_DOMAIN, params: ";unknown=%41%42;x-flag",
  }],
  ["sip:host;transport=tcp?Subject=x%20y&Priority=urgent", {
    host: "host", hostKind: HOST_DOMAIN, params: ";transport=tcp", transport: "tcp", headers: "Subject=x%20y&Priority=urgent",
  }],
  // Escapes in the user part; the password may be empty
  ["sip:%61lice@atlanta.com", { rawUser: "%61lice", user: "alice", host: "atlanta.com", hostKind: HOST_DOMAIN }],
  ["sip:j%40s0n@example.com", { rawUser: "j%40s0n", user: "j@s0n", host: "example.com", hostKind: HOST_DOMAIN }],
  ["sip:null-%00-null@example.com", { rawUser: "null-%00-null", user: "null-\x00-null", host: "example.com", hostKind: HOST_DOMAIN }],
  ["sip:alice:@atlanta.com", { rawUser: "alice", user: "alice", password: "", host: "atlanta.com", hostKind: HOST_DOMAIN }],
  ["sip:alice:p%40ss@atlanta.com", { rawUser: "alice", user: "alice", password: "p%40ss", host: "atlanta.com", hostKind: HOST_DOMAIN }],
  ["SIP:ALICE@ATLANTA.COM", { rawUser: "ALICE", user: "ALICE", host: "ATLANTA.COM", hostKind: HOST_DOMAIN }],
  // tel URIs (RFC 3966): the number is the user span, parameters follow
  ["tel:+1-201-555-0123", { scheme: SCHEME_TEL, rawUser: "+1-201-555-0123", user: "+1-201-555-0123" }],
  ["tel:7042;phone-context=example.com", { scheme: SCHEME_TEL, rawUser: "7042", user: "7042", params: ";phone-context=example.com" }],
  ["TEL:+358-555-1234567;postd=pp22", { scheme: SCHEME_TEL, rawUser: "+358-555-1234567", user: "+358-555-1234567", params: ";postd=pp22" }],
];

describe("parseUri fields", () => {
  for (const [text, want] of VALID) {
    it(text, () => {
      const { r, u } = parse(text);
      expect(r).toBe(0);
      expect(fields(u)).toEqual({ ...NONE, ...want });
      expect(u.uriText()).toBe(text);
    });
  }

  it("other schemes are kept opaque", () => {
    for (const text of ["mailto:alice@atlanta.com", "http://www.example.com", "urn:service:sos", "isbn:2983792873", "nobodyKnowsThisScheme:totallyopaquecontent"]) {
      const { r, u } = parse(text);
      expect(r, text).toBe(0);
      expect(u.scheme).toBe(SCHEME_OTHER);
      expect(u.hostStart).toBe(-1);
      expect(u.uriText()).toBe(text);
    }
  });

  it("the span is honoured: bytes outside [start, end) are never read", () => {
    // Parsing inside a larger string gives the same fields, with spans shifted.
    for (const [text, want] of VALID) {
      for (const [pre, post] of [["<", ">"], ["xx", ":5060;lr?a=b"], ["sip:", "@[::1]:1"], ["\x00\xff", "%"]]) {
        const src = pre + text + post;
        const u = new SipUri();
        expect(parseUri(src, pre.length, pre.length + text.length, u), src).toBe(0);
        expect(fields(u), src).toEqual({ ...NONE, ...want });
        expect(u.start).toBe(pre.length);
      }
    }
    // A span that stops early: the cut-off part is not there.
    const src = "sip:alice@atlanta.com:5060;transport=tcp";
    const u = new SipUri();
    expect(parseUri(src, 0, "sip:alice@atlanta.com".length, u)).toBe(0);
    expect(u.port).toBe(-1);
    expect(u.paramsStart).toBe(-1);
    expect(parseUri(src, 0, 3, u)).toBe(-1); // "sip" without its colon
    expect(parseUri(src, 0, 4, u)).toBe(-1); // "sip:" without a host
    expect(parseUri(src, 0, "sip:alice@".length, u)).toBe(-1);
    expect(parseUri(src, 0, "sip:alice@atlanta.com:".length, u)).toBe(-1);
  });

  it("findUriParam looks parameters up by name, ignoring case and escapes", () => {
    const text = "sip:h;Foo=Bar;%62az;transport=tcp;foo=second?x=y";
    const { u } = parse(text);
    let v = findUriParam(u, "foo");
    expect(text.substring(v, uriParamValueEnd(u, v))).toBe("Bar"); // the first of two
    v = findUriParam(u, "baz");
    expect(v).toBe(text.indexOf(";transport")); // without a value: an empty span where it would start
    expect(uriParamValueEnd(u, v)).toBe(v);
    v = findUriParam(u, "transport");
    expect(text.substring(v, uriParamValueEnd(u, v))).toBe("tcp");
    expect(findUriParam(u, "lr")).toBe(-1);
    expect(findUriParam(u, "x")).toBe(-1); // a URI header is not a parameter
    expect(uriParamValueEnd(u, findUriParam(u, "transport"))).toBe(text.indexOf(";foo=second"));
    const last = text.lastIndexOf("second");
    expect(uriParamValueEnd(u, last)).toBe(text.indexOf("?")); // the last value ends at the headers
    expect(findUriParam(parse("sip:h").u, "lr")).toBe(-1);
  });
});

// [URI, why it is malformed]
const INVALID: [string, string][] = [
  ["", "empty"],
  ["sip:", "no host"],
  ["sip:alice@", "empty host"],
  ["sip:alice@;transport=tcp", "empty host before parameters"],
  ["sip:@atlanta.com", "empty user before '@'"],
  ["sip:alice@atlanta.com:70000", "port out of range"],
  ["sip:alice@atlanta.com:65536", "port out of range"],
  ["sip:alice@atlanta.com:", "empty port"],
  ["sip:alice@atlanta.com:50x", "port with a letter"],
  ["sip:2001:db8::1", "unbracketed IPv6"],
  ["sip:alice@2001:db8::10", "unbracketed IPv6"],
  ["sip:[2001:db8::1", "unclosed IPv6 reference"],
  ["sip:[1:2]", "IPv6 reference with one colon"],
  ["sip:[2001:db8::g]", "IPv6 reference with a non-hex digit"],
  ["sip:alice@atlanta .com", "space in host"],
  ["sip: alice@atlanta.com", "space after scheme"],
  ["sip:alice@atlanta.com ", "trailing space"],
  ["sip:ali<ce@atlanta.com", "'<' in user"],
  ["<sip:alice@atlanta.com>", "angle brackets"],
  ["sip:alice@atl<anta.com", "'<' in host"],
  ["sip:%G1ice@atlanta.com", "bad escape %G1"],
  ["sip:alice%4@atlanta.com", "truncated escape"],
  ["sip:alice@atlanta.com;foo=%4", "truncated escape in a parameter"],
  ["sip:alice@atlanta.com;=x", "empty parameter name"],
  ["sip:alice@atlanta.com;", "empty parameter name at the end"],
  ["sip:alice@atlanta.com;;lr", "empty parameter between ';;'"],
  ["sip:alice@atlanta.com;foo=", "empty parameter value"],
  ["sip:alice@atlanta.com;ttl=256", "ttl out of range"],
  ["sip:alice@atlanta.com;ttl=x", "ttl not a number"],
  ["sip:alice@atlanta.com?x=1@y", "'@' in a header value"],
  ["sip:alice@-atlanta.com", "host starting with '-'"],
  ["sip:alice@.atlanta.com", "host starting with '.'"],
  ["sip:alice@atlanta.com\x00", "NUL"],
  ["sip:alice@atlanta.com\xe9", "8-bit byte"],
  ["1sip:alice@atlanta.com", "scheme starting with a digit"],
  [":alice@atlanta.com", "empty scheme"],
  ["sipalice", "no colon"],
  ["tel:", "empty telephone number"],
  ["tel:+1 555", "space in a telephone number"],
  ["mailto:a b", "space in an opaque URI"],
  ["urn:", "nothing after an unknown scheme"],
];

describe("malformed URIs are rejected", () => {
  for (const [text, why] of INVALID) {
    it(why + ": " + JSON.stringify(text), () => {
      expect(parse(text).r).toBe(-1);
    });
  }
});

function eq(a: string, b: string): boolean {
  const ua = parse(a);
  const ub = parse(b);
  expect(ua.r, a).toBe(0);
  expect(ub.r, b).toBe(0);
  const ab = uriEquals(ua.u, ub.u);
  // Equality is symmetric, and every URI equals itself.
  expect(uriEquals(ub.u, ua.u), "symmetry: " + a + " vs " + b).toBe(ab);
  expect(uriEquals(ua.u, ua.u)).toBe(true);
  expect(uriEquals(ub.u, ub.u)).toBe(true);
  return ab;
}

describe("uriEquals (RFC 3261 §19.1.4)", () => {
  const EQUAL: string[][] = [
    ["sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"],
    ["sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"],
    ["sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"],
    ["sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x"],
  ];
  const NOT_EQUAL: [string, string, string][] = [
    ["SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", "user parts differ in case"],
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", "an absent port is not 5060"],
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", "transport present in one only"],
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", "port and transport"],
    ["sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", "a header present in one only"],
    ["sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", "a name never equals an address"],
    ["sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", "a parameter in both with different values"],
  ];

  for (const group of EQUAL) {
    it("equal: " + group.join("  ≡  "), () => {
      for (const a of group) for (const b of group) expect(eq(a, b), a + " vs " + b).toBe(true);
    });
  }
  for (const [a, b, why] of NOT_EQUAL) {
    it("not equal (" + why + "): " + a + " vs " + b, () => {
      expect(eq(a, b)).toBe(false);
    });
  }

  it("sip and sips are never equal", () => {
    for (const [a, b] of [
      ["sip:alice@atlanta.com", "sips:alice@atlanta.com"],
      ["sip:alice@atlanta.com:5061;transport=tls", "sips:alice@atlanta.com:5061;transport=tls"],
      ["sip:[2001:db8::1]", "sips:[2001:db8::1]"],
    ]) expect(eq(a, b), a + " vs " + b).toBe(false);
    // The scheme compares case-insensitively.
    expect(eq("SIPS:alice@atlanta.com", "sips:alice@atlanta.com")).toBe(true);
  });

  it("user, password, host, port", () => {
    expect(eq("sip:alice@atlanta.com", "sip:atlanta.com")).toBe(false);
    expect(eq("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com")).toBe(false);
    expect(eq("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com")).toBe(false);
    expect(eq("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com")).toBe(true);
    expect(eq("sip:alice@atlanta.com:5060", "sip:alice@atlanta.com:05060")).toBe(true);
    expect(eq("sip:alice@atlanta.com:5060", "sip:alice@atlanta.com:5061")).toBe(false);
    expect(eq("sip:a@[2001:db8::1]", "sip:a@[2001:DB8::1]")).toBe(true);
    expect(eq("sip:a@[2001:db8::1]:5060", "sip:a@[2001:db8::1]")).toBe(false);
    expect(eq("sip:alice@atlanta.com", "sip:alice@atlanta.org")).toBe(false);
  });

  it("parameters: strict ones must match, others only when both have them", () => {
    for (const p of ["user=phone", "ttl=1", "method=INVITE", "maddr=239.255.255.1", "transport=tcp"]) {
      expect(eq("sip:a@b;" + p, "sip:a@b"), p).toBe(false);
      expect(eq("sip:a@b;" + p + ";x=1", "sip:a@b;y=2;" + p), p).toBe(true);
    }
    expect(eq("sip:a@b;method=INVITE", "sip:a@b;method=invite")).toBe(true);
    expect(eq("sip:a@b;transport=%74cp", "sip:a@b;transport=TCP")).toBe(true);
    expect(eq("sip:a@b;lr", "sip:a@b")).toBe(true);
    expect(eq("sip:a@b;foo", "sip:a@b;foo=1")).toBe(false);
    expect(eq("sip:a@b;foo=1;bar", "sip:a@b;bar;foo=1")).toBe(true);
    expect(eq("sip:a@b;FOO=x", "sip:a@b;foo=X")).toBe(true);
  });

  it("headers: the same set, in any order, values compared exactly", () => {
    expect(eq("sip:a@b?x=1", "sip:a@b?x=1&y=2")).toBe(false);
    expect(eq("sip:a@b?x=1&x=1", "sip:a@b?x=1&y=2")).toBe(false);
    expect(eq("sip:a@b?x=1&y=2", "sip:a@b?y=2&x=1")).toBe(true);
    expect(eq("sip:a@b?X=1", "sip:a@b?x=1")).toBe(true);
    expect(eq("sip:a@b?x=%41", "sip:a@b?x=A")).toBe(true);
    expect(eq("sip:a@b?x=A", "sip:a@b?x=a")).toBe(false);
  });

  it("tel URIs", () => {
    expect(eq("tel:+1-201-555-0123", "tel:+1-201-555-0123")).toBe(true);
    expect(eq("tel:+1-201-555-0123", "TEL:+1-201-555-0123")).toBe(true);
    expect(eq("tel:+1-201-555-0123", "tel:+1-201-555-0124")).toBe(false);
    expect(eq("tel:+1-201-555-0123", "sip:+1-201-555-0123@h")).toBe(false);
  });

  it("URIs parsed from different strings compare by content", () => {
    const src = "junk<sip:%61lice@ATLANTA.com;transport=tcp>junk";
    const a = new SipUri();
    expect(parseUri(src, 5, src.indexOf(">"), a)).toBe(0);
    const b = parse("sip:alice@atlanta.com;transport=TCP").u;
    expect(uriEquals(a, b)).toBe(true);
    expect(uriEquals(b, a)).toBe(true);
  });
});
