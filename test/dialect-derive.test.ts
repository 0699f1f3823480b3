/**
 * Dialects derived from JSON override data (dialectFromOverrides): EBCDIC text and
 * prefixes, hex-encoded binary fields, binary and LLLL length prefixes, BCD pad choices.
 * Each derived dialect is checked against hand-built bytes. Bad override data must give
 * a DialectError naming the source and the path of the problem.
 */
import t from 'tap';
import {
  decode, dialectFromOverrides, DialectError, encode, getDialect, IsoError, IsoMessage, toHex, type Dialect, type FieldValue,
} from '../codec/index.js';
import { B, wire } from './support/wire.js';



interface Asserts {
  same(a: unknown, b: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
}

/** decode(bytes) == fields, encode(decode(bytes)) == bytes, encode(fields) == bytes. */
function checkVector(t: Asserts, d: Dialect, bytes: Buffer, mti: string, fields: Record<number, FieldValue>, decoded: Record<number, string>): void {
  const m = decode(d, bytes);
  const want: Record<string, string> = { mti };
  for (const [k, v] of Object.entries(decoded)) want[k] = v;
  t.same(m.toJSON(), want, 'decode(bytes) gives the fields');
  t.equal(toHex(encode(d, m)), toHex(bytes), 'encode(decode(bytes)) gives the bytes back');
  t.equal(toHex(encode(d, new IsoMessage(mti, fields))), toHex(bytes), 'encode(hand-built message) gives the bytes');
}

t.test('EBCDIC: MTI, text fields 41/42/43 and an LLL field with an EBCDIC prefix (cp037)', async (t) => {
  const d = dialectFromOverrides({
    base: 'iso87a',
    mti: 'ebcdic',
    fields: {
      41: { encoding: 'ebcdic' },
      42: { encoding: 'ebcdic' },
      43: { encoding: 'ebcdic' },
      48: { encoding: 'ebcdic', prefix: 'ebcdic' },
    },
  }, 'ebcdic.json');
  t.equal(d.name, 'iso87a+ebcdic.json', 'a derived dialect is named after its base and source');
  t.same(d.field(41), { ...getDialect('iso87a').field(41), encoding: 'ebcdic' }, 'overrides merge over the base field');
  t.equal(getDialect('iso87a').field(41)?.encoding, 'ascii', 'the base is untouched');

  const bytes = wire(`
    F0 F2 F0 F0                                  # MTI "0200" in EBCDIC: '0' = F0, '2' = F2
    20                                           # 0010 0000: 3
    20                                           # 0010 0000: 11
    00 00 00
    E1                                           # 1110 0001: 41 42 43 48
    00 00
    30 30 30 30 30 30                            # F3 "000000" (still ASCII)
    30 30 30 31 32 33                            # F11 "000123" (still ASCII)
    E3 C5 D9 D4 F0 F0 F0 F1                      # F41 "TERM0001": T=E3 E=C5 R=D9 M=D4
    D4 C5 D9 C3 C8 C1 D5 E3 F0 F0 F0 F0 F0 F0 F1 # F42 "MERCHANT0000001": C=C3 H=C8 A=C1 N=D5
    C1 C3 D4 C5 40 E2 E3 D6 D9 C5                # F43 "ACME STORE": space = 40, S=E2 O=D6
    ${'40 '.repeat(30)}                          #     filled to 40 with EBCDIC spaces
    F0 F0 F6                                     # F48 LLL "006" in EBCDIC
    C1 C2 C3 F1 F2 F3                            #     "ABC123"
  `);
  checkVector(t, d, bytes, '0200', {
    3: '000000', 11: '000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 43: 'ACME STORE', 48: 'ABC123',
  }, {
    3: '000000', 11: '000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 43: 'ACME STORE' + ' '.repeat(30), 48: 'ABC123',
  });

  t.test('an ASCII prefix where an EBCDIC one belongs is refused', async (t) => {
    const bad = Buffer.from(bytes);
    const at = bytes.length - 9; // F48's prefix
    bad[at] = 0x30; bad[at + 1] = 0x30; bad[at + 2] = 0x36; // "006" in ASCII
    t.throws(() => decode(d, bad), new IsoError(48, at, 'non-numeric length prefix'));
    t.throws(() => decode(d, bad), { message: `field 48: non-numeric length prefix at offset ${at}` });
  });

  t.test('an ASCII MTI is refused by the EBCDIC dialect', async (t) => {
    const bad = Buffer.concat([B('30323030'), bytes.subarray(4)]);
    t.throws(() => decode(d, bad), { message: 'mti: non-digit at offset 0' });
  });
});

t.test('EBCDIC numerics and signed amounts', async (t) => {
  const d = dialectFromOverrides({
    base: 'iso87a', fields: { 4: { encoding: 'ebcdic' }, 28: { encoding: 'ebcdic' }, 32: { encoding: 'ebcdic', prefix: 'ebcdic' } },
  }, 'ebcdic-numerics.json');
  const bytes = wire(`
    30 32 30 30                                  # MTI "0200" (ASCII in this one)
    10 00 00 11 00 00 00 00                      # 0001 0000: 4 | 0001 0001: 28 32
    F0 F0 F0 F0 F0 F0 F0 F0 F1 F0 F0 F0          # F4 "000000001000"
    C4 F0 F0 F0 F0 F0 F1 F5 F0                   # F28 "D00000150": D = C4
    F0 F6 F1 F2 F3 F4 F5 F6                      # F32 LL "06" "123456"
  `);
  checkVector(t, d, bytes, '0200', { 4: '1000', 28: 'D00000150', 32: '123456' },
    { 4: '000000001000', 28: 'D00000150', 32: '123456' });
});

t.test('hex-encoded binary fields', async (t) => {
  const d = dialectFromOverrides({ base: 'iso87a', fields: { 52: { encoding: 'hex' }, 55: { encoding: 'hex' } } }, 'hexb.json');
  const bytes = wire(`
    30 32 30 30                                          # MTI "0200"
    00 00 00 00 00 00 12 00                              # 0001 0010: 52 55
    30 31 32 33 34 35 36 37 38 39 41 42 43 44 45 46      # F52: 8 bytes as 16 hex characters "0123456789ABCDEF"
    30 30 34                                             # F55 LLL "004": the prefix counts BYTES
    38 32 30 32 31 43 30 30                              #     "82021C00"
  `);
  checkVector(t, d, bytes, '0200', { 52: B('0123456789ABCDEF'), 55: B('82021C00') },
    { 52: '0123456789ABCDEF', 55: '82021C00' });

  t.test('lowercase hex decodes; the encoder writes uppercase', async (t) => {
    const lower = Buffer.from(bytes);
    lower[12 + 10] = 0x61; // 'A' -> 'a' in F52
    t.equal(decode(d, lower).get(52), '0123456789ABCDEF');
  });

  t.test('a non-hex character is refused', async (t) => {
    const bad = Buffer.from(bytes);
    bad[12 + 3] = 0x47; // 'G' in F52's second byte (characters 2-3)
    t.throws(() => decode(d, bad), { message: 'field 52: non-hex character in binary field at offset 14' });
  });

  t.test('a hex field cut short says how many bytes it needed', async (t) => {
    // The wording is "expected 8 bytes (16 bytes), got 10 bytes": units vs wire bytes. Only the
    // facts are pinned here, not that phrasing.
    t.throws(() => decode(d, bytes.subarray(0, 12 + 10)), { field: 52, offset: 12, message: /^field 52: expected 8 bytes .*16 bytes.*got 10 bytes at offset 12$/ });
  });
});

t.test('binary length prefixes', async (t) => {
  const d = dialectFromOverrides({ base: 'iso87b', fields: { 2: { prefix: 'binary' }, 48: { prefix: 'binary' } } }, 'binprefix.json');
  const bytes = wire(`
    02 00                                  # MTI 0200 (BCD)
    40 00 00 00 00 01 00 00                # 0100 0000: 2 | 0000 0001: 48
    13                                     # F2 LL as 1 binary byte: 0x13 = 19 digits
    06 21 23 45 67 89 01 23 45 67          #    6212345678901234567 (BCD, leading 0 pad)
    00 0A                                  # F48 LLL as 2 binary bytes: 10 characters
    41 42 43 44 45 31 32 33 34 35          #    "ABCDE12345"
  `);
  checkVector(t, d, bytes, '0200', { 2: '6212345678901234567', 48: 'ABCDE12345' },
    { 2: '6212345678901234567', 48: 'ABCDE12345' });
});

t.test('LLLL prefixes in each prefix encoding', async (t) => {
  const cases: { name: string; base: string; prefix: string; mti: string; prefixHex: string }[] = [
    { name: 'ASCII: 4 digits', base: 'iso87a', prefix: 'ascii', mti: '30 32 30 30', prefixHex: '30 30 31 30' },
    { name: 'BCD: 2 bytes', base: 'iso87b', prefix: 'bcd', mti: '02 00', prefixHex: '00 10' },
    { name: 'binary: 2 bytes', base: 'iso87b', prefix: 'binary', mti: '02 00', prefixHex: '00 0A' },
    { name: 'EBCDIC: 4 digits', base: 'iso87a', prefix: 'ebcdic', mti: '30 32 30 30', prefixHex: 'F0 F0 F1 F0' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const d = dialectFromOverrides({ base: c.base, fields: { 48: { length: 'LLLL', max: 5000, prefix: c.prefix } } }, 'llll.json');
      const bytes = wire(`
        ${c.mti}                           # MTI 0200
        00 00 00 00 00 01 00 00            # 0000 0001: 48
        ${c.prefixHex}                     # F48 LLLL: 10
        41 42 43 44 45 31 32 33 34 35      #    "ABCDE12345"
      `);
      checkVector(t, d, bytes, '0200', { 48: 'ABCDE12345' }, { 48: 'ABCDE12345' });
    });
  }

  t.test('a long LLLL value: 1234 characters, ASCII prefix "1234"', async (t) => {
    const d = dialectFromOverrides({ base: 'iso87a', fields: { 48: { length: 'LLLL', max: 5000 } } }, 'llll.json');
    const value = 'x'.repeat(1234);
    const bytes = Buffer.concat([
      wire('30 32 30 30  00 00 00 00 00 01 00 00  31 32 33 34 # MTI, bitmap 48, prefix "1234"'),
      Buffer.from(value, 'latin1'),
    ]);
    checkVector(t, d, bytes, '0200', { 48: value }, { 48: value });
    t.throws(() => encode(d, new IsoMessage('0200', { 48: 'x'.repeat(5001) })),
      { message: 'field 48: value too long: 5001 characters, max 5000 at offset 12' });
  });
});

t.test('BCD pad choices: rightF, leftF, right0', async (t) => {
  const d = dialectFromOverrides({
    base: 'iso87b', fields: { 2: { pad: 'rightF' }, 22: { pad: 'leftF' }, 32: { pad: 'right0' } },
  }, 'pads.json');
  const bytes = wire(`
    02 00                                  # MTI 0200
    40 00 04 01 00 00 00 00                # 0100 0000: 2 | 0000 0100: 22 | 0000 0001: 32
    19                                     # F2 LL 19 digits
    62 12 34 56 78 90 12 34 56 7F          #    left-aligned, trailing F pad
    F0 51                                  # F22 051 with a leading F pad
    05                                     # F32 LL 5 digits
    12 34 50                               #    12345 left-aligned, trailing 0 pad
  `);
  checkVector(t, d, bytes, '0200', { 2: '6212345678901234567', 22: '051', 32: '12345' },
    { 2: '6212345678901234567', 22: '051', 32: '12345' });

  t.test('the base dialect pads with a leading 0', async (t) => {
    const base = getDialect('iso87b');
    t.equal(toHex(encode(base, new IsoMessage('0200', { 22: '051' }))), '0200' + '0000040000000000' + '0051');
  });
});

t.test('pad on a fixed text field chooses the fill (spec.ts: "for fixed text the fill character")', async (t) => {
  const d = dialectFromOverrides({ base: 'iso87a', fields: { 41: { pad: 'left0' } } }, 'tid-zeros.json');
  const bytes = wire(`
    30 32 30 30                  # MTI "0200"
    00 00 00 00 00 80 00 00      # 1000 0000: 41
    30 30 30 30 30 31 32 33      # F41 "123" filled to 8 with zeros on the left: "00000123"
  `);
  t.equal(toHex(encode(d, new IsoMessage('0200', { 41: '123' }))), toHex(bytes), 'left0: leading zeros');
  t.equal(toHex(encode(getDialect('iso87a'), new IsoMessage('0200', { 41: '123' }))),
    toHex(wire('30323030 0000000000800000 31 32 33 20 20 20 20 20 # "123     "')), 'the default: trailing spaces');
});

t.test('partial overrides and removals', async (t) => {
  const d = dialectFromOverrides({ base: 'iso87a', name: 'acme', fields: { 48: { max: 500 }, 62: null, '063': { max: 20 } } }, 'acme.json');
  t.equal(d.name, 'acme');
  t.same(d.field(48), { ...getDialect('iso87a').field(48), max: 500 });
  t.equal(d.field(62), undefined, 'F62 removed');
  t.equal(d.fields[62], undefined, 'and not compiled');
  t.equal(d.field(63)?.max, 20, '"063" names field 63');
  t.throws(() => encode(d, new IsoMessage('0200', { 48: 'x'.repeat(501) })),
    { message: 'field 48: value too long: 501 characters, max 500 at offset 12' });

  const fixed = dialectFromOverrides({ base: 'iso87a', fields: { 2: { length: 'fixed', max: 16 } } }, 'fixed-pan.json');
  t.same(fixed.field(2), { type: 'n', length: 'fixed', max: 16, encoding: 'ascii', label: 'Primary account number' },
    'a field turned fixed loses the base prefix');
  t.equal(toHex(encode(fixed, new IsoMessage('0200', { 2: '4111111111111111' }))),
    toHex(Buffer.concat([B('303230304000000000000000'), Buffer.from('4111111111111111')])), 'no length prefix on the wire');

  const cupNoTpdu = dialectFromOverrides({ base: 'cup', envelope: { tpdu: false } }, 'cup-notpdu.json');
  t.equal(cupNoTpdu.tpdu, false);
  t.equal(cupNoTpdu.headerLength, 6, 'envelope overrides merge too');
});

t.test('bad override data: DialectError naming the source and path', async (t) => {
  const full = { type: 'ans', length: 'LLL', max: 10, encoding: 'ascii', prefix: 'ascii', label: 'x' };
  const cases: [string, unknown, string, string][] = [
    ['unknown encoding', { fields: { 48: { encoding: 'utf8' } } },
      'fields.48.encoding', 'expected one of ascii, bcd, ebcdic, binary, hex, got "utf8"'],
    ['encoding the type cannot use', { fields: { 48: { encoding: 'bcd' } } },
      'fields.48.encoding', 'type ans cannot use encoding bcd; expected one of ascii, ebcdic'],
    ['hex for a numeric', { fields: { 2: { encoding: 'hex' } } },
      'fields.2.encoding', 'type n cannot use encoding hex; expected one of ascii, bcd, ebcdic'],
    ['unknown prefix', { fields: { 48: { prefix: 'utf16' } } },
      'fields.48.prefix', 'expected one of ascii, bcd, binary, ebcdic, got "utf16"'],
    ['unknown pad', { fields: { 2: { pad: 'middle' } } },
      'fields.2.pad', 'expected one of left0, leftF, right0, rightF, rightSpace, none, got "middle"'],
    ['unknown length kind', { fields: { 2: { length: 'LLLLL' } } },
      'fields.2.length', 'expected one of fixed, LL, LLL, LLLL, got "LLLLL"'],
    ['unknown type', { fields: { 2: { type: 'num' } } },
      'fields.2.type', 'expected one of n, an, ans, b, z, x+n, got "num"'],
    ['max above what LL can say', { fields: { 2: { max: 100 } } },
      'fields.2.max', 'expected an integer from 1 to 99, got 100'],
    ['max as a string', { fields: { 2: { max: '19' } } },
      'fields.2.max', 'expected an integer from 1 to 99, got "19"'],
    ['max zero', { fields: { 48: { max: 0 } } },
      'fields.48.max', 'expected an integer from 1 to 999, got 0'],
    ['unknown field key', { fields: { 2: { size: 3 } } }, 'fields.2.size', 'unknown key'],
    ['empty label', { fields: { 2: { label: '' } } }, 'fields.2.label', 'expected a non-empty string'],
    ['prefix on a fixed field', { fields: { 3: { prefix: 'ascii' } } }, 'fields.3.prefix', 'a fixed field has no length prefix'],
    ['LL field left without a prefix', { fields: { 3: { length: 'LL' } } },
      'fields.3.prefix', 'expected one of ascii, bcd, binary, ebcdic, got undefined'],
    ['field entry not an object', { fields: { 48: 'big' } }, 'fields.48', 'expected an object or null'],
    ['fields not an object', { fields: [1, 2] }, 'fields', 'expected an object keyed by field number'],
    ['field number out of range', { fields: { 129: full } }, 'fields.129', 'expected a field number from 1 to 128'],
    ['field key not a number', { fields: { abc: full } }, 'fields.abc', 'expected a field number from 1 to 128'],
    ['unknown top-level key', { colour: 'red' },
      'colour', 'unknown key; expected one of name, base, description, version, mti, bitmap, tertiary, envelope, echo, fields, keep'],
    ['unknown base', { base: 'iso99' }, 'base', 'expected one of iso87a, iso87a-hex, iso87b, iso93a, cup, got "iso99"'],
    ['base not a string', { base: 87 }, 'base', 'expected one of iso87a, iso87a-hex, iso87b, iso93a, cup, got 87'],
    ['bad MTI encoding', { mti: 'utf8' }, 'mti', 'expected one of ascii, bcd, ebcdic, got "utf8"'],
    ['bad bitmap style', { bitmap: 'octal' }, 'bitmap', 'expected binary or hex, got "octal"'],
    ['bad version', { version: '2003' }, 'version', 'expected "1987" or "1993", got "2003"'],
    ['bad tertiary', { tertiary: 'yes' }, 'tertiary', 'expected true or false'],
    ['header too long', { envelope: { header: 100 } }, 'envelope.header', 'expected a byte count from 0 to 64, got 100'],
    ['bad envelope.tpdu', { envelope: { tpdu: 1 } }, 'envelope.tpdu', 'expected true or false'],
    ['echo field out of range', { echo: [2, 1] }, 'echo[1]', 'expected a field number from 2 to 128, got 1'],
    ['echo not an array', { echo: '2,3' }, 'echo', 'expected an array of field numbers'],
    ['not an object', [], '', 'expected a JSON object'],
    ['null', null, '', 'expected a JSON object'],
  ];
  for (const [name, data, path, reason] of cases) {
    t.test(name, async (t) => {
      let thrown: unknown;
      try {
        dialectFromOverrides(data, 'bad.json');
      } catch (e) {
        thrown = e;
      }
      t.ok(thrown instanceof DialectError, 'DialectError');
      if (thrown instanceof DialectError) {
        t.equal(thrown.message, `bad.json: ${path ? path + ': ' : ''}${reason}`);
        t.equal(thrown.source, 'bad.json');
        t.equal(thrown.path, path);
      }
    });
  }
});
