/**
 * The refund of a financial sale once it can no longer be reversed, as each standard
 * builds it (codec/profiles/): 1987 (0220, F3 20xxxx, F90 naming the original as sent),
 * 1993 (1220, F56 and F24), UnionPay POS (0220, F60.1 25, F61 original batch, trace and
 * date). The refund amount is checked against the original; no track, PIN, ICC data or
 * response code is ever copied; the repeat is 0221/1221; every refund round-trips.
 */
import t from 'tap';
import { decode, encode, formatCup60, getDialect, IsoError, IsoMessage, refundOf, repeatOf } from '../codec/index.js';

/** Track 2, track 3, track 1, PIN block, ICC data. */
const SENSITIVE = [35, 36, 45, 52, 55];

const d87 = getDialect('iso87a');
const d93 = getDialect('iso93a');
const dCup = getDialect('cup');
const PAN = '4761739001010119';
const opts = { amount: '1500', stan: '000777', transmissionDateTime: '1203171530', approvalCode: 'A1B2C3' };

function sale87(): IsoMessage {
  return new IsoMessage('0200', {
    2: PAN, 3: '003000', 4: '000000004250', 7: '1202101010', 11: '000123', 12: '101010', 13: '1202', 14: '2812', 22: '051', 25: '00',
    32: '123456', 35: `${PAN}=28121010000000000000`, 37: 'RRN000000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840', 52: 'A1B2C3D4E5F60718',
  });
}

t.test('1987: an 0220 advice of the refund amount, F3 20 + the original account types, F90 naming the original', async (tt) => {
  const r = refundOf(d87, sale87(), opts);
  tt.equal(r.mti, '0220');
  tt.equal(r.get(3), '203000', 'processing code 20, the original positions 3-6');
  tt.equal(r.get(4), '000000001500', 'the refund amount, n12');
  tt.same([r.get(7), r.get(11)], ['1203171530', '000777'], 'its own F7 and STAN');
  tt.same([r.get(37), r.get(38), r.get(41), r.get(42), r.get(49)], ['RRN000000123', 'A1B2C3', 'TERM0001', 'MERCHANT0000001', '840']);
  tt.equal(r.get(90), `0200000123120210101000000123456${'0'.repeat(11)}`, 'F90: MTI, STAN, F7, F32, F33 of the original');
  for (const n of [...SENSITIVE, 39]) tt.notOk(r.has(n), `F${n} never copied`);
  tt.equal(refundOf(d87, sale87(), { ...opts, request: true }).mti, '0200', 'a financial request when the host wants one');
  tt.equal(repeatOf(r).mti, '0221', 'the repeat');
  tt.same(decode(d87, encode(d87, r)).toJSON(), r.toJSON(), 'round-trips');
});

t.test('the refund amount: more than zero, at most the original, and the original must have one', async (tt) => {
  tt.equal(refundOf(d87, sale87(), { ...opts, amount: '4250' }).get(4), '000000004250', 'the whole original');
  for (const [amount, why] of [['4251', /at most the original/], ['0', /more than zero/], ['12a', /digits/], ['1234567890123', /1 to 12 digits/]] as const) {
    let err: unknown = null;
    try {
      refundOf(d87, sale87(), { ...opts, amount });
    } catch (e) {
      err = e;
    }
    tt.ok(err instanceof IsoError && err.field === 4 && why.test(err.message), `${amount}: refused on F4 (${String(err)})`);
  }
  const noAmount = sale87();
  noAmount.delete(4);
  tt.throws(() => refundOf(d87, noAmount, opts), /original amount \(F4\)/);
  tt.throws(() => refundOf(d87, new IsoMessage('0400', { 4: '000000000100' }), opts), /not an authorization or financial message/);
});

t.test('1993: a 1220 with F56 (original MTI, STAN, F12, F32) and function code 200', async (tt) => {
  const sale = new IsoMessage('1200', {
    2: PAN, 3: '000000', 4: '000000004250', 7: '1202101010', 11: '000123', 12: '251202101010', 32: '123456', 37: 'RRN000000123', 41: 'TERM0001',
    42: 'MERCHANT0000001', 49: '978',
  });
  const r = refundOf(d93, sale, opts);
  tt.equal(r.mti, '1220');
  tt.equal(r.get(3), '200000');
  tt.equal(r.get(24), '200');
  tt.match(r.get(56), /^1200000123251202101010/, 'F56 names the original by its MTI, STAN and F12');
  tt.equal(repeatOf(r).mti, '1221');
  tt.same(decode(d93, encode(d93, r)).toJSON(), r.toJSON(), 'round-trips');
});

t.test('UnionPay POS: 0220, 200000, F60.1 25 with the batch, F61 original batch + trace + date', async (tt) => {
  const sale = new IsoMessage('0200', {
    2: PAN, 3: '000000', 4: '000000004250', 11: '000123', 13: '1202', 14: '2812', 22: '051', 25: '00', 37: 'RRN000000123', 41: 'TERM0001',
    42: 'MERCHANT0000001', 49: '156', 60: formatCup60({ type: '22', batch: '000042' }),
  });
  sale.tpdu = Buffer.from('6000010002', 'hex');
  sale.header = Buffer.from('603100311301', 'hex');
  const r = refundOf(dCup, sale, opts);
  tt.equal(r.mti, '0220');
  tt.equal(r.get(3), '200000');
  tt.equal(r.get(60), '25000042', '60.1 refund, 60.2 the batch');
  tt.equal(r.get(61), '0000420001231202', '61: original batch, POS trace, date MMDD');
  tt.same([r.get(11), r.get(37), r.get(38)], ['000777', 'RRN000000123', 'A1B2C3']);
  tt.notOk(r.has(7), 'UnionPay POS carries no F7');
  tt.same(decode(dCup, encode(dCup, r)).toJSON(), r.toJSON(), 'round-trips');
});
