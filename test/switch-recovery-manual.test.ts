/**
 * A sale left in flight that the recovering node cannot reverse itself (its upstream is
 * not configured here, or its journal row holds no request to build the 0400 from) may
 * still hold the cardholder's money: it must reach the manual-handling queue, where
 * `revswitch manual list` shows it, not only a log line. A store that holds such sales
 * already at start is refused instead (queue-upstreams.ts: `--reassign-upstream`), so the
 * unconfigured-upstream case arrives while the switch runs, from a dead node's takeover.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../switch/store/index.js';
import { startHarness } from './support/switch-harness.js';
import { txnRow } from './support/store-contract.js';
import { until } from './support/until.js';

t.test('a sale left in flight that this node cannot reverse goes to manual handling', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recovery-manual-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const now = Date.now();
  const before = new SqliteStore(url, { inline: true });
  await before.open();
  // Left 'forwarded' by this node (hostname() is the harness switch's node id).
  await before.insertTxn(txnRow('no-request', {
    node: hostname(), upstream: 'issuer', upstreamStan: '000502', f7: '1126101501', sealed: null, createdAt: now - 4000, updatedAt: now - 4000,
  }));
  await before.close();

  const h = await startHarness(tt, { store: url });
  const store = h.sw.journal.store;
  // A node with another config (it had "old-issuer") dies with these in flight; this one
  // takes them over (it never heartbeated: stale at once).
  await store.insertTxn(txnRow('gone-upstream', {
    node: 'dead-node', upstream: 'old-issuer', upstreamStan: '000501', f7: '1126101500', createdAt: now - 5000, updatedAt: now - 5000,
  }));
  // Taken as recovered by an earlier owner, which crashed before its reversal reached the
  // store: still in flight as far as the money goes.
  await store.insertTxn(txnRow('recovered-then-crashed', {
    node: 'dead-node', upstream: 'old-issuer', upstreamStan: '000503', f7: '1126101502', state: 'recovered', createdAt: now - 3000, updatedAt: now - 3000,
  }));
  await until(async () => (await store.reversals(['manual'])).length >= 3, 'all three in the manual queue', 10_000, 20).catch(() => -1);
  const manual = await store.reversals(['manual']);
  tt.equal(manual.length, 3, 'all three are in the manual queue');
  tt.ok(manual.some((r) => r.txnId === 'recovered-then-crashed'), 'the one recovered without its reversal too');
  const gone = manual.find((r) => r.txnId === 'gone-upstream');
  const noRequest = manual.find((r) => r.txnId === 'no-request');
  tt.equal(gone?.upstream, 'old-issuer');
  tt.match(gone?.lastError, /upstream "old-issuer" is not configured on node/, `why, for a person: ${gone?.lastError}`);
  tt.equal(gone?.original, 'sealed:v1:abc', 'the sealed request is kept as the original');
  tt.equal(gone?.reason, '68', 'the rules\' timeout reason');
  tt.match(noRequest?.lastError, /holds no request/, `why: ${noRequest?.lastError}`);
  tt.equal(h.reversalsSeen().length, 0, 'nothing was sent upstream for them');

  const row = await store.txn('gone-upstream');
  tt.equal(row?.state, 'recovered', 'the transaction is settled as recovered');
  tt.equal(row?.reversalId, gone?.id, 'and points at its manual reversal');
  tt.match(row?.decision, /^review: left in flight/, 'its decision says a person must act');
  tt.equal(h.sw.counters.get('reversals_manual'), 3);
  tt.equal(h.sw.counters.get('recovery_failed'), 3);
  tt.same((await store.unfinishedTxns()).map((r) => r.id), [], 'nothing is left in flight to report again at the next start');
});

t.test('a store whose sales in flight wait for an upstream the config lacks is refused at start, naming them', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recovery-refused-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const before = new SqliteStore(url, { inline: true });
  await before.open();
  await before.insertTxn(txnRow('gone-1', { node: hostname(), upstream: 'old-issuer', upstreamStan: '000601', f7: '1126101600' }));
  await before.insertTxn(txnRow('gone-2', { node: hostname(), upstream: 'old-issuer', upstreamStan: '000602', f7: '1126101601', state: 'recovered' }));
  await before.close();
  await tt.rejects(startHarness(tt, { store: url }), /"old-issuer" \(2 unfinished sales\).*--reassign-upstream old-issuer=NEW/);
  const after = new SqliteStore(url, { inline: true });
  await after.open();
  tt.same((await after.unfinishedTxns()).map((r) => r.id), ['gone-1', 'gone-2'], 'left as they were, for a start that can reverse them');
  tt.same(await after.reversals(), [], 'nothing queued, nothing sent to manual');
  await after.close();
});
