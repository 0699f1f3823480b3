/**
 * Reconciliation's statements, one text for SQLite and PostgreSQL (`?` placeholders,
 * numbered for PostgreSQL by ./retention-sql.ts's pg()). Aliases are quoted so both
 * return the camelCase names of ./recon-rows.ts.
 */
import type { ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';
import { sealedField } from './sealed.js';

/**
 * A business date's financial transactions (MTI x2xx: a settlement file never carries an
 * authorization) with their reversal (the acknowledged one when there are several), in
 * the columns of ReconJournalRow. The sealed message is read only when the journal has
 * no F7 (the switch supplied it upstream). Parameters: the date, the upstream twice (null:
 * all). `schema` prefixes the tables ("j." for an attached database).
 */
export function journalSelect(schema = ''): string {
  return `SELECT t.id, t.mti, t.state, t.rrn, t.terminal, t.upstream, t.upstream_stan AS "upstreamStan", t.f7,
      CASE WHEN t.f7 IS NULL THEN t.sealed END AS sealed, t.amount, t.approved_amount AS "approvedAmount", t.currency,
      t.created_at AS "createdAt", r.id AS "reversalId", r.state AS "reversalState", r.final_amount AS "reversalFinal"
    FROM ${schema}txns t LEFT JOIN ${schema}reversals r ON r.id = (SELECT v.id FROM ${schema}reversals v WHERE v.txn_id = t.id AND v.kind = 'reversal'
      ORDER BY CASE WHEN v.state = 'acked' THEN 0 ELSE 1 END, v.enqueued_at LIMIT 1)
    WHERE t.business_date = ? AND (CAST(? AS TEXT) IS NULL OR t.upstream = ?) AND substr(t.mti, 2, 1) = '2'`;
}

export const RECON_SQL = {
  /** One page of journalSelect by id, on the (business_date, id) index: date, upstream, upstream, after, limit. */
  journalPage: `${journalSelect()} AND t.id > ? ORDER BY t.id LIMIT ?`,
  /** Refunds enqueued in a window, with their original's keys. */
  refunds: `SELECT r.id, r.txn_id AS "txnId", r.state, r.amount, r.explanation, r.enqueued_at AS "enqueuedAt", r.updated_at AS "updatedAt", r.upstream,
      t.rrn, t.terminal, t.upstream_stan AS "upstreamStan", t.f7, CASE WHEN t.f7 IS NULL THEN t.sealed END AS sealed, t.currency
    FROM reversals r LEFT JOIN txns t ON t.id = r.txn_id
    WHERE r.kind = 'refund' AND r.enqueued_at >= ? AND r.enqueued_at < ? ORDER BY r.enqueued_at, r.id`,
  insertRun: `INSERT INTO recon_runs (id, at, file, sha256, business_date, upstream, format, records, counts, refunds_queued, reviews_queued, run_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  runs: `SELECT id, at, file, sha256, business_date AS "businessDate", upstream, format, records, counts, refunds_queued AS "refundsQueued",
      reviews_queued AS "reviewsQueued", run_by AS "by" FROM recon_runs ORDER BY at, id`,
} as const;

export function runValues(r: ReconRunRow): unknown[] {
  return [r.id, r.at, r.file, r.sha256, r.businessDate, r.upstream, r.format, r.records, r.counts, r.refundsQueued, r.reviewsQueued, r.by];
}

type WithSealed<T> = T & { sealed?: string | null };

/** F7 as it went upstream: the journal's, else the sealed message's (no key needed). */
function upstreamF7(f7: string | null, sealed: string | null | undefined): string | null {
  if (f7 !== null) return f7;
  if (sealed === null || sealed === undefined) return null;
  try {
    return sealedField(sealed, 7) ?? null;
  } catch {
    return null;
  }
}

export function journalRow(raw: WithSealed<ReconJournalRow>): ReconJournalRow {
  const { sealed, ...row } = raw;
  row.f7 = upstreamF7(row.f7, sealed);
  return row;
}

export function refundRow(raw: WithSealed<ReconRefundRow>): ReconRefundRow {
  const { sealed, ...row } = raw;
  row.f7 = upstreamF7(row.f7, sealed);
  return row;
}
