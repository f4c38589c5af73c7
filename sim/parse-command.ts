// `sim parse <file|->`: prints a message's parse as JSON, or the error and the response the stack would send.
import {
  headerName, HDR_OTHER, SipMessage, methodName, SipWriter, describeError, statelessToTag, parseMessage, validateMessage, writeResponseHead,
} from "../sip-core/index.ts";

export interface ParseReport {
  ok: boolean;
  /** JSON text for an accepted message; the error line (and response) for a rejected one. */
  text: string;
}

/** The JSON view of an accepted message (strings are binary strings, one char per byte). */
export function messageToJson(m: SipMessage): object {
  const headers: { name: string; value: string }[] = [];
  for (let i = 0; i < m.headerCount; i++) {
    const id = m.headerId(i);
    headers.push({ name: id === HDR_OTHER ? m.headerName(i) : headerName(id), value: m.headerValue(i) });
  }
  const head = m.isRequest
    ? { kind: "request", method: m.methodName(), methodKnown: methodName(m.method) !== "", requestUri: m.uriText() }
    : { kind: "response", status: m.status, reason: m.reason() };
  return { ...head, headers, bodyLength: m.bodyEnd - m.bodyStart, consumed: m.length };
}

/** Parses one datagram's bytes and renders the report the command prints. */
export function parseReport(bytes: Uint8Array): ParseReport {
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const m = new SipMessage({ maxHeaders: 128, maxMessageSize: 65535, maxUriLength: 1024, maxBodySize: 65535 });
  // The stack's verdict: the parse, then the checks a UAS makes before acting (validateMessage).
  let r = parseMessage(src, 0, src.length, m);
  if (r > 0) {
    const v = validateMessage(m);
    if (v < 0) r = v;
  }
  if (r > 0) return { ok: true, text: JSON.stringify(messageToJson(m), null, 2) };
  let text = describeError(m.error, m.errorOffset);
  const status = m.rejectStatus();
  if (status > 0) {
    const w = new SipWriter(65535);
    writeResponseHead(w, m, status, m.rejectReason(), statelessToTag(m));
    const n = w.end(null, 0, 0);
    if (n > 0) text += "\n" + Buffer.from(w.buf.subarray(0, n)).toString("latin1");
  } else {
    text += "\n(no response: dropped)";
  }
  return { ok: false, text };
}
