// RFC 4475 and RFC 5118 torture messages: every verdict, the answer each rejection earns, and the fields the RFCs name.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ERR_BODY_TRUNCATED, ERR_CALL_ID, ERR_CONTACT, ERR_CONTENT_LENGTH, ERR_CSEQ, ERR_CSEQ_METHOD, ERR_DATE,
  ERR_DUPLICATE_HEADER, ERR_INCOMPLETE, ERR_MISSING_FROM, ERR_REQUEST_URI, ERR_START_LINE, ERR_STATUS_CODE, ERR_TO,
  ERR_VERSION, ERR_VIA, HDR_ACCEPT, HDR_CONTACT, HDR_OTHER, HDR_PROXY_REQUIRE, HDR_REQUIRE, HOST_IPV4, HOST_IPV6,
  METHOD_INVITE, METHOD_OTHER, METHOD_REGISTER, NameAddrCursor, SCHEME_OTHER, SCHEME_SIP, SipMessage, SipUri,
  TokenCursor, ViaCursor, findUriParam, parseMessage, parseUri, validateMessage, unescapeSpan, uriEquals, uriParamValueEnd,
} from "../../sip-core/index.ts";

const dir = new URL("../fixtures/torture/", import.meta.url).pathname;

interface Verdict { expect: "accept" | "reject"; response: string }

function load(set: string, name: string): string {
  return readFileSync(dir + set + "/" + name + ".dat").toString("latin1");
}

// The stack's verdict: parseMessage, then validateMessage (the checks a UAS runs before acting).
function parse(set: string, name: string): { msg: SipMessage; r: number; src: string } {
  const src = load(set, name);
  const msg = new SipMessage({ maxHeaders: 64, maxMessageSize: 8192, maxUriLength: 1024, maxBodySize: 4096 });
  let r = parseMessage(src, 0, src.length, msg);
  if (r > 0) {
    const v = validateMessage(msg);
    if (v < 0) r = v;
  }
  return { msg, r, src };
}

for (const set of ["rfc4475", "rfc5118"]) {
  const expected: Record<string, Verdict> = JSON.parse(readFileSync(dir + set + "/expected.json", "utf8"));
  describe(set + " verdicts", () => {
    for (const name of Object.keys(expected)) {
      it(name + " is " + expected[name].expect + "ed", () => {
        const { msg, r } = parse(set, name);
        if (expected[name].expect === "accept") {
          expect(msg.error, "error " + msg.error + " at " + msg.errorOffset).toBe(0);
          expect(r).toBeGreaterThan(0);
        } else {
          expect(r).toBeLessThan(0);
          expect(-r).toBe(msg.error);
        }
      });
    }
  });
}

// What each rejected message earns: the error code, and the status the stack answers with (0 = dropped).
const REJECTIONS: [string, string, number, number][] = [
  ["rfc4475", "badinv01", ERR_VIA, 400],
  ["rfc4475", "clerr", ERR_BODY_TRUNCATED, 400],
  ["rfc4475", "ncl", ERR_CONTENT_LENGTH, 400],
  ["rfc4475", "scalar02", ERR_CSEQ, 400],
  ["rfc4475", "scalarlg", ERR_CSEQ, 0], // a response: dropped
  ["rfc4475", "quotbal", ERR_TO, 400],
  ["rfc4475", "ltgtruri", ERR_REQUEST_URI, 400],
  ["rfc4475", "lwsruri", ERR_START_LINE, 400],
  ["rfc4475", "lwsstart", ERR_START_LINE, 400],
  ["rfc4475", "trws", ERR_START_LINE, 400],
  ["rfc4475", "escruri", ERR_REQUEST_URI, 400],
  ["rfc4475", "baddate", ERR_DATE, 400],
  ["rfc4475", "regbadct", ERR_CONTACT, 400],
  ["rfc4475", "badaspec", ERR_TO, 400],
  ["rfc4475", "baddn", ERR_INCOMPLETE, 0], // the archive's copy never ends its header section
  ["rfc4475", "badvers", ERR_VERSION, 505],
  ["rfc4475", "mismatch01", ERR_CSEQ_METHOD, 400],
  ["rfc4475", "mismatch02", ERR_CSEQ_METHOD, 501],
  ["rfc4475", "bigcode", ERR_STATUS_CODE, 0],
  ["rfc4475", "insuf", ERR_MISSING_FROM, 400],
  ["rfc4475", "multi01", ERR_DUPLICATE_HEADER, 400],
  ["rfc4475", "mcl01", ERR_DUPLICATE_HEADER, 400],
  ["rfc5118", "ipv6-bad", ERR_REQUEST_URI, 400],
];

describe("rejections name the problem and earn the RFC's answer", () => {
  for (const [set, name, code, status] of REJECTIONS) {
    it(name + " → error " + code + ", status " + status, () => {
      const { msg } = parse(set, name);
      expect(msg.error).toBe(code);
      expect(msg.errorOffset).toBeGreaterThanOrEqual(0);
      expect(msg.rejectStatus()).toBe(status);
    });
  }
  it("scalar02 is out of range, not silently wrapped", () => {
    const { msg } = parse("rfc4475", "scalar02");
    expect(msg.cseq).toBe(-1);
  });
  it("unknown Call-ID characters are refused", () => {
    const src = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: a b\r\nCSeq: 1 OPTIONS\r\n\r\n";
    const msg = new SipMessage();
    expect(parseMessage(src, 0, src.length, msg)).toBe(-ERR_CALL_ID);
  });
});

describe("fields the RFCs name", () => {
  it("wsinv: folding, LWS and compact forms", () => {
    const { msg } = parse("rfc4475", "wsinv");
    expect(msg.method).toBe(METHOD_INVITE);
    expect(msg.callId()).toBe("wsinv.ndaksdj@192.0.2.1");
    expect(msg.cseq).toBe(9);
    expect(msg.maxForwards).toBe(68);
    expect(msg.contentLength).toBe(150);
    expect(msg.bodyEnd - msg.bodyStart).toBe(150);
    expect(msg.to.tagText()).toBe("1918181833n");
    expect(msg.from.tagText()).toBe("98asjd8");
    expect(msg.from.displayNameText()).toBe('J Rosenberg \\"');
    expect(msg.via.hostText()).toBe("192.0.2.2");
    expect(msg.via.branchText()).toBe("390skdjuw");
    expect(msg.via.transportText()).toBe("UDP");
    const vias = new ViaCursor().begin(msg);
    const hosts: string[] = [];
    while (vias.next()) hosts.push(vias.value.hostText() + "/" + vias.value.transportText() + "/" + vias.value.branchText());
    expect(hosts).toEqual(["192.0.2.2/UDP/390skdjuw", "spindle.example.com/TCP/z9hG4bK9ikj8", "192.168.255.111/UDP/z9hG4bK30239"]);
    const contacts = new NameAddrCursor().begin(msg, HDR_CONTACT);
    expect(contacts.next()).toBe(true);
    expect(contacts.value.displayNameText()).toBe('Quoted string ""');
    expect(msg.src.substring(contacts.value.qStart, contacts.value.qEnd)).toBe("0.33");
    expect(contacts.next()).toBe(false);
  });

  it("intmeth: an unknown method token, quoted-pairs with NUL, BEL and DEL", () => {
    const { msg } = parse("rfc4475", "intmeth");
    expect(msg.method).toBe(METHOD_OTHER);
    expect(msg.methodName()).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(msg.to.displayNameText()).toBe("BEL:\x07 NUL:\x00 DEL:\x7f");
    expect(msg.requestUri.userText()).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(msg.from.displayNameText()).toBe("token1~` token2'+_ token3*%!.-");
    expect(msg.callId()).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  });

  it("esc01: escaped URIs compare equal to their unescaped forms", () => {
    const { msg } = parse("rfc4475", "esc01");
    expect(msg.requestUri.userText()).toBe("sips:user@example.com");
    expect(msg.requestUri.hostText()).toBe("example.net");
    const plain = new SipUri();
    const text = "sip:user@example.com";
    expect(parseUri(text, 0, text.length, plain)).toBe(0);
    expect(uriEquals(msg.to.uri, plain)).toBe(true);
  });

  it("escnull: %00 decodes to NUL and two Contacts are distinct", () => {
    const { msg } = parse("rfc4475", "escnull");
    expect(msg.method).toBe(METHOD_REGISTER);
    expect(msg.to.uri.userText()).toBe("null-\x00-null");
    const contacts = new NameAddrCursor().begin(msg, HDR_CONTACT);
    const users: string[] = [];
    while (contacts.next()) users.push(contacts.value.uri.userText());
    expect(users).toEqual(["\x00", "\x00\x00"]);
  });

  it("esc02: '%' outside URIs is literal", () => {
    const { msg } = parse("rfc4475", "esc02");
    expect(msg.method).toBe(METHOD_OTHER);
    expect(msg.methodName()).toBe("RE%47IST%45R");
    expect(msg.countContacts()).toBe(2);
    const i = msg.findHeaderByName("c%6fntact");
    expect(i).toBeGreaterThanOrEqual(0);
    expect(msg.headerId(i)).toBe(HDR_OTHER);
  });

  it("lwsdisp: display name without a space before '<'", () => {
    const { msg } = parse("rfc4475", "lwsdisp");
    expect(msg.from.displayNameText()).toBe("caller");
    expect(msg.from.tagText()).toBe("323");
  });

  it("longreq: 34 Via values and long tokens", () => {
    const { msg, src } = parse("rfc4475", "longreq");
    expect(msg.countVia()).toBe(34);
    expect(msg.via.hostText()).toBe("sip33.example.com");
    const vias = new ViaCursor().begin(msg);
    let n = 0;
    let last = "";
    while (vias.next()) { n++; last = vias.value.hostText(); }
    expect(n).toBe(34);
    expect(last).toBe("host.example.com");
    expect(msg.from.tagText().length).toBeGreaterThan(100);
    expect(msg.length).toBe(src.length);
  });

  it("dblreq: processes the REGISTER and leaves the trailing octets", () => {
    const { msg, r, src } = parse("rfc4475", "dblreq");
    expect(msg.method).toBe(METHOD_REGISTER);
    expect(r).toBeLessThan(src.length);
    expect(src.substring(r, r + 8)).toBe("\r\nINVITE");
  });

  it("semiuri: ';' before '@' belongs to the user part", () => {
    const { msg } = parse("rfc4475", "semiuri");
    expect(msg.requestUri.userText()).toBe("user;par=u@example.net");
    expect(msg.requestUri.hostText()).toBe("example.com");
    expect(msg.requestUri.paramsStart).toBe(-1);
    const accept = new TokenCursor().begin(msg, HDR_ACCEPT);
    const items: string[] = [];
    while (accept.next()) items.push(accept.text());
    expect(items).toEqual(["application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed", "message/sip", "message/sipfrag"]);
  });

  it("transports: unknown transport tokens are legal", () => {
    const { msg } = parse("rfc4475", "transports");
    const vias = new ViaCursor().begin(msg);
    const t: string[] = [];
    while (vias.next()) t.push(vias.value.transportText());
    expect(t).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
  });

  it("mpart01: binary body framed by Content-Length", () => {
    const { msg } = parse("rfc4475", "mpart01");
    expect(msg.bodyEnd - msg.bodyStart).toBe(msg.contentLength);
    expect(msg.bodyText().indexOf("\x00")).toBeGreaterThan(0);
  });

  it("unreason and noreason: reason phrases", () => {
    const u = parse("rfc4475", "unreason").msg;
    expect(u.status).toBe(200);
    expect(u.reason().startsWith("= 2**3 * 5**2 ")).toBe(true);
    expect(Buffer.from(u.reason(), "latin1").toString("utf8")).toContain("но");
    expect(u.bodyEnd - u.bodyStart).toBe(154);
    const n = parse("rfc4475", "noreason").msg;
    expect(n.status).toBe(100);
    expect(n.reason()).toBe("");
  });

  it("badbranch: a branch that is only the magic cookie parses", () => {
    const { msg } = parse("rfc4475", "badbranch");
    expect(msg.via.branchText()).toBe("z9hG4bK");
  });

  it("unkscm and novelsc: opaque Request-URIs of other schemes", () => {
    const a = parse("rfc4475", "unkscm").msg;
    expect(a.requestUri.scheme).toBe(SCHEME_OTHER);
    expect(a.uriText()).toBe("nobodyKnowsThisScheme:totallyopaquecontent");
    const b = parse("rfc4475", "novelsc").msg;
    expect(b.requestUri.scheme).toBe(SCHEME_OTHER);
  });

  it("unksm2: non-SIP schemes in To, From and Contact", () => {
    const { msg } = parse("rfc4475", "unksm2");
    expect(msg.to.uri.scheme).toBe(SCHEME_OTHER);
    expect(msg.to.uri.uriText()).toBe("isbn:2983792873");
    expect(msg.from.uri.uriText()).toBe("http://www.example.com");
  });

  it("bext01: Require and Proxy-Require tokens", () => {
    const { msg } = parse("rfc4475", "bext01");
    const req = new TokenCursor().begin(msg, HDR_REQUIRE);
    const r: string[] = [];
    while (req.next()) r.push(req.text());
    expect(r).toEqual(["nothingSupportsThis", "nothingSupportsThisEither"]);
    const preq = new TokenCursor().begin(msg, HDR_PROXY_REQUIRE);
    const p: string[] = [];
    while (preq.next()) p.push(preq.text());
    expect(p).toEqual(["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]);
  });

  it("zeromf: Max-Forwards 0 is legal", () => {
    expect(parse("rfc4475", "zeromf").msg.maxForwards).toBe(0);
  });

  it("cparam01/cparam02: a parameter outside or inside the brackets", () => {
    const a = parse("rfc4475", "cparam01").msg;
    const ca = new NameAddrCursor().begin(a, HDR_CONTACT);
    expect(ca.next()).toBe(true);
    expect(ca.value.bracketed).toBe(false);
    expect(ca.value.uri.paramsStart).toBe(-1);
    expect(a.src.substring(ca.value.paramsStart, ca.value.paramsEnd)).toBe(";unknownparam");
    const b = parse("rfc4475", "cparam02").msg;
    const cb = new NameAddrCursor().begin(b, HDR_CONTACT);
    expect(cb.next()).toBe(true);
    expect(cb.value.uri.headersStart).toBe(-1); // so the parameters run to the URI's end
    expect(b.src.substring(cb.value.uri.paramsStart, cb.value.uri.end)).toBe(";unknownparam");
    expect(cb.value.paramsStart).toBe(-1);
  });

  it("regescrt: escaped headers inside '<>' stay in the URI", () => {
    const { msg } = parse("rfc4475", "regescrt");
    const c = new NameAddrCursor().begin(msg, HDR_CONTACT);
    expect(c.next()).toBe(true);
    expect(msg.src.substring(c.value.uri.headersStart, c.value.uri.end)).toBe("Route=%3Csip:sip.example.com%3E");
  });

  it("inv2543: no branch, no tag, no Max-Forwards, body to the end of the datagram", () => {
    const { msg, src } = parse("rfc4475", "inv2543");
    expect(msg.via.branchStart).toBe(-1);
    expect(msg.from.tagStart).toBe(-1);
    expect(msg.maxForwards).toBe(-1);
    expect(msg.contentLength).toBe(-1);
    expect(msg.bodyEnd).toBe(src.length);
    // user=phone is a URI parameter inside From's brackets, a header parameter on To's addr-spec.
    const user = findUriParam(msg.from.uri, "user");
    expect(msg.src.substring(user, uriParamValueEnd(msg.from.uri, user))).toBe("phone");
    expect(findUriParam(msg.to.uri, "user")).toBe(-1);
  });

  it("regaut01: an unknown auth scheme and 'Content-Length:0'", () => {
    const { msg } = parse("rfc4475", "regaut01");
    expect(msg.contentLength).toBe(0);
    expect(msg.headerId(0)).not.toBe(HDR_OTHER);
  });

  it("bcast: a broadcast sent-by parses as IPv4", () => {
    const { msg } = parse("rfc4475", "bcast");
    const v = new ViaCursor().begin(msg);
    v.next();
    expect(v.next()).toBe(true);
    expect(v.value.hostText()).toBe("255.255.255.255");
    expect(v.value.hostKind).toBe(HOST_IPV4);
  });
});

describe("RFC 5118 IPv6 fields", () => {
  it("ipv6-good: bracketed hosts everywhere", () => {
    const { msg } = parse("rfc5118", "ipv6-good");
    expect(msg.requestUri.scheme).toBe(SCHEME_SIP);
    expect(msg.requestUri.hostText()).toBe("[2001:db8::10]");
    expect(msg.requestUri.hostKind).toBe(HOST_IPV6);
    expect(msg.requestUri.port).toBe(-1);
    expect(msg.via.hostText()).toBe("[2001:db8::9:1]");
  });
  it("port-ambiguous: the port is inside the brackets, so there is none", () => {
    const { msg } = parse("rfc5118", "port-ambiguous");
    expect(msg.requestUri.hostText()).toBe("[2001:db8::10:5070]");
    expect(msg.requestUri.port).toBe(-1);
  });
  it("port-unambiguous: the port follows ']'", () => {
    const { msg } = parse("rfc5118", "port-unambiguous");
    expect(msg.requestUri.hostText()).toBe("[2001:db8::10]");
    expect(msg.requestUri.port).toBe(5070);
  });
  it("received with and without brackets", () => {
    const a = parse("rfc5118", "via-received-param-with-delim").msg;
    expect(a.src.substring(a.via.receivedStart, a.via.receivedEnd)).toBe("[2001:db8::9:255]");
    const b = parse("rfc5118", "via-received-param-no-delim").msg;
    expect(b.src.substring(b.via.receivedStart, b.via.receivedEnd)).toBe("2001:db8::9:255");
    expect(b.via.branchText()).toBe("z9hG4bKas3");
  });
  it("mult-ip-in-header: three Vias of mixed families", () => {
    const { msg } = parse("rfc5118", "mult-ip-in-header");
    const v = new ViaCursor().begin(msg);
    const got: string[] = [];
    while (v.next()) got.push(v.value.hostText() + ":" + v.value.port);
    expect(got).toEqual(["[2001:db8::9:1]:6050", "192.0.2.1:-1", "[2001:db8::9:255]:-1"]);
  });
  it("ipv4-mapped-ipv6 and the three-colon form are tolerated", () => {
    expect(parse("rfc5118", "ipv4-mapped-ipv6").msg.via.hostText()).toBe("[::ffff:192.0.2.10]");
    const m = parse("rfc5118", "ipv6-bug-abnf-3-colons").msg;
    expect(m.requestUri.hostText()).toBe("[2001:db8:::192.0.2.1]");
  });
});

describe("decoding helpers", () => {
  it("unescapeSpan decodes %-escapes only", () => {
    const s = "a%41b%zz";
    expect(unescapeSpan(s, 0, s.length)).toBe("aAb%zz");
  });
});
