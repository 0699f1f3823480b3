/**
 * Dialects are data. A field spec is composed of a type, a length kind, a wire encoding,
 * a length-prefix encoding and padding; a dialect is one table of them plus the envelope
 * (MTI, bitmap, optional TPDU and header). Networks differ by a few fields, so a derived
 * dialect is the base table with some entries overridden.
 *
 * This module validates spec data (with paths for error messages) and compiles it into
 * the flat, monomorphic form the hot path reads.
 */
import { DialectError } from './errors.js';

export const FIELD_TYPES = ['n', 'an', 'ans', 'b', 'z', 'x+n'] as const;
export const LENGTH_KINDS = ['fixed', 'LL', 'LLL', 'LLLL'] as const;
export const ENCODINGS = ['ascii', 'bcd', 'ebcdic', 'binary', 'hex'] as const;
export const PREFIX_ENCODINGS = ['ascii', 'bcd', 'binary', 'ebcdic'] as const;
/** Where the filler goes and what it is: for BCD the odd nibble, for fixed text the fill character. */
export const PADS = ['left0', 'leftF', 'right0', 'rightF', 'rightSpace', 'none'] as const;
export const PART_KINDS = ['tlv', 'f90', 'f56', 'f95', 'cup60', 'cup61'] as const;

export type FieldType = (typeof FIELD_TYPES)[number];
export type LengthKind = (typeof LENGTH_KINDS)[number];
export type Encoding = (typeof ENCODINGS)[number];
export type PrefixEncoding = (typeof PREFIX_ENCODINGS)[number];
export type Pad = (typeof PADS)[number];
export type PartKind = (typeof PART_KINDS)[number];

/**
 * Lengths count the value's own units: digits for n and z, characters for an, ans and
 * x+n (sign included), bytes for b. A BCD numeric's prefix therefore counts digits.
 */
export interface FieldSpec {
  type: FieldType;
  length: LengthKind;
  /** Exact length for fixed fields, maximum for variable ones. */
  max: number;
  encoding: Encoding;
  /** Length-prefix encoding; ignored for fixed fields. */
  prefix?: PrefixEncoding;
  pad?: Pad;
  label: string;
  /** Which sub-field codec applies to the value, if any. */
  parts?: PartKind;
}

export interface DialectSpec {
  name: string;
  description: string;
  /** Which standard's semantics the builders follow (F90/F95 vs F56/F24). */
  version: '1987' | '1993';
  mti: 'ascii' | 'bcd' | 'ebcdic';
  bitmap: 'binary' | 'hex';
  /** When true, bit 65 announces a tertiary bitmap and fields 129-192 exist. */
  tertiary: boolean;
  /** Bytes before the MTI: a 5-byte TPDU and/or a static header of N bytes. */
  envelope: { tpdu: boolean; header: number };
  /** Fields a response copies from its request. */
  echo: number[];
  fields: Record<string, FieldSpec>;
  /**
   * Fields kept at rest beyond the standard's own list (Profile.keptFields), each named as
   * the dialect labels it and with the reason it must be kept: what a host needs in a
   * reversal or refund that the standard does not. Never track, PIN or ICC data.
   */
  keep?: Record<string, KeptFieldReason>;
}

/** Why a dialect keeps a field at rest: its label (to catch a wrong number) and a reason. */
export interface KeptFieldReason {
  name: string;
  reason: string;
}

export const enum Cls { N, AN, ANS, Z, XN, B }
export const enum Enc { ASCII, BCD, EBCDIC, BINARY, HEX }

/** The hot path's view of a field: numbers only, one shape for all fields. */
export class CompiledField {
  constructor(
    readonly num: number,
    readonly cls: Cls,
    readonly enc: Enc,
    /** 0 for fixed, else the number of prefix digits (2, 3 or 4). */
    readonly lenDigits: number,
    readonly prefixEnc: Enc,
    /** Bytes the prefix occupies on the wire (0 for fixed). */
    readonly prefixBytes: number,
    readonly max: number,
    /** BCD: pad nibble goes first (value right-aligned). */
    readonly padFirst: boolean,
    readonly padNibble: number,
    /** Fixed text fields: fill character code for short values on encode, -1 for none. */
    readonly fill: number,
    readonly fillLeft: boolean,
    readonly spec: FieldSpec,
  ) {}
}

const CLS: Record<FieldType, Cls> = { n: Cls.N, an: Cls.AN, ans: Cls.ANS, z: Cls.Z, 'x+n': Cls.XN, b: Cls.B };
const ENC: Record<Encoding, Enc> = { ascii: Enc.ASCII, bcd: Enc.BCD, ebcdic: Enc.EBCDIC, binary: Enc.BINARY, hex: Enc.HEX };
const LEN_DIGITS: Record<LengthKind, number> = { fixed: 0, LL: 2, LLL: 3, LLLL: 4 };

/** Which wire encodings each type may use. */
const ALLOWED: Record<FieldType, readonly Encoding[]> = {
  n: ['ascii', 'bcd', 'ebcdic'],
  z: ['ascii', 'bcd', 'ebcdic'],
  'x+n': ['ascii', 'bcd', 'ebcdic'],
  an: ['ascii', 'ebcdic'],
  ans: ['ascii', 'ebcdic'],
  b: ['binary', 'hex'],
};

function prefixBytesFor(enc: PrefixEncoding, digits: number): number {
  switch (enc) {
    case 'ascii':
    case 'ebcdic':
      return digits;
    case 'bcd':
      return digits === 2 ? 1 : 2;
    case 'binary':
      return digits === 2 ? 1 : 2;
  }
}

function oneOf<T extends string>(source: string, path: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new DialectError(source, path, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** Validates one field spec (plain data, e.g. from JSON) and returns a clean copy. */
export function checkFieldSpec(source: string, path: string, raw: unknown): FieldSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DialectError(source, path, 'expected an object');
  }
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['type', 'length', 'max', 'encoding', 'prefix', 'pad', 'label', 'parts'].includes(k)) {
      throw new DialectError(source, `${path}.${k}`, 'unknown key');
    }
  }
  const type = oneOf(source, `${path}.type`, r.type, FIELD_TYPES);
  const length = oneOf(source, `${path}.length`, r.length, LENGTH_KINDS);
  const encoding = oneOf(source, `${path}.encoding`, r.encoding, ENCODINGS);
  if (!ALLOWED[type].includes(encoding)) {
    throw new DialectError(source, `${path}.encoding`, `type ${type} cannot use encoding ${encoding}; expected one of ${ALLOWED[type].join(', ')}`);
  }
  const limit = length === 'fixed' ? 9999 : 10 ** LEN_DIGITS[length] - 1;
  if (typeof r.max !== 'number' || !Number.isInteger(r.max) || r.max < 1 || r.max > limit) {
    throw new DialectError(source, `${path}.max`, `expected an integer from 1 to ${limit}, got ${JSON.stringify(r.max)}`);
  }
  const spec: FieldSpec = { type, length, max: r.max, encoding, label: typeof r.label === 'string' ? r.label : '' };
  if (length !== 'fixed') {
    spec.prefix = oneOf(source, `${path}.prefix`, r.prefix, PREFIX_ENCODINGS);
    if (spec.prefix === 'binary' && length === 'LL' && r.max > 255) {
      throw new DialectError(source, `${path}.max`, 'a 1-byte binary prefix holds at most 255');
    }
  } else if (r.prefix !== undefined) {
    throw new DialectError(source, `${path}.prefix`, 'a fixed field has no length prefix');
  }
  if (r.pad !== undefined) {
    const pad = oneOf(source, `${path}.pad`, r.pad, PADS);
    const ok = encoding === 'bcd'
      ? pad !== 'rightSpace' && pad !== 'none'
      : pad === 'none' || (length === 'fixed' && (pad === 'rightSpace' ? type === 'an' || type === 'ans' : pad === 'left0' || pad === 'right0') && type !== 'b');
    if (!ok) {
      throw new DialectError(source, `${path}.pad`, encoding === 'bcd'
        ? 'a BCD field pads with a nibble: expected left0, leftF, right0 or rightF'
        : `a ${length} ${type} field in ${encoding} cannot use pad ${pad}; fixed text takes left0, right0, rightSpace (an/ans) or none`);
    }
    spec.pad = pad;
  }
  if (r.parts !== undefined) spec.parts = oneOf(source, `${path}.parts`, r.parts, PART_KINDS);
  if (typeof r.label !== 'string' || r.label === '') {
    throw new DialectError(source, `${path}.label`, 'expected a non-empty string');
  }
  return spec;
}

export function compileField(num: number, s: FieldSpec): CompiledField {
  const lenDigits = LEN_DIGITS[s.length];
  const prefixEnc = s.prefix ?? 'ascii';
  const pad = s.pad ?? defaultPad(s);
  const bcd = s.encoding === 'bcd';
  // BCD: the pad says where the odd nibble goes and what it holds.
  const padFirst = bcd && (pad === 'left0' || pad === 'leftF');
  const padNibble = pad === 'leftF' || pad === 'rightF' ? 0xf : 0;
  // Fixed fields: the fill for short values on encode. A BCD numeric is filled with
  // leading zero digits whatever its nibble pad, since that keeps its numeric value.
  let fill = -1;
  let fillLeft = false;
  if (s.length === 'fixed' && pad !== 'none') {
    if (bcd) {
      if (s.type === 'n') { fill = 0x30; fillLeft = true; }
    } else if (pad === 'left0' || pad === 'right0') {
      fill = 0x30; fillLeft = pad === 'left0';
    } else if (pad === 'rightSpace') {
      fill = 0x20;
    }
  }
  return new CompiledField(
    num, CLS[s.type], ENC[s.encoding], lenDigits, ENC[prefixEnc],
    lenDigits === 0 ? 0 : prefixBytesFor(prefixEnc, lenDigits),
    s.max, padFirst, padNibble, fill, fillLeft, s,
  );
}

function defaultPad(s: FieldSpec): Pad {
  if (s.encoding === 'bcd') return s.type === 'z' ? 'rightF' : 'left0';
  if (s.length === 'fixed' && s.type === 'n') return 'left0';
  if (s.length === 'fixed' && (s.type === 'an' || s.type === 'ans')) return 'rightSpace';
  return 'none';
}
