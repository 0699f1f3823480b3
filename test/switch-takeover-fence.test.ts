/**
 * A node whose in-flight sale another node took over (it judged this node's heartbeat
 * stopped: a stall, a pause, a clock that differs) must treat the issuer's approval as
 * late: not relayed to the terminal, not written over the other node's `recovered`, and
 * not reversed a second time here, since the node that took it reverses it. On SQLite in
 * a temp directory. Fails when the approval's write is not fenced by owner, or when the
 * approval is delivered whatever the write says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sale, startHarness } from './support/switch-harness.js';
import { until } from './support/until.js';

t.test('an approval for a sale another node took over is not relayed; that node\'s reversal stands', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-fence-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, {
    store: `sqlite:${join(dir, 'journal.db')}`, upstreamTimeoutMs: 5000, issuer: { latencyMs: { min: 600, max: 600 } },
  });
  const c = await h.client();
  const s = sale({ amount: '4250' });
  const answer = c.request(s, 10_000);
  // The sale is in flight at the issuer; node "b" takes it over, as if this node had died.
  await until(() => h.events.some((e) => e.msg.get(37) === s.get(37)), 'the sale at the issuer', 5000);
  await h.store.flush();
  const at = Date.now();
  const taken = await h.store.claimOrphanTxns('b', at + 1, at);
  tt.equal(taken.length, 1, "b took this node's sale");
  const res = await answer;
  tt.not(res.get(39), '00', 'the terminal never sees the approval');
  await h.store.flush();
  const row = await h.store.txn(taken[0].id);
  tt.same([row?.node, row?.state, row?.responseCode], ['b', 'recovered', null], "b's recovered row, not overwritten by the approval");
  tt.equal(h.sw.counters.get('answers_after_takeover'), 1);
  await h.barrier(c);
  tt.same(h.reversalsSeen(), [], 'and no reversal from this node: b reverses it');
});
