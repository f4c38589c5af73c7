// RFC 3261 §12 dialogs: identity (Call-ID and tags), route set, remote target, CSeq rules, and the head of a request sent within one.
import { HDR_CONTACT, HDR_FROM, HDR_RECORD_ROUTE, HDR_TO } from "./constants.ts";
import { nameAddrWalker } from "./headers.ts";
import type { SipMessage } from "./message.ts";
import { spanEquals } from "./scan.ts";
import { TRANSPORT_TCP, TRANSPORT_UDP } from "./transaction.ts";
import { SCHEME_SIP, SCHEME_SIPS, findUriParam, parseUri, scratchUri, uriParamValueEnd } from "./uri.ts";
import type { SipWriter } from "./writer.ts";

export const DLG_NONE = 0;
export const DLG_EARLY = 1;
export const DLG_CONFIRMED = 2;

/** Record-Route entries a dialog keeps; a longer route set makes the dialog fail (DLG_ERR_ROUTES). */
export const MAX_ROUTES = 8;

// What building a dialog can fail on.
export const DLG_ERR_NO_TAG = -1;
export const DLG_ERR_CONTACT = -2;
export const DLG_ERR_ROUTES = -3;

const cursor = nameAddrWalker; // shared: list walks never nest

/** The URI of a Route/Record-Route value ("<sip:p;lr>" → "sip:p;lr"; an addr-spec as it is). */
function routeUri(r: string): string {
  const lt = r.indexOf("<");
  const gt = r.indexOf(">");
  return lt >= 0 && gt > lt ? r.substring(lt + 1, gt) : r;
}

/** One dialog. Its strings are made once, when the dialog is created or its target refreshed. */
export class Dialog {
  state = DLG_NONE;
  callId = "";
  localTag = "";
  remoteTag = "";
  /** Our From (UAC) / To (UAS) value with our tag, written as From in our requests. */
  localField = "";
  /** The peer's value with its tag, written as To in our requests. */
  remoteField = "";
  /** Where requests within the dialog go (§12.2.1.1): the peer's Contact URI. */
  remoteTarget = "";
  /** Record-Route values in the order our requests carry them as Route ([0, routeCount); grows to MAX_ROUTES as used). */
  readonly routes: string[] = [];
  routeCount = 0;
  /** The first route is a strict router (no lr): it becomes the Request-URI (§12.2.1.1). */
  strict = false;
  localCseq = 0;
  /** The peer's last CSeq, -1 before its first request. */
  remoteCseq = -1;
  /** The next hop (first route, else the remote target): address, port and transport. */
  hopAddress = "";
  hopPort = 5060;
  hopTransport = TRANSPORT_UDP;
  /** The dialog came from our INVITE. */
  uac = false;

  clear(): void {
    this.state = DLG_NONE;
    this.callId = this.localTag = this.remoteTag = this.localField = this.remoteField = this.remoteTarget = "";
    this.routeCount = 0;
    this.strict = false;
    this.localCseq = 0;
    this.remoteCseq = -1;
    this.hopAddress = "";
    this.hopPort = 5060;
    this.hopTransport = TRANSPORT_UDP;
    this.uac = false;
  }

  /**
   * UAC (§12.1.2): from a 1xx (early) or 2xx (confirmed) to our INVITE that carries a To tag. The
   * caller has set callId, localTag, localField and localCseq. Route set: Record-Route reversed.
   */
  fromResponse(msg: SipMessage): number {
    if (msg.to.tagStart < 0) return DLG_ERR_NO_TAG;
    this.uac = true;
    this.remoteTag = msg.src.substring(msg.to.tagStart, msg.to.tagEnd);
    this.remoteField = msg.header(HDR_TO);
    const r = this.readRoutes(msg, true);
    if (r < 0) return r;
    this.state = msg.status >= 200 ? DLG_CONFIRMED : DLG_EARLY;
    return this.refreshTarget(msg);
  }

  /** UAS (§12.1.1): from the INVITE we answer with localTag. Route set: Record-Route in order. */
  fromRequest(msg: SipMessage, localTag: string): number {
    this.uac = false;
    this.callId = msg.callId();
    this.localTag = localTag;
    // An RFC 2543 peer may send no From tag: the remote tag is then empty (§12.1.1).
    this.remoteTag = msg.from.tagStart < 0 ? "" : msg.src.substring(msg.from.tagStart, msg.from.tagEnd);
    this.remoteTarget = "";
    this.localField = msg.header(HDR_TO) + ";tag=" + localTag;
    this.remoteField = msg.header(HDR_FROM);
    this.remoteCseq = msg.cseq;
    this.localCseq = 0;
    const r = this.readRoutes(msg, false);
    if (r < 0) return r;
    this.state = DLG_EARLY;
    return this.refreshTarget(msg);
  }

  private readRoutes(msg: SipMessage, reverse: boolean): number {
    let n = 0;
    const c = cursor.begin(msg, HDR_RECORD_ROUTE);
    while (c.next()) {
      if (n >= MAX_ROUTES) return DLG_ERR_ROUTES;
      this.routes[n++] = msg.src.substring(c.value.start, c.value.end);
    }
    if (reverse) {
      for (let i = 0, j = n - 1; i < j; i++, j--) {
        const t = this.routes[i];
        this.routes[i] = this.routes[j];
        this.routes[j] = t;
      }
    }
    this.routeCount = n;
    return 0;
  }

  /**
   * Remote target refresh (§12.2.1.2, §12.2.2): the Contact of a request or response, when it has
   * one; then the next hop is worked out again. A dialog-creating message without a usable
   * Contact is DLG_ERR_CONTACT.
   */
  refreshTarget(msg: SipMessage): number {
    const c = cursor.begin(msg, HDR_CONTACT);
    if (c.next() && c.value.decodeUri() && !c.value.star) {
      const u = c.value.uri;
      this.remoteTarget = msg.src.substring(u.start, u.end);
    } else if (this.remoteTarget === "") return DLG_ERR_CONTACT;
    return this.findHop() ? 0 : DLG_ERR_CONTACT;
  }

  /** Next hop: the first route's host when it is a loose router or strict, else the remote target's. */
  private findHop(): boolean {
    let s = this.remoteTarget;
    this.strict = false;
    if (this.routeCount > 0) {
      s = routeUri(this.routes[0]);
    }
    if (parseUri(s, 0, s.length, scratchUri) !== 0 || scratchUri.hostStart < 0) return false;
    const h = scratchUri;
    if (this.routeCount > 0) this.strict = findUriParam(h, "lr") < 0;
    let hs = h.hostStart;
    let he = h.hostEnd;
    if (s.charCodeAt(hs) === 91) { hs++; he--; } // [IPv6]
    const maddr = findUriParam(h, "maddr");
    if (maddr >= 0 && uriParamValueEnd(h, maddr) > maddr) { hs = maddr; he = uriParamValueEnd(h, maddr); }
    this.hopAddress = s.substring(hs, he);
    this.hopPort = h.port > 0 ? h.port : 5060;
    const t = findUriParam(h, "transport");
    this.hopTransport = t >= 0 && uriParamValueEnd(h, t) - t === 3 && (s.charCodeAt(t) | 0x20) === 116 ? TRANSPORT_TCP : TRANSPORT_UDP;
    return h.scheme === SCHEME_SIP || h.scheme === SCHEME_SIPS;
  }

  /** A request that claims this dialog: same Call-ID, its To tag is ours and its From tag the peer's. */
  matchesRequest(msg: SipMessage): boolean {
    const f = msg.from;
    return this.state !== DLG_NONE && msg.to.tagStart >= 0 &&
      spanEquals(msg.src, msg.callIdStart, msg.callIdEnd, this.callId) &&
      spanEquals(msg.src, msg.to.tagStart, msg.to.tagEnd, this.localTag) &&
      (f.tagStart < 0 ? this.remoteTag === "" : spanEquals(msg.src, f.tagStart, f.tagEnd, this.remoteTag));
  }

  /**
   * §12.2.2: a request's CSeq must be above the last one seen (a lower one gets 500). Returns
   * true and remembers it when in order.
   */
  acceptCseq(msg: SipMessage): boolean {
    if (this.remoteCseq >= 0 && msg.cseq <= this.remoteCseq) return false;
    this.remoteCseq = msg.cseq;
    return true;
  }

  /**
   * The head of a request within the dialog (§12.2.1.1): Request-URI (remote target, or the strict
   * router), Via with `branch` and rport from viaHost:viaPort, Max-Forwards, From, To, Call-ID,
   * CSeq `cseq method`, and Route. Returns the offset where the branch starts (it ends at
   * start + branch.length). The caller adds its headers and ends the message.
   */
  writeRequest(w: SipWriter, method: string, cseq: number, branch: string, viaHost: string, viaPort: number): number {
    const strict = this.strict && this.routeCount > 0;
    w.str(method).byte(32);
    w.str(strict ? routeUri(this.routes[0]) : this.remoteTarget);
    w.str(" SIP/2.0\r\nVia: SIP/2.0/").str(this.hopTransport === TRANSPORT_TCP ? "TCP " : "UDP ")
      .str(viaHost).byte(58).num(viaPort).str(";branch=");
    const at = w.pos;
    w.str(branch).str(";rport\r\nMax-Forwards: 70\r\n");
    w.header("From", this.localField).header("To", this.remoteField).header("Call-ID", this.callId);
    w.str("CSeq: ").num(cseq).byte(32).str(method).crlf();
    for (let i = strict ? 1 : 0; i < this.routeCount; i++) w.header("Route", this.routes[i]);
    if (strict) w.str("Route: <").str(this.remoteTarget).str(">\r\n");
    return at;
  }
}
