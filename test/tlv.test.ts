import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { IsoError } from '../codec/errors.js';
import { encodeTlv, findTag, parseTlv, redactTlv, SENSITIVE_TAGS, type TlvItem } from '../codec/tlv.js';
import { isoError } from './support/wire.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').toUpperCase();
}

/** Plain objects so tap compares contents, whatever buffer a value views. */
function norm(items: readonly TlvItem[]): { tag: string; value: string; constructed: boolean }[] {
  return items.map((i) => ({ tag: i.tag, value: toHex(i.value), constructed: i.constructed }));
}


// A Visa test card (public test PAN), so no real card data in the repo.
const PAN = '4761739001010010';
const TRACK2 = `${PAN}D22122011143804400000F`;
const SDAD = 'AB'.repeat(130);

const F55_ITEMS: [string, string][] = [
  ['9F26', '1A2B3C4D5E6F7081'],
  ['9F27', '80'],
  ['9F10', '0110A04003240000000000000000000000FF'],
  ['9F37', '9BADBCAB'],
  ['9F36', '0001'],
  ['95', '0000008000'],
  ['9A', '240115'],
  ['9C', '00'],
  ['9F02', '000000001000'],
  ['5F2A', '0840'],
  ['82', '1980'],
  ['9F1A', '0840'],
  ['9F03', '000000000000'],
  ['9F33', 'E0F8C8'],
  ['57', TRACK2],
  ['5A', PAN],
  ['5F34', '01'],
  ['5F20', '5445535420434152442F56495341'], // cardholder name stays
  ['9F4B', SDAD],
];

const F55 = hex(
  F55_ITEMS.map(([tag, v]) => {
    const len = v.length / 2;
    return tag + (len < 0x80 ? len.toString(16).padStart(2, '0') : '81' + len.toString(16));
  })
    .map((head, k) => head + F55_ITEMS[k][1])
    .join(''),
);

t.test('parses a real-looking F55 in order', (t) => {
  const items = parseTlv(F55);
  t.same(
    norm(items),
    F55_ITEMS.map(([tag, value]) => ({ tag, value, constructed: false })),
  );
  const sdad = findTag(items, '9F4B');
  t.equal(sdad?.value.length, 130, 'long-form length item');
  t.equal(findTag(items, '9f26')?.tag, '9F26', 'findTag ignores case');
  t.equal(findTag(items, '9F27')?.value[0], 0x80);
  t.equal(findTag(items, '9F6B'), undefined);
  t.end();
});

t.test('encodeTlv reproduces the F55 byte for byte, with 81 82 for the 130-byte item', (t) => {
  const out = encodeTlv(parseTlv(F55));
  t.equal(toHex(out), toHex(F55));
  t.match(toHex(out), `9F4B8182${SDAD}`);
  t.end();
});

t.test('values are subarrays of the input, not copies', (t) => {
  const items = parseTlv(F55);
  t.equal(items[0].value.buffer, F55.buffer);
  t.equal(items[0].value.byteOffset, F55.byteOffset + 3);
  t.end();
});

t.test('length forms', (t) => {
  const cases: [number, string][] = [
    [0, '00'],
    [0x7f, '7F'],
    [0x80, '8180'],
    [0xff, '81FF'],
    [0x100, '820100'],
    [300, '82012C'],
    [0xffff, '82FFFF'],
    [70000, '83011170'],
  ];
  for (const [len, head] of cases) {
    const value = new Uint8Array(len).fill(0x5a);
    const out = encodeTlv([{ tag: '9F4B', value, constructed: false }]);
    t.equal(toHex(out.subarray(0, 2 + head.length / 2)), `9F4B${head}`, `length ${len}`);
    t.equal(out.length, 2 + head.length / 2 + len);
    const back = parseTlv(out);
    t.equal(back.length, 1);
    t.equal(back[0].value.length, len);
  }
  t.end();
});

t.test('non-minimal lengths parse; re-encoding makes them minimal', (t) => {
  const items = parseTlv(hex('9A 81 03 240115 9C 82 0001 00 5F2A 83 000002 0840'));
  t.same(norm(items), [
    { tag: '9A', value: '240115', constructed: false },
    { tag: '9C', value: '00', constructed: false },
    { tag: '5F2A', value: '0840', constructed: false },
  ]);
  t.equal(toHex(encodeTlv(items)), '9A032401159C01005F2A020840');
  t.end();
});

t.test('00 and FF padding before, between and after items is skipped', (t) => {
  const items = parseTlv(hex('00 FF 9A 03 240115 00 00 FF 9C 01 00 FF 00'));
  t.same(norm(items), [
    { tag: '9A', value: '240115', constructed: false },
    { tag: '9C', value: '00', constructed: false },
  ]);
  t.same(parseTlv(hex('0000FFFF')), []);
  t.same(parseTlv(new Uint8Array(0)), []);
  t.end();
});

t.test('multi-byte tags and constructed items', (t) => {
  const bytes = hex('9F8101 01 AA  DF8120 00  BF0C 05 9F4D 02 0B0A  71 07 9F18 04 00000001');
  t.same(norm(parseTlv(bytes)), [
    { tag: '9F8101', value: 'AA', constructed: false },
    { tag: 'DF8120', value: '', constructed: false },
    { tag: 'BF0C', value: '9F4D020B0A', constructed: true },
    { tag: '71', value: '9F180400000001', constructed: true },
  ]);
  t.equal(findTag(parseTlv(bytes), '9F4D'), undefined, 'findTag stays at the top level');
  t.same(norm(parseTlv(findTag(parseTlv(bytes), '71')?.value ?? new Uint8Array(0))), [
    { tag: '9F18', value: '00000001', constructed: false },
  ]);
  t.same(norm(parseTlv(hex('9F818101 00'))), [{ tag: '9F818101', value: '', constructed: false }], '4-byte tag');
  t.end();
});

t.test('parse errors name the field and offset, never the bytes', (t) => {
  t.strictSame(
    isoError(() => parseTlv(hex('9F'))),
    { field: 55, offset: 0, message: 'field 55: truncated tag at offset 0' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9A0124 00 9F81'))),
    { field: 55, offset: 4, message: 'field 55: truncated tag at offset 4' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9F8181810100'))),
    { field: 55, offset: 0, message: 'field 55: tag longer than 4 bytes at offset 0' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9A'))),
    { field: 55, offset: 1, message: 'field 55: truncated length at offset 1' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9F26'))),
    { field: 55, offset: 2, message: 'field 55: truncated length at offset 2' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9F4B 82 01'))),
    { field: 55, offset: 2, message: 'field 55: truncated length at offset 2' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9F4B 83 0000'))),
    { field: 55, offset: 2, message: 'field 55: truncated length at offset 2' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('70 80 9A0124 0000'))),
    { field: 55, offset: 1, message: 'field 55: indefinite length unsupported at offset 1' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9F4B 84 00000001 AA'))),
    { field: 55, offset: 2, message: 'field 55: long-form length over 3 bytes unsupported at offset 2' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9A 03 2401'))),
    { field: 55, offset: 1, message: 'field 55: length 3 runs past the end (2 left) at offset 1' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9C0100 9F4B 81 82 AAAA'))),
    { field: 55, offset: 5, message: 'field 55: length 130 runs past the end (2 left) at offset 5' },
  );
  t.strictSame(
    isoError(() => parseTlv(hex('9A'), 255)),
    { field: 255, offset: 1, message: 'field 255: truncated length at offset 1' },
  );

  try {
    parseTlv(hex(`57 20 ${TRACK2}`));
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof IsoError);
    t.notMatch(String((e as Error).message), PAN.slice(0, 6));
    t.notMatch(String((e as Error).message), '4761');
  }
  t.end();
});

t.test('encode errors', (t) => {
  const v = new Uint8Array(1);
  const enc = (tag: string, constructed = false) => () =>
    encodeTlv([
      { tag: '9C', value: v, constructed: false },
      { tag, value: v, constructed },
    ]);
  t.strictSame(isoError(enc('')), { field: 55, offset: -1, message: 'field 55: item 1: empty tag' });
  t.strictSame(
    isoError(enc('9F2')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag must be 1 to 4 bytes of hex' },
  );
  t.strictSame(
    isoError(enc('9F81818101')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag must be 1 to 4 bytes of hex' },
  );
  t.strictSame(isoError(enc('9G')), { field: 55, offset: -1, message: 'field 55: item 1: tag is not hex' });
  t.strictSame(
    isoError(enc('00')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag may not start with padding byte 00 or FF' },
  );
  t.strictSame(
    isoError(enc('FF01', true)),
    { field: 55, offset: -1, message: 'field 55: item 1: tag may not start with padding byte 00 or FF' },
  );
  t.strictSame(
    isoError(enc('9F')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag is missing its subsequent bytes' },
  );
  t.strictSame(
    isoError(enc('5A01')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag continues after a one-byte tag number' },
  );
  t.strictSame(
    isoError(enc('9F0181')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag continuation bits are inconsistent' },
  );
  t.strictSame(
    isoError(enc('9F81')),
    { field: 55, offset: -1, message: 'field 55: item 1: tag continuation bits are inconsistent' },
  );
  t.strictSame(
    isoError(enc('9F26', true)),
    { field: 55, offset: -1, message: 'field 55: item 1: constructed flag disagrees with the tag' },
  );
  t.strictSame(
    isoError(enc('70', false)),
    { field: 55, offset: -1, message: 'field 55: item 1: constructed flag disagrees with the tag' },
  );
  t.strictSame(
    isoError(() => encodeTlv([{ tag: '9F4B', value: new Uint8Array(0x1000000), constructed: false }], 255)),
    { field: 255, offset: -1, message: 'field 255: item 0: value longer than 16777215 bytes' },
  );
  t.equal(toHex(encodeTlv([{ tag: '9f26', value: v, constructed: false }])), '9F260100', 'lowercase hex is accepted');
  t.equal(encodeTlv([]).length, 0);
  t.end();
});

t.test('SENSITIVE_TAGS', (t) => {
  t.same([...SENSITIVE_TAGS].sort(), ['56', '57', '5A', '9F1F', '9F20', '9F6B']);
  t.notOk(SENSITIVE_TAGS.includes('5F20'), 'cardholder name is kept');
  t.ok(Object.isFrozen(SENSITIVE_TAGS));
  t.end();
});

t.test('redactTlv empties track and PAN values and keeps the rest', (t) => {
  const red = redactTlv(F55);
  const items = parseTlv(red);
  t.same(
    norm(items),
    F55_ITEMS.map(([tag, value]) => ({ tag, value: SENSITIVE_TAGS.includes(tag) ? '' : value, constructed: false })),
  );
  t.notMatch(toHex(red), PAN);
  t.notMatch(toHex(red), '4761739001');
  t.equal(toHex(F55).includes(PAN), true, 'input is not modified');
  t.end();
});

t.test('redactTlv reaches into constructed templates', (t) => {
  const t70 = `57 13 ${TRACK2} 5F20 02 4142`;
  const tBF0C = `9F6B 08 ${PAN} 5F34 01 01 00 FF 9F1F 00`;
  const bytes = hex(
    `9F2701 80  70 ${hex(t70).length.toString(16)} ${t70}  BF0C ${hex(tBF0C).length.toString(16)} ${tBF0C}`,
  );
  const items = parseTlv(redactTlv(bytes));
  t.same(norm(items), [
    { tag: '9F27', value: '80', constructed: false },
    { tag: '70', value: '57005F20024142', constructed: true },
    { tag: 'BF0C', value: '9F6B005F3401019F1F00', constructed: true },
  ]);
  t.end();
});

t.test('redactTlv throws on malformed input, with offsets in the whole field', (t) => {
  t.strictSame(
    isoError(() => redactTlv(hex('9A'))),
    { field: 55, offset: 1, message: 'field 55: truncated length at offset 1' },
  );
  t.strictSame(
    isoError(() => redactTlv(hex('9C0100 70 03 57 05 47'))),
    { field: 55, offset: 6, message: 'field 55: length 5 runs past the end (1 left) at offset 6' },
  );
  let deep = hex('9C0100');
  for (let k = 0; k < 17; k++) deep = Uint8Array.from([0x70, deep.length, ...deep]);
  t.strictSame(
    isoError(() => redactTlv(deep)),
    { field: 55, offset: 34, message: 'field 55: templates nested deeper than 16 at offset 34' },
  );
  let ok = hex('9C0100');
  for (let k = 0; k < 16; k++) ok = Uint8Array.from([0x70, ok.length, ...ok]);
  t.equal(toHex(redactTlv(ok)), toHex(ok), '16 levels are fine');
  t.end();
});

// ---------------------------------------------------------------------------------------
// Properties

const byte = fc.integer({ min: 0, max: 255 });
const tagArb: fc.Arbitrary<string> = fc.oneof(
  // one-byte tag number: not 0x00/0xFF padding, low five bits not all set
  byte.filter((b) => b !== 0 && (b & 0x1f) !== 0x1f).map((b) => [b]),
  fc
    .tuple(
      byte.filter((b) => (b & 0x1f) === 0x1f && b !== 0xff),
      fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 2 }),
      fc.integer({ min: 0, max: 0x7f }),
    )
    .map(([first, middle, last]) => [first, ...middle, last]),
).map((bytes) => toHex(Uint8Array.from(bytes)));

const itemArb: fc.Arbitrary<TlvItem> = fc
  .tuple(tagArb, fc.uint8Array({ maxLength: 300 }))
  .map(([tag, value]) => ({ tag, value, constructed: (parseInt(tag.slice(0, 2), 16) & 0x20) !== 0 }));

t.test('property: parseTlv(encodeTlv(items)) gives the items back', (t) => {
  fc.assert(
    fc.property(fc.array(itemArb, { maxLength: 12 }), (items) => {
      const enc = encodeTlv(items);
      const back = parseTlv(enc);
      assert.deepEqual(norm(back), norm(items));
      assert.equal(toHex(encodeTlv(back)), toHex(enc));
    }),
    { numRuns: 300 },
  );
  t.pass('300 runs');
  t.end();
});

t.test('property: padding between items changes nothing', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(itemArb, fc.array(fc.constantFrom(0x00, 0xff), { maxLength: 3 })), { maxLength: 8 }),
      (pairs) => {
        const parts: number[] = [];
        for (const [item, pad] of pairs) parts.push(...pad, ...encodeTlv([item]));
        assert.deepEqual(norm(parseTlv(Uint8Array.from(parts))), norm(pairs.map(([item]) => item)));
      },
    ),
    { numRuns: 200 },
  );
  t.pass('200 runs');
  t.end();
});

t.test('property: redactTlv empties exactly the sensitive values', (t) => {
  const mixed = fc.oneof(
    itemArb,
    fc
      .tuple(fc.constantFrom(...SENSITIVE_TAGS), fc.uint8Array({ maxLength: 40 }))
      .map(([tag, value]): TlvItem => ({ tag, value, constructed: false })),
  );
  fc.assert(
    fc.property(fc.array(mixed, { maxLength: 10 }), (items) => {
      const primitive = items.filter((i) => !i.constructed);
      const emptied = primitive.map((i) => (SENSITIVE_TAGS.includes(i.tag) ? { ...i, value: new Uint8Array(0) } : i));
      const want = norm(emptied);
      assert.deepEqual(norm(parseTlv(redactTlv(encodeTlv(primitive)))), want);
      // The same items one template down.
      const wrapped = encodeTlv([{ tag: 'BF0C', value: encodeTlv(primitive), constructed: true }]);
      const inner = parseTlv(redactTlv(wrapped))[0].value;
      assert.deepEqual(norm(parseTlv(inner)), want);
    }),
    { numRuns: 200 },
  );
  t.pass('200 runs');
  t.end();
});

t.test('property: random bytes either parse or throw IsoError, nothing else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const fn of [() => parseTlv(bytes), () => redactTlv(bytes)]) {
        try {
          fn();
        } catch (e) {
          if (!(e instanceof IsoError)) throw e;
          assert.equal(e.field, 55);
          assert.ok(e.offset >= 0 && e.offset <= bytes.length, 'offset inside the field');
        }
      }
      // Whatever parses is in normal form after one re-encode.
      let items: TlvItem[];
      try {
        items = parseTlv(bytes);
      } catch {
        return;
      }
      const once = encodeTlv(items);
      assert.equal(toHex(encodeTlv(parseTlv(once))), toHex(once));
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 runs');
  t.end();
});
