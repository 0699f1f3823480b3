/**
 * Answers no request was waiting for: the one handler of every upstream link's unmatched
 * answers. A sale's answer after its deadline is never relayed (the reversal queued at the
 * deadline stands), except that a late definitive decline withdraws a reversal not yet
 * sent, since nothing was held.
 */
import { isReversal, type IsoMessage } from '../../codec/index.js';
import { CLASS_INFO } from '../../rules/index.js';
import type { UpstreamLink } from '../edge/upstream-link.js';
import { summarize } from '../observe/log.js';
import type { EngineContext } from './context.js';
import type { Decisions } from './decisions.js';
import type { Txn } from './txn.js';

export class LateAnswers {
  /** Sales whose deadline passed, by link|STAN, oldest first, so a late answer can be recognised. */
  private readonly expired = new Map<string, Txn>();

  constructor(private readonly ctx: EngineContext, private readonly decisions: Decisions) {}

  /** A sale's deadline passed: its answer, if it comes, is late. */
  remember(link: UpstreamLink, stan: number, txn: Txn): void {
    this.expired.set(`${link.name}|${stan}`, txn);
  }

  handle(msg: IsoMessage, link: UpstreamLink): void {
    const { ctx } = this;
    if (isReversal(msg.mti)) {
      // An answer to a repeat of a reversal already settled: acks are idempotent.
      ctx.counters.inc('reversal_responses_unmatched');
      return;
    }
    ctx.counters.inc('late_responses');
    const k = `${link.name}|${Number(msg.get(11))}`;
    const txn = this.expired.get(k);
    if (!txn) {
      ctx.log.warn('upstream response for an unknown request', { upstream: link.name, ...summarize(msg) });
      return;
    }
    this.expired.delete(k);
    const cls = this.decisions.classify(link, msg.get(39));
    // A late approval is never relayed: the reversal queued at the deadline stands. A late
    // definitive decline means nothing was held, so a reversal not yet sent can be withdrawn;
    // a late 96 or 91 leaves the outcome in doubt, so its reversal stands too.
    if (cls !== 'approved' && !CLASS_INFO[cls].fundsMayBeHeld && txn.reversalId && ctx.reversals.cancel(txn.reversalId)) {
      txn.decision = `late ${msg.get(39)}: reversal withdrawn`;
    }
    void ctx.journal.record(txn, { note: `late response ${msg.get(39) ?? '(no F39)'} (${cls}): ${txn.decision?.startsWith('late') ? 'reversal withdrawn' : 'not relayed'}` },
      undefined, { kind: 'LATE_RESPONSE', responseCode: msg.get(39), failureClass: cls });
    ctx.log.info('late response', { upstream: link.name, class: cls, reversal: txn.reversalId, ...summarize(msg) });
  }

  /**
   * Capped like the transaction table: in an issuer outage every sale times out, and a map
   * of them all for retentionMs would keep every one alive whatever the table let go.
   */
  sweep(now: number): void {
    const { retentionMs, maxRetained } = this.ctx.cfg;
    for (const [k, t] of this.expired) {
      if (now - t.startedAt < retentionMs && this.expired.size <= maxRetained) break;
      this.expired.delete(k);
    }
  }
}
