/**
 * The exception report as a store computes it (issue 16: the admin port must not stop
 * the switch). A report over a month of a busy switch is millions of rows: the store
 * aggregates them where they are (GROUP BY in SQL, in the database or SQLite's report
 * worker) and hands back counts and sums per group plus at most `limit` detail rows per
 * list, never a row's sealed message. reports/report.ts turns this into the Report.
 *
 * What counts as an exception is defined here, once, for the three stores: the SQL of
 * report-sqlite.ts and report-postgres.ts is outcomeCase() below, and the memory store
 * and the report's reference builder use outcomeOf().
 */
import type { JournalState, ReversalState, ReviewAction, UndoKind } from './states.js';

/** Where a transaction stands for the report. */
export type Outcome = 'approved' | 'declined' | 'exception' | 'in_flight' | 'terminal_reversal';

/** Classes of a decline that is final: nothing was held and nobody needs to look. */
export const DEFINITIVE_CLASSES: readonly string[] = ['insufficient_funds', 'declined', 'input_error'];
export const EXCEPTION_STATES: readonly JournalState[] = ['timed_out', 'undeliverable', 'reversed_by_terminal', 'recovered', 'not_sent'];

export interface OutcomeFields {
  state: JournalState;
  decision: string | null;
  failureClass: string | null;
  createdAt: number;
}

export function outcomeOf(t: OutcomeFields, now: number, pendingOlderThanMs: number): Outcome {
  if (t.state === 'terminal_reversal') return 'terminal_reversal';
  const d = t.decision ?? '';
  if (d.startsWith('review') || d.startsWith('refund')) return 'exception';
  if (EXCEPTION_STATES.includes(t.state)) return 'exception';
  if (t.state === 'forwarded') return now - t.createdAt >= pendingOlderThanMs ? 'exception' : 'in_flight';
  if (t.state === 'approved') return 'approved';
  return t.failureClass !== null && DEFINITIVE_CLASSES.includes(t.failureClass) ? 'declined' : 'exception';
}

const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ');

/** outcomeOf() as SQL over a txns row aliased `t`; `now` and `pendingMs` are parameter placeholders. */
export function outcomeCase(now: string, pendingMs: string): string {
  return `CASE
    WHEN t.state = 'terminal_reversal' THEN 'terminal_reversal'
    WHEN substr(coalesce(t.decision, ''), 1, 6) IN ('review', 'refund') THEN 'exception'
    WHEN t.state IN (${list(EXCEPTION_STATES)}) THEN 'exception'
    WHEN t.state = 'forwarded' THEN CASE WHEN ${now} - t.created_at >= ${pendingMs} THEN 'exception' ELSE 'in_flight' END
    WHEN t.state = 'approved' THEN 'approved'
    WHEN t.failure_class IN (${list(DEFINITIVE_CLASSES)}) THEN 'declined'
    ELSE 'exception' END`;
}

/** The original a terminal reversal's decision names: "... (original ID)". */
export function originalOf(state: string, decision: string | null): string | null {
  if (state !== 'terminal_reversal' || decision === null) return null;
  return /\(original ([^()\s]+)\)$/.exec(decision)?.[1] ?? null;
}

/**
 * How keys of equal rank are ordered (top terminals and merchants, velocity alerts): by
 * UTF-16 code unit, which is what SQLite's BINARY and PostgreSQL's "C" collation give for
 * the text the switch stores, so every store cuts a top list at the same key.
 */
export function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Velocity alert scopes in the order the report lists them; any other scope sorts first. */
export const SCOPE_ORDER: readonly string[] = ['terminal', 'merchant', 'card'];

export interface ReportQuery {
  /** The window [since, until), epoch ms. */
  since: number;
  until: number;
  /** The report's "now": ages, and whether a forwarded transaction is still in flight. */
  now: number;
  pendingOlderThanMs: number;
  /** How many terminals and merchants. */
  top: number;
  /** At most this many rows in each detail list. */
  limit: number;
}

/** A count and an exact sum of F4 minor units (a decimal string) in one currency ('' for none). */
export interface ReportSum {
  currency: string;
  count: number;
  minor: string;
}

/** A journal row as the report shows it: no card data beyond what a line needs, never the sealed message. */
export interface ReportTxn {
  id: string;
  createdAt: number;
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
  businessDate: string | null;
}

/** A queue row as the report shows it: never its sealed original or message. */
export interface ReportUndo {
  id: string;
  kind: UndoKind;
  txnId: string | null;
  upstream: string;
  state: ReversalState;
  attempts: number;
  reason: string;
  enqueuedAt: number;
  lastError: string | null;
}

/** A manual entry with its transaction's terminal and RRN; amount is a refund's own, else its transaction's F4. */
export interface ReportManual extends ReportUndo {
  terminal: string | null;
  rrn: string | null;
  amount: string | null;
  currency: string | null;
}

export interface ReportReview {
  id: string;
  txnId: string;
  proposed: ReviewAction;
  amount: string | null;
  createdAt: number;
  why: string;
}

/** A transaction whose refund decision was written in the window: the last such decision, and when. */
export interface ReportRefund extends ReportTxn {
  decidedAt: number;
  refundDecision: string;
}

export interface ReportVelocity {
  scope: string;
  key: string;
  alerts: number;
  /** The latest alert, epoch ms. */
  last: number;
}

export interface ReportTop {
  key: string;
  exceptions: number;
  amounts: ReportSum[];
}

/** The first `limit` rows of a list, and how many it has in all. */
export interface ReportList<T> {
  rows: T[];
  total: number;
}

export interface ReportData {
  /** Transactions created in the window per outcome, class (failure class, else state) and currency. */
  outcomes: (ReportSum & { outcome: Outcome; cls: string })[];
  /**
   * Queue rows enqueued in the window per kind, state now and currency (their
   * transaction's): what a reversal gives back (its transaction's F4 less F95's final
   * amount, at least 0), what a refund credits (its own amount, else its transaction's F4).
   */
  undos: (ReportSum & { kind: UndoKind; state: string })[];
  /** Exceptions per terminal (merchant), most first, ties by byKey; '(none)' for none. */
  topTerminals: ReportTop[];
  topMerchants: ReportTop[];
  /** The window's transactions (not terminal reversals) whose decision is review, oldest first. */
  reviews: ReportList<ReportTxn>;
  /** Now: pending or sent for at least pendingOlderThanMs, oldest first. */
  pendingReversals: ReportList<ReportUndo>;
  /** Now: still forwarded after pendingOlderThanMs, oldest first. */
  pendingTxns: ReportList<ReportTxn>;
  /** Now: every manual entry, oldest first. */
  manual: ReportList<ReportManual>;
  /** Now: open review items, oldest first. */
  openReviews: ReportList<ReportReview>;
  /**
   * Refund decisions written in the window, by when (then by the first such decision's
   * order); a terminal's reversal only when its original is neither decided in the window
   * nor in the store (the original stands for both).
   */
  refunds: ReportList<ReportRefund>;
  /** Velocity alerts written in the window per scope and key: most first, then SCOPE_ORDER, then byKey. */
  velocity: ReportList<ReportVelocity>;
}
