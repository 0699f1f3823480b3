/**
 * The refund of a financial sale once it can no longer be reversed, as each standard
 * builds it (codec/profiles/): 1987 (0220, F3 20xxxx, F90 naming the original as sent),
 * 1993 (1220, F24 200, its own F12, F56), UnionPay POS (0220, 200000, F25 00, F60.1 25, F61
 * original batch, trace and date). For each: the amount is checked against the original;
 * no track, PIN or ICC data nor a response code is ever copied; a request is x200; the
 * repeat is x221; the refund round-trips through our codec, and the 1987 one through the
 * iso_8583 oracle as well.
 */
import { createRequire } from 'node:module';
import t from 'tap';
import {
  decode, encode, formatCup60, formatF56, getDialect, IsoMessage, refundOf, repeatOf, type Dialect, type RefundOptions,
} from '../codec/index.js';
import { B, isoError } from './support/wire.js';

type TheirJson = Record<string, string>;
type TheirCtor = new () => { getIsoJSON(buf: Buffer, config?: { lenHeader?: boolean }): TheirJson | { error: string } };
const Iso8583 = createRequire(import.meta.url)('iso_8583') as TheirCtor;

/** Track 2, track 3, track 1, PIN block, ICC data, and the original's response code. */
const NEVER_COPIED = [35, 36, 45, 52, 55, 39];

const d87 = getDialect('iso87a');
const d93 = getDialect('iso93a');
const dCup = getDialect('cup');
const PAN = '4761739001010119';
const OPTS: RefundOptions = { amount: '1500', stan: '000777', transmissionDateTime: '1203171530', approvalCode: 'A1B2C3' };

/** The card data a terminal's sale carries and a refund must leave behind, plus the answer's F39. */
function withCardData(m: IsoMessage): IsoMessage {
  return m.set(35, `${PAN}=28121010000000000000`).set(36, '011234567890123456=724724100000000000030300').set(39, '00')
    .set(45, `B${PAN}^TEST/CARD^2812`).set(52, B('A1B2C3D4E5F60718')).set(55, B('9F02060000000042509F26080123456789ABCDEF'));
}

/** A 1987 sale as the switch sent it upstream: its STAN and F7, the acquirer's RRN. */
function sale87(): IsoMessage {
  return withCardData(new IsoMessage('0200', {
    2: PAN, 3: '003000', 4: '000000004250', 7: '1202101010', 11: '000123', 12: '101010', 13: '1202', 14: '2812', 18: '5411', 22: '051',
    23: '001', 25: '00', 32: '123456', 33: '7890', 37: 'RRN000000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(40), 49: '840',
  }));
}

function sale93(): IsoMessage {
  return withCardData(new IsoMessage('1200', {
    2: PAN, 3: '000000', 4: '000000004250', 7: '1202101010', 11: '000123', 12: '251202111010', 22: '51010151134C', 26: '5411', 32: '123456',
    37: 'RRN000000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  }));
}

/** A UnionPay POS sale as the switch sent it: TPDU, header, F60 with its batch; F13 and F37 were in the host's 0210. */
function saleCup(): IsoMessage {
  const m = withCardData(new IsoMessage('0200', {
    2: PAN, 3: '000000', 4: '000000004250', 11: '000123', 14: '2812', 22: '051', 23: '001', 25: '00', 41: 'TERM0001', 42: 'MERCHANT0000001',
    49: '156', 60: formatCup60({ type: '22', batch: '000042', networkCode: '000', readCapability: '5', icCondition: '0' }),
  }));
  m.tpdu = B('6000010002');
  m.header = B('603100311301');
  return m;
}

const CUP_OPTS: RefundOptions = { ...OPTS, originalDate: '1202', retrievalReference: 'RRN000000123' };
const OPTS_93: RefundOptions = { ...OPTS, localDateTime: '251203181530' };

/** Each standard with the sale and the options a complete refund of it needs. */
const STANDARDS: readonly { name: string; d: Dialect; sale: () => IsoMessage; opts: RefundOptions }[] = [
  { name: '1987', d: d87, sale: sale87, opts: OPTS },
  { name: '1993', d: d93, sale: sale93, opts: OPTS_93 },
  { name: 'UnionPay', d: dCup, sale: saleCup, opts: CUP_OPTS },
];

t.test('1987: an 0220 of the refund amount, F3 20 + the account types, F90 naming the original as sent', async (tt) => {
  const r = refundOf(d87, sale87(), OPTS);
  tt.same(r.toJSON(), {
    mti: '0220', 2: PAN, 3: '203000', 4: '000000001500', 7: '1203171530', 11: '000777', 14: '2812', 18: '5411', 22: '051', 23: '001', 25: '00',
    32: '123456', 33: '7890', 37: 'RRN000000123', 38: 'A1B2C3', 41: 'TERM0001', 42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(40), 49: '840',
    90: '0200' + '000123' + '1202101010' + '00000123456' + '00000007890',
  }, 'its own F7 and STAN; F90 the original MTI, STAN, F7, F32, F33; none of the sale\'s dates or amounts');
  const noF3 = sale87();
  noF3.delete(3);
  tt.equal(refundOf(d87, noF3, OPTS).get(3), '200000', 'processing code 200000 when the sale had none');
  tt.equal(refundOf(getDialect('iso87b'), sale87(), OPTS).get(90), r.get(90), 'the BCD dialect builds the same F90');
});

t.test('1987: the iso_8583 oracle reads the same MTI, F3, F4 and F90', async (tt) => {
  for (const r of [refundOf(d87, sale87(), OPTS), refundOf(d87, sale87(), { ...OPTS, request: true })]) {
    const theirs = new Iso8583().getIsoJSON(encode(d87, r), { lenHeader: false });
    if ('error' in theirs) {
      tt.fail(`iso_8583 refused the ${r.mti}: ${theirs.error}`);
      continue;
    }
    tt.same([theirs['0'], theirs['3'], theirs['4'], theirs['90']], [r.mti, r.get(3), r.get(4), r.get(90)], r.mti);
  }
});

t.test('1993: a 1220 with F24 200, its own F12 and F56 (original MTI, STAN, F12, F32)', async (tt) => {
  const r = refundOf(d93, sale93(), OPTS_93);
  tt.same(r.toJSON(), {
    mti: '1220', 2: PAN, 3: '200000', 4: '000000001500', 7: '1203171530', 11: '000777', 12: '251203181530', 22: '51010151134C', 24: '200',
    26: '5411', 32: '123456', 37: 'RRN000000123', 38: 'A1B2C3', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
    56: formatF56({ mti: '1200', stan: '000123', localDateTime: '251202111010', acquirer: '123456' }),
  }, 'no F25 unless the host asks');
  tt.equal(refundOf(d93, sale93(), { ...OPTS_93, messageReason: '1007' }).get(25), '1007', 'F25 when asked');
  tt.same(isoError(() => refundOf(d93, sale93(), OPTS)), {
    field: 12, offset: -1, message: 'field 12: a 1993 refund needs its own local date-time (localDateTime, YYMMDDhhmmss)',
  }, 'the codec has no clock to make F12 with');
});

t.test('UnionPay POS: 0220, 200000, F25 00, F60 25 + batch + 000, F61 original batch + trace + date', async (tt) => {
  const r = refundOf(dCup, saleCup(), CUP_OPTS);
  tt.same(r.toJSON(), {
    mti: '0220', tpdu: '6000010002', header: '603100311301', 2: PAN, 3: '200000', 4: '000000001500', 11: '000777', 14: '2812', 22: '052',
    23: '001', 25: '00', 37: 'RRN000000123', 38: 'A1B2C3', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156', 60: '25000042000',
    61: '000042' + '000123' + '1202',
  }, 'no F7; F22 says no PIN; F61 from the sale\'s 60.2, F11 and date');
  tt.same(r.cup61(), { batch: '000042', trace: '000123', date: '1202' }, 'F61 parses back');
  tt.equal(refundOf(dCup, saleCup(), { ...CUP_OPTS, batch: '000043' }).get(60), '25000043000', 'filed under another batch when told');
  const withF13 = saleCup().set(13, '1130').set(37, 'RRN000000999');
  const fromSale = refundOf(dCup, withF13, OPTS);
  tt.same([fromSale.get(61)?.slice(12), fromSale.get(37)], ['1130', 'RRN000000999'], 'the date and RRN the sale carries, when it does');
  const noF60 = saleCup();
  noF60.delete(60);
  tt.match(isoError(() => refundOf(dCup, saleCup(), OPTS)), { field: 61, message: /original date/ }, 'no date, no F61');
  tt.match(isoError(() => refundOf(dCup, noF60, CUP_OPTS)), { field: 61, message: /F60 \(its batch/ }, 'no batch, no F61');
});

t.test('every standard: request, repeat, round trip, no card data', async (tt) => {
  for (const { name, d, sale, opts } of STANDARDS) {
    const original = sale();
    tt.ok(NEVER_COPIED.every((n) => original.has(n)) && encode(d, original).length > 0, `${name}: the sale carries them all, and encodes`);
    const r = refundOf(d, original, opts);
    for (const n of NEVER_COPIED) tt.notOk(r.has(n), `${name}: F${n} never copied`);
    tt.same(decode(d, encode(d, r)).toJSON(), r.toJSON(), `${name}: round-trips`);
    const advice = r.mti;
    tt.equal(advice.slice(1), '220', `${name}: an advice by default`);
    const req = refundOf(d, sale(), { ...opts, request: true });
    tt.equal(req.mti, advice.slice(0, 1) + '200', `${name}: a financial request when the host wants one`);
    tt.same(decode(d, encode(d, req)).toJSON(), req.toJSON(), `${name}: the request round-trips`);
    const repeat = repeatOf(r);
    tt.equal(repeat.mti, advice.slice(0, 3) + '1', `${name}: the repeat`);
    tt.same({ ...repeat.toJSON(), mti: advice }, r.toJSON(), `${name}: the repeat is the same refund`);
    tt.equal(repeatOf(repeat).mti, repeat.mti, `${name}: a repeat stays a repeat`);
    tt.same(decode(d, encode(d, repeat)).toJSON(), repeat.toJSON(), `${name}: the repeat round-trips`);
  }
});

t.test('every standard: the amount is more than zero, at most the original, and the original has one', async (tt) => {
  for (const { name, d, sale, opts } of STANDARDS) {
    tt.equal(refundOf(d, sale(), { ...opts, amount: '4250' }).get(4), '000000004250', `${name}: the whole original`);
    const cases = [['0', /more than zero/], ['000000000000', /more than zero/], ['4251', /at most the original/], ['12a', /digits/], ['1234567890123', /1 to 12 digits/]] as const;
    for (const [amount, why] of cases) {
      tt.match(isoError(() => refundOf(d, sale(), { ...opts, amount })), { field: 4, message: why }, `${name}: ${amount} refused on F4`);
    }
    const noAmount = sale();
    noAmount.delete(4);
    tt.match(isoError(() => refundOf(d, noAmount, opts)), { field: 4, message: /original amount \(F4\)/ }, `${name}: no original amount`);
  }
});

t.test('only a financial debit is refunded', async (tt) => {
  for (const { name, d, sale, opts } of STANDARDS) {
    const v = sale().mti.slice(0, 1);
    for (const mti of [`${v}100`, `${v}210`, `${v}400`]) {
      const m = sale();
      m.mti = mti;
      tt.match(isoError(() => refundOf(d, m, opts)), { field: null, message: /is not a financial request or advice/ }, `${name}: not ${mti}`);
    }
    tt.match(isoError(() => refundOf(d, sale().set(3, '200000'), opts)), { field: 3, message: /not a debit/ }, `${name}: not a refund of a refund`);
  }
  const advice = sale87();
  advice.mti = '0220';
  tt.equal(refundOf(d87, advice, OPTS).get(90)?.slice(0, 4), '0220', 'an advised sale is refunded, and F90 names it as an advice');
});
