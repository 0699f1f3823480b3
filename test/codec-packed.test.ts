/**
 * The packed form of a message (codec/packed.ts), which the switch keeps for every ended
 * transaction: whatever is packed comes back field for field, alone or as a difference
 * from another message, and the forms the switch keeps stay small.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { IsoMessage, packDelta, packMessage, unpackMessage, IsoError, decode, encode, getDialect, responseTo } from '../codec/index.js';
import { FIXTURES } from '../bench/fixtures/messages.js';

const bytes = fc.uint8Array({ maxLength: 300 });
const text = fc.oneof(fc.string({ maxLength: 300, unit: 'binary-ascii' }), fc.string({ maxLength: 40, unit: 'binary' }), fc.string({ unit: fc.constantFrom('0', '1', '9', ' '), maxLength: 20 }));
const fieldNo = fc.integer({ min: 2, max: 192 });

const messageArb = fc.record({
  mti: fc.string({ unit: fc.constantFrom('0', '1', '2', '4', '8'), minLength: 4, maxLength: 4 }),
  tpdu: fc.option(fc.uint8Array({ minLength: 5, maxLength: 5 })),
  header: fc.option(fc.uint8Array({ minLength: 1, maxLength: 46 })),
  fields: fc.array(fc.tuple(fieldNo, fc.oneof(text, bytes)), { maxLength: 40 }),
}).map(({ mti, tpdu, header, fields }) => {
  const m = new IsoMessage(mti);
  m.tpdu = tpdu;
  m.header = header;
  for (const [n, v] of fields) m.set(n, v);
  return m;
});

/** A message that shares most of `base`: some fields kept, some changed, some removed, some added. */
const variantArb = (base: IsoMessage): fc.Arbitrary<IsoMessage> =>
  fc.record({
    mti: fc.option(fc.constantFrom('0210', '0410', '0200')),
    drop: fc.array(fieldNo, { maxLength: 6 }),
    set: fc.array(fc.tuple(fieldNo, fc.oneof(text, bytes)), { maxLength: 6 }),
    tpdu: fc.constantFrom('same', 'none', 'new'),
  }).map(({ mti, drop, set, tpdu }) => {
    const m = base.clone();
    if (mti !== null) m.mti = mti;
    for (const n of drop) m.delete(n);
    for (const [n, v] of set) m.set(n, v);
    if (tpdu === 'none') m.tpdu = null;
    if (tpdu === 'new') m.tpdu = Uint8Array.of(0x60, 0, 1, 0, 0);
    return m;
  });

t.test('a packed message comes back as it was', async (t) => {
  fc.assert(fc.property(messageArb, (m) => {
    const back = unpackMessage(packMessage(m));
    assert.deepStrictEqual(back.toJSON(), m.toJSON());
    assert.equal(back.mti, m.mti);
  }), { numRuns: 500 });
  t.pass('500 random messages: text in any characters, binary fields, TPDU and header');
});

t.test('a message packed against another comes back from it', async (t) => {
  const pair = messageArb.chain((base) => variantArb(base).map((m) => [base, m] as const));
  fc.assert(fc.property(pair, ([base, m]) => {
    const delta = packDelta(base, m);
    assert.deepStrictEqual(unpackMessage(delta, base).toJSON(), m.toJSON());
    // The base itself is left alone, and a delta against a packed-then-unpacked base works the same.
    assert.deepStrictEqual(unpackMessage(delta, unpackMessage(packMessage(base))).toJSON(), m.toJSON());
  }), { numRuns: 500 });
  t.pass('500 pairs');
});

t.test('unpacked bytes are copies: changing them changes neither the base nor the next unpack', async (t) => {
  const base = new IsoMessage('0200').set(55, Uint8Array.of(1, 2, 3));
  base.tpdu = Uint8Array.of(0x60, 0, 0, 0, 1);
  const packed = packMessage(base);
  const a = unpackMessage(packed);
  (a.getBytes(55) as Uint8Array)[0] = 9;
  (a.tpdu as Uint8Array)[0] = 9;
  t.same(unpackMessage(packed).getBytes(55), Uint8Array.of(1, 2, 3));
  const b = unpackMessage('\u0000kk', base);
  (b.getBytes(55) as Uint8Array)[0] = 9;
  t.same(base.getBytes(55), Uint8Array.of(1, 2, 3));
  t.same(base.tpdu, Uint8Array.of(0x60, 0, 0, 0, 1));
});

t.test('what the switch keeps of a sale is small', async (t) => {
  // The sale as a terminal sends it, stripped of what is never kept, then the copy sent
  // upstream (a new STAN) and the answer (the request's echo with F38 and F39).
  const d = getDialect('iso87a');
  const fixture = FIXTURES.get('iso87a')?.find((f) => f.kind === 'request');
  assert.ok(fixture);
  const wire = encode(d, fixture.msg).length;
  const req = decode(d, encode(d, fixture.msg));
  for (const n of [35, 36, 45, 52, 55]) req.delete(n);
  const sent = req.clone().set(11, '000777');
  const answer = responseTo(d, req, '00').set(38, 'A1B2C3');
  const packedReq = packMessage(req);
  t.ok(packedReq.length <= wire, `the request packs into ${packedReq.length} characters, no more than its ${wire} bytes on the wire`);
  t.ok(packDelta(req, sent).length <= 16, `the copy sent upstream is ${packDelta(req, sent).length} characters against the request`);
  t.ok(packDelta(req, answer).length <= 64, `the answer is ${packDelta(req, answer).length} characters against the request`);
  t.same(unpackMessage(packDelta(req, answer), unpackMessage(packedReq)).toJSON(), answer.toJSON());
});

t.test('a value too long to pack is refused by name', async (t) => {
  const m = new IsoMessage('0200').set(48, 'x'.repeat(70_000));
  t.throws(() => packMessage(m), new IsoError(48, -1, 'a value of 70000 characters cannot be packed (at most 65535)'));
});

t.test('a truncated packed message is refused', async (t) => {
  const packed = packMessage(new IsoMessage('0200').set(41, 'TERM0001'));
  t.throws(() => unpackMessage(packed.slice(0, -3)), /ends inside its last field/);
});
