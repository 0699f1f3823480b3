/**
 * What a person's decision on a review item does, wherever it is given (`revswitch
 * review`, the admin API) and wherever it is finished (the running switch sweeps approved
 * items whose undo is not queued yet, so a crash between the decision and the queue row
 * loses nothing). An approval queues its undo as an unowned `pending` row of the
 * store-and-forward queue: the running switch claims such rows within a lease period and
 * sends them, exactly as its own. The undo's id derives from the original, so an
 * automatic undo of the same sale and an approved one are one row.
 *
 * The domain's rules hold for people too: a duplicate (94) is never reversed, and an
 * authorization (x1xx) is never refunded (it was never cleared).
 */
import type { CompiledRules } from '../../rules/index.js';
import { withSealedField } from '../store/sealed.js';
import type { ReversalRow, ReviewAction, ReviewRow, Store, TxnRow } from '../store/types.js';
import { isReconReviewId, refundIdOf, reversalIdOfRow } from './undo-ids.js';

/** A decision that cannot be taken as asked: the message says why, for the CLI and the API. */
export class ReviewError extends Error {
  override readonly name = 'ReviewError';
  constructor(message: string, readonly kind: 'not_found' | 'conflict' | 'refused') {
    super(message);
  }
}

export interface Verdict {
  by: string;
  note: string;
  /** Approve only: what to carry out instead of the default (see defaultAction). */
  action?: ReviewAction;
}

/**
 * An approval without a named action: nothing when nothing was proposed; else a reversal
 * while the original can still be reversed, a refund once a financial original's business
 * day (and grace days) has closed or its reversal window passed. An authorization past
 * its window is reversed late: a refund would credit money never debited.
 */
export function defaultAction(review: ReviewRow, txn: TxnRow, rules: CompiledRules, now: number): ReviewAction {
  if (review.proposed === 'none') return 'none';
  // A settled posting can no longer be reversed: what reconciliation proposes stands.
  if (isReconReviewId(review.id)) return 'refund';
  const cal = rules.calendar;
  const bd = cal.businessDay(txn.createdAt);
  const lastReversible = rules.graceDays === 0 ? bd : cal.addWorkingDays(bd, rules.graceDays);
  const late = cal.businessDay(now) > lastReversible || now - txn.createdAt > rules.maxAgeCardPresentMs;
  return late && financial(txn) ? 'refund' : 'reverse';
}

function financial(txn: TxnRow): boolean {
  return txn.mti.charAt(1) === '2';
}

/** The queue row that carries out `action` for the transaction; throws ReviewError when the domain forbids it or it cannot be built. */
export function undoRowFor(review: ReviewRow, txn: TxnRow, action: 'reverse' | 'refund', now: number): ReversalRow {
  if (action === 'reverse' && txn.failureClass === 'duplicate') {
    throw new ReviewError(`${review.id}: a duplicate (94) is never reversed: the reversal would carry the real original's keys and undo it`, 'refused');
  }
  const why = `approved in review ${review.id}: ${review.why}`;
  if (action === 'refund') {
    const amount = review.amount ?? txn.amount;
    if (amount === null) throw new ReviewError(`${review.id}: no amount to refund`, 'refused');
    return refundRowFor(txn, amount, why, now, review.id);
  }
  const { reversalId, sealed } = sent(txn, action, review.id);
  return {
    ...queued(txn, now), id: reversalId, kind: 'reversal', amount: null, reason: review.reason ?? '06', finalAmount: review.finalAmount, explanation: why,
    original: sealed,
  };
}

/**
 * A refund of `amount` (n12) for a financial transaction, queued like any other (one per
 * original: its id derives from the original). `label` names who asks, in errors.
 */
export function refundRowFor(txn: TxnRow, amount: string, why: string, now: number, label: string): ReversalRow {
  if (!financial(txn)) {
    throw new ReviewError(`${label}: an authorization (${txn.mti}) is never refunded: it was never cleared, so a refund would credit money never debited`, 'refused');
  }
  const { reversalId, sealed } = sent(txn, 'refund', label);
  // The refund names the approval it undoes (F38).
  const original = txn.approvalCode ? withSealedField(sealed, 38, txn.approvalCode) : sealed;
  return { ...queued(txn, now), id: refundIdOf(reversalId), kind: 'refund', amount, reason: '', finalAmount: null, explanation: why, original };
}

/** What went upstream, which an undo is built from; ReviewError when nothing was kept. */
function sent(txn: TxnRow, action: string, label: string): { reversalId: string; sealed: string } {
  if (txn.sealed === null || txn.upstream === null || txn.upstreamStan === null) {
    throw new ReviewError(`${label}: transaction ${txn.id} never went upstream, or its sealed message is gone (nothing kept to build the ${action} from): settle it by hand`, 'refused');
  }
  let reversalId: string | null;
  try {
    reversalId = reversalIdOfRow(txn);
  } catch {
    throw new ReviewError(`${label}: the sealed message of transaction ${txn.id} cannot be read: settle it by hand`, 'refused');
  }
  return { reversalId: reversalId ?? '', sealed: txn.sealed };
}

function queued(txn: TxnRow, now: number): Omit<ReversalRow, 'id' | 'kind' | 'amount' | 'reason' | 'finalAmount' | 'explanation' | 'original'> {
  return {
    txnId: txn.id, upstream: txn.upstream ?? '', state: 'pending', attempts: 0, message: null, sentStan: null, enqueuedAt: now, dueAt: now,
    lastError: null, note: null, updatedAt: now, owner: null, leaseUntil: 0,
  };
}

/**
 * The item, open, with its transaction; ReviewError otherwise. An item that proposes
 * nothing may have no transaction (a settlement record unknown to the switch): it can
 * still be approved or rejected, with action none.
 */
async function openItem(store: Store, id: string): Promise<{ review: ReviewRow; txn: TxnRow | undefined }> {
  const review = await store.review(id);
  if (review === undefined) throw new ReviewError(`no review item ${JSON.stringify(id)}`, 'not_found');
  if (review.state !== 'open') throw new ReviewError(alreadyDecided(review), 'conflict');
  const txn = await store.txn(review.txnId);
  if (txn === undefined && review.proposed !== 'none') throw new ReviewError(`${id}: its transaction ${review.txnId} is not in the store`, 'not_found');
  return { review, txn };
}

function alreadyDecided(r: ReviewRow): string {
  const when = r.decidedAt === null ? '' : ` at ${new Date(r.decidedAt).toISOString()}`;
  return `${r.id} was already ${r.state} by ${r.decidedBy ?? 'someone'}${when}${r.action ? ` (${r.action})` : ''}: ${r.note ?? ''}`.trimEnd();
}

/**
 * Approves the item and queues its undo. The decision is written first (compare-and-set:
 * decided once), then the queue row; a crash between the two is finished by the running
 * switch's sweep (queueApproved). Returns the undo's id, or null for action none.
 */
export async function approveReview(store: Store, id: string, v: Verdict, rules: CompiledRules, now: number): Promise<{ action: ReviewAction; undoId: string | null }> {
  const { review, txn } = await openItem(store, id);
  const action = v.action ?? (txn === undefined ? 'none' : defaultAction(review, txn, rules, now));
  if (action !== 'none' && txn === undefined) throw new ReviewError(`${id}: no transaction in the store (${review.txnId}) to ${action}: approve with action none, or reject`, 'refused');
  // Checked before the decision is written, so a refused action leaves the item open.
  const row = action === 'none' || txn === undefined ? null : undoRowFor(review, txn, action, now);
  if (!(await store.decideReview({ id, state: 'approved', at: now, by: v.by, note: v.note, action }))) {
    const now2 = await store.review(id);
    throw new ReviewError(now2 ? alreadyDecided(now2) : `${id} changed while deciding`, 'conflict');
  }
  if (row === null) return { action, undoId: null };
  await queue(store, id, row, now);
  return { action, undoId: row.id };
}

export async function rejectReview(store: Store, id: string, v: Verdict, now: number): Promise<void> {
  await openItem(store, id);
  if (!(await store.decideReview({ id, state: 'rejected', at: now, by: v.by, note: v.note, action: 'none' }))) {
    const now2 = await store.review(id);
    throw new ReviewError(now2 ? alreadyDecided(now2) : `${id} changed while deciding`, 'conflict');
  }
}

/** The undo row in the queue (an existing one with its id stands: one per original), then recorded on the item. */
async function queue(store: Store, id: string, row: ReversalRow, now: number): Promise<void> {
  await store.insertReversal(row);
  await store.flush();
  await store.reviewQueued(id, row.id, now);
}

/**
 * Approved items whose undo is not in the queue yet (the deciding process died between
 * the two writes): queued now. Returns how many. Items that cannot be built any more are
 * left for a person, with the reason returned.
 */
export async function queueApproved(store: Store, now: number): Promise<{ queued: number; failed: { id: string; why: string }[] }> {
  let queued = 0;
  const failed: { id: string; why: string }[] = [];
  for (const review of await store.reviews(['approved'])) {
    if (review.undoId !== null || review.action === null || review.action === 'none') continue;
    const txn = await store.txn(review.txnId);
    try {
      if (txn === undefined) throw new ReviewError(`its transaction ${review.txnId} is not in the store`, 'not_found');
      await queue(store, review.id, undoRowFor(review, txn, review.action, now), now);
      queued++;
    } catch (e) {
      failed.push({ id: review.id, why: (e as Error).message });
    }
  }
  return { queued, failed };
}
