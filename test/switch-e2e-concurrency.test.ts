/**
 * The running switch under concurrency, over real TCP on 127.0.0.1: terminals whose
 * STANs collide, an acquirer host with 200 requests in flight on one connection and
 * answers coming back out of order, and duplicates in flight and after completion.
 * Deterministic: fixed seeds, and every wait is on a message or a polled condition.
 */
import t from 'tap';
import { getDialect, reversalOf, type IsoMessage } from '../codec/index.js';
import { transmissionTime } from '../codec/index.js';
import { createRng } from '../switch/sim/prng.js';
import type { IssuerEvent } from '../switch/sim/issuer.js';
import { nextRrn, nextStan, sale, startHarness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
const saleOf = (rrn: string) => (e: IssuerEvent): boolean => e.msg.mti === '0200' && e.msg.get(37) === rrn;

t.test('STAN collision: two terminals send the same STAN and F7 at the same time, each gets its own answer', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: { min: 1, max: 30 } }, upstreamTimeoutMs: 5000 });
  const f7 = transmissionTime(Date.now());
  const a = sale({ terminal: 'TERMA001', stan: '000777', f7, amount: '1100' });
  const b = sale({ terminal: 'TERMB002', stan: '000777', f7, amount: '2200' });
  const [ca, cb] = [await h.client(), await h.client()];
  const [ra, rb] = await Promise.all([ca.request(a), cb.request(b)]);
  for (const [req, res] of [[a, ra], [b, rb]] as const) {
    tt.equal(res.mti, '0210');
    tt.equal(res.get(39), '00');
    tt.equal(res.get(11), '000777');
    tt.equal(res.get(41), req.get(41), `${req.get(41)}: its own terminal id`);
    tt.equal(res.get(37), req.get(37), `${req.get(41)}: its own RRN`);
    tt.equal(res.get(4), req.get(4), `${req.get(41)}: its own amount`);
  }
  const upA = h.salesSeen(a.get(37) as string);
  const upB = h.salesSeen(b.get(37) as string);
  tt.equal(upA.length, 1);
  tt.equal(upB.length, 1);
  tt.not(upA[0].msg.get(11), upB[0].msg.get(11), 'upstream, each under a STAN of the switch\'s own');
  tt.equal(h.sw.counters.get('duplicates'), 0, 'neither is taken for a duplicate of the other');
  tt.equal(h.issuer.ledger().holds.length, 2);
});

t.test('STAN collision on one acquirer-host connection, then colliding terminal reversals: each reverses its own sale', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: { min: 1, max: 30 } }, upstreamTimeoutMs: 5000 });
  const c = await h.client();
  const f7 = transmissionTime(Date.now());
  const a = sale({ terminal: 'TERMA001', stan: '000042', f7, amount: '3300' });
  const b = sale({ terminal: 'TERMB002', stan: '000042', f7, amount: '4400' });
  const done = c.waitFor(() => c.received.filter((m) => m.get(11) === '000042').length === 2);
  c.send(a);
  c.send(b);
  await done;
  const byTerminal = new Map(c.received.filter((m) => m.get(11) === '000042').map((m) => [m.get(41), m]));
  for (const req of [a, b]) {
    const res = byTerminal.get(req.get(41));
    tt.equal(res?.get(39), '00');
    tt.equal(res?.get(37), req.get(37));
    tt.equal(res?.get(4), req.get(4));
  }

  // Both chip-decline with the same reversal STAN too.
  const revF7 = transmissionTime(Date.now());
  const revs = [a, b].map((s) => reversalOf(D87, s, { reason: '06', stan: '000043', transmissionDateTime: revF7 }));
  const answers = await Promise.all(revs.map(async (r) => {
    const rc = await h.client();
    return rc.request(r);
  }));
  for (const [i, ans] of answers.entries()) {
    tt.equal(ans.mti, '0410');
    tt.equal(ans.get(41), revs[i].get(41));
  }
  await h.until(() => h.issuer.ledger().released.length === 2, 'both holds released');
  const l = h.issuer.ledger();
  tt.same(l.released.map((x) => x.rrn).sort(), [a.get(37), b.get(37)].sort(), 'each reversal reached its own sale');
  for (const x of l.released) tt.equal(x.reversals.distinct, 1);
  tt.equal(h.reversalsSeen().length, 2);
});

t.test('200 requests in flight on one acquirer-host connection, answered out of order: every answer matches its request', async (tt) => {
  const h = await startHarness(tt, { issuer: { seed: 77, approveRate: 0.8, latencyMs: { min: 1, max: 30 } }, upstreamTimeoutMs: 10_000 });
  const c = await h.client();
  const rng = createRng(2024);
  const f7 = transmissionTime(Date.now());
  const reqs: IsoMessage[] = [];
  for (let i = 0; i < 200; i++) {
    reqs.push(sale({
      terminal: `HOST${String(i % 10).padStart(4, '0')}`, stan: String(500_000 + i), f7, amount: String(rng.int(1, 5000) * 100),
    }));
  }
  for (const r of reqs) c.send(r);
  await h.until(() => c.received.length >= 200, '200 answers');

  const byStan = new Map<string, IsoMessage[]>();
  for (const m of c.received) byStan.set(m.get(11) as string, [...(byStan.get(m.get(11) as string) ?? []), m]);
  const decided = new Map(h.events.filter((e) => e.msg.mti === '0200').map((e) => [e.msg.get(37), e.answer]));
  let mismatches = 0;
  let approved = 0;
  for (const req of reqs) {
    const got = byStan.get(req.get(11) as string) ?? [];
    const res = got[0];
    const issuerAnswer = decided.get(req.get(37));
    const ok = got.length === 1 && res.mti === '0210' && res.get(41) === req.get(41) && res.get(37) === req.get(37)
      && res.get(4) === req.get(4) && issuerAnswer !== undefined && issuerAnswer !== null
      && res.get(39) === issuerAnswer.get(39) && res.get(38) === issuerAnswer.get(38);
    if (!ok) mismatches++;
    if (res?.get(39) === '00') approved++;
  }
  tt.equal(c.received.length, 200, 'exactly 200 answers');
  tt.equal(mismatches, 0, 'each answer carries its own request\'s F41, F37, F4 and the issuer\'s F39/F38 for it');
  const order = c.received.map((m) => Number(m.get(11)));
  tt.notSame(order, [...order].sort((x, y) => x - y), 'the answers came back out of order');
  tt.ok(approved > 100 && approved < 200, `a mix of approvals and declines (${approved} approved)`);
  const l = h.issuer.ledger();
  tt.equal(l.holds.length, approved, 'one hold per approval');
  tt.equal(h.sw.counters.get('forwarded'), 200);
  tt.equal(h.sw.counters.get('timeouts'), 0);
  tt.equal(h.sw.counters.get('duplicates'), 0);
  tt.equal(h.sw.counters.get('reversals_queued'), 0, 'nothing to reverse');
});

t.test('duplicates: resent while in flight, forwarded once and both get the answer; resent after completion, the stored answer', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 800 }, upstreamTimeoutMs: 5000 });
  const c1 = await h.client();
  const c2 = await h.client();
  const s = sale({ amount: '5500' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const two = c1.waitFor(() => c1.received.filter((m) => m.get(11) === s.get(11)).length === 2);
  c1.send(s);
  await upSale;
  c1.send(s); // the same terminal resends on the same connection
  const onOther = c2.request(s); // and on a second one, as after a reconnect
  await two;
  const r2 = await onOther;
  const r1 = c1.received.filter((m) => m.get(11) === s.get(11));
  for (const r of [...r1, r2]) {
    tt.equal(r.mti, '0210');
    tt.equal(r.get(39), '00');
    tt.equal(r.get(37), rrn);
    tt.equal(r.get(38), r1[0].get(38), 'the same approval code');
  }
  tt.equal(h.salesSeen(rrn).length, 1, 'forwarded once');
  tt.equal(h.sw.counters.get('duplicates'), 2);

  const r3 = await c2.request(s);
  tt.equal(r3.get(39), '00', 'after completion: the stored answer');
  tt.equal(r3.get(38), r1[0].get(38));
  await h.barrier(c2);
  tt.equal(h.salesSeen(rrn).length, 1, 'still forwarded once');
  tt.equal(h.sw.counters.get('duplicates'), 3);
  tt.equal(h.issuer.ledger().holds.filter((x) => x.rrn === rrn).length, 1, 'one hold');

  // The same STAN with another F7 (a new transmission, e.g. after the STAN wrapped) is a new sale.
  const fresh = sale({ amount: '5600', stan: s.get(11), f7: '0101000000' });
  const r4 = await c2.request(fresh);
  tt.equal(r4.get(39), '00');
  tt.equal(r4.get(37), fresh.get(37));
  tt.equal(h.salesSeen(fresh.get(37) as string).length, 1, 'forwarded');
});

t.test('a duplicate of a sale that timed out gets the stored 91; no second forward, no second reversal', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '5799', rrn: nextRrn('DU'), stan: nextStan() });
  const rrn = s.get(37) as string;
  tt.equal((await c.request(s)).get(39), '91');
  await h.until(() => h.sw.reversals.outstanding === 0 && h.reversalsSeen().length === 1, 'the timeout reversal acknowledged');
  const again = await c.request(s);
  tt.equal(again.get(39), '91');
  await h.barrier(c);
  tt.equal(h.salesSeen(rrn).length, 1, 'forwarded once');
  tt.equal(h.reversalsSeen().length, 1, 'reversed once');
  tt.equal(h.issuer.ledger().released.find((x) => x.rrn === rrn)?.reversals.received, 1);
});
