// The `npm start` demo: until the simulator lands, it parses a sample INVITE and shows the answers the stack writes.
import { HDR_CONTACT, METHOD_NAMES, NameAddrCursor, SipMessage, SipWriter, parseMessage, writeResponseHead } from "../sip-core/index.ts";

const SAMPLE =
  "INVITE sip:door@192.0.2.10 SIP/2.0\r\n" +
  "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-demo-1;rport\r\n" +
  "Max-Forwards: 70\r\n" +
  "From: \"Resident\" <sip:resident@example.org>;tag=a1b2c3\r\n" +
  "To: <sip:door@example.org>\r\n" +
  "Call-ID: demo-call-1@192.0.2.20\r\n" +
  "CSeq: 1 INVITE\r\n" +
  "Contact: <sip:resident@192.0.2.20:5060>\r\n" +
  "Content-Type: application/sdp\r\n" +
  "Content-Length: 0\r\n\r\n";

export function runDemo(_args: string[]): number {
  const msg = new SipMessage();
  const n = parseMessage(SAMPLE, 0, SAMPLE.length, msg);
  if (n < 0) { console.error("sample failed to parse: " + msg.error); return 1; }
  console.log("doorsip: parsed " + n + "-byte " + METHOD_NAMES[msg.method] + " from " + msg.via.host() + ":" + msg.via.port);
  console.log("  Call-ID " + msg.callId() + ", CSeq " + msg.cseq + ", From tag " + msg.from.tag());
  const contacts = new NameAddrCursor().begin(msg, HDR_CONTACT);
  while (contacts.next()) console.log("  Contact " + contacts.value.uri.text());
  const w = new SipWriter(2048);
  writeResponseHead(w, msg, 180, "Ringing", "door-tag-1");
  const len = w.end(null, 0, 0);
  console.log("\nthe door answers:\n" + Buffer.from(w.buf.subarray(0, len)).toString("latin1"));
  return 0;
}
