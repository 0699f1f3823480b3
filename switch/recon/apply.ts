/**
 * `reconcile --apply`: every difference's fix, queued. A refund goes into the
 * store-and-forward queue as an unowned pending row (the running switch claims it at its
 * next lease tick and sends it, as it does a review's approval); its id derives from the
 * original, so a sale is refunded once however often it is reconciled, and the same file
 * applied twice queues nothing new. Everything else becomes a review item whose id names
 * the date, the class and the row, for the same reason. The run id goes into each one's
 * explanation, and so into its history.
 *
 * Refunds credit money: this never queues a reversal, and never a refund the rules would
 * have to cap; a refund that cannot be built (the sealed original erased by retention, an
 * authorization) becomes a review item instead of being dropped.
 */
import { toN12 } from '../../rules/index.js';
import type { ReviewRow, Store } from '../store/types.js';
import { refundRowFor, ReviewError } from '../undo/review-actions.js';
import { reconReviewIdOf } from '../undo/undo-ids.js';
import type { ReconLine } from './classes.js';
import { EXPLANATION_PREFIX, type ReconResult } from './reconcile.js';

export interface ApplyOutcome {
  refundsQueued: number;
  /** Refunds already in the queue for the same original (an earlier run, a review, the switch's own). */
  refundsExisting: number;
  reviewsQueued: number;
  reviewsExisting: number;
  /** What each actionable line became, in order: its queue or review id. */
  applied: { line: ReconLine; kind: 'refund' | 'review'; id: string; created: boolean }[];
}

/** A stable key for a line: the same file gives the same key. */
function keyOf(l: ReconLine): string {
  if (l.cls === 'duplicate_in_file') return `${l.txnId ?? ''}|line ${l.fileLines.join(',')}`;
  if (l.txnId !== null && l.cls !== 'unknown_to_switch') return l.undoId !== null && l.state === null ? l.undoId : l.txnId;
  return `${l.rrn}|${l.terminal}|${l.stan}|${l.f7}|line ${l.fileLines.join(',')}`;
}

function reviewOf(r: ReconResult, l: ReconLine, now: number, extra = ''): ReviewRow {
  const id = reconReviewIdOf(r.businessDate, l.cls, keyOf(l));
  return {
    id, txnId: l.txnId ?? `settlement|${r.businessDate}|${keyOf(l)}`, upstream: r.upstream, proposed: l.actionAmount !== null ? 'refund' : 'none',
    amount: l.actionAmount !== null ? toN12(l.actionAmount) : null, reason: null, finalAmount: null,
    why: `${EXPLANATION_PREFIX}${r.runId}: ${l.cls}: ${l.why}${extra}`, state: 'open', createdAt: now, decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
  };
}

export async function applyRecon(store: Store, r: ReconResult, now: number): Promise<ApplyOutcome> {
  const out: ApplyOutcome = { refundsQueued: 0, refundsExisting: 0, reviewsQueued: 0, reviewsExisting: 0, applied: [] };
  const review = async (l: ReconLine, extra = ''): Promise<void> => {
    const row = reviewOf(r, l, now, extra);
    const created = await store.insertReview(row);
    if (created) out.reviewsQueued++;
    else out.reviewsExisting++;
    out.applied.push({ line: l, kind: 'review', id: row.id, created });
  };
  for await (const l of r.lines()) {
    if (l.action === 'review') await review(l);
    else if (l.action === 'refund') {
      const txn = l.txnId === null ? undefined : await store.txn(l.txnId);
      if (txn === undefined || l.actionAmount === null) {
        await review(l, ': its transaction is not in the store to build a refund from; settle it by hand');
        continue;
      }
      let row;
      try {
        row = refundRowFor(txn, toN12(l.actionAmount), `${EXPLANATION_PREFIX}${r.runId}: ${l.cls}: ${l.why}`, now, `${EXPLANATION_PREFIX}${r.runId}`);
      } catch (e) {
        if (!(e instanceof ReviewError)) throw e;
        await review(l, `: no refund can be queued (${e.message})`);
        continue;
      }
      const created = await store.insertReversal(row);
      if (created) out.refundsQueued++;
      else out.refundsExisting++;
      out.applied.push({ line: l, kind: 'refund', id: row.id, created });
    }
  }
  await store.flush();
  return out;
}
