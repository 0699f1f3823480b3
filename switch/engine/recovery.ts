/**
 * Crash recovery and orphan takeover: after a restart, and whenever another node stops
 * heartbeating, every sale that left for the issuer without a final outcome is treated as
 * timed out, so rules/ reverses it. One this node cannot reverse itself goes to a person
 * (the manual queue), never only to a log line.
 */
import type { TxnRow } from '../store/types.js';
import type { EngineContext } from './context.js';
import { reversalIdOf } from '../undo/undo-ids.js';
import type { Decisions } from './decisions.js';

export class Recovery {
  private busy = false;

  constructor(private readonly ctx: EngineContext, private readonly decisions: Decisions) {}

  /**
   * At start-up, before anything is accepted: resume the reversal queue, remember recent
   * transactions (so a duplicate or a terminal's reversal that arrives now still finds
   * its original), and treat every transaction this node left in flight as timed out.
   */
  async recover(): Promise<void> {
    const { ctx } = this;
    const store = ctx.journal.store;
    await ctx.reversals.load();
    const now = Date.now();
    // The newest maxRetained only: the table keeps no more, and older ones are found in the
    // journal when a duplicate or a terminal's reversal asks for them.
    for (const row of await store.recentTxns(now - ctx.cfg.retentionMs, ctx.cfg.maxRetained)) {
      if (row.state === 'forwarded') continue;
      const t = ctx.journal.rebuild(row, ctx.listenerDialect(row.listener), ctx.links.get(row.upstream ?? '')?.dialect);
      if (t) ctx.txns.add(t);
    }
    // Only this node's own: another node's in-flight sales are its business while it
    // heartbeats, and become orphans (takeOrphans) when it stops.
    const orphans = (await store.unfinishedTxns()).filter((row) => row.node === ctx.node);
    for (const row of orphans) this.reverseOrphan(row, true);
    await store.flush();
    await this.takeOrphans();
    if (orphans.length > 0) ctx.log.warn('crash recovery: transactions left in flight were treated as timed out', { count: orphans.length });
  }

  /**
   * Another node's heartbeat stopped: the transactions it sent upstream without an outcome
   * become this node's, and are treated as crash recovery treats its own (timed out, so
   * rules/ says reverse). Its reversals come over through the reversal leases.
   */
  async takeOrphans(): Promise<void> {
    const { ctx } = this;
    if (this.busy || ctx.stopping()) return;
    this.busy = true;
    try {
      const now = Date.now();
      const rows = await ctx.journal.store.claimOrphanTxns(ctx.node, now - ctx.cfg.cluster.nodeDeadMs, now);
      if (rows.length > 0) {
        ctx.log.warn('took over transactions of a node that stopped heartbeating', { count: rows.length, from: [...new Set(rows.map((r) => r.node))].join(',') });
        for (const row of rows) this.reverseOrphan(row, false);
      }
    } catch (e) {
      ctx.counters.inc('store_errors');
      ctx.log.error('orphan takeover failed; retried', { error: (e as Error).message });
    } finally {
      this.busy = false;
    }
  }

  /** A transaction left in flight (by this node before a restart, or by a dead one) reversed as a timeout. */
  private reverseOrphan(row: TxnRow, own: boolean): void {
    const { ctx } = this;
    const link = ctx.links.get(row.upstream ?? '');
    const t = ctx.journal.rebuild(row, ctx.listenerDialect(row.listener), link?.dialect);
    if (!t) {
      ctx.counters.inc('recovery_failed');
      this.manualOrphan(row, link === undefined
        ? `its upstream ${JSON.stringify(row.upstream ?? '')} is not configured on node ${ctx.node}`
        : row.sealed === null ? 'the journal row holds no request to build a reversal from' : 'the journal row\'s request cannot be opened (another PAN key?)');
      return;
    }
    ctx.txns.add(t);
    ctx.counters.inc(own ? 'recovered_in_flight' : 'orphans_taken_over');
    if (own) void ctx.journal.record(t, { note: 'found without an outcome at start-up: the switch stopped while it was in flight' }, 'recovered');
    this.decisions.decideAndAct(t, 'timeout');
  }

  /**
   * A sale left in flight that this node cannot reverse itself: it may hold the
   * cardholder's money, so it goes to the manual-handling queue (a reversal row in state
   * manual, with the sealed request as its original) and the transaction to `recovered`,
   * instead of only a log line. A person settles it with the issuer.
   */
  private manualOrphan(row: TxnRow, why: string): void {
    const { ctx } = this;
    const upstream = row.upstream ?? '';
    // The F7 sent upstream is inside the sealed request, which may be what cannot be opened: the row's (the terminal's) stands in.
    const id = reversalIdOf(upstream, row.upstreamStan ?? '', row.f7 ?? '', row.createdAt);
    const reason = this.decisions.timeoutReason(row);
    const explanation = `left in flight without an outcome and not reversible here: ${why}; reverse it with the issuer by hand (reason ${reason})`;
    ctx.log.error('cannot reverse a transaction left in flight; sent to manual handling', { txn: row.id, upstream, why });
    ctx.reversals.enqueueManual({ id, upstream, txnId: row.id, reason, explanation, original: row.sealed ?? '', why });
    void ctx.journal.store.updateTxn({
      id: row.id, state: 'recovered', at: Date.now(), reversalId: id, decision: `review: ${explanation}`, note: 'sent to manual handling',
    }).catch((e: unknown) => {
      ctx.counters.inc('store_errors');
      ctx.log.error('journal write failed', { txn: row.id, error: (e as Error).message });
    });
  }
}
