/**
 * Reconciliation, every class, on the real stores (SQLite in a temporary directory, and
 * PostgreSQL): a journal written through the Store API and a settlement file written by
 * hand, one row or record per case. Each case must land in its class and nothing else;
 * --apply queues exactly the refunds and review items the classes propose, with the run id
 * in their history, and a second --apply of the same file queues nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadDefaultRules } from '../rules/index.js';
import { approveReview } from '../switch/undo/review-actions.js';
import { applyRecon } from '../switch/recon/apply.js';
import type { ReconLine } from '../switch/recon/classes.js';
import { reconcile, type ReconResult } from '../switch/recon/reconcile.js';
import { PostgresStore } from '../switch/store/postgres.js';
import { SqliteStore } from '../switch/store/index.js';
import type { JournalState, ReversalState, Store, TxnRow } from '../switch/store/types.js';
import { PgSchemas, pgReady } from './support/pg.js';
import { reversalRow, txnRow } from './support/store-contract.js';

const DATE = '2026-12-03';
const AT = Date.UTC(2026, 11, 3, 10, 0, 0); // 11:00 in Berlin: business date DATE
const calendar = loadDefaultRules().calendar;
const n12 = (v: number): string => String(v).padStart(12, '0');
const HEADER = 'business_date,rrn,terminal,stan,f7,amount_minor,currency,type,approval_code,merchant,pan_masked';

interface Case {
  id: string;
  state: JournalState;
  amount: number;
  approved?: number;
  rrn?: string | null;
  mti?: string;
  upstream?: string;
  reversal?: ReversalState;
  final?: number;
  /** The file's records for it: [type, amount]. */
  file: [string, number][];
}

const CASES: Case[] = [
  { id: 't-ok', state: 'approved', amount: 1000, file: [['sale', 1000]] },
  { id: 't-declined', state: 'declined', amount: 1100, file: [] },
  { id: 't-timeout-reversed', state: 'timed_out', amount: 1200, reversal: 'acked', file: [['sale', 1200], ['reversal', 1200]] },
  { id: 't-timeout-never-posted', state: 'timed_out', amount: 1300, reversal: 'acked', file: [] },
  { id: 't-lost-reversal', state: 'timed_out', amount: 2000, reversal: 'manual', file: [['sale', 2000]] },
  { id: 't-reversal-in-queue', state: 'undeliverable', amount: 3000, reversal: 'pending', file: [['sale', 3000]] },
  { id: 't-reversal-ignored', state: 'reversed_by_terminal', amount: 4000, reversal: 'acked', file: [['sale', 4000]] },
  { id: 't-partial-reversal', state: 'approved', amount: 1000, reversal: 'acked', final: 600, file: [['sale', 1000], ['reversal', 400]] },
  { id: 't-partial-not-applied', state: 'approved', amount: 1000, reversal: 'acked', final: 700, file: [['sale', 1000]] },
  { id: 't-missing', state: 'approved', amount: 5000, file: [] },
  { id: 't-amount', state: 'approved', amount: 6000, file: [['sale', 6100]] },
  { id: 't-twice', state: 'approved', amount: 7000, file: [['sale', 7000], ['sale', 7000]] },
  { id: 't-no-rrn', state: 'approved', amount: 8000, rrn: null, file: [['sale', 8000]] },
  { id: 't-partial-approval', state: 'approved', amount: 900, approved: 450, file: [['sale', 450]] },
  { id: 't-declined-but-posted', state: 'declined', amount: 1500, file: [['sale', 1500]] },
  // Never in a settlement file, never reconciled: an authorization, and another upstream's sale.
  { id: 't-auth', state: 'approved', amount: 9000, mti: '0100', file: [] },
  { id: 't-other-upstream', state: 'approved', amount: 9100, upstream: 'other', file: [] },
];

/** What each case must come out as: its class, and the class of its extra records. */
const EXPECTED: Record<string, string> = {
  't-ok': 'matched', 't-declined': 'matched', 't-timeout-reversed': 'matched', 't-timeout-never-posted': 'matched',
  't-lost-reversal': 'posted_but_undone', 't-reversal-in-queue': 'posted_but_undone', 't-reversal-ignored': 'reversal_not_applied',
  't-partial-reversal': 'matched', 't-partial-not-applied': 'reversal_not_applied', 't-missing': 'missing_at_issuer', 't-amount': 'amount_mismatch',
  't-twice': 'matched', 't-no-rrn': 'matched', 't-partial-approval': 'matched', 't-declined-but-posted': 'posted_but_undone',
};

const rrnOf = (i: number): string => `33710000${String(i).padStart(4, '0')}`;
const stanOf = (i: number): string => String(700 + i).padStart(6, '0');
const f7 = '1203100000';

function sealed(i: number): string {
  return JSON.stringify({ mti: '0200', 3: '000000', 4: n12(CASES[i].amount), 7: f7, 11: stanOf(i), 37: rrnOf(i), 41: 'TERM0001' });
}

async function writeJournal(store: Store): Promise<void> {
  const writes: Promise<unknown>[] = [];
  CASES.forEach((c, i) => {
    const row: TxnRow = txnRow(c.id, {
      mti: c.mti ?? '0200', state: c.state, amount: n12(c.amount), approvedAmount: c.approved === undefined ? null : n12(c.approved),
      rrn: c.rrn === undefined ? rrnOf(i) : c.rrn, stan: String(i + 1).padStart(6, '0'), upstreamStan: stanOf(i), f7, businessDate: DATE,
      upstream: c.upstream ?? 'issuer', sealed: sealed(i), createdAt: AT + i, updatedAt: AT + i, approvalCode: c.state === 'approved' ? 'A00001' : null,
    });
    writes.push(store.insertTxn(row));
    // As the switch records a partial approval: on the answer, not the write-ahead.
    if (c.approved !== undefined) writes.push(store.updateTxn({ id: c.id, state: 'approved', at: AT + i, approvedAmount: n12(c.approved) }));
    if (c.reversal !== undefined) {
      writes.push(store.insertReversal(reversalRow(`rev-${c.id}`, {
        txnId: c.id, state: c.reversal, finalAmount: c.final === undefined ? null : n12(c.final), enqueuedAt: AT + i, updatedAt: AT + i,
      })));
    }
  });
  // A sale of the day before, refunded today (acknowledged at AT): the file settles the refund.
  writes.push(store.insertTxn(txnRow('t-yesterday', { state: 'approved', rrn: '337099990001', upstreamStan: '000990', businessDate: '2026-12-02', createdAt: AT - 86_400_000 })));
  writes.push(store.insertReversal(reversalRow('refund|t-yesterday', { txnId: 't-yesterday', kind: 'refund', amount: n12(300), state: 'acked', enqueuedAt: AT - 60_000, updatedAt: AT })));
  await Promise.all(writes);
  await store.flush();
}

function writeFile(dir: string): string {
  const lines = [HEADER];
  CASES.forEach((c, i) => {
    for (const [type, amount] of c.file) lines.push([DATE, c.rrn === null ? '' : rrnOf(i), 'TERM0001', stanOf(i), f7, amount, '978', type, '', '"Shop, Main St"', '476173******0119'].join(','));
  });
  lines.push([DATE, '337099990001', 'TERM0001', '000990', '1125213300', 300, '978', 'refund', '', '', ''].join(','));
  lines.push([DATE, '337055550001', 'TERM0002', '000555', '1203110000', 2500, '978', 'sale', '123456', '', ''].join(','));
  const path = join(dir, `settlement-${DATE}.csv`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

async function linesOf(r: ReconResult): Promise<ReconLine[]> {
  const out: ReconLine[] = [];
  for await (const l of r.lines()) out.push(l);
  return out;
}

async function scenario(tt: Test, store: Store, dir: string): Promise<void> {
  await writeJournal(store);
  const file = writeFile(dir);
  const run = (): Promise<ReconResult> => reconcile({ file, format: 'csv', businessDate: DATE, upstream: 'issuer', store, calendar });
  const r = await run();
  tt.teardown(() => r.close());
  const lines = await linesOf(r);
  const byTxn = new Map<string, ReconLine[]>();
  for (const l of lines) byTxn.set(l.txnId ?? 'none', [...(byTxn.get(l.txnId ?? 'none') ?? []), l]);

  tt.equal(r.records, CASES.reduce((n, c) => n + c.file.length, 0) + 2, 'every record read');
  tt.equal(r.journalRows, CASES.length - 2 + 1, 'the journal side: the date\'s financial sales of the upstream, and the refund acknowledged that day');
  for (const [id, cls] of Object.entries(EXPECTED)) {
    const own = (byTxn.get(id) ?? []).filter((l) => l.cls !== 'duplicate_in_file');
    if (cls === 'matched') tt.same(own.map((l) => l.cls), [], `${id}: matched (no difference)`);
    else tt.same(own.map((l) => l.cls), [cls], `${id}: ${cls}`);
  }
  const dup = lines.filter((l) => l.cls === 'duplicate_in_file');
  tt.same(dup.map((l) => [l.txnId, l.fileAmount, l.action, l.actionAmount]), [['t-twice', 7000, 'review', 7000]], 'the second settlement of t-twice is a duplicate; its refund goes to review');
  const unknown = lines.filter((l) => l.cls === 'unknown_to_switch');
  tt.same(unknown.map((l) => [l.rrn, l.terminal, l.fileAmount]), [['337055550001', 'TERM0002', 2500]], 'the record the switch never saw');
  tt.equal(lines.length, 9, 'nothing else differs (the refund of yesterday\'s sale matched)');

  const pbu = byTxn.get('t-lost-reversal')?.[0];
  tt.same([pbu?.action, pbu?.actionAmount, pbu?.undoId, pbu?.undoState], ['refund', 2000, 'rev-t-lost-reversal', 'manual'], 'a lost reversal: refund what was settled, with the evidence ids');
  tt.same([byTxn.get('t-reversal-in-queue')?.[0].action, byTxn.get('t-reversal-in-queue')?.[0].actionAmount], ['review', 3000], 'a reversal still in the queue: a person decides (a refund could credit twice)');
  tt.same(byTxn.get('t-partial-not-applied')?.[0].actionAmount, 300, 'a partial reversal not applied: refund the part reversed');
  tt.same([byTxn.get('t-amount')?.[0].journalAmount, byTxn.get('t-amount')?.[0].fileAmount], [6000, 6100], 'an amount mismatch shows both amounts');

  const total = (cls: string): { journalRows: number; fileRecords: number; fileAmount: bigint } | undefined => r.totals.find((x) => x.cls === cls && x.currency === '978');
  tt.same([total('posted_but_undone')?.journalRows, total('posted_but_undone')?.fileAmount], [3, 6500n], 'totals per class and currency, exact');
  tt.equal(r.totals.reduce((n, x) => n + x.fileRecords, 0), r.records, 'every record is in exactly one class');
  tt.equal(r.totals.reduce((n, x) => n + x.journalRows, 0), r.journalRows, 'every journal row is in exactly one class');

  // Nothing changed yet.
  tt.equal((await store.reversals()).filter((x) => x.kind === 'refund').length, 1, 'a dry run queues nothing');
  tt.equal((await store.reviews()).length, 0, 'and raises nothing');

  const first = await applyRecon(store, r, AT + 3_600_000);
  tt.same([first.refundsQueued, first.reviewsQueued], [4, 5], '--apply: refunds for the lost and ignored reversals and the posting declined at the terminal; reviews for the rest');
  const refunds = (await store.reversals()).filter((x) => x.kind === 'refund' && x.txnId !== 't-yesterday');
  tt.same(refunds.map((x) => [x.txnId, x.amount, x.state]).sort(), [
    ['t-declined-but-posted', n12(1500), 'pending'], ['t-lost-reversal', n12(2000), 'pending'], ['t-partial-not-applied', n12(300), 'pending'],
    ['t-reversal-ignored', n12(4000), 'pending'],
  ], 'each refund pending, for what was settled and not owed');
  tt.ok(refunds.every((x) => (x.owner ?? null) === null), 'unowned: the running switch claims them at its next lease tick');
  const hist = await store.history(refunds[0].id);
  tt.match(hist[0].detail ?? '', r.runId, 'the run id is in the refund\'s history');
  const reviews = await store.reviews();
  tt.ok(reviews.every((x) => x.why.includes(r.runId)), 'and in every review item\'s');
  tt.ok(reviews.some((x) => x.id.startsWith('review|recon|') && x.proposed === 'refund' && x.amount === n12(7000)), 'the duplicate proposes refunding the extra');

  // A person works the items: the duplicate's approval refunds the extra settlement (a
  // settled sale is never reversed); the unknown record has no transaction to act on.
  const dupItem = reviews.find((x) => x.proposed === 'refund' && x.amount === n12(7000));
  const unknownItem = reviews.find((x) => x.id.includes('|unknown_to_switch|'));
  const rules = loadDefaultRules();
  if (dupItem !== undefined) {
    const done = await approveReview(store, dupItem.id, { by: 'ops', note: 'settled twice, confirmed' }, rules, AT + 3_700_000);
    tt.same(done.action, 'refund', 'approving the duplicate refunds, whatever the hour');
    tt.equal((await store.reversal(done.undoId ?? ''))?.amount, n12(7000), 'the extra settlement\'s amount');
  } else tt.fail('no review item for the duplicate');
  if (unknownItem !== undefined) {
    await tt.rejects(approveReview(store, unknownItem.id, { by: 'ops', note: 'x', action: 'refund' }, rules, AT + 3_700_000), /no transaction in the store/, 'nothing to refund for a record unknown to the switch');
    tt.same((await approveReview(store, unknownItem.id, { by: 'ops', note: 'raised with the issuer' }, rules, AT + 3_700_000)).action, 'none', 'it is approved with action none');
  } else tt.fail('no review item for the unknown record');

  const again = await run();
  tt.teardown(() => again.close());
  const second = await applyRecon(store, again, AT + 7_200_000);
  tt.same([second.refundsQueued, second.reviewsQueued], [0, 0], 'the same file applied again queues nothing new');
  tt.same([second.refundsExisting, second.reviewsExisting], [first.refundsQueued, first.reviewsQueued], 'it finds what the first run queued, open or decided');
}

t.test('SQLite', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-'));
  const store = new SqliteStore(`sqlite:${join(dir, 'journal.db')}`, { inline: true });
  await store.open();
  tt.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await scenario(tt, store, dir);
});

if (await pgReady(t, 'PostgreSQL')) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());
  t.test('PostgreSQL', async (tt) => {
    const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-pg-'));
    const store = new PostgresStore(schemas.url(schemas.next()));
    await store.open();
    tt.teardown(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await scenario(tt, store, dir);
  });
}
