/**
 * A sale past its deadline keeps its upstream STAN held while its late answer is awaited,
 * so the link never gives that STAN to a new sale: at 8k sales/s the 6-digit sequence
 * wraps in about 2 minutes, and an old sale's late answer would otherwise be taken for a
 * newer sale's (a late decline withdrawing the newer sale's reversal). And a late answer
 * is applied only to the sale it names (F7, F41, F37 where echoed). Each part fails on the
 * old keying by link and STAN alone.
 */
import t from 'tap';
import { getDialect, responseTo, type IsoMessage } from '../codec/index.js';
import type { Exchange } from '../switch/edge/mux.js';
import { sale, startHarness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
const probe: Exchange<null> = { answered: () => {}, expired: () => {} };

t.test("an expired sale's STAN is not given out again until its late answer comes", async (tt) => {
  const h = await startHarness(tt, { upstreamTimeoutMs: 300, issuer: { lateMs: 1500 } });
  const link = h.sw.links.get('issuer');
  if (!link) throw new Error('no link');
  const c = await h.client();
  // ..68: approved and held, answered after lateMs: past the switch's deadline.
  const s = sale({ amount: '1068' });
  tt.equal((await c.request(s, 5000)).get(39), '91', 'the deadline passes: 91, and the reversal is queued');
  const stan = Number(h.salesSeen(s.get(37) as string)[0].msg.get(11));
  tt.notOk(link.mux.hold(stan, probe, null), 'its STAN is still held: no new sale can get it');
  await h.until(() => h.sw.counters.get('late_responses') === 1, 'the late approval');
  tt.ok(link.mux.hold(stan, probe, null), 'once the late answer came, the STAN is free');
  link.mux.release(stan);
  await h.until(() => h.sw.reversals.outstanding === 0, 'the reversal acknowledged');
  tt.equal(h.issuer.ledger().holds.filter((x) => x.rrn === s.get(37)).length, 0, 'the late approval was reversed');
});

t.test('an answer under an expired sale\'s STAN that names another sale is never applied to it', async (tt) => {
  const h = await startHarness(tt, { upstreamTimeoutMs: 300, reversal: { window: 1 } });
  const link = h.sw.links.get('issuer');
  if (!link) throw new Error('no link');
  const c = await h.client();
  // ..91: never answered, nothing held: the reversal of the deadline goes out unmatched.
  const s = sale({ amount: '1091' });
  tt.equal((await c.request(s, 5000)).get(39), '91');
  const sent = h.salesSeen(s.get(37) as string)[0].msg;
  // An old sale's decline, from before the sequence wrapped, under the same STAN.
  const stray: IsoMessage = responseTo(D87, sent, '05').set(41, 'OTHERTRM').set(37, '999999999999');
  tt.ok(link.mux.dispatch(stray), 'taken by the expired sale holding the STAN');
  tt.equal(h.sw.counters.get('late_answers_mismatched'), 1, 'counted as naming another sale');
  tt.equal(h.sw.counters.get('reversals_cancelled'), 0, 'nothing withdrawn on its word');
  const own = responseTo(D87, sent, '05');
  tt.ok(link.mux.dispatch(own), "the sale's own late answer still finds it");
  tt.equal(h.sw.counters.get('late_responses'), 1, 'and is taken as its late answer');
  tt.notOk(link.mux.dispatch(own), 'after which the STAN is free again');
});
