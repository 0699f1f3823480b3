/**
 * Round-trip properties of the codec over random valid messages (test/support/arbitraries.ts):
 *
 *   decode(d, encode(d, m)).toJSON()  deep-equals  m.toJSON()
 *   encode(d, decode(d, encode(d, m)))  is byte-identical to  encode(d, m)
 *
 * for every built-in dialect, plus the derived dialects of test/support/arbitraries.ts that
 * exercise encodings no built-in uses: EBCDIC (MTI, values and prefixes, mixed per field),
 * hex-encoded b fields (with a hex tertiary bitmap), binary/BCD LLLL prefixes with
 * explicit pad nibbles, and variable-length x+n amounts.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { decode, encode, DIALECT_NAMES, IsoMessage as IsoMessageCtor, type Dialect, type IsoMessage } from '../codec/index.js';
import { allTestDialects, DERIVED, isoMessageArb } from './support/arbitraries.js';

const NUM_RUNS = 300;

const { ebcdic, hexB, binPrefix } = DERIVED;
const DIALECTS: Dialect[] = allTestDialects();

t.ok(DIALECT_NAMES.length >= 5, 'the built-in dialects are all covered');

interface Coverage { runs: number; secondary: number; tertiary: number; envelope: number }

function roundTrip(d: Dialect, m: IsoMessage, cov?: Coverage): void {
  const bytes = encode(d, m);
  const back = decode(d, bytes);
  assert.deepStrictEqual(back.toJSON(), m.toJSON(), 'decode(encode(m)) == m');
  const again = encode(d, back);
  assert.equal(Buffer.compare(again, bytes), 0, `re-encode differs:\n  first  ${bytes.toString('hex')}\n  second ${again.toString('hex')}`);
  if (cov) {
    cov.runs++;
    const last = m.fieldNumbers().at(-1) ?? 0;
    if (last > 64) cov.secondary++;
    if (last > 128) cov.tertiary++;
    if (m.tpdu || m.header) cov.envelope++;
  }
}

for (const d of DIALECTS) {
  t.test(`round trip: ${d.name}`, async (t) => {
    const cov: Coverage = { runs: 0, secondary: 0, tertiary: 0, envelope: 0 };
    fc.assert(fc.property(isoMessageArb(d), (m) => roundTrip(d, m, cov)), { numRuns: NUM_RUNS });
    t.equal(cov.runs, NUM_RUNS, `${NUM_RUNS} messages round-tripped`);
    t.ok(cov.secondary > NUM_RUNS / 10, `secondary bitmap exercised (${cov.secondary}/${cov.runs})`);
    if (d.tertiary) t.ok(cov.tertiary > NUM_RUNS / 20, `tertiary bitmap exercised (${cov.tertiary}/${cov.runs})`);
    if (d.tpdu || d.headerLength > 0) t.equal(cov.envelope, cov.runs, 'TPDU/header set on every message');
  });

  // Values up to each field's full max (LLL 999, LLLL, 999-byte b), where prefixes overflow if wrong.
  t.test(`round trip, full-length values: ${d.name}`, async (t) => {
    fc.assert(fc.property(isoMessageArb(d, { maxVarLength: 9999, maxFields: 8 }), (m) => roundTrip(d, m)), { numRuns: 40 });
    t.pass('long values round-trip');
  });
}

t.test('derived dialects really use the encodings under test', async (t) => {
  t.equal(ebcdic.spec.mti, 'ebcdic');
  t.equal(ebcdic.field(2)?.encoding, 'ebcdic');
  t.equal(ebcdic.field(2)?.prefix, 'ebcdic');
  t.equal(ebcdic.field(44)?.encoding, 'ascii');
  t.equal(ebcdic.field(44)?.prefix, 'ebcdic');
  t.equal(hexB.field(96)?.encoding, 'hex');
  t.equal(hexB.spec.bitmap, 'hex');
  t.equal(hexB.tertiary, true);
  t.equal(binPrefix.field(48)?.length, 'LLLL');
  t.equal(binPrefix.field(48)?.prefix, 'binary');
  // An EBCDIC MTI is not ASCII on the wire.
  const m = fc.sample(isoMessageArb(ebcdic, { fields: [2] }), 1)[0];
  m.mti = '0200';
  m.set(2, '4761739001010119');
  const wire = encode(ebcdic, m);
  t.same([...wire.subarray(0, 4)], [0xf0, 0xf2, 0xf0, 0xf0], 'MTI 0200 in cp037');
  t.same([...wire.subarray(12, 14)], [0xf1, 0xf6], 'F2 prefix 16 in cp037');
});

/*
 * encode() returns views of a shared slab (see codec/encode.ts), so a later encode must
 * never write over bytes an earlier call returned, whatever the dialects involved.
 */
t.test('earlier encode results stay intact across later encodes (shared slab)', async (t) => {
  // Dialects travel by name so a counterexample prints readably.
  const pair = fc.oneof(...DIALECTS.map((d) => isoMessageArb(d, { maxVarLength: 999 }).map((m) => ({ dialect: d.name, m }))));
  fc.assert(fc.property(fc.array(pair, { minLength: 2, maxLength: 40 }), (pairs) => {
    const results = pairs.map(({ dialect, m }) => {
      const d = getDialectByName(dialect);
      const view = encode(d, m);
      return { d, m, view, copy: Buffer.from(view) };
    });
    results.forEach(({ d, m, view, copy }, i) => {
      assert.equal(view.toString('hex'), copy.toString('hex'), `result ${i} (${d.name}) was overwritten by a later encode`);
      assert.deepStrictEqual(decode(d, view).toJSON(), m.toJSON(), `result ${i} (${d.name}) decodes back`);
    });
  }), { numRuns: 100 });
  t.pass('no result was overwritten');
});

t.test('a TPDU dialect encodes the same bytes whatever was encoded before', async (t) => {
  const cup = getDialectByName('cup');
  const m = messageOf({ mti: '0200', tpdu: '6000010000', header: '603100000000', 11: '000001' });
  // TPDU, header, BCD MTI, primary bitmap (bit 11), F11 as 3 BCD bytes.
  const want = '6000010000' + '603100000000' + '0200' + '0020000000000000' + '000001';
  t.equal(encode(cup, m).toString('hex'), want, 'first encode');
  encode(getDialectByName('iso87a'), messageOf({ mti: '0800', 70: '301' }));
  t.equal(encode(cup, m).toString('hex'), want, 'after an iso87a message');
  t.equal(encode(cup, m).toString('hex'), want, 'again');
});

t.test('a message larger than the 64 KiB slab round-trips', async (t) => {
  const d = DIALECTS.find((x) => x.name === 'iso93a')!;
  const fields: Record<string, string> = { mti: '1200' };
  for (let n = 129; n <= 191; n++) fields[n] = 'x'.repeat(999);
  for (let n = 112; n <= 127; n++) fields[n] = 'y'.repeat(999);
  const m = messageOf(fields);
  encode(d, messageOf({ mti: '1804', 24: '831' })); // leave the slab part-used
  const wire = encode(d, m);
  t.ok(wire.length > 64 * 1024, `message is ${wire.length} bytes`);
  t.same(decode(d, wire).toJSON(), m.toJSON(), 'round-trips');
});

function getDialectByName(name: string): Dialect {
  return DIALECTS.find((d) => d.name === name)!;
}

function messageOf(json: Record<string | number, string>): IsoMessage {
  const m = new IsoMessageCtor(json.mti);
  for (const [k, v] of Object.entries(json)) {
    if (k === 'mti') continue;
    if (k === 'tpdu') m.tpdu = Buffer.from(v, 'hex');
    else if (k === 'header') m.header = Buffer.from(v, 'hex');
    else m.set(Number(k), v);
  }
  return m;
}
