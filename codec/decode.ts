/**
 * Bytes -> IsoMessage. Strict: truncation, trailing bytes, bad prefixes, unknown
 * fields and bad characters are all IsoErrors naming the field and byte offset.
 *
 * Speed comes from reading the whole body as one Latin-1 string up front: ASCII fields
 * are then substrings (no native call per field), and validation is a table lookup per
 * character. BCD and EBCDIC fields are unpacked into a scratch buffer first.
 */
import { ALLOWED, REJECT, badCharReason } from './charsets.js';
import type { Dialect } from './dialect.js';
import { EBCDIC_TO_LATIN1 } from './ebcdic.js';
import { IsoError } from './errors.js';
import { hexNibble, IsoMessage } from './message.js';
import { Cls, Enc, type CompiledField } from './spec.js';

interface Latin1Buffer extends Buffer { latin1Slice(start: number, end: number): string }

const bitmap = new Uint8Array(24);
let scratch = Buffer.allocUnsafe(1024) as Latin1Buffer;

/**
 * Binary values are copied out: the caller may reuse its input buffer, and a message
 * held in a queue must not change under it. (Buffer#slice would be a view.)
 */
function copyOf(buf: Buffer, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  buf.copy(out, 0, from, to);
  return out;
}

function asBuffer(b: Uint8Array): Latin1Buffer {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)) as Latin1Buffer;
}

function unitName(f: CompiledField, n: number): string {
  const plural = n === 1 ? '' : 's';
  switch (f.cls) {
    case Cls.N: return `digit${plural}`;
    case Cls.B: return `byte${plural}`;
    default: return `character${plural}`;
  }
}

/** Bytes a value of `len` units takes on the wire. */
function wireBytes(f: CompiledField, len: number): number {
  switch (f.enc) {
    case Enc.BCD: return f.cls === Cls.XN && len > 0 ? 1 + (len >> 1) : (len + 1) >> 1;
    case Enc.HEX: return len * 2;
    default: return len;
  }
}

/** Bytes -> IsoMessage, strictly validated (see the top of this file). */
export function decode(dialect: Dialect, bytes: Uint8Array): IsoMessage {
  const msg = new IsoMessage();
  decodeInto(dialect, asBuffer(bytes), msg);
  return msg;
}

/**
 * Decodes as far as the bytes allow: the message holds every field read before the
 * first error. A switch uses it to answer a malformed request with a reject (F39 30)
 * when the MTI and key fields were readable, instead of just dropping the connection.
 */
export function decodePartial(dialect: Dialect, bytes: Uint8Array): { msg: IsoMessage; error: IsoError | null } {
  const msg = new IsoMessage();
  try {
    decodeInto(dialect, asBuffer(bytes), msg);
    return { msg, error: null };
  } catch (e) {
    if (e instanceof IsoError) return { msg, error: e };
    throw e;
  }
}

function decodeInto(dialect: Dialect, buf: Latin1Buffer, msg: IsoMessage): void {
  const end = buf.length;
  let off = 0;

  if (dialect.tpdu) {
    if (end < 5) throw new IsoError('tpdu', 0, `expected 5 bytes, got ${end}`);
    msg.tpdu = copyOf(buf, 0, 5);
    off = 5;
  }
  if (dialect.headerLength > 0) {
    if (end - off < dialect.headerLength) throw new IsoError('header', off, `expected ${dialect.headerLength} bytes, got ${end - off}`);
    msg.header = copyOf(buf, off, off + dialect.headerLength);
    off += dialect.headerLength;
  }

  const str = buf.latin1Slice(0, end);
  off = readMti(dialect, buf, str, off, msg);

  // Bitmaps: primary, secondary on bit 1, tertiary on bit 65 where the dialect has one.
  let maps = 1;
  off = readBitmap(dialect, buf, str, off, 0);
  if (bitmap[0] & 0x80) {
    off = readBitmap(dialect, buf, str, off, 1);
    maps = 2;
    if (dialect.tertiary && bitmap[8] & 0x80) {
      off = readBitmap(dialect, buf, str, off, 2);
      maps = 3;
    }
  }

  const fields = dialect.fields;
  const values = msg.values;
  const nBytes = maps * 8;
  for (let i = 0; i < nBytes; i++) {
    const b = bitmap[i];
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((b & (0x80 >> bit)) === 0) continue;
      const n = i * 8 + bit + 1;
      if (n === 1 || (n === 65 && maps === 3)) continue;
      const f = fields[n];
      if (f === undefined) {
        throw new IsoError(n, off, `bitmap announces field ${n}, which dialect ${dialect.name} does not define`);
      }
      off = decodeField(f, buf, str, off, values);
    }
  }
  if (off !== end) throw new IsoError('message', off, `${end - off} trailing byte${end - off === 1 ? '' : 's'} after the last field`);
}

function readMti(d: Dialect, buf: Latin1Buffer, str: string, off: number, msg: IsoMessage): number {
  let mti: string;
  if (d.mtiEnc === Enc.BCD) {
    if (buf.length - off < 2) throw new IsoError('mti', off, `expected 2 bytes, got ${buf.length - off}`);
    const a = buf[off], b = buf[off + 1];
    if ((a >> 4) > 9 || (a & 15) > 9 || (b >> 4) > 9 || (b & 15) > 9) throw new IsoError('mti', off, 'non-BCD nibble');
    mti = String.fromCharCode(48 + (a >> 4), 48 + (a & 15), 48 + (b >> 4), 48 + (b & 15));
    off += 2;
  } else {
    if (buf.length - off < 4) throw new IsoError('mti', off, `expected 4 digits, got ${buf.length - off} bytes`);
    if (d.mtiEnc === Enc.EBCDIC) {
      mti = '';
      for (let i = 0; i < 4; i++) {
        const c = EBCDIC_TO_LATIN1[buf[off + i]];
        if (c < 48 || c > 57) throw new IsoError('mti', off + i, 'non-digit');
        mti += String.fromCharCode(c);
      }
    } else {
      for (let i = 0; i < 4; i++) {
        const c = str.charCodeAt(off + i);
        if (c < 48 || c > 57) throw new IsoError('mti', off + i, c > 127 ? 'non-ASCII byte' : 'non-digit');
      }
      mti = str.slice(off, off + 4);
    }
    off += 4;
  }
  if (mti.charCodeAt(0) - 48 !== d.versionDigit) {
    throw new IsoError('mti', off - (d.mtiEnc === Enc.BCD ? 2 : 4), `version digit ${mti[0]} does not match dialect ${d.name} (expects ${d.versionDigit})`);
  }
  msg.mti = mti;
  return off;
}

function readBitmap(d: Dialect, buf: Latin1Buffer, str: string, off: number, which: number): number {
  const name = which === 0 ? 'primary' : which === 1 ? 'secondary' : 'tertiary';
  const base = which * 8;
  if (d.bitmapHex) {
    if (buf.length - off < 16) throw new IsoError('bitmap', off, `${name} bitmap: expected 16 hex characters, got ${buf.length - off} bytes`);
    for (let i = 0; i < 8; i++) {
      const hi = hexNibble(str.charCodeAt(off + 2 * i));
      const lo = hexNibble(str.charCodeAt(off + 2 * i + 1));
      if (hi < 0 || lo < 0) throw new IsoError('bitmap', off + 2 * i + (hi < 0 ? 0 : 1), `${name} bitmap: non-hex character`);
      bitmap[base + i] = (hi << 4) | lo;
    }
    return off + 16;
  }
  if (buf.length - off < 8) throw new IsoError('bitmap', off, `${name} bitmap: expected 8 bytes, got ${buf.length - off}`);
  for (let i = 0; i < 8; i++) bitmap[base + i] = buf[off + i];
  return off + 8;
}

function readPrefix(f: CompiledField, buf: Latin1Buffer, off: number): number {
  const n = f.num;
  if (buf.length - off < f.prefixBytes) {
    throw new IsoError(n, off, `expected a ${f.prefixBytes}-byte length prefix, got ${buf.length - off} bytes`);
  }
  let len = 0;
  switch (f.prefixEnc) {
    case Enc.ASCII:
    case Enc.EBCDIC:
      for (let i = 0; i < f.prefixBytes; i++) {
        const c = f.prefixEnc === Enc.ASCII ? buf[off + i] : EBCDIC_TO_LATIN1[buf[off + i]];
        if (c < 48 || c > 57) throw new IsoError(n, off, 'non-numeric length prefix');
        len = len * 10 + (c - 48);
      }
      return len;
    case Enc.BCD:
      for (let i = 0; i < f.prefixBytes; i++) {
        const b = buf[off + i];
        if ((b >> 4) > 9 || (b & 15) > 9) throw new IsoError(n, off, 'non-numeric (non-BCD) length prefix');
        len = len * 100 + (b >> 4) * 10 + (b & 15);
      }
      return len;
    default:
      return f.prefixBytes === 1 ? buf[off] : (buf[off] << 8) | buf[off + 1];
  }
}

function decodeField(f: CompiledField, buf: Latin1Buffer, str: string, off: number, values: (string | Uint8Array | undefined)[]): number {
  const n = f.num;
  let len = f.max;
  if (f.lenDigits !== 0) {
    len = readPrefix(f, buf, off);
    if (len > f.max) throw new IsoError(n, off, `length ${len} exceeds max ${f.max}`);
    off += f.prefixBytes;
  }
  const size = wireBytes(f, len);
  if (buf.length - off < size) {
    throw new IsoError(n, off, `expected ${len} ${unitName(f, len)}${size !== len ? ` (${size} bytes)` : ''}, got ${buf.length - off} bytes`);
  }
  const stop = off + size;
  switch (f.enc) {
    case Enc.ASCII: {
      checkAscii(f, buf, off, stop);
      values[n] = str.slice(off, stop);
      return stop;
    }
    case Enc.BINARY:
      values[n] = copyOf(buf, off, stop);
      return stop;
    case Enc.HEX: {
      const out = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) {
        const hi = hexNibble(buf[off + 2 * i]);
        const lo = hexNibble(buf[off + 2 * i + 1]);
        if (hi < 0 || lo < 0) throw new IsoError(n, off + 2 * i, 'non-hex character in binary field');
        out[i] = (hi << 4) | lo;
      }
      values[n] = out;
      return stop;
    }
    case Enc.EBCDIC: {
      const s = ensureScratch(len);
      for (let i = 0; i < len; i++) s[i] = EBCDIC_TO_LATIN1[buf[off + i]];
      const text = s.latin1Slice(0, len);
      checkText(f, text, 0, len, off);
      values[n] = text;
      return stop;
    }
    default:
      values[n] = unpackBcd(f, buf, off, len);
      return stop;
  }
}

/** Validates bytes [from, to) of an ASCII field: the hot path, so reading bytes, not chars. */
function checkAscii(f: CompiledField, buf: Buffer, from: number, to: number): void {
  const reject = REJECT[f.cls];
  let i = from;
  if (f.cls === Cls.XN && to > from) {
    const c = buf[i];
    if (c !== 67 && c !== 68) throw new IsoError(f.num, i, 'amount sign must be C or D');
    i++;
  }
  let bad = 0;
  for (let k = i; k < to; k++) bad |= reject[buf[k]];
  if (bad === 0) return;
  for (let k = i; k < to; k++) {
    if (reject[buf[k]] !== 0) throw new IsoError(f.num, k, badCharReason(f.cls, buf[k]));
  }
}

/** Validates characters [from, to) of `s`; `base` maps string positions to input offsets. */
function checkText(f: CompiledField, s: string, from: number, to: number, base = 0): void {
  const allowed = ALLOWED[f.cls];
  let i = from;
  if (f.cls === Cls.XN && to > from) {
    const c = s.charCodeAt(i);
    if (c !== 67 && c !== 68) throw new IsoError(f.num, base + i, 'amount sign must be C or D');
    i++;
  }
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (allowed[c] !== 1) throw new IsoError(f.num, base + i, badCharReason(f.cls, c));
  }
}

function ensureScratch(n: number): Latin1Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2)) as Latin1Buffer;
  return scratch;
}

/** BCD digits -> text. A pad nibble (0 or F, whichever the sender used) is dropped. */
function unpackBcd(f: CompiledField, buf: Latin1Buffer, off: number, len: number): string {
  const s = ensureScratch(len);
  let digits = len;
  let pos = 0;
  let p = off;
  if (f.cls === Cls.XN && len > 0) {
    const sign = buf[p];
    if (sign !== 67 && sign !== 68) throw new IsoError(f.num, p, 'amount sign must be C or D');
    s[pos++] = sign;
    p++;
    digits--;
  }
  const odd = digits & 1;
  let skipFirst = odd === 1 && f.padFirst;
  const nibbles = digits + odd;
  const track = f.cls === Cls.Z;
  for (let k = 0; k < nibbles; k++) {
    const b = buf[p + (k >> 1)];
    const v = (k & 1) === 0 ? b >> 4 : b & 15;
    if (skipFirst) {
      skipFirst = false;
      if (v !== 0 && v !== 15) throw new IsoError(f.num, p, 'pad nibble must be 0 or F');
      continue;
    }
    if (pos - (f.cls === Cls.XN ? 1 : 0) === digits) {
      if (v !== 0 && v !== 15) throw new IsoError(f.num, p + (k >> 1), 'pad nibble must be 0 or F');
      continue;
    }
    if (v <= 9) s[pos++] = 48 + v;
    else if (track && v === 13) s[pos++] = 68;
    else throw new IsoError(f.num, p + (k >> 1), track ? 'nibble is not a digit or separator' : 'non-BCD nibble in numeric field');
  }
  return s.latin1Slice(0, pos);
}
