/**
 * engine/journal-mender.ts: a transaction's state change that did not commit is written
 * again once the store takes writes, never over a later change (a state never goes
 * back), folded into a later change of the same transaction, and a refusal is final.
 */
import t from 'tap';
import { JournalMender, notCommitted } from '../switch/engine/journal-mender.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { MemoryStore } from '../switch/store/index.js';
import type { TxnUpdate } from '../switch/store/types.js';
import { txnRow } from './support/store-contract.js';
import { until } from './support/until.js';

const FAIL = new Error('memory: updateTxn t1: not committed: injected: disk full');

/** The memory store, whose writes fail while `down`. */
class Flaky extends MemoryStore {
  down = false;
  override updateTxn(u: TxnUpdate): Promise<boolean> {
    return this.down ? Promise.reject(FAIL) : super.updateTxn(u);
  }
}

async function setup(): Promise<{ store: Flaky; mender: JournalMender; counters: Counters }> {
  const store = new Flaky();
  await store.open();
  const counters = new Counters();
  return { store, mender: new JournalMender(store, createLogger('silent'), counters, { retryMs: 10, cap: 3 }), counters };
}

t.test('which failures are retried', async (tt) => {
  tt.ok(notCommitted(FAIL));
  tt.ok(notCommitted(new Error('sqlite:x: a batch of 2 operations did not commit: database or disk is full')));
  tt.notOk(notCommitted(new Error('sqlite:x: updateTxn t1: no transaction with id t1')), 'a refusal is final');
});

t.test('a failed change is written again once the store takes writes', async (tt) => {
  const { store, mender, counters } = await setup();
  tt.teardown(() => mender.stop());
  await store.insertTxn(txnRow('t1', { createdAt: 1000, updatedAt: 1000 }));
  store.down = true;
  const u: TxnUpdate = { id: 't1', state: 'approved', at: 2000, responseCode: '00', approvalCode: 'A1B2C3' };
  await store.updateTxn(u).catch((e: unknown) => mender.failed(u, e));
  tt.equal(mender.size, 1, 'kept');
  await new Promise((r) => setTimeout(r, 50));
  tt.equal((await store.txn('t1'))?.state, 'forwarded', 'not while the store fails');
  store.down = false;
  await until(() => mender.size === 0 && counters.get('journal_mended') === 1, 'written again');
  tt.has(await store.txn('t1'), { state: 'approved', responseCode: '00', approvalCode: 'A1B2C3', updatedAt: 2000 }, 'whole, at the time it was made');
  const h = await store.history('t1');
  tt.match(h[h.length - 1].detail ?? '', /written again: the change of 1970-01-01T00:00:02\.000Z had not committed/);
});

t.test('a later change folds a kept one into itself; a kept one never overwrites a later one', async (tt) => {
  const { store, mender } = await setup();
  tt.teardown(() => mender.stop());
  await store.insertTxn(txnRow('t1', { createdAt: 1000, updatedAt: 1000 }));
  store.down = true;
  const approved: TxnUpdate = { id: 't1', state: 'approved', at: 2000, responseCode: '00', approvalCode: 'A1B2C3', note: 'answered' };
  await store.updateTxn(approved).catch((e: unknown) => mender.failed(approved, e));
  const folded = mender.fold({ id: 't1', state: 'undeliverable', at: 3000, reversalId: 'rev-1', note: 'not delivered' });
  tt.same(folded, { id: 't1', state: 'undeliverable', at: 3000, responseCode: '00', approvalCode: 'A1B2C3', reversalId: 'rev-1', note: 'answered; not delivered' },
    'the later state, every field of both, the later winning');
  tt.equal(mender.size, 0, 'nothing kept any more: one write carries both');

  // A kept change older than what the row already has: only the fields the row lacks.
  const older: TxnUpdate = { id: 't1', state: 'timed_out', at: 2500, failureClass: 'timeout', decision: 'reverse: no answer' };
  store.down = false;
  await store.updateTxn({ id: 't1', state: 'undeliverable', at: 3000, reversalId: 'rev-1' });
  mender.failed(older, FAIL);
  await until(() => mender.size === 0, 'mended');
  await new Promise((r) => setTimeout(r, 30));
  tt.has(await store.txn('t1'), { state: 'undeliverable', failureClass: 'timeout', decision: 'reverse: no answer', reversalId: 'rev-1', updatedAt: 3000 },
    'the later state stands; the older change\'s missing fields are filled in');
});

t.test('bounded: past the cap the oldest goes, counted', async (tt) => {
  const { mender, counters } = await setup();
  tt.teardown(() => mender.stop());
  for (const id of ['a', 'b', 'c', 'd']) mender.failed({ id, state: 'timed_out', at: 1 }, FAIL);
  tt.equal(mender.size, 3);
  tt.equal(counters.get('journal_mend_dropped'), 1);
  mender.failed({ id: 'e', state: 'timed_out', at: 1 }, new Error('updateTxn e: no transaction with id e'));
  tt.equal(mender.size, 3, 'a refusal is not kept');
});
