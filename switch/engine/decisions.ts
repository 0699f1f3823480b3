/**
 * The engine's one door to rules/: an outcome (an answer, a deadline, a failed delivery,
 * a terminal's reversal) is put to rules/ as a case, and what it decides is carried out
 * and recorded. Policy is never decided here.
 */
import type { IsoMessage } from '../../codec/index.js';
import { toN12, type Decision, type DecisionCase, type LocalEvent } from '../../rules/index.js';
import type { FailureClass } from '../../rules/types.js';
import type { UpstreamLink } from '../edge/upstream-link.js';
import { velocityNote } from '../store/history-notes.js';
import type { TxnRow } from '../store/types.js';
import type { EngineContext } from './context.js';
import type { Txn } from './txn.js';
import { refundIdOf, reversalIdOf } from '../undo/undo-ids.js';
import type { ReviewItems } from './review-items.js';
import { Velocity } from './velocity.js';

/** What a refund takes from the issuer's answer to the sale: F13 (date), F37 (RRN), F38 (approval code). */
const FROM_THE_ANSWER = [13, 37, 38] as const;

/**
 * The original a refund is built from, as kept in its queue row: the request as it went
 * upstream, with the approval code it undoes (F38) and, where the request carried none,
 * the RRN and date the issuer gave the sale. A UnionPay host assigns F37 and F13 in its
 * 0210, and the refund's F61 names the sale by that date.
 */
export function refundOriginal(sent: IsoMessage, answer: IsoMessage | null | undefined): IsoMessage {
  const original = sent.clone();
  for (const field of FROM_THE_ANSWER) {
    const value = answer?.get(field);
    if (value !== undefined && (field === 38 || !original.has(field))) original.set(field, value);
  }
  return original;
}

/** A reversal the terminal sent: its MTI and reason are the case, the original's amount the subject. */
export interface TerminalCase {
  mti: string;
  reason: string;
  finalAmount?: string;
}

export class Decisions {
  private readonly velocity: Velocity;

  constructor(private readonly ctx: EngineContext, private readonly reviews: ReviewItems) {
    this.velocity = new Velocity(ctx.rules.current.velocityWindowMs);
  }

  /** What rules/ makes of an answer code on this link (its dialect's and upstream's tables). */
  classify(link: UpstreamLink, rc: string | undefined): FailureClass {
    if (rc === undefined) return 'technical_unknown';
    return this.ctx.rules.current.classify({ responseCode: rc, dialect: link.dialect.name, upstream: link.name }).class;
  }

  /** Puts an outcome to rules/ and does what it says; null when it could not be decided. */
  decideAndAct(txn: Txn, event: LocalEvent | { responseCode: string }, terminal?: TerminalCase): Decision | null {
    const { ctx } = this;
    const link = ctx.links.get(txn.upstream);
    const sent = txn.sent;
    if (!link || !sent) return null;
    const now = Date.now();
    const panHash = ctx.journal.panHash(sent);
    const c: DecisionCase = terminal
      ? {
        mti: terminal.mti, originalMti: sent.mti, responseCode: terminal.reason, finalAmount: terminal.finalAmount,
        amount: sent.get(4) ?? '0', currency: sent.get(49) ?? '000', dialect: ctx.listenerDialect(txn.listener).name,
        upstream: link.name, originalTime: txn.startedAt, now, panHash,
      }
      : {
        mti: sent.mti, ...(typeof event === 'string' ? { event } : event), amount: sent.get(4) ?? '0', currency: sent.get(49) ?? '000',
        dialect: link.dialect.name, upstream: link.name, originalTime: txn.startedAt, now, panHash,
      };
    const what = terminal ? `terminal reversal ${terminal.reason}` : typeof event === 'string' ? event : `response ${event.responseCode}`;
    let decision: Decision;
    try {
      decision = ctx.rules.decide(c, this.velocity.state(txn.request, panHash, ctx.rules.current.calendar.businessDay(now)));
    } catch (e) {
      // A case rules/ refuses (a malformed reason code from a peer) must not take the switch
      // down, nor be dropped: it goes to a person.
      ctx.counters.inc('decision_errors');
      ctx.counters.inc('manual_reviews');
      txn.decision = `review: rules/ refused the case: ${(e as Error).message}`;
      this.reviews.open(txn, null, txn.decision);
      ctx.log.error('rules/ refused the case; sent to manual review', { txn: txn.key, event: what, error: (e as Error).message });
      return null;
    }
    txn.decision = `${decision.action} (rule ${decision.rule}): ${decision.explanation}`;
    // As an event: the timeout or undeliverable approval itself, with its decision; after
    // an answer or a terminal's reversal (already reported), the decision alone.
    const kind = !terminal && (txn.state === 'timed_out' || txn.state === 'undeliverable') ? undefined : 'DECIDED';
    // A plain decline (action none) is business as usual: not a line per sale at info.
    const line = { txn: txn.key, event: what, action: decision.action, rule: decision.rule, why: decision.explanation };
    if (decision.action === 'none') ctx.log.debug('decision', line);
    else ctx.log.info('decision', line);
    const alert = decision.alert;
    let note: string | undefined;
    if (alert !== null) {
      // A threshold a person should hear of; the decision (a reversal) goes out regardless.
      // The note goes into the transaction's history, where the report finds it.
      note = velocityNote(alert.scopes, alert.text);
      ctx.counters.inc('velocity_alerts');
      for (const scope of alert.scopes) ctx.counters.inc(`velocity_alerts_${scope}`);
      ctx.log.warn('velocity alert: the reversal goes out anyway', { txn: txn.key, event: what, scopes: alert.scopes.join(','), alert: alert.text });
      ctx.journal.event('VELOCITY_ALERT', txn, { decisionAction: decision.action, decisionRule: decision.rule, note });
    }
    if (decision.action === 'reverse') {
      this.velocity.record(txn.request, panHash);
      // A terminal's reason is read in the terminal's dialect; upstream speaks its own.
      const upstreamReason = terminal && ctx.listenerDialect(txn.listener).name !== link.dialect.name
        ? ctx.rules.current.reversalReasonFor(decision.class, link.name, link.dialect.name)
        : null;
      this.queueReversal(txn, {
        reason: upstreamReason ?? decision.reason ?? '06', explanation: decision.explanation,
        finalAmount: decision.finalAmount === null ? undefined : String(decision.finalAmount),
      }, decision.class);
    } else if (decision.action === 'refund') {
      ctx.counters.inc('refunds_proposed');
      if (this.issuerApproved(link, txn)) {
        this.velocity.recordRefund(txn.request, panHash, ctx.rules.current.calendar.businessDay(now), decision.amount);
        this.queueRefund(txn, decision.amount, decision.explanation);
      } else {
        // A refund credits money: only for a sale the issuer is known to have approved. A
        // declined one took nothing; one whose outcome is unknown goes to a person.
        ctx.counters.inc('refunds_refused');
        ctx.counters.inc('manual_reviews');
        txn.decision = `review: no refund, the issuer's approval of the original is not known (${txn.state}); ${decision.explanation}`;
        this.reviews.open(txn, decision, txn.decision);
        ctx.log.warn('refund not sent: the original is not a known approval; sent to manual review', { txn: txn.key, state: txn.state });
      }
    } else if (decision.action === 'review') {
      ctx.counters.inc('manual_reviews');
      this.reviews.open(txn, decision, decision.explanation);
      ctx.log.warn('sent to manual review', { txn: txn.key, why: decision.explanation });
    }
    void ctx.journal.record(txn, { failureClass: decision.class, decision: txn.decision, reversalId: txn.reversalId, note },
      undefined, { kind, action: decision.action, explanation: decision.explanation, rule: decision.rule });
    return decision;
  }

  /** `cls`: the failure class behind it, for revswitch_reversals_total. */
  queueReversal(txn: Txn, d: { reason: string; explanation: string; finalAmount?: string }, cls: string): void {
    if (!txn.sent) return;
    const id = reversalIdOf(txn.upstream, txn.sent.get(11) ?? '', txn.sent.get(7) ?? '', txn.startedAt);
    txn.reversalId = id;
    if (this.ctx.reversals.enqueue({ id, upstream: txn.upstream, original: txn.sent, reason: d.reason, finalAmount: d.finalAmount, explanation: d.explanation, txnId: txn.id })) {
      this.ctx.metrics.reversalQueued(cls);
    }
  }

  /** Whether the issuer's answer the switch holds for the sale is an approval (a rebuilt 'forwarded' row's is not). */
  private issuerApproved(link: UpstreamLink, txn: Txn): boolean {
    const rc = txn.answer?.get(39);
    return (txn.state === 'approved' || txn.state === 'undeliverable') && rc !== undefined && this.classify(link, rc) === 'approved';
  }

  /**
   * The refund of an approved sale whose business day has closed: through the same durable
   * queue as reversals, under an id of its own derived from the original, so a repeat of the
   * terminal's 0400, another node, or a restart never makes a second one.
   */
  private queueRefund(txn: Txn, amount: number, explanation: string): void {
    if (!txn.sent) return;
    const id = refundIdOf(reversalIdOf(txn.upstream, txn.sent.get(11) ?? '', txn.sent.get(7) ?? '', txn.startedAt));
    txn.reversalId = id;
    const original = refundOriginal(txn.sent, txn.answer);
    this.ctx.reversals.enqueue({
      id, kind: 'refund', amount: toN12(amount), upstream: txn.upstream, original, reason: '', explanation, txnId: txn.id,
    });
  }

  /** The reversal reason rules/ gives a timeout on the row's upstream (its overrides included); 68 when it gives none. */
  timeoutReason(row: TxnRow): string {
    try {
      const d = this.ctx.rules.decide(
        { mti: row.mti, event: 'timeout', amount: row.amount ?? '0', currency: row.currency ?? '000', upstream: row.upstream ?? undefined, originalTime: row.createdAt, now: Date.now() },
        { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 },
      );
      return d.reason ?? '68';
    } catch {
      return '68';
    }
  }
}
