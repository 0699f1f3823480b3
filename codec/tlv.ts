/**
 * EMV BER-TLV, the encoding of ICC data in F55 (EMV Book 3, Annex B).
 *
 * Only the subset EMV uses is accepted: tags of up to 4 bytes, definite lengths of up to
 * 3 long-form bytes. Anything else in an F55 is far more likely a framing slip than a real
 * object, so it is an error rather than something to guess around.
 *
 * Errors name offsets, never tag or value bytes: a misframed F55 can put PAN or track
 * digits where a tag is expected.
 */
import { IsoError } from './errors.js';

export interface TlvItem {
  /** Uppercase hex of the tag bytes, e.g. '9F26'. */
  tag: string;
  /**
   * The value bytes. parseTlv returns subarrays of its input (no copy: the caller owns the
   * buffer and must not reuse it while the items live). A constructed item's value is its
   * raw nested TLV; parse it with parseTlv when needed.
   */
  value: Uint8Array;
  /** Bit 6 of the first tag byte; encodeTlv insists it agrees with the tag. */
  constructed: boolean;
}

/**
 * Tags whose values are sensitive authentication data (PCI DSS 3.3.1) or a PAN that BCD
 * cannot carry in masked form. 9F20 (track 2 discretionary data) is here too: it holds
 * the same card verification values as track 2 itself.
 */
export const SENSITIVE_TAGS: readonly string[] = Object.freeze([
  '56', // track 1 data
  '57', // track 2 equivalent data
  '5A', // PAN
  '9F1F', // track 1 discretionary data
  '9F20', // track 2 discretionary data
  '9F6B', // track 2 data (Mastercard)
]);

const SENSITIVE = new Set(SENSITIVE_TAGS);

/** Longer tags do not occur in EMV; such bytes mean the field is misframed. */
const MAX_TAG_BYTES = 4;
/** The 0x83 long form tops out here. */
const MAX_VALUE_BYTES = 0xffffff;
/** Real templates nest two or three deep; the cap keeps hostile input off the call stack. */
const MAX_DEPTH = 16;

const HEX = '0123456789ABCDEF';
const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => HEX[b >> 4] + HEX[b & 15]);

/**
 * Parses the top-level items of a BER-TLV string, in order. 0x00 and 0xFF bytes between
 * items are padding (EMV Book 3 Annex B) and are skipped, so no tag may start with either.
 * Values are subarrays of `bytes`.
 */
export function parseTlv(bytes: Uint8Array, field = 55): TlvItem[] {
  return scan(bytes, field, 0, null);
}

/** Encodes items with the shortest length form for each value. */
export function encodeTlv(items: readonly TlvItem[], field = 55): Uint8Array {
  const tags: Uint8Array[] = new Array<Uint8Array>(items.length);
  let size = 0;
  for (let k = 0; k < items.length; k++) {
    const item = items[k];
    const tag = tagBytes(item.tag, field, k);
    if (((tag[0] & 0x20) !== 0) !== item.constructed) {
      throw new IsoError(field, -1, `item ${k}: constructed flag disagrees with the tag`);
    }
    const len = item.value.length;
    if (len > MAX_VALUE_BYTES) {
      throw new IsoError(field, -1, `item ${k}: value longer than ${MAX_VALUE_BYTES} bytes`);
    }
    tags[k] = tag;
    size += tag.length + lengthSize(len) + len;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let k = 0; k < items.length; k++) {
    const tag = tags[k];
    const value = items[k].value;
    out.set(tag, o);
    o += tag.length;
    o = writeLength(out, o, value.length);
    out.set(value, o);
    o += value.length;
  }
  return out;
}

/** First top-level item with the tag; case-insensitive. Does not look inside templates. */
export function findTag(items: readonly TlvItem[], tag: string): TlvItem | undefined {
  const want = tag.toUpperCase();
  for (const item of items) if (item.tag === want) return item;
  return undefined;
}

/**
 * The same TLV with every SENSITIVE_TAGS value emptied, inside constructed templates too,
 * re-encoded with shortest lengths and without padding. Malformed input throws instead of
 * returning a best guess: whatever could not be parsed could hide track data, so a caller
 * that catches the error must not fall back to the raw bytes.
 */
export function redactTlv(bytes: Uint8Array, field = 55): Uint8Array {
  return redactAt(bytes, field, 0, 0);
}

function redactAt(bytes: Uint8Array, field: number, base: number, depth: number): Uint8Array {
  if (depth > MAX_DEPTH) throw new IsoError(field, base, `templates nested deeper than ${MAX_DEPTH}`);
  const offsets: number[] = [];
  const items = scan(bytes, field, base, offsets);
  for (let k = 0; k < items.length; k++) {
    const item = items[k];
    if (SENSITIVE.has(item.tag)) item.value = new Uint8Array(0);
    else if (item.constructed) item.value = redactAt(item.value, field, offsets[k], depth + 1);
  }
  return encodeTlv(items, field);
}

/**
 * The parser behind parseTlv and redactTlv. `base` shifts error offsets so that nested
 * templates report positions in the whole field; `valueOffsets`, when given, receives the
 * absolute offset of each item's value.
 */
function scan(bytes: Uint8Array, field: number, base: number, valueOffsets: number[] | null): TlvItem[] {
  const items: TlvItem[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    if (b0 === 0x00 || b0 === 0xff) {
      i++;
      continue;
    }
    const tagStart = i++;
    if ((b0 & 0x1f) === 0x1f) {
      for (;;) {
        if (i >= n) throw new IsoError(field, base + tagStart, 'truncated tag');
        const b = bytes[i++];
        if (i - tagStart > MAX_TAG_BYTES) {
          throw new IsoError(field, base + tagStart, `tag longer than ${MAX_TAG_BYTES} bytes`);
        }
        if ((b & 0x80) === 0) break;
      }
    }
    let tag = '';
    for (let j = tagStart; j < i; j++) tag += BYTE_HEX[bytes[j]];

    const lenStart = i;
    if (i >= n) throw new IsoError(field, base + lenStart, 'truncated length');
    const l0 = bytes[i++];
    let len = l0;
    if (l0 === 0x80) {
      throw new IsoError(field, base + lenStart, 'indefinite length unsupported');
    } else if (l0 > 0x80) {
      const k = l0 & 0x7f;
      if (k > 3) throw new IsoError(field, base + lenStart, 'long-form length over 3 bytes unsupported');
      if (n - i < k) throw new IsoError(field, base + lenStart, 'truncated length');
      len = 0;
      for (let j = 0; j < k; j++) len = len * 256 + bytes[i++];
    }
    if (len > n - i) {
      throw new IsoError(field, base + lenStart, `length ${len} runs past the end (${n - i} left)`);
    }
    valueOffsets?.push(base + i);
    items.push({ tag, value: bytes.subarray(i, i + len), constructed: (b0 & 0x20) !== 0 });
    i += len;
  }
  return items;
}

/** Validates a tag string as an EMV BER tag that parseTlv would read back unchanged. */
function tagBytes(tag: string, field: number, k: number): Uint8Array {
  if (tag.length === 0) throw new IsoError(field, -1, `item ${k}: empty tag`);
  if (tag.length % 2 !== 0 || tag.length > MAX_TAG_BYTES * 2) {
    throw new IsoError(field, -1, `item ${k}: tag must be 1 to ${MAX_TAG_BYTES} bytes of hex`);
  }
  const out = new Uint8Array(tag.length / 2);
  for (let j = 0; j < out.length; j++) {
    const hi = hexDigit(tag.charCodeAt(2 * j));
    const lo = hexDigit(tag.charCodeAt(2 * j + 1));
    if (hi < 0 || lo < 0) throw new IsoError(field, -1, `item ${k}: tag is not hex`);
    out[j] = (hi << 4) | lo;
  }
  const b0 = out[0];
  if (b0 === 0x00 || b0 === 0xff) {
    throw new IsoError(field, -1, `item ${k}: tag may not start with padding byte 00 or FF`);
  }
  const multi = (b0 & 0x1f) === 0x1f;
  if (!multi && out.length !== 1) {
    throw new IsoError(field, -1, `item ${k}: tag continues after a one-byte tag number`);
  }
  if (multi) {
    if (out.length === 1) throw new IsoError(field, -1, `item ${k}: tag is missing its subsequent bytes`);
    for (let j = 1; j < out.length; j++) {
      const last = j === out.length - 1;
      if (((out[j] & 0x80) === 0) !== last) {
        throw new IsoError(field, -1, `item ${k}: tag continuation bits are inconsistent`);
      }
    }
  }
  return out;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function lengthSize(len: number): number {
  return len < 0x80 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : 4;
}

function writeLength(out: Uint8Array, o: number, len: number): number {
  if (len < 0x80) {
    out[o++] = len;
  } else if (len <= 0xff) {
    out[o++] = 0x81;
    out[o++] = len;
  } else if (len <= 0xffff) {
    out[o++] = 0x82;
    out[o++] = len >> 8;
    out[o++] = len & 0xff;
  } else {
    out[o++] = 0x83;
    out[o++] = len >> 16;
    out[o++] = (len >> 8) & 0xff;
    out[o++] = len & 0xff;
  }
  return o;
}
