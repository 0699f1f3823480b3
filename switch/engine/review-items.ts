/**
 * The engine's side of the review queue: a decision rules/ leaves to a person becomes a
 * durable item (switch/store, `revswitch review`), never only a log line; and approved
 * items whose undo the deciding process did not get to queue (it died between the two
 * writes) are queued here, every few seconds, by the running switch.
 */
import { toN12, type Decision } from '../../rules/index.js';
import type { ReviewAction } from '../store/types.js';
import { queueApproved } from '../undo/review-actions.js';
import { reviewIdOf } from '../undo/undo-ids.js';
import type { EngineContext } from './context.js';
import type { Txn } from './txn.js';

/** How often approved items are checked for an undo still to queue. */
const SWEEP_MS = 2000;

export class ReviewItems {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** Items already reported as not carried out: logged once, not every sweep. */
  private readonly reported = new Set<string>();

  constructor(private readonly ctx: EngineContext) {}

  /** An item for the transaction (one per transaction: a second decision to review it adds none). */
  open(txn: Txn, d: Pick<Decision, 'proposed' | 'amount' | 'reason' | 'finalAmount'> | null, why: string): void {
    const { ctx } = this;
    const now = Date.now();
    const proposed: ReviewAction = d === null || d.proposed === 'review' ? 'none' : d.proposed;
    const row = {
      id: reviewIdOf(txn.id), txnId: txn.id, upstream: txn.upstream || null, proposed,
      amount: d !== null && d.amount > 0 ? toN12(d.amount) : null, reason: d?.reason ?? null,
      finalAmount: d?.finalAmount === null || d === null ? null : toN12(d.finalAmount), why, state: 'open' as const, createdAt: now,
      decidedAt: null, decidedBy: null, note: null, action: null, undoId: null,
    };
    // After the transaction's own row: the item points at it.
    ctx.journal.store.flush().then(() => ctx.journal.store.insertReview(row)).then(
      (inserted) => {
        if (inserted) ctx.counters.inc('review_items_opened');
      },
      (err: unknown) => {
        ctx.counters.inc('store_errors');
        ctx.log.error('review item not stored; the decision stays in the journal', { txn: txn.id, error: (err as Error).message });
      },
    );
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    const { ctx } = this;
    try {
      const r = await queueApproved(ctx.journal.store, Date.now());
      if (r.queued > 0) ctx.log.warn('queued the undo of approved review items another process did not finish', { count: r.queued });
      for (const f of r.failed) if (!this.reported.has(f.id) && this.reported.add(f.id)) ctx.log.error('approved review item cannot be carried out; a person must settle it', { review: f.id, why: f.why });
    } catch (e) {
      ctx.log.error('review sweep failed', { error: (e as Error).message });
    } finally {
      this.sweeping = false;
    }
  }
}
