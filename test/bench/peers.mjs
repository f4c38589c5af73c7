// Peer SIP parsers for `npm run bench`: the JavaScript SIP message parsers in use
// today, each driven through the same entry point its own stack uses when a
// message arrives from the network.
//
// Every peer has the shape { name, version, entry, parse(text), fields(text) }:
//   parse(text)  parses one complete SIP message given as a JS string, then reads
//                the top Via (host, port, branch), From (URI, tag), To (URI, tag),
//                CSeq (number, method) and Call-ID the way the library exposes
//                them, and returns a number derived from them so the work cannot
//                be optimised away. It throws when the library rejects the message
//                or leaves one of those fields out; the runner counts that as a
//                failure. This is the function the bench times.
//   fields(text) the same parse and the same reads, returned as a plain object
//                ({ viaHost, viaPort, branch, fromUri, fromTag, toUri, toTag,
//                cseq, method, callId }, URIs as the library's own string form)
//                for correctness checks only; never timed.
//
// Fairness rules: a string in (every peer takes one), the library's normal
// receive-path parse, the same fields read, nothing else. Libraries that keep a
// URI as a string are charged its length; libraries that parse URIs into objects
// are charged their user and host (reading, never re-serialising).
//
// `floor` only walks every character with charCodeAt: the lower bound of any
// parser that looks at every byte.

import { createRequire } from "node:module";
import { Core as SipJsCore } from "sip.js";

const require = createRequire(import.meta.url);
const version = (pkg) => require(`${pkg}/package.json`).version;

const DrachtioSipMessage = require("drachtio-sip").SipMessage;
const kirmSip = require("sip");
const JsSIPParser = require("jssip/lib/Parser");

const len = (s) => (s === undefined || s === null ? 0 : s.length);
// URI objects from the PEG-grammar parsers (JsSIP, SIP.js): user may be absent.
const uriObjLen = (u) => len(u.user) + u.host.length;

function rejected(entry) {
  throw new Error(`${entry} rejected the message (returned undefined)`);
}

// ---------------------------------------------------------------------------
// drachtio-sip: drachtio-srf builds `new SipMessage(raw)` for every message the
// drachtio server hands it. That runs lib/parser.js parseSipMessage(raw, lazy=true):
// start line parsed, headers split and stored as raw strings; individual headers
// are parsed on demand with getParsedHeader(), as drachtio-srf's Request/Response
// do. Call-ID is a plain string header.
const drachtio = {
  name: "drachtio-sip",
  version: version("drachtio-sip"),
  entry: "require('drachtio-sip').SipMessage: new SipMessage(text) + getParsedHeader('via'|'from'|'to'|'cseq') + get('call-id')",
  parse(text) {
    const m = new DrachtioSipMessage(text);
    const via = m.getParsedHeader("via")[0];
    const from = m.getParsedHeader("from");
    const to = m.getParsedHeader("to");
    const cseq = m.getParsedHeader("cseq");
    const callId = m.get("call-id");
    return (
      via.host.length + (via.port | 0) + via.params.branch.length +
      from.uri.length + len(from.params.tag) +
      to.uri.length + len(to.params.tag) +
      cseq.seq + cseq.method.length + callId.length
    );
  },
  fields(text) {
    const m = new DrachtioSipMessage(text);
    const via = m.getParsedHeader("via")[0];
    const from = m.getParsedHeader("from");
    const to = m.getParsedHeader("to");
    const cseq = m.getParsedHeader("cseq");
    return {
      viaHost: via.host, viaPort: via.port, branch: via.params.branch,
      fromUri: from.uri, fromTag: from.params.tag,
      toUri: to.uri, toTag: to.params.tag,
      cseq: cseq.seq, method: cseq.method, callId: m.get("call-id"),
    };
  },
};

// ---------------------------------------------------------------------------
// sip (kirm/sip.js): its UDP/TCP/WS transports call the module-level
// parseMessage(data), exported as `parse`. Eager: every known header (Via, From,
// To, CSeq, Contact, Route, auth headers, ...) is parsed into objects; From/To
// URIs stay strings. It returns undefined for an unparsable message and leaves a
// header out when its header parser throws.
const kirm = {
  name: "sip (kirm)",
  version: version("sip"),
  entry: "require('sip').parse(text)",
  parse(text) {
    const m = kirmSip.parse(text);
    if (m === undefined) rejected("sip.parse");
    const h = m.headers;
    const via = h.via[0];
    return (
      via.host.length + (via.port | 0) + via.params.branch.length +
      h.from.uri.length + len(h.from.params.tag) +
      h.to.uri.length + len(h.to.params.tag) +
      h.cseq.seq + h.cseq.method.length + h["call-id"].length
    );
  },
  fields(text) {
    const m = kirmSip.parse(text);
    if (m === undefined) rejected("sip.parse");
    const h = m.headers;
    const via = h.via[0];
    return {
      viaHost: via.host, viaPort: via.port, branch: via.params.branch,
      fromUri: h.from.uri, fromTag: h.from.params.tag ?? undefined,
      toUri: h.to.uri, toTag: h.to.params.tag ?? undefined,
      cseq: h.cseq.seq, method: h.cseq.method, callId: h["call-id"],
    };
  },
};

// ---------------------------------------------------------------------------
// JsSIP: the UA's transport 'data' handler (onTransportData in lib/UA.js) calls
// Parser.parseMessage(data, ua), then its sanity checks. PEG
// grammar; the top Via, From, To, CSeq, Call-ID, Contact, Record-Route,
// Content-Length/Type, Max-Forwards, auth challenges, Event, ... are parsed while
// the message is read, and stored as msg.via / via_branch / from / from_tag / to /
// to_tag / cseq / call_id. The ua is only stored on requests (IncomingRequest),
// so an empty object stands in for it. CSeq's method: msg.method (requests from
// the start line; responses copy it from CSeq) – JsSIP's own transaction
// matching uses exactly that.
//
// Known mis-parse (no exception, so not counted as a failure): on a Via line
// holding several comma-separated values (multivia.sip) the grammar's actions
// overwrite one result object per value, so msg.via / via_branch describe the
// LAST value on the first Via line instead of the top one. Same in SIP.js.
const jssipUa = {};
const jssip = {
  name: "JsSIP",
  version: version("jssip"),
  entry: "require('jssip/lib/Parser').parseMessage(text, ua)",
  parse(text) {
    const m = JsSIPParser.parseMessage(text, jssipUa);
    if (m === undefined) rejected("JsSIP Parser.parseMessage");
    const via = m.via;
    return (
      via.host.length + (via.port | 0) + m.via_branch.length +
      uriObjLen(m.from.uri) + len(m.from_tag) +
      uriObjLen(m.to.uri) + len(m.to_tag) +
      m.cseq + m.method.length + m.call_id.length
    );
  },
  fields(text) {
    const m = JsSIPParser.parseMessage(text, jssipUa);
    if (m === undefined) rejected("JsSIP Parser.parseMessage");
    return {
      viaHost: m.via.host, viaPort: m.via.port, branch: m.via_branch,
      fromUri: m.from.uri.toString(), fromTag: m.from_tag ?? undefined,
      toUri: m.to.uri.toString(), toTag: m.to_tag ?? undefined,
      cseq: m.cseq, method: m.method, callId: m.call_id,
    };
  },
};

// ---------------------------------------------------------------------------
// SIP.js: UserAgent#onTransportMessage(messageString) →
// Core.Parser.parseMessage(messageString, logger). Same PEG-grammar design as
// JsSIP (it is its descendant); results on msg.via / viaBranch / from / fromTag /
// to / toTag / cseq / method / callId. The stack passes a cached logger; a
// constant no-op logger stands in for it.
const noopLogger = { debug() {}, log() {}, warn() {}, error() {} };
const SipJsParser = SipJsCore.Parser;
const sipjs = {
  name: "SIP.js",
  version: version("sip.js"),
  entry: "import { Core } from 'sip.js'; Core.Parser.parseMessage(text, logger)",
  parse(text) {
    const m = SipJsParser.parseMessage(text, noopLogger);
    if (m === undefined) rejected("SIP.js Parser.parseMessage");
    const via = m.via;
    return (
      via.host.length + (via.port | 0) + m.viaBranch.length +
      uriObjLen(m.from.uri) + len(m.fromTag) +
      uriObjLen(m.to.uri) + len(m.toTag) +
      m.cseq + m.method.length + m.callId.length
    );
  },
  fields(text) {
    const m = SipJsParser.parseMessage(text, noopLogger);
    if (m === undefined) rejected("SIP.js Parser.parseMessage");
    return {
      viaHost: m.via.host, viaPort: m.via.port, branch: m.viaBranch,
      fromUri: m.from.uri.toString(), fromTag: m.fromTag ?? undefined,
      toUri: m.to.uri.toString(), toTag: m.toTag ?? undefined,
      cseq: m.cseq, method: m.method, callId: m.callId,
    };
  },
};

export const peers = [drachtio, kirm, jssip, sipjs];

// ---------------------------------------------------------------------------
export const floor = {
  name: "byte-walk floor",
  parse(text) {
    let h = 0;
    for (let i = 0, n = text.length; i < n; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
    return h;
  },
};
