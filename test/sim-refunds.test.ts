/**
 * The issuer simulator's refunds (switch/sim/refund-book.ts through the ledger): a refund
 * credits an approved sale once, found by F90 or by RRN and terminal; a repeat (0221, or
 * the same STAN and F7) is answered and never credited twice; more than is left, or an
 * unknown sale, is refused and credits nothing; a refunded sale nets to zero.
 */
import t from 'tap';
import { formatF90, IsoMessage } from '../codec/index.js';
import { Ledger } from '../switch/sim/ledger.js';

function sale(stan: string, rrn: string, amount = '000000005000'): IsoMessage {
  return new IsoMessage('0200', {
    2: '4761739001010119', 3: '000000', 4: amount, 7: '1202101010', 11: stan, 32: '123456', 37: rrn, 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
  });
}

function refund(orig: IsoMessage, stan: string, amount: string, withF90 = true): IsoMessage {
  const m = new IsoMessage('0220', {
    2: '4761739001010119', 3: '200000', 4: amount, 7: '1203101010', 11: stan, 37: orig.get(37) as string, 41: 'TERM0001', 49: '840',
  });
  if (withF90) m.set(90, formatF90({ mti: orig.mti, stan: orig.get(11) as string, transmissionDateTime: orig.get(7) as string, acquirer: orig.get(32) }));
  return m;
}

t.test('a refund credits an approved sale once; repeats and excess are never credited', async (tt) => {
  const l = new Ledger();
  const a = sale('000001', 'RRN000000001');
  const b = sale('000002', 'RRN000000002');
  l.recordOriginal(a, '00', '111111', false, 1);
  l.recordOriginal(b, '00', '222222', false, 2);
  tt.same(l.snapshot().summary.heldAmount, 10_000);

  const first = l.refund(refund(a, '000101', '000000002000'), 10);
  tt.same([first.kind, first.code], ['applied', '00'], 'found by F90, credited');
  const repeat = refund(a, '000101', '000000002000');
  repeat.mti = '0221';
  tt.same([l.refund(repeat, 11).kind, l.refund(refund(a, '000101', '000000002000'), 12).kind], ['repeat', 'repeat'], 'a 0221, or the same again: answered, not credited');
  tt.same(l.refund(refund(a, '000102', '000000003001'), 13).code, '13', 'more than is left: refused');
  tt.same(l.refund(refund(a, '000103', '000000003000', false), 14).kind, 'applied', 'found by RRN and terminal, the rest credited');
  tt.same(l.refund(refund(sale('000009', 'RRN000000009'), '000104', '000000000100', false), 15).code, '25', 'no such sale: refused');

  const snap = l.snapshot();
  tt.same([snap.summary.refunds, snap.summary.refundRepeats, snap.summary.refundsRefused, snap.summary.refundedAmount], [2, 2, 2, 5000]);
  tt.same(snap.holds.map((h) => h.rrn), ['RRN000000002'], 'the refunded sale nets to zero: only the other is held');
  tt.equal(snap.heldAmount, 5000, 'held = the approvals kept');
  const refunded = snap.released.find((h) => h.rrn === 'RRN000000001');
  tt.same([refunded?.amount, refunded?.refunded], ['000000000000', '000000005000']);
  tt.equal(snap.refunds.length, 6, 'every refund that came, listed');
});
