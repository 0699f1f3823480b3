/**
 * Length-prefix framing: how ISO 8583 message bodies are delimited on a TCP stream.
 * Every network has its own prefix (binary, ASCII, BCD, self-inclusive, Visa's VAP
 * header), so the prefix is a small strategy object and the stream splitter is shared.
 */
import { IsoError } from './errors.js';

export const FRAMINGS = ['len2', 'len4a', 'len2bcd', 'len4', 'len2incl', 'vap', 'none'] as const;
export type FramingName = (typeof FRAMINGS)[number];
export const DEFAULT_FRAMING: FramingName = 'len2';

export interface Framing {
  readonly name: FramingName;
  readonly prefixBytes: number;
  /** Body length from the prefix at buf[off..]; throws IsoError. */
  readLength(buf: Uint8Array, off: number): number;
  /** Throws IsoError when bodyLength cannot be expressed by this prefix. */
  writePrefix(buf: Uint8Array, off: number, bodyLength: number): void;
  readonly maxBody: number;
}

/**
 * Wraps the raw prefix codecs so that each only handles its own encoding: bounds and
 * range checks live here once, which keeps a short buffer from silently decoding
 * `undefined` bytes as NaN.
 */
function define(
  name: FramingName,
  prefixBytes: number,
  maxBody: number,
  read: (b: Uint8Array, o: number) => number,
  write: (b: Uint8Array, o: number, n: number) => void,
): Framing {
  return Object.freeze({
    name,
    prefixBytes,
    maxBody,
    readLength(buf: Uint8Array, off: number): number {
      if (!(off >= 0) || buf.length - off < prefixBytes) {
        const have = Math.max(0, buf.length - Math.max(0, off));
        throw new IsoError('frame', off, `truncated length prefix: need ${prefixBytes} bytes, have ${have}`);
      }
      return read(buf, off);
    },
    writePrefix(buf: Uint8Array, off: number, bodyLength: number): void {
      checkBodyLength(name, maxBody, bodyLength, off);
      if (!(off >= 0) || buf.length - off < prefixBytes) {
        throw new IsoError('frame', off, `no room for a ${prefixBytes}-byte length prefix`);
      }
      write(buf, off, bodyLength);
    },
  });
}

function checkBodyLength(name: FramingName, maxBody: number, n: number, off: number): void {
  if (!Number.isInteger(n) || n < 0) throw new IsoError('frame', off, `invalid body length ${n}`);
  if (n > maxBody) throw new IsoError('frame', off, `body length ${n} exceeds max ${maxBody} for framing ${name}`);
}

const hex = (b: number): string => '0x' + b.toString(16).padStart(2, '0');
const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
function putU16(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 8;
  b[o + 1] = n & 0xff;
}

const len2 = define('len2', 2, 0xffff, u16, putU16);

const len4 = define(
  'len4', 4, 0xffffffff,
  // `>>> 0` because `<<` yields a signed 32-bit result once the top bit is set.
  (b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0,
  (b, o, n) => {
    b[o] = n >>> 24;
    b[o + 1] = (n >>> 16) & 0xff;
    b[o + 2] = (n >>> 8) & 0xff;
    b[o + 3] = n & 0xff;
  },
);

const len4a = define(
  'len4a', 4, 9999,
  (b, o) => {
    let n = 0;
    for (let i = 0; i < 4; i++) {
      const d = b[o + i] - 0x30;
      if (d < 0 || d > 9) throw new IsoError('frame', o + i, `non-numeric length prefix byte ${hex(b[o + i])}`);
      n = n * 10 + d;
    }
    return n;
  },
  (b, o, n) => {
    let v = n;
    for (let i = 3; i >= 0; i--) {
      b[o + i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  },
);

const len2bcd = define(
  'len2bcd', 2, 9999,
  (b, o) => {
    let n = 0;
    for (let i = 0; i < 2; i++) {
      const hi = b[o + i] >> 4;
      const lo = b[o + i] & 0x0f;
      if (hi > 9 || lo > 9) throw new IsoError('frame', o + i, `invalid BCD length prefix byte ${hex(b[o + i])}`);
      n = n * 100 + hi * 10 + lo;
    }
    return n;
  },
  (b, o, n) => {
    const hi = Math.floor(n / 100);
    const lo = n % 100;
    b[o] = (Math.floor(hi / 10) << 4) | (hi % 10);
    b[o + 1] = (Math.floor(lo / 10) << 4) | (lo % 10);
  },
);

// Amex counts the prefix itself, so the body can be at most 2 bytes short of 0xffff.
const len2incl = define(
  'len2incl', 2, 0xffff - 2,
  (b, o) => {
    const v = u16(b, o);
    if (v < 2) throw new IsoError('frame', o, `length prefix ${v} is less than its own 2 bytes`);
    return v - 2;
  },
  (b, o, n) => putU16(b, o, n + 2),
);

// Visa VAP: 2-byte length then 2 reserved bytes; non-zero reserved bytes mean we are
// not reading a VAP header at all (wrong framing configured or the stream is out of sync).
const vap = define(
  'vap', 4, 0xffff,
  (b, o) => {
    if (b[o + 2] !== 0 || b[o + 3] !== 0) {
      throw new IsoError('frame', o + 2, `VAP header reserved bytes must be zero, got ${hex(b[o + 2])} ${hex(b[o + 3])}`);
    }
    return u16(b, o);
  },
  (b, o, n) => {
    putU16(b, o, n);
    b[o + 2] = 0;
    b[o + 3] = 0;
  },
);

const none = define(
  'none', 0, Number.MAX_SAFE_INTEGER,
  () => {
    throw new IsoError('frame', -1, 'framing none has no length prefix');
  },
  () => {},
);

const BY_NAME: ReadonlyMap<string, Framing> = new Map(
  [len2, len4a, len2bcd, len4, len2incl, vap, none].map((f) => [f.name, f]),
);

export function getFraming(name: string): Framing {
  const f = BY_NAME.get(name);
  if (f === undefined) {
    throw new IsoError('frame', -1, `unknown framing "${name}"; expected one of ${FRAMINGS.join(', ')}`);
  }
  return f;
}

function resolve(framing: Framing | FramingName): Framing {
  return typeof framing === 'string' ? getFraming(framing) : framing;
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Prefix + body in one allocation, ready for a single socket write. */
export function frame(framing: Framing | FramingName, body: Uint8Array): Buffer {
  const f = resolve(framing);
  if (f.prefixBytes === 0) return view(body);
  // Checked before allocating so an oversized body never costs a huge buffer.
  checkBodyLength(f.name, f.maxBody, body.length, 0);
  const out = Buffer.allocUnsafe(f.prefixBytes + body.length);
  f.writePrefix(out, 0, body.length);
  out.set(body, f.prefixBytes);
  return out;
}

/** Exactly one complete frame -> its body, as a subarray of `bytes` (no copy). */
export function unframe(framing: Framing | FramingName, bytes: Uint8Array): Buffer {
  const f = resolve(framing);
  const p = f.prefixBytes;
  if (p === 0) return view(bytes);
  const len = f.readLength(bytes, 0);
  const have = bytes.length - p;
  if (have < len) {
    throw new IsoError('frame', bytes.length, `truncated frame: prefix declares ${len} body bytes, got ${have}`);
  }
  if (have > len) {
    throw new IsoError('frame', p + len, `trailing bytes: prefix declares ${len} body bytes, got ${have}`);
  }
  return view(bytes).subarray(p, p + len);
}

export interface FrameReaderOptions {
  /** Max body bytes; a larger declared length poisons the reader. Default 8192. */
  maxFrame?: number;
  onFrame: (body: Buffer) => void;
  /** Zero-length frames are keep-alives and never reach onFrame. */
  onKeepAlive?: () => void;
}

/**
 * Splits a TCP byte stream into message bodies.
 *
 * Buffer lifetime: a body lying wholly inside one pushed chunk is delivered as a
 * subarray of that chunk. Node never reuses a socket's data chunk, so such a body stays
 * valid after onFrame returns, as long as the caller itself does not mutate the chunks
 * it pushes. A body that straddles chunks is assembled into a Buffer allocated for that
 * body alone and handed over; the reader keeps no reference to it. Only the prefix
 * scratch space is reused, and no body ever aliases it.
 *
 * Errors: a bad or oversized length prefix means the stream is out of sync with no way
 * to resynchronise, so the reader is poisoned and every later push() rethrows the same
 * error until reset(); the caller is expected to close the connection.
 */
export class FrameReader {
  private readonly framing: Framing;
  private readonly maxFrame: number;
  private readonly onFrame: (body: Buffer) => void;
  private readonly onKeepAlive: (() => void) | undefined;
  private readonly prefix: Buffer;
  /** Prefix bytes gathered so far of a prefix that straddles chunks. */
  private held = 0;
  /** Body under assembly; null when between frames or still reading the prefix. */
  private body: Buffer | null = null;
  private filled = 0;
  /** Unparsed tail of a chunk whose processing was cut short by a throwing callback. */
  private leftover: Buffer | null = null;
  /** Stream offset of the first byte of the chunk being parsed. */
  private offset = 0;
  private poison: IsoError | null = null;

  constructor(framing: Framing | FramingName, opts: FrameReaderOptions) {
    const f = resolve(framing);
    if (f.prefixBytes === 0) throw new IsoError('frame', -1, `framing ${f.name} cannot split a stream`);
    const maxFrame = opts.maxFrame ?? 8192;
    if (!Number.isInteger(maxFrame) || maxFrame < 0) throw new IsoError('frame', -1, `invalid maxFrame ${maxFrame}`);
    this.framing = f;
    this.maxFrame = maxFrame;
    this.onFrame = opts.onFrame;
    this.onKeepAlive = opts.onKeepAlive;
    this.prefix = Buffer.alloc(f.prefixBytes);
  }

  /** Bytes received that belong to frames not yet delivered. */
  get pending(): number {
    return this.held + (this.body === null ? 0 : this.framing.prefixBytes + this.filled) + (this.leftover?.length ?? 0);
  }

  /** Drops any partial frame and the poisoned state; the stream offset restarts at 0. */
  reset(): void {
    this.held = 0;
    this.body = null;
    this.filled = 0;
    this.leftover = null;
    this.offset = 0;
    this.poison = null;
  }

  push(chunk: Buffer): void {
    if (this.poison !== null) throw this.poison;
    if (this.leftover !== null) {
      // Only reached after onFrame threw mid-chunk: rare enough that a copy is fine.
      chunk = Buffer.concat([this.leftover, chunk]);
      this.leftover = null;
    }
    const end = chunk.length;
    const p = this.framing.prefixBytes;
    let pos = 0;
    try {
      while (pos < end) {
        if (this.body === null) {
          let len: number;
          if (this.held === 0 && end - pos >= p) {
            len = this.readLength(chunk, pos, pos);
            pos += p;
          } else {
            const n = Math.min(p - this.held, end - pos);
            chunk.copy(this.prefix, this.held, pos, pos + n);
            this.held += n;
            pos += n;
            if (this.held < p) break;
            this.held = 0;
            len = this.readLength(this.prefix, 0, pos - p);
          }
          if (len === 0) {
            this.onKeepAlive?.();
            continue;
          }
          if (end - pos >= len) {
            const body = chunk.subarray(pos, pos + len);
            pos += len;
            this.onFrame(body);
            continue;
          }
          this.body = Buffer.allocUnsafe(len);
          this.filled = 0;
        }
        const n = Math.min(this.body.length - this.filled, end - pos);
        chunk.copy(this.body, this.filled, pos, pos + n);
        this.filled += n;
        pos += n;
        if (this.filled === this.body.length) {
          const body = this.body;
          this.body = null;
          this.onFrame(body);
        }
      }
    } finally {
      // pos < end only when a callback threw: the delivered frame is consumed, the rest
      // of the chunk is kept so the next push() carries on in sync.
      if (pos < end && this.poison === null) this.leftover = chunk.subarray(pos);
      this.offset += pos;
    }
  }

  /**
   * Reads and vets a length. `at` is the position in the chunk matching `off` in `buf`
   * (they differ when the prefix was assembled in scratch space), so errors can carry
   * a stream offset rather than an offset into some internal buffer.
   */
  private readLength(buf: Uint8Array, off: number, at: number): number {
    const start = this.offset + at;
    let len: number;
    try {
      len = this.framing.readLength(buf, off);
    } catch (e) {
      if (!(e instanceof IsoError)) throw e;
      throw (this.poison = new IsoError('frame', start + Math.max(0, e.offset - off), e.reason));
    }
    if (len > this.maxFrame) {
      throw (this.poison = new IsoError('frame', start, `frame length ${len} exceeds max ${this.maxFrame}`));
    }
    return len;
  }
}
