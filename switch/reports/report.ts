/**
 * The exception report: what went wrong in a window of time, for the operator's morning
 * check (`revswitch report`, `GET /api/report`). gatherReport() asks the store for the
 * window's counts, sums and first rows (store/report-query.ts: aggregated where the rows
 * are, so a month of journal never crosses into this process) and assembles the report;
 * buildReport() (build-report.ts) is the same report from rows in memory, the reference
 * tests hold the stores to. Types: report-types.ts; text and CSV: format-report.ts.
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
 *
 * Bounds (issue 16: one unbounded report held the event loop 13.5 s and took 5 GB): the
 * window is at most `maxDays` (config admin.reportMaxDays), each list at most `limit`
 * entries (the report says when one was cut, and how long it is), the top lists `top`.
 */
import type { ReportData, ReportQuery } from '../store/report-query.js';
import type { Store } from '../store/types.js';
import { byClassOrder, byStateOrder, txnLine } from './build-report.js';
import {
  DEFAULT_LIMIT, DEFAULT_MAX_DAYS, DEFAULT_PENDING_MS, DEFAULT_TOP, MAX_LIMIT, MAX_TOP, type ClassLine, type ManualLine, type Report, type ReportOptions, type StateLine,
} from './report-types.js';
import { Sums, type Amount } from './sums.js';
import { isoTime as iso } from './time.js';
import type { VelocityAlertLine } from './velocity-alerts.js';

export { buildReport, originalOf, outcomeOf, refundDecisions, relatedIds, type Outcome } from './build-report.js';
export * from './report-types.js';
export type { Amount, VelocityAlertLine };

const DAY_MS = 86_400_000;

/** A report asked for more than the bounds allow: the caller's error (400, exit 2), the message says which bound. */
export class ReportLimitError extends Error {}

/** The options checked against the bounds, as the store's query. */
export function reportQuery(opts: ReportOptions): ReportQuery {
  const maxDays = opts.maxDays ?? DEFAULT_MAX_DAYS;
  if (!(opts.since < opts.until)) throw new ReportLimitError('since must be before until');
  if (opts.until - opts.since > maxDays * DAY_MS) {
    const days = Math.ceil((opts.until - opts.since) / DAY_MS);
    throw new ReportLimitError(`the window ${iso(opts.since)} .. ${iso(opts.until)} is ${days} days long, longer than the ${maxDays} days allowed ` +
      '(admin.reportMaxDays): ask for a shorter window, or several');
  }
  const top = opts.top ?? DEFAULT_TOP;
  if (!(Number.isInteger(top) && top >= 1 && top <= MAX_TOP)) throw new ReportLimitError(`top: expected a whole number from 1 to ${MAX_TOP}; got ${top}`);
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) throw new ReportLimitError(`limit: expected a whole number from 1 to ${MAX_LIMIT}; got ${limit}`);
  return { since: opts.since, until: opts.until, now: opts.now, pendingOlderThanMs: opts.pendingOlderThanMs ?? DEFAULT_PENDING_MS, top, limit };
}

/** Called as each step starts: for a progress indicator. */
export type ProgressFn = (step: string) => void;

/** The bounded report: the store aggregates (off this thread: store/report-query.ts), this assembles. */
export async function gatherReport(store: Store, opts: ReportOptions, progress: ProgressFn = () => {}): Promise<Report> {
  const q = reportQuery(opts);
  progress('the store aggregates the window');
  const data = await store.report(q);
  // Receiving the answer, assembling it and the caller's JSON.stringify each take a few ms
  // for thousands of rows: a turn of the event loop between them lets sales through.
  await breath();
  progress('building');
  const report = assembleReport(data, q);
  await breath();
  return report;
}

/** Resumes after the next poll phase: one setImmediate alone would run before any I/O that waited (a worker's answer arrives in poll). */
const breath = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

const sumsOf = (rows: readonly { currency: string; count: number; minor: string }[]): Amount[] => {
  const s = new Sums();
  for (const r of rows) s.addMany(r.currency, r.count, BigInt(r.minor));
  return s.amounts();
};

/** The report from the store's aggregates: only small lists here, whatever the window held. */
export function assembleReport(d: ReportData, q: ReportQuery): Report {
  const now = q.now;
  const all = new Sums();
  const exc = new Sums();
  const classes = new Map<string, Sums>();
  const counts = { approved: 0, declined: 0, in_flight: 0, exception: 0, terminal_reversal: 0 };
  for (const r of d.outcomes) {
    counts[r.outcome] += r.count;
    if (r.outcome === 'terminal_reversal') continue;
    const minor = BigInt(r.minor);
    all.addMany(r.currency, r.count, minor);
    if (r.outcome === 'exception') exc.addMany(r.currency, r.count, minor);
    const key = `${r.outcome === 'exception' ? 1 : 0}|${r.cls}`;
    const s = classes.get(key) ?? new Sums();
    s.addMany(r.currency, r.count, minor);
    classes.set(key, s);
  }
  const byClass: ClassLine[] = [...classes.entries()]
    .map(([k, s]) => ({ class: k.slice(2), exception: k[0] === '1', count: s.count, amounts: s.amounts() }))
    .sort(byClassOrder);
  const byState = (kind: 'reversal' | 'refund'): StateLine[] => {
    const per = new Map<string, Sums>();
    for (const r of d.undos) {
      if (r.kind !== kind) continue;
      const s = per.get(r.state) ?? new Sums();
      s.addMany(r.currency, r.count, BigInt(r.minor));
      per.set(r.state, s);
    }
    return [...per.entries()].map(([state, s]) => ({ state, count: s.count, amounts: s.amounts() })).sort(byStateOrder);
  };
  const totalRows = {
    pendingReversals: d.pendingReversals.total, pendingTransactions: d.pendingTxns.total, manual: d.manual.total, reviews: d.reviews.total,
    openReviews: d.openReviews.total, refunds: d.refunds.total, velocityAlerts: d.velocity.total,
  };
  return {
    since: iso(q.since),
    until: iso(q.until),
    generatedAt: iso(now),
    pendingOlderThanMs: q.pendingOlderThanMs,
    totals: {
      transactions: all.count, approved: counts.approved, declined: counts.declined, exceptions: exc.count, inFlight: counts.in_flight,
      terminalReversals: counts.terminal_reversal, amounts: all.amounts(), exceptionAmounts: exc.amounts(),
    },
    byClass,
    reversalsByState: byState('reversal'),
    refundsByState: byState('refund'),
    pending: {
      reversals: d.pendingReversals.rows.map((r) => ({
        id: r.id, kind: r.kind, txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts, enqueuedAt: iso(r.enqueuedAt),
        ageMs: now - r.enqueuedAt, lastError: r.lastError,
      })),
      transactions: d.pendingTxns.rows.map((t) => ({
        id: t.id, terminal: t.terminal, stan: t.stan, rrn: t.rrn, amount: t.amount, currency: t.currency, createdAt: iso(t.createdAt), ageMs: now - t.createdAt,
      })),
    },
    manual: d.manual.rows.map((r) => ({
      id: r.id, kind: r.kind, txnId: r.txnId, upstream: r.upstream, attempts: r.attempts, reason: r.reason, enqueuedAt: iso(r.enqueuedAt),
      ageMs: now - r.enqueuedAt, lastError: r.lastError, terminal: r.terminal, rrn: r.rrn, amount: r.amount, currency: r.currency,
    })),
    reviews: d.reviews.rows.map(txnLine),
    topTerminals: d.topTerminals.map((x) => ({ key: x.key, exceptions: x.exceptions, amounts: sumsOf(x.amounts) })),
    topMerchants: d.topMerchants.map((x) => ({ key: x.key, exceptions: x.exceptions, amounts: sumsOf(x.amounts) })),
    refunds: d.refunds.rows.map((f) => ({ ...txnLine(f), decision: f.refundDecision, decidedAt: iso(f.decidedAt), businessDate: f.businessDate })),
    velocityAlerts: d.velocity.rows.map((v) => ({ scope: v.scope, key: v.key, alerts: v.alerts, last: iso(v.last) })),
    openReviews: d.openReviews.rows.map((v) => ({
      id: v.id, txnId: v.txnId, proposed: v.proposed, amount: v.amount, openedAt: iso(v.createdAt), ageMs: now - v.createdAt, why: v.why,
    })),
    limit: q.limit,
    truncated: Object.values(totalRows).some((n) => n > q.limit),
    totalRows,
  };
}

/**
 * The manual queue as the report shows it (with each entry's terminal, RRN and amount from
 * its transaction), its first `limit` entries: `revswitch manual list` and /api/manual.
 * The report's "now" sections over an empty window: the same bounded store query.
 */
export async function manualQueue(store: Store, now: number, limit: number): Promise<{ lines: ManualLine[]; total: number; limit: number }> {
  const q = reportQuery({ since: now, until: now + 1, now, top: 1, limit });
  const r = assembleReport(await store.report(q), q);
  return { lines: r.manual, total: r.totalRows.manual, limit };
}
