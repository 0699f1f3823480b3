/**
 * An ISO 8583 message: the MTI, the optional envelope (TPDU, header) and the data
 * fields by number. Text and numeric fields are strings exactly as on the wire (no
 * trimming, no implied decimals); binary fields are bytes. Parts of structured fields
 * (F55 TLV, F90, F56, F95, UnionPay F60/F61) are parsed on demand, never eagerly.
 */
import { IsoError } from './errors.js';
import { parseTlv, type TlvItem } from './tlv.js';
import {
  parseF90, parseF56, parseF95, parseCup60, parseCup61,
  type OriginalData, type OriginalData93, type ReplacementAmounts, type Cup60, type Cup61,
} from './subfields.js';

export type FieldValue = string | Uint8Array;

/** JSON form: keys are "mti" and field numbers as strings; binary fields are hex. */
export type MessageJson = Record<string, string>;

const HEX = '0123456789ABCDEF';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
}

/** Parses hex (either case, no separators); throws IsoError at `site` on bad input. */
export function fromHex(hex: string, site: number | 'message' = 'message'): Uint8Array {
  if (hex.length % 2 !== 0) throw new IsoError(site, -1, `hex value has an odd number of digits (${hex.length})`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(hex.charCodeAt(2 * i));
    const lo = hexNibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new IsoError(site, -1, `hex value has a non-hex character at position ${hi < 0 ? 2 * i : 2 * i + 1}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** A real copy: Buffer#slice, unlike Uint8Array#slice, returns a view. */
export function copyBytes(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c;
}

export function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

export class IsoMessage {
  mti: string;
  /** 5-byte TPDU for dialects that carry one (UnionPay), else null. */
  tpdu: Uint8Array | null = null;
  /** Static header bytes for dialects that carry one, else null. */
  header: Uint8Array | null = null;
  /**
   * Index = field number. Starts with room for the primary bitmap's fields only and grows
   * when a higher field is set: most messages never need more, and a smaller array is
   * cheaper to allocate and to scan on every message.
   */
  readonly values: (FieldValue | undefined)[];

  constructor(mti = '', fields?: Record<number, FieldValue>) {
    this.mti = mti;
    this.values = new Array<FieldValue | undefined>(65);
    if (fields) for (const [k, v] of Object.entries(fields)) this.set(Number(k), v);
  }

  has(n: number): boolean {
    return this.values[n] !== undefined;
  }

  /** The text of a field; binary fields come back as uppercase hex. */
  get(n: number): string | undefined {
    const v = this.values[n];
    return v === undefined || typeof v === 'string' ? v : toHex(v);
  }

  /** The bytes of a binary field; undefined for absent or text fields. */
  getBytes(n: number): Uint8Array | undefined {
    const v = this.values[n];
    return typeof v === 'string' ? undefined : v;
  }

  set(n: number, v: FieldValue): this {
    if (!Number.isInteger(n) || n < 2 || n > 192) throw new IsoError('message', -1, `no data field ${n}; fields are 2-192 (1 and 65 are bitmaps)`);
    this.values[n] = v;
    return this;
  }

  delete(n: number): this {
    // Past the end there is nothing to delete, and a write there would grow the array.
    if (n < this.values.length) this.values[n] = undefined;
    return this;
  }

  /** Present field numbers in ascending order. */
  fieldNumbers(): number[] {
    const out: number[] = [];
    for (let i = 2; i < this.values.length; i++) if (this.values[i] !== undefined) out.push(i);
    return out;
  }

  clone(): IsoMessage {
    const m = new IsoMessage(this.mti);
    m.tpdu = this.tpdu && copyBytes(this.tpdu);
    m.header = this.header && copyBytes(this.header);
    for (let i = 2; i < this.values.length; i++) {
      const v = this.values[i];
      if (v !== undefined) m.values[i] = typeof v === 'string' ? v : copyBytes(v);
    }
    return m;
  }

  /** F55 as EMV TLV items. */
  emv(): TlvItem[] | undefined {
    const v = this.getBytes(55);
    return v && parseTlv(v, 55);
  }

  /** F90, the 1987 original data elements. */
  originalData(): OriginalData | undefined {
    const v = this.values[90];
    return typeof v === 'string' ? parseF90(v) : undefined;
  }

  /** F56, the 1993 original data elements. */
  originalData93(): OriginalData93 | undefined {
    const v = this.values[56];
    return typeof v === 'string' ? parseF56(v) : undefined;
  }

  /** F95: the final amounts after a partial reversal. */
  replacementAmounts(): ReplacementAmounts | undefined {
    const v = this.values[95];
    return typeof v === 'string' ? parseF95(v) : undefined;
  }

  /** UnionPay F60: transaction type, batch, network management code... */
  cup60(): Cup60 | undefined {
    const v = this.values[60];
    return typeof v === 'string' ? parseCup60(v) : undefined;
  }

  /** UnionPay F61: the original batch, trace and date. */
  cup61(): Cup61 | undefined {
    const v = this.values[61];
    return typeof v === 'string' ? parseCup61(v) : undefined;
  }

  toJSON(): MessageJson {
    const out: MessageJson = { mti: this.mti };
    if (this.tpdu) out.tpdu = toHex(this.tpdu);
    if (this.header) out.header = toHex(this.header);
    for (let i = 2; i < this.values.length; i++) {
      const v = this.values[i];
      if (v !== undefined) out[String(i)] = typeof v === 'string' ? v : toHex(v);
    }
    return out;
  }
}
