/**
 * IsoMessage -> bytes. Validates each character as it is written. Bitmaps are expanded
 * on demand: a secondary only when a field 65-128 is present, a tertiary only for 129-192.
 *
 * Messages are written straight into a shared slab and returned as views of it, the way
 * Node pools small Buffers: no per-message copy. A returned Buffer keeps its slab alive,
 * so a caller that holds one message for long should copy it (Buffer.from(buf)).
 */
import { ALLOWED, REJECT, badCharReason } from './charsets.js';
import type { Dialect } from './dialect.js';
import { LATIN1_TO_EBCDIC } from './ebcdic.js';
import { IsoError, type ErrorSite } from './errors.js';
import { fromHex, type FieldValue, type IsoMessage } from './message.js';
import { Cls, Enc, type CompiledField } from './spec.js';

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 65, 66, 67, 68, 69, 70];
const SLAB_BYTES = 64 * 1024;
/** Below this much room a new message starts on a fresh slab rather than risk a restart. */
const SLAB_RESERVE = 2048;
let out = Buffer.allocUnsafeSlow(SLAB_BYTES);
/** First free byte of the current slab. */
let pos = 0;
let nibs = new Uint8Array(64);
const bitmap = new Uint8Array(24);

/** Thrown (and caught in encode) when a message outgrows the slab's remaining room. */
class SlabFull {
  constructor(readonly need: number) {}
}

/** Slab offset where the message being encoded starts; errors report offsets from it. */
let base = 0;

function err(site: ErrorSite, off: number, reason: string): IsoError {
  return new IsoError(site, off < 0 ? off : off - base, reason);
}

function ensure(need: number): void {
  if (need > out.length) throw new SlabFull(need);
}

export function encode(dialect: Dialect, msg: IsoMessage): Buffer {
  if (out.length - pos < SLAB_RESERVE) newSlab(SLAB_BYTES);
  for (;;) {
    const start = pos;
    try {
      const end = encodeAt(dialect, msg, start);
      pos = (end + 7) & ~7;
      return Buffer.from(out.buffer, out.byteOffset + start, end - start);
    } catch (e) {
      if (!(e instanceof SlabFull)) throw e;
      newSlab(Math.max(SLAB_BYTES, (e.need - start) * 2));
    }
  }
}

function newSlab(bytes: number): void {
  out = Buffer.allocUnsafeSlow(bytes);
  pos = 0;
}

function encodeAt(dialect: Dialect, msg: IsoMessage, start: number): number {
  let off = start;
  base = start;
  if (dialect.tpdu) {
    if (!msg.tpdu || msg.tpdu.length !== 5) throw err('tpdu', off, `dialect ${dialect.name} needs a 5-byte TPDU`);
    ensure(off + 5);
    out.set(msg.tpdu, off);
    off += 5;
  }
  if (dialect.headerLength > 0) {
    const h = msg.header;
    if (!h || h.length !== dialect.headerLength) {
      throw err('header', off, `dialect ${dialect.name} needs a ${dialect.headerLength}-byte header, got ${h ? h.length : 0}`);
    }
    ensure(off + h.length);
    out.set(h, off);
    off += h.length;
  }
  off = writeMti(dialect, msg.mti, off);

  // Which bitmaps are needed decides where the first field starts.
  const values = msg.values;
  const fields = dialect.fields;
  let last = 0;
  for (let n = values.length - 1; n >= 2; n--) {
    if (values[n] !== undefined) { last = n; break; }
  }
  if (last > dialect.maxField) throw err(last, off, `field ${last} is set but dialect ${dialect.name} stops at ${dialect.maxField}`);
  const maps = last > 128 ? 3 : last > 64 ? 2 : 1;
  const mapBytes = dialect.bitmapHex ? 16 : 8;
  const bitmapAt = off;
  ensure(off + maps * mapBytes + 64);
  off += maps * mapBytes;
  const bm = bitmap;
  bm.fill(0);
  if (maps >= 2) bm[0] = 0x80;
  if (maps === 3) bm[8] = 0x80;

  for (let n = 2; n <= last; n++) {
    const v = values[n];
    if (v === undefined) continue;
    const f = fields[n];
    if (f === undefined) {
      if (dialect.isBitmapField(n)) throw err(n, off, `field ${n} is a bitmap in dialect ${dialect.name} and is set automatically`);
      throw err(n, off, `field ${n} is set but dialect ${dialect.name} does not define it`);
    }
    bm[(n - 1) >> 3] |= 0x80 >> ((n - 1) & 7);
    off = encodeField(f, v, off);
  }

  if (dialect.bitmapHex) {
    for (let i = 0; i < maps * 8; i++) {
      out[bitmapAt + 2 * i] = HEX[bm[i] >> 4];
      out[bitmapAt + 2 * i + 1] = HEX[bm[i] & 15];
    }
  } else {
    for (let i = 0; i < maps * 8; i++) out[bitmapAt + i] = bm[i];
  }
  return off;
}

function writeMti(d: Dialect, mti: string, off: number): number {
  if (typeof mti !== 'string' || mti.length !== 4) throw err('mti', off, 'expected 4 digits');
  for (let i = 0; i < 4; i++) {
    const c = mti.charCodeAt(i);
    if (c < 48 || c > 57) throw err('mti', off, 'expected 4 digits');
  }
  if (mti.charCodeAt(0) - 48 !== d.versionDigit) {
    throw err('mti', off, `version digit ${mti[0]} does not match dialect ${d.name} (expects ${d.versionDigit})`);
  }
  ensure(off + 4);
  if (d.mtiEnc === Enc.BCD) {
    out[off] = ((mti.charCodeAt(0) - 48) << 4) | (mti.charCodeAt(1) - 48);
    out[off + 1] = ((mti.charCodeAt(2) - 48) << 4) | (mti.charCodeAt(3) - 48);
    return off + 2;
  }
  const t = d.mtiEnc === Enc.EBCDIC;
  for (let i = 0; i < 4; i++) out[off + i] = t ? LATIN1_TO_EBCDIC[mti.charCodeAt(i)] : mti.charCodeAt(i);
  return off + 4;
}

function unit(f: CompiledField): string {
  return f.cls === Cls.N ? 'digits' : f.cls === Cls.B ? 'bytes' : 'characters';
}

function encodeField(f: CompiledField, v: FieldValue, off: number): number {
  const n = f.num;
  if (f.cls === Cls.B) {
    const bytes = typeof v === 'string' ? fromHex(v, n) : v;
    return writeBytes(f, bytes, off);
  }
  if (typeof v !== 'string') throw err(n, off, 'expected text, got bytes');
  let len = v.length;
  let fillCount = 0;
  if (len > f.max) throw err(n, off, `value too long: ${len} ${unit(f)}, max ${f.max}`);
  if (f.lenDigits === 0 && len < f.max) {
    if (f.fill < 0) throw err(n, off, `expected ${f.max} ${unit(f)}, got ${len}`);
    fillCount = f.max - len;
    len = f.max;
  }
  ensure(off + f.prefixBytes + len + 8);
  if (f.lenDigits !== 0) off = writePrefix(f, len, off);
  if (f.enc === Enc.BCD) return packBcd(f, v, fillCount, off);
  return f.enc === Enc.EBCDIC ? writeEbcdic(f, v, fillCount, off) : writeAscii(f, v, fillCount, off);
}

function textError(f: CompiledField, c: number, off: number): IsoError {
  return err(f.num, off, c > 255 ? 'non-ASCII character in text field' : badCharReason(f.cls, c));
}

/**
 * The hot path: copy each character, OR-ing its rejection flag (and any bits above
 * Latin-1) into one accumulator. Only a rejected value pays for a second, precise pass.
 */
function writeAscii(f: CompiledField, v: string, fillCount: number, off: number): number {
  const o = out;
  const reject = REJECT[f.cls];
  const fillLeft = f.fillLeft ? fillCount : 0;
  for (let k = 0; k < fillLeft; k++) o[off++] = f.fill;
  let i = 0;
  if (f.cls === Cls.XN && v.length > 0) {
    const c = v.charCodeAt(0);
    if (c !== 67 && c !== 68) throw err(f.num, off, 'amount sign must be C or D');
    o[off++] = c;
    i = 1;
  }
  const at = off;
  let bad = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    bad |= reject[c & 255] | (c >> 8);
    o[off++] = c;
  }
  if (bad !== 0) throw firstBadChar(f, v, at - (f.cls === Cls.XN ? 1 : 0));
  for (let k = fillLeft; k < fillCount; k++) o[off++] = f.fill;
  return off;
}

function firstBadChar(f: CompiledField, v: string, at: number): IsoError {
  const allowed = ALLOWED[f.cls];
  for (let i = f.cls === Cls.XN ? 1 : 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 255 || allowed[c] !== 1) return textError(f, c, at + i);
  }
  return err(f.num, at, 'invalid character');
}

function writeEbcdic(f: CompiledField, v: string, fillCount: number, off: number): number {
  const o = out;
  const allowed = ALLOWED[f.cls];
  const fillLeft = f.fillLeft ? fillCount : 0;
  for (let k = 0; k < fillLeft; k++) o[off++] = LATIN1_TO_EBCDIC[f.fill];
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (f.cls === Cls.XN && i === 0) {
      if (c !== 67 && c !== 68) throw err(f.num, off, 'amount sign must be C or D');
    } else if (allowed[c] !== 1) {
      throw textError(f, c, off);
    }
    o[off++] = LATIN1_TO_EBCDIC[c];
  }
  for (let k = fillLeft; k < fillCount; k++) o[off++] = LATIN1_TO_EBCDIC[f.fill];
  return off;
}

function writeBytes(f: CompiledField, b: Uint8Array, off: number): number {
  const len = b.length;
  if (len > f.max) throw err(f.num, off, `value too long: ${len} bytes, max ${f.max}`);
  if (f.lenDigits === 0 && len !== f.max) throw err(f.num, off, `expected ${f.max} bytes, got ${len}`);
  ensure(off + f.prefixBytes + len * 2 + 8);
  if (f.lenDigits !== 0) off = writePrefix(f, len, off);
  if (f.enc === Enc.HEX) {
    for (let i = 0; i < len; i++) {
      out[off++] = HEX[b[i] >> 4];
      out[off++] = HEX[b[i] & 15];
    }
    return off;
  }
  out.set(b, off);
  return off + len;
}

function writePrefix(f: CompiledField, len: number, off: number): number {
  switch (f.prefixEnc) {
    case Enc.ASCII:
    case Enc.EBCDIC: {
      for (let i = f.prefixBytes - 1, x = len; i >= 0; i--, x = (x / 10) | 0) {
        const c = 48 + (x % 10);
        out[off + i] = f.prefixEnc === Enc.EBCDIC ? LATIN1_TO_EBCDIC[c] : c;
      }
      return off + f.prefixBytes;
    }
    case Enc.BCD:
      if (f.prefixBytes === 1) {
        out[off] = (((len / 10) | 0) << 4) | (len % 10);
      } else {
        const hi = (len / 100) | 0;
        const lo = len % 100;
        out[off] = (((hi / 10) | 0) << 4) | (hi % 10);
        out[off + 1] = (((lo / 10) | 0) << 4) | (lo % 10);
      }
      return off + f.prefixBytes;
    default:
      if (f.prefixBytes === 1) out[off] = len;
      else { out[off] = len >> 8; out[off + 1] = len & 255; }
      return off + f.prefixBytes;
  }
}

/** Text digits -> BCD, with `zeros` leading fill digits and the pad nibble where the spec puts it. */
function packBcd(f: CompiledField, v: string, zeros: number, off: number): number {
  const n = f.num;
  let i = 0;
  if (f.cls === Cls.XN && v.length > 0) {
    const c = v.charCodeAt(0);
    if (c !== 67 && c !== 68) throw err(n, off, 'amount sign must be C or D');
    out[off++] = c;
    i = 1;
  }
  const digits = zeros + v.length - i;
  const odd = digits & 1;
  if (nibs.length < digits + 1) nibs = new Uint8Array(digits * 2);
  let k = 0;
  if (odd && f.padFirst) nibs[k++] = f.padNibble;
  for (let z = 0; z < zeros; z++) nibs[k++] = 0;
  const track = f.cls === Cls.Z;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    let d = c - 48;
    if (d < 0 || d > 9) {
      if (track && (c === 68 || c === 61)) d = 13;
      else throw err(n, off + (k >> 1), c > 127 ? 'non-ASCII character in numeric field' : track ? 'track character is not a digit or separator' : 'non-digit in numeric field');
    }
    nibs[k++] = d;
  }
  if (odd && !f.padFirst) nibs[k++] = f.padNibble;
  for (let j = 0; j < k; j += 2) out[off + (j >> 1)] = (nibs[j] << 4) | nibs[j + 1];
  return off + (k >> 1);
}
