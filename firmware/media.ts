// The RTP media session of a call: RFC 3550 §5 and A.1/A.3 streams (no RTCP), RFC 4733 §2.5 telephone events, RFC 4961 symmetric RTP latching.
//
// Device code (Espruino): every buffer is allocated in the constructor; the alarm and socket callbacks
// are made once; nothing is allocated per packet except what the platform does with a datagram.
import type { Alarm, AudioDevice, Platform, UdpSocket } from "../hal/types.ts";
import { HAL_ERR_CLOSED, HAL_ERR_INVALID } from "../hal/errors.ts";
import { RTP_HEADER_SIZE, RtpHeader, RtpSender, decodeRtp, encodeRtp } from "../sip-core/rtp.ts";
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from "../sip-core/g711.ts";
import { DtmfReceiver, DtmfSender, dtmfEvent } from "../sip-core/dtmf.ts";
import { PCMA, RTP_PTIME, SDP_INACTIVE, SDP_RECVONLY, SDP_SENDONLY } from "../sip-core/sdp.ts";
import { NATIVE_STRING_SET } from "../sip-core/md5.ts";

/** G.711 clock rate (RFC 3551 §4.5.14): samples per second, and RTP timestamp units per second. */
const RATE = 8000;
/**
 * Largest datagram accepted: G.711 at the 60 ms our SDP's a=maxptime allows is 492 bytes, and 20 more leave
 * room for CSRCs or a header extension; longer ones count as malformed (a 1,024-byte buffer cost 21
 * variables more on Espruino).
 */
export const MEDIA_MAX_DATAGRAM = 512;
/** Digits queued by sendDigit beyond the one being sent. */
export const MEDIA_DTMF_QUEUE = 16;
/** Pause between queued digits, ms (ITU-T Q.24 asks for at least 40 ms; 60 leaves margin). */
const DIGIT_GAP_MS = 60;
/** Ticks behind schedule after which the session skips ahead instead of bursting to catch up. */
const MAX_BEHIND = 5;
/**
 * Packet times without a telephone-event packet after which a received digit whose end packets were
 * all lost is over (RFC 4733 leaves this to the receiver; the sender updates every packet time).
 */
const EVENT_TIMEOUT_TICKS = 4;
/** A stream silent this long (ms) gives up the digits held for their order (DtmfReceiver: 1 s of timestamps). */
const DIGIT_HOLD_MS = 1000;
/** G.711 encodings of a zero sample (ITU-T G.711 tables: μ-law 0xFF, A-law 0xD5). */
const ULAW_SILENCE = 0xff;
const ALAW_SILENCE = 0xd5;
/** Ticks between attempts to reopen a socket the platform closed (Espruino prints each failed bind). */
const REOPEN_TICKS = 50;

/**
 * MediaSession.stats: what each counter counts. Payload octets are RFC 3550 §6.4.1's octet counts; received
 * packets are valid ones of a negotiated payload type from the peer, duplicates included (RFC 3550 A.3).
 */
export const MEDIA_PACKETS_SENT = 0;
export const MEDIA_BYTES_SENT = 1;
export const MEDIA_PACKETS_RECEIVED = 2;
export const MEDIA_BYTES_RECEIVED = 3;
export const MEDIA_DIGITS_SENT = 4;
export const MEDIA_DIGITS_RECEIVED = 5;
/** Packets expected from the sequence numbers minus packets received (duplicates excluded), summed over SSRCs. */
export const MEDIA_LOST = 6;
/** Times the send address moved to a packet's source (symmetric RTP). */
export const MEDIA_LATCHED = 7;
/** Datagrams too long or not RTP version 2, or bad telephone-event payloads. */
export const MEDIA_MALFORMED = 8;
export const MEDIA_DUPLICATES = 9;
/** Packets older than the newest one received (audio from them is not played). */
export const MEDIA_LATE = 10;
export const MEDIA_SSRC_CHANGES = 11;
/** RTP packets of a payload type that was not negotiated (RTCP on a muxed port lands here too). */
export const MEDIA_UNKNOWN_PAYLOAD = 12;
/** Packets from another source than the one latched. */
export const MEDIA_FOREIGN = 13;
export const MEDIA_SEND_ERRORS = 14;
/** Ticks skipped because the session ran too far behind schedule. */
export const MEDIA_SKIPPED_TICKS = 15;
/** How many counters there are. */
export const MEDIA_STATS = 16;

/** What the offer/answer settled for the stream (re-INVITEs give a new one to update()). */
export interface MediaParams {
  /** Our RTP port (0: any free port; MediaSession.rtpPort() tells which). */
  localPort: number;
  /** Where the peer's SDP says to send ("0.0.0.0" or port 0: nowhere, RFC 2543 hold / rejected). */
  remoteAddress: string;
  remotePort: number;
  /** The voice payload type: 0 PCMU or 8 PCMA. */
  payload: number;
  /** The telephone-event payload type we send, or -1 when RFC 4733 was not agreed. */
  telephoneEvent: number;
  /** The one the peer sends (differs when its answer renumbered ours; absent: telephoneEvent). */
  telephoneEventIn?: number;
  /** SDP_SENDRECV / SDP_SENDONLY / SDP_RECVONLY / SDP_INACTIVE, from our point of view (RFC 3264 §5.1). */
  direction: number;
}

export interface MediaSessionOptions {
  platform: Platform;
  /** Microphone and speaker; null sends silence and plays nothing. */
  audio: AudioDevice | null;
  /** A telephone-event digit arrived: its char code and duration in ms. Called once per digit. */
  onDigit: (digit: number, duration: number) => void;
  /** Packet time, ms (20 when absent). */
  ptime?: number;
}


/** The frame buffers of a session without an audio device. */
const NO_SAMPLES = new Int16Array(0);
/** The receive buffer every session decodes into, made with the first session. */
let sharedRx: Uint8Array | null = null;

/**
 * One call's audio stream. start() opens the socket and starts the packet clock; update() applies a
 * re-INVITE; stop() ends it. Counters are in stats (no getters: E.getSizeOf would call them).
 *
 * Sending: one alarm per packet time, set for absolute times start + n·ptime so ticks do not drift.
 * Each tick sends one packet — a telephone event while a digit is being sent, otherwise one frame
 * of microphone audio (silence when there is none). The RTP timestamp follows the tick count, so
 * after a digit or a hold the voice timestamps still match the elapsed time (the marker bit says a
 * new talkspurt begins).
 *
 * Receiving: packets of the negotiated voice or telephone-event payload type are used; others are
 * counted and dropped. No tone detection runs on the audio: in-band DTMF is never a digit.
 */
export class MediaSession {
  /** Counters, by the MEDIA_* indices above (one typed array: a field each cost the device a variable or two). */
  readonly stats: Uint32Array;
  /** Clock time of the last RTP packet from the peer (the start time until one comes). */
  lastReceivedAt: number;

  private platform: Platform;
  private audio: AudioDevice | null;
  private onDigit: (digit: number, duration: number) => void;
  private ptime: number;
  /** Samples per packet (and RTP timestamp units per tick). */
  private samples: number;

  private alarm!: Alarm; // these four: wire()
  private sock: UdpSocket | null;
  private reopenWait: number;
  private onDatagram!: (data: string, address: string, port: number) => void;
  private onSocketError!: (code: number) => void;

  // Preallocated buffers.
  private mic: Int16Array;
  private speaker: Int16Array;
  /** The packet to send, and a view of its payload (encoded in place: the header goes in front). */
  private packet: Uint8Array;
  private payloadBuf: Uint8Array;
  private rxHeader: RtpHeader;

  // Negotiated state.
  private running: boolean;
  private port: number;
  private sdpAddress: string;
  private sdpPort: number;
  private payloadType: number;
  private eventPayload: number;
  private eventPayloadIn: number;
  private streamDirection: number;
  /** Where packets go: the SDP address, or the latched source. */
  private sendAddress: string;
  private sendPort: number;

  // Sending.
  private sender: RtpSender;
  private clockStart: number;
  private tickNo: number;
  /** RTP timestamp of the frame the next tick sends. */
  private mediaTs: number;
  private dtmfTx: DtmfSender;
  private digitActive: boolean;
  private gap: number;
  /** Queued digits: char code << 16 | duration in samples. */
  private queue: Uint32Array;
  private qHead: number;
  private qCount: number;

  // Receiving.
  private dtmfRx!: DtmfReceiver;
  /** The source latched to; port 0 until the first usable packet (no datagram comes from port 0). */
  private peerAddress: string;
  private peerPort: number;
  private rxSsrc: number;
  private baseSeq: number;
  private maxSeq: number;
  private cycles: number;
  /** Bit i set: sequence maxSeq − i was received (duplicate detection over the last 32). */
  private seqWindow: number;
  /** Distinct packets counted from this SSRC; 0 until the first (a new stream). */
  private rxUnique: number;
  private lostBefore: number;
  /** Clock time of the last telephone-event packet received, or -1. */
  private lastEventAt: number;

  constructor(options: MediaSessionOptions) {
    this.platform = options.platform;
    this.audio = options.audio;
    this.onDigit = options.onDigit;
    const p = options.ptime;
    this.ptime = p !== undefined && p >= 10 && p <= 120 ? p : RTP_PTIME;
    this.samples = Math.floor((this.ptime * RATE) / 1000);

    this.stats = new Uint32Array(MEDIA_STATS);
    this.lastReceivedAt = 0;

    this.wire();
    this.sock = null;
    this.reopenWait = 0;

    // Frame buffers for the audio device only when there is one; the receive buffer is shared by every
    // session (a datagram is decoded and played within its handler), the send buffers are not (a send is
    // queued, and on Espruino its string may share the packet's memory).
    this.mic = this.audio !== null ? new Int16Array(this.samples) : NO_SAMPLES;
    this.speaker = this.audio !== null ? new Int16Array(this.samples) : NO_SAMPLES;
    this.packet = new Uint8Array(RTP_HEADER_SIZE + this.samples);
    this.payloadBuf = this.packet.subarray(RTP_HEADER_SIZE);
    if (sharedRx === null) sharedRx = new Uint8Array(MEDIA_MAX_DATAGRAM);
    this.rxHeader = new RtpHeader();

    this.running = false;
    this.port = 0;
    this.sdpAddress = "";
    this.sdpPort = 0;
    this.payloadType = 0;
    this.eventPayload = this.eventPayloadIn = -1;
    this.streamDirection = 0;
    this.sendAddress = "";
    this.sendPort = 0;

    // One header for both directions: receive() reads none of its fields after a call that may send
    // (its digit callback can stop the session, which sends the end of a digit).
    this.sender = new RtpSender(0, 0, 0, 0, this.rxHeader);
    this.clockStart = 0;
    this.tickNo = 0;
    this.mediaTs = 0;
    this.dtmfTx = new DtmfSender();
    this.digitActive = false;
    this.gap = 0;
    this.queue = new Uint32Array(MEDIA_DTMF_QUEUE);
    this.qHead = 0;
    this.qCount = 0;

    this.peerAddress = "";
    this.peerPort = 0;
    this.rxSsrc = 0;
    this.baseSeq = 0;
    this.maxSeq = 0;
    this.cycles = 0;
    this.seqWindow = 0;
    this.rxUnique = 0;
    this.lostBefore = 0;
    this.lastEventAt = -1;
  }

  /**
   * The only closures, made once: here rather than in the constructor, as a closure keeps the whole scope
   * it is made in (on Espruino the constructor's options and every temporary the build writes there).
   */
  private wire(): void {
    const self = this;
    this.alarm = this.platform.createAlarm({ onAlarm: function () { self.tick(); } });
    this.onDatagram = function (data: string, address: string, port: number) { self.receive(data, address, port); };
    this.onSocketError = function (code: number) {
      // Espruino closes a socket whose send failed; the next tick opens a new one on the same port.
      if (code === HAL_ERR_CLOSED) {
        self.sock = null;
        self.reopenWait = 0;
      } else self.stats[MEDIA_SEND_ERRORS]++;
    };
    this.dtmfRx = new DtmfReceiver(function (digit: number, duration: number) {
      self.stats[MEDIA_DIGITS_RECEIVED]++;
      self.onDigit(digit, (duration * 1000) / RATE);
    });
  }

  /**
   * Opens the socket on p.localPort and starts sending every ptime. Returns 0, or the negative HAL
   * error of openUdp. A running session is stopped first (a new SSRC: a new stream).
   */
  start(p: MediaParams): number {
    if (this.running) this.stop();
    const r = this.open(p.localPort);
    if (r < 0) return r;
    const rnd = this.platform.random;
    // RFC 3550 §5.1: SSRC, initial sequence number and timestamp are random.
    const s = this.sender;
    s.ssrc = rnd.u32() >>> 0;
    s.seq = rnd.u32() & 0xFFFF;
    s.timestamp = rnd.u32() >>> 0;
    s.talkspurt = true;
    this.mediaTs = s.timestamp;
    this.apply(p, true);
    this.rxUnique = 0;
    this.lostBefore = this.stats[MEDIA_LOST];
    this.lastEventAt = -1;
    this.digitActive = false;
    this.gap = 0;
    this.qCount = 0;
    this.running = true;
    this.clockStart = this.platform.clock.now();
    this.lastReceivedAt = this.clockStart;
    this.tickNo = 0;
    this.alarm.set(this.clockStart + this.ptime);
    return 0;
  }

  /**
   * A re-INVITE's new parameters: address, port, payload types, direction (hold). SSRC, sequence
   * numbers and the packet clock carry on. A new remote address or port undoes the latch; an
   * unchanged one keeps it (a hold re-INVITE must not undo NAT traversal). Returns 0 or a HAL error
   * (from reopening the socket when localPort changed; the session is then stopped).
   */
  update(p: MediaParams): number {
    if (!this.running) return HAL_ERR_INVALID;
    if (p.localPort !== 0 && p.localPort !== this.port) {
      if (this.sock !== null) this.sock.close();
      this.sock = null;
      const r = this.open(p.localPort);
      if (r < 0) {
        this.stop();
        return r;
      }
    }
    // A codec change starts a talkspurt: the marker tells the peer's jitter buffer to resynchronise.
    if (p.payload !== this.payloadType) this.sender.talkspurt = true;
    this.apply(p, p.remoteAddress !== this.sdpAddress || p.remotePort !== this.sdpPort);
    if (!this.maySend() || this.eventPayload < 0) this.dropDigits();
    return 0;
  }

  /**
   * Queues a digit (char code: 0–9 * # A–D) lasting durationMs as RFC 4733 events. False when the
   * peer has no telephone-event, we may not send, the code is not a digit, or the queue is full.
   */
  sendDigit(digit: number, durationMs: number): boolean {
    if (!this.running || this.eventPayload < 0 || !this.maySend()) return false;
    if (dtmfEvent(digit) < 0 || this.qCount >= MEDIA_DTMF_QUEUE) return false;
    let d = Math.floor((durationMs * RATE) / 1000);
    if (!(d >= this.samples)) d = this.samples; // at least one packet (also catches NaN)
    if (d > 0xFFFF) d = 0xFFFF;
    const i = (this.qHead + this.qCount) % MEDIA_DTMF_QUEUE;
    this.queue[i] = (digit << 16) | d;
    this.qCount++;
    return true;
  }

  /** Digits queued or being sent. */
  pendingDigits(): number {
    return this.qCount + (this.digitActive ? 1 : 0);
  }

  /**
   * Ends the stream: a digit being sent gets its end packets at once, queued ones are dropped, a
   * received digit whose end packets were lost is reported, then the alarm stops and the socket
   * closes. Calling it again does nothing.
   */
  stop(): void {
    if (!this.running) return;
    if (this.digitActive && this.maySend()) {
      // Finish the event (RFC 4733 §2.5.1.4): the rest of its packets back to back, ends included.
      for (;;) {
        this.sender.timestamp = this.mediaTs;
        const n = this.dtmfTx.next(this.sender, this.payloadBuf, 0);
        if (n <= 0) break;
        this.transmit(n);
      }
      this.digitActive = false;
      this.stats[MEDIA_DIGITS_SENT]++;
    }
    this.dropDigits();
    this.dtmfRx.flush();
    this.running = false;
    this.alarm.cancel();
    if (this.sock !== null) {
      this.sock.close();
      this.sock = null;
    }
  }

  isRunning(): boolean {
    return this.running;
  }

  /** The bound RTP port (0 when stopped). */
  rtpPort(): number {
    return this.sock !== null ? this.sock.port : 0;
  }

  /** Where packets go now ("address:port"): the SDP's, or the latched source. */
  sendTarget(): string {
    return this.sendAddress + ":" + this.sendPort;
  }

  /** Our SSRC. */
  ssrc(): number {
    return this.sender.ssrc;
  }

  // --- internals

  private open(port: number): number {
    const s = this.platform.openUdp({ port: port, onMessage: this.onDatagram, onError: this.onSocketError });
    if (typeof s === "number") return s;
    this.sock = s;
    this.port = s.port;
    return 0;
  }

  private apply(p: MediaParams, newRemote: boolean): void {
    this.payloadType = p.payload;
    this.eventPayload = p.telephoneEvent;
    this.eventPayloadIn = p.telephoneEventIn !== undefined && p.telephoneEventIn >= 0 ? p.telephoneEventIn : p.telephoneEvent;
    this.streamDirection = p.direction;
    this.sender.payloadType = p.payload;
    if (newRemote) {
      this.sdpAddress = p.remoteAddress;
      this.sdpPort = p.remotePort;
      this.sendAddress = p.remoteAddress;
      this.sendPort = p.remotePort;
      this.peerPort = 0;
    }
  }

  /** The SDP gave somewhere to send: not port 0 (a rejected stream) nor c=0.0.0.0 (RFC 2543 hold). */
  private remoteUsable(): boolean {
    return this.sdpPort > 0 && this.sdpAddress !== "" && this.sdpAddress !== "0.0.0.0";
  }

  /** sendrecv or sendonly (SDP_DIR_NONE counts as sendrecv, RFC 4566 §6), and somewhere to send. */
  private maySend(): boolean {
    const d = this.streamDirection;
    return d !== SDP_RECVONLY && d !== SDP_INACTIVE && this.remoteUsable();
  }

  /** Forgets queued digits; a digit being sent is abandoned without sending (its sequence numbers are not used). */
  private dropDigits(): void {
    this.qCount = 0;
    this.qHead = 0;
    this.gap = 0;
    if (!this.digitActive) return;
    const s = this.sender;
    const seq = s.seq;
    while (this.dtmfTx.next(s, this.payloadBuf, 0) > 0) { /* run the sender to its end */ }
    s.seq = seq;
    s.timestamp = this.mediaTs;
    s.talkspurt = true;
    this.digitActive = false;
  }

  /** One packet time. */
  private tick(): void {
    if (!this.running) return;
    const ptime = this.ptime;
    this.tickNo++;
    const behind = Math.floor((this.platform.clock.now() - (this.clockStart + this.tickNo * ptime)) / ptime);
    if (behind > MAX_BEHIND) {
      // A long stall: bursting the missed packets would only add delay. The clock jumps, the next
      // packet starts a talkspurt (RFC 3551 §4.1).
      this.tickNo += behind;
      this.stats[MEDIA_SKIPPED_TICKS] += behind;
      this.mediaTs = (this.mediaTs + behind * this.samples) >>> 0;
      this.sender.talkspurt = true;
    }
    if (this.sock === null) {
      if (this.reopenWait > 0) this.reopenWait--;
      else if (this.open(this.port) < 0) this.reopenWait = REOPEN_TICKS;
    }
    const now = this.platform.clock.now();
    if (this.lastEventAt >= 0 && now - this.lastEventAt > EVENT_TIMEOUT_TICKS * ptime) {
      // The peer's event stopped without an end packet reaching us (and no voice marker came).
      this.lastEventAt = -1;
      this.dtmfRx.settle();
    }
    // Held digits wait for the stream's timestamps to pass them; a stream that went quiet releases them.
    if (now - this.lastReceivedAt > DIGIT_HOLD_MS) this.dtmfRx.flush();
    if (this.sock !== null && this.maySend()) this.sendTick();
    else {
      if (this.digitActive) this.dropDigits();
      this.sender.talkspurt = true;
    }
    this.mediaTs = (this.mediaTs + this.samples) >>> 0;
    this.alarm.set(this.clockStart + (this.tickNo + 1) * ptime);
  }

  private sendTick(): void {
    const s = this.sender;
    const n = this.samples;
    s.timestamp = this.mediaTs;
    if (this.gap > 0) this.gap--;
    if (!this.digitActive && this.gap === 0 && this.qCount > 0 && this.eventPayload >= 0) {
      const i = this.qHead;
      this.qHead = (i + 1) % MEDIA_DTMF_QUEUE;
      this.qCount--;
      this.dtmfTx.payloadType = this.eventPayload;
      const q = this.queue[i];
      this.digitActive = this.dtmfTx.begin(q >> 16, q & 0xFFFF, n, s);
    }
    if (this.digitActive) {
      const len = this.dtmfTx.next(s, this.payloadBuf, 0);
      if (len > 0) {
        this.transmit(len);
        return;
      }
      // The digit is done (its skip() set the talkspurt flag); voice resumes on this tick.
      this.digitActive = false;
      this.stats[MEDIA_DIGITS_SENT]++;
      this.gap = Math.ceil(DIGIT_GAP_MS / this.ptime);
      s.timestamp = this.mediaTs;
    }
    let got = this.audio !== null ? this.audio.read(this.mic, 0, n) : 0;
    if (!(got > 0)) got = 0;
    if (got === 0) {
      // Nothing captured: the silence byte, filled natively (encoding 160 zero samples costs ~1.8 ms of a
      // 20 ms tick on the interpreter).
      this.payloadBuf.fill(this.payloadType === PCMA ? ALAW_SILENCE : ULAW_SILENCE, 0, n);
    } else {
      if (got < n) this.mic.fill(0, got, n);
      if (this.payloadType === PCMA) alawEncode(this.mic, 0, n, this.payloadBuf, 0);
      else ulawEncode(this.mic, 0, n, this.payloadBuf, 0);
    }
    s.nextFrame(n);
    this.transmit(n);
  }

  /** Sends sender.header + payloadBuf[0, payloadLength). */
  private transmit(payloadLength: number): void {
    const len = encodeRtp(this.sender.header, this.payloadBuf, payloadLength, this.packet, 0);
    if (len < 0 || this.sock === null) return;
    if (this.sock.send(this.packet, len, this.sendAddress, this.sendPort) < 0) {
      this.stats[MEDIA_SEND_ERRORS]++;
      return;
    }
    this.stats[MEDIA_PACKETS_SENT]++;
    this.stats[MEDIA_BYTES_SENT] += payloadLength;
  }

  private receive(data: string, address: string, port: number): void {
    if (!this.running) return;
    const buf = sharedRx as Uint8Array;
    if (data.length > buf.length) {
      this.stats[MEDIA_MALFORMED]++;
      return;
    }
    // The datagram's chars as bytes. Espruino copies a string natively (0.007 ms for a 172-byte packet
    // against 0.75 ms for the loop); sip-core probes it once.
    const len = data.length;
    if (NATIVE_STRING_SET) buf.set(data as unknown as ArrayLike<number>);
    else for (let i = 0; i < len; i++) buf[i] = data.charCodeAt(i);
    const h = this.rxHeader;
    if (decodeRtp(buf, 0, len, h) < 0) {
      this.stats[MEDIA_MALFORMED]++;
      return;
    }
    const pt = h.payloadType;
    const isAudio = pt === this.payloadType;
    // Events on the number we offered or the one the answer gave (a peer may use either after renumbering).
    if (!isAudio && pt !== this.eventPayloadIn && pt !== this.eventPayload) {
      this.stats[MEDIA_UNKNOWN_PAYLOAD]++;
      return;
    }
    if (this.peerPort === 0) {
      // Symmetric RTP: the first usable packet fixes the peer; send where it came from (unless the
      // SDP says not to send at all).
      this.peerAddress = address;
      this.peerPort = port;
      if (this.remoteUsable() && (address !== this.sendAddress || port !== this.sendPort)) {
        this.sendAddress = address;
        this.sendPort = port;
        this.stats[MEDIA_LATCHED]++;
      }
    } else if (address !== this.peerAddress || port !== this.peerPort) {
      if (address !== this.sdpAddress || port !== this.sdpPort || !this.remoteUsable()) {
        this.stats[MEDIA_FOREIGN]++;
        return;
      }
      // The address the SDP gave speaks after all: it wins over a latch to a stale or stray source
      // (e.g. a packet from the peer's old port still in flight after a re-INVITE moved it).
      this.peerAddress = address;
      this.peerPort = port;
      this.sendAddress = address;
      this.sendPort = port;
    }
    this.stats[MEDIA_PACKETS_RECEIVED]++;
    this.stats[MEDIA_BYTES_RECEIVED] += h.payloadLength;
    this.lastReceivedAt = this.platform.clock.now();
    if (!this.sequence(h.ssrc, h.sequence)) return;
    const inOrder = this.maxSeq === h.sequence;
    if (this.streamDirection === SDP_SENDONLY || this.streamDirection === SDP_INACTIVE) return; // we may not receive
    this.dtmfRx.release(h.timestamp); // held digits the stream is now past (their order is settled)
    if (isAudio) {
      if (!inOrder) return; // no jitter buffer: an old frame would play out of place
      if (h.marker && this.lastEventAt >= 0) {
        // A new talkspurt: a digit whose end packets were all lost is over (held for its order like the others).
        this.lastEventAt = -1;
        this.dtmfRx.settle();
      }
      this.play(h.payloadOffset, h.payloadLength);
    } else {
      this.lastEventAt = this.platform.clock.now();
      if (!this.dtmfRx.receive(h.timestamp, buf, h.payloadOffset, h.payloadLength)) this.stats[MEDIA_MALFORMED]++;
    }
  }

  /**
   * Sequence bookkeeping (RFC 3550 A.1/A.3, simplified): duplicates over the last 32 sequence numbers
   * are dropped (false), the loss count is updated. A new SSRC restarts the count.
   */
  private sequence(ssrc: number, seq: number): boolean {
    if (this.rxUnique === 0 || ssrc !== this.rxSsrc) {
      if (this.rxUnique > 0) {
        this.stats[MEDIA_SSRC_CHANGES]++;
        this.lostBefore = this.stats[MEDIA_LOST];
      }
      this.rxSsrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.seqWindow = 1;
      this.rxUnique = 1;
      return true;
    }
    const ahead = (seq - this.maxSeq) & 0xFFFF;
    if (ahead === 0) {
      this.stats[MEDIA_DUPLICATES]++;
      return false;
    }
    if (ahead < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
      this.seqWindow = ahead >= 32 ? 1 : (this.seqWindow << ahead) | 1;
    } else {
      const back = (this.maxSeq - seq) & 0xFFFF;
      if (back < 32) {
        if ((this.seqWindow >>> back) & 1) {
          this.stats[MEDIA_DUPLICATES]++;
          return false;
        }
        this.seqWindow |= 1 << back;
      }
      this.stats[MEDIA_LATE]++;
    }
    this.rxUnique++;
    const lost = this.cycles + this.maxSeq - this.baseSeq + 1 - this.rxUnique;
    this.stats[MEDIA_LOST] = this.lostBefore + (lost > 0 ? lost : 0);
    return true;
  }

  /** Decodes rx[off, off+len) and plays it, a frame buffer at a time (the peer's ptime may differ). */
  private play(off: number, len: number): void {
    const audio = this.audio;
    if (audio === null) return;
    const out = this.speaker;
    const max = out.length;
    const alaw = this.payloadType === PCMA;
    const rx = sharedRx as Uint8Array;
    while (len > 0) {
      const n = len < max ? len : max;
      if (alaw) alawDecode(rx, off, n, out, 0);
      else ulawDecode(rx, off, n, out, 0);
      audio.write(out, 0, n);
      off += n;
      len -= n;
    }
  }
}
