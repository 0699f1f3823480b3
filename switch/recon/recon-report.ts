/**
 * The reconciliation report: text for a person (totals per class and currency, then each
 * difference with its evidence ids and fix), JSON, and CSV of the differences for --out.
 * Amounts are minor units, exact (sums are bigint), as the exception report gives them.
 */
import type { ReconLine } from './classes.js';
import type { ApplyOutcome } from './apply.js';
import type { ClassTotal, ReconResult } from './reconcile.js';

export const CSV_HEADER = 'class,currency,txn_id,undo_id,undo_state,journal_state,rrn,terminal,stan,f7,journal_amount,file_amount,file_lines,action,action_amount,why';

function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(l: ReconLine): string {
  return [l.cls, l.currency, l.txnId, l.undoId, l.undoState, l.state, l.rrn, l.terminal, l.stan, l.f7, l.journalAmount, l.fileAmount, l.fileLines.join(' '),
    l.action, l.actionAmount, l.why].map(csvField).join(',');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

export function totalsTable(totals: readonly ClassTotal[]): string {
  const head = ['class', 'currency', 'journal rows', 'file records', 'journal amount', 'file amount'];
  const rows = totals.map((t) => [t.cls, t.currency || '-', String(t.journalRows), String(t.fileRecords), t.journalAmount.toString(), t.fileAmount.toString()]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i < 2 ? pad(c, w[i]) : lpad(c, w[i]))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

export function describeLine(l: ReconLine): string {
  const ev = [l.txnId ? `txn ${l.txnId}` : null, l.undoId ? `${l.undoId.startsWith('refund|') ? 'refund' : 'reversal'} ${l.undoId} (${l.undoState ?? '?'})` : null]
    .filter((x) => x !== null).join(', ');
  const fix = l.action === 'refund' ? `refund ${l.actionAmount ?? ''}` : l.action === 'review' ? (l.actionAmount !== null ? `review (refund ${l.actionAmount})` : 'review') : 'none';
  return `${l.cls}  ${l.currency || '-'}  rrn ${l.rrn || '-'} terminal ${l.terminal || '-'} stan ${l.stan || '-'} f7 ${l.f7 || '-'}  ` +
    `journal ${l.journalAmount ?? '-'} file ${l.fileAmount ?? '-'}  line ${l.fileLines.join(',') || '-'}${ev ? `  [${ev}]` : ''}\n    -> ${fix}: ${l.why}`;
}

export function header(r: ReconResult): string {
  return [
    `reconciliation ${r.runId}`,
    `business date ${r.businessDate}, upstream ${r.upstream ?? 'all'}; file ${r.file.path} (${r.format}, ${r.records} records, sha256 ${r.file.sha256}); journal ${r.journalRows} rows`,
    `${r.differences} difference(s); amounts in minor units; ${(r.elapsedMs / 1000).toFixed(1)} s`,
  ].join('\n');
}

export function applySummary(a: ApplyOutcome | null): string {
  if (a === null) return 'nothing applied (dry run): --apply queues the refunds and review items above';
  return `applied: ${a.refundsQueued} refund(s) queued (${a.refundsExisting} already in the queue), ${a.reviewsQueued} review item(s) raised (${a.reviewsExisting} already open or decided)`;
}

/** What --json prints: the totals as strings (exact), and the first `limit` differences. */
export function reportJson(r: ReconResult, lines: ReconLine[], truncated: boolean, applied: ApplyOutcome | null): unknown {
  return {
    runId: r.runId, businessDate: r.businessDate, upstream: r.upstream, file: r.file, format: r.format, records: r.records, journalRows: r.journalRows,
    totals: r.totals.map((t) => ({ ...t, journalAmount: t.journalAmount.toString(), fileAmount: t.fileAmount.toString() })),
    differences: r.differences, lines, truncated,
    applied: applied === null ? null : { ...applied, applied: applied.applied.map((x) => ({ kind: x.kind, id: x.id, created: x.created, cls: x.line.cls, txnId: x.line.txnId })) },
    elapsedMs: Math.round(r.elapsedMs),
    phasesMs: Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [k, Math.round(v)])),
  };
}

/** The counts recorded with a run: per class and currency, amounts as strings. */
export function countsJson(r: ReconResult): string {
  return JSON.stringify(r.totals.map((t) => ({ cls: t.cls, currency: t.currency, journalRows: t.journalRows, fileRecords: t.fileRecords,
    journalAmount: t.journalAmount.toString(), fileAmount: t.fileAmount.toString() })));
}
