/**
 * The exception report: what went wrong in a window of time, for the operator's morning
 * check (`revswitch report`, `GET /api/report`). The report's types, buildReport() (a pure
 * function from store rows to the report, so tests can check it) and gatherReport() (reads
 * those rows from a Store). Text and CSV: format-report.ts.
 *
 * What counts (see README, "Reports and evidence"):
 * - The window is [since, until): transactions by their creation time, reversals by when
 *   they were queued, refunds by when the decision was written.
 * - A transaction is an **exception** when it is a sale the switch could not simply
 *   approve-and-deliver or definitively decline: timed out (late approvals included),
 *   undeliverable, reversed by the terminal, recovered after a crash, not sent, declined
 *   with a class that is not definitive (fraud, unknown outcome, outage, duplicate...),
 *   any decision of review or refund, or still `forwarded` after the pending age. An
 *   approval delivered and a definitive decline (classes insufficient_funds, declined,
 *   input_error) are not; a reversal a terminal sent is its own row (counted apart, its
 *   original is the exception).
 * - The manual queue and the entries still pending are the store's state now, whatever
 *   the window.
 *
 * Amounts are the F4 minor units summed per currency (F49) as decimal strings (bigint
 * sums: never a float; sums.ts).
 */
import { parseAmount } from '../../codec/index.js';
import type { HistoryRow, JournalState, ReversalRow, ReviewRow, Store, TxnRow } from '../store/types.js';
import { grouped, minorOf, Sums, type Amount } from './sums.js';
import { txnHistoryField } from './history-detail.js';
import { velocityAlertLines, velocityAlerts, type VelocityAlertLine } from './velocity-alerts.js';

export type { Amount, VelocityAlertLine };
import { isoTime as iso } from './time.js';

// ---- the report object ----------------------------------------------------------------

/** A sum in one currency. `currency` is F49 as stored ('' when the transaction had none). */
export interface ClassLine {
  /** The failure class, or the journal state when rules/ gave none (not_sent, forwarded). */
  class: string;
  exception: boolean;
  count: number;
  amounts: Amount[];
}

export interface StateLine {
  state: string;
  count: number;
  /** What the reversals give back (the original's amount, less F95's final amount when partial). */
  amounts: Amount[];
}

export interface PendingReversal {
  id: string;
  /** reversal or refund: both wait in the one queue. */
  kind: string;
  txnId: string | null;
  upstream: string;
  state: string;
  attempts: number;
  enqueuedAt: string;
  ageMs: number;
  lastError: string | null;
}

export interface PendingTxn {
  id: string;
  terminal: string | null;
  stan: string;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
  createdAt: string;
  ageMs: number;
}

export interface ManualLine {
  id: string;
  /** reversal or refund. */
  kind: string;
  txnId: string | null;
  upstream: string;
  attempts: number;
  /** The reversal's reason code. */
  reason: string;
  enqueuedAt: string;
  ageMs: number;
  /** Why it went to manual handling. */
  lastError: string | null;
  terminal: string | null;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
}

export interface TxnLine {
  id: string;
  createdAt: string;
  terminal: string | null;
  merchant: string | null;
  rrn: string | null;
  stan: string;
  amount: string | null;
  currency: string | null;
  state: JournalState;
  responseCode: string | null;
  failureClass: string | null;
  decision: string | null;
}

export interface RefundLine extends TxnLine {
  /** When the refund decision was written. */
  decidedAt: string;
  businessDate: string | null;
}

export interface TopLine {
  /** The terminal (F41) or merchant (F42); '(none)' when the request had none. */
  key: string;
  exceptions: number;
  amounts: Amount[];
}

export interface Report {
  since: string;
  until: string;
  generatedAt: string;
  pendingOlderThanMs: number;
  totals: {
    /** Sales and authorizations created in the window (terminal reversals not included). */
    transactions: number;
    approved: number;
    /** Definitive declines. */
    declined: number;
    exceptions: number;
    /** Still forwarded, younger than the pending age. */
    inFlight: number;
    /** Reversals terminals sent (0400/0420 rows). */
    terminalReversals: number;
    amounts: Amount[];
    exceptionAmounts: Amount[];
  };
  byClass: ClassLine[];
  /** Reversals queued in the window, by their state now. */
  reversalsByState: StateLine[];
  /** Refunds queued in the window, by their state now, with what they credit. */
  refundsByState: StateLine[];
  /** Now: reversals pending or sent, and journal rows still forwarded, older than pendingOlderThanMs. */
  pending: { reversals: PendingReversal[]; transactions: PendingTxn[] };
  /** Now: every reversal in the manual state, oldest first. */
  manual: ManualLine[];
  /** Transactions of the window whose decision is review (a person must look). */
  reviews: TxnLine[];
  /** Now, any age: review items nobody has decided yet, oldest first (revswitch review). */
  openReviews: { id: string; txnId: string; proposed: string; amount: string | null; openedAt: string; ageMs: number; why: string }[];
  topTerminals: TopLine[];
  topMerchants: TopLine[];
  /** Refund decisions written in the window (after the business day's cutover or the reversal window). */
  refunds: RefundLine[];
  /** Velocity alerts written in the window, most first. */
  velocityAlerts: VelocityAlertLine[];
}

// ---- inputs --------------------------------------------------------------------------------

export interface ReportOptions {
  since: number;
  until: number;
  /** The report's "now" (ages of pending and manual entries). */
  now: number;
  /** Default one hour. */
  pendingOlderThanMs?: number;
  /** How many terminals and merchants. Default 10. */
  top?: number;
}

/** The rows a report is built from. */
export interface ReportInput {
  /** Created in the window. */
  txns: TxnRow[];
  /** Queued in the window. */
  reversals: ReversalRow[];
  /** Written in the window. */
  history: HistoryRow[];
  /** Now, any age: pending and sent. */
  active: ReversalRow[];
  /** Now, any age: manual. */
  manual: ReversalRow[];
  /** Now, any age: still forwarded. */
  unfinished: TxnRow[];
  /** Transactions outside the window that a reversal or a refund above refers to. */
  related: TxnRow[];
  /** Now, any age: open review items. */
  openReviews?: ReviewRow[];
}

export const DEFAULT_PENDING_MS = 3_600_000;
export const DEFAULT_TOP = 10;

/** Classes of a decline that is final: nothing was held and nobody needs to look. */
const DEFINITIVE = new Set(['insufficient_funds', 'declined', 'input_error']);
const EXCEPTION_STATES = new Set<JournalState>(['timed_out', 'undeliverable', 'reversed_by_terminal', 'recovered', 'not_sent']);

export type Outcome = 'approved' | 'declined' | 'exception' | 'in_flight' | 'terminal_reversal';

/** Where a transaction stands for the report (see the header for the definition of an exception). */
export function outcomeOf(t: TxnRow, now: number, pendingOlderThanMs = DEFAULT_PENDING_MS): Outcome {
  if (t.state === 'terminal_reversal') return 'terminal_reversal';
  const d = t.decision ?? '';
  if (d.startsWith('review') || d.startsWith('refund')) return 'exception';
  if (EXCEPTION_STATES.has(t.state)) return 'exception';
  if (t.state === 'forwarded') return now - t.createdAt >= pendingOlderThanMs ? 'exception' : 'in_flight';
  if (t.state === 'approved') return 'approved';
  return t.failureClass !== null && DEFINITIVE.has(t.failureClass) ? 'declined' : 'exception';
}

/** The original a terminal reversal's decision names: "... (original ID)". */
export function originalOf(t: TxnRow): string | null {
  if (t.state !== 'terminal_reversal' || t.decision === null) return null;
  return /\(original ([^()\s]+)\)$/.exec(t.decision)?.[1] ?? null;
}

// ---- building -------------------------------------------------------------------------------

function txnLine(t: TxnRow): TxnLine {
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

export function buildReport(input: ReportInput, opts: ReportOptions): Report {
  const now = opts.now;
  const pendingMs = opts.pendingOlderThanMs ?? DEFAULT_PENDING_MS;
  const top = opts.top ?? DEFAULT_TOP;
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
    .sort((a, b) => Number(b.exception) - Number(a.exception) || b.count - a.count || a.class.localeCompare(b.class));

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
  const ORDER = ['pending', 'sent', 'manual', 'acked', 'resolved', 'cancelled'];
  const rank = (s: string): number => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  const byState = (g: ReturnType<typeof grouped<string>>): StateLine[] => g.entries()
    .map(([state, s]) => ({ state, count: s.count, amounts: s.amounts() }))
    .sort((a, b) => rank(a.state) - rank(b.state) || a.state.localeCompare(b.state));
  const reversalsByState = byState(states);
  const refundsByState = byState(refundStates);

  const pending = {
    reversals: input.active
      .filter((r) => (r.state === 'pending' || r.state === 'sent') && now - r.enqueuedAt >= pendingMs)
      .map((r): PendingReversal => ({
        id: r.id, kind: r.kind ?? 'reversal', txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts, enqueuedAt: iso(r.enqueuedAt),
        ageMs: now - r.enqueuedAt, lastError: r.lastError,
      })),
    transactions: input.unfinished
      .filter((t) => t.state === 'forwarded' && now - t.createdAt >= pendingMs)
      .map((t): PendingTxn => ({
        id: t.id, terminal: t.terminal, stan: t.stan, rrn: t.rrn, amount: t.amount, currency: t.currency, createdAt: iso(t.createdAt),
        ageMs: now - t.createdAt,
      })),
  };

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
    .sort((a, b) => b.exceptions - a.exceptions || a.key.localeCompare(b.key))
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
    reversalsByState,
    refundsByState,
    pending,
    manual,
    reviews,
    topTerminals: topOf(terminals),
    topMerchants: topOf(merchants),
    refunds,
    velocityAlerts: velocity,
    openReviews: (input.openReviews ?? []).map((v) => ({
      id: v.id, txnId: v.txnId, proposed: v.proposed, amount: v.amount, openedAt: iso(v.createdAt), ageMs: now - v.createdAt, why: v.why,
    })),
  };
}

// ---- reading the store ----------------------------------------------------------------------

/** Called as each step starts: for a progress indicator. */
export type ProgressFn = (step: string) => void;

/** Reads what the report needs (a handful of indexed queries), then builds it. */
export async function gatherReport(store: Store, opts: ReportOptions, progress: ProgressFn = () => {}): Promise<Report> {
  progress('transactions');
  const txns = await store.txnsBetween(opts.since, opts.until);
  progress('reversals');
  const reversals = await store.reversalsBetween(opts.since, opts.until);
  progress('history');
  const history = await store.historyBetween(opts.since, opts.until);
  progress('pending and manual entries');
  const active = await store.reversals(['pending', 'sent']);
  const manual = await store.reversals(['manual']);
  const unfinished = await store.unfinishedTxns();
  const openReviews = await store.reviews(['open']);
  const ids = relatedIds({ txns, reversals, history, active, manual, unfinished });
  progress(`related transactions (${ids.length})`);
  const related: TxnRow[] = [];
  for (const id of ids) {
    const t = await store.txn(id);
    if (t !== undefined) related.push(t);
  }
  progress('building');
  return buildReport({ txns, reversals, history, active, manual, unfinished, related, openReviews }, opts);
}
