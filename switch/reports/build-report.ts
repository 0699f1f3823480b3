/**
 * The report from rows in memory: the reference definition of every section, as a pure
 * function tests can check (and hold the stores' aggregates to: test/report-bounded). The
 * switch and the CLI never load a window's rows to call it; they ask the store for its
 * aggregates (report.ts gatherReport). Fine for small inputs.
 */
import { parseAmount } from '../../codec/index.js';
import { byKey, originalOf as originalIn, outcomeOf as outcomeIn, type Outcome } from '../store/report-query.js';
import type { HistoryRow, TxnRow } from '../store/types.js';
import { txnHistoryField } from '../store/history-notes.js';
import {
  DEFAULT_LIMIT, DEFAULT_PENDING_MS, DEFAULT_TOP, type ClassLine, type ManualLine, type PendingReversal, type PendingTxn, type RefundLine, type Report,
  type ReportInput, type ReportOptions, type StateLine, type TopLine, type TxnLine,
} from './report-types.js';
import { grouped, minorOf, Sums } from './sums.js';
import { isoTime as iso } from './time.js';
import { velocityAlertLines, velocityAlerts } from './velocity-alerts.js';

export type { Outcome };

/** Where a transaction stands for the report (report.ts says what an exception is). */
export function outcomeOf(t: TxnRow, now: number, pendingOlderThanMs = DEFAULT_PENDING_MS): Outcome {
  return outcomeIn(t, now, pendingOlderThanMs);
}

/** The original a terminal reversal's decision names: "... (original ID)". */
export function originalOf(t: TxnRow): string | null {
  return originalIn(t.state, t.decision);
}

export function txnLine(t: Omit<TxnLine, 'createdAt'> & { createdAt: number }): TxnLine {
  return {
    id: t.id, createdAt: iso(t.createdAt), terminal: t.terminal, merchant: t.merchant, rrn: t.rrn, stan: t.stan, amount: t.amount,
    currency: t.currency, state: t.state, responseCode: t.responseCode, failureClass: t.failureClass, decision: t.decision,
  };
}

/** Transaction ids whose refund decision was written in the window, with when (the last one wins). */
export function refundDecisions(history: readonly HistoryRow[]): Map<string, { at: number; decision: string }> {
  const out = new Map<string, { at: number; decision: string }>();
  for (const h of history) {
    const d = txnHistoryField(h, 'decision');
    if (d !== null && d.startsWith('refund')) out.set(h.ref, { at: h.at, decision: d });
  }
  return out;
}

/** Ids the report needs rows for beyond the window's transactions. */
export function relatedIds(input: Omit<ReportInput, 'related'>): string[] {
  const have = new Set(input.txns.map((t) => t.id));
  const want = new Set<string>();
  for (const r of [...input.reversals, ...input.manual]) if (r.txnId !== null && !have.has(r.txnId)) want.add(r.txnId);
  for (const id of refundDecisions(input.history).keys()) if (!have.has(id)) want.add(id);
  for (const a of velocityAlerts(input.history)) if (!have.has(a.ref)) want.add(a.ref);
  return [...want];
}

const STATE_ORDER = ['pending', 'sent', 'manual', 'acked', 'resolved', 'cancelled'];
const rank = (s: string): number => (STATE_ORDER.includes(s) ? STATE_ORDER.indexOf(s) : STATE_ORDER.length);

/** Exceptions first, then most, then by name. */
export function byClassOrder(a: ClassLine, b: ClassLine): number {
  return Number(b.exception) - Number(a.exception) || b.count - a.count || a.class.localeCompare(b.class);
}

/** The queue's states in their life's order. */
export function byStateOrder(a: StateLine, b: StateLine): number {
  return rank(a.state) - rank(b.state) || a.state.localeCompare(b.state);
}

export function buildReport(input: ReportInput, opts: ReportOptions): Report {
  const now = opts.now;
  const pendingMs = opts.pendingOlderThanMs ?? DEFAULT_PENDING_MS;
  const top = opts.top ?? DEFAULT_TOP;
  const limit = opts.limit ?? DEFAULT_LIMIT;
  const byId = new Map<string, TxnRow>();
  for (const t of [...input.related, ...input.txns]) byId.set(t.id, t);

  const all = new Sums();
  const exc = new Sums();
  const classes = grouped<string>();
  const terminals = grouped<string>();
  const merchants = grouped<string>();
  let approved = 0;
  let declined = 0;
  let inFlight = 0;
  let terminalReversals = 0;
  const reviews: TxnLine[] = [];
  for (const t of input.txns) {
    const o = outcomeOf(t, now, pendingMs);
    if (o === 'terminal_reversal') {
      terminalReversals++;
      continue;
    }
    all.addTxn(t);
    const isExc = o === 'exception';
    classes.get(`${isExc ? 1 : 0}|${t.failureClass ?? t.state}`).addTxn(t);
    if (o === 'approved') approved++;
    else if (o === 'declined') declined++;
    else if (o === 'in_flight') inFlight++;
    if (!isExc) continue;
    exc.addTxn(t);
    terminals.get(t.terminal ?? '(none)').addTxn(t);
    merchants.get(t.merchant ?? '(none)').addTxn(t);
    if ((t.decision ?? '').startsWith('review')) reviews.push(txnLine(t));
  }

  const byClass: ClassLine[] = classes.entries()
    .map(([k, s]) => ({ class: k.slice(2), exception: k[0] === '1', count: s.count, amounts: s.amounts() }))
    .sort(byClassOrder);

  const states = grouped<string>();
  const refundStates = grouped<string>();
  for (const r of input.reversals) {
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    if (r.kind === 'refund') {
      refundStates.get(r.state).add(t?.currency ?? null, minorOf(r.amount ?? t?.amount ?? null));
      continue;
    }
    const original = minorOf(t?.amount ?? null);
    // F95's final amount, when it is not n12, is ignored: the whole original goes back.
    const final = r.finalAmount === null ? null : parseAmount(r.finalAmount);
    const back = final === null ? original : original - BigInt(final);
    states.get(r.state).add(t?.currency ?? null, back < 0n ? 0n : back);
  }
  const byState = (g: ReturnType<typeof grouped<string>>): StateLine[] => g.entries()
    .map(([state, s]) => ({ state, count: s.count, amounts: s.amounts() }))
    .sort(byStateOrder);

  const pendingReversals = input.active
    .filter((r) => (r.state === 'pending' || r.state === 'sent') && now - r.enqueuedAt >= pendingMs)
    .map((r): PendingReversal => ({
      id: r.id, kind: r.kind ?? 'reversal', txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts, enqueuedAt: iso(r.enqueuedAt),
      ageMs: now - r.enqueuedAt, lastError: r.lastError,
    }));
  const pendingTxns = input.unfinished
    .filter((t) => t.state === 'forwarded' && now - t.createdAt >= pendingMs)
    .map((t): PendingTxn => ({
      id: t.id, terminal: t.terminal, stan: t.stan, rrn: t.rrn, amount: t.amount, currency: t.currency, createdAt: iso(t.createdAt),
      ageMs: now - t.createdAt,
    }));

  const manual: ManualLine[] = input.manual.filter((r) => r.state === 'manual').map((r) => {
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    return {
      id: r.id, kind: r.kind ?? 'reversal', txnId: r.txnId, upstream: r.upstream, attempts: r.attempts, reason: r.reason, enqueuedAt: iso(r.enqueuedAt),
      ageMs: now - r.enqueuedAt, lastError: r.lastError, terminal: t?.terminal ?? null, rrn: t?.rrn ?? null,
      amount: r.kind === 'refund' ? r.amount ?? null : t?.amount ?? null, currency: t?.currency ?? null,
    };
  });

  const topOf = (g: ReturnType<typeof grouped<string>>): TopLine[] => g.entries()
    .map(([key, s]) => ({ key, exceptions: s.count, amounts: s.amounts() }))
    .sort((a, b) => b.exceptions - a.exceptions || byKey(a.key, b.key))
    .slice(0, top);

  // A terminal's reversal that became a refund writes the decision on both rows: the
  // original is listed, the terminal's row only when its original is not in the store.
  const decided = refundDecisions(input.history);
  const refunds: RefundLine[] = [];
  for (const [id, d] of decided) {
    const t = byId.get(id);
    if (t === undefined) continue;
    const orig = originalOf(t);
    if (orig !== null && (decided.has(orig) || byId.has(orig))) continue;
    refunds.push({ ...txnLine(t), decision: d.decision, decidedAt: iso(d.at), businessDate: t.businessDate });
  }
  refunds.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));

  const velocity = velocityAlertLines(input.history, byId);
  const openReviews = (input.openReviews ?? []).map((v) => ({
    id: v.id, txnId: v.txnId, proposed: v.proposed, amount: v.amount, openedAt: iso(v.createdAt), ageMs: now - v.createdAt, why: v.why,
  }));
  const totalRows = {
    pendingReversals: pendingReversals.length, pendingTransactions: pendingTxns.length, manual: manual.length, reviews: reviews.length,
    openReviews: openReviews.length, refunds: refunds.length, velocityAlerts: velocity.length,
  };

  return {
    since: iso(opts.since),
    until: iso(opts.until),
    generatedAt: iso(now),
    pendingOlderThanMs: pendingMs,
    totals: {
      transactions: all.count, approved, declined, exceptions: exc.count, inFlight, terminalReversals,
      amounts: all.amounts(), exceptionAmounts: exc.amounts(),
    },
    byClass,
    reversalsByState: byState(states),
    refundsByState: byState(refundStates),
    pending: { reversals: pendingReversals.slice(0, limit), transactions: pendingTxns.slice(0, limit) },
    manual: manual.slice(0, limit),
    reviews: reviews.slice(0, limit),
    topTerminals: topOf(terminals),
    topMerchants: topOf(merchants),
    refunds: refunds.slice(0, limit),
    velocityAlerts: velocity.slice(0, limit),
    openReviews: openReviews.slice(0, limit),
    limit,
    truncated: Object.values(totalRows).some((n) => n > limit),
    totalRows,
  };
}
