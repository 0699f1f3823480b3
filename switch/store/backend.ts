/**
 * What a database must do under the group-commit queue (./group-commit.ts): run a batch
 * of operations as one transaction and answer reads. The queue, ordering, flush and
 * statistics live above this seam, once, for every store; a backend only executes.
 */
import type {
  ForgetNodeOutcome, HistoryRow, NodeRow, UpstreamBacklog, ReversalRow, ReversalState, ReviewDecision, ReviewRow, ReviewState, SealedTable, SealedValue, StoreOp, PurgeBatch, PruneSummary, RetentionPlan, TxnQuery, TxnRow, TxnUpdate,
} from './types.js';
import type { ReportData, ReportQuery } from './report-query.js';
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';

/** A read, as a message (it crosses a worker boundary for SQLite). */
export type StoreRead =
  | { read: 'txn'; id: string }
  | { read: 'recentTxns'; since: number; limit?: number }
  | { read: 'unfinishedTxns' }
  | { read: 'reversal'; id: string }
  | { read: 'reversals'; states?: readonly ReversalState[] }
  | { read: 'history'; ref: string }
  | { read: 'txnsBetween'; since: number; until: number }
  | { read: 'findTxns'; q: TxnQuery }
  | { read: 'reversalsBetween'; since: number; until: number }
  | { read: 'historyBetween'; since: number; until: number }
  // Cluster operations: they write, but run like reads (at once, one atomic statement each).
  | { read: 'heartbeat'; node: string; at: number; info: string | null }
  | { read: 'nodes' }
  | { read: 'claimReversals'; node: string; now: number; leaseMs: number; limit: number; includeOwn: boolean }
  | { read: 'renewLeases'; node: string; until: number }
  | { read: 'releaseLeases'; node: string; ids: string[] }
  | { read: 'claimOrphanTxns'; node: string; staleBefore: number; at: number }
  | { read: 'forgetNode'; node: string }
  // Operators' repairs of the undo queue: one atomic statement (or transaction) each.
  | { read: 'retryManual'; id: string; note: string; at: number }
  | { read: 'undoBacklog' }
  | { read: 'reassignUpstream'; from: string; to: string; note: string; at: number }
  // The review queue: one atomic statement each, with its history row.
  | { read: 'insertReview'; row: ReviewRow }
  | { read: 'review'; id: string }
  | { read: 'reviews'; states?: readonly ReviewState[] }
  | { read: 'decideReview'; d: ReviewDecision }
  | { read: 'reviewQueued'; id: string; undoId: string; at: number }
  | { read: 'sealedPage'; table: SealedTable; after: string; limit: number }
  | { read: 'reseal'; v: SealedValue; to: string }
  | { read: 'checkpoint' }
  | { read: 'retentionPlan'; sealedBefore: number; evidenceBefore: number }
  | { read: 'eraseSealed'; before: number; at: number; limit: number; detail: string }
  | { read: 'purgeCandidates'; before: number; limit: number }
  | { read: 'purge'; batch: PurgeBatch; summary: PruneSummary }
  | { read: 'pruned' }
  | { read: 'report'; q: ReportQuery }
  // Reconciliation (switch/recon/): off the hot path.
  | { read: 'reconJournal'; q: ReconJournalQuery }
  | { read: 'reconRefunds'; since: number; until: number }
  | { read: 'insertReconRun'; row: ReconRunRow }
  | { read: 'reconRuns' };

export interface ReadResults {
  txn: TxnRow | undefined;
  recentTxns: TxnRow[];
  unfinishedTxns: TxnRow[];
  reversal: ReversalRow | undefined;
  reversals: ReversalRow[];
  history: HistoryRow[];
  txnsBetween: TxnRow[];
  findTxns: TxnRow[];
  reversalsBetween: ReversalRow[];
  historyBetween: HistoryRow[];
  heartbeat: null;
  nodes: NodeRow[];
  claimReversals: ReversalRow[];
  renewLeases: number;
  releaseLeases: number;
  claimOrphanTxns: TxnRow[];
  forgetNode: ForgetNodeOutcome;
  retryManual: boolean;
  undoBacklog: UpstreamBacklog[];
  reassignUpstream: number;
  insertReview: boolean;
  review: ReviewRow | undefined;
  reviews: ReviewRow[];
  decideReview: boolean;
  reviewQueued: boolean;
  sealedPage: SealedValue[];
  reseal: boolean;
  checkpoint: null;
  retentionPlan: RetentionPlan;
  eraseSealed: number;
  purgeCandidates: PurgeBatch;
  purge: null;
  pruned: PruneSummary[];
  report: ReportData;
  reconJournal: ReconJournalRow[];
  reconRefunds: ReconRefundRow[];
  insertReconRun: boolean;
  reconRuns: ReconRunRow[];
}

/** The history details of the review queue: what was proposed, what a person decided. */
export const reviewDetail = {
  inserted: (r: ReviewRow): string => JSON.stringify({ txnId: r.txnId, proposed: r.proposed, amount: r.amount ?? undefined, why: r.why }),
  decided: (d: ReviewDecision): string => JSON.stringify({ by: d.by, note: d.note, action: d.action }),
  queued: (undoId: string): string => JSON.stringify({ undoId }),
};

/** The history details of the operators' repairs of the undo queue. */
export const repairDetail = {
  retried: (note: string): string => JSON.stringify({ retry: true, note }),
  reassigned: (from: string, to: string, note: string): string => JSON.stringify({ upstream: to, from, note }),
};

/** The history note of a transaction another node took over. */
export const orphanNote = (from: string): string => JSON.stringify({ note: `taken over from node ${from}: its heartbeat stopped` });

/**
 * One operation's outcome inside a committed batch. `value` is the boolean of
 * insertReversal / updateReversal (true for the others). A failed operation changed
 * nothing (the backend guarantees it); the rest of its batch committed.
 */
export type OpResult = { ok: true; value: boolean } | { ok: false; error: string };

export interface BatchOutcome {
  /** One per operation, in order. */
  results: OpResult[];
  /** From BEGIN to COMMIT returning, ms. */
  commitMs: number;
}

export interface StoreBackend {
  open(): Promise<void>;
  /** Runs the batch as one transaction. Rejects when the batch as a whole did not commit. */
  runBatch(ops: StoreOp[]): Promise<BatchOutcome>;
  read(r: StoreRead): Promise<unknown>;
  close(): Promise<void>;
}

/** The fields of a TxnQuery that were given, as [column-ish name, value] pairs, in a fixed order. */
export function txnQueryFields(q: TxnQuery): [keyof TxnQuery, string][] {
  const out: [keyof TxnQuery, string][] = [];
  for (const k of ['rrn', 'terminal', 'stan', 'businessDate'] as const) {
    const v = q[k];
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

/** Names an operation in an error: "insertTxn t-42". */
export function describeOp(op: StoreOp): string {
  switch (op.op) {
    case 'insertTxn':
    case 'insertReversal':
      return `${op.op} ${op.row.id}`;
    case 'updateTxn':
    case 'updateReversal':
      return `${op.op} ${op.update.id}`;
  }
}

function compact(o: Record<string, unknown>): string | null {
  const out: Record<string, unknown> = {};
  let some = false;
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] = v;
    some = true;
  }
  return some ? JSON.stringify(out) : null;
}

/** The history detail of a new transaction: what it already knows besides its state. */
export function insertTxnDetail(row: TxnRow): string | null {
  return compact({
    responseCode: row.responseCode ?? undefined,
    failureClass: row.failureClass ?? undefined,
    decision: row.decision ?? undefined,
    reversalId: row.reversalId ?? undefined,
  });
}

/** The history detail of a transaction update: the fields it set (null included) and its note. */
export function updateTxnDetail(u: TxnUpdate): string | null {
  return compact({
    responseCode: u.responseCode, approvalCode: u.approvalCode, approvedAmount: u.approvedAmount, failureClass: u.failureClass, decision: u.decision, reversalId: u.reversalId, note: u.note,
  });
}

/** The history detail of a new reversal. */
export function insertReversalDetail(row: ReversalRow): string | null {
  return compact({
    kind: row.kind === 'refund' ? 'refund' : undefined, amount: row.amount ?? undefined, txnId: row.txnId ?? undefined, reason: row.reason,
    partial: row.finalAmount !== null ? true : undefined, explanation: row.explanation,
  });
}
