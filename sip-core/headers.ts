// RFC 3261 §20 header accessors that decode on demand: list cursors (Via, Contact, Route, tokens), media type, scalars, Warning, Event.
import {
  CHAR_CLASS, C_DIGIT, CH_COMMA, CH_DQUOTE, CH_SEMI, CH_SLASH, CH_SP, HDR_CONTACT, HDR_CONTENT_TYPE, HDR_EVENT,
  HDR_MIN_EXPIRES, HDR_RETRY_AFTER, HDR_VIA, HDR_WARNING,
} from "./constants.ts";
import type { SipMessage } from "./message.ts";
import { NA_LIST, NA_STAR, NameAddr, parseNameAddr } from "./nameaddr.ts";
import { paramSpan, scanParam } from "./params.ts";
import {
  NEXT_GT, UINT32_MAX, listItemEnd, nextIndex, parseDecimal, quotedStringEnd, skipLws, skipToken, spanEqualsIgnoreCase, trimLwsEnd,
} from "./scan.ts";
import { type SipUri, scratchUri } from "./uri.ts";
import { ViaValue, parseViaValue } from "./via.ts";

/** Walks every value of every header line with one id, in order, across lines and commas. */
class ListWalker {
  protected msg: SipMessage | null = null;
  protected id = 0;
  protected line = -1;
  protected pos = 0;
  protected end = 0;
  /** A value failed to parse; the walk stopped there. */
  malformed = false;
  /** Where the malformed value starts. */
  failedAt = -1;

  protected start(msg: SipMessage, id: number): void {
    this.msg = msg;
    this.id = id;
    this.malformed = false;
    this.failedAt = -1;
    this.line = msg.findHeader(id);
    if (this.line >= 0) {
      this.pos = msg.headerValueStart(this.line);
      this.end = msg.headerValueEnd(this.line);
    }
  }

  /** Moves to the line holding the next value; false when there is none. */
  protected advance(): boolean {
    const m = this.msg as SipMessage;
    while (this.line >= 0 && this.pos >= this.end) {
      this.line = m.nextHeader(this.id, this.line);
      if (this.line >= 0) {
        this.pos = m.headerValueStart(this.line);
        this.end = m.headerValueEnd(this.line);
      }
    }
    return this.line >= 0;
  }

  /** Records where the value just parsed stopped (-1: malformed). */
  protected step(p: number): boolean {
    if (p < 0) {
      this.malformed = true;
      this.failedAt = this.pos;
      this.line = -1;
      return false;
    }
    this.pos = p + 1; // past the ',' (or past end, which moves to the next line)
    return true;
  }
}

/** Every Via value, top first. */
export class ViaCursor extends ListWalker {
  readonly value: ViaValue;
  // Explicit constructors: esbuild would otherwise emit super(...arguments), which Espruino lacks.
  constructor() { super(); this.value = new ViaValue(); }
  begin(msg: SipMessage): this { this.start(msg, HDR_VIA); return this; }
  next(): boolean {
    if (!this.advance()) return false;
    const m = this.msg as SipMessage;
    return this.step(parseViaValue(m.src, this.pos, this.end, this.value));
  }
}

/** Every name-addr value of a list header: Contact, Route, Record-Route, Path, Service-Route. */
export class NameAddrCursor extends ListWalker {
  readonly value: NameAddr;
  /** uri: where the values' URIs are parsed (a shared view), else a view of the cursor's own. */
  constructor(uri?: SipUri) { super(); this.value = new NameAddr(uri); }
  begin(msg: SipMessage, id: number): this { this.start(msg, id); return this; }
  next(): boolean {
    if (!this.advance()) return false;
    const m = this.msg as SipMessage;
    const flags = NA_LIST | (this.id === HDR_CONTACT ? NA_STAR : 0);
    return this.step(parseNameAddr(m.src, this.pos, this.end, this.value, flags));
  }
}

/**
 * Every item of a comma-separated header such as Allow, Supported, Require, Proxy-Require,
 * Unsupported, Accept: the span of each item, trimmed; quoted strings are skipped whole.
 */
export class TokenCursor extends ListWalker {
  itemStart: number;
  itemEnd: number;
  constructor() { super(); this.itemStart = 0; this.itemEnd = 0; }
  begin(msg: SipMessage, id: number): this { this.start(msg, id); return this; }
  next(): boolean {
    for (;;) {
      if (!this.advance()) return false;
      const src = (this.msg as SipMessage).src;
      const s = skipLws(src, this.pos, this.end);
      const p = listItemEnd(src, s, this.end);
      if (p < 0) return this.step(-1);
      this.itemStart = s;
      this.itemEnd = trimLwsEnd(src, s, p);
      this.step(p);
      if (this.itemEnd > this.itemStart) return true; // empty items (",,") are skipped
    }
  }
  /** True when the current item's leading token equals lowerLit, ignoring case. */
  is(lowerLit: string): boolean {
    const src = (this.msg as SipMessage).src;
    return spanEqualsIgnoreCase(src, this.itemStart, skipToken(src, this.itemStart, this.itemEnd), lowerLit);
  }
  /** The current item as text (allocates). */
  text(): string { return (this.msg as SipMessage).src.substring(this.itemStart, this.itemEnd); }
}

const tokens = new TokenCursor();

/**
 * One name-addr walker and one token walker for the callers that walk one list at a time and never nest
 * their walks (validation, the registration's Contacts, the UA core's Require): one instance each instead
 * of one per module (a NameAddrCursor holds a NameAddr with its URI, ~90 variables on Espruino). The
 * walker's values parse their URIs into scratchUri, so nothing parses into that while a walk's value is read.
 */
export const nameAddrWalker = new NameAddrCursor(scratchUri);
export const tokenWalker = tokens;

/**
 * Lets go of a handled message's text: the message view and its decoded parts, the shared walker, its URI
 * and the remembered searches all point at it, and on Espruino a string stays alive
 * while anything holds it (~20 variables, still held when the next message's text arrives). The view reads
 * as empty afterwards.
 */
export function releaseScratch(msg: SipMessage): void {
  msg.src = msg.from.src = msg.to.src = msg.from.uri.src = msg.to.uri.src = msg.via.src = msg.requestUri.src =
    nameAddrWalker.value.src = scratchUri.src = "";
  nextIndex(NEXT_GT, ">", "", 0); // a search in "" makes the remembered searches forget the last text
}

/** True when a list header (Supported, Require, Allow…) of msg holds the token lowerLit. */
export function hasToken(msg: SipMessage, id: number, lowerLit: string): boolean {
  tokens.begin(msg, id);
  while (tokens.next()) if (tokens.is(lowerLit)) return true;
  return false;
}

/**
 * media-type = m-type SLASH m-subtype *( SEMI m-parameter ), as spans. A class, not an interface filled by an
 * object literal: the device bundle renames a class's fields short (a literal's keys stay, each of more than 8
 * characters a variable more on Espruino).
 */
export class MediaType {
  typeStart = -1;
  typeEnd = -1;
  subtypeStart = -1;
  subtypeEnd = -1;
  /** The parameters, from the first ';' (named unlike the classes' paramsStart so those can be renamed short). */
  paramStart = -1;
  paramEnd = -1;
}

/** Parses a media type at src[s, e) into out; returns 0 or -1. */
export function parseMediaType(src: string, s: number, e: number, out: MediaType): number {
  let p = skipLws(src, s, e);
  out.typeStart = p;
  p = skipToken(src, p, e);
  out.typeEnd = p;
  if (p === out.typeStart) return -1;
  p = skipLws(src, p, e);
  if (p >= e || src.charCodeAt(p) !== CH_SLASH) return -1;
  p = skipLws(src, p + 1, e);
  out.subtypeStart = p;
  p = skipToken(src, p, e);
  out.subtypeEnd = p;
  if (p === out.subtypeStart) return -1;
  out.paramStart = out.paramEnd = p;
  p = skipLws(src, p, e);
  while (p < e) {
    if (src.charCodeAt(p) !== CH_SEMI) return -1;
    p = scanParam(src, p + 1, e, paramSpan);
    if (p < 0) return -1;
    out.paramEnd = p;
    p = skipLws(src, p, e);
  }
  return 0;
}

const mediaType = new MediaType();

/** True when msg's Content-Type is type/subtype (lower-case literals), parameters ignored. */
export function contentTypeIs(msg: SipMessage, type: string, subtype: string): boolean {
  const i = msg.findHeader(HDR_CONTENT_TYPE);
  if (i < 0) return false;
  const src = msg.src;
  if (parseMediaType(src, msg.headerValueStart(i), msg.headerValueEnd(i), mediaType) < 0) return false;
  return spanEqualsIgnoreCase(src, mediaType.typeStart, mediaType.typeEnd, type) &&
    spanEqualsIgnoreCase(src, mediaType.subtypeStart, mediaType.subtypeEnd, subtype);
}

/** Retry-After = delta-seconds [ comment ] *( SEMI retry-param ); -1 when absent or malformed. */
export function retryAfter(msg: SipMessage): number {
  const i = msg.findHeader(HDR_RETRY_AFTER);
  if (i < 0) return -1;
  const src = msg.src;
  const s = msg.headerValueStart(i);
  const e = msg.headerValueEnd(i);
  let p = s;
  while (p < e && (CHAR_CLASS[src.charCodeAt(p)] & C_DIGIT) !== 0) p++;
  const v = parseDecimal(src, s, p, UINT32_MAX);
  if (v < 0 || p === e) return v;
  // After the number only LWS, a comment or parameters may follow.
  const q = skipLws(src, p, e);
  const c = src.charCodeAt(q);
  return q === e || c === 40 || c === CH_SEMI ? v : -1;
}

/** Min-Expires = delta-seconds; -1 when absent or malformed. */
export function minExpires(msg: SipMessage): number {
  const i = msg.findHeader(HDR_MIN_EXPIRES);
  return i < 0 ? -1 : parseDecimal(msg.src, msg.headerValueStart(i), msg.headerValueEnd(i), UINT32_MAX);
}

/** warning-value = warn-code SP warn-agent SP warn-text */
export class WarningCursor extends ListWalker {
  code: number;
  agentStart: number;
  agentEnd: number;
  /** warn-text with its quotes. */
  textStart: number;
  textEnd: number;
  constructor() { super(); this.code = this.agentStart = this.agentEnd = this.textStart = this.textEnd = 0; }
  begin(msg: SipMessage): this { this.start(msg, HDR_WARNING); return this; }
  next(): boolean {
    if (!this.advance()) return false;
    const src = (this.msg as SipMessage).src;
    const e = this.end;
    let p = skipLws(src, this.pos, e);
    const cs = p;
    while (p < e && (CHAR_CLASS[src.charCodeAt(p)] & C_DIGIT) !== 0) p++;
    if (p - cs !== 3 || p >= e || src.charCodeAt(p) !== CH_SP) return this.step(-1);
    this.code = parseDecimal(src, cs, p, 999);
    p++;
    this.agentStart = p;
    while (p < e && src.charCodeAt(p) !== CH_SP) p++;
    if (p === this.agentStart || p >= e) return this.step(-1);
    this.agentEnd = p;
    p++;
    if (p >= e || src.charCodeAt(p) !== CH_DQUOTE) return this.step(-1);
    this.textStart = p;
    p = quotedStringEnd(src, p, e);
    if (p < 0) return this.step(-1);
    this.textEnd = p;
    p = skipLws(src, p, e);
    if (p < e && src.charCodeAt(p) !== CH_COMMA) return this.step(-1);
    return this.step(p);
  }
}

/** Event = event-type *( SEMI event-param ); spans of the type and of the id parameter. */
export class EventValue {
  typeStart = -1;
  typeEnd = -1;
  idStart = -1;
  idEnd = -1;
}

/** Parses msg's Event header into out; returns 0, or -1 when absent or malformed. */
export function parseEvent(msg: SipMessage, out: EventValue): number {
  const i = msg.findHeader(HDR_EVENT);
  if (i < 0) return -1;
  const src = msg.src;
  const e = msg.headerValueEnd(i);
  let p = msg.headerValueStart(i);
  out.typeStart = p;
  p = skipToken(src, p, e);
  out.typeEnd = p;
  out.idStart = out.idEnd = -1;
  if (p === out.typeStart) return -1;
  p = skipLws(src, p, e);
  while (p < e) {
    if (src.charCodeAt(p) !== CH_SEMI) return -1;
    p = scanParam(src, p + 1, e, paramSpan);
    if (p < 0) return -1;
    if (spanEqualsIgnoreCase(src, paramSpan.nameStart, paramSpan.nameEnd, "id")) {
      out.idStart = paramSpan.valueStart;
      out.idEnd = paramSpan.valueEnd;
    }
    p = skipLws(src, p, e);
  }
  return 0;
}
