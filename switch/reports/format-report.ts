/**
 * A Report (report.ts) as text for the operator's morning check and as CSV for a
 * spreadsheet, and the amount formatting both share with the evidence: minor units shown
 * in major units by the currency's exponent.
 */
import type { Amount, Report } from './report.js';
import { minorOf } from './sums.js';
import { table } from './table.js';
import { formatAge, shortIso } from './time.js';

// ---- amounts --------------------------------------------------------------------------------

/** Minor-unit exponents that are not 2 (ISO 4217 numeric codes); every other currency has 2. */
const EXPONENT: Readonly<Record<string, number>> = {
  '108': 0, '152': 0, '174': 0, '262': 0, '324': 0, '352': 0, '392': 0, '410': 0, '548': 0, '600': 0, '646': 0,
  '704': 0, '800': 0, '950': 0, '952': 0, '953': 0,
  '048': 3, '368': 3, '400': 3, '414': 3, '434': 3, '512': 3, '788': 3,
};

/** "123456" minor units of 840 -> "1234.56"; of 392 -> "123456"; no currency: the minor units. */
export function formatMinor(minor: string, currency: string): string {
  const exp = currency === '' ? 0 : EXPONENT[currency] ?? 2;
  const neg = minor.startsWith('-');
  const digits = (neg ? minor.slice(1) : minor).padStart(exp + 1, '0');
  const major = exp === 0 ? digits : `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
  return (neg ? '-' : '') + major;
}

/** "12.34 840, 5.00 978" (or "-" when empty). */
export function formatAmounts(amounts: readonly Amount[]): string {
  if (amounts.length === 0) return '-';
  return amounts.map((a) => (a.currency === '' ? `${a.minor} (no currency)` : `${formatMinor(a.minor, a.currency)} ${a.currency}`)).join(', ');
}

// ---- text -------------------------------------------------------------------------------------

const money = (amount: string | null, currency: string | null): string =>
  amount === null ? '-' : formatAmounts([{ currency: currency ?? '', count: 1, minor: minorOf(amount).toString() }]);

/** The readable report: one titled table per section, "none" for an empty one. */
export function formatText(r: Report): string {
  const out: string[] = [];
  const section = (title: string, lines: string[], cut?: { shown: number; total: number }): void => {
    out.push('', title, ...(lines.length === 0 ? ['  none'] : lines.map((l) => `  ${l}`)));
    if (cut !== undefined && cut.total > cut.shown) out.push(`  ... and ${cut.total - cut.shown} more (the first ${cut.shown} shown: --limit)`);
  };
  const R = r.totalRows;
  const T = r.totals;
  out.push(`revswitch exception report  ${shortIso(r.since)} .. ${shortIso(r.until)}  (generated ${shortIso(r.generatedAt)})`);
  const n = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
  out.push(
    `${n(T.transactions, 'transaction')}: ${T.approved} approved, ${T.declined} declined, ${n(T.exceptions, 'exception')}, ${T.inFlight} in flight; ` +
    `${n(T.terminalReversals, 'terminal reversal')}`,
  );
  out.push(`amount ${formatAmounts(T.amounts)}; exceptions ${formatAmounts(T.exceptionAmounts)}`);

  section('By failure class', r.byClass.length === 0 ? [] : table(
    ['class', 'exception', 'txns', 'amount'],
    r.byClass.map((c) => [c.class, c.exception ? 'yes' : 'no', String(c.count), formatAmounts(c.amounts)]), [2]));
  section('Reversals queued in the window, by state', r.reversalsByState.length === 0 ? [] : table(
    ['state', 'count', 'amount'], r.reversalsByState.map((s) => [s.state, String(s.count), formatAmounts(s.amounts)]), [1]));
  section('Refunds queued in the window, by state', r.refundsByState.length === 0 ? [] : table(
    ['state', 'count', 'amount'], r.refundsByState.map((s) => [s.state, String(s.count), formatAmounts(s.amounts)]), [1]));
  const age = formatAge(r.pendingOlderThanMs);
  section(`Reversals still pending after ${age}`, r.pending.reversals.length === 0 ? [] : table(
    ['id', 'kind', 'txn', 'state', 'attempts', 'queued', 'age', 'last error'],
    r.pending.reversals.map((p) => [p.id, p.kind, p.txnId ?? '-', p.state, String(p.attempts), shortIso(p.enqueuedAt), formatAge(p.ageMs), p.lastError ?? '']), [4]),
    { shown: r.pending.reversals.length, total: R.pendingReversals });
  section(`Transactions without an outcome after ${age}`, r.pending.transactions.length === 0 ? [] : table(
    ['id', 'terminal', 'stan', 'rrn', 'amount', 'created', 'age'],
    r.pending.transactions.map((p) => [p.id, p.terminal ?? '-', p.stan, p.rrn ?? '-', money(p.amount, p.currency), shortIso(p.createdAt), formatAge(p.ageMs)])),
    { shown: r.pending.transactions.length, total: R.pendingTransactions });
  section(`Manual queue (${R.manual})`, r.manual.length === 0 ? [] : table(
    ['id', 'kind', 'terminal', 'rrn', 'amount', 'attempts', 'reason', 'queued', 'age', 'why'],
    r.manual.map((m) => [m.id, m.kind, m.terminal ?? '-', m.rrn ?? '-', money(m.amount, m.currency), String(m.attempts), m.reason, shortIso(m.enqueuedAt), formatAge(m.ageMs), m.lastError ?? '']), [5]),
    { shown: r.manual.length, total: R.manual });
  section('For review', r.reviews.length === 0 ? [] : table(
    ['id', 'terminal', 'rrn', 'amount', 'class', 'decision'],
    r.reviews.map((v) => [v.id, v.terminal ?? '-', v.rrn ?? '-', money(v.amount, v.currency), v.failureClass ?? '-', v.decision ?? ''])),
    { shown: r.reviews.length, total: R.reviews });
  section(`Review queue: open items (${R.openReviews})`, r.openReviews.length === 0 ? [] : table(
    ['id', 'proposed', 'amount', 'opened', 'age', 'why'],
    r.openReviews.map((v) => [v.id, v.proposed, v.amount ?? '-', shortIso(v.openedAt), formatAge(v.ageMs), v.why])),
    { shown: r.openReviews.length, total: R.openReviews });
  section('Top terminals by exceptions', r.topTerminals.length === 0 ? [] : table(
    ['terminal', 'exceptions', 'amount'], r.topTerminals.map((x) => [x.key, String(x.exceptions), formatAmounts(x.amounts)]), [1]));
  section('Top merchants by exceptions', r.topMerchants.length === 0 ? [] : table(
    ['merchant', 'exceptions', 'amount'], r.topMerchants.map((x) => [x.key, String(x.exceptions), formatAmounts(x.amounts)]), [1]));
  section('Refunds decided in the window (after cutover or the reversal window)', r.refunds.length === 0 ? [] : table(
    ['decided', 'id', 'terminal', 'rrn', 'amount', 'business date', 'decision'],
    r.refunds.map((f) => [shortIso(f.decidedAt), f.id, f.terminal ?? '-', f.rrn ?? '-', money(f.amount, f.currency), f.businessDate ?? '-', f.decision ?? ''])),
    { shown: r.refunds.length, total: R.refunds });
  section('Velocity alerts (undos past a threshold; every reversal still went out)', r.velocityAlerts.length === 0 ? [] : table(
    ['scope', 'terminal, merchant or card', 'alerts', 'last'], r.velocityAlerts.map((a) => [a.scope, a.key, String(a.alerts), shortIso(a.last)]), [2]),
    { shown: r.velocityAlerts.length, total: R.velocityAlerts });
  return out.join('\n') + '\n';
}

// ---- CSV --------------------------------------------------------------------------------------

/**
 * One long table with a `section` column, so a spreadsheet can filter it. Amounts are one
 * row per currency (`count` is that currency's count, so columns sum correctly);
 * `amount` is in major units, `amount_minor` exact.
 */
export const CSV_COLUMNS = [
  'section', 'key', 'exception', 'state', 'count', 'currency', 'amount', 'amount_minor', 'id', 'txn_id', 'terminal', 'merchant',
  'rrn', 'at', 'age_s', 'attempts', 'reason', 'detail',
] as const;
type CsvRow = Partial<Record<(typeof CSV_COLUMNS)[number], string | number | boolean | null>>;

/** RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so a spreadsheet never runs it as a formula. */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatCsv(r: Report): string {
  const rows: CsvRow[] = [];
  const moneyRows = (base: CsvRow, amounts: readonly Amount[], count: number): void => {
    if (amounts.length === 0) rows.push({ ...base, count });
    for (const a of amounts) rows.push({ ...base, count: a.count, currency: a.currency, amount: a.currency === '' ? '' : formatMinor(a.minor, a.currency), amount_minor: a.minor });
  };
  const one = (amount: string | null, currency: string | null): CsvRow =>
    amount === null ? {} : { currency: currency ?? '', amount: currency ? formatMinor(minorOf(amount).toString(), currency) : '', amount_minor: minorOf(amount).toString() };
  const secs = (ms: number): number => Math.floor(ms / 1000);

  rows.push({ section: 'window', key: 'since', at: r.since }, { section: 'window', key: 'until', at: r.until }, { section: 'window', key: 'generated', at: r.generatedAt });
  rows.push({ section: 'window', key: 'pending_older_than', age_s: secs(r.pendingOlderThanMs) }, { section: 'window', key: 'limit', count: r.limit });
  // A list cut at the limit: how long it is in all (its rows below are the first `limit`).
  for (const [k, n] of Object.entries(r.totalRows)) if (n > r.limit) rows.push({ section: 'truncated', key: k, count: n });
  const T = r.totals;
  for (const [k, n] of [['transactions', T.transactions], ['approved', T.approved], ['declined', T.declined], ['exceptions', T.exceptions], ['in_flight', T.inFlight], ['terminal_reversals', T.terminalReversals]] as const) {
    rows.push({ section: 'totals', key: k, count: n });
  }
  for (const c of r.byClass) moneyRows({ section: 'by_class', key: c.class, exception: c.exception }, c.amounts, c.count);
  for (const s of r.reversalsByState) moneyRows({ section: 'reversals_by_state', key: s.state, state: s.state }, s.amounts, s.count);
  for (const s of r.refundsByState) moneyRows({ section: 'refunds_by_state', key: s.state, state: s.state }, s.amounts, s.count);
  for (const p of r.pending.reversals) {
    rows.push({ section: p.kind === 'refund' ? 'pending_refund' : 'pending_reversal', id: p.id, txn_id: p.txnId, state: p.state, attempts: p.attempts, at: p.enqueuedAt, age_s: secs(p.ageMs), detail: p.lastError });
  }
  for (const p of r.pending.transactions) {
    rows.push({ section: 'pending_transaction', id: p.id, terminal: p.terminal, rrn: p.rrn, key: p.stan, ...one(p.amount, p.currency), at: p.createdAt, age_s: secs(p.ageMs) });
  }
  for (const m of r.manual) {
    rows.push({
      section: m.kind === 'refund' ? 'manual_refund' : 'manual', id: m.id, txn_id: m.txnId, terminal: m.terminal, rrn: m.rrn, ...one(m.amount, m.currency), attempts: m.attempts,
      reason: m.reason, at: m.enqueuedAt, age_s: secs(m.ageMs), detail: m.lastError, key: m.upstream,
    });
  }
  for (const v of r.reviews) {
    rows.push({ section: 'review', id: v.id, terminal: v.terminal, merchant: v.merchant, rrn: v.rrn, ...one(v.amount, v.currency), key: v.failureClass, state: v.state, at: v.createdAt, detail: v.decision });
  }
  for (const v of r.openReviews) rows.push({ section: 'open_review', id: v.id, txn_id: v.txnId, key: v.proposed, amount_minor: v.amount, at: v.openedAt, age_s: secs(v.ageMs), detail: v.why });
  for (const x of r.topTerminals) moneyRows({ section: 'top_terminal', key: x.key, exception: true }, x.amounts, x.exceptions);
  for (const x of r.topMerchants) moneyRows({ section: 'top_merchant', key: x.key, exception: true }, x.amounts, x.exceptions);
  for (const f of r.refunds) {
    rows.push({ section: 'refund', id: f.id, terminal: f.terminal, merchant: f.merchant, rrn: f.rrn, ...one(f.amount, f.currency), key: f.businessDate, at: f.decidedAt, detail: f.decision });
  }
  for (const a of r.velocityAlerts) rows.push({ section: 'velocity_alert', key: a.key, state: a.scope, count: a.alerts, at: a.last });
  const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))];
  return lines.join('\r\n') + '\r\n';
}
