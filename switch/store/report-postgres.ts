/**
 * The report's aggregates (./report-query.ts) in PostgreSQL: the same sections as
 * ./report-sqlite.ts, grouped, summed and cut in the database, so the switch's event loop
 * only parses a few hundred small rows however long the window. One REPEATABLE READ READ
 * ONLY transaction on a connection of its own, outside the store's pool: every section
 * sees the same snapshot, and a report never takes a connection the journal's commits wait for.
 *
 * Sums are numeric (exact) and come back as text. No statement names txns.sealed,
 * reversals.original or reversals.message: test/report-bounded runs them as a role that
 * may not read those columns.
 *
 * History details are JSON (the store writes them: backend.ts); a detail is parsed only
 * when a LIKE has let it through, inside a CASE so the planner cannot parse first.
 */
import pg, { type ClientBase } from 'pg';
import { PG_TYPES, type PostgresConfig } from './postgres-config.js';
import {
  outcomeCase, type ReportData, type ReportList, type ReportManual, type ReportQuery, type ReportRefund, type ReportReview, type ReportSum, type ReportTop,
  type ReportTxn, type ReportUndo, type ReportVelocity,
} from './report-query.js';

const minor = (x: string): string => `(CASE WHEN ${x} ~ '^[0-9]{1,12}$' THEN ${x}::numeric ELSE 0 END)`;

const SUMS = 'count(*)::int AS count, sum(m)::text AS minor';
const WINDOW = 't.created_at >= @since AND t.created_at < @until';
const OUTCOME = outcomeCase('@now', '@pendingMs');
const TXN = `t.id, t.created_at AS "createdAt", t.terminal, t.merchant, t.rrn, t.stan, t.amount, t.currency, t.state, t.response_code AS "responseCode",
  t.failure_class AS "failureClass", t.decision, t.business_date AS "businessDate"`;
const UNDO = `r.id, r.kind, r.txn_id AS "txnId", r.upstream, r.state, r.attempts, r.reason, r.enqueued_at AS "enqueuedAt", r.last_error AS "lastError"`;
const PENDING_REVERSALS = `FROM reversals r WHERE r.state IN ('pending', 'sent') AND r.enqueued_at <= @now - @pendingMs`;
const PENDING_TXNS = `FROM txns t WHERE t.state = 'forwarded' AND t.created_at <= @now - @pendingMs`;
const REVIEWS = `FROM txns t WHERE ${WINDOW} AND t.state <> 'terminal_reversal' AND substr(coalesce(t.decision, ''), 1, 6) = 'review'`;

const jsonText = (name: string, like: string): string =>
  `CASE WHEN h.detail LIKE '${like}' THEN jsonb_typeof(h.detail::jsonb -> '${name}') = 'string' ELSE false END`;

const topKeys = (col: string): string => `SELECT key, exceptions FROM (SELECT coalesce(t.${col}, '(none)') AS key, count(*)::int AS exceptions
  FROM txns t WHERE ${WINDOW} AND (${OUTCOME}) = 'exception' GROUP BY 1) g ORDER BY exceptions DESC, key COLLATE "C" LIMIT @top`;
const topSums = (col: string): string => `SELECT key, currency, ${SUMS} FROM (SELECT coalesce(t.${col}, '(none)') AS key, coalesce(t.currency, '') AS currency,
  ${minor('t.amount')} AS m FROM txns t WHERE ${WINDOW} AND (${OUTCOME}) = 'exception' AND coalesce(t.${col}, '(none)') = ANY(@keys)) s
  GROUP BY key, currency ORDER BY currency`;

/** The statements, by name, with @name parameters (bind() numbers them): exported so a test can read them. */
export const PG_REPORT_SQL = {
  outcomes: `SELECT outcome, cls, currency, ${SUMS} FROM (SELECT ${OUTCOME} AS outcome, coalesce(t.failure_class, t.state) AS cls,
    coalesce(t.currency, '') AS currency, ${minor('t.amount')} AS m FROM txns t WHERE ${WINDOW}) s GROUP BY outcome, cls, currency`,
  undos: `SELECT kind, state, currency, ${SUMS} FROM (SELECT CASE WHEN r.kind = 'refund' THEN 'refund' ELSE 'reversal' END AS kind, r.state,
    coalesce(t.currency, '') AS currency,
    CASE WHEN r.kind = 'refund' THEN ${minor('coalesce(r.amount, t.amount)')} ELSE GREATEST(0, ${minor('t.amount')} - ${minor('r.final_amount')}) END AS m
    FROM reversals r LEFT JOIN txns t ON t.id = r.txn_id WHERE r.enqueued_at >= @since AND r.enqueued_at < @until) s GROUP BY kind, state, currency`,
  topTerminalKeys: topKeys('terminal'),
  topTerminalSums: topSums('terminal'),
  topMerchantKeys: topKeys('merchant'),
  topMerchantSums: topSums('merchant'),
  reviews: `SELECT ${TXN} ${REVIEWS} ORDER BY t.created_at, t.ins_seq LIMIT @limit`,
  reviewsTotal: `SELECT count(*)::int AS n ${REVIEWS}`,
  pendingReversals: `SELECT ${UNDO} ${PENDING_REVERSALS} ORDER BY r.enqueued_at, r.ins_seq LIMIT @limit`,
  pendingReversalsTotal: `SELECT count(*)::int AS n ${PENDING_REVERSALS}`,
  pendingTxns: `SELECT ${TXN} ${PENDING_TXNS} ORDER BY t.created_at, t.ins_seq LIMIT @limit`,
  pendingTxnsTotal: `SELECT count(*)::int AS n ${PENDING_TXNS}`,
  manual: `SELECT ${UNDO}, t.terminal, t.rrn, CASE WHEN r.kind = 'refund' THEN r.amount ELSE t.amount END AS amount, t.currency
    FROM reversals r LEFT JOIN txns t ON t.id = r.txn_id WHERE r.state = 'manual' ORDER BY r.enqueued_at, r.ins_seq LIMIT @limit`,
  manualTotal: `SELECT count(*)::int AS n FROM reversals r WHERE r.state = 'manual'`,
  openReviews: `SELECT id, txn_id AS "txnId", proposed, amount, created_at AS "createdAt", why FROM reviews WHERE state = 'open'
    ORDER BY created_at, id LIMIT @limit`,
  openReviewsTotal: `SELECT count(*)::int AS n FROM reviews WHERE state = 'open'`,
  refunds: `WITH d AS (SELECT h.seq, h.at, h.ref, h.detail::jsonb ->> 'decision' AS decision FROM history h
      WHERE h.at >= @since AND h.at < @until AND h.kind = 'txn' AND ${jsonText('decision', '%"decision"%refund%')}),
    f AS (SELECT ref, min(seq) AS first, max(seq) AS last FROM d WHERE substr(decision, 1, 6) = 'refund' GROUP BY ref),
    x AS (SELECT f.first, d.at AS "decidedAt", d.decision AS "refundDecision",
        CASE WHEN t.state = 'terminal_reversal' THEN substring(t.decision from '\\(original ([^()[:space:]]+)\\)$') END AS orig, ${TXN}
      FROM f JOIN d ON d.seq = f.last JOIN txns t ON t.id = f.ref)
    SELECT *, count(*) OVER ()::int AS total FROM x
    WHERE orig IS NULL OR (orig NOT IN (SELECT ref FROM f) AND NOT EXISTS (SELECT 1 FROM txns o WHERE o.id = x.orig))
    ORDER BY "decidedAt", first LIMIT @limit`,
  velocity: `WITH a AS (SELECT h.at, h.ref, h.detail::jsonb ->> 'note' AS note FROM history h
      WHERE h.at >= @since AND h.at < @until AND h.kind = 'txn' AND ${jsonText('note', '%"note"%velocity alert (%')}),
    s AS (SELECT a.at, a.ref, sc AS scope FROM a
      CROSS JOIN LATERAL unnest(string_to_array(substring(a.note from '^velocity alert \\(([^)]*)\\)'), ', ')) AS sc WHERE sc <> ''),
    l AS (SELECT s.scope, s.at, coalesce(CASE s.scope WHEN 'terminal' THEN t.terminal WHEN 'merchant' THEN t.merchant ELSE t.pan_masked END, '(none)') AS key
      FROM s LEFT JOIN txns t ON t.id = s.ref)
    SELECT scope, key, count(*)::int AS alerts, max(at) AS last, count(*) OVER ()::int AS total FROM l GROUP BY scope, key
    ORDER BY alerts DESC, CASE scope WHEN 'terminal' THEN 0 WHEN 'merchant' THEN 1 WHEN 'card' THEN 2 ELSE -1 END, key COLLATE "C" LIMIT @limit`,
} as const;

const TYPES: Record<string, string> = { since: 'bigint', until: 'bigint', now: 'bigint', pendingMs: 'bigint', top: 'integer', limit: 'integer', keys: 'text[]' };

/** @name parameters as $1, $2... in order of first use, with their values and types. */
export function bind(sql: string, values: Record<string, unknown>): { text: string; values: unknown[] } {
  const order: string[] = [];
  const text = sql.replace(/@([a-zA-Z]+)/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`report SQL: no value for @${name}`);
    let i = order.indexOf(name);
    if (i < 0) i = order.push(name) - 1;
    return `$${i + 1}::${TYPES[name]}`;
  });
  return { text, values: order.map((n) => values[n]) };
}

/** Every section, on `client`, inside the caller's transaction. */
export async function pgReport(client: ClientBase, q: ReportQuery): Promise<ReportData> {
  const p = { since: q.since, until: q.until, now: q.now, pendingMs: q.pendingOlderThanMs, top: q.top, limit: q.limit };
  const S = PG_REPORT_SQL;
  const all = async <T>(sql: string, values: Record<string, unknown> = p): Promise<T[]> => (await client.query(bind(sql, values))).rows as T[];
  const total = async (sql: string): Promise<number> => (await all<{ n: number }>(sql))[0]?.n ?? 0;
  const listOf = async <T>(rows: string, count: string): Promise<ReportList<T>> => ({ rows: await all<T>(rows), total: await total(count) });
  const withTotal = async <T>(sql: string): Promise<ReportList<T>> => {
    const rows = await all<T & { total: number }>(sql);
    return { rows: rows.map(({ total: _, ...r }) => r as T), total: rows[0]?.total ?? 0 };
  };
  const top = async (keys: string, sums: string): Promise<ReportTop[]> => {
    const ranked = await all<{ key: string; exceptions: number }>(keys);
    if (ranked.length === 0) return [];
    const amounts = await all<ReportSum & { key: string }>(sums, { ...p, keys: ranked.map((r) => r.key) });
    return ranked.map((r) => ({ ...r, amounts: amounts.filter((a) => a.key === r.key).map(({ key: _, ...a }) => a) }));
  };
  const refunds = await withTotal<ReportRefund & { first: number; orig: string | null }>(S.refunds);
  return {
    outcomes: await all(S.outcomes),
    undos: await all(S.undos),
    topTerminals: await top(S.topTerminalKeys, S.topTerminalSums),
    topMerchants: await top(S.topMerchantKeys, S.topMerchantSums),
    reviews: await listOf<ReportTxn>(S.reviews, S.reviewsTotal),
    pendingReversals: await listOf<ReportUndo>(S.pendingReversals, S.pendingReversalsTotal),
    pendingTxns: await listOf<ReportTxn>(S.pendingTxns, S.pendingTxnsTotal),
    manual: await listOf<ReportManual>(S.manual, S.manualTotal),
    openReviews: await listOf<ReportReview>(S.openReviews, S.openReviewsTotal),
    refunds: { rows: refunds.rows.map(({ first: _f, orig: _o, ...r }) => r), total: refunds.total },
    velocity: await withTotal<ReportVelocity>(S.velocity),
  };
}

/** pgReport in its own read-only snapshot on `client`, which the caller releases. */
export async function pgReportTransaction(client: ClientBase, q: ReportQuery): Promise<ReportData> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const data = await pgReport(client, q);
    await client.query('COMMIT');
    return data;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The report on a connection opened for it (the store's settings, not its pool), closed after. */
export async function pgReportConnection(c: PostgresConfig, q: ReportQuery): Promise<ReportData> {
  const client = new pg.Client({
    connectionString: c.connectionString, options: `-c search_path=${c.schema}`, types: PG_TYPES, connectionTimeoutMillis: c.connectTimeoutMs,
    application_name: 'revswitch report',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await pgReportTransaction(client, q);
  } finally {
    await client.end().catch(() => undefined);
  }
}
