/**
 * What the switch gives the codec for a refund in each standard. A 1993 refund needs its
 * own F12, which only the switch's clock can give; a UnionPay refund names its sale in F61
 * by the date and carries the RRN that the host assigned in its 0210, which the terminal's
 * 0200 never had. Without them the refund cannot be built and goes to a person. Each test
 * fails when the queue stops passing F12, or the engine stops keeping the answer's
 * F13/F37/F38 with the original.
 */
import t from 'tap';
import { formatCup60, formatF56, getDialect, IsoMessage, localDateTime, responseTo } from '../codec/index.js';
import { refundOriginal } from '../switch/engine/decisions.js';
import { FakeLink, PAN, queue, SafStores, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);

/** A UnionPay sale as the switch sent it upstream: no F13, no F37 (the host assigns both). */
function saleCup(): IsoMessage {
  return new IsoMessage('0200', {
    2: PAN, 3: '000000', 4: '000000004250', 11: '000123', 14: '2812', 22: '051', 25: '00', 41: 'TERM0001', 42: 'MERCHANT0000001',
    49: '156', 60: formatCup60({ type: '22', batch: '000042', networkCode: '000', readCapability: '5', icCondition: '0' }),
  });
}

function sale93(): IsoMessage {
  return new IsoMessage('1200', {
    2: PAN, 3: '000000', 4: '000000004250', 7: '1202101010', 11: '000123', 12: '251202111010', 22: '51010151134C', 32: '123456',
    37: 'RRN000000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  });
}

t.test('refundOriginal keeps the approval code, and the RRN and date the issuer assigned when the request had none', async (tt) => {
  const sent = saleCup();
  const approval = responseTo(getDialect('cup'), sent, '00').set(13, '1202').set(37, '334455667788').set(38, 'A1B2C3');
  const kept = refundOriginal(sent, approval);
  tt.same([kept.get(13), kept.get(37), kept.get(38)], ['1202', '334455667788', 'A1B2C3']);
  tt.notOk(sent.has(38), 'the request as sent is left as it was');
  const own = sale93();
  const answer93 = responseTo(getDialect('iso93a'), own, '000').set(37, 'OTHER0000000').set(38, 'X1Y2Z3');
  tt.equal(refundOriginal(own, answer93).get(37), 'RRN000000123', "a request's own RRN stands");
  tt.equal(refundOriginal(own, null).get(38), undefined, 'no answer, nothing added');
});

t.test('a UnionPay refund from the queue names the sale by the batch, trace and the date from the 0210', async (tt) => {
  const { store } = await stores.open(tt, 'memory');
  tt.teardown(() => store.close());
  const link = new FakeLink(getDialect('cup'));
  const clock = { now: Date.UTC(2026, 11, 3, 9, 30, 0) };
  const q = queue(store, link, clock);
  const sent = saleCup();
  const approval = responseTo(link.dialect, sent, '00').set(13, '1202').set(37, '334455667788').set(38, 'A1B2C3');
  q.enqueue({ id: 'c1', kind: 'refund', amount: '000000004250', upstream: 'up', original: refundOriginal(sent, approval), reason: '', explanation: 'refund', txnId: 't-c1' });
  await step(q, store, clock, 0);
  tt.equal(q.get('c1')?.state, 'sent', 'built and sent, not handed to a person');
  const [r] = link.sent;
  tt.equal(r.mti, '0220');
  tt.same(r.cup61(), { batch: '000042', trace: '000123', date: '1202' });
  tt.equal(r.get(37), '334455667788', "the host's RRN");
  tt.equal(r.get(38), 'A1B2C3');
});

t.test("a 1993 refund from the queue carries its own F12 from the switch's clock and names the sale in F56", async (tt) => {
  const { store } = await stores.open(tt, 'memory');
  tt.teardown(() => store.close());
  const link = new FakeLink(getDialect('iso93a'));
  const clock = { now: Date.UTC(2026, 11, 3, 9, 30, 0) };
  const q = queue(store, link, clock);
  const sent = sale93();
  const approval = responseTo(link.dialect, sent, '000').set(38, 'A1B2C3');
  q.enqueue({ id: 'n1', kind: 'refund', amount: '000000001000', upstream: 'up', original: refundOriginal(sent, approval), reason: '', explanation: 'refund', txnId: 't-n1' });
  await step(q, store, clock, 0);
  tt.equal(q.get('n1')?.state, 'sent', 'built and sent, not handed to a person');
  const [r] = link.sent;
  tt.equal(r.mti, '1220');
  tt.equal(r.get(24), '200');
  tt.equal(r.get(12), localDateTime(clock.now), "the refund's own local date-time");
  tt.equal(r.get(56), formatF56({ mti: '1200', stan: '000123', localDateTime: '251202111010', acquirer: '123456' }));
  tt.equal(r.get(4), '000000001000');
});
