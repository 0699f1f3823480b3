/**
 * Retention with a fake clock (issue 16), on SQLite, PostgreSQL and the memory store:
 * after 7 days a done transaction's sealed message is erased (with a history row) and an
 * unfinished one's is kept; after the evidence period done rows and their history are
 * deleted in signed batches, while rows still open stay; a summary whose text is changed
 * no longer verifies; and history's triggers still refuse an ad-hoc DELETE.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DAY_MS, Maintenance, RETENTION_DEFAULTS, verifySummary } from '../switch/store/maintenance.js';
import { openStore, type Store } from '../switch/store/index.js';
import { CardKeys } from '../switch/store/secrets.js';
import { PgSchemas, pgReady, withPg } from './support/pg.js';
import { reversalRow, txnRow } from './support/store-contract.js';

const keys = new CardKeys(Buffer.alloc(32, 4));
const T0 = Date.UTC(2026, 0, 10);
const SEALED = '{"v":2,"k":"k0","mti":"0200","pan":"2.k0.x.y.z.w"}';

async function seed(store: Store): Promise<void> {
  await store.open();
  const at = (d: number): number => T0 + d * DAY_MS;
  // Done: approved; declined; timed out with its reversal acked.
  void store.insertTxn(txnRow('done-approved', { state: 'approved', sealed: SEALED, createdAt: at(0), updatedAt: at(0), dupKey: 'k-1' }));
  void store.insertTxn(txnRow('done-declined', { state: 'declined', sealed: SEALED, createdAt: at(0), updatedAt: at(0) }));
  void store.insertTxn(txnRow('done-reversed', { state: 'timed_out', sealed: SEALED, createdAt: at(0), updatedAt: at(0) }));
  void store.insertReversal(reversalRow('rev-acked', { txnId: 'done-reversed', original: SEALED, message: SEALED, enqueuedAt: at(0), updatedAt: at(0) }));
  // Not done: still forwarded (recovery needs it); a reversal waiting for a person; a review open.
  void store.insertTxn(txnRow('open-forwarded', { state: 'forwarded', sealed: SEALED, createdAt: at(0), updatedAt: at(0) }));
  void store.insertTxn(txnRow('open-manual', { state: 'timed_out', sealed: SEALED, createdAt: at(0), updatedAt: at(0) }));
  void store.insertReversal(reversalRow('rev-manual', { txnId: 'open-manual', state: 'manual', original: SEALED, enqueuedAt: at(0), updatedAt: at(0) }));
  void store.insertTxn(txnRow('open-review', { state: 'approved', sealed: SEALED, createdAt: at(0), updatedAt: at(0) }));
  // Recent: within the 7 days at the first run.
  void store.insertTxn(txnRow('recent', { state: 'approved', sealed: SEALED, createdAt: at(5), updatedAt: at(5) }));
  await store.flush();
  await store.updateReversal({ id: 'rev-acked', from: ['pending'], state: 'acked', at: at(0) });
  await store.insertReview({
    id: 'rv-open', txnId: 'open-review', upstream: 'issuer', proposed: 'refund', amount: null, reason: null, finalAmount: null, why: 'limit',
    state: 'open', createdAt: at(0), decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
  });
  await store.insertReview({
    id: 'rv-done', txnId: 'done-approved', upstream: 'issuer', proposed: 'refund', amount: null, reason: null, finalAmount: null, why: 'limit',
    state: 'open', createdAt: at(0), decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
  });
  await store.decideReview({ id: 'rv-done', state: 'rejected', at: at(0), by: 'ops', note: 'no', action: 'none' });
}

async function retention(tt: Test, store: Store, adHocDelete: () => Promise<string>): Promise<void> {
  await seed(store);
  const m = new Maintenance(store, keys, RETENTION_DEFAULTS, { batch: 2 });

  const dry = await m.run(T0 + 8 * DAY_MS, true);
  tt.same([dry.plan.sealedTxns, dry.plan.sealedReversals], [3, 1], 'day 8, dry run: 3 done transactions and 1 acked reversal to erase');
  tt.equal((await store.txn('done-approved'))?.sealed, SEALED, 'a dry run changes nothing');

  const day8 = await m.run(T0 + 8 * DAY_MS);
  tt.equal(day8.erased, 4, 'day 8: erased, in batches of 2');
  tt.same(day8.runs, [], 'nothing is past the evidence period yet');
  for (const id of ['done-approved', 'done-declined', 'done-reversed']) tt.equal((await store.txn(id))?.sealed, null, `${id}: sealed message erased`);
  tt.same([(await store.reversal('rev-acked'))?.original, (await store.reversal('rev-acked'))?.message], ['', null], 'the acked reversal\'s too');
  for (const id of ['open-forwarded', 'open-manual', 'open-review', 'recent']) tt.equal((await store.txn(id))?.sealed, SEALED, `${id}: kept (not done, or recent)`);
  tt.equal((await store.reversal('rev-manual'))?.original, SEALED, 'a reversal waiting for a person keeps its original');
  const h = await store.history('done-approved');
  tt.ok(h.some((x) => x.kind === 'retention' && x.state === 'sealed_erased'), 'the erasure is in the transaction\'s history');
  tt.equal((await m.run(T0 + 8 * DAY_MS)).erased, 0, 'a second run finds nothing');

  const later = T0 + 400 * DAY_MS;
  const plan = (await m.run(later, true)).plan;
  tt.same([plan.txns, plan.reversals, plan.reviews], [3, 1, 1], 'day 400, dry run: 3 done transactions, 1 reversal, 1 decided review');
  const day400 = await m.run(later);
  const sum = (k: 'txns' | 'reversals' | 'reviews' | 'history'): number => day400.runs.reduce((n, r) => n + r[k], 0);
  tt.same([sum('txns'), sum('reversals'), sum('reviews')], [3, 1, 1], `deleted in ${day400.runs.length} signed batches`);
  tt.ok(sum('history') >= 6, `${sum('history')} history rows of the deleted rows went with them`);
  for (const id of ['done-approved', 'done-declined', 'done-reversed']) tt.equal(await store.txn(id), undefined, `${id} deleted`);
  for (const id of ['open-forwarded', 'open-manual', 'open-review', 'recent']) tt.ok(await store.txn(id), `${id} stays`);
  tt.ok((await store.history('open-manual')).length > 0, 'history of what stays stays');
  tt.same((await store.history('done-approved')).map((x) => x.kind), ['retention'],
    'of the deleted transaction\'s history, only its erasure (day 8, younger than the evidence period) is left');
  const day404 = await m.run(T0 + 404 * DAY_MS);
  tt.same(await store.history('done-approved'), [], 'day 404: it goes too');
  day400.runs.push(...day404.runs);

  const summaries = await store.pruned();
  tt.equal(summaries.length, day400.runs.length, 'one summary per batch, kept');
  tt.ok(summaries.every((s) => verifySummary(keys, s)), 'every summary verifies under the maintenance key');
  tt.notOk(verifySummary(keys, { ...summaries[0], txns: summaries[0].txns + 1 }), 'a changed count does not');
  tt.notOk(verifySummary(new CardKeys(Buffer.alloc(32, 5)), summaries[0]), 'nor under another key');
  tt.match(await adHocDelete(), /append-only/, 'an ad-hoc DELETE of history is still refused');
  await store.close();
}

t.test('SQLite', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-retention-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'r.db');
  await retention(tt, openStore(`sqlite:${path}`), async () => {
    const db = new Database(path);
    try {
      db.prepare('DELETE FROM history').run();
      return 'deleted';
    } catch (e) {
      return (e as Error).message;
    } finally {
      db.close();
    }
  });
});

t.test('memory', async (tt) => {
  await retention(tt, openStore('memory:'), () => Promise.resolve('history is append-only (the memory store has no DELETE)'));
});

if (await pgReady(t, 'PostgreSQL')) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());
  t.test('PostgreSQL', async (tt) => {
    const schema = schemas.next();
    await retention(tt, openStore(schemas.url(schema)), () => withPg(schema, async (c) => {
      try {
        await c.query('DELETE FROM history');
        return 'deleted';
      } catch (e) {
        return (e as Error).message;
      }
    }));
  });
}
