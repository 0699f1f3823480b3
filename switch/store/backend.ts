/**
 * What a database must do under the group-commit queue (./group-commit.ts): run a batch
 * of operations as one transaction and answer reads. The queue, ordering, flush and
 * statistics live above this seam, once, for every store; a backend only executes.
 */
import type { HistoryRow, ReversalRow, ReversalState, StoreOp, TxnRow, TxnUpdate } from './types.js';

/** A read, as a message (it crosses a worker boundary for SQLite). */
export type StoreRead =
  | { read: 'txn'; id: string }
  | { read: 'recentTxns'; since: number }
  | { read: 'unfinishedTxns' }
  | { read: 'reversal'; id: string }
  | { read: 'reversals'; states?: readonly ReversalState[] }
  | { read: 'history'; ref: string };

export interface ReadResults {
  txn: TxnRow | undefined;
  recentTxns: TxnRow[];
  unfinishedTxns: TxnRow[];
  reversal: ReversalRow | undefined;
  reversals: ReversalRow[];
  history: HistoryRow[];
}

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
  return compact({ responseCode: u.responseCode, failureClass: u.failureClass, decision: u.decision, reversalId: u.reversalId, note: u.note });
}

/** The history detail of a new reversal. */
export function insertReversalDetail(row: ReversalRow): string | null {
  return compact({ txnId: row.txnId ?? undefined, reason: row.reason, partial: row.finalAmount !== null ? true : undefined, explanation: row.explanation });
}
