/**
 * The exception report's types: the report object (what `--format json` and
 * GET /api/report give), its options, and the rows the reference builder takes
 * (build-report.ts). See report.ts for what counts.
 */
import type { HistoryRow, ReversalRow, ReviewRow, TxnRow } from '../store/types.js';
import type { ReportTxn } from '../store/report-query.js';
import type { Amount } from './sums.js';
import type { VelocityAlertLine } from './velocity-alerts.js';

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

/** A journal row as a report line: the store's ReportTxn, its time as ISO 8601. */
export interface TxnLine extends Omit<ReportTxn, 'createdAt' | 'businessDate'> {
  createdAt: string;
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
  /** The most entries a list above holds (pending, manual, reviews, openReviews, refunds, velocityAlerts). */
  limit: number;
  /** Whether any of those lists was cut at `limit`: totalRows says how many each has in all. */
  truncated: boolean;
  totalRows: ReportRowTotals;
}

/** How many entries each list of the report has in all, shown or not. */
export interface ReportRowTotals {
  pendingReversals: number;
  pendingTransactions: number;
  manual: number;
  reviews: number;
  openReviews: number;
  refunds: number;
  velocityAlerts: number;
}

// ---- inputs --------------------------------------------------------------------------------

export interface ReportOptions {
  since: number;
  until: number;
  /** The report's "now" (ages of pending and manual entries). */
  now: number;
  /** Default one hour. */
  pendingOlderThanMs?: number;
  /** How many terminals and merchants. Default 10, at most MAX_TOP. */
  top?: number;
  /** The most entries in each list. Default DEFAULT_LIMIT, at most MAX_LIMIT. */
  limit?: number;
  /** The longest window, in days. Default DEFAULT_MAX_DAYS (config admin.reportMaxDays). */
  maxDays?: number;
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
export const MAX_TOP = 1000;
/** Enough for a morning check; a long list is a reason to look at the store, not to page through JSON. */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;
/** A month: the issue 16 measurement (1.2 M rows) is what a window must never pull at once again. */
export const DEFAULT_MAX_DAYS = 31;
