/**
 * The named dialects revswitch ships. Each is the standard's table with a wire style
 * applied: ASCII text throughout, or BCD numerics with binary data. UnionPay POS is the
 * BCD style with its own overrides on top.
 */
import { Dialect, checkDialectSpec, deriveDialect } from '../dialect.js';
import { DialectError } from '../errors.js';
import type { DialectSpec, FieldSpec, Pad, PrefixEncoding } from '../spec.js';
import { ISO87, ISO93_CHANGES, iso93Tertiary, type Row } from './tables.js';

type Style = 'ascii' | 'bcd';

function specFor(row: Row, style: Style, numericPad?: Pad): FieldSpec {
  const [type, length, max, label, parts] = row;
  const numeric = type === 'n' || type === 'z' || type === 'x+n';
  const encoding = type === 'b' ? 'binary' : style === 'bcd' && numeric ? 'bcd' : 'ascii';
  const s: FieldSpec = { type, length, max, encoding, label };
  if (length !== 'fixed') s.prefix = (style === 'bcd' ? 'bcd' : 'ascii') satisfies PrefixEncoding;
  if (encoding === 'bcd' && numericPad) s.pad = numericPad;
  if (parts) s.parts = parts;
  return s;
}

function table(rows: Record<number, Row>, style: Style, numericPad?: Pad): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {};
  for (const [k, row] of Object.entries(rows)) out[k] = specFor(row, style, numericPad);
  return out;
}

const ECHO_87 = [2, 3, 4, 7, 11, 12, 13, 19, 25, 32, 33, 37, 41, 42, 49, 90, 95];
const ECHO_93 = [2, 3, 4, 7, 11, 12, 32, 33, 37, 41, 42, 49, 56];
const ECHO_CUP = [2, 3, 4, 11, 14, 22, 25, 37, 41, 42, 49, 60];

const none = { tpdu: false, header: 0 };

const iso87a: DialectSpec = {
  name: 'iso87a',
  description: 'ISO 8583:1987, ASCII numerics and length prefixes, binary bitmap',
  version: '1987', mti: 'ascii', bitmap: 'binary', tertiary: false, envelope: none, echo: ECHO_87,
  fields: table(ISO87, 'ascii'),
};

const iso87aHex: DialectSpec = {
  ...iso87a,
  name: 'iso87a-hex',
  description: 'ISO 8583:1987, ASCII throughout, bitmap as hex characters',
  bitmap: 'hex',
};

const iso87b: DialectSpec = {
  name: 'iso87b',
  description: 'ISO 8583:1987 binary: BCD MTI, numerics and length prefixes, binary bitmap and b fields',
  version: '1987', mti: 'bcd', bitmap: 'binary', tertiary: false, envelope: none, echo: ECHO_87,
  fields: table(ISO87, 'bcd'),
};

const iso93a: DialectSpec = {
  name: 'iso93a',
  description: 'ISO 8583:1993 ASCII: 1xxx MTIs, F24 function code, F56 original data, tertiary bitmap',
  version: '1993', mti: 'ascii', bitmap: 'binary', tertiary: true, envelope: none, echo: ECHO_93,
  fields: table({ ...ISO87, ...ISO93_CHANGES, ...iso93Tertiary() }, 'ascii'),
};

/**
 * UnionPay POS: what differs from the BCD style. Numerics are left-aligned with a 0 pad
 * nibble, except F23, which real terminals right-align with the pad nibble first. F62 of
 * a sign-on answer carries the working keys as binary, so it is b, not ans.
 */
const CUP_CHANGES: Record<string, FieldSpec> = {
  23: { type: 'n', length: 'fixed', max: 3, encoding: 'bcd', pad: 'left0', label: 'Application PAN sequence number' },
  44: { type: 'ans', length: 'LL', max: 25, encoding: 'ascii', prefix: 'bcd', label: 'Additional response data' },
  48: { type: 'n', length: 'LLL', max: 322, encoding: 'bcd', prefix: 'bcd', pad: 'right0', label: 'Additional data, private' },
  54: { type: 'an', length: 'LLL', max: 20, encoding: 'ascii', prefix: 'bcd', label: 'Balance amount' },
  55: { type: 'b', length: 'LLL', max: 255, encoding: 'binary', prefix: 'bcd', label: 'ICC data (EMV)', parts: 'tlv' },
  60: { type: 'n', length: 'LLL', max: 17, encoding: 'bcd', prefix: 'bcd', pad: 'right0', label: 'Reserved private: type, batch, network management code', parts: 'cup60' },
  61: { type: 'n', length: 'LLL', max: 29, encoding: 'bcd', prefix: 'bcd', pad: 'right0', label: 'Original message data', parts: 'cup61' },
  62: { type: 'b', length: 'LLL', max: 512, encoding: 'binary', prefix: 'bcd', label: 'Reserved private (sign-on answer: working keys)' },
  63: { type: 'ans', length: 'LLL', max: 163, encoding: 'ascii', prefix: 'bcd', label: 'Reserved private' },
};

const cup: DialectSpec = {
  name: 'cup',
  description: 'China UnionPay POS: TPDU and 6-byte header, BCD MTI, left-aligned BCD numerics, ASCII 37/38/39/41/42/49',
  version: '1987', mti: 'bcd', bitmap: 'binary', tertiary: false, envelope: { tpdu: true, header: 6 }, echo: ECHO_CUP,
  fields: { ...table(ISO87, 'bcd', 'right0'), ...CUP_CHANGES },
};

const BUILTIN = new Map<string, Dialect>();
for (const spec of [iso87a, iso87aHex, iso87b, iso93a, cup]) {
  BUILTIN.set(spec.name, new Dialect(checkDialectSpec('built-in', spec)));
}

export const DEFAULT_DIALECT = 'iso87a';
export const DIALECT_NAMES: readonly string[] = [...BUILTIN.keys()];

export function getDialect(name: string): Dialect {
  const d = BUILTIN.get(name);
  if (!d) throw new DialectError('dialect', '', `unknown dialect "${name}"; expected one of ${DIALECT_NAMES.join(', ')}`);
  return d;
}

/** A dialect from override data: `{"base": "iso87a", "fields": {...}}`. Reading the file is the caller's job. */
export function dialectFromOverrides(overrides: unknown, source: string): Dialect {
  const baseName = (overrides as { base?: unknown } | null)?.base ?? DEFAULT_DIALECT;
  if (typeof baseName !== 'string' || !BUILTIN.has(baseName)) {
    throw new DialectError(source, 'base', `expected one of ${DIALECT_NAMES.join(', ')}, got ${JSON.stringify(baseName)}`);
  }
  return deriveDialect(getDialect(baseName), overrides, source);
}
