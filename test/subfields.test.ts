import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { IsoError } from '../codec/errors.js';
import {
  formatCup60,
  formatCup61,
  formatF56,
  formatF90,
  formatF95,
  parseCup60,
  parseCup61,
  parseF56,
  parseF90,
  parseF95,
  type Cup60,
  type Cup61,
  type OriginalData93,
} from '../codec/subfields.js';
import { isoError } from './support/wire.js';


// ---------------------------------------------------------------------------------------
// F90

const F90 = '0200' + '123456' + '0115103000' + '00000012345' + '00000000000';

t.test('F90 parse and format', (t) => {
  t.equal(F90.length, 42);
  t.same(parseF90(F90), {
    mti: '0200',
    stan: '123456',
    transmissionDateTime: '0115103000',
    acquirer: '00000012345',
    forwarder: '00000000000',
  });
  t.equal(formatF90({ mti: '0200', stan: '123456', transmissionDateTime: '0115103000', acquirer: '12345' }), F90);
  t.equal(
    formatF90({ mti: '0200', stan: '123456', transmissionDateTime: '0115103000' }),
    '0200123456011510300000000000000' + '00000000000',
    'missing acquirer and forwarder are zeros',
  );
  t.equal(
    formatF90({
      mti: '0100',
      stan: '000001',
      transmissionDateTime: '1231235959',
      acquirer: '12345678901',
      forwarder: '1',
    }),
    '0100000001123123595912345678901' + '00000000001',
  );
  t.end();
});

t.test('F90 parse errors', (t) => {
  t.strictSame(
    isoError(() => parseF90('')),
    { field: 90, offset: 0, message: 'field 90: MTI: expected 4 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseF90('02a0' + F90.slice(4))),
    { field: 90, offset: 0, message: 'field 90: MTI: expected 4 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseF90('0200 23456' + F90.slice(10))),
    { field: 90, offset: 4, message: 'field 90: STAN: expected 6 digits at offset 4' },
  );
  t.strictSame(
    isoError(() => parseF90(F90.slice(0, 19) + 'x' + F90.slice(20))),
    { field: 90, offset: 10, message: 'field 90: transmission date-time: expected 10 digits at offset 10' },
  );
  t.strictSame(
    isoError(() => parseF90(F90.slice(0, 20) + '-' + F90.slice(21))),
    { field: 90, offset: 20, message: 'field 90: acquirer: expected 11 digits at offset 20' },
  );
  t.strictSame(
    isoError(() => parseF90(F90.slice(0, 41))),
    { field: 90, offset: 31, message: 'field 90: forwarder: expected 11 digits at offset 31' },
  );
  t.strictSame(
    isoError(() => parseF90(F90 + '0')),
    { field: 90, offset: 42, message: 'field 90: too long: expected 42 digits at offset 42' },
  );
  t.end();
});

t.test('F90 format errors', (t) => {
  const ok = { mti: '0200', stan: '123456', transmissionDateTime: '0115103000' };
  t.strictSame(
    isoError(() => formatF90({ ...ok, mti: '200' })),
    { field: 90, offset: -1, message: 'field 90: MTI: expected 4 digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, stan: '12345a' })),
    { field: 90, offset: -1, message: 'field 90: STAN: expected 6 digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, transmissionDateTime: '01151030000' })),
    { field: 90, offset: -1, message: 'field 90: transmission date-time: expected 10 digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, acquirer: '123456789012' })),
    { field: 90, offset: -1, message: 'field 90: acquirer: at most 11 digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, acquirer: '12 45' })),
    { field: 90, offset: -1, message: 'field 90: acquirer: expected digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, acquirer: '' })),
    { field: 90, offset: -1, message: 'field 90: acquirer: expected digits' },
  );
  t.strictSame(
    isoError(() => formatF90({ ...ok, forwarder: '123456789012' })),
    { field: 90, offset: -1, message: 'field 90: forwarder: at most 11 digits' },
  );
  t.end();
});

// ---------------------------------------------------------------------------------------
// F56

const F56 = '1200' + '123456' + '240115103000' + '06' + '123456';

t.test('F56 parse and format', (t) => {
  const d = { mti: '1200', stan: '123456', localDateTime: '240115103000', acquirer: '123456' };
  t.same(parseF56(F56), d);
  t.equal(formatF56(d), F56);
  t.equal(formatF56({ ...d, acquirer: '' }), '1200123456240115103000' + '00');
  t.same(parseF56('1200123456240115103000' + '00'), { ...d, acquirer: '' });
  const max = '1200123456240115103000' + '11' + '12345678901';
  t.equal(max.length, 35);
  t.equal(parseF56(max).acquirer, '12345678901');
  t.end();
});

t.test('F56 errors', (t) => {
  t.strictSame(
    isoError(() => parseF56('12')),
    { field: 56, offset: 0, message: 'field 56: MTI: expected 4 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseF56('1200 23456' + F56.slice(10))),
    { field: 56, offset: 4, message: 'field 56: STAN: expected 6 digits at offset 4' },
  );
  t.strictSame(
    isoError(() => parseF56(F56.slice(0, 21))),
    { field: 56, offset: 10, message: 'field 56: local date-time: expected 12 digits at offset 10' },
  );
  t.strictSame(
    isoError(() => parseF56(F56.slice(0, 23))),
    { field: 56, offset: 22, message: 'field 56: acquirer length: expected 2 digits at offset 22' },
  );
  t.strictSame(
    isoError(() => parseF56(F56.slice(0, 22) + '1212345678901')),
    { field: 56, offset: 22, message: 'field 56: acquirer length: at most 11 at offset 22' },
  );
  t.strictSame(
    isoError(() => parseF56(F56.slice(0, 29))),
    { field: 56, offset: 24, message: 'field 56: acquirer: expected 6 digits at offset 24' },
  );
  t.strictSame(
    isoError(() => parseF56(F56 + '7')),
    { field: 56, offset: 30, message: 'field 56: trailing characters after acquirer at offset 30' },
  );

  const d: OriginalData93 = { mti: '1200', stan: '123456', localDateTime: '240115103000', acquirer: '1' };
  t.strictSame(
    isoError(() => formatF56({ ...d, mti: '12000' })),
    { field: 56, offset: -1, message: 'field 56: MTI: expected 4 digits' },
  );
  t.strictSame(
    isoError(() => formatF56({ ...d, stan: '' })),
    { field: 56, offset: -1, message: 'field 56: STAN: expected 6 digits' },
  );
  t.strictSame(
    isoError(() => formatF56({ ...d, localDateTime: '0115103000' })),
    { field: 56, offset: -1, message: 'field 56: local date-time: expected 12 digits' },
  );
  t.strictSame(
    isoError(() => formatF56({ ...d, acquirer: '123456789012' })),
    { field: 56, offset: -1, message: 'field 56: acquirer: at most 11 digits' },
  );
  t.strictSame(
    isoError(() => formatF56({ ...d, acquirer: '12A' })),
    { field: 56, offset: -1, message: 'field 56: acquirer: expected digits' },
  );
  t.end();
});

// ---------------------------------------------------------------------------------------
// F95

t.test('F95 parse and format', (t) => {
  // A 100.00 sale reversed down to 30.00: F95 carries the 30.00 that stands.
  const v = '000000003000' + '000000000000' + 'C00000000' + 'C00000000';
  t.equal(v.length, 42);
  t.equal(formatF95({ transaction: '3000' }), v);
  t.same(parseF95(v), {
    transaction: '000000003000',
    settlement: '000000000000',
    transactionFee: 'C00000000',
    settlementFee: 'C00000000',
  });
  const full = formatF95({
    transaction: '123456789012',
    settlement: '2750',
    transactionFee: 'D150',
    settlementFee: 'C12345678',
  });
  t.equal(full, '123456789012' + '000000002750' + 'D00000150' + 'C12345678');
  t.same(parseF95(full), {
    transaction: '123456789012',
    settlement: '000000002750',
    transactionFee: 'D00000150',
    settlementFee: 'C12345678',
  });
  t.end();
});

t.test('F95 errors', (t) => {
  const v = '000000003000' + '000000000000' + 'D00000150' + 'C00000000';
  t.strictSame(
    isoError(() => parseF95('')),
    { field: 95, offset: 0, message: 'field 95: transaction amount: expected 12 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseF95(v.slice(0, 12) + ' '.repeat(12) + v.slice(24))),
    { field: 95, offset: 12, message: 'field 95: settlement amount: expected 12 digits at offset 12' },
  );
  t.strictSame(
    isoError(() => parseF95(v.slice(0, 24) + 'X' + v.slice(25))),
    { field: 95, offset: 24, message: 'field 95: transaction fee: expected C or D then 8 digits at offset 24' },
  );
  t.strictSame(
    isoError(() => parseF95(v.slice(0, 24) + 'c' + v.slice(25))),
    { field: 95, offset: 24, message: 'field 95: transaction fee: expected C or D then 8 digits at offset 24' },
  );
  t.strictSame(
    isoError(() => parseF95(v.slice(0, 30) + 'a' + v.slice(31))),
    { field: 95, offset: 24, message: 'field 95: transaction fee: expected C or D then 8 digits at offset 24' },
  );
  t.strictSame(
    isoError(() => parseF95(v.slice(0, 41))),
    { field: 95, offset: 33, message: 'field 95: settlement fee: expected C or D then 8 digits at offset 33' },
  );
  t.strictSame(
    isoError(() => parseF95(v + ' ')),
    { field: 95, offset: 42, message: 'field 95: too long: expected 42 characters at offset 42' },
  );

  t.strictSame(
    isoError(() => formatF95({ transaction: '1234567890123' })),
    { field: 95, offset: -1, message: 'field 95: transaction amount: at most 12 digits' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '' })),
    { field: 95, offset: -1, message: 'field 95: transaction amount: expected digits' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '12.50' })),
    { field: 95, offset: -1, message: 'field 95: transaction amount: expected digits' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '1', settlement: '-1' })),
    { field: 95, offset: -1, message: 'field 95: settlement amount: expected digits' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '1', transactionFee: '150' })),
    { field: 95, offset: -1, message: 'field 95: transaction fee: expected C or D first' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '1', transactionFee: '' })),
    { field: 95, offset: -1, message: 'field 95: transaction fee: expected C or D first' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '1', settlementFee: 'C123456789' })),
    { field: 95, offset: -1, message: 'field 95: settlement fee: at most 8 digits' },
  );
  t.strictSame(
    isoError(() => formatF95({ transaction: '1', settlementFee: 'D' })),
    { field: 95, offset: -1, message: 'field 95: settlement fee: expected digits' },
  );
  t.end();
});

// ---------------------------------------------------------------------------------------
// UnionPay F60

t.test('Cup60 parse and format at every stopping point', (t) => {
  const cases: [string, Cup60][] = [
    ['22000001', { type: '22', batch: '000001' }],
    ['22000001000', { type: '22', batch: '000001', networkCode: '000' }],
    ['00000001201', { type: '00', batch: '000001', networkCode: '201' }],
    ['220000010005', { type: '22', batch: '000001', networkCode: '000', readCapability: '5' }],
    ['2300004200050', { type: '23', batch: '000042', networkCode: '000', readCapability: '5', icCondition: '0' }],
    [
      '25000042000501',
      { type: '25', batch: '000042', networkCode: '000', readCapability: '5', icCondition: '0', partialApproval: '1' },
    ],
    [
      '10000042000501000',
      {
        type: '10',
        batch: '000042',
        networkCode: '000',
        readCapability: '5',
        icCondition: '0',
        partialApproval: '1',
        accountType: '000',
      },
    ],
  ];
  for (const [v, p] of cases) {
    t.strictSame(parseCup60(v), p, `parse ${v.length} digits`);
    t.equal(formatCup60(p), v, `format ${v.length} digits`);
  }
  t.end();
});

t.test('Cup60 errors', (t) => {
  t.strictSame(
    isoError(() => parseCup60('')),
    { field: 60, offset: 0, message: 'field 60: 60.1 transaction type: expected 2 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseCup60('2200001')),
    { field: 60, offset: 2, message: 'field 60: 60.2 batch: expected 6 digits at offset 2' },
  );
  t.strictSame(
    isoError(() => parseCup60('2200000100')),
    { field: 60, offset: 8, message: 'field 60: 60.3 network code: expected 3 digits at offset 8' },
  );
  t.strictSame(
    isoError(() => parseCup60('22000001000A')),
    { field: 60, offset: 11, message: 'field 60: 60.4 read capability: expected 1 digit at offset 11' },
  );
  t.strictSame(
    isoError(() => parseCup60('220000010005010')),
    { field: 60, offset: 14, message: 'field 60: 60.7 account type: expected 3 digits at offset 14' },
  );
  t.strictSame(
    isoError(() => parseCup60('220000010005010000')),
    { field: 60, offset: 17, message: 'field 60: too long: at most 17 digits at offset 17' },
  );

  const base: Cup60 = { type: '22', batch: '000001' };
  t.strictSame(
    isoError(() => formatCup60({ ...base, type: '2' })),
    { field: 60, offset: -1, message: 'field 60: 60.1 transaction type: expected 2 digits' },
  );
  t.strictSame(
    isoError(() => formatCup60({ ...base, batch: '1' })),
    { field: 60, offset: -1, message: 'field 60: 60.2 batch: expected 6 digits' },
  );
  t.strictSame(
    isoError(() => formatCup60({ ...base, networkCode: '0' })),
    { field: 60, offset: -1, message: 'field 60: 60.3 network code: expected 3 digits' },
  );
  t.strictSame(
    isoError(() => formatCup60({ ...base, networkCode: '000', readCapability: '' })),
    { field: 60, offset: -1, message: 'field 60: 60.4 read capability: expected 1 digit' },
  );
  t.strictSame(
    isoError(() => formatCup60({ ...base, icCondition: '0' })),
    { field: 60, offset: -1, message: 'field 60: 60.3 network code: missing before 60.5 IC condition' },
  );
  t.strictSame(
    isoError(() => formatCup60({ ...base, networkCode: '000', readCapability: '5', accountType: '000' })),
    { field: 60, offset: -1, message: 'field 60: 60.5 IC condition: missing before 60.7 account type' },
  );
  t.equal(formatCup60({ ...base, networkCode: undefined }), '22000001', 'explicit undefined is absent');
  t.end();
});

// ---------------------------------------------------------------------------------------
// UnionPay F61

t.test('Cup61 parse and format', (t) => {
  const cases: [string, Cup61][] = [
    ['000001000123', { batch: '000001', trace: '000123' }],
    ['0000010001230115', { batch: '000001', trace: '000123', date: '0115' }],
    ['00000100012301150', { batch: '000001', trace: '000123', date: '0115', rest: '0' }],
    [
      '0000010001230115' + '0012345678901',
      { batch: '000001', trace: '000123', date: '0115', rest: '0012345678901' },
    ],
  ];
  for (const [v, p] of cases) {
    t.strictSame(parseCup61(v), p, `parse ${v.length} digits`);
    t.equal(formatCup61(p), v, `format ${v.length} digits`);
  }
  t.end();
});

t.test('Cup61 errors', (t) => {
  t.strictSame(
    isoError(() => parseCup61('00001')),
    { field: 61, offset: 0, message: 'field 61: 61.1 batch: expected 6 digits at offset 0' },
  );
  t.strictSame(
    isoError(() => parseCup61('000001 00123')),
    { field: 61, offset: 6, message: 'field 61: 61.2 trace: expected 6 digits at offset 6' },
  );
  t.strictSame(
    isoError(() => parseCup61('00000100012301')),
    { field: 61, offset: 12, message: 'field 61: 61.3 date: expected 4 digits at offset 12' },
  );
  t.strictSame(
    isoError(() => parseCup61('0000010001230115' + '12X45')),
    { field: 61, offset: 16, message: 'field 61: rest: expected 5 digits at offset 16' },
  );
  t.strictSame(
    isoError(() => parseCup61('0000010001230115' + '00123456789012')),
    { field: 61, offset: 29, message: 'field 61: too long: at most 29 digits at offset 29' },
  );

  const base: Cup61 = { batch: '000001', trace: '000123' };
  t.strictSame(
    isoError(() => formatCup61({ ...base, batch: '1' })),
    { field: 61, offset: -1, message: 'field 61: 61.1 batch: expected 6 digits' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, trace: '00012a' })),
    { field: 61, offset: -1, message: 'field 61: 61.2 trace: expected 6 digits' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, date: '115' })),
    { field: 61, offset: -1, message: 'field 61: 61.3 date: expected 4 digits' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, rest: '00' })),
    { field: 61, offset: -1, message: 'field 61: 61.3 date: missing before rest' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, date: '0115', rest: '' })),
    { field: 61, offset: -1, message: 'field 61: rest: expected 1 to 13 digits' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, date: '0115', rest: '00123456789012' })),
    { field: 61, offset: -1, message: 'field 61: rest: expected 1 to 13 digits' },
  );
  t.strictSame(
    isoError(() => formatCup61({ ...base, date: '0115', rest: '0a' })),
    { field: 61, offset: -1, message: 'field 61: rest: expected digits' },
  );
  t.end();
});

// ---------------------------------------------------------------------------------------
// Properties

const digits = (min: number, max = min): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

const RUNS = { numRuns: 500 };

t.test('property: F90 parse(format(d)) gives d back, zero-filled', (t) => {
  fc.assert(
    fc.property(
      digits(4),
      digits(6),
      digits(10),
      fc.option(digits(1, 11), { nil: undefined }),
      fc.option(digits(1, 11), { nil: undefined }),
      (mti, stan, transmissionDateTime, acquirer, forwarder) => {
        const v = formatF90({ mti, stan, transmissionDateTime, acquirer, forwarder });
        assert.equal(v.length, 42);
        assert.deepEqual(parseF90(v), {
          mti,
          stan,
          transmissionDateTime,
          acquirer: (acquirer ?? '').padStart(11, '0'),
          forwarder: (forwarder ?? '').padStart(11, '0'),
        });
        assert.equal(formatF90(parseF90(v)), v);
      },
    ),
    RUNS,
  );
  t.pass('F90 round trip');
  t.end();
});

t.test('property: F56 parse(format(d)) == d', (t) => {
  fc.assert(
    fc.property(digits(4), digits(6), digits(12), digits(0, 11), (mti, stan, localDateTime, acquirer) => {
      const d = { mti, stan, localDateTime, acquirer };
      const v = formatF56(d);
      assert.ok(v.length >= 24 && v.length <= 35);
      assert.deepEqual(parseF56(v), d);
    }),
    RUNS,
  );
  t.pass('F56 round trip');
  t.end();
});

t.test('property: F95 parse(format(a)) == a, zero-filled', (t) => {
  const fee = fc.tuple(fc.constantFrom('C', 'D'), digits(1, 8)).map(([s, d]) => s + d);
  const fillFee = (f: string | undefined): string =>
    f === undefined ? 'C00000000' : f[0] + f.slice(1).padStart(8, '0');
  fc.assert(
    fc.property(
      digits(1, 12),
      fc.option(digits(1, 12), { nil: undefined }),
      fc.option(fee, { nil: undefined }),
      fc.option(fee, { nil: undefined }),
      (transaction, settlement, transactionFee, settlementFee) => {
        const v = formatF95({ transaction, settlement, transactionFee, settlementFee });
        assert.equal(v.length, 42);
        assert.deepEqual(parseF95(v), {
          transaction: transaction.padStart(12, '0'),
          settlement: (settlement ?? '').padStart(12, '0'),
          transactionFee: fillFee(transactionFee),
          settlementFee: fillFee(settlementFee),
        });
        assert.equal(formatF95(parseF95(v)), v);
      },
    ),
    RUNS,
  );
  t.pass('F95 round trip');
  t.end();
});

t.test('property: Cup60 parse(format(p)) == p for every prefix of parts', (t) => {
  fc.assert(
    fc.property(
      digits(2),
      digits(6),
      fc.tuple(digits(3), digits(1), digits(1), digits(1), digits(3)),
      fc.integer({ min: 0, max: 5 }),
      (type, batch, opt, present) => {
        const keys = ['networkCode', 'readCapability', 'icCondition', 'partialApproval', 'accountType'] as const;
        const p: Cup60 = { type, batch };
        for (let k = 0; k < present; k++) p[keys[k]] = opt[k];
        const v = formatCup60(p);
        assert.deepEqual(parseCup60(v), p);
        assert.equal(formatCup60(parseCup60(v)), v);
      },
    ),
    RUNS,
  );
  t.pass('Cup60 round trip');
  t.end();
});

t.test('property: Cup61 parse(format(p)) == p', (t) => {
  fc.assert(
    fc.property(
      digits(6),
      digits(6),
      fc.option(fc.tuple(digits(4), fc.option(digits(1, 13), { nil: undefined })), { nil: undefined }),
      (batch, trace, tail) => {
        const p: Cup61 = { batch, trace };
        if (tail !== undefined) {
          p.date = tail[0];
          if (tail[1] !== undefined) p.rest = tail[1];
        }
        const v = formatCup61(p);
        assert.ok(v.length <= 29);
        assert.deepEqual(parseCup61(v), p);
      },
    ),
    RUNS,
  );
  t.pass('Cup61 round trip');
  t.end();
});

t.test('property: any string parses or throws IsoError that never echoes the value', (t) => {
  const parsers: [number, (v: string) => unknown][] = [
    [90, parseF90],
    [56, parseF56],
    [95, parseF95],
    [60, parseCup60],
    [61, parseCup61],
  ];
  const text = fc.oneof(
    fc.string({ unit: fc.constantFrom(...'0123456789CD =A'), maxLength: 50 }),
    fc.string({ maxLength: 50 }),
    digits(0, 45),
  );
  fc.assert(
    fc.property(text, (v) => {
      for (const [field, parse] of parsers) {
        try {
          parse(v);
        } catch (e) {
          if (!(e instanceof IsoError)) throw e;
          assert.equal(e.field, field);
          assert.ok(e.offset >= 0 && e.offset <= v.length, 'offset inside the value');
          if (v.length >= 6) assert.ok(!e.message.includes(v), 'message does not contain the value');
        }
      }
    }),
    { numRuns: 3000 },
  );
  t.pass('no foreign errors, no echoed values');
  t.end();
});
