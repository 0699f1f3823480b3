/**
 * What reconciliation (switch/recon/) reads from the store and records there: the
 * journal's side of one business date, a page at a time (keyset by id, on the
 * (business_date, id) index of migration 10), the refunds acknowledged around it, and the
 * runs themselves. Rows are narrow on purpose: a business day can hold millions.
 */
import type { JournalState, ReversalState } from './states.js';

export interface ReconJournalQuery {
  /** YYYY-MM-DD, the business date the switch assigned. */
  businessDate: string;
  /** Only transactions sent to this upstream; null: all. */
  upstream: string | null;
  /** Ids after this one ('' for the first page). */
  after: string;
  limit: number;
}

/** A financial transaction (MTI x2xx) of the business date, with its reversal if any. */
export interface ReconJournalRow {
  id: string;
  mti: string;
  state: JournalState;
  rrn: string | null;
  terminal: string | null;
  upstream: string | null;
  /** F11 as the upstream received it (the switch's own STAN on the link). */
  upstreamStan: string | null;
  /** F7 as the upstream received it (the terminal's, or the one the switch supplied). */
  f7: string | null;
  /** F4 asked, n12. */
  amount: string | null;
  /** F4 of a partial approval, n12; null when approved as asked. */
  approvedAmount: string | null;
  currency: string | null;
  createdAt: number;
  /** Its reversal (kind reversal; the acked one when there are several). */
  reversalId: string | null;
  reversalState: ReversalState | null;
  /** F95 final amount of a partial reversal, n12. */
  reversalFinal: string | null;
}

/** A refund of the queue, with its original's keys (what a settlement file names it by). */
export interface ReconRefundRow {
  id: string;
  txnId: string | null;
  state: ReversalState;
  /** What it credits, n12. */
  amount: string | null;
  /** Why it was queued (a reconciliation's refund names its run). */
  explanation: string;
  enqueuedAt: number;
  /** When it last changed: for an acked refund, when it was acknowledged. */
  updatedAt: number;
  upstream: string;
  rrn: string | null;
  terminal: string | null;
  upstreamStan: string | null;
  f7: string | null;
  currency: string | null;
}

/** One `revswitch reconcile --apply` run, kept for ever. */
export interface ReconRunRow {
  id: string;
  at: number;
  /** The settlement file as given (its base name). */
  file: string;
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  businessDate: string;
  upstream: string | null;
  format: string;
  records: number;
  /** JSON: the counts and amounts per class and currency. */
  counts: string;
  /** Refunds and review items this run queued (0 on a repeat of the same file). */
  refundsQueued: number;
  reviewsQueued: number;
  by: string;
}
