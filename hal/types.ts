// Hardware abstraction contract: the small platform interfaces firmware uses (Espruino on a board, Node in the simulator).
//
// Style (ECMA-419): objects are made from an options object; data arrives through callbacks given at
// construction; failures are HAL error codes (hal/errors.ts), never platform exception objects.
// Received data is a binary string (one char per byte): what Espruino's dgram delivers and what
// sip-core parses. Data to send is bytes in a caller-owned buffer plus a length (the stack's writer).

/** Monotonic milliseconds; never goes backwards, unrelated to wall-clock time. */
export interface Clock {
  now(): number;
}

/**
 * One alarm, re-armed by its owner: the stack computes its next deadline and asks for a wake-up then.
 * No closure is created per timer or per retransmission; the callback is given once, at creation.
 */
export interface Alarm {
  /** Wake at monotonic time `at` (ms); replaces any earlier request. */
  set(at: number): void;
  cancel(): void;
}
export interface AlarmOptions {
  onAlarm: () => void;
}

/** 32-bit random numbers for branches, tags, Call-IDs and cnonces (a seeded generator in the simulator). */
export interface Random {
  u32(): number;
}

export const LOG_ERROR = 0;
export const LOG_WARN = 1;
export const LOG_INFO = 2;
export const LOG_DEBUG = 3;

export interface Log {
  level: number;
  write(level: number, msg: string): void;
}

export interface UdpOptions {
  /** Local port; 0 picks one. */
  port: number;
  /** Local address to bind; the platform default when absent. */
  address?: string;
  /** A datagram arrived: its bytes as a binary string, and where it came from. */
  onMessage: (data: string, address: string, port: number) => void;
  onError?: (code: number) => void;
}

export interface UdpSocket {
  /** The bound local port (known once bound). */
  readonly port: number;
  /** Sends data[0, length) to address:port. Returns 0, or a negative HAL error code. */
  send(data: Uint8Array, length: number, address: string, port: number): number;
  close(): void;
}

export interface TcpOptions {
  address: string;
  port: number;
  onConnect?: () => void;
  /** Bytes arrived, as a binary string (stream: a message may span several calls). */
  onData: (data: string) => void;
  onClose?: (code: number) => void;
}

export interface TcpConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  send(data: Uint8Array, length: number): number;
  close(): void;
}

export interface TcpListenOptions {
  port: number;
  address?: string;
  /** A peer connected; return the callbacks for its data. */
  onConnection: (conn: TcpConnection) => { onData: (data: string) => void; onClose?: (code: number) => void };
}

export interface TcpServer {
  readonly port: number;
  close(): void;
}

/** Everything firmware needs from a platform, created once at boot. */
export interface Platform {
  /** A native SHA-256 (binary string in, lowercase hex out), when the platform has one; sip-core's otherwise. */
  sha256Hex?: (data: string) => string;
  clock: Clock;
  random: Random;
  log: Log;
  createAlarm(options: AlarmOptions): Alarm;
  openUdp(options: UdpOptions): UdpSocket | number;
  connectTcp(options: TcpOptions): TcpConnection | number;
  listenTcp(options: TcpListenOptions): TcpServer | number;
}

// ---------------------------------------------------------------------------------------------------
// The board: GPIO (door relay, LEDs, call button) and audio. Separate from Platform: the same network
// platform serves boards with different wiring, and the simulator gives each device a virtual board.

export interface DigitalOutputOptions {
  /** Board pin (a number, or a name such as "D4" on Espruino). */
  pin: number | string;
  /** The electrical level that means "on" is low (relay modules often are). */
  activeLow?: boolean;
}

/** A digital output: the door relay or an LED. Starts off. */
export interface DigitalOutput {
  write(on: boolean): void;
  /** The level last written ("on" = true). */
  read(): boolean;
  close(): void;
}

export interface DigitalInputOptions {
  pin: number | string;
  /** The pressed level is low (a button to ground with a pull-up). */
  activeLow?: boolean;
  /** Ignore changes shorter than this, ms (contact bounce). */
  debounce?: number;
  /** The debounced level changed ("on" = pressed). */
  onChange: (on: boolean) => void;
}

export interface DigitalInput {
  read(): boolean;
  close(): void;
}

export interface AudioOptions {
  /** Samples per second; 8000 for G.711. */
  sampleRate: number;
}

/**
 * The speaker and microphone as 16-bit mono PCM. The media session pulls one frame from the
 * microphone and pushes one frame to the speaker every packet time; neither call blocks.
 */
export interface AudioDevice {
  /** Fills pcm[off, off+n) with microphone samples; returns how many were written (0: nothing captured). */
  read(pcm: Int16Array, off: number, n: number): number;
  /** Plays pcm[off, off+n). */
  write(pcm: Int16Array, off: number, n: number): void;
  close(): void;
}

/** The device's wiring. Each open* returns the object or a negative HAL error (HAL_ERR_UNSUPPORTED when absent). */
export interface Board {
  openOutput(options: DigitalOutputOptions): DigitalOutput | number;
  openInput(options: DigitalInputOptions): DigitalInput | number;
  openAudio(options: AudioOptions): AudioDevice | number;
}

// ---------------------------------------------------------------------------------------------------
// Storage: small named files (the configuration, the door audit). Espruino: the Storage module in flash;
// the simulator: files in a folder.

export interface Storage {
  /** The file's contents as a (binary) string, or null when there is none. */
  read(name: string): string | null;
  /** Replaces the file. Returns 0, or a negative HAL error (HAL_ERR_NO_RESOURCES when full). */
  write(name: string, data: string): number;
  erase(name: string): void;
}

// ---------------------------------------------------------------------------------------------------
// The IP network link (Wi-Fi or Ethernet): brought up at boot, watched for loss.

export interface NetworkOptions {
  /** Wi-Fi credentials (ignored by wired links and the simulator). */
  ssid: string;
  password: string;
  /** The link is up with this address (again after a loss). */
  onUp: (address: string) => void;
  /** The link went down (the stack re-registers when it is back). */
  onDown: () => void;
}

export interface NetworkLink {
  /** Starts connecting; onUp/onDown report. Returns 0 or a negative HAL error. */
  connect(options: NetworkOptions): number;
  /** The current address, "" while down. */
  address(): string;
}
