/**
 * Message builders: responseTo, reversalOf (1987 F90/F95, 1993 F56/F24, UnionPay F11/F60/F39)
 * and repeatOf. Expected messages are spelled out field by field from domain.md §2 and §6.
 */
import t from 'tap';
import {
  decode, encode, getDialect, IsoError, IsoMessage, repeatMti, repeatOf, responseMti, responseTo, reversalOf,
  toHex,
} from '../codec/index.js';
import { B } from './support/wire.js';

const iso87a = getDialect('iso87a');
const iso87b = getDialect('iso87b');
const iso93a = getDialect('iso93a');
const cup = getDialect('cup');


/** Sensitive authentication data a reversal must never carry (domain.md §7). */
const NEVER_COPIED = [35, 36, 45, 52, 55];

const PAN = '4111111111111111';
const TRACK2 = '4111111111111111=25121010000000000';
const TRACK3 = '011234567890123456=724724100000000000030300XXXX040400099010=********************==1=100000000000000000';
const TRACK1 = 'B4111111111111111^CARDHOLDER/TEST^2512101000000000000';
const ICC = B('9F0206000000001000' + '57134111111111111111D25121010000000000000F' + '9F26080123456789ABCDEF');
const PIN_BLOCK = B('0123456789ABCDEF');

/** A 1987 purchase as an acquirer sends it, with every kind of card data present. */
function purchase87(): IsoMessage {
  return new IsoMessage('0200', {
    2: PAN, 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '143000', 13: '1125',
    14: '2512', 22: '051', 25: '00', 32: '123456', 33: '7890', 35: TRACK2, 36: TRACK3.slice(0, 104).replace(/[^0-9=]/g, '0'),
    37: '123456789012', 41: 'TERM0001', 42: 'MERCHANT0000001', 45: TRACK1, 49: '840', 52: PIN_BLOCK, 55: ICC,
  });
}

function json(m: IsoMessage): Record<string, string> {
  return m.toJSON();
}

interface Asserts {
  ok(v: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
  fail(msg: string): unknown;
}

function throwsIso(t: Asserts, fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (e) {
    t.ok(e instanceof IsoError, 'instanceof IsoError');
    t.equal((e as Error).message, message, 'message');
    return;
  }
  t.fail(`expected IsoError "${message}"`);
}

t.test('responseMti and repeatMti', async (t) => {
  const responses: [string, string][] = [
    ['0100', '0110'], ['0200', '0210'], ['0220', '0230'], ['0400', '0410'], ['0401', '0410'],
    ['0420', '0430'], ['0421', '0430'], ['0800', '0810'], ['1100', '1110'], ['1420', '1430'], ['1804', '1810'],
  ];
  for (const [req, res] of responses) t.equal(responseMti(req), res, `${req} -> ${res}`);
  throwsIso(t, () => responseMti('0210'), 'mti: MTI 0210 is not a request or advice');
  throwsIso(t, () => responseMti('0430'), 'mti: MTI 0430 is not a request or advice');
  throwsIso(t, () => responseMti('020'), 'mti: expected 4 digits');

  const repeats: [string, string][] = [
    ['0400', '0401'], ['0420', '0421'], ['0401', '0401'], ['0421', '0421'], ['0200', '0201'], ['1420', '1421'],
    ['0402', '0403'], ['0403', '0403'],
  ];
  for (const [m, r] of repeats) t.equal(repeatMti(m), r, `${m} -> ${r}`);
  throwsIso(t, () => repeatMti('0404'), 'mti: MTI 0404 has no repeat form');
});

t.test('responseTo', async (t) => {
  t.test('1987: MTI + 10, echo fields, F39; never F22/F35/F45/F52/F55', async (t) => {
    const req = purchase87();
    const res = responseTo(iso87a, req, '00');
    t.same(json(res), {
      mti: '0210', 2: PAN, 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '143000',
      13: '1125', 25: '00', 32: '123456', 33: '7890', 37: '123456789012', 39: '00', 41: 'TERM0001',
      42: 'MERCHANT0000001', 49: '840',
    });
    t.equal(res.tpdu, null);
    t.equal(res.header, null);
    t.equal(req.mti, '0200', 'the request is untouched');
    t.equal(req.has(39), false, 'the request gets no F39');
  });

  t.test('without a response code there is no F39', async (t) => {
    const res = responseTo(iso87a, new IsoMessage('0800', { 7: '1125143000', 11: '000001', 70: '301' }));
    t.same(json(res), { mti: '0810', 7: '1125143000', 11: '000001' });
  });

  t.test('a 0400 response echoes F90 and F95', async (t) => {
    const rev = reversalOf(iso87a, purchase87(), { finalAmount: '300' });
    const res = responseTo(iso87a, rev, '00');
    t.equal(res.mti, '0410');
    t.equal(res.get(90), rev.get(90));
    t.equal(res.get(95), rev.get(95));
    t.equal(res.get(39), '00');
  });

  t.test('1993: echoes F56, F39 is a 3-digit action code', async (t) => {
    const req = new IsoMessage('1420', {
      3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123', 12: '251125143000', 24: '400',
      56: '120000012325112514300006123456',
    });
    t.same(json(responseTo(iso93a, req, '400')), {
      mti: '1430', 3: '000000', 4: '000000001000', 7: '1125143500', 11: '000123', 12: '251125143000',
      39: '400', 56: '120000012325112514300006123456',
    });
  });

  t.test('UnionPay: TPDU addresses swapped, header copied, F60 echoed', async (t) => {
    const req = new IsoMessage('0200', {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051', 25: '00',
      35: '6212345678901234567D2512101', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156', 52: PIN_BLOCK,
      60: '22000001000',
    });
    req.tpdu = B('6000010002');
    req.header = B('603100311301');
    const res = responseTo(cup, req, '00');
    t.same(json(res), {
      mti: '0210', tpdu: '6000020001', header: '603100311301',
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051', 25: '00',
      39: '00', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156', 60: '22000001000',
    });
    t.equal(toHex(req.tpdu), '6000010002', 'the request TPDU is untouched');
  });
});

t.test('reversalOf, 1987 style (F90, F95)', async (t) => {
  t.test('full reversal: key fields, F90 per domain.md §2, F39 68, no card secrets', async (t) => {
    const rev = reversalOf(iso87a, purchase87());
    t.same(json(rev), {
      mti: '0400',
      2: PAN, 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '143000', 13: '1125',
      14: '2512', 22: '051', 25: '00', 32: '123456', 33: '7890', 37: '123456789012', 39: '68',
      41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
      90: '0200' + //       1-4   original MTI
        '000123' + //        5-10  original STAN
        '1125143000' + //   11-20  original F7
        '00000123456' + //  21-31  F32, right-justified, zero-filled
        '00000007890', //   32-42  F33, zero-filled
    });
    t.equal(rev.get(90)?.length, 42);
    for (const n of NEVER_COPIED) t.equal(rev.has(n), false, `F${n} not copied`);
    t.equal(rev.has(95), false, 'no F95: a full reversal');
  });

  t.test('F90 without F32/F33: the institution parts are zeros', async (t) => {
    const orig = purchase87().delete(32).delete(33);
    t.equal(reversalOf(iso87a, orig).get(90), '0200' + '000123' + '1125143000' + '0'.repeat(11) + '0'.repeat(11));
  });

  t.test('options: reason, own STAN and F7, approval code, advice', async (t) => {
    const rev = reversalOf(iso87a, purchase87(), {
      reason: '06', stan: '000124', transmissionDateTime: '1125143500', approvalCode: 'A1B2C3', advice: true,
    });
    t.equal(rev.mti, '0420');
    t.equal(rev.get(39), '06');
    t.equal(rev.get(11), '000124', 'the reversal has its own STAN');
    t.equal(rev.get(7), '1125143500', 'and its own F7');
    t.equal(rev.get(38), 'A1B2C3');
    t.equal(rev.get(90), '0200' + '000123' + '1125143000' + '00000123456' + '00000007890', 'F90 keeps the ORIGINAL STAN and F7');
  });

  t.test('partial reversal: F95 holds the FINAL amount, F4 stays the original', async (t) => {
    const rev = reversalOf(iso87a, purchase87(), { finalAmount: '300' });
    t.equal(rev.get(4), '000000001000', 'F4: the original amount');
    t.equal(rev.get(95),
      '000000000300' + //  actual transaction amount: what stays with the cardholder's account
      '000000000000' + //  actual settlement amount
      'C00000000' + //     transaction fee
      'C00000000', //      settlement fee
    );
    t.same(rev.replacementAmounts(), {
      transaction: '000000000300', settlement: '000000000000', transactionFee: 'C00000000', settlementFee: 'C00000000',
    });
  });

  t.test('partial reversal must stay below the original', async (t) => {
    const msg = 'field 95: partial reversal: the final amount must be below the original amount';
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '1000' }), msg);
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '000000001000' }), msg);
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '1001' }), msg);
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '999999999999' }), msg);
    throwsIso(t, () => reversalOf(iso87a, purchase87().delete(4), { finalAmount: '300' }),
      'field 4: a partial reversal needs the original amount (F4)');
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '3.00' }), 'field 4: final amount: expected digits');
    throwsIso(t, () => reversalOf(iso87a, purchase87(), { finalAmount: '1234567890123' }),
      'field 4: final amount: expected 1 to 12 digits');
  });

  t.test('what cannot be reversed', async (t) => {
    throwsIso(t, () => reversalOf(iso87a, new IsoMessage('0800', { 7: '1125143000', 11: '000001' })),
      'mti: MTI 0800 is not an authorization or financial message');
    throwsIso(t, () => reversalOf(iso87a, purchase87().delete(7)), 'field 90: the original needs F11 and F7 to build F90');
    throwsIso(t, () => reversalOf(iso87a, purchase87().delete(11)), 'field 90: the original needs F11 and F7 to build F90');
  });

  t.test('an authorization (0100) reverses too; the binary 1987 dialect follows the same rules', async (t) => {
    const orig = purchase87();
    orig.mti = '0100';
    const rev = reversalOf(iso87b, orig);
    t.equal(rev.mti, '0400');
    t.equal(rev.get(90)?.slice(0, 4), '0100');
    for (const n of NEVER_COPIED) t.equal(rev.has(n), false, `F${n} not copied`);
  });

  t.test('the reversal encodes and decodes in its dialect', async (t) => {
    for (const d of [iso87a, iso87b]) {
      const rev = reversalOf(d, purchase87(), { finalAmount: '300' });
      t.same(decode(d, encode(d, rev)).toJSON(), rev.toJSON(), d.name);
    }
  });
});

t.test('reversalOf, 1993 style (F56, F24)', async (t) => {
  function purchase93(): IsoMessage {
    return new IsoMessage('1200', {
      2: PAN, 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '251125143000',
      22: '201101010A3B', 24: '200', 32: '123456', 35: TRACK2, 37: '123456789012', 41: 'TERM0001',
      42: 'MERCHANT0000001', 45: TRACK1, 49: '840', 52: PIN_BLOCK, 55: ICC,
    });
  }

  t.test('full reversal: 1400, F24 400, F25 4021, F56 = MTI STAN F12 LL acquirer', async (t) => {
    const rev = reversalOf(iso93a, purchase93());
    t.same(json(rev), {
      mti: '1400',
      2: PAN, 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '251125143000',
      22: '201101010A3B', 24: '400', 25: '4021', 32: '123456', 37: '123456789012', 41: 'TERM0001',
      42: 'MERCHANT0000001', 49: '840',
      56: '1200' + '000123' + '251125143000' + '06' + '123456',
    });
    for (const n of NEVER_COPIED) t.equal(rev.has(n), false, `F${n} not copied`);
    t.equal(rev.has(90), false, 'no F90 in 1993');
    t.equal(rev.has(95), false, 'no 1987 F95 in 1993');
  });

  t.test('partial: F24 401, F4 the final amount, F30 the original', async (t) => {
    const rev = reversalOf(iso93a, purchase93(), { finalAmount: '300', messageReason: '4000', advice: true });
    t.equal(rev.mti, '1420');
    t.equal(rev.get(24), '401');
    t.equal(rev.get(25), '4000');
    t.equal(rev.get(4), '000000000300');
    t.equal(rev.get(30), '000000001000' + '000000000000');
    throwsIso(t, () => reversalOf(iso93a, purchase93(), { finalAmount: '1000' }),
      'field 95: partial reversal: the final amount must be below the original amount');
  });

  t.test('F56 without F32 carries an empty acquirer', async (t) => {
    t.equal(reversalOf(iso93a, purchase93().delete(32)).get(56), '1200' + '000123' + '251125143000' + '00');
  });

  t.test('F56 needs the original F11 and F12', async (t) => {
    throwsIso(t, () => reversalOf(iso93a, purchase93().delete(12)), 'field 56: the original needs F11 and F12 to build F56');
  });

  t.test('the reversal encodes and decodes', async (t) => {
    const rev = reversalOf(iso93a, purchase93(), { finalAmount: '300' });
    t.same(decode(iso93a, encode(iso93a, rev)).toJSON(), rev.toJSON());
  });
});

t.test('reversalOf, UnionPay style (original F11 and F60, F39 reason)', async (t) => {
  function purchaseCup(): IsoMessage {
    const m = new IsoMessage('0200', {
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051', 25: '00',
      26: '12', 35: '6212345678901234567D2512101', 36: '0'.repeat(104), 41: 'TERM0001', 42: 'MERCHANT0000001',
      49: '156', 52: PIN_BLOCK, 53: '2600000000000000', 55: ICC, 60: '22000001000', 64: B('0102030405060708'),
    });
    m.tpdu = B('6000010002');
    m.header = B('603100311301');
    return m;
  }

  t.test('0400 keeps the TPDU direction, F11 and F60; F39 98 by default', async (t) => {
    const rev = reversalOf(cup, purchaseCup());
    t.same(json(rev), {
      mti: '0400', tpdu: '6000010002', header: '603100311301',
      2: '6212345678901234567', 3: '000000', 4: '000000001000', 11: '000123', 14: '2512', 22: '051', 25: '00',
      39: '98', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '156', 60: '22000001000',
    });
    for (const n of NEVER_COPIED) t.equal(rev.has(n), false, `F${n} not copied`);
    t.equal(rev.has(64), false, 'the original MAC is not copied');
    t.equal(rev.has(7), false, 'no F7');
    t.equal(rev.has(90), false, 'no F90');
  });

  t.test('reason codes 96 and A0', async (t) => {
    t.equal(reversalOf(cup, purchaseCup(), { reason: '96' }).get(39), '96');
    t.equal(reversalOf(cup, purchaseCup(), { reason: 'A0' }).get(39), 'A0');
  });
});

t.test('repeatOf', async (t) => {
  const cases: [string, string][] = [['0400', '0401'], ['0420', '0421'], ['0401', '0401'], ['0421', '0421'], ['1420', '1421']];
  for (const [from, to] of cases) {
    const m = new IsoMessage(from, { 11: '000123', 39: '68', 64: B('0102030405060708') });
    m.tpdu = B('6000010002');
    const r = repeatOf(m);
    t.equal(r.mti, to, `${from} -> ${to}`);
    t.same(json(r), { ...json(m), mti: to }, 'everything else kept');
    t.equal(m.mti, from, 'the original is untouched');
    t.not(r, m, 'a new message');
  }
});

t.test('repeatOf copies binary fields and the envelope', async (t) => {
  // A repeat gets its own MAC (F64/F128) computed into it; that must not change the
  // stored original. decode() returns binary fields as Buffers, so test those, and plain
  // Uint8Arrays as built by hand.
  for (const make of [(h: string) => Buffer.from(h, 'hex'), (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))]) {
    const m = new IsoMessage('0400', { 11: '000123', 64: make('0102030405060708') });
    m.tpdu = make('6000010002');
    m.header = make('603100311301');
    const kind = m.tpdu.constructor.name;
    const r = repeatOf(m);
    r.getBytes(64)![0] = 0xff;
    r.tpdu![1] = 0xff;
    r.header![0] = 0xff;
    t.equal(m.get(64), '0102030405060708', `${kind}: F64 of the original unchanged`);
    t.equal(toHex(m.tpdu), '6000010002', `${kind}: TPDU of the original unchanged`);
    t.equal(toHex(m.header), '603100311301', `${kind}: header of the original unchanged`);
  }
});
