// Error factory for the whole stack: stable numeric codes, a short reason, and the SIP status a rejected request earns.
import { field } from "./constants.ts";

// Codes are stable: they appear in logs, counters and the command line. Parser functions return
// them negated (a negative return is an error, see parseMessage).
export const ERR_INCOMPLETE = 1;
export const ERR_EMPTY = 2;
export const ERR_START_LINE = 3;
export const ERR_VERSION = 4;
export const ERR_METHOD = 5;
export const ERR_REQUEST_URI = 6;
export const ERR_URI_TOO_LONG = 7;
export const ERR_STATUS_CODE = 8;
export const ERR_HEADER_LINE = 9;
export const ERR_TOO_MANY_HEADERS = 10;
export const ERR_MESSAGE_TOO_LARGE = 11;
export const ERR_BODY_TOO_LARGE = 12;
export const ERR_CONTENT_LENGTH = 13;
export const ERR_BODY_TRUNCATED = 14;
export const ERR_MISSING_VIA = 15;
export const ERR_MISSING_FROM = 16;
export const ERR_MISSING_TO = 17;
export const ERR_MISSING_CALL_ID = 18;
export const ERR_MISSING_CSEQ = 19;
export const ERR_DUPLICATE_HEADER = 20;
export const ERR_VIA = 21;
export const ERR_FROM = 22;
export const ERR_TO = 23;
export const ERR_CALL_ID = 24;
export const ERR_CSEQ = 25;
export const ERR_CSEQ_METHOD = 26;
export const ERR_MAX_FORWARDS = 27;
export const ERR_CONTACT = 28;
export const ERR_EXPIRES = 29;
export const ERR_DATE = 30;
export const ERR_URI = 31;
export const ERR_HEADER_VALUE = 32;
export const ERR_BUFFER_FULL = 33;
export const ERR_POOL_FULL = 34;
export const ERR_COUNT = 35;

/** Short human reason for an error code (also the reason phrase of the response it causes). */
export function errorReason(code: number): string {
  if (code <= 0 || code >= ERR_COUNT) return "Unknown Error";
  // Reasons by error code, '|'-separated (see field()). A literal here, not a module constant: on
  // Espruino the table then exists only while a rejection is being answered (~30 variables otherwise).
  return field(
    "OK|Incomplete Message|Empty Message|Malformed Start Line|Version Not Supported|Malformed Method|" +
    "Malformed Request-URI|Request-URI Too Long|Malformed Status Code|Malformed Header Line|" +
    "Too Many Headers|Message Too Large|Body Too Large|Bad Content-Length|" +
    "Body Shorter Than Content-Length|Missing Via|Missing From|Missing To|Missing Call-ID|Missing CSeq|" +
    "Duplicate Header|Malformed Via|Malformed From|Malformed To|Malformed Call-ID|Malformed CSeq|" +
    "CSeq Method Mismatch|Malformed Max-Forwards|Malformed Contact|Malformed Expires|Malformed Date|" +
    "Malformed URI|Malformed Header Value|Buffer Full|Pool Full", code);
}

/**
 * The status a malformed request gets for this code (RFC 3261 §8.2, §16.3, §21.4); 0 when it must be
 * dropped unanswered. A switch, not a table: on Espruino a module-level table stays in RAM.
 */
export function errorStatus(code: number): number {
  switch (code) {
    case ERR_INCOMPLETE: case ERR_EMPTY: case ERR_BUFFER_FULL: return 0;
    case ERR_VERSION: return 505;
    case ERR_URI_TOO_LONG: return 414;
    case ERR_TOO_MANY_HEADERS: case ERR_MESSAGE_TOO_LARGE: return 513;
    case ERR_BODY_TOO_LARGE: return 413;
    case ERR_POOL_FULL: return 503;
  }
  return code > 0 && code < ERR_COUNT ? 400 : 0;
}

/** One-line description: "error <code> at <offset>: <reason>". */
export function describeError(code: number, offset: number): string {
  return "error " + code + " at " + offset + ": " + errorReason(code);
}
