/**
 * The store contract, written against the Store interface only, so every store (memory,
 * SQLite, and PostgreSQL later) runs the same suite: storeContract(t, target).
 *
 * What no interface method can show (the migrations table, history refusing a raw
 * UPDATE from another connection, surviving SIGKILL, a dead backend, a locked database)
 * comes in through optional hooks on the target; a target without a hook skips that
 * check, visibly (a skipped subtest names the hook).
 */
import type { Test } from 'tap';
import { isDuplicateRequest, type HistoryRow, type ReversalRow, type ReviewRow, type Store, type TxnRow } from '../../switch/store/types.js';

export interface StoreContractTarget {
  /** Titles of the subtests. */
  name: string;
  /** A Store on a new, empty database, not opened yet. */
  make(): Store | Promise<Store>;
  /** Heartbeats carry the server's clock, not the time given (PostgreSQL, shared by hosts whose clocks differ). */
  serverClock?: boolean;
  /** A second Store on the database of `store` (closed by then), not opened; omit when data does not outlive close. */
  reopen?(store: Store): Store | Promise<Store>;
  /** The highest version in schema_migrations, read without the Store. */
  schemaVersion?(store: Store): number | Promise<number>;
  /** Tries a raw UPDATE and a raw DELETE on history over another connection: each one's error, or null if it went through. */
  tamperHistory?(store: Store): Promise<{ update: string | null; delete: string | null }>;
  /**
   * Runs another process writing transactions to the database of `store` (closed by
   * then), SIGKILLs it right after some writes resolved, and returns the ids it reported
   * as resolved before it died.
   */
  crashWriter?(store: Store): Promise<string[]>;
  /** Kills the store's backend abruptly (a crash of its thread or connection). */
  crashBackend?(store: Store): Promise<void>;
  /** Takes the database's write lock from another connection; calling the result gives it back. */
  lockDatabase?(store: Store): Promise<() => void>;
}

const T0 = 1_764_000_000_000;

export function txnRow(id: string, over: Partial<TxnRow> = {}): TxnRow {
  return {
    id, node: 'node-1', listener: 'pos', sender: '00000001/TERM0001', terminal: 'TERM0001', merchant: 'MERCHANT0000001',
    acquirer: '00000001', mti: '0200', stan: '000123', f7: '1125213300', rrn: '533021000123', amount: '000000001000',
    currency: '978', panMasked: '476173******0119', panHash: 'h:5f1c', businessDate: '2025-11-25', upstream: 'issuer',
    upstreamStan: '000777', state: 'forwarded', responseCode: null, failureClass: null, decision: null, reversalId: null, approvalCode: null,
    approvedAmount: null, sealed: 'sealed:v1:abc', createdAt: T0, updatedAt: T0, ...over,
  };
}

export function reversalRow(id: string, over: Partial<ReversalRow> = {}): ReversalRow {
  return {
    id, txnId: null, upstream: 'issuer', state: 'pending', attempts: 0, reason: '68', finalAmount: null,
    explanation: 'timeout: full reversal', original: 'sealed:v1:orig', message: null, sentStan: null,
    enqueuedAt: T0, dueAt: T0, lastError: null, note: null, updatedAt: T0, kind: 'reversal', amount: null, retriedAt: null, ...over,
  };
}

/** Settles or fails the test after `ms`: a store that hangs is a failure, not a stuck run. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const errText = async (p: Promise<unknown>): Promise<string | null> => {
  try {
    await p;
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
};

const states = (h: HistoryRow[]): string[] => h.map((x) => x.state);
const increasing = (h: HistoryRow[]): boolean => h.every((x, i) => i === 0 || x.seq > h[i - 1].seq);

export function storeContract(t: Test, target: StoreContractTarget): void {
  const made: Store[] = [];
  t.teardown(async () => {
    for (const s of made) await s.close().catch(() => undefined);
  });

  /** A new opened store; closed at the end of the suite if the test did not. */
  async function fresh(): Promise<Store> {
    const s = await target.make();
    made.push(s);
    await s.open();
    return s;
  }
  async function again(s: Store): Promise<Store> {
    if (!target.reopen) throw new Error('no reopen hook');
    const s2 = await target.reopen(s);
    made.push(s2);
    await s2.open();
    return s2;
  }

  t.test(`${target.name}: open, close, reopen; migrations run once`, async (t) => {
    const early = await target.make();
    made.push(early);
    t.match(await errText(early.insertTxn(txnRow('before-open'))), /not open/, 'a write before open() is refused');
    await early.close();

    const s = await fresh();
    t.match(s.url, /\S/, 'the store has a url');
    await s.open(); // a second open() of an open store is harmless
    await s.insertTxn(txnRow('t1'));
    t.equal(await s.insertReversal(reversalRow('r1', { txnId: 't1' })), true);
    await s.close();
    await s.close(); // and so is a second close()
    t.match(await errText(s.insertTxn(txnRow('after-close'))), /closed/, 'a write after close() is refused');
    t.match(await errText(s.txn('t1')), /closed/, 'a read after close() is refused');
    if (!target.reopen) {
      t.pass('data across close and reopen', { skip: 'the target has no reopen hook (nothing outlives close)' });
      return;
    }
    const v1 = target.schemaVersion ? await target.schemaVersion(s) : null;
    const s2 = await again(s);
    t.same(await s2.txn('t1'), txnRow('t1'), 'the transaction survived close and reopen');
    t.same(await s2.reversal('r1'), reversalRow('r1', { txnId: 't1' }), 'the reversal survived');
    t.same(states(await s2.history('t1')), ['forwarded'], 'the history survived, once');
    await s2.insertTxn(txnRow('t2'));
    await s2.close();
    const s3 = await again(s);
    t.same((await s3.recentTxns(0)).map((x) => x.id), ['t1', 't2'], 'a third open sees both');
    await s3.close();
    if (target.schemaVersion) {
      const v3 = await target.schemaVersion(s);
      t.ok(v1 !== null && v1 >= 1, `schema_migrations has a version (${v1})`);
      t.equal(v3, v1, 'reopening applied no migration twice');
    } else {
      t.pass('schema_migrations', { skip: 'the target has no schemaVersion hook' });
    }
  });

  t.test(`${target.name}: transactions and their history`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('a', { failureClass: 'x' }));
    t.same(await s.txn('a'), txnRow('a', { failureClass: 'x' }), 'a row reads back as written');
    t.equal(await s.txn('nope'), undefined, 'an unknown id reads as undefined');
    await s.updateTxn({ id: 'a', state: 'approved', at: T0 + 10, responseCode: '00', approvalCode: 'A1B2C3', decision: 'none: approved', note: 'answered' });
    t.same(await s.txn('a'), txnRow('a', {
      state: 'approved', responseCode: '00', approvalCode: 'A1B2C3', decision: 'none: approved', failureClass: 'x', updatedAt: T0 + 10,
    }), 'the update set its fields and kept the ones it left out');
    await s.updateTxn({ id: 'a', state: 'undeliverable', at: T0 + 20, responseCode: null, reversalId: 'rev-a' });
    const row = await s.txn('a');
    t.equal(row?.responseCode, null, 'null is a value: it clears the field');
    t.equal(row?.decision, 'none: approved', 'a field left out keeps its value');
    t.equal(row?.reversalId, 'rev-a');
    t.equal(row?.approvalCode, 'A1B2C3', 'the approval code stays when an update leaves it out');
    await s.insertTxn(txnRow('p', { amount: '000000010000' }));
    await s.updateTxn({ id: 'p', state: 'approved', at: T0 + 30, responseCode: '10', approvalCode: 'P1', approvedAmount: '000000006000' });
    t.same([(await s.txn('p'))?.approvedAmount, (await s.txn('p'))?.amount], ['000000006000', '000000010000'], 'a partial approval keeps the amount approved beside the amount asked');
    await s.updateTxn({ id: 'p', state: 'approved', at: T0 + 31, note: 'again' });
    t.equal((await s.txn('p'))?.approvedAmount, '000000006000', 'and keeps it when an update leaves it out');
    t.equal(row?.createdAt, T0, 'createdAt never changes');

    const h = await s.history('a');
    t.same(states(h), ['forwarded', 'approved', 'undeliverable'], 'one history row per change, in order');
    t.ok(increasing(h), 'seq increases');
    t.ok(h.every((x) => x.kind === 'txn' && x.ref === 'a'), 'kind and ref');
    t.same(h.map((x) => x.at), [T0, T0 + 10, T0 + 20], 'at is the time of each change');
    t.same(JSON.parse(h[1].detail ?? 'null'), { responseCode: '00', approvalCode: 'A1B2C3', decision: 'none: approved', note: 'answered' },
      'the detail carries the codes, the decision and the note');
    t.same(JSON.parse(h[2].detail ?? 'null'), { responseCode: null, reversalId: 'rev-a' });
    t.notOk(JSON.stringify(h).includes('476173'), 'no card data in the history');
    t.same(await s.history('nobody'), [], 'no history for an unknown ref');

    const msg = await errText(s.updateTxn({ id: 'ghost', state: 'approved', at: T0 }));
    t.match(msg, /updateTxn ghost/, `updating a missing transaction is refused, naming op and id: ${msg}`);
    t.same(await s.history('ghost'), [], 'and leaves no history');
    await s.close();
  });

  t.test(`${target.name}: unfinishedTxns and recentTxns`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('late', { createdAt: T0 + 300, updatedAt: T0 + 300 }));
    await s.insertTxn(txnRow('early', { createdAt: T0 + 100, updatedAt: T0 + 100 }));
    await s.insertTxn(txnRow('done', { createdAt: T0 + 200, updatedAt: T0 + 200 }));
    await s.insertTxn(txnRow('old', { createdAt: T0 - 1000, updatedAt: T0 - 1000, state: 'approved' }));
    await s.updateTxn({ id: 'done', state: 'declined', at: T0 + 250, responseCode: '05' });
    t.same((await s.unfinishedTxns()).map((x) => x.id), ['early', 'late'], 'only forwarded ones, oldest first');
    await s.updateTxn({ id: 'late', state: 'recovered', at: T0 + 400 });
    t.same((await s.unfinishedTxns()).map((x) => x.id), ['early', 'late'], 'recovered, its reversal not stored yet (a crash between the two): still unfinished');
    await s.insertReversal(reversalRow('rev-late', { txnId: 'late' }));
    t.same((await s.unfinishedTxns()).map((x) => x.id), ['early'], 'recovered with its reversal stored is finished');
    t.same((await s.recentTxns(T0 + 200)).map((x) => x.id), ['done', 'late'], 'since is inclusive, oldest first');
    t.same((await s.recentTxns(0)).map((x) => x.id), ['old', 'early', 'done', 'late']);
    t.same(await s.recentTxns(T0 + 10_000), []);
    t.same((await s.recentTxns(T0 + 300))[0], txnRow('late', { createdAt: T0 + 300, updatedAt: T0 + 400, state: 'recovered' }), 'full rows');
    t.same((await s.recentTxns(0, 2)).map((x) => x.id), ['done', 'late'], 'with a limit: the newest ones, still oldest first');
    t.same((await s.recentTxns(T0 + 300, 5)).map((x) => x.id), ['late'], 'a limit above the count changes nothing');
    t.same((await s.recentTxns(0, 2))[1], txnRow('late', { createdAt: T0 + 300, updatedAt: T0 + 400, state: 'recovered' }), 'full rows, nothing extra');
    await s.close();
  });

  t.test(`${target.name}: a reversal id is inserted once`, async (t) => {
    const s = await fresh();
    t.equal(await s.insertReversal(reversalRow('r')), true, 'first insert');
    t.equal(await s.insertReversal(reversalRow('r', { reason: '17', explanation: 'second' })), false, 'same id: false');
    t.equal((await s.reversal('r'))?.reason, '68', 'the first row stands');
    t.same(states(await s.history('r')), ['pending'], 'no second history row');
    t.equal(await s.reversal('nope'), undefined);
    await s.close();
  });

  t.test(`${target.name}: a refund shares the queue, with its kind and amount`, async (t) => {
    const s = await fresh();
    const refund = reversalRow('f1', { kind: 'refund', amount: '000000001250', reason: '', explanation: 'after cutover: refund' });
    t.equal(await s.insertReversal(refund), true);
    t.equal(await s.insertReversal(reversalRow('r1')), true, 'a reversal beside it');
    const { kind: _, amount: __, ...asOldCaller } = reversalRow('r2');
    t.equal(await s.insertReversal(asOldCaller), true, 'a row without kind is a reversal');
    await s.flush();
    t.same(await s.reversal('f1'), refund, 'read back as inserted');
    t.same([(await s.reversal('r1'))?.kind, (await s.reversal('r2'))?.kind, (await s.reversal('r2'))?.amount], ['reversal', 'reversal', null]);
    t.same((await s.reversals(['pending'])).map((r) => `${r.id}:${r.kind}`).sort(), ['f1:refund', 'r1:reversal', 'r2:reversal']);
    t.match((await s.history('f1'))[0]?.detail, /"kind":"refund","amount":"000000001250"/, 'its history says it is a refund');
    await s.close();
  });

  t.test(`${target.name}: the review queue: inserted once, decided once, its queue row recorded once, all in the history`, async (t) => {
    const s = await fresh();
    const item = (id: string, at: number): ReviewRow => ({
      id, txnId: `t-${id}`, upstream: 'issuer', proposed: 'refund', amount: '000000002500', reason: null, finalAmount: null,
      why: 'refund over the per-card daily cap', state: 'open', createdAt: at, decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
    });
    t.equal(await s.insertReview(item('v1', T0)), true);
    t.equal(await s.insertReview({ ...item('v1', T0 + 5), why: 'again' }), false, 'one item per id');
    t.equal(await s.insertReview(item('v2', T0 + 1)), true);
    t.same(await s.review('v1'), item('v1', T0), 'read back as inserted');
    t.same((await s.reviews(['open'])).map((r) => r.id), ['v1', 'v2'], 'open, oldest first');
    t.equal(await s.reviewQueued('v1', 'refund|x', T0 + 2), false, 'not approved: no queue row recorded');
    t.equal(await s.decideReview({ id: 'v1', state: 'approved', at: T0 + 3, by: 'alice', note: 'checked with the issuer', action: 'refund' }), true);
    t.equal(await s.decideReview({ id: 'v1', state: 'rejected', at: T0 + 4, by: 'bob', note: 'no', action: 'none' }), false, 'decided once');
    t.equal(await s.decideReview({ id: 'v2', state: 'rejected', at: T0 + 4, by: 'bob', note: 'fraud confirmed', action: 'none' }), true);
    t.equal(await s.decideReview({ id: 'ghost', state: 'approved', at: T0, by: 'x', note: 'x', action: 'none' }), false, 'unknown id');
    t.equal(await s.reviewQueued('v1', 'refund|x', T0 + 5), true);
    t.equal(await s.reviewQueued('v1', 'refund|y', T0 + 6), false, 'recorded once');
    const v1 = await s.review('v1');
    t.same([v1?.state, v1?.decidedBy, v1?.note, v1?.action, v1?.decidedAt, v1?.undoId], ['approved', 'alice', 'checked with the issuer', 'refund', T0 + 3, 'refund|x']);
    t.same((await s.reviews(['approved', 'rejected'])).map((r) => `${r.id}:${r.state}`), ['v1:approved', 'v2:rejected']);
    t.same((await s.reviews()).length, 2);
    const hist = await s.history('v1');
    t.same(hist.map((h) => `${h.kind}:${h.state}`), ['review:open', 'review:approved', 'review:queued']);
    t.match(hist[1].detail, /"by":"alice","note":"checked with the issuer","action":"refund"/);
    await s.close();
  });

  t.test(`${target.name}: updateReversal is a compare-and-set`, async (t) => {
    const s = await fresh();
    await s.insertReversal(reversalRow('r'));
    t.equal(await s.updateReversal({ id: 'r', from: ['sent'], state: 'acked', at: T0 + 1 }), false, 'not in from: false');
    t.equal(await s.updateReversal({ id: 'r', from: [], state: 'acked', at: T0 + 1 }), false, 'empty from: false');
    t.equal(await s.updateReversal({ id: 'ghost', from: ['pending'], state: 'sent', at: T0 + 1 }), false, 'unknown id: false');
    t.same(await s.reversal('r'), reversalRow('r'), 'nothing changed');
    t.same(states(await s.history('r')), ['pending'], 'no history for a failed compare-and-set');
    t.same(await s.history('ghost'), []);
    await s.close();
  });

  t.test(`${target.name}: pending -> sent -> acked`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('t'));
    t.equal(await s.insertReversal(reversalRow('r', { txnId: 't', lastError: 'none yet' })), true);
    t.equal(await s.updateReversal({
      id: 'r', from: ['pending'], state: 'sent', at: T0 + 5, attempts: 1, message: 'sealed:v1:rev', sentStan: '000888', dueAt: T0 + 30_005,
      detail: '{"attempt":1}',
    }), true);
    t.same(await s.reversal('r'), reversalRow('r', {
      txnId: 't', lastError: 'none yet', state: 'sent', attempts: 1, message: 'sealed:v1:rev', sentStan: '000888', dueAt: T0 + 30_005, updatedAt: T0 + 5,
    }), 'set fields changed, the rest kept');
    t.equal(await s.updateReversal({ id: 'r', from: ['pending'], state: 'sent', at: T0 + 6 }), false, 'a second sender loses the race');
    t.equal(await s.updateReversal({ id: 'r', from: ['sent'], state: 'acked', at: T0 + 50, lastError: null }), true);
    const r = await s.reversal('r');
    t.equal(r?.state, 'acked');
    t.equal(r?.lastError, null, 'null clears');
    t.equal(r?.message, 'sealed:v1:rev', 'left out: kept');
    t.equal(await s.resolveManual('r', 'no', T0 + 60), false, 'resolveManual only from manual');
    const h = await s.history('r');
    t.same(states(h), ['pending', 'sent', 'acked']);
    t.ok(increasing(h));
    t.ok(h.every((x) => x.kind === 'reversal'));
    t.equal(h[1].detail, '{"attempt":1}', 'the update\'s detail goes into its history row');
    t.same((await s.reversals(['acked'])).map((x) => x.id), ['r']);
    await s.close();
  });

  t.test(`${target.name}: pending -> sent -> manual -> resolved`, async (t) => {
    const s = await fresh();
    await s.insertReversal(reversalRow('r'));
    t.equal(await s.resolveManual('r', 'too early', T0 + 1), false, 'not from pending');
    await s.updateReversal({ id: 'r', from: ['pending'], state: 'sent', at: T0 + 2, attempts: 1 });
    t.equal(await s.resolveManual('r', 'too early', T0 + 3), false, 'not from sent');
    t.equal(await s.updateReversal({ id: 'r', from: ['pending', 'sent'], state: 'manual', at: T0 + 4, lastError: 'no answer after 5 attempts' }), true,
      'from lists several states');
    t.equal(await s.resolveManual('ghost', 'x', T0 + 5), false, 'unknown id');
    t.equal(await s.resolveManual('r', 'refunded by phone, ticket 42', T0 + 5), true);
    const r = await s.reversal('r');
    t.equal(r?.state, 'resolved');
    t.equal(r?.note, 'refunded by phone, ticket 42');
    t.equal(r?.updatedAt, T0 + 5);
    t.equal(await s.resolveManual('r', 'again', T0 + 6), false, 'once resolved, not again');
    const h = await s.history('r');
    t.same(states(h), ['pending', 'sent', 'manual', 'resolved']);
    t.equal(h[3].detail, 'refunded by phone, ticket 42', 'the note is in the history');
    t.equal(h[3].at, T0 + 5);
    await s.close();
  });

  t.test(`${target.name}: manual -> retried -> pending, unowned, with a fresh life; only from manual`, async (t) => {
    const s = await fresh();
    await s.insertReversal(reversalRow('r', { owner: 'node-a', leaseUntil: T0 + 10_000 }));
    await s.updateReversal({ id: 'r', from: ['pending'], state: 'sent', at: T0 + 1, attempts: 3, message: 'sealed:v1:msg', sentStan: '000042' });
    t.equal(await s.retryManual('r', 'too early', T0 + 2), false, 'not from sent');
    await s.updateReversal({ id: 'r', from: ['sent'], state: 'manual', at: T0 + 3, lastError: 'no answer after 5 attempts' });
    t.equal(await s.retryManual('ghost', 'x', T0 + 4), false, 'unknown id');
    t.equal(await s.retryManual('r', 'link renamed, ticket 9', T0 + 5), true);
    const r = await s.reversal('r');
    t.has(r, { state: 'pending', attempts: 0, dueAt: T0 + 5, lastError: null, retriedAt: T0 + 5, enqueuedAt: T0, note: 'link renamed, ticket 9' },
      'pending again, attempts from 0, due now, aged from the retry; enqueuedAt kept');
    t.has(r, { message: 'sealed:v1:msg', sentStan: '000042' }, 'a repeat stays a repeat: its message and STAN kept');
    const claimed = await s.claimReversals('node-b', T0 + 6, 1000, 10);
    t.same(claimed.map((x) => x.id), ['r'], 'unowned: another node\'s next claim takes it though its old owner\'s lease holds');
    t.equal(await s.retryManual('r', 'again', T0 + 7), false, 'once pending, not again');
    const h = await s.history('r');
    t.same(states(h), ['pending', 'sent', 'manual', 'pending']);
    t.same(JSON.parse(h[3].detail ?? '{}'), { retry: true, note: 'link renamed, ticket 9' }, 'the retry and its note are in the history');
    await s.close();
  });

  t.test(`${target.name}: undoBacklog counts what is not final, by upstream; reassignUpstream moves it`, async (t) => {
    const s = await fresh();
    await s.insertReversal(reversalRow('p1', { upstream: 'old' }));
    await s.insertReversal(reversalRow('s1', { upstream: 'old', owner: 'node-a', leaseUntil: T0 + 10_000 }));
    await s.updateReversal({ id: 's1', from: ['pending'], state: 'sent', at: T0 + 1, attempts: 1, message: 'sealed:v1:m', sentStan: '000007' });
    await s.insertReversal(reversalRow('m1', { upstream: 'old' }));
    await s.updateReversal({ id: 'm1', from: ['pending'], state: 'manual', at: T0 + 1, lastError: 'cannot resume' });
    await s.insertReversal(reversalRow('a1', { upstream: 'old' }));
    await s.updateReversal({ id: 'a1', from: ['pending'], state: 'acked', at: T0 + 1 });
    await s.insertReversal(reversalRow('k1', { upstream: 'keep' }));
    await s.insertTxn(txnRow('t-open', { upstream: 'old', state: 'forwarded' }));
    await s.insertTxn(txnRow('t-done', { upstream: 'old', state: 'approved' }));
    t.same(await s.undoBacklog(), [
      { upstream: 'keep', pending: 1, sent: 0, manual: 0 },
      { upstream: 'old', pending: 1, sent: 1, manual: 1 },
    ], 'acked entries are not counted');
    t.equal(await s.reassignUpstream('old', 'new', 'renamed in revswitch.json', T0 + 5), 4, 'pending, sent and manual move, and the unfinished sale; acked stays');
    t.equal((await s.txn('t-open'))?.upstream, 'new', 'a sale without an outcome moves: recovery reverses it on the new name');
    t.equal((await s.txn('t-done'))?.upstream, 'old', 'a finished sale is evidence: untouched');
    t.same((await s.history('t-open')).map((x) => x.state), ['forwarded', 'forwarded'], 'with a history row');
    t.same(await s.undoBacklog(), [
      { upstream: 'keep', pending: 1, sent: 0, manual: 0 },
      { upstream: 'new', pending: 2, sent: 0, manual: 1 },
    ]);
    t.has(await s.reversal('s1'), { upstream: 'new', state: 'pending', dueAt: T0 + 5, message: null, sentStan: null, attempts: 1 },
      'a sent one is pending again, its old link\'s message and STAN dropped');
    t.has(await s.reversal('m1'), { upstream: 'new', state: 'manual', lastError: 'cannot resume' }, 'a manual one stays manual');
    t.has(await s.reversal('a1'), { upstream: 'old', state: 'acked' }, 'a final one is evidence: untouched');
    t.same((await s.claimReversals('node-b', T0 + 6, 1000, 10)).map((x) => x.id).sort(), ['k1', 'p1', 's1'], 'unowned: claimable at once');
    const h = await s.history('s1');
    t.same(JSON.parse(h[h.length - 1].detail ?? '{}'), { upstream: 'new', from: 'old', note: 'renamed in revswitch.json' });
    t.equal(h[h.length - 1].state, 'pending');
    t.equal(await s.reassignUpstream('nobody', 'new', 'x', T0 + 7), 0, 'nothing for an unknown upstream');
    await s.close();
  });

  t.test(`${target.name}: reversals(states), oldest first`, async (t) => {
    const s = await fresh();
    await s.insertReversal(reversalRow('c', { enqueuedAt: T0 + 30 }));
    await s.insertReversal(reversalRow('a', { enqueuedAt: T0 + 10 }));
    await s.insertReversal(reversalRow('b1', { enqueuedAt: T0 + 20 }));
    await s.insertReversal(reversalRow('b2', { enqueuedAt: T0 + 20 }));
    await s.updateReversal({ id: 'a', from: ['pending'], state: 'sent', at: T0 + 40 });
    await s.updateReversal({ id: 'c', from: ['pending'], state: 'manual', at: T0 + 40 });
    t.same((await s.reversals()).map((x) => x.id), ['a', 'b1', 'b2', 'c'], 'all, by enqueuedAt, ties in insertion order');
    t.same((await s.reversals(['pending'])).map((x) => x.id), ['b1', 'b2']);
    t.same((await s.reversals(['pending', 'sent'])).map((x) => x.id), ['a', 'b1', 'b2']);
    t.same((await s.reversals(['manual'])).map((x) => x.id), ['c']);
    t.same(await s.reversals(['acked']), []);
    t.same(await s.reversals([]), [], 'no states: none');
    await s.close();
  });

  t.test(`${target.name}: report reads: txnsBetween, findTxns, reversalsBetween, historyBetween`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('b', { createdAt: T0 + 100, updatedAt: T0 + 100, rrn: 'R1', terminal: 'T1', stan: '000001', businessDate: '2025-11-25' }));
    await s.insertTxn(txnRow('a', { createdAt: T0, updatedAt: T0, rrn: 'R1', terminal: 'T2', stan: '000001', businessDate: '2025-11-24' }));
    await s.insertTxn(txnRow('c', { createdAt: T0 + 200, updatedAt: T0 + 200, rrn: null, terminal: 'T1', stan: '000002' }));
    await s.updateTxn({ id: 'a', state: 'timed_out', at: T0 + 300, decision: 'reverse: no answer' });
    t.same((await s.txnsBetween(T0, T0 + 200)).map((x) => x.id), ['a', 'b'], 'since inclusive, until exclusive, oldest first');
    t.same((await s.txnsBetween(T0 + 100, T0 + 201))[1], txnRow('c', { createdAt: T0 + 200, updatedAt: T0 + 200, rrn: null, terminal: 'T1', stan: '000002' }), 'full rows');
    t.same(await s.txnsBetween(T0 + 1000, T0 + 2000), []);
    t.same((await s.findTxns({ rrn: 'R1' })).map((x) => x.id), ['a', 'b'], 'by RRN, oldest first');
    t.same((await s.findTxns({ terminal: 'T1', stan: '000001' })).map((x) => x.id), ['b'], 'by terminal and STAN');
    t.same((await s.findTxns({ terminal: 'T1' })).map((x) => x.id), ['b', 'c']);
    t.same((await s.findTxns({ rrn: 'R1', businessDate: '2025-11-24' })).map((x) => x.id), ['a'], 'and business date');
    t.same((await s.findTxns({ rrn: 'R1', terminal: undefined })).map((x) => x.id), ['a', 'b'], 'an undefined field matches anything');
    t.same(await s.findTxns({ rrn: 'nope' }), []);
    t.same(await s.findTxns({}), [], 'an empty query matches nothing');
    t.same((await s.findTxns({ rrn: 'R1' }))[0].state, 'timed_out', 'current rows');
    await s.insertReversal(reversalRow('r2', { enqueuedAt: T0 + 20 }));
    await s.insertReversal(reversalRow('r1', { enqueuedAt: T0 + 10 }));
    await s.insertReversal(reversalRow('r3', { enqueuedAt: T0 + 30 }));
    await s.updateReversal({ id: 'r1', from: ['pending'], state: 'sent', at: T0 + 40 });
    t.same((await s.reversalsBetween(T0 + 10, T0 + 30)).map((x) => [x.id, x.state]), [['r1', 'sent'], ['r2', 'pending']], 'by enqueuedAt, until exclusive');
    const h = await s.historyBetween(T0 + 40, T0 + 301);
    t.same(h.map((x) => [x.ref, x.state, x.at]), [
      ['b', 'forwarded', T0 + 100], ['c', 'forwarded', T0 + 200], ['a', 'timed_out', T0 + 300], ['r1', 'sent', T0 + 40],
    ], 'by seq (write order), both kinds');
    t.ok(increasing(h), 'seq increases');
    t.match(h[2].detail, /reverse: no answer/, 'with the detail');
    t.same(await s.historyBetween(T0 + 5000, T0 + 6000), []);
    await s.close();
  });

  t.test(`${target.name}: history is append-only`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('h'));
    await s.updateTxn({ id: 'h', state: 'approved', at: T0 + 1, responseCode: '00' });
    const before = await s.history('h');
    const copy = before.map((x) => ({ ...x }));
    // A caller scribbling on what it read changes nothing stored.
    try {
      before[0].state = 'tampered';
      before.pop();
    } catch {
      // frozen rows may refuse: fine too
    }
    t.same(await s.history('h'), copy, 'rows read back unchanged after the caller changed its copies');
    if (target.tamperHistory) {
      const r = await target.tamperHistory(s);
      t.match(r.update, /append-only/, `a raw UPDATE on history fails: ${r.update}`);
      t.match(r.delete, /append-only/, `a raw DELETE on history fails: ${r.delete}`);
      t.same(await s.history('h'), copy, 'and the rows are intact');
    } else {
      t.pass('raw UPDATE/DELETE on history', { skip: 'the target has no tamperHistory hook' });
    }
    await s.close();
  });

  t.test(`${target.name}: group commit`, async (t) => {
    const s = await fresh();
    const b0 = s.stats().batches;
    const o0 = s.stats().ops;
    const N = 2000;
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < N; i++) all.push(s.insertTxn(txnRow(`g${i}`, { createdAt: T0 + i, updatedAt: T0 + i })).then(() => { order.push(i); }));
    t.ok(s.stats().queued > 0, 'writes are queued, not yet committed');
    await deadline(Promise.all(all), 30_000, `${N} concurrent insertTxn`);
    const st = s.stats();
    t.equal(st.ops - o0, N, 'every op committed');
    t.ok(st.batches - b0 < N / 4, `in far fewer batches than ops (${st.batches - b0} batches for ${N})`);
    t.equal(st.queued, 0);
    t.ok(st.commitMs.p50 >= 0 && st.commitMs.p99 >= st.commitMs.p50 && st.commitMs.max >= st.commitMs.p99, `commit latency ${JSON.stringify(st.commitMs)}`);
    t.ok(order.every((x, i) => x === i), 'promises resolved in call order');
    t.equal((await s.recentTxns(0)).length, N, 'all rows are there');

    // Same row, several changes queued together: the last call wins, history in call order.
    const p = [
      s.insertTxn(txnRow('same')),
      s.updateTxn({ id: 'same', state: 'approved', at: T0 + 1, responseCode: '00' }),
      s.updateTxn({ id: 'same', state: 'undeliverable', at: T0 + 2 }),
      s.updateTxn({ id: 'same', state: 'reversed_by_terminal', at: T0 + 3, note: 'terminal 0400' }),
    ];
    await Promise.all(p);
    t.equal((await s.txn('same'))?.state, 'reversed_by_terminal', 'the later update wins');
    t.same(states(await s.history('same')), ['forwarded', 'approved', 'undeliverable', 'reversed_by_terminal']);
    await s.close();
  });

  t.test(`${target.name}: a read during a commit does not hold back the next write`, async (t) => {
    // A read waits for the batch in flight; once that batch commits, the queue is empty.
    // A lone write queued after that must still go within the batch delay, not wait for
    // a full batch of company (at 1k TPS that wait was ~500 ms on every answer).
    const s = await fresh();
    const first = s.insertTxn(txnRow('lone1'));
    const handedOver = s.flush();
    const read = s.txn('lone1');
    await Promise.all([first, handedOver, read]);
    for (let i = 2; i <= 4; i++) {
      // Without company it must still go: the deadline only keeps a hang from stalling the suite.
      await deadline(s.insertTxn(txnRow(`lone${i}`)), 2000, `lone write ${i}`);
      t.equal((await s.txn(`lone${i}`))?.id, `lone${i}`, `lone write ${i} committed`);
    }
    await s.close();
  });

  t.test(`${target.name}: flush()`, async (t) => {
    const s = await fresh();
    await s.flush(); // nothing queued: resolves
    let done = 0;
    for (let i = 0; i < 50; i++) void s.insertTxn(txnRow(`f${i}`)).then(() => { done++; });
    void s.insertReversal(reversalRow('fr')).then(() => { done++; });
    await deadline(s.flush(), 10_000, 'flush');
    t.equal(done, 51, 'every write queued before flush() resolved first');
    t.equal(s.stats().queued, 0);
    t.equal((await s.recentTxns(0)).length, 50);
    // Reads are ordered after the writes queued before them, without a flush.
    void s.updateTxn({ id: 'f0', state: 'approved', at: T0 + 1 });
    t.equal((await s.txn('f0'))?.state, 'approved', 'a read sees the writes queued before it');
    await s.close();
  });

  t.test(`${target.name}: a refused operation fails alone`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('dup'));
    const b0 = s.stats().batches;
    const results = await deadline(Promise.allSettled([
      s.insertTxn(txnRow('x1')),
      s.insertTxn(txnRow('dup', { amount: '999' })),
      s.updateTxn({ id: 'x1', state: 'approved', at: T0 + 1 }),
      s.insertReversal(reversalRow('xr')),
      s.updateTxn({ id: 'missing', state: 'approved', at: T0 + 1 }),
      s.insertTxn(txnRow('x2')),
    ]), 10_000, 'a batch with refused operations');
    t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'], 'only the refused ones reject');
    t.equal(s.stats().batches - b0, 1, 'all six went in one batch');
    const reason = (r: PromiseSettledResult<unknown>): string => (r.status === 'rejected' && r.reason instanceof Error ? r.reason.message : '');
    t.match(reason(results[1]), /insertTxn dup/, `the error names the op and id: ${reason(results[1])}`);
    t.match(reason(results[1]), /duplicate|UNIQUE|exists/i, 'and why');
    t.match(reason(results[4]), /updateTxn missing/, reason(results[4]));
    t.equal((await s.txn('dup'))?.amount, '000000001000', 'the refused insert changed nothing');
    t.same(states(await s.history('dup')), ['forwarded'], 'and wrote no history');
    t.equal((await s.txn('x1'))?.state, 'approved', 'the rest of the batch committed');
    t.ok(await s.txn('x2'));
    t.ok(await s.reversal('xr'));
    await s.flush(); // a refused operation does not poison later barriers
    await s.insertTxn(txnRow('after'));
    t.ok(await s.txn('after'), 'the store carries on');
    await s.close();
  });

  t.test(`${target.name}: a batch that cannot commit rejects its callers`, async (t) => {
    if (!target.lockDatabase) {
      t.pass('a failed batch', { skip: 'the target has no lockDatabase hook' });
      return;
    }
    const s = await fresh();
    await s.insertTxn(txnRow('before'));
    const release = await target.lockDatabase(s);
    const locked = await deadline(Promise.allSettled([s.insertTxn(txnRow('l1')), s.insertReversal(reversalRow('l2'))]), 30_000, 'writes under a lock');
    const flushed = await errText(s.flush());
    release();
    t.same(locked.map((r) => r.status), ['rejected', 'rejected'], 'every write of the batch is rejected');
    const why = locked[0].status === 'rejected' && locked[0].reason instanceof Error ? locked[0].reason.message : '';
    t.match(why, /insertTxn l1.*not committed/, `clearly: ${why}`);
    t.equal(flushed, null, 'nothing queued after the failure: flush() has nothing to report');
    await s.insertTxn(txnRow('l1'));
    t.ok(await s.txn('l1'), 'once the lock is gone, the same write succeeds');
    t.equal(await s.reversal('l2'), undefined, 'nothing of the failed batch was committed');
    await s.close();
  });

  t.test(`${target.name}: a crashed backend rejects, never hangs`, async (t) => {
    if (!target.crashBackend) {
      t.pass('a crashed backend', { skip: 'the target has no crashBackend hook' });
      return;
    }
    const s = await fresh();
    await s.insertTxn(txnRow('ok'));
    const pending = [s.insertTxn(txnRow('p1')), s.updateTxn({ id: 'ok', state: 'approved', at: T0 + 1 })];
    const flushed = s.flush();
    await target.crashBackend(s);
    const r = await deadline(Promise.allSettled([...pending, flushed]), 10_000, 'writes pending at the crash');
    for (const x of r) {
      // Either it committed before the crash, or it is rejected; never silently lost.
      if (x.status === 'rejected') t.match(String(x.reason), new RegExp(s.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the error names the store');
    }
    const later = await deadline(Promise.allSettled([s.insertTxn(txnRow('p2')), s.txn('ok')]), 10_000, 'writes after the crash');
    t.same(later.map((x) => x.status), ['rejected', 'rejected'], 'later calls reject at once');
    t.match(later[0].status === 'rejected' ? String(later[0].reason) : '', /insertTxn p2/);
    await deadline(s.close(), 10_000, 'close after a crash');
  });

  t.test(`${target.name}: a resolved write survives SIGKILL`, async (t) => {
    if (!target.crashWriter || !target.reopen) {
      t.pass('SIGKILL', { skip: 'the target has no crashWriter or reopen hook' });
      return;
    }
    const s = await fresh();
    await s.close();
    const ids = await target.crashWriter(s);
    t.ok(ids.length > 0, `the writer reported ${ids.length} resolved writes before it was killed`);
    const s2 = await again(s);
    const present = new Set((await s2.recentTxns(0)).map((x) => x.id));
    const missing = ids.filter((id) => !present.has(id));
    t.same(missing, [], 'every write whose promise resolved is in the database');
    for (const id of [ids[0], ids[ids.length - 1]]) {
      t.same(states(await s2.history(id)), ['forwarded', 'approved'], `${id}: row and history committed together`);
    }
    await s2.close();
  });

  t.test(`${target.name}: several nodes: heartbeats, reversal leases, orphans`, async (t) => {
    const s = await fresh();
    const wall0 = Date.now();
    await s.heartbeat('a', T0, '{"pid":1}');
    await s.heartbeat('b', T0 + 5, null);
    await s.heartbeat('a', T0 + 10, '{"pid":2}');
    const beats = await s.nodes();
    if (target.serverClock) {
      // The server's clock, whatever the node said: here the server shares this host's clock.
      t.ok(beats.every((n) => n.heartbeatAt >= wall0 - 1000 && n.heartbeatAt <= Date.now() + 1000), 'heartbeats are the server\'s time');
      for (const n of beats) n.heartbeatAt = n.node === 'a' ? T0 + 10 : T0 + 5;
    }
    t.same(beats, [
      { node: 'a', startedAt: T0, heartbeatAt: T0 + 10, info: '{"pid":2}', leases: 0, leaseUntil: 0 },
      { node: 'b', startedAt: T0 + 5, heartbeatAt: T0 + 5, info: null, leases: 0, leaseUntil: 0 },
    ], 'upserted; started_at kept');

    await s.insertReversal(reversalRow('r1', { enqueuedAt: T0 + 1 }));
    await s.insertReversal(reversalRow('r2', { enqueuedAt: T0 + 2, owner: 'b', leaseUntil: T0 + 1000 }));
    await s.insertReversal(reversalRow('r3', { enqueuedAt: T0 + 3 }));
    await s.insertReversal(reversalRow('r4', { enqueuedAt: T0 + 4, state: 'acked' }));
    t.same(await s.reversal('r2'), reversalRow('r2', { enqueuedAt: T0 + 2 }), 'ordinary reads leave the lease out');

    const a1 = await s.claimReversals('a', T0 + 100, 500, 1);
    t.same(a1.map((x) => [x.id, x.owner, x.leaseUntil]), [['r1', 'a', T0 + 600]], 'the oldest free row, up to the limit');
    t.same((await s.claimReversals('a', T0 + 100, 500, 10)).map((x) => x.id), ['r3'], 'without includeOwn: only free rows');
    const a2 = await s.claimReversals('a', T0 + 100, 500, 10, true);
    t.same(a2.map((x) => x.id), ['r1', 'r3'], 'its own rows again, and the free ones; never a live lease of b, never a finished row');
    t.equal(a2[1].state, 'pending');
    t.same(await s.claimReversals('b', T0 + 100, 500, 10, true).then((r) => r.map((x) => x.id)), ['r2'], 'b: only its own');
    t.same((await s.nodes()).map((n) => [n.node, n.leases]), [['a', 2], ['b', 1]], 'lease counts');

    t.equal(await s.renewLeases('a', T0 + 5000), 1, 'one write: a\'s own lease, for both of its rows');
    t.same(await s.claimReversals('b', T0 + 2000, 500, 10, true).then((r) => r.map((x) => x.id)), ['r2'], 'a renewed lease is not taken');
    t.same(await s.claimReversals('b', T0 + 5001, 500, 10).then((r) => r.map((x) => x.id)), ['r1', 'r2', 'r3'], 'expired leases are');
    t.same((await s.nodes()).map((n) => [n.node, n.leases]), [['a', 0], ['b', 3]]);
    t.equal(await s.releaseLeases('b', ['r3', 'nope']), 1, 'released one');
    t.same(await s.claimReversals('a', T0 + 5002, 500, 10).then((r) => r.map((x) => x.id)), ['r3'], 'a released row is free');
    await s.updateReversal({ id: 'r3', from: ['pending'], state: 'acked', at: T0 + 5003 });
    // A node's renewal covers every row it holds, however old the rows' own leases.
    t.same(await s.claimReversals('a', T0 + 6000, 500, 10).then((r) => r.map((x) => x.id)), ['r1', 'r2'],
      'a takes b\'s lapsed rows (b never renewed); a finished row is nobody\'s');
    t.equal(await s.renewLeases('a', T0 + 20_000), 1);
    t.equal((await s.nodes()).find((n) => n.node === 'a')?.leaseUntil, T0 + 20_000, 'nodes() shows the node lease');
    t.same(await s.claimReversals('b', T0 + 19_999, 500, 10).then((r) => r.map((x) => x.id)), [], 'rows claimed at T0+6000 (their own lease to T0+6500) are held by a\'s renewal to T0+20000');
    t.same(await s.claimReversals('b', T0 + 20_001, 500, 10).then((r) => r.map((x) => x.id)), ['r1', 'r2'], 'and free once it lapses');
    t.equal(await s.renewLeases('c', T0 + 1), 1, 'a node that never heartbeated gets a row');
    t.same((await s.nodes()).find((n) => n.node === 'c'), { node: 'c', startedAt: 0, heartbeatAt: 0, info: null, leases: 0, leaseUntil: T0 + 1 }, 'with no heartbeat, and its lease');

    await s.insertTxn(txnRow('ta', { node: 'a', createdAt: T0 + 1 }));
    await s.insertTxn(txnRow('ta2', { node: 'a', createdAt: T0 + 2, state: 'approved' }));
    await s.insertTxn(txnRow('tb', { node: 'b', createdAt: T0 + 3 }));
    await s.insertTxn(txnRow('tz', { node: 'z', createdAt: T0 + 4 }));
    // Heartbeats by this host's clock, so the stores that trust the time given and the one
    // that takes the server's (the same clock here) agree.
    const beat = Date.now();
    await s.heartbeat('a', beat, '{"pid":3}');
    t.same((await s.claimOrphanTxns('b', beat - 60_000, beat)).map((x) => x.id), ['tz'], "a beat within the last minute: alive; z has none");
    const at = Date.now() + 5;
    const got = await s.claimOrphanTxns('b', at + 1, at);
    t.same(got.map((x) => [x.id, x.node, x.state]), [['ta', 'a', 'forwarded']], "a's unfinished one once its beat is older than the limit, as it was; never b's own");
    t.same(got[0], txnRow('ta', { node: 'a', createdAt: T0 + 1 }), 'the full row');
    const now = await s.txn('ta');
    t.same([now?.node, now?.state, now?.updatedAt], ['b', 'recovered', at], 'now b\'s, recovered');
    t.same(states(await s.history('ta')), ['forwarded', 'recovered'], 'with a history row');
    // The fence: a's late write on the sale b took changes nothing; b's own writes go in.
    t.equal(await s.updateTxn({ id: 'ta', state: 'approved', at: at + 1, responseCode: '00', owner: 'a' }), false, "a's write is refused: the sale is b's now");
    t.same([(await s.txn('ta'))?.state, (await s.txn('ta'))?.responseCode], ['recovered', null], 'unchanged');
    t.same(states(await s.history('ta')), ['forwarded', 'recovered'], 'and no history row');
    t.equal(await s.updateTxn({ id: 'ta', state: 'recovered', at: at + 2, note: 'reversal queued', owner: 'b' }), true, "b's own write goes in");
    t.equal(await s.updateTxn({ id: 'ta', state: 'recovered', at: at + 3, note: 'unfenced' }), true, 'a write without a fence goes in as before');
    t.same(await s.claimOrphanTxns('c', T0 + 100_000, T0 + 70).then((r) => r.map((x) => x.id)), ['ta', 'tb', 'tz'],
      "c takes b's: tb, and ta and tz, which b took but never stored a reversal for (b died between the two)");
    await s.insertReversal(reversalRow('rev-tb', { txnId: 'tb' }));
    await s.insertReversal(reversalRow('rev-tz', { txnId: 'tz' }));
    t.same(await s.claimOrphanTxns('d', T0 + 100_000, T0 + 80).then((r) => r.map((x) => x.id)), ['ta'], 'one with its reversal stored is finished');
    await s.close();
  });

  if (target.serverClock) {
    t.test(`${target.name}: nodes whose clocks differ never take a live node's sales`, async (t) => {
      const s = await fresh();
      const wall = Date.now();
      await s.heartbeat('a', wall - 4000, null); // a's clock runs 4 s behind
      await s.insertTxn(txnRow('sk', { node: 'a', createdAt: wall }));
      t.same(await s.claimOrphanTxns('b', wall - 1500, wall), [], "a's beat is judged by the server's clock: alive, not 4 s old");
      const ahead = Date.now() + 4000; // and b's runs 4 s ahead
      t.same(await s.claimOrphanTxns('b', ahead - 1500, ahead), [], 'a claimer whose clock runs ahead takes nothing either');
      t.equal((await s.txn('sk'))?.state, 'forwarded');
      await s.close();
    });
  }

  t.test(`${target.name}: forgetNode deletes a node that holds nothing, and only that`, async (t) => {
    const s = await fresh();
    await s.heartbeat('dead', T0, null);
    await s.heartbeat('busy', T0, null);
    await s.heartbeat('sender', T0, null);
    await s.insertReversal(reversalRow('r1', { owner: 'busy', leaseUntil: T0 + 1000 }));
    await s.insertReversal(reversalRow('r2', { owner: 'dead', leaseUntil: T0 + 1000 }));
    await s.updateReversal({ id: 'r2', from: ['pending'], state: 'acked', at: T0 + 1 });
    await s.insertTxn(txnRow('t1', { node: 'sender', state: 'forwarded' }));
    await s.insertTxn(txnRow('t2', { node: 'dead', state: 'approved' }));
    t.same(await s.forgetNode('busy'), { forgotten: false, known: true, leases: 1, unfinished: 0 }, 'a lease on a pending reversal keeps it');
    t.same(await s.forgetNode('sender'), { forgotten: false, known: true, leases: 0, unfinished: 1 }, 'a forwarded sale keeps it');
    t.same(await s.forgetNode('ghost'), { forgotten: false, known: false, leases: 0, unfinished: 0 }, 'an unknown node');
    t.same(await s.forgetNode('dead'), { forgotten: true, known: true, leases: 0, unfinished: 0 }, 'final rows do not count');
    t.same((await s.nodes()).map((n) => n.node), ['busy', 'sender']);
    await s.updateTxn({ id: 't1', state: 'approved', at: T0 + 2 });
    t.equal((await s.forgetNode('sender')).forgotten, true, 'once its sale has an outcome');
    t.equal((await s.txn('t2'))?.node, 'dead', 'its rows keep their node: evidence');
    await s.close();
  });

  t.test(`${target.name}: a request's duplicate key is taken once`, async (t) => {
    const s = await fresh();
    await s.insertTxn(txnRow('k1', { dupKey: 'S|000001|1125213300' }));
    const err = await errText(s.insertTxn(txnRow('k2', { dupKey: 'S|000001|1125213300' })));
    t.ok(err !== null && isDuplicateRequest(new Error(err)), `the second insert is refused as a duplicate request: ${err ?? ''}`);
    t.equal(await s.txn('k2'), undefined, 'and left nothing');
    t.same(await s.history('k2'), [], 'no history');
    await s.insertTxn(txnRow('k3', { dupKey: 'S|000002|1125213300' }));
    await s.insertTxn(txnRow('k4'));
    await s.insertTxn(txnRow('k5'));
    t.same((await s.recentTxns(0)).map((x) => x.id), ['k1', 'k3', 'k4', 'k5'], 'other keys, and rows without one, go in');
    t.same(await s.txn('k1'), txnRow('k1'), 'reads leave the key out');
    // In one batch: the duplicate alone is refused.
    const [a, b, c] = await Promise.allSettled([
      s.insertTxn(txnRow('k6', { dupKey: 'S|000003|1125213300' })),
      s.insertTxn(txnRow('k7', { dupKey: 'S|000003|1125213300' })),
      s.insertTxn(txnRow('k8', { dupKey: 'S|000004|1125213300' })),
    ]);
    t.same([a.status, b.status, c.status], ['fulfilled', 'rejected', 'fulfilled'], 'one batch: only the duplicate is refused');
    await s.close();
  });
}
