/**
 * An upstream link's request matching (switch/edge/mux.ts): one STAN sequence and one
 * in-flight table for everything asked on the link. A STAN is never handed out while
 * something holds it, an answer goes to whoever holds its STAN, and one nobody holds is
 * reported as unmatched; a tracked request ends by its answer or its deadline, never both.
 */
import t from 'tap';
import { IsoMessage } from '../codec/index.js';
import { MAX_STAN, Mux, type Exchange } from '../switch/edge/mux.js';

class Recorder<T> implements Exchange<T> {
  answers: [T, string][] = [];
  expiries: T[] = [];
  answered(item: T, msg: IsoMessage): void {
    this.answers.push([item, msg.get(39) ?? '']);
  }
  expired(item: T): void {
    this.expiries.push(item);
  }
}

const answer = (stan: number | string, rc = '00'): IsoMessage => new IsoMessage('0210', { 11: String(stan).padStart(6, '0'), 39: rc });

t.test('answers go to whoever holds the STAN; unknown ones are unmatched', async (tt) => {
  let now = 0;
  const mux = new Mux({ tickMs: 10, now: () => now, firstStan: 100 });
  const sales = new Recorder<string>();
  const reversals = new Recorder<string>();
  const a = mux.track(sales, 'sale-a', 1000);
  const b = mux.track(sales, 'sale-b', 1000);
  tt.same([a, b], [100, 101], 'STANs in sequence');
  tt.ok(mux.hold(500, reversals, 'rev-1'), 'a reversal holds its own STAN');
  tt.notOk(mux.hold(a, reversals, 'rev-2'), 'a STAN a sale holds cannot be held again');
  tt.equal(mux.inFlight, 2, 'held STANs are not requests in flight with a deadline');

  tt.ok(mux.dispatch(answer(b, '05')), 'the answer to sale b');
  tt.ok(mux.dispatch(answer(500, '00')), 'the answer to the reversal');
  tt.ok(mux.dispatch(answer(500, '00')), 'a held STAN keeps routing until released (a repeat\'s answer)');
  tt.notOk(mux.dispatch(answer(b)), 'a second answer to sale b: nobody holds it now');
  tt.notOk(mux.dispatch(answer(777)), 'an answer to nothing');
  tt.notOk(mux.dispatch(new IsoMessage('0210', { 39: '00' })), 'no F11');
  tt.notOk(mux.dispatch(new IsoMessage('0210', { 11: 'ABC', 39: '00' })), 'a F11 that is not a number');
  tt.same(sales.answers, [['sale-b', '05']]);
  tt.same(reversals.answers, [['rev-1', '00'], ['rev-1', '00']]);
  mux.release(500);
  tt.notOk(mux.dispatch(answer(500)), 'released: no longer routed');

  now = 2000;
  tt.equal(mux.tick(now), 1, 'one deadline due');
  tt.same(sales.expiries, ['sale-a'], 'sale a had no answer: its deadline ended it');
  tt.notOk(mux.dispatch(answer(a)), 'its late answer is unmatched');
});

t.test('nextStan skips every STAN in flight or held, and wraps after 999999', async (tt) => {
  const mux = new Mux({ tickMs: 10, firstStan: MAX_STAN - 1 });
  const x = new Recorder<number>();
  tt.ok(mux.hold(MAX_STAN, x, 1), 'the top STAN is held');
  tt.ok(mux.hold(1, x, 2), 'and 000001');
  const first = mux.track(x, 3, 1000);
  tt.equal(first, MAX_STAN - 1);
  tt.equal(mux.nextStan(), 2, 'skips 999999 (held), wraps past 0, skips 000001 (held)');
  mux.release(first);
  mux.release(MAX_STAN);
  tt.equal(mux.nextStan(), 3, 'the sequence goes on from where it was, whatever was released');
});

t.test('the sequence starts at random: two links rarely meet', async (tt) => {
  const starts = new Set<number>();
  for (let i = 0; i < 50; i++) starts.add(new Mux({ tickMs: 10 }).nextStan());
  tt.ok(starts.size > 45, `${starts.size} different first STANs out of 50`);
  for (const s of starts) tt.ok(s >= 1 && s <= MAX_STAN, 'within 000001-999999');
});

t.test('the reversal lane: a reversal under its sale\'s own STAN (UnionPay) gets the reversal answers, the sale the rest', async (tt) => {
  const mux = new Mux({ tickMs: 10, now: () => 0, firstStan: 300 });
  const late = new Recorder<string>();
  const revs = new Recorder<string>();
  tt.ok(mux.hold(300, late, 'sale-late'), 'the timed-out sale waits for its late answer under 300');
  tt.ok(mux.holdReversal(300, revs, 'rev-300'), 'its reversal goes out under the same STAN');
  tt.notOk(mux.holdReversal(300, revs, 'rev-other'), 'one reversal a STAN');
  tt.ok(mux.dispatch(new IsoMessage('0410', { 11: '000300', 39: '00' })), 'the 0410');
  tt.same(revs.answers, [['rev-300', '00']], 'to the reversal');
  tt.ok(mux.dispatch(new IsoMessage('0210', { 11: '000300', 39: '00' })), 'the late 0210');
  tt.same(late.answers, [['sale-late', '00']], 'to the sale');
  mux.release(300);
  tt.not(mux.nextStan(), 300, 'a STAN in the reversal lane is given to no new request');
  mux.releaseReversal(300, 'rev-other');
  tt.ok(mux.dispatch(new IsoMessage('0410', { 11: '000300', 39: '00' })), 'released only by the reversal that holds it');
  mux.releaseReversal(300, 'rev-300');
  tt.notOk(mux.dispatch(new IsoMessage('0410', { 11: '000300', 39: '00' })), 'then nobody');
});
