/**
 * A message packed into one flat string, for keeping many of them in memory: the switch
 * keeps every ended transaction for its retention (duplicates, a terminal's reversal, a
 * late answer), and as live objects (a 65-slot field array each, three messages a sale)
 * they cost ~3 KB apiece and the collector walks every one. Packed, a request is one
 * string of about its wire size, and a message that differs from another in a few
 * fields (the copy forwarded upstream under the switch's STAN, the answer echoing the
 * request) is packed as its difference from that one.
 *
 * Not a wire format: it never leaves the process and carries no dialect. Text values are
 * kept as they are (a one-byte string while every character is below 256), binary ones
 * as one character a byte.
 *
 * Layout: the MTI's length (one character; 0 = the base's MTI) and the MTI; the TPDU,
 * then the header: `k` (the base's), `n` (none) or `b` + length (two characters) +
 * bytes; then each field that differs: its number (one character), then one character
 * below 0x80, the length of a text value that follows (most fields: two characters of
 * overhead, less than their length prefix and bitmap bit cost on the wire), or
 * DELETED (absent here), LONG_TEXT or BYTES, each of the last two followed by a length
 * (two characters) and the value.
 */
import { IsoError } from './errors.js';
import { copyBytes, IsoMessage, type FieldValue } from './message.js';

const EMPTY = new IsoMessage();
/** Two characters of 8 bits: ISO 8583's longest variable field (LLLLVAR) is 9,999. */
const MAX_VALUE = 0xffff;
const SHORT_TEXT = 0x80;
const DELETED = '\u0080';
const LONG_TEXT = '\u0081';
const BYTES = '\u0082';

/** `msg` as one string; `unpackMessage` gives it back. */
export function packMessage(msg: IsoMessage): string {
  return packDelta(EMPTY, msg);
}

/** `msg` as its difference from `base`; `unpackMessage(packed, base)` gives it back, given the same base. */
export function packDelta(base: IsoMessage, msg: IsoMessage): string {
  const out: string[] = [];
  if (msg.mti === base.mti) out.push('\u0000');
  else {
    if (msg.mti.length === 0 || msg.mti.length > 255) throw new IsoError('message', -1, `an MTI of ${msg.mti.length} characters cannot be packed`);
    out.push(String.fromCharCode(msg.mti.length), msg.mti);
  }
  packEnvelope(out, base.tpdu, msg.tpdu);
  packEnvelope(out, base.header, msg.header);
  const a = base.values;
  const b = msg.values;
  const n = Math.max(a.length, b.length);
  for (let i = 2; i < n; i++) {
    const v = b[i];
    const was = a[i];
    if (v === was || (v !== undefined && was !== undefined && sameValue(v, was))) continue;
    // One-character strings below 256 come from V8's table of them: no allocation.
    if (v === undefined) out.push(String.fromCharCode(i), DELETED);
    else if (typeof v === 'string' && v.length < SHORT_TEXT) out.push(String.fromCharCode(i), String.fromCharCode(v.length), v);
    else if (typeof v === 'string') out.push(String.fromCharCode(i), LONG_TEXT, lengthOf(v.length, i), v);
    else out.push(String.fromCharCode(i), BYTES, lengthOf(v.length, i), bytesToString(v));
  }
  // join makes one flat string; `+=` would keep a tree of pieces alive.
  return out.join('');
}

/** The message `packed` holds; a delta needs the base it was packed against. */
export function unpackMessage(packed: string, base: IsoMessage = EMPTY): IsoMessage {
  let at = 0;
  const mtiLength = packed.charCodeAt(at++);
  const msg = new IsoMessage(mtiLength === 0 ? base.mti : packed.slice(at, (at += mtiLength)));
  const envelope = (was: Uint8Array | null): Uint8Array | null => {
    const op = packed[at++];
    if (op === 'k') return was && copyBytes(was);
    if (op === 'n') return null;
    const len = readLength(packed, at);
    at += 2;
    return stringToBytes(packed, at, (at += len));
  };
  msg.tpdu = envelope(base.tpdu);
  msg.header = envelope(base.header);
  const a = base.values;
  for (let i = 2; i < a.length; i++) {
    const v = a[i];
    if (v !== undefined) msg.values[i] = typeof v === 'string' ? v : copyBytes(v);
  }
  while (at < packed.length) {
    const n = packed.charCodeAt(at++);
    const op = packed.charCodeAt(at++);
    if (op < SHORT_TEXT) {
      msg.set(n, packed.slice(at, (at += op)));
      continue;
    }
    if (op === DELETED.charCodeAt(0)) {
      msg.delete(n);
      continue;
    }
    const len = readLength(packed, at);
    at += 2;
    const value: FieldValue = op === LONG_TEXT.charCodeAt(0) ? packed.slice(at, at + len) : stringToBytes(packed, at, at + len);
    at += len;
    msg.set(n, value);
  }
  if (at !== packed.length) throw new IsoError('message', -1, 'a packed message ends inside its last field');
  return msg;
}

function packEnvelope(out: string[], was: Uint8Array | null, now: Uint8Array | null): void {
  if (now === null) out.push(was === null ? 'k' : 'n');
  else if (was !== null && bytesEqual(was, now)) out.push('k');
  else out.push('b', lengthOf(now.length, 'message'), bytesToString(now));
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return bytesEqual(a, b);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function lengthOf(len: number, site: number | 'message'): string {
  if (len > MAX_VALUE) throw new IsoError(site, -1, `a value of ${len} characters cannot be packed (at most ${MAX_VALUE})`);
  return String.fromCharCode(len >> 8, len & 0xff);
}

function readLength(s: string, at: number): number {
  return (s.charCodeAt(at) << 8) | s.charCodeAt(at + 1);
}

function bytesToString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function stringToBytes(s: string, from: number, to: number): Uint8Array {
  const b = new Uint8Array(to - from);
  for (let i = from; i < to; i++) b[i - from] = s.charCodeAt(i);
  return b;
}
