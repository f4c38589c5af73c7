// Virtual audio devices for the simulator (hal AudioDevice): tone and WAV microphones, a recording speaker, WAV writing and a Goertzel tone measure.
import type { AudioDevice } from "../hal/types.ts";

/** Samples a recording speaker keeps by default: 60 s at 8 kHz. */
export const DEFAULT_RECORD_LIMIT = 8000 * 60;

/** The speaker half shared by the virtual devices: keeps what is played, up to a cap. */
export class RecordingSpeaker {
  /** Samples kept at most; later ones are counted in `droppedSamples`. */
  readonly limit: number;
  /** write() calls. */
  writes = 0;
  /** Samples written past the cap. */
  droppedSamples = 0;
  closed = false;
  private store: Int16Array;
  private length = 0;

  constructor(limit: number) {
    this.limit = limit;
    this.store = new Int16Array(Math.min(limit, 8000));
  }

  write(pcm: Int16Array, off: number, n: number): void {
    this.writes++;
    const room = this.limit - this.length;
    const take = Math.max(0, Math.min(n, room));
    this.droppedSamples += n - take;
    if (take === 0) return;
    if (this.length + take > this.store.length) {
      const grown = new Int16Array(Math.min(this.limit, Math.max(this.store.length * 2, this.length + take)));
      grown.set(this.store.subarray(0, this.length));
      this.store = grown;
    }
    this.store.set(pcm.subarray(off, off + take), this.length);
    this.length += take;
  }

  /** Everything played so far (a copy). */
  recorded(): Int16Array {
    return this.store.slice(0, this.length);
  }

  /** Samples played so far (kept ones). */
  recordedLength(): number {
    return this.length;
  }

  clearRecording(): void {
    this.length = 0;
  }
}

export interface ToneAudioOptions {
  /** One frequency or several summed (e.g. [697, 1209]: the DTMF tone of '1'), Hz. 0 or [] is silence. */
  frequencies: number | number[];
  /** Peak amplitude of the sum, in 16-bit units (default 8000). */
  amplitude?: number;
  sampleRate?: number;
  /** Speaker samples kept (default DEFAULT_RECORD_LIMIT). */
  recordLimit?: number;
}

/** A microphone that hears a steady (multi-)tone, and a speaker that records. */
export class ToneAudio extends RecordingSpeaker implements AudioDevice {
  readonly frequencies: number[];
  readonly amplitude: number;
  readonly sampleRate: number;
  /** Samples the microphone has produced (its phase). */
  position = 0;
  /** While true the microphone captures nothing (read returns 0). */
  muted = false;

  constructor(options: ToneAudioOptions) {
    super(options.recordLimit ?? DEFAULT_RECORD_LIMIT);
    const f = options.frequencies;
    this.frequencies = (typeof f === "number" ? [f] : f.slice()).filter((x) => x > 0);
    this.amplitude = options.amplitude ?? 8000;
    this.sampleRate = options.sampleRate ?? 8000;
  }

  /** Sample number i of the tone. */
  sample(i: number): number {
    const fs = this.frequencies;
    if (fs.length === 0) return 0;
    let v = 0;
    for (const f of fs) v += Math.sin((2 * Math.PI * f * i) / this.sampleRate);
    return Math.round((this.amplitude * v) / fs.length);
  }

  read(pcm: Int16Array, off: number, n: number): number {
    if (this.closed || this.muted) return 0;
    for (let i = 0; i < n; i++) pcm[off + i] = this.sample(this.position + i);
    this.position += n;
    return n;
  }

  close(): void {
    this.closed = true;
  }
}

export interface WavAudioOptions {
  /** The file's bytes: RIFF/WAVE, PCM 16-bit mono (8 kHz for G.711). */
  wav: Uint8Array;
  /** Start again at the end (default false: silence after the end, read returns 0). */
  loop?: boolean;
  /** Required sample rate (default 8000); another rate is an error. */
  sampleRate?: number;
  recordLimit?: number;
}

/** The samples of a 16-bit mono PCM WAV file. Throws on anything else. */
export function parseWav(bytes: Uint8Array): { sampleRate: number; samples: Int16Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (p: number) => String.fromCharCode(bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("parseWav: not a RIFF/WAVE file");
  let p = 12;
  let rate = -1;
  while (p + 8 <= bytes.length) {
    const id = tag(p);
    const size = dv.getUint32(p + 4, true);
    const body = p + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > bytes.length) throw new Error("parseWav: truncated fmt chunk");
      let format = dv.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
      if (format === 0xfffe && size >= 40 && body + 26 <= bytes.length) format = dv.getUint16(body + 24, true);
      const channels = dv.getUint16(body + 2, true);
      rate = dv.getUint32(body + 4, true);
      const bits = dv.getUint16(body + 14, true);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new Error(`parseWav: need PCM 16-bit mono, got format ${format}, ${channels} channels, ${bits} bits`);
      }
    } else if (id === "data") {
      if (rate < 0) throw new Error("parseWav: data chunk before fmt chunk");
      const n = Math.floor(Math.min(size, bytes.length - body) / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = dv.getInt16(body + 2 * i, true);
      return { sampleRate: rate, samples };
    }
    p = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw new Error("parseWav: no data chunk");
}

/** A microphone that plays a WAV file, and a speaker that records. */
export class WavAudio extends RecordingSpeaker implements AudioDevice {
  readonly samples: Int16Array;
  readonly loop: boolean;
  position = 0;

  constructor(options: WavAudioOptions) {
    super(options.recordLimit ?? DEFAULT_RECORD_LIMIT);
    const w = parseWav(options.wav);
    const want = options.sampleRate ?? 8000;
    if (w.sampleRate !== want) throw new Error(`WavAudio: the file is ${w.sampleRate} Hz, need ${want} Hz`);
    this.samples = w.samples;
    this.loop = options.loop ?? false;
  }

  read(pcm: Int16Array, off: number, n: number): number {
    const src = this.samples;
    if (this.closed || src.length === 0) return 0;
    let done = 0;
    while (done < n) {
      if (this.position >= src.length) {
        if (!this.loop) break;
        this.position = 0;
      }
      const take = Math.min(n - done, src.length - this.position);
      pcm.set(src.subarray(this.position, this.position + take), off + done);
      this.position += take;
      done += take;
    }
    // A partial last frame is padded with silence; after the end, nothing is captured.
    if (done > 0 && done < n) pcm.fill(0, off + done, off + n);
    return done > 0 ? n : 0;
  }

  close(): void {
    this.closed = true;
  }
}

/** A RIFF/WAVE file (PCM 16-bit mono) of the samples. */
export function wavBytes(samples: Int16Array, rate = 8000): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const dv = new DataView(out.buffer);
  const put = (p: number, s: string) => { for (let i = 0; i < 4; i++) out[p + i] = s.charCodeAt(i); };
  put(0, "RIFF");
  dv.setUint32(4, 36 + samples.length * 2, true);
  put(8, "WAVE");
  put(12, "fmt ");
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, 1, true); // mono
  dv.setUint32(24, rate, true);
  dv.setUint32(28, rate * 2, true); // byte rate
  dv.setUint16(32, 2, true); // block align
  dv.setUint16(34, 16, true);
  put(36, "data");
  dv.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) dv.setInt16(44 + 2 * i, samples[i], true);
  return out;
}

/**
 * Goertzel: the power of `freq` in samples[start, start+length), normalised so that a sine of
 * amplitude A at that frequency gives about A² (a window of whole periods gives it exactly).
 */
export function goertzelPower(samples: ArrayLike<number>, freq: number, rate = 8000, start = 0, length = samples.length - start): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < start + length; i++) {
    const s = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / ((length * length) / 4);
}

/** Root mean square of samples[start, start+length). */
export function rms(samples: ArrayLike<number>, start = 0, length = samples.length - start): number {
  let sum = 0;
  for (let i = start; i < start + length; i++) sum += samples[i] * samples[i];
  return length > 0 ? Math.sqrt(sum / length) : 0;
}
