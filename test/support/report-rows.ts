/**
 * A randomized journal for the report's tests: a few thousand transactions of every
 * state, class and currency (amounts valid, invalid and maximal), reversals and refunds
 * of them (F95 included, beyond the original too), refund decisions and velocity notes in
 * their history, review items, all written through the Store API so each store keeps its
 * own history. Seeded: the same seed writes the same rows, in the same order, to any store.
 */
import { createRng, type Rng } from '../../switch/sim/prng.js';
import { velocityNote } from '../../switch/store/history-notes.js';
import type { JournalState, ReversalState, ReviewRow, Store } from '../../switch/store/types.js';
import { reversalRow, txnRow } from './store-contract.js';

const H = 3_600_000;
const D = 24 * H;
export const T0 = Date.UTC(2025, 10, 1);
/** The window the tests ask for, and the report's "now" (inside it: some rows are still in flight). */
export const WINDOW = { since: T0, until: T0 + 10 * D, now: T0 + 10 * D - 30 * 60_000 };

const STATES: JournalState[] = ['forwarded', 'approved', 'declined', 'timed_out', 'undeliverable', 'reversed_by_terminal', 'not_sent', 'recovered', 'terminal_reversal'];
const CLASSES = [null, 'approved', 'declined', 'insufficient_funds', 'input_error', 'timeout', 'fraud_suspect', 'technical_unknown', 'issuer_outage', 'customer_cancel'];
const CURRENCIES = ['840', '978', '392', '414', null];
const TERMINALS = [null, 'TERM0001', 'TERM0002', 'TERM0003', 'TERM0004', 'TERM0005', 'term-low', 'TERM0010', 'TERMÄ'];
const MERCHANTS = [null, 'MERCHANT0000001', 'MERCHANT0000002', 'MERCHANT0000003', 'm-lower'];
const SCOPES = ['terminal', 'merchant', 'card', 'custom'];
const UNDO_STATES: ReversalState[] = ['pending', 'sent', 'acked', 'manual', 'cancelled', 'resolved'];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(0, xs.length - 1)];
const n12 = (v: number): string => String(v).padStart(12, '0');

function amount(rng: Rng): string | null {
  const r = rng.next();
  if (r < 0.05) return null;
  if (r < 0.08) return pick(rng, ['12a4', '', '0000000000001234567', ' 1000', '-00000000100']);
  if (r < 0.12) return '999999999999';
  return n12(rng.int(1, 50_000_000));
}

/** When something happened: mostly in the window, some before and after it. */
const when = (rng: Rng): number => T0 - 2 * D + rng.int(0, 14 * D);

export interface Written {
  txns: number;
  maxAmountRows: number;
}

/** Writes the journal; every write is awaited at the end (group commit batches them). */
export async function writeRandomJournal(store: Store, seed: number, size = 3000, maxAmountRows = 0): Promise<Written> {
  const rng = createRng(seed);
  const writes: Promise<unknown>[] = [];
  const reviews: (() => Promise<void>)[] = [];
  const ids: string[] = [];
  for (let i = 0; i < size; i++) {
    const id = `t${String(i).padStart(5, '0')}`;
    const state = pick(rng, STATES);
    const createdAt = rng.chance(0.05) ? WINDOW.now - rng.int(0, 2 * H) : when(rng);
    let decision: string | null = pick(rng, [null, null, null, 'review: velocity', 'refund: cutover', 'reverse: timeout', 'reviewed? no']);
    if (state === 'terminal_reversal') {
      const orig = rng.chance(0.2) ? `gone-${i}` : ids.length > 0 ? pick(rng, ids) : 'gone-0';
      decision = `${pick(rng, ['reverse: cancel', 'refund: after cutover'])} (original ${orig})`;
    }
    const row = txnRow(id, {
      createdAt, updatedAt: createdAt, state, decision, failureClass: pick(rng, CLASSES), currency: pick(rng, CURRENCIES), amount: amount(rng),
      terminal: pick(rng, TERMINALS), merchant: pick(rng, MERCHANTS), panMasked: rng.chance(0.1) ? null : `476173******${String(rng.int(0, 20)).padStart(4, '0')}`,
      rrn: `RR${String(i).padStart(10, '0')}`, stan: String(i % 1_000_000).padStart(6, '0'), businessDate: '2025-11-0' + rng.int(1, 9),
    });
    writes.push(store.insertTxn(row));
    ids.push(id);
    if (rng.chance(0.15)) {
      // A refund decision written later (the last one of a transaction wins); some are not refunds.
      const at = when(rng);
      writes.push(store.updateTxn({ id, state, at, decision: pick(rng, ['refund: the business day closed', 'refund: reversal window passed', 'reverse: not a refund']) }));
      if (rng.chance(0.3)) writes.push(store.updateTxn({ id, state, at: at + rng.int(0, 2), decision: 'refund: again' }));
    }
    if (rng.chance(0.1)) {
      const scopes = SCOPES.filter(() => rng.chance(0.5));
      writes.push(store.updateTxn({ id, state, at: when(rng), note: velocityNote(scopes, '4 undos in 10 min') }));
    }
    if (rng.chance(0.02)) writes.push(store.updateTxn({ id, state, at: when(rng), note: 'velocity alert (terminal' }));
  }
  for (let i = 0; i < maxAmountRows; i++) {
    // Past 2^53 minor units in one currency: a float sum would be off.
    const at = T0 + rng.int(0, 9 * D);
    writes.push(store.insertTxn(txnRow(`max${i}`, { createdAt: at, updatedAt: at, state: 'approved', failureClass: 'approved', currency: '999', amount: '999999999999' })));
  }
  for (let i = 0; i < size / 5; i++) {
    const id = `r${String(i).padStart(5, '0')}`;
    const kind = rng.chance(0.3) ? 'refund' : 'reversal';
    const txnId = rng.chance(0.1) ? null : rng.chance(0.05) ? `missing-${i}` : pick(rng, ids);
    const enqueuedAt = when(rng);
    writes.push(store.insertReversal(reversalRow(id, {
      txnId, kind, enqueuedAt, dueAt: enqueuedAt, updatedAt: enqueuedAt, amount: kind === 'refund' ? amount(rng) : null,
      finalAmount: kind === 'reversal' && rng.chance(0.3) ? pick(rng, ['000000000500', '999999999999', 'x1', '000000000000']) : null,
      lastError: rng.chance(0.5) ? 'no answer' : null,
    })));
    const to = pick(rng, UNDO_STATES);
    if (to !== 'pending') writes.push(store.updateReversal({ id, from: ['pending'], state: to, at: enqueuedAt + 1000, attempts: rng.int(1, 20), lastError: `went ${to}` }));
  }
  for (let i = 0; i < size / 30; i++) {
    const createdAt = when(rng);
    const item: ReviewRow = {
      id: `review|v${i}`, txnId: pick(rng, ids), upstream: 'issuer', proposed: pick(rng, ['reverse', 'refund', 'none'] as const), amount: amount(rng), reason: null,
      finalAmount: null, why: 'over the cap', state: 'open', createdAt, decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
    };
    const decide = rng.chance(0.3);
    reviews.push(async () => {
      await store.insertReview(item);
      if (decide) await store.decideReview({ id: item.id, state: 'rejected', at: createdAt + 1, by: 'ops', note: 'no', action: 'none' });
    });
  }
  await store.flush();
  await Promise.all(writes);
  // Not group-committed: each runs at once, so one after the other (a decision needs its item).
  for (const r of reviews) await r();
  return { txns: size + maxAmountRows, maxAmountRows };
}
