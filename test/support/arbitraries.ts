/**
 * fast-check arbitraries for the codec tests: random, VALID IsoMessages for a compiled
 * Dialect. "Valid" means encode() must accept the message and decode() must give it
 * back unchanged, so every value is generated at its exact wire length:
 *
 * - the MTI's first digit is the dialect's version digit (0 for 1987, 1 for 1993);
 * - fields are a random subset of the dialect's defined data fields (2..maxField, never a
 *   bitmap slot), sometimes only primary-bitmap fields, usually a mix reaching into the
 *   secondary (and, for a tertiary dialect, the tertiary) bitmap;
 * - fixed fields get exactly `max` units and variable fields 0..min(max, 60) units
 *   (encode pads SHORT fixed values, which would not round-trip, so none are made; a
 *   variable x+n value always has at least its sign);
 * - n: digits; an: [A-Za-z0-9 ]; ans: 0x20-0x7E; z: digits and 'D' separators (not '=',
 *   which a BCD track turns into 'D'); x+n: 'C' or 'D' then digits; b: bytes;
 * - dialects with a TPDU or a static header get random bytes of the right size.
 *
 * Also here: derived dialects (DERIVED, allTestDialects) that exercise encodings no
 * built-in dialect uses, shared by the property and mutation tests.
 */
import fc from 'fast-check';
import type { Dialect } from '../../codec/dialect.js';
import { dialectFromOverrides, DIALECT_NAMES, getDialect } from '../../codec/dialects/builtin.js';
import { IsoMessage, type FieldValue } from '../../codec/message.js';
import type { CompiledField } from '../../codec/spec.js';

export const DIGITS = '0123456789';
export const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** an: letters, digits and space. */
export const AN = DIGITS + ALPHA + ' ';
/** ans: all printable ASCII. */
export const ANS = (() => {
  let s = '';
  for (let c = 0x20; c <= 0x7e; c++) s += String.fromCharCode(c);
  return s;
})();
/** z (track data) as this generator writes it: digits and the 'D' separator. */
export const Z = DIGITS + 'D';

/** The default alphabet for a text type; undefined for b and x+n, which are built differently. */
export function alphabetFor(type: string): string | undefined {
  switch (type) {
    case 'n': return DIGITS;
    case 'an': return AN;
    case 'ans': return ANS;
    case 'z': return Z;
    default: return undefined;
  }
}

export interface ValueOptions {
  /** Overrides the type's alphabet (text types only; x+n keeps its sign rule). */
  alphabet?: string;
  /** Shortest variable value; default 0 (x+n never goes below 1, its sign). */
  minVarLength?: number;
  /** Longest variable value, capped by the field's max; default 60. */
  maxVarLength?: number;
}

const charArbCache = new Map<string, fc.Arbitrary<string>>();
function charOf(alphabet: string): fc.Arbitrary<string> {
  let a = charArbCache.get(alphabet);
  if (!a) {
    if (alphabet.length === 0) throw new Error('empty alphabet');
    a = fc.constantFrom(...alphabet.split(''));
    charArbCache.set(alphabet, a);
  }
  return a;
}

function textOf(alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: charOf(alphabet), minLength, maxLength, size: 'max' });
}

/** A valid value for one compiled field, as encode() expects it (text or bytes). */
export function fieldValueArb(f: CompiledField, opts: ValueOptions = {}): fc.Arbitrary<FieldValue> {
  const spec = f.spec;
  const fixed = spec.length === 'fixed';
  const cap = Math.min(f.max, opts.maxVarLength ?? 60);
  const minLength = fixed ? f.max : Math.min(opts.minVarLength ?? 0, cap);
  const maxLength = fixed ? f.max : cap;
  switch (spec.type) {
    case 'b':
      return fc.uint8Array({ minLength, maxLength, size: 'max' });
    case 'x+n':
      return fc.tuple(fc.constantFrom('C', 'D'), textOf(DIGITS, Math.max(0, minLength - 1), Math.max(0, maxLength - 1)))
        .map(([sign, digits]) => sign + digits);
    default: {
      const alphabet = opts.alphabet ?? alphabetFor(spec.type);
      if (alphabet === undefined) throw new Error(`no alphabet for type ${spec.type}`);
      return textOf(alphabet, minLength, maxLength);
    }
  }
}

/** A valid MTI for the dialect: its version digit, then three random digits. */
export function mtiArb(d: Dialect): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: 999 }).map((i) => `${d.versionDigit}${String(i).padStart(3, '0')}`);
}

/** Data fields the dialect defines (n >= 2, bitmap slots excluded), ascending. */
export function definedFields(d: Dialect): number[] {
  const out: number[] = [];
  for (let n = 2; n <= d.maxField; n++) if (d.fields[n] !== undefined) out.push(n);
  return out;
}

export interface MessageOptions {
  /** Restrict the candidate fields (each must be defined by the dialect). */
  fields?: readonly number[];
  /** Most data fields in one message; default 24. */
  maxFields?: number;
  /** Per-field alphabet override; return undefined to keep the type's default. */
  alphabet?: (n: number, f: CompiledField) => string | undefined;
  /** Per-field max length override (e.g. the other library's smaller max); applies to variable fields. */
  maxLength?: (n: number, f: CompiledField) => number | undefined;
  minVarLength?: number;
  maxVarLength?: number;
  /** Override the MTI generator (e.g. to the MTIs another library knows). */
  mti?: fc.Arbitrary<string>;
}

/** Readable counterexamples: fast-check prints the JSON form instead of a 193-slot array. */
function withPrinter(m: IsoMessage): IsoMessage {
  Object.defineProperty(m, fc.toStringMethod, { value: () => `IsoMessage(${JSON.stringify(m.toJSON())})`, enumerable: false });
  return m;
}

/** Random valid IsoMessages for `d`. */
export function isoMessageArb(d: Dialect, opts: MessageOptions = {}): fc.Arbitrary<IsoMessage> {
  const all = [...(opts.fields ?? definedFields(d))];
  for (const n of all) if (d.fields[n] === undefined) throw new Error(`dialect ${d.name} does not define field ${n}`);
  const maxLength = opts.maxFields ?? 24;
  const low = all.filter((n) => n <= 64);
  const pickers: { weight: number; arbitrary: fc.Arbitrary<number[]> }[] = [];
  if (all.length > 0) pickers.push({ weight: 3, arbitrary: fc.uniqueArray(fc.constantFrom(...all), { maxLength, size: 'max' }) });
  // Primary-bitmap-only messages, so the "no secondary bitmap" path is common too.
  if (low.length > 0) pickers.push({ weight: 1, arbitrary: fc.uniqueArray(fc.constantFrom(...low), { maxLength, size: 'max' }) });
  const picked = pickers.length > 0 ? fc.oneof(...pickers) : fc.constant<number[]>([]);

  const valueFor = (n: number): fc.Arbitrary<[number, FieldValue]> => {
    const f = d.fields[n]!;
    const over = opts.maxLength?.(n, f);
    const maxVar = Math.min(opts.maxVarLength ?? 60, over ?? Infinity);
    return fieldValueArb(f, { alphabet: opts.alphabet?.(n, f), minVarLength: opts.minVarLength, maxVarLength: maxVar })
      .map((v): [number, FieldValue] => [n, v]);
  };
  const values = picked.chain((ns) => fc.tuple(...[...ns].sort((a, b) => a - b).map(valueFor)));

  const bytes = (k: number) => fc.uint8Array({ minLength: k, maxLength: k });
  return fc.record({
    mti: opts.mti ?? mtiArb(d),
    tpdu: d.tpdu ? bytes(5) : fc.constant(null),
    header: d.headerLength > 0 ? bytes(d.headerLength) : fc.constant(null),
    values,
  }).map(({ mti, tpdu, header, values: vs }) => {
    const m = new IsoMessage(mti);
    m.tpdu = tpdu;
    m.header = header;
    for (const [n, v] of vs) m.set(n, v);
    return withPrinter(m);
  });
}

/* ---- Derived dialects for encodings no built-in dialect uses ---- */

/** iso87a with an EBCDIC MTI and a mix of EBCDIC values and prefixes. */
const ebcdic: Dialect = dialectFromOverrides({
  base: 'iso87a',
  name: 'test-iso87-ebcdic',
  mti: 'ebcdic',
  fields: {
    2: { encoding: 'ebcdic', prefix: 'ebcdic' }, // n LL
    4: { encoding: 'ebcdic' }, // n fixed
    28: { encoding: 'ebcdic' }, // x+n fixed
    29: { length: 'LL', max: 19, prefix: 'ebcdic', encoding: 'ebcdic' }, // x+n variable
    35: { encoding: 'ebcdic', prefix: 'ebcdic' }, // z LL
    37: { encoding: 'ebcdic' }, // an fixed
    43: { encoding: 'ebcdic' }, // ans fixed
    44: { prefix: 'ebcdic' }, // ASCII value, EBCDIC prefix
    48: { encoding: 'ebcdic' }, // EBCDIC value, ASCII prefix
    55: { prefix: 'ebcdic' }, // b with an EBCDIC prefix
    102: { encoding: 'ebcdic', prefix: 'ebcdic' }, // ans LL, secondary bitmap
    104: { encoding: 'ebcdic', prefix: 'ebcdic' }, // ans LLL
  },
}, 'test:ebcdic');

/** iso93a (tertiary bitmap) with every b field hex-encoded and the bitmaps as hex text. */
const hexB: Dialect = dialectFromOverrides({
  base: 'iso93a',
  name: 'test-iso93-hexb',
  bitmap: 'hex',
  fields: {
    52: { encoding: 'hex' }, // b fixed 8
    53: { encoding: 'hex' }, // b LL 48
    55: { encoding: 'hex' }, // b LLL 255
    64: { encoding: 'hex' },
    96: { encoding: 'hex' }, // b LLL 999
    128: { encoding: 'hex' },
    192: { encoding: 'hex' }, // tertiary MAC
  },
}, 'test:hexb');

/** iso87b with binary and LLLL prefixes and explicit pad nibbles. */
const binPrefix: Dialect = dialectFromOverrides({
  base: 'iso87b',
  name: 'test-iso87b-prefixes',
  fields: {
    2: { prefix: 'binary' }, // n LL, 1-byte binary prefix
    22: { pad: 'leftF' }, // n fixed 3, odd
    28: { length: 'LL', max: 19, prefix: 'bcd' }, // x+n variable, BCD: sign byte then digits
    29: { length: 'LLL', max: 30, prefix: 'binary', pad: 'leftF' }, // x+n variable, F pad first
    32: { pad: 'leftF' }, // n LL, F pad first
    33: { pad: 'rightF' }, // n LL, F pad last
    35: { pad: 'left0' }, // z LL, pad first
    36: { pad: 'right0' }, // z LLL
    48: { length: 'LLLL', max: 2000, prefix: 'binary' }, // ans, 2-byte binary prefix
    55: { prefix: 'binary' }, // b LLL, 2-byte binary prefix
    102: { length: 'LLLL', max: 1500, prefix: 'bcd' }, // ans, 2-byte BCD LLLL prefix
    104: { prefix: 'binary' },
  },
}, 'test:prefixes');

/** The derived test dialects by role. */
export const DERIVED = { ebcdic, hexB, binPrefix } as const;

/** Every built-in dialect plus the derived ones above. */
export function allTestDialects(): Dialect[] {
  return [...DIALECT_NAMES.map(getDialect), ebcdic, hexB, binPrefix];
}
