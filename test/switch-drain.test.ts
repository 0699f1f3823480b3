/**
 * SIGTERM with sales in flight (the switch's stop(), as `revswitch start` calls it): a
 * request that arrives on an open connection while the switch drains is answered 91 and
 * never goes upstream; every sale already in flight ends before the process would exit,
 * answered or timed out with its reversal queued and acknowledged, so nothing is left
 * `forwarded` for a restart that a decommissioned node never makes. On SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sale, startHarness } from './support/switch-harness.js';

t.test('stop() drains: nothing new goes upstream, the sales in flight are reversed before it returns', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-drain-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'journal.db')}`, upstreamTimeoutMs: 500, reversal: { responseTimeoutMs: 500, backoffMs: [100] } });
  const c = await h.client();
  // ..99: the issuer approves and holds them but never answers: in flight until the deadline.
  const held = Array.from({ length: 5 }, (_, i) => sale({ terminal: `DRAIN00${i}`, amount: '1099' }));
  const answers = held.map((s) => c.request(s, 10_000));
  await h.until(() => held.every((s) => h.salesSeen(s.get(37) as string).length === 1), 'the five at the issuer');
  const stopped = h.sw.stop(10_000);
  const late = sale({ terminal: 'DRAIN999', amount: '1000' });
  const refused = await c.request(late, 5000);
  tt.equal(refused.get(39), '91', 'a new sale while draining is answered 91');
  tt.same(h.salesSeen(late.get(37) as string), [], 'and never reaches the issuer');
  for (const a of await Promise.all(answers)) tt.equal(a.get(39), '91', 'each sale in flight ends as a timeout at the terminal');
  await stopped;
  const ledger = h.issuer.ledger();
  tt.equal(ledger.holds.length, 0, 'every hold the five placed was released before stop() returned');
  tt.equal(ledger.counters.reversalsApplied, 5);
  tt.same((await h.store.unfinishedTxns()).map((r) => r.id), [], 'nothing left in flight in the journal');
  tt.same((await h.store.reversals(['pending', 'sent'])).map((r) => r.id), [], 'no reversal left open');
  tt.equal(h.sw.counters.get('refused_while_stopping'), 1);
});
