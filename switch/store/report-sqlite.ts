/**
 * The report's aggregates (./report-query.ts) in SQLite: GROUP BY and LIMIT in SQL, so
 * what leaves the database is a few hundred rows whatever the window holds. Every
 * statement runs in one read transaction (one WAL snapshot: the sections agree with each
 * other while the switch goes on writing). The switch runs this in a worker of its own
 * on a connection of its own (./sqlite-report.ts): never on the event loop, and never
 * in the journal's worker, whose group commits would wait behind it.
 *
 * No statement names txns.sealed, reversals.original or reversals.message
 * (test/report-bounded checks the text and the behaviour).
 *
 * Sums: F4 is n12, so an amount fits in 40 bits; a column sum could pass int64 (SQLite
 * then fails with "integer overflow") after ~9 million maximal amounts, so each group
 * sums the millions and the rest apart, and the two are joined exactly as bigint here.
 */
import type Database from 'better-sqlite3';
import { velocityScopesOf } from './history-notes.js';
import {
  originalOf, outcomeCase, type ReportData, type ReportList, type ReportManual, type ReportQuery, type ReportRefund, type ReportReview, type ReportSum,
  type ReportTop, type ReportTxn, type ReportUndo, type ReportVelocity,
} from './report-query.js';

/** F4 (or any n12 text) as an integer; 0 when it is not 1 to 12 digits, as parseAmount says. */
const minor = (x: string): string =>
  `(CASE WHEN ${x} GLOB '[0-9]*' AND ${x} NOT GLOB '*[^0-9]*' AND length(${x}) <= 12 THEN CAST(${x} AS INTEGER) ELSE 0 END)`;

const SUMS = 'count(*) AS count, sum(m / 1000000) AS hi, sum(m % 1000000) AS lo';
const WINDOW = 't.created_at >= @since AND t.created_at < @until';
const OUTCOME = outcomeCase('@now', '@pendingMs');
const TXN = `t.id, t.created_at AS createdAt, t.terminal, t.merchant, t.rrn, t.stan, t.amount, t.currency, t.state, t.response_code AS responseCode,
  t.failure_class AS failureClass, t.decision, t.business_date AS businessDate`;
const UNDO = `r.id, r.kind, r.txn_id AS txnId, r.upstream, r.state, r.attempts, r.reason, r.enqueued_at AS enqueuedAt, r.last_error AS lastError`;
const PENDING_REVERSALS = `FROM reversals r WHERE r.state IN ('pending', 'sent') AND r.enqueued_at <= @now - @pendingMs`;
const PENDING_TXNS = `FROM txns t WHERE t.state = 'forwarded' AND t.created_at <= @now - @pendingMs`;
const REVIEWS = `FROM txns t WHERE ${WINDOW} AND t.state <> 'terminal_reversal' AND substr(coalesce(t.decision, ''), 1, 6) = 'review'`;

/** A string field of a JSON history detail, read only from rows the cheap LIKE lets through. */
const jsonText = (name: string, like: string): string =>
  `h.detail LIKE '${like}' AND json_valid(h.detail) AND json_type(h.detail, '$.${name}') = 'text'`;

/** Exceptions per key: the top keys first (most exceptions, then the key in BINARY order), then their sums. */
const topKeys = (col: string): string => `SELECT coalesce(t.${col}, '(none)') AS key, count(*) AS exceptions FROM txns t
  WHERE ${WINDOW} AND (${OUTCOME}) = 'exception' GROUP BY key ORDER BY exceptions DESC, key LIMIT @top`;
const topSums = (col: string): string => `SELECT key, currency, ${SUMS} FROM (SELECT coalesce(t.${col}, '(none)') AS key, coalesce(t.currency, '') AS currency,
  ${minor('t.amount')} AS m FROM txns t WHERE ${WINDOW} AND (${OUTCOME}) = 'exception'
  AND coalesce(t.${col}, '(none)') IN (SELECT value FROM json_each(@keys))) GROUP BY key, currency ORDER BY currency`;

/** The statements, by name: exported so a test can read every one of them. */
export const SQLITE_REPORT_SQL = {
  outcomes: `SELECT outcome, cls, currency, ${SUMS} FROM (SELECT ${OUTCOME} AS outcome, coalesce(t.failure_class, t.state) AS cls,
    coalesce(t.currency, '') AS currency, ${minor('t.amount')} AS m FROM txns t WHERE ${WINDOW}) GROUP BY outcome, cls, currency`,
  undos: `SELECT kind, state, currency, ${SUMS} FROM (SELECT CASE WHEN r.kind = 'refund' THEN 'refund' ELSE 'reversal' END AS kind, r.state,
    coalesce(t.currency, '') AS currency,
    CASE WHEN r.kind = 'refund' THEN ${minor('coalesce(r.amount, t.amount)')} ELSE max(0, ${minor('t.amount')} - ${minor('r.final_amount')}) END AS m
    FROM reversals r LEFT JOIN txns t ON t.id = r.txn_id WHERE r.enqueued_at >= @since AND r.enqueued_at < @until) GROUP BY kind, state, currency`,
  topTerminalKeys: topKeys('terminal'),
  topTerminalSums: topSums('terminal'),
  topMerchantKeys: topKeys('merchant'),
  topMerchantSums: topSums('merchant'),
  reviews: `SELECT ${TXN} ${REVIEWS} ORDER BY t.created_at, t.rowid LIMIT @limit`,
  reviewsTotal: `SELECT count(*) ${REVIEWS}`,
  pendingReversals: `SELECT ${UNDO} ${PENDING_REVERSALS} ORDER BY r.enqueued_at, r.rowid LIMIT @limit`,
  pendingReversalsTotal: `SELECT count(*) ${PENDING_REVERSALS}`,
  pendingTxns: `SELECT ${TXN} ${PENDING_TXNS} ORDER BY t.created_at, t.rowid LIMIT @limit`,
  pendingTxnsTotal: `SELECT count(*) ${PENDING_TXNS}`,
  manual: `SELECT ${UNDO}, t.terminal, t.rrn, CASE WHEN r.kind = 'refund' THEN r.amount ELSE t.amount END AS amount, t.currency
    FROM reversals r LEFT JOIN txns t ON t.id = r.txn_id WHERE r.state = 'manual' ORDER BY r.enqueued_at, r.rowid LIMIT @limit`,
  manualTotal: `SELECT count(*) FROM reversals r WHERE r.state = 'manual'`,
  openReviews: `SELECT id, txn_id AS txnId, proposed, amount, created_at AS createdAt, why FROM reviews WHERE state = 'open'
    ORDER BY created_at, rowid LIMIT @limit`,
  openReviewsTotal: `SELECT count(*) FROM reviews WHERE state = 'open'`,
  // The last refund decision of each transaction (a map keyed by the first one's order).
  refunds: `WITH d AS (SELECT h.seq, h.at, h.ref, json_extract(h.detail, '$.decision') AS decision FROM history h
      WHERE h.at >= @since AND h.at < @until AND h.kind = 'txn' AND ${jsonText('decision', '%"decision"%refund%')}),
    f AS (SELECT ref, min(seq) AS first, max(seq) AS last FROM d WHERE substr(decision, 1, 6) = 'refund' GROUP BY ref),
    x AS (SELECT f.first, d.at AS decidedAt, d.decision AS refundDecision, revswitch_original(t.state, t.decision) AS orig, ${TXN}
      FROM f JOIN d ON d.seq = f.last JOIN txns t ON t.id = f.ref)
    SELECT *, count(*) OVER () AS total FROM x
    WHERE orig IS NULL OR (orig NOT IN (SELECT ref FROM f) AND NOT EXISTS (SELECT 1 FROM txns o WHERE o.id = x.orig))
    ORDER BY decidedAt, first LIMIT @limit`,
  velocity: `WITH a AS (SELECT h.at, h.ref, revswitch_scopes(json_extract(h.detail, '$.note')) AS scopes FROM history h
      WHERE h.at >= @since AND h.at < @until AND h.kind = 'txn' AND ${jsonText('note', '%"note"%velocity alert (%')}),
    l AS (SELECT j.value AS scope, a.at, CASE j.value WHEN 'terminal' THEN t.terminal WHEN 'merchant' THEN t.merchant ELSE t.pan_masked END AS k
      FROM a JOIN json_each(a.scopes) j LEFT JOIN txns t ON t.id = a.ref WHERE a.scopes IS NOT NULL)
    SELECT scope, coalesce(k, '(none)') AS key, count(*) AS alerts, max(at) AS last, count(*) OVER () AS total FROM l GROUP BY scope, key
    ORDER BY alerts DESC, CASE scope WHEN 'terminal' THEN 0 WHEN 'merchant' THEN 1 WHEN 'card' THEN 2 ELSE -1 END, key LIMIT @limit`,
} as const;

/** JS the SQL above calls, for what SQLite's functions cannot say exactly (the same code the memory store runs). */
const functions = new WeakSet<Database.Database>();
function register(db: Database.Database): void {
  if (functions.has(db)) return;
  db.function('revswitch_original', { deterministic: true }, (state: unknown, decision: unknown) =>
    originalOf(String(state), typeof decision === 'string' ? decision : null));
  db.function('revswitch_scopes', { deterministic: true }, (note: unknown) => {
    const scopes = typeof note === 'string' ? velocityScopesOf(note) : null;
    return scopes === null ? null : JSON.stringify(scopes.filter((s) => s !== ''));
  });
  functions.add(db);
}

interface SumRow { currency: string; count: number; hi: number | null; lo: number | null }
const sum = (r: SumRow): ReportSum => ({ currency: r.currency, count: r.count, minor: (BigInt(r.hi ?? 0) * 1_000_000n + BigInt(r.lo ?? 0)).toString() });

/** Every section, in one read transaction on `db`. */
export function sqliteReport(db: Database.Database, q: ReportQuery): ReportData {
  register(db);
  const p = { since: q.since, until: q.until, now: q.now, pendingMs: q.pendingOlderThanMs, top: q.top, limit: q.limit };
  const S = SQLITE_REPORT_SQL;
  const all = <T>(sql: string, params: object = p): T[] => db.prepare<[object], T>(sql).all(params);
  const total = (sql: string): number => db.prepare<[object], number>(sql).pluck().get(p) ?? 0;
  const listOf = <T>(rows: string, count: string): ReportList<T> => ({ rows: all<T>(rows), total: total(count) });
  const withTotal = <T>(sql: string): ReportList<T> => {
    const rows = all<T & { total: number }>(sql);
    return { rows: rows.map(({ total: _, ...r }) => r as T), total: rows[0]?.total ?? 0 };
  };
  const top = (keys: string, sums: string): ReportTop[] => {
    const ranked = all<{ key: string; exceptions: number }>(keys);
    if (ranked.length === 0) return [];
    const amounts = all<SumRow & { key: string }>(sums, { ...p, keys: JSON.stringify(ranked.map((r) => r.key)) });
    return ranked.map((r) => ({ ...r, amounts: amounts.filter((a) => a.key === r.key).map(sum) }));
  };
  return db.transaction((): ReportData => ({
    outcomes: all<SumRow & { outcome: ReportData['outcomes'][number]['outcome']; cls: string }>(S.outcomes)
      .map((r) => ({ outcome: r.outcome, cls: r.cls, ...sum(r) })),
    undos: all<SumRow & { kind: 'reversal' | 'refund'; state: string }>(S.undos).map((r) => ({ kind: r.kind, state: r.state, ...sum(r) })),
    topTerminals: top(S.topTerminalKeys, S.topTerminalSums),
    topMerchants: top(S.topMerchantKeys, S.topMerchantSums),
    reviews: listOf<ReportTxn>(S.reviews, S.reviewsTotal),
    pendingReversals: listOf<ReportUndo>(S.pendingReversals, S.pendingReversalsTotal),
    pendingTxns: listOf<ReportTxn>(S.pendingTxns, S.pendingTxnsTotal),
    manual: listOf<ReportManual>(S.manual, S.manualTotal),
    openReviews: listOf<ReportReview>(S.openReviews, S.openReviewsTotal),
    refunds: (() => {
      const l = withTotal<ReportRefund & { first: number; orig: string | null }>(S.refunds);
      return { rows: l.rows.map(({ first: _f, orig: _o, ...r }) => r), total: l.total };
    })(),
    velocity: withTotal<ReportVelocity>(S.velocity),
  }))();
}
