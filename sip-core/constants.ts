// RFC 3261 §25 grammar tables: character classes, header ids and names (with compact forms), method ids.
// Every table the parser consults lives here, so the grammar can be read in one place.
import { rom } from "./rom.ts";

// ---------------------------------------------------------------------------------------------
// Character classes: one byte per code unit, a bit per class. Code units >= 128 have no class
// (UTF8-NONASCII is only legal inside quoted strings, comments and reason phrases, which are
// scanned without the table).
// ---------------------------------------------------------------------------------------------

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const C_TOKEN = 1;
/** DIGIT = %x30-39 */
export const C_DIGIT = 2;
/** ALPHA = %x41-5A / %x61-7A */
export const C_ALPHA = 4;
/** HEXDIG = DIGIT / "A"-"F" / "a"-"f" (RFC 3261 uses both cases) */
export const C_HEX = 8;
/** user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" (plus "%" for escapes) */
export const C_USER = 16;
/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
export const C_PARAM = 32;
/** hname/hvalue = hnv-unreserved / unreserved / escaped; hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$" */
export const C_HNV = 64;
/** gen-value characters outside quotes: token / host (adds ":" "[" "]" for IPv6 references) */
export const C_GENVALUE = 256;
/** hostname and IPv4 characters: alphanum / "-" / "." (and "_", seen in the wild) */
export const C_HOST = 512;
/** Call-ID characters: word plus "@" (Call-ID = word [ "@" word ]) */
export const C_CALLID = 1024;
/** word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}") */
export const C_WORD = 128;

/** unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")" */
const MARK = "-_.!~*'()";

function buildCharClasses(): Uint16Array {
  const t = new Uint16Array(256);
  const add = (chars: string, bits: number): void => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] |= bits;
  };
  for (let c = 48; c <= 57; c++) t[c] |= C_DIGIT | C_HEX | C_TOKEN | C_USER | C_PARAM | C_HNV | C_WORD;
  for (let c = 65; c <= 90; c++) t[c] |= C_ALPHA | C_TOKEN | C_USER | C_PARAM | C_HNV | C_WORD;
  for (let c = 97; c <= 122; c++) t[c] |= C_ALPHA | C_TOKEN | C_USER | C_PARAM | C_HNV | C_WORD;
  add("ABCDEFabcdef", C_HEX);
  add("-.!%*_+`'~", C_TOKEN);
  add(MARK + "%&=+$,;?/", C_USER);
  add(MARK + "%[]/:&+$", C_PARAM);
  add(MARK + "%[]/?:+$", C_HNV);
  add("-.!%*_+`'~()<>:\\\"/[]?{}", C_WORD);
  for (let c = 0; c < 256; c++) if ((t[c] & C_TOKEN) !== 0) t[c] |= C_GENVALUE;
  add(":[]", C_GENVALUE);
  for (let c = 0; c < 256; c++) if ((t[c] & C_WORD) !== 0) t[c] |= C_CALLID;
  add("@", C_CALLID);
  for (let c = 0; c < 256; c++) if ((t[c] & (C_ALPHA | C_DIGIT)) !== 0) t[c] |= C_HOST;
  add("-._", C_HOST);
  return t;
}

export const CHAR_CLASS: Uint16Array = rom(buildCharClasses());

export const CH_TAB = 9;
export const CH_LF = 10;
export const CH_CR = 13;
export const CH_SP = 32;
export const CH_DQUOTE = 34;
export const CH_HASH = 35;
export const CH_PERCENT = 37;
export const CH_STAR = 42;
export const CH_COMMA = 44;
export const CH_DOT = 46;
export const CH_SLASH = 47;
export const CH_COLON = 58;
export const CH_SEMI = 59;
export const CH_LT = 60;
export const CH_EQ = 61;
export const CH_GT = 62;
export const CH_QUESTION = 63;
export const CH_AT = 64;
export const CH_LBRACKET = 91;
export const CH_BACKSLASH = 92;
export const CH_RBRACKET = 93;

// ---------------------------------------------------------------------------------------------
// Methods (case-sensitive tokens, RFC 3261 §7.1). Unknown extension methods get METHOD_OTHER.
// ---------------------------------------------------------------------------------------------
export const METHOD_OTHER = 0;
export const METHOD_INVITE = 1;
export const METHOD_ACK = 2;
export const METHOD_BYE = 3;
export const METHOD_CANCEL = 4;
export const METHOD_OPTIONS = 5;
export const METHOD_REGISTER = 6;
export const METHOD_INFO = 7;
export const METHOD_PRACK = 8;
export const METHOD_SUBSCRIBE = 9;
export const METHOD_NOTIFY = 10;
export const METHOD_REFER = 11;
export const METHOD_MESSAGE = 12;
export const METHOD_UPDATE = 13;
export const METHOD_PUBLISH = 14;

/**
 * Field i of a '|'-separated table ("a|b|c"): one string instead of an array of them (on Espruino an
 * array keeps a variable or more per element for the device's life). Allocates: for cold paths.
 */
export function field(table: string, i: number): string {
  let s = 0;
  for (; i > 0; i--) {
    const bar = table.indexOf("|", s);
    if (bar < 0) return "";
    s = bar + 1;
  }
  const e = table.indexOf("|", s);
  return table.substring(s, e < 0 ? table.length : e);
}

/**
 * Fills at[id] with where name id starts in a table of names each ended by '|' (id 0's, empty, before
 * the first '|'): name id is text[at[id], at[id + 1] - 1). at has one entry more than there are names.
 */
function nameOffsets<T extends Uint8Array | Uint16Array>(text: string, at: T): T {
  for (let id = 1, p = 0; id < at.length; id++) at[id] = p = text.indexOf("|", p) + 1;
  return at;
}

/** Method names in id order, each ended by '|' (METHOD_OTHER, id 0, has the empty name before the first). */
const METHOD_TEXT = "|INVITE|ACK|BYE|CANCEL|OPTIONS|REGISTER|INFO|PRACK|SUBSCRIBE|NOTIFY|REFER|MESSAGE|UPDATE|PUBLISH|";
export const METHOD_NAME_AT = rom(nameOffsets(METHOD_TEXT, new Uint8Array(METHOD_PUBLISH + 2)));

/** The name of a method id ("" for METHOD_OTHER or an unknown id). Allocates: for cold paths and tools. */
export function methodName(id: number): string {
  return id > 0 && id <= METHOD_PUBLISH ? METHOD_TEXT.substring(METHOD_NAME_AT[id], METHOD_NAME_AT[id + 1] - 1) : "";
}

// ---------------------------------------------------------------------------------------------
// Header ids. HDR_OTHER is any header the stack does not know; its name stays a span.
// ---------------------------------------------------------------------------------------------
export const HDR_OTHER = 0;
export const HDR_ACCEPT = 1;
export const HDR_ACCEPT_CONTACT = 2;
export const HDR_ACCEPT_ENCODING = 3;
export const HDR_ACCEPT_LANGUAGE = 4;
export const HDR_ALERT_INFO = 5;
export const HDR_ALLOW = 6;
export const HDR_ALLOW_EVENTS = 7;
export const HDR_AUTHENTICATION_INFO = 8;
export const HDR_AUTHORIZATION = 9;
export const HDR_CALL_ID = 10;
export const HDR_CALL_INFO = 11;
export const HDR_CONTACT = 12;
export const HDR_CONTENT_DISPOSITION = 13;
export const HDR_CONTENT_ENCODING = 14;
export const HDR_CONTENT_LANGUAGE = 15;
export const HDR_CONTENT_LENGTH = 16;
export const HDR_CONTENT_TYPE = 17;
export const HDR_CSEQ = 18;
export const HDR_DATE = 19;
export const HDR_ERROR_INFO = 20;
export const HDR_EVENT = 21;
export const HDR_EXPIRES = 22;
export const HDR_FROM = 23;
export const HDR_IDENTITY = 24;
export const HDR_IDENTITY_INFO = 25;
export const HDR_IN_REPLY_TO = 26;
export const HDR_MAX_FORWARDS = 27;
export const HDR_MIME_VERSION = 28;
export const HDR_MIN_EXPIRES = 29;
export const HDR_MIN_SE = 30;
export const HDR_ORGANIZATION = 31;
export const HDR_PATH = 32;
export const HDR_PRIORITY = 33;
export const HDR_PROXY_AUTHENTICATE = 34;
export const HDR_PROXY_AUTHORIZATION = 35;
export const HDR_PROXY_REQUIRE = 36;
export const HDR_RACK = 37;
export const HDR_REASON = 38;
export const HDR_RECORD_ROUTE = 39;
export const HDR_REFER_TO = 40;
export const HDR_REFERRED_BY = 41;
export const HDR_REJECT_CONTACT = 42;
export const HDR_REPLY_TO = 43;
export const HDR_REQUEST_DISPOSITION = 44;
export const HDR_REQUIRE = 45;
export const HDR_RETRY_AFTER = 46;
export const HDR_ROUTE = 47;
export const HDR_RSEQ = 48;
export const HDR_SERVER = 49;
export const HDR_SERVICE_ROUTE = 50;
export const HDR_SESSION_EXPIRES = 51;
export const HDR_SUBJECT = 52;
export const HDR_SUBSCRIPTION_STATE = 53;
export const HDR_SUPPORTED = 54;
export const HDR_TIMESTAMP = 55;
export const HDR_TO = 56;
export const HDR_UNSUPPORTED = 57;
export const HDR_USER_AGENT = 58;
export const HDR_VIA = 59;
export const HDR_WARNING = 60;
export const HDR_WWW_AUTHENTICATE = 61;
export const HDR_FLOW_TIMER = 62;
export const HDR_COUNT = 63;

/**
 * Canonical header names in id order, each ended by '|' (HDR_OTHER, id 0, has the empty name before
 * the first '|'); compact forms are in HEADER_COMPACT. One string: an array of 63 strings would keep
 * ~130 variables on Espruino for the device's life.
 */
export const HEADER_TEXT = "|" +
  "Accept|Accept-Contact|Accept-Encoding|Accept-Language|Alert-Info|Allow|Allow-Events|" +
  "Authentication-Info|Authorization|Call-ID|Call-Info|Contact|Content-Disposition|Content-Encoding|" +
  "Content-Language|Content-Length|Content-Type|CSeq|Date|Error-Info|Event|Expires|From|Identity|" +
  "Identity-Info|In-Reply-To|Max-Forwards|MIME-Version|Min-Expires|Min-SE|Organization|Path|Priority|" +
  "Proxy-Authenticate|Proxy-Authorization|Proxy-Require|RAck|Reason|Record-Route|Refer-To|Referred-By|" +
  "Reject-Contact|Reply-To|Request-Disposition|Require|Retry-After|Route|RSeq|Server|Service-Route|" +
  "Session-Expires|Subject|Subscription-State|Supported|Timestamp|To|Unsupported|User-Agent|Via|" +
  "Warning|WWW-Authenticate|Flow-Timer|";
/** Where header id's name starts in HEADER_TEXT; it ends one before HEADER_NAME_AT[id + 1]. */
export const HEADER_NAME_AT = rom(nameOffsets(HEADER_TEXT, new Uint16Array(HDR_COUNT + 1)));

/** The canonical name of a header id ("" for HDR_OTHER). Allocates: for cold paths and tools. */
export function headerName(id: number): string {
  return HEADER_TEXT.substring(HEADER_NAME_AT[id], HEADER_NAME_AT[id + 1] - 1);
}

/**
 * The names of the headers nearly every message carries, as literals (a literal allocates nothing on Node and
 * only for a moment on Espruino, where a cache of the names made from HEADER_TEXT kept ~26 variables for good);
 * "" for the others, which the resolver compares byte by byte.
 */
function commonHeaderName(id: number): string {
  switch (id) {
    case HDR_VIA: return "Via";
    case HDR_FROM: return "From";
    case HDR_TO: return "To";
    case HDR_CALL_ID: return "Call-ID";
    case HDR_CSEQ: return "CSeq";
    case HDR_CONTACT: return "Contact";
    case HDR_CONTENT_LENGTH: return "Content-Length";
    case HDR_MAX_FORWARDS: return "Max-Forwards";
    case HDR_CONTENT_TYPE: return "Content-Type";
    case HDR_USER_AGENT: return "User-Agent";
    case HDR_ALLOW: return "Allow";
    case HDR_SUPPORTED: return "Supported";
    case HDR_EXPIRES: return "Expires";
    case HDR_SERVER: return "Server";
    default: return "";
  }
}

/** Compact forms (RFC 3261 §7.3.3 and the extensions that register them), letter → header id. */
export const HEADER_COMPACT: string = "i m e l c f s k t v o u r b x y a j d n";
// A typed array: on Espruino a plain array keeps a variable per element for the device's life.
export const COMPACT_IDS = rom(new Uint8Array([
  HDR_CALL_ID, HDR_CONTACT, HDR_CONTENT_ENCODING, HDR_CONTENT_LENGTH, HDR_CONTENT_TYPE, HDR_FROM,
  HDR_SUBJECT, HDR_SUPPORTED, HDR_TO, HDR_VIA, HDR_EVENT, HDR_ALLOW_EVENTS, HDR_REFER_TO,
  HDR_REFERRED_BY, HDR_SESSION_EXPIRES, HDR_IDENTITY, HDR_ACCEPT_CONTACT, HDR_REJECT_CONTACT,
  HDR_REQUEST_DISPOSITION, HDR_IDENTITY_INFO,
]));

/** A table of HDR_COUNT entries: 1 at each of ids, 0 elsewhere. */
function headerFlags(ids: number[]): Uint8Array {
  const t = new Uint8Array(HDR_COUNT);
  for (let i = 0; i < ids.length; i++) t[ids[i]] = 1;
  return t;
}

/** Header ids whose values are comma-separated lists (RFC 3261 §7.3.1): walked value by value. */
export const HEADER_IS_LIST = rom(headerFlags([
  HDR_ACCEPT, HDR_ACCEPT_CONTACT, HDR_ACCEPT_ENCODING, HDR_ACCEPT_LANGUAGE, HDR_ALERT_INFO, HDR_ALLOW,
  HDR_ALLOW_EVENTS, HDR_CALL_INFO, HDR_CONTACT, HDR_CONTENT_ENCODING, HDR_CONTENT_LANGUAGE,
  HDR_ERROR_INFO, HDR_IN_REPLY_TO, HDR_PATH, HDR_PROXY_REQUIRE, HDR_REASON, HDR_RECORD_ROUTE,
  HDR_REJECT_CONTACT, HDR_REQUEST_DISPOSITION, HDR_REQUIRE, HDR_ROUTE, HDR_SERVICE_ROUTE,
  HDR_SUPPORTED, HDR_UNSUPPORTED, HDR_VIA, HDR_WARNING,
]));

/** Header ids that may appear once only (RFC 3261 §7.3.1, §20): a repeat is a 400. */
export const HEADER_IS_SINGLE = rom(headerFlags([
  HDR_CALL_ID, HDR_CONTENT_LENGTH, HDR_CONTENT_TYPE, HDR_CSEQ, HDR_EXPIRES, HDR_FROM,
  HDR_MAX_FORWARDS, HDR_TO,
]));

// ---------------------------------------------------------------------------------------------
// Header-name resolver: an open-addressed table keyed by (first letter, length, last letter),
// lower-cased. Resolving a name costs one hash plus one case-insensitive compare of the winner;
// no substring is made. Built once at start-up. A slot holds the header id and, for a compact
// form, its letter; the name to compare is header id's in HEADER_TEXT (two arrays of 256 strings would
// cost ~1,000 variables on Espruino, these two byte tables ~25).
// ---------------------------------------------------------------------------------------------
const NAME_TABLE_SIZE = 256; // power of two, > 3 × the number of names

/** Hash of a header name from its first char, last char and length (all lower-cased). */
export function headerNameHash(first: number, last: number, len: number): number {
  return (((first | 0x20) * 7) ^ ((last | 0x20) * 31) ^ (len * 131)) & (NAME_TABLE_SIZE - 1);
}

function addName(slots: Uint8Array, first: number, last: number, length: number, id: number, compact: number): void {
  let h = headerNameHash(first, last, length);
  while (slots[h] !== 0) h = (h + 1) & (NAME_TABLE_SIZE - 1);
  slots[h] = id;
  slots[NAME_TABLE_SIZE + h] = compact;
}

function buildNameSlots(): Uint8Array {
  const slots = new Uint8Array(2 * NAME_TABLE_SIZE);
  for (let id = 1; id < HDR_COUNT; id++) {
    const s = HEADER_NAME_AT[id];
    const e = HEADER_NAME_AT[id + 1] - 1;
    addName(slots, HEADER_TEXT.charCodeAt(s), HEADER_TEXT.charCodeAt(e - 1), e - s, id, 0);
  }
  for (let i = 0; i < COMPACT_IDS.length; i++) {
    const c = HEADER_COMPACT.charCodeAt(i * 2);
    addName(slots, c, c, 1, COMPACT_IDS[i], c);
  }
  return slots;
}

/**
 * The resolver's slots: [h] the header id (0 = empty), [NAME_TABLE_SIZE + h] a compact form's lower-case
 * letter (0 for a full name).
 */
export const NAME_SLOTS = rom(buildNameSlots());

/**
 * Resolves the header name src[start, end) to a header id, case-insensitively, compact forms
 * included. Returns HDR_OTHER for a name the stack does not know.
 */
export function resolveHeaderName(src: string, start: number, end: number): number {
  const len = end - start;
  if (len <= 0) return HDR_OTHER;
  let h = headerNameHash(src.charCodeAt(start), src.charCodeAt(end - 1), len);
  for (;;) {
    const id = NAME_SLOTS[h];
    if (id === 0) return HDR_OTHER;
    const compact = NAME_SLOTS[NAME_TABLE_SIZE + h];
    if (compact !== 0) {
      if (len === 1 && (src.charCodeAt(start) | 0x20) === compact) return id;
    } else {
      const at = HEADER_NAME_AT[id];
      if (HEADER_NAME_AT[id + 1] - 1 - at === len) {
        // Most senders spell the common names canonically: one native comparison, no per-char loop.
        const name = commonHeaderName(id);
        if (name !== "" && src.startsWith(name, start)) return id;
        let i = 0;
        // OR-ing 0x20 folds the case of letters; "-" and digits (below 65) must match exactly, or a CR
        // (0x0D | 0x20 is "-") would pass for a dash and a name would not be a token.
        for (; i < len; i++) {
          const c = src.charCodeAt(start + i);
          const t = HEADER_TEXT.charCodeAt(at + i);
          if ((c | 0x20) !== (t | 0x20) || (c < 65 && c !== t)) break;
        }
        if (i === len) return id;
      }
    }
    h = (h + 1) & (NAME_TABLE_SIZE - 1);
  }
}

/**
 * Resolves a method token src[start, end) (case-sensitive) to a method id, METHOD_OTHER if
 * it is an extension method.
 */
export function resolveMethod(src: string, start: number, end: number): number {
  const len = end - start;
  // Dispatch on the first letter and length, then confirm the whole token.
  let id = METHOD_OTHER;
  switch (src.charCodeAt(start)) {
    case 73: id = len === 6 ? METHOD_INVITE : len === 4 ? METHOD_INFO : 0; break; // I
    case 65: id = len === 3 ? METHOD_ACK : 0; break; // A
    case 66: id = len === 3 ? METHOD_BYE : 0; break; // B
    case 67: id = len === 6 ? METHOD_CANCEL : 0; break; // C
    case 79: id = len === 7 ? METHOD_OPTIONS : 0; break; // O
    case 82: id = len === 8 ? METHOD_REGISTER : len === 5 ? METHOD_REFER : 0; break; // R
    case 80: id = len === 5 ? METHOD_PRACK : len === 7 ? METHOD_PUBLISH : 0; break; // P
    case 83: id = len === 9 ? METHOD_SUBSCRIBE : 0; break; // S
    case 78: id = len === 6 ? METHOD_NOTIFY : 0; break; // N
    case 77: id = len === 7 ? METHOD_MESSAGE : 0; break; // M
    case 85: id = len === 6 ? METHOD_UPDATE : 0; break; // U
  }
  if (id === METHOD_OTHER) return METHOD_OTHER;
  // The candidate's name in METHOD_TEXT (its first letter is known equal): compare the rest.
  const at = METHOD_NAME_AT[id];
  for (let i = 1; i < len; i++) if (src.charCodeAt(start + i) !== METHOD_TEXT.charCodeAt(at + i)) return METHOD_OTHER;
  return id;
}
