/**
 * Strictness: every way the decoder and encoder refuse bad input, with the exact error
 * text. Each case also checks the error is an IsoError whose .field and .offset locate
 * the problem (field null for MTI, bitmap, envelope and message-level problems).
 * Inputs are hand-built bytes; comments say what each part is.
 */
import t from 'tap';
import {
  decode, dialectFromOverrides, encode, getDialect, IsoError, IsoMessage, toHex, type Dialect, type FieldValue,
} from '../codec/index.js';
import { wire } from './support/wire.js';


interface Asserts {
  ok(v: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
  fail(msg: string): unknown;
}

/** fn must throw an IsoError with exactly this message, field and offset. */
function throwsIso(t: Asserts, fn: () => unknown, message: string, field: number | null, offset: number): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) {
    t.fail(`expected IsoError "${message}", nothing thrown`);
    return;
  }
  t.ok(thrown instanceof IsoError, `instanceof IsoError (got ${String(thrown)})`);
  if (thrown instanceof IsoError) {
    t.equal(thrown.message, message, 'message');
    t.equal(thrown.field, field, '.field');
    t.equal(thrown.offset, offset, '.offset');
  }
}

const iso87a = getDialect('iso87a');
const iso87aHex = getDialect('iso87a-hex');
const iso87b = getDialect('iso87b');
const iso93a = getDialect('iso93a');
const cup = getDialect('cup');

interface DecodeCase {
  name: string;
  dialect: Dialect;
  bytes: Buffer;
  message: string;
  field: number | null;
  offset: number;
}

const ASCII_0200 = '30 32 30 30 # MTI "0200"';

const DECODE_CASES: DecodeCase[] = [
  // --- truncation ---------------------------------------------------------------------
  {
    name: 'MTI cut short',
    dialect: iso87a,
    bytes: wire('30 32 # "02"'),
    message: 'mti: expected 4 digits, got 2 bytes at offset 0', field: null, offset: 0,
  },
  {
    name: 'BCD MTI cut short',
    dialect: iso87b,
    bytes: wire('02 # half an MTI'),
    message: 'mti: expected 2 bytes, got 1 at offset 0', field: null, offset: 0,
  },
  {
    name: 'primary bitmap cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      20 00 00 # 3 of 8 bitmap bytes`),
    message: 'bitmap: primary bitmap: expected 8 bytes, got 3 at offset 4', field: null, offset: 4,
  },
  {
    name: 'secondary bitmap cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      80 00 00 00 00 00 00 00 # bit 1: a secondary bitmap follows
      00 00                   # 2 of its 8 bytes`),
    message: 'bitmap: secondary bitmap: expected 8 bytes, got 2 at offset 12', field: null, offset: 12,
  },
  {
    name: 'hex primary bitmap cut short',
    dialect: iso87aHex,
    bytes: wire(`${ASCII_0200}
      32 30 30 30 # "2000", 4 of 16 hex characters`),
    message: 'bitmap: primary bitmap: expected 16 hex characters, got 4 bytes at offset 4', field: null, offset: 4,
  },
  {
    name: 'fixed ASCII numeric cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      20 00 00 00 00 00 00 00 # bitmap: 3
      30 30 30 30             # F3: 4 of 6 digits`),
    message: 'field 3: expected 6 digits, got 4 bytes at offset 12', field: 3, offset: 12,
  },
  {
    name: 'fixed BCD numeric cut short',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI 0200
      10 00 00 00 00 00 00 00 # bitmap: 4
      00 00 00                # F4: 3 of 6 bytes`),
    message: 'field 4: expected 12 digits (6 bytes), got 3 bytes at offset 10', field: 4, offset: 10,
  },
  {
    name: 'length prefix cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      40 00 00 00 00 00 00 00 # bitmap: 2
      31                      # F2: 1 of 2 prefix digits`),
    message: 'field 2: expected a 2-byte length prefix, got 1 bytes at offset 12', field: 2, offset: 12,
  },
  {
    name: 'LLVAR value cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      40 00 00 00 00 00 00 00 # bitmap: 2
      31 36                   # F2 LL "16"
      34 31 31 31 31          # 5 of 16 digits`),
    message: 'field 2: expected 16 digits, got 5 bytes at offset 14', field: 2, offset: 14,
  },
  {
    name: 'text field cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 00 00 80 00 00 # bitmap: 41
      54 45 52 4D             # F41: "TERM", 4 of 8`),
    message: 'field 41: expected 8 characters, got 4 bytes at offset 12', field: 41, offset: 12,
  },
  {
    name: 'binary field cut short',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 00 00 00 10 00 # bitmap: 52
      01 02 03                # F52: 3 of 8 bytes`),
    message: 'field 52: expected 8 bytes, got 3 bytes at offset 12', field: 52, offset: 12,
  },
  // --- trailing bytes -----------------------------------------------------------------
  {
    name: 'two trailing bytes',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      20 00 00 00 00 00 00 00 # bitmap: 3
      30 30 30 30 30 30       # F3 "000000"
      FF FF                   # junk`),
    message: 'message: 2 trailing bytes after the last field at offset 18', field: null, offset: 18,
  },
  {
    name: 'one trailing byte',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      20 00 00 00 00 00 00 00 # bitmap: 3
      00 00 00                # F3 000000
      00                      # junk`),
    message: 'message: 1 trailing byte after the last field at offset 13', field: null, offset: 13,
  },
  // --- length prefixes ----------------------------------------------------------------
  {
    name: 'non-numeric ASCII length prefix',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      40 00 00 00 00 00 00 00 # bitmap: 2
      31 41                   # F2 LL "1A"
      34 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31`),
    message: 'field 2: non-numeric length prefix at offset 12', field: 2, offset: 12,
  },
  {
    name: 'non-numeric BCD length prefix',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      40 00 00 00 00 00 00 00 # bitmap: 2
      1A                      # F2 LL: nibble A is not BCD
      41 11 11 11 11 11 11 11`),
    message: 'field 2: non-numeric (non-BCD) length prefix at offset 10', field: 2, offset: 10,
  },
  {
    name: 'LL prefix above the field max (ASCII)',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      40 00 00 00 00 00 00 00 # bitmap: 2
      32 30                   # F2 LL "20", max is 19
      31 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31 31`),
    message: 'field 2: length 20 exceeds max 19 at offset 12', field: 2, offset: 12,
  },
  {
    name: 'LLL prefix above the field max (BCD)',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      00 00 00 00 00 00 02 00 # bitmap: 55
      02 56                   # F55 LLL 0256 bytes, max is 255`),
    message: 'field 55: length 256 exceeds max 255 at offset 10', field: 55, offset: 10,
  },
  // --- fields the dialect does not have ------------------------------------------------
  {
    name: 'bitmap bit for a field the dialect lacks',
    dialect: dialectFromOverrides({ base: 'iso87a', fields: { 62: null } }, 'no62.json'),
    bytes: wire(`${ASCII_0200}
      20 00 00 00 00 00 00 04 # bitmap: 3 62
      30 30 30 30 30 30       # F3
      30 30 33 41 42 43       # would be F62 LLL "003" "ABC"`),
    message: 'field 62: bitmap announces field 62, which dialect iso87a+no62.json does not define at offset 18',
    field: 62, offset: 18,
  },
  // --- character classes --------------------------------------------------------------
  {
    name: 'letter in an ASCII numeric field',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      20 00 00 00 00 00 00 00 # bitmap: 3
      30 30 41 30 30 30       # F3 "00A000"`),
    message: 'field 3: non-digit in numeric field at offset 14', field: 3, offset: 14,
  },
  {
    name: 'non-BCD nibble in a BCD numeric field',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      20 00 00 00 00 00 00 00 # bitmap: 3
      00 A0 00                # F3: nibble A in byte 2`),
    message: 'field 3: non-BCD nibble in numeric field at offset 11', field: 3, offset: 11,
  },
  {
    name: 'non-ASCII byte in an ASCII text field',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 00 00 80 00 00 # bitmap: 41
      54 45 52 C3 A9 30 30 31 # F41 "TER" then UTF-8 e-acute`),
    message: 'field 41: non-ASCII byte 0xC3 in alphanumeric-special field at offset 15', field: 41, offset: 15,
  },
  {
    name: 'control byte in an ASCII text field',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 00 00 80 00 00 # bitmap: 41
      54 45 52 4D 07 30 30 31 # F41 "TERM", BEL, "001"`),
    message: 'field 41: control byte 0x07 in alphanumeric-special field at offset 16', field: 41, offset: 16,
  },
  {
    name: 'special character in an an field',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 00 02 00 00 00 # bitmap: 39
      30 2D                   # F39 "0-"`),
    message: 'field 39: character not allowed in alphanumeric field at offset 13', field: 39, offset: 13,
  },
  {
    name: 'bad x+n sign (ASCII)',
    dialect: iso87a,
    bytes: wire(`${ASCII_0200}
      00 00 00 10 00 00 00 00       # bitmap: 28
      58 30 30 30 30 30 31 35 30    # F28 "X00000150"`),
    message: 'field 28: amount sign must be C or D at offset 12', field: 28, offset: 12,
  },
  {
    name: 'bad x+n sign (BCD)',
    dialect: iso87b,
    bytes: wire(`02 00              # MTI
      00 00 00 10 00 00 00 00       # bitmap: 28
      58 00 00 01 50                # F28 sign byte "X", then 00000150`),
    message: 'field 28: amount sign must be C or D at offset 10', field: 28, offset: 10,
  },
  {
    name: 'bad nibble in BCD track 2',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      00 00 00 00 20 00 00 00 # bitmap: 35
      04                      # F35 LL 4 digits
      41 E1                   # 4 1 E 1: E is neither digit nor separator`),
    message: 'field 35: nibble is not a digit or separator at offset 12', field: 35, offset: 12,
  },
  {
    name: 'pad nibble neither 0 nor F',
    dialect: iso87b,
    bytes: wire(`02 00        # MTI
      00 00 04 00 00 00 00 00 # bitmap: 22
      50 51                   # F22 n3: leading pad nibble 5`),
    message: 'field 22: pad nibble must be 0 or F at offset 10', field: 22, offset: 10,
  },
  // --- MTI ----------------------------------------------------------------------------
  {
    name: 'letter in an ASCII MTI',
    dialect: iso87a,
    bytes: wire(`30 32 41 30 # "02A0"
      20 00 00 00 00 00 00 00 30 30 30 30 30 30`),
    message: 'mti: non-digit at offset 2', field: null, offset: 2,
  },
  {
    name: 'non-ASCII byte in an ASCII MTI',
    dialect: iso87a,
    bytes: wire(`30 B2 30 30
      20 00 00 00 00 00 00 00 30 30 30 30 30 30`),
    message: 'mti: non-ASCII byte at offset 1', field: null, offset: 1,
  },
  {
    name: 'non-BCD nibble in a BCD MTI',
    dialect: iso87b,
    bytes: wire(`02 0A # MTI nibble A
      20 00 00 00 00 00 00 00 00 00 00`),
    message: 'mti: non-BCD nibble at offset 0', field: null, offset: 0,
  },
  {
    name: '1987 MTI in the 1993 dialect',
    dialect: iso93a,
    bytes: wire(`${ASCII_0200}
      20 00 00 00 00 00 00 00 30 30 30 30 30 30`),
    message: 'mti: version digit 0 does not match dialect iso93a (expects 1) at offset 0', field: null, offset: 0,
  },
  {
    name: '1993 MTI in a 1987 dialect',
    dialect: iso87b,
    bytes: wire(`12 00 # MTI 1200
      20 00 00 00 00 00 00 00 00 00 00`),
    message: 'mti: version digit 1 does not match dialect iso87b (expects 0) at offset 0', field: null, offset: 0,
  },
  // --- bitmaps and envelope -----------------------------------------------------------
  {
    name: 'non-hex character in a hex bitmap',
    dialect: iso87aHex,
    bytes: wire(`${ASCII_0200}
      32 30 47 30 30 30 30 30 30 30 30 30 30 30 30 30 # "20G0000000000000"
      30 30 30 30 30 30`),
    message: 'bitmap: primary bitmap: non-hex character at offset 6', field: null, offset: 6,
  },
  {
    name: 'non-hex character in the low nibble of a hex bitmap byte',
    dialect: iso87aHex,
    bytes: wire(`${ASCII_0200}
      32 30 30 7A 30 30 30 30 30 30 30 30 30 30 30 30 # "200z000000000000"
      30 30 30 30 30 30`),
    message: 'bitmap: primary bitmap: non-hex character at offset 7', field: null, offset: 7,
  },
  {
    name: 'cup: no room for the TPDU',
    dialect: cup,
    bytes: wire('02 00 20 # an MTI and a bitmap byte, no TPDU or header'),
    message: 'tpdu: expected 5 bytes, got 3 at offset 0', field: null, offset: 0,
  },
  {
    name: 'cup: header cut short',
    dialect: cup,
    bytes: wire(`60 00 01 00 02 # TPDU
      60 31           # 2 of 6 header bytes`),
    message: 'header: expected 6 bytes, got 2 at offset 5', field: null, offset: 5,
  },
];

t.test('decode errors', async (t) => {
  for (const c of DECODE_CASES) {
    t.test(c.name, async (t) => throwsIso(t, () => decode(c.dialect, c.bytes), c.message, c.field, c.offset));
  }
});

interface EncodeCase {
  name: string;
  dialect: Dialect;
  msg: () => IsoMessage;
  message: string;
  field: number | null;
  offset: number;
}

function msg(mti: string, fields: Record<number, FieldValue>, tpdu?: string, header?: string): IsoMessage {
  const m = new IsoMessage(mti, fields);
  if (tpdu !== undefined) m.tpdu = Buffer.from(tpdu, 'hex');
  if (header !== undefined) m.header = Buffer.from(header, 'hex');
  return m;
}

const ENCODE_CASES: EncodeCase[] = [
  {
    name: 'MTI with three digits', dialect: iso87a, msg: () => msg('200', { 3: '000000' }),
    message: 'mti: expected 4 digits at offset 0', field: null, offset: 0,
  },
  {
    name: 'MTI with a letter', dialect: iso87a, msg: () => msg('02x0', { 3: '000000' }),
    message: 'mti: expected 4 digits at offset 0', field: null, offset: 0,
  },
  {
    name: '0200 in the 1993 dialect', dialect: iso93a, msg: () => msg('0200', { 3: '000000' }),
    message: 'mti: version digit 0 does not match dialect iso93a (expects 1) at offset 0', field: null, offset: 0,
  },
  {
    name: 'LLVAR value longer than its max', dialect: iso87a, msg: () => msg('0200', { 2: '1'.repeat(20) }),
    // MTI 4 + bitmap 8: F2 starts at 12
    message: 'field 2: value too long: 20 digits, max 19 at offset 12', field: 2, offset: 12,
  },
  {
    name: 'fixed value longer than its length', dialect: iso87a, msg: () => msg('0200', { 3: '0000000' }),
    message: 'field 3: value too long: 7 digits, max 6 at offset 12', field: 3, offset: 12,
  },
  {
    name: 'text longer than its max', dialect: iso87a, msg: () => msg('0200', { 41: 'TERMINAL1' }),
    message: 'field 41: value too long: 9 characters, max 8 at offset 12', field: 41, offset: 12,
  },
  {
    name: 'binary value longer than its max', dialect: iso87a, msg: () => msg('0200', { 52: Buffer.alloc(9) }),
    message: 'field 52: value too long: 9 bytes, max 8 at offset 12', field: 52, offset: 12,
  },
  {
    name: 'fixed binary value too short', dialect: iso87a, msg: () => msg('0200', { 52: Buffer.alloc(7) }),
    message: 'field 52: expected 8 bytes, got 7 at offset 12', field: 52, offset: 12,
  },
  {
    name: 'fixed x+n value too short (no fill for signed amounts)', dialect: iso87a, msg: () => msg('0200', { 28: 'D150' }),
    message: 'field 28: expected 9 characters, got 4 at offset 12', field: 28, offset: 12,
  },
  {
    name: 'letter in an ASCII numeric field', dialect: iso87a, msg: () => msg('0200', { 3: '00A000' }),
    message: 'field 3: non-digit in numeric field at offset 14', field: 3, offset: 14,
  },
  {
    name: 'letter in a BCD numeric field', dialect: iso87b, msg: () => msg('0200', { 3: '00A000' }),
    // BCD MTI 2 + bitmap 8: F3 starts at 10, the A is in its second byte
    message: 'field 3: non-digit in numeric field at offset 11', field: 3, offset: 11,
  },
  {
    name: 'non-ASCII Latin-1 character in a text field', dialect: iso87a, msg: () => msg('0200', { 41: 'TER\u00e90001' }),
    message: 'field 41: non-ASCII byte 0xE9 in alphanumeric-special field at offset 15', field: 41, offset: 15,
  },
  {
    name: 'character beyond Latin-1 in a text field', dialect: iso87a, msg: () => msg('0200', { 41: 'TERM\u20ac001' }),
    message: 'field 41: non-ASCII character in text field at offset 16', field: 41, offset: 16,
  },
  {
    name: 'bad x+n sign (ASCII)', dialect: iso87a, msg: () => msg('0200', { 28: 'X00000150' }),
    message: 'field 28: amount sign must be C or D at offset 12', field: 28, offset: 12,
  },
  {
    name: 'bad x+n sign (BCD)', dialect: iso87b, msg: () => msg('0200', { 28: 'X00000150' }),
    message: 'field 28: amount sign must be C or D at offset 10', field: 28, offset: 10,
  },
  {
    name: 'field the dialect lacks',
    dialect: dialectFromOverrides({ base: 'iso87a', fields: { 62: null } }, 'no62.json'),
    msg: () => msg('0200', { 3: '000000', 62: 'ABC' }),
    // F3 occupies 12-17
    message: 'field 62: field 62 is set but dialect iso87a+no62.json does not define it at offset 18', field: 62, offset: 18,
  },
  {
    name: 'field above the dialect range', dialect: iso87a, msg: () => msg('0200', { 3: '000000', 130: 'X' }),
    message: 'field 130: field 130 is set but dialect iso87a stops at 128 at offset 4', field: 130, offset: 4,
  },
  {
    name: 'tertiary bitmap field set by hand', dialect: iso93a, msg: () => msg('1200', { 65: Buffer.alloc(8) }),
    // MTI 4 + primary 8 + secondary 8
    message: 'field 65: field 65 is a bitmap in dialect iso93a and is set automatically at offset 20', field: 65, offset: 20,
  },
  {
    name: 'text value given as bytes', dialect: iso87a, msg: () => msg('0200', { 41: Buffer.from('TERM0001') }),
    message: 'field 41: expected text, got bytes at offset 12', field: 41, offset: 12,
  },
  {
    name: 'cup: TPDU missing', dialect: cup, msg: () => msg('0800', { 11: '000001' }, undefined, '603100311301'),
    message: 'tpdu: dialect cup needs a 5-byte TPDU at offset 0', field: null, offset: 0,
  },
  {
    name: 'cup: TPDU of the wrong size', dialect: cup, msg: () => msg('0800', { 11: '000001' }, '60000100', '603100311301'),
    message: 'tpdu: dialect cup needs a 5-byte TPDU at offset 0', field: null, offset: 0,
  },
  {
    name: 'cup: header missing', dialect: cup, msg: () => msg('0800', { 11: '000001' }, '6000010002'),
    message: 'header: dialect cup needs a 6-byte header, got 0 at offset 5', field: null, offset: 5,
  },
];

t.test('encode errors', async (t) => {
  for (const c of ENCODE_CASES) {
    t.test(c.name, async (t) => throwsIso(t, () => encode(c.dialect, c.msg()), c.message, c.field, c.offset));
  }
});

t.test('encode error offsets do not depend on what was encoded before', async (t) => {
  // The same bad message, once on its own and once after good messages.
  const bad = () => msg('0200', { 3: '00A000' });
  throwsIso(t, () => encode(iso87a, bad()), 'field 3: non-digit in numeric field at offset 14', 3, 14);
  for (let i = 0; i < 3; i++) encode(iso87a, msg('0800', { 11: '000001', 70: '301' }));
  throwsIso(t, () => encode(iso87a, bad()), 'field 3: non-digit in numeric field at offset 14', 3, 14);
});

t.test('an empty secondary bitmap is accepted on decode', async (t) => {
  const bytes = wire(`${ASCII_0200}
    A0 00 00 00 00 00 00 00 # 1010 0000: 1 (secondary) 3
    00 00 00 00 00 00 00 00 # secondary bitmap with no bits set
    30 30 30 30 30 30       # F3 "000000"`);
  const m = decode(iso87a, bytes);
  t.same(m.toJSON(), { mti: '0200', 3: '000000' });
  // The encoder writes the canonical form: no secondary bitmap when no field 65-128 is set.
  t.equal(toHex(encode(iso87a, m)), toHex(wire(`${ASCII_0200}
    20 00 00 00 00 00 00 00 # 0010 0000: 3
    30 30 30 30 30 30`)));
});

t.test('a failed decode leaves nothing behind for the next one', async (t) => {
  // The decoder keeps a bitmap scratch between calls: a message with a secondary bitmap
  // that fails must not leak its bits into a later message without one.
  const withSecondary = wire(`${ASCII_0200}
    80 00 00 00 00 00 00 00 # bit 1
    04 00 00 00 00 00 00 00 # secondary: 70
    33 30                   # F70 cut short`);
  t.throws(() => decode(iso87a, withSecondary));
  const plain = wire(`${ASCII_0200}
    20 00 00 00 00 00 00 00 30 30 30 30 30 30`);
  t.same(decode(iso87a, plain).toJSON(), { mti: '0200', 3: '000000' });
});
