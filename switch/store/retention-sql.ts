/**
 * The SQL of retention (./maintenance.ts), for SQLite and PostgreSQL:
 *
 * - which sealed messages can be erased (their transaction done: final state, no reversal
 *   or refund still pending, sent or manual, no review open), erased a batch at a time with
 *   a history row each;
 * - which rows are past the evidence period (the same test, and the reversal or review
 *   itself final), read as text for the run's digest, then deleted by id together with the
 *   signed summary, inside a maintenance window (the only way past history's DELETE
 *   trigger).
 *
 * Statements take `?` placeholders; pg() numbers them for PostgreSQL.
 */
import type { PruneSummary, PurgeBatch, RetentionPlan } from './types.js';

const DONE_TXN = `t.state NOT IN ('forwarded', 'recovered')
  AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.txn_id = t.id AND r.state IN ('pending', 'sent', 'manual'))
  AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.txn_id = t.id AND v.state = 'open')`;
const DONE_REVERSAL = `r.state IN ('acked', 'cancelled', 'resolved')`;

export const RETENTION_SQL = {
  planSealedTxns: `SELECT count(*) AS n FROM txns t WHERE t.sealed IS NOT NULL AND t.created_at < ? AND ${DONE_TXN}`,
  planSealedReversals: `SELECT count(*) AS n FROM reversals r WHERE (r.original <> '' OR r.message IS NOT NULL) AND r.enqueued_at < ? AND ${DONE_REVERSAL}`,
  planTxns: `SELECT count(*) AS n FROM txns t WHERE t.created_at < ? AND ${DONE_TXN}`,
  planReversals: `SELECT count(*) AS n FROM reversals r WHERE r.enqueued_at < ? AND ${DONE_REVERSAL}`,
  planReviews: `SELECT count(*) AS n FROM reviews v WHERE v.created_at < ? AND v.state <> 'open'`,
  // History of rows already gone (or never kept), older than the cut-off.
  planHistory: `SELECT count(*) AS n FROM history h WHERE h.at < ?
    AND NOT EXISTS (SELECT 1 FROM txns t WHERE t.id = h.ref) AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.id = h.ref)
    AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.id = h.ref)`,

  sealedTxnIds: `SELECT t.id FROM txns t WHERE t.sealed IS NOT NULL AND t.created_at < ? AND ${DONE_TXN} ORDER BY t.created_at LIMIT ?`,
  sealedReversalIds: `SELECT r.id FROM reversals r WHERE (r.original <> '' OR r.message IS NOT NULL) AND r.enqueued_at < ? AND ${DONE_REVERSAL}
    ORDER BY r.enqueued_at LIMIT ?`,
  eraseTxn: `UPDATE txns SET sealed = NULL WHERE id = ? AND sealed IS NOT NULL`,
  eraseReversal: `UPDATE reversals SET original = '', message = NULL WHERE id = ? AND (original <> '' OR message IS NOT NULL)`,
  history: 'INSERT INTO history (at, kind, ref, state, detail) VALUES (?, ?, ?, ?, ?)',

  purgeTxnIds: `SELECT t.id FROM txns t WHERE t.created_at < ? AND ${DONE_TXN} ORDER BY t.created_at LIMIT ?`,
  purgeReversalIds: `SELECT r.id FROM reversals r WHERE r.enqueued_at < ? AND ${DONE_REVERSAL} ORDER BY r.enqueued_at LIMIT ?`,
  purgeReviewIds: `SELECT v.id FROM reviews v WHERE v.created_at < ? AND v.state <> 'open' ORDER BY v.created_at LIMIT ?`,
  purgeHistorySeqs: `SELECT h.seq FROM history h WHERE h.at < ?
    AND NOT EXISTS (SELECT 1 FROM txns t WHERE t.id = h.ref) AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.id = h.ref)
    AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.id = h.ref) ORDER BY h.seq LIMIT ?`,
  openWindow: 'INSERT INTO maintenance_window (run, started_at) VALUES (?, ?)',
  closeWindow: 'DELETE FROM maintenance_window WHERE run = ?',
  deleteTxnKeys: 'DELETE FROM txn_keys WHERE created_at < ?',
  summary: `INSERT INTO pruned (run, at, before_ms, txns, reversals, reviews, history, first_seq, last_seq, digest, signature, key_check)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  summaries: `SELECT run, at, before_ms AS "beforeMs", txns, reversals, reviews, history, first_seq AS "firstSeq", last_seq AS "lastSeq",
    digest, signature, key_check AS "keyCheck" FROM pruned ORDER BY at, run`,
} as const;

/** Rows as text for the digest: one table's rows by id (or seq), every column. */
export const ROW_TEXT: Record<keyof Omit<PurgeBatch, 'before'>, { table: string; key: string }> = {
  txns: { table: 'txns', key: 'id' },
  reversals: { table: 'reversals', key: 'id' },
  reviews: { table: 'reviews', key: 'id' },
  history: { table: 'history', key: 'seq' },
};

/** `?` placeholders numbered $1, $2... for PostgreSQL. */
export function pg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export const HISTORY_KIND = 'retention';
export const ERASED_STATE = 'sealed_erased';

export function emptyPlan(): RetentionPlan {
  return { sealedTxns: 0, sealedReversals: 0, txns: 0, reversals: 0, reviews: 0, history: 0 };
}

export type { PruneSummary };
