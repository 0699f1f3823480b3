/**
 * The report's aggregates (./report-query.ts) over the memory store's rows, in JS: the
 * same answers as the SQL of report-sqlite.ts and report-postgres.ts (test/report-bounded
 * holds all three to the report's reference builder).
 */
import { parseAmount } from '../../codec/index.js';
import { txnHistoryField, velocityScopesOf } from './history-notes.js';
import {
  byKey, originalOf, outcomeOf, SCOPE_ORDER, type ReportData, type ReportList, type ReportQuery, type ReportRefund, type ReportSum, type ReportTop,
  type ReportTxn, type ReportUndo, type ReportVelocity,
} from './report-query.js';
import type { HistoryRow, ReversalRow, ReviewRow, TxnRow } from './types.js';

/** The rows, each list in insertion order (history in seq order). */
export interface MemoryRows {
  txns: readonly TxnRow[];
  reversals: readonly ReversalRow[];
  history: readonly HistoryRow[];
  reviews: readonly ReviewRow[];
}

const minor = (s: string | null | undefined): bigint => {
  const n = s == null ? null : parseAmount(s);
  return n === null ? 0n : BigInt(n);
};

class Groups {
  private readonly m = new Map<string, { key: string[]; count: number; minor: bigint }>();

  add(key: string[], n: bigint): void {
    const k = JSON.stringify(key);
    const g = this.m.get(k) ?? { key, count: 0, minor: 0n };
    g.count++;
    g.minor += n;
    this.m.set(k, g);
  }

  rows(): { key: string[]; count: number; minor: string }[] {
    return [...this.m.values()].map((g) => ({ key: g.key, count: g.count, minor: g.minor.toString() }));
  }
}

const cut = <T>(rows: T[], limit: number): ReportList<T> => ({ rows: rows.slice(0, limit), total: rows.length });

export function reportTxn(t: TxnRow): ReportTxn {
  return {
    id: t.id, createdAt: t.createdAt, terminal: t.terminal, merchant: t.merchant, rrn: t.rrn, stan: t.stan, amount: t.amount, currency: t.currency,
    state: t.state, responseCode: t.responseCode, failureClass: t.failureClass, decision: t.decision, businessDate: t.businessDate,
  };
}

function reportUndo(r: ReversalRow): ReportUndo {
  return {
    id: r.id, kind: r.kind ?? 'reversal', txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts, reason: r.reason,
    enqueuedAt: r.enqueuedAt, lastError: r.lastError,
  };
}

function top(txns: readonly TxnRow[], keyOf: (t: TxnRow) => string | null, n: number): ReportTop[] {
  const per = new Map<string, { exceptions: number; sums: Map<string, ReportSum & { m: bigint }> }>();
  for (const t of txns) {
    const key = keyOf(t) ?? '(none)';
    const e = per.get(key) ?? { exceptions: 0, sums: new Map() };
    e.exceptions++;
    const cur = t.currency ?? '';
    const s = e.sums.get(cur) ?? { currency: cur, count: 0, minor: '0', m: 0n };
    s.count++;
    s.m += minor(t.amount);
    e.sums.set(cur, s);
    per.set(key, e);
  }
  return [...per.entries()]
    .sort(([ka, a], [kb, b]) => b.exceptions - a.exceptions || byKey(ka, kb))
    .slice(0, n)
    .map(([key, e]) => ({ key, exceptions: e.exceptions, amounts: [...e.sums.values()].map((s) => ({ currency: s.currency, count: s.count, minor: s.m.toString() })) }));
}

export function memoryReport(rows: MemoryRows, q: ReportQuery): ReportData {
  const byId = new Map(rows.txns.map((t) => [t.id, t]));
  const inWindow = (at: number): boolean => at >= q.since && at < q.until;
  const window = rows.txns.filter((t) => inWindow(t.createdAt)).sort((a, b) => a.createdAt - b.createdAt);
  const byCreated = (a: TxnRow, b: TxnRow): number => a.createdAt - b.createdAt;
  const byQueued = (a: ReversalRow, b: ReversalRow): number => a.enqueuedAt - b.enqueuedAt;

  const outcomes = new Groups();
  const exceptions: TxnRow[] = [];
  for (const t of window) {
    const o = outcomeOf(t, q.now, q.pendingOlderThanMs);
    outcomes.add([o, t.failureClass ?? t.state, t.currency ?? ''], minor(t.amount));
    if (o === 'exception') exceptions.push(t);
  }
  const undos = new Groups();
  for (const r of rows.reversals) {
    if (!inWindow(r.enqueuedAt)) continue;
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    const kind = r.kind === 'refund' ? 'refund' : 'reversal';
    const back = minor(t?.amount) - minor(r.finalAmount);
    undos.add([kind, r.state, t?.currency ?? ''], kind === 'refund' ? minor(r.amount ?? t?.amount) : back < 0n ? 0n : back);
  }

  const old = q.now - q.pendingOlderThanMs;
  const manual = rows.reversals.filter((r) => r.state === 'manual').sort(byQueued).map((r) => {
    const t = r.txnId === null ? undefined : byId.get(r.txnId);
    return { ...reportUndo(r), terminal: t?.terminal ?? null, rrn: t?.rrn ?? null, amount: r.kind === 'refund' ? r.amount ?? null : t?.amount ?? null, currency: t?.currency ?? null };
  });

  return {
    outcomes: outcomes.rows().map((g) => ({ outcome: g.key[0] as ReportData['outcomes'][number]['outcome'], cls: g.key[1], currency: g.key[2], count: g.count, minor: g.minor })),
    undos: undos.rows().map((g) => ({ kind: g.key[0] as 'reversal' | 'refund', state: g.key[1], currency: g.key[2], count: g.count, minor: g.minor })),
    topTerminals: top(exceptions, (t) => t.terminal, q.top),
    topMerchants: top(exceptions, (t) => t.merchant, q.top),
    reviews: cut(window.filter((t) => t.state !== 'terminal_reversal' && (t.decision ?? '').startsWith('review')).map(reportTxn), q.limit),
    pendingReversals: cut(rows.reversals.filter((r) => (r.state === 'pending' || r.state === 'sent') && r.enqueuedAt <= old).sort(byQueued).map(reportUndo), q.limit),
    pendingTxns: cut(rows.txns.filter((t) => t.state === 'forwarded' && t.createdAt <= old).sort(byCreated).map(reportTxn), q.limit),
    manual: cut(manual, q.limit),
    openReviews: cut(rows.reviews.filter((v) => v.state === 'open').sort((a, b) => a.createdAt - b.createdAt)
      .map((v) => ({ id: v.id, txnId: v.txnId, proposed: v.proposed, amount: v.amount, createdAt: v.createdAt, why: v.why })), q.limit),
    refunds: cut(refunds(rows.history.filter((h) => inWindow(h.at)), byId), q.limit),
    velocity: cut(velocity(rows.history.filter((h) => inWindow(h.at)), byId), q.limit),
  };
}

function refunds(history: readonly HistoryRow[], byId: ReadonlyMap<string, TxnRow>): ReportRefund[] {
  // Map order is the first decision's; the value is the last one's.
  const decided = new Map<string, { at: number; decision: string }>();
  for (const h of history) {
    const d = txnHistoryField(h, 'decision');
    if (d !== null && d.startsWith('refund')) decided.set(h.ref, { at: h.at, decision: d });
  }
  const out: ReportRefund[] = [];
  for (const [id, d] of decided) {
    const t = byId.get(id);
    if (t === undefined) continue;
    const orig = originalOf(t.state, t.decision);
    if (orig !== null && (decided.has(orig) || byId.has(orig))) continue;
    out.push({ ...reportTxn(t), decidedAt: d.at, refundDecision: d.decision });
  }
  return out.sort((a, b) => a.decidedAt - b.decidedAt);
}

function velocity(history: readonly HistoryRow[], byId: ReadonlyMap<string, TxnRow>): ReportVelocity[] {
  const lines = new Map<string, ReportVelocity>();
  for (const h of history) {
    const note = txnHistoryField(h, 'note');
    const scopes = note === null ? null : velocityScopesOf(note);
    if (scopes === null) continue;
    const t = byId.get(h.ref);
    for (const scope of scopes) {
      const key = (scope === 'terminal' ? t?.terminal : scope === 'merchant' ? t?.merchant : t?.panMasked) ?? '(none)';
      const line = lines.get(`${scope}|${key}`) ?? { scope, key, alerts: 0, last: h.at };
      line.alerts++;
      line.last = Math.max(line.last, h.at);
      lines.set(`${scope}|${key}`, line);
    }
  }
  return [...lines.values()]
    .sort((a, b) => b.alerts - a.alerts || SCOPE_ORDER.indexOf(a.scope) - SCOPE_ORDER.indexOf(b.scope) || byKey(a.key, b.key));
}
