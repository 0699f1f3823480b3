/**
 * The exception report: what went wrong in a window of time, for the operator's morning
 * check (`revswitch report`, `GET /api/report`). gatherReport() reads the rows from a
 * Store; everything else here is a pure function from rows to the report object and from
 * the object to text or CSV, so tests can check each step.
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
 * sums: never a float); text shows them in major units by the currency's exponent.
 */
import type { HistoryRow, JournalState, ReversalRow, Store, TxnRow } from '../store/types.js';

// ---- the report object ----------------------------------------------------------------

/** A sum in one currency. `currency` is F49 as stored ('' when the transaction had none). */
export interface Amount {
  currency: string;
  /** Transactions summed. */
  count: number;
  /** Minor units, as a decimal string. */
  minor: string;
}

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

export interface TxnLine {
  id: string;
  createdAt: string;
  terminal: string | null;
  merchant: string | null;
  rrn: string | null;
  stan: string;
  amount: string | null;
  currency: string | null;
  state: JournalState;
  responseCode: string | null;
  failureClass: string | null;
  decision: string | null;
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
  /** Now: reversals pending or sent, and journal rows still forwarded, older than pendingOlderThanMs. */
  pending: { reversals: PendingReversal[]; transactions: PendingTxn[] };
  /** Now: every reversal in the manual state, oldest first. */
  manual: ManualLine[];
  /** Transactions of the window whose decision is review (a person must look). */
  reviews: TxnLine[];
  topTerminals: TopLine[];
  topMerchants: TopLine[];
  /** Refund decisions written in the window (after the business day's cutover or the reversal window). */
  refunds: RefundLine[];
}

// ---- inputs --------------------------------------------------------------------------------

export interface ReportOptions {
  since: number;
  until: number;
  /** The report's "now" (ages of pending and manual entries). */
  now: number;
  /** Default one hour. */
  pendingOlderThanMs?: number;
  /** How many terminals and merchants. Default 10. */
  top?: number;
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
}

export const DEFAULT_PENDING_MS = 3_600_000;
export const DEFAULT_TOP = 10;

/** Classes of a decline that is final: nothing was held and nobody needs to look. */
const DEFINITIVE = new Set(['insufficient_funds', 'declined', 'input_error']);
const EXCEPTION_STATES = new Set<JournalState>(['timed_out', 'undeliverable', 'reversed_by_terminal', 'recovered', 'not_sent']);

export type Outcome = 'approved' | 'declined' | 'exception' | 'in_flight' | 'terminal_reversal';

/** Where a transaction stands for the report (see the header for the definition of an exception). */
export function outcomeOf(t: TxnRow, now: number, pendingOlderThanMs = DEFAULT_PENDING_MS): Outcome {
  if (t.state === 'terminal_reversal') return 'terminal_reversal';
  const d = t.decision ?? '';
  if (d.startsWith('review') || d.startsWith('refund')) return 'exception';
  if (EXCEPTION_STATES.has(t.state)) return 'exception';
  if (t.state === 'forwarded') return now - t.createdAt >= pendingOlderThanMs ? 'exception' : 'in_flight';
  if (t.state === 'approved') return 'approved';
  return t.failureClass !== null && DEFINITIVE.has(t.failureClass) ? 'declined' : 'exception';
}

/** The original a terminal reversal's decision names: "... (original ID)". */
export function originalOf(t: TxnRow): string | null {
  if (t.state !== 'terminal_reversal' || t.decision === null) return null;
  return /\(original ([^()\s]+)\)$/.exec(t.decision)?.[1] ?? null;
}

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

function minorOf(s: string | null): bigint {
  return s !== null && /^\d{1,18}$/.test(s) ? BigInt(s) : 0n;
}

/** Sums per currency. */
class Sums {
  private readonly m = new Map<string, { count: number; minor: bigint }>();
  count = 0;

  add(currency: string | null, minor: bigint): void {
    const c = currency ?? '';
    const e = this.m.get(c) ?? { count: 0, minor: 0n };
    e.count++;
    e.minor += minor;
    this.m.set(c, e);
    this.count++;
  }

  addTxn(t: TxnRow): void {
    this.add(t.currency, minorOf(t.amount));
  }

  amounts(): Amount[] {
    return [...this.m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, e]) => ({ currency, count: e.count, minor: e.minor.toString() }));
  }
}

function grouped<K>(): { get(k: K): Sums; entries(): [K, Sums][] } {
  const m = new Map<K, Sums>();
  return {
    get(k) {
      let s = m.get(k);
      if (s === undefined) {
        s = new Sums();
        m.set(k, s);
      }
      return s;
    },
    entries: () => [...m.entries()],
  };
}

// ---- building -------------------------------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString();

function txnLine(t: TxnRow): TxnLine {
  return {
    id: t.id, createdAt: iso(t.createdAt), terminal: t.terminal, merchant: t.merchant, rrn: t.rrn, stan: t.stan, amount: t.amount,
    currency: t.currency, state: t.state, responseCode: t.responseCode, failureClass: t.failureClass, decision: t.decision,
  };
}

/** The decision a history row of a transaction wrote, if any. */
function decisionIn(h: HistoryRow): string | null {
  if (h.kind !== 'txn' || h.detail === null || !h.detail.includes('"decision"')) return null;
  try {
    const d = (JSON.parse(h.detail) as { decision?: unknown }).decision;
    return typeof d === 'string' ? d : null;
  } catch {
    return null;
  }
}

/** Transaction ids whose refund decision was written in the window, with when (the last one wins). */
export function refundDecisions(history: readonly HistoryRow[]): Map<string, { at: number; decision: string }> {
  const out = new Map<string, { at: number; decision: string }>();
  for (const h of history) {
    const d = decisionIn(h);
    if (d !== null && d.startsWith('refund')) out.set(h.ref, { at: h.at, decision: d });
  }
  return out;
}

/** Ids the report needs rows for beyond the window's transactions. */
export function relatedIds(input: Omit<ReportInput, 'related'>): string[] {
  const have = new Set(input.txns.map((t) => t.id));
  const want = new Set<string>();
  for (const r of [...input.reversals, ...input.manual]) if (r.txnId !== null && !have.has(r.txnId)) want.add(r.txnId);
  for (const id of refundDecisions(input.history).keys()) if (!have.has(id)) want.add(id);
  return [...want];
}

export function buildReport(input: ReportInput, opts: ReportOptions): Report {
  const now = opts.now;
  const pendingMs = opts.pendingOlderThanMs ?? DEFAULT_PENDING_MS;
  const top = opts.top ?? DEFAULT_TOP;
  const byId = new Map<string, TxnRow>();
  for (const t of [...input.related, ...input.txns]) byId.set(t.id, t);

  const all = new Sums();
  const exc = new Sums();
  const classes = grouped<string>();
  const terminals = grouped<string>();
  const merchants = grouped<string>();
  let approved = 0;
  let declined = 0;
  let inFlight = 0;
  let terminalReversals = 0;
  const reviews: TxnLine[] = [];
  for (const t of input.txns) {
    const o = outcomeOf(t, now, pendingMs);
    if (o === 'terminal_reversal') {
      terminalReversals++;
      continue;
    }
    all.addTxn(t);
    const isExc = o === 'exception';
    classes.get(`${isExc ? 1 : 0}|${t.failureClass ?? t.state}`).addTxn(t);
    if (o === 'approved') approved++;
    else if (o === 'declined') declined++;
    else if (o === 'in_flight') inFlight++;
    if (!isExc) continue;
    exc.addTxn(t);
    terminals.get(t.terminal ?? '(none)').addTxn(t);
    merchants.get(t.merchant ?? '(none)').addTxn(t);
    if ((t.decision ?? '').startsWith('review')) reviews.push(txnLine(t));
  }

  const byClass: ClassLine[] = classes.entries()
    .map(([k, s]) => ({ class: k.slice(2), exception: k[0] === '1', count: s.count, amounts: s.amounts() }))
    .sort((a, b) => Number(b.exception) - Number(a.exception) || b.count - a.count || a.class.localeCompare(b.class));

  const states = grouped<string>();
  for (const r of input.reversals) {
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    const original = minorOf(t?.amount ?? null);
    const back = r.finalAmount !== null && /^\d+$/.test(r.finalAmount) ? original - BigInt(r.finalAmount) : original;
    states.get(r.state).add(t?.currency ?? null, back < 0n ? 0n : back);
  }
  const ORDER = ['pending', 'sent', 'manual', 'acked', 'resolved', 'cancelled'];
  const rank = (s: string): number => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  const reversalsByState: StateLine[] = states.entries()
    .map(([state, s]) => ({ state, count: s.count, amounts: s.amounts() }))
    .sort((a, b) => rank(a.state) - rank(b.state) || a.state.localeCompare(b.state));

  const pending = {
    reversals: input.active
      .filter((r) => (r.state === 'pending' || r.state === 'sent') && now - r.enqueuedAt >= pendingMs)
      .map((r): PendingReversal => ({
        id: r.id, txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts, enqueuedAt: iso(r.enqueuedAt),
        ageMs: now - r.enqueuedAt, lastError: r.lastError,
      })),
    transactions: input.unfinished
      .filter((t) => t.state === 'forwarded' && now - t.createdAt >= pendingMs)
      .map((t): PendingTxn => ({
        id: t.id, terminal: t.terminal, stan: t.stan, rrn: t.rrn, amount: t.amount, currency: t.currency, createdAt: iso(t.createdAt),
        ageMs: now - t.createdAt,
      })),
  };

  const manual: ManualLine[] = input.manual.filter((r) => r.state === 'manual').map((r) => {
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    return {
      id: r.id, txnId: r.txnId, upstream: r.upstream, attempts: r.attempts, reason: r.reason, enqueuedAt: iso(r.enqueuedAt),
      ageMs: now - r.enqueuedAt, lastError: r.lastError, terminal: t?.terminal ?? null, rrn: t?.rrn ?? null,
      amount: t?.amount ?? null, currency: t?.currency ?? null,
    };
  });

  const topOf = (g: ReturnType<typeof grouped<string>>): TopLine[] => g.entries()
    .map(([key, s]) => ({ key, exceptions: s.count, amounts: s.amounts() }))
    .sort((a, b) => b.exceptions - a.exceptions || a.key.localeCompare(b.key))
    .slice(0, top);

  // A terminal's reversal that became a refund writes the decision on both rows: the
  // original is listed, the terminal's row only when its original is not in the store.
  const decided = refundDecisions(input.history);
  const refunds: RefundLine[] = [];
  for (const [id, d] of decided) {
    const t = byId.get(id);
    if (t === undefined) continue;
    const orig = originalOf(t);
    if (orig !== null && (decided.has(orig) || byId.has(orig))) continue;
    refunds.push({ ...txnLine(t), decision: d.decision, decidedAt: iso(d.at), businessDate: t.businessDate });
  }
  refunds.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));

  return {
    since: iso(opts.since),
    until: iso(opts.until),
    generatedAt: iso(now),
    pendingOlderThanMs: pendingMs,
    totals: {
      transactions: all.count, approved, declined, exceptions: exc.count, inFlight, terminalReversals,
      amounts: all.amounts(), exceptionAmounts: exc.amounts(),
    },
    byClass,
    reversalsByState,
    pending,
    manual,
    reviews,
    topTerminals: topOf(terminals),
    topMerchants: topOf(merchants),
    refunds,
  };
}

// ---- times ------------------------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "1h", "7d", "2w" (or bare milliseconds) to milliseconds; null when it is not one. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(s.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms'];
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** Midnight UTC of the day `now` falls in. */
export function startOfDayUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/**
 * A point in time: ISO 8601 (a date alone is midnight UTC; a time without a zone is
 * taken as UTC), "now", "today", "yesterday", or an age before now ("24h", "7d").
 */
export function parseTime(s: string, now: number): number {
  const v = s.trim();
  if (v === 'now') return now;
  if (v === 'today') return startOfDayUtc(now);
  if (v === 'yesterday') return startOfDayUtc(now) - UNITS.d;
  const age = parseDuration(v);
  if (age !== null && /[a-z]$/.test(v)) return now - age;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const withZone = v.length > 10 && !/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T');
    const ms = Date.parse(withZone);
    if (Number.isFinite(ms)) return ms;
  }
  throw new RangeError(`expected ISO 8601 (2025-11-25, 2025-11-25T08:00:00Z), now, today, yesterday, or an age like 24h or 7d; got ${JSON.stringify(s)}`);
}

// ---- reading the store ----------------------------------------------------------------------

/** Called as each step starts: for a progress indicator. */
export type ProgressFn = (step: string) => void;

/** Reads what the report needs (a handful of indexed queries), then builds it. */
export async function gatherReport(store: Store, opts: ReportOptions, progress: ProgressFn = () => {}): Promise<Report> {
  progress('transactions');
  const txns = await store.txnsBetween(opts.since, opts.until);
  progress('reversals');
  const reversals = await store.reversalsBetween(opts.since, opts.until);
  progress('history');
  const history = await store.historyBetween(opts.since, opts.until);
  progress('pending and manual entries');
  const active = await store.reversals(['pending', 'sent']);
  const manual = await store.reversals(['manual']);
  const unfinished = await store.unfinishedTxns();
  const ids = relatedIds({ txns, reversals, history, active, manual, unfinished });
  progress(`related transactions (${ids.length})`);
  const related: TxnRow[] = [];
  for (const id of ids) {
    const t = await store.txn(id);
    if (t !== undefined) related.push(t);
  }
  progress('building');
  return buildReport({ txns, reversals, history, active, manual, unfinished, related }, opts);
}

// ---- text -------------------------------------------------------------------------------------

/** Left-aligned columns, numbers right-aligned; two spaces between. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], numeric: readonly number[] = []): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (numeric.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

/** "1h", "2h 05m", "3d 4h", "12m", "40s". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return h % 24 === 0 ? `${h / 24}d` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

const shortIso = (s: string): string => s.replace(/\.\d{3}Z$/, 'Z');
const money = (amount: string | null, currency: string | null): string =>
  amount === null ? '-' : formatAmounts([{ currency: currency ?? '', count: 1, minor: minorOf(amount).toString() }]);

/** The readable report: one titled table per section, "none" for an empty one. */
export function formatText(r: Report): string {
  const out: string[] = [];
  const section = (title: string, lines: string[]): void => {
    out.push('', title, ...(lines.length === 0 ? ['  none'] : lines.map((l) => `  ${l}`)));
  };
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
  const age = formatAge(r.pendingOlderThanMs);
  section(`Reversals still pending after ${age}`, r.pending.reversals.length === 0 ? [] : table(
    ['id', 'txn', 'state', 'attempts', 'queued', 'age', 'last error'],
    r.pending.reversals.map((p) => [p.id, p.txnId ?? '-', p.state, String(p.attempts), shortIso(p.enqueuedAt), formatAge(p.ageMs), p.lastError ?? '']), [3]));
  section(`Transactions without an outcome after ${age}`, r.pending.transactions.length === 0 ? [] : table(
    ['id', 'terminal', 'stan', 'rrn', 'amount', 'created', 'age'],
    r.pending.transactions.map((p) => [p.id, p.terminal ?? '-', p.stan, p.rrn ?? '-', money(p.amount, p.currency), shortIso(p.createdAt), formatAge(p.ageMs)])));
  section(`Manual queue (${r.manual.length})`, r.manual.length === 0 ? [] : table(
    ['id', 'terminal', 'rrn', 'amount', 'attempts', 'reason', 'queued', 'age', 'why'],
    r.manual.map((m) => [m.id, m.terminal ?? '-', m.rrn ?? '-', money(m.amount, m.currency), String(m.attempts), m.reason, shortIso(m.enqueuedAt), formatAge(m.ageMs), m.lastError ?? '']), [4]));
  section('For review', r.reviews.length === 0 ? [] : table(
    ['id', 'terminal', 'rrn', 'amount', 'class', 'decision'],
    r.reviews.map((v) => [v.id, v.terminal ?? '-', v.rrn ?? '-', money(v.amount, v.currency), v.failureClass ?? '-', v.decision ?? ''])));
  section('Top terminals by exceptions', r.topTerminals.length === 0 ? [] : table(
    ['terminal', 'exceptions', 'amount'], r.topTerminals.map((x) => [x.key, String(x.exceptions), formatAmounts(x.amounts)]), [1]));
  section('Top merchants by exceptions', r.topMerchants.length === 0 ? [] : table(
    ['merchant', 'exceptions', 'amount'], r.topMerchants.map((x) => [x.key, String(x.exceptions), formatAmounts(x.amounts)]), [1]));
  section('Refunds decided in the window (after cutover or the reversal window)', r.refunds.length === 0 ? [] : table(
    ['decided', 'id', 'terminal', 'rrn', 'amount', 'business date', 'decision'],
    r.refunds.map((f) => [shortIso(f.decidedAt), f.id, f.terminal ?? '-', f.rrn ?? '-', money(f.amount, f.currency), f.businessDate ?? '-', f.decision ?? ''])));
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
  rows.push({ section: 'window', key: 'pending_older_than', age_s: secs(r.pendingOlderThanMs) });
  const T = r.totals;
  for (const [k, n] of [['transactions', T.transactions], ['approved', T.approved], ['declined', T.declined], ['exceptions', T.exceptions], ['in_flight', T.inFlight], ['terminal_reversals', T.terminalReversals]] as const) {
    rows.push({ section: 'totals', key: k, count: n });
  }
  for (const c of r.byClass) moneyRows({ section: 'by_class', key: c.class, exception: c.exception }, c.amounts, c.count);
  for (const s of r.reversalsByState) moneyRows({ section: 'reversals_by_state', key: s.state, state: s.state }, s.amounts, s.count);
  for (const p of r.pending.reversals) {
    rows.push({ section: 'pending_reversal', id: p.id, txn_id: p.txnId, state: p.state, attempts: p.attempts, at: p.enqueuedAt, age_s: secs(p.ageMs), detail: p.lastError });
  }
  for (const p of r.pending.transactions) {
    rows.push({ section: 'pending_transaction', id: p.id, terminal: p.terminal, rrn: p.rrn, key: p.stan, ...one(p.amount, p.currency), at: p.createdAt, age_s: secs(p.ageMs) });
  }
  for (const m of r.manual) {
    rows.push({
      section: 'manual', id: m.id, txn_id: m.txnId, terminal: m.terminal, rrn: m.rrn, ...one(m.amount, m.currency), attempts: m.attempts,
      reason: m.reason, at: m.enqueuedAt, age_s: secs(m.ageMs), detail: m.lastError, key: m.upstream,
    });
  }
  for (const v of r.reviews) {
    rows.push({ section: 'review', id: v.id, terminal: v.terminal, merchant: v.merchant, rrn: v.rrn, ...one(v.amount, v.currency), key: v.failureClass, state: v.state, at: v.createdAt, detail: v.decision });
  }
  for (const x of r.topTerminals) moneyRows({ section: 'top_terminal', key: x.key, exception: true }, x.amounts, x.exceptions);
  for (const x of r.topMerchants) moneyRows({ section: 'top_merchant', key: x.key, exception: true }, x.amounts, x.exceptions);
  for (const f of r.refunds) {
    rows.push({ section: 'refund', id: f.id, terminal: f.terminal, merchant: f.merchant, rrn: f.rrn, ...one(f.amount, f.currency), key: f.businessDate, at: f.decidedAt, detail: f.decision });
  }
  const lines = [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))];
  return lines.join('\r\n') + '\r\n';
}
