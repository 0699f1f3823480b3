/**
 * Exceptions: the exception report (GET /api/report) for a chosen window, one table per
 * section, each downloadable as CSV built here from what is shown.
 */
import { useState } from 'preact/hooks';
import { errorText, getJson } from './api.js';
import { toCsv, type Column } from './csv.js';
import { download } from './download.js';
import { age, amounts, money, time } from './format.js';
import type { Amount, Report, Row } from './types.js';

const WINDOWS = [
  { value: '1h', label: 'last hour' },
  { value: '24h', label: 'last 24 hours' },
  { value: 'today', label: 'today (since midnight UTC)' },
  { value: '7d', label: 'last 7 days' },
  { value: 'custom', label: 'custom…' },
] as const;

const str = (k: string) => (r: Row): string | number | null => {
  const v = r[k];
  return typeof v === 'string' || typeof v === 'number' ? v : v === null || v === undefined ? null : JSON.stringify(v);
};
const sums = (k: string) => (r: Row): string => amounts(r[k] as Amount[] | undefined);
const txnMoney = (r: Row): string => money(r.amount as string | null, r.currency as string | null);
const ageOf = (r: Row): string => (typeof r.ageMs === 'number' ? age(r.ageMs) : '-');

const TXN: Column<Row>[] = [
  { title: 'created', value: (r) => time(r.createdAt as string) }, { title: 'id', value: str('id') }, { title: 'terminal', value: str('terminal') },
  { title: 'stan', value: str('stan') }, { title: 'rrn', value: str('rrn') }, { title: 'amount', value: txnMoney }, { title: 'state', value: str('state') },
  { title: 'response', value: str('responseCode') }, { title: 'class', value: str('failureClass') }, { title: 'decision', value: str('decision') },
];

interface SectionDef {
  key: string;
  title: string;
  rows: (r: Report) => Row[];
  columns: Column<Row>[];
  total?: (r: Report) => number;
}

const SECTIONS: SectionDef[] = [
  { key: 'by-class', title: 'Transactions by class', rows: (r) => r.byClass, columns: [
    { title: 'class', value: str('class') }, { title: 'exception', value: (x) => (x.exception ? 'yes' : 'no') }, { title: 'count', value: str('count') }, { title: 'amounts', value: sums('amounts') },
  ] },
  { key: 'reversals-by-state', title: 'Reversals by state', rows: (r) => r.reversalsByState, columns: [
    { title: 'state', value: str('state') }, { title: 'count', value: str('count') }, { title: 'amounts', value: sums('amounts') },
  ] },
  { key: 'refunds-by-state', title: 'Refunds by state', rows: (r) => r.refundsByState, columns: [
    { title: 'state', value: str('state') }, { title: 'count', value: str('count') }, { title: 'amounts', value: sums('amounts') },
  ] },
  { key: 'manual', title: 'Manual queue (now)', rows: (r) => r.manual, total: (r) => r.totalRows.manual, columns: [
    { title: 'age', value: ageOf }, { title: 'kind', value: str('kind') }, { title: 'id', value: str('id') }, { title: 'why', value: str('lastError') },
    { title: 'terminal', value: str('terminal') }, { title: 'rrn', value: str('rrn') }, { title: 'amount', value: txnMoney }, { title: 'attempts', value: str('attempts') },
  ] },
  { key: 'pending-reversals', title: 'Reversals and refunds pending (now, older than the pending age)', rows: (r) => r.pending.reversals, total: (r) => r.totalRows.pendingReversals, columns: [
    { title: 'age', value: ageOf }, { title: 'kind', value: str('kind') }, { title: 'id', value: str('id') }, { title: 'state', value: str('state') },
    { title: 'upstream', value: str('upstream') }, { title: 'attempts', value: str('attempts') }, { title: 'last error', value: str('lastError') },
  ] },
  { key: 'pending-transactions', title: 'Transactions still forwarded (now)', rows: (r) => r.pending.transactions, total: (r) => r.totalRows.pendingTransactions, columns: [
    { title: 'age', value: ageOf }, { title: 'id', value: str('id') }, { title: 'terminal', value: str('terminal') }, { title: 'stan', value: str('stan') },
    { title: 'rrn', value: str('rrn') }, { title: 'amount', value: txnMoney },
  ] },
  { key: 'open-reviews', title: 'Open review items (now)', rows: (r) => r.openReviews, total: (r) => r.totalRows.openReviews, columns: [
    { title: 'age', value: ageOf }, { title: 'id', value: str('id') }, { title: 'proposed', value: str('proposed') }, { title: 'why', value: str('why') },
  ] },
  { key: 'reviews', title: 'Transactions sent to review', rows: (r) => r.reviews, total: (r) => r.totalRows.reviews, columns: TXN },
  { key: 'refunds', title: 'Refund decisions', rows: (r) => r.refunds, total: (r) => r.totalRows.refunds, columns: [
    { title: 'decided', value: (x) => time(x.decidedAt as string) }, ...TXN.slice(1),
  ] },
  { key: 'top-terminals', title: 'Top terminals by exceptions', rows: (r) => r.topTerminals, columns: [
    { title: 'terminal', value: str('key') }, { title: 'exceptions', value: str('exceptions') }, { title: 'amounts', value: sums('amounts') },
  ] },
  { key: 'top-merchants', title: 'Top merchants by exceptions', rows: (r) => r.topMerchants, columns: [
    { title: 'merchant', value: str('key') }, { title: 'exceptions', value: str('exceptions') }, { title: 'amounts', value: sums('amounts') },
  ] },
  { key: 'velocity-alerts', title: 'Velocity alerts', rows: (r) => r.velocityAlerts, total: (r) => r.totalRows.velocityAlerts, columns: [
    { title: 'scope', value: str('scope') }, { title: 'key', value: str('key') }, { title: 'alerts', value: str('alerts') }, { title: 'last', value: (x) => time(x.last as string) },
  ] },
];

function Section({ def, report }: { def: SectionDef; report: Report }) {
  const rows = def.rows(report);
  const total = def.total?.(report) ?? rows.length;
  const file = `revswitch-${def.key}-${report.since.slice(0, 16)}--${report.until.slice(0, 16)}.csv`.replace(/:/g, '');
  return (
    <div data-testid={`section-${def.key}`} data-rows={String(rows.length)}>
      <div class="section-head">
        <h2>{def.title}</h2>
        <span class="muted">{total === rows.length ? `${rows.length}` : `${rows.length} of ${total}`}</span>
        {rows.length === 0 ? null : <button class="secondary" type="button" data-testid={`csv-${def.key}`} onClick={() => download(file, toCsv(def.columns, rows))}>CSV</button>}
      </div>
      {rows.length === 0 ? <p class="muted">none</p> : (
        <table>
          <thead><tr>{def.columns.map((c) => <th key={c.title}>{c.title}</th>)}</tr></thead>
          <tbody>{rows.map((r, i) => <tr key={i}>{def.columns.map((c) => <td key={c.title}>{c.value(r) ?? '-'}</td>)}</tr>)}</tbody>
        </table>
      )}
    </div>
  );
}

export function ExceptionsPage() {
  const [win, setWin] = useState<string>('24h');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (e: Event): Promise<void> => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (win === 'custom') {
      if (since.trim() !== '') q.set('since', since.trim());
      if (until.trim() !== '') q.set('until', until.trim());
    } else q.set('since', win);
    setBusy(true);
    setError(null);
    try {
      setReport(await getJson<Report>(`/api/report?${q.toString()}`));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const t = report?.totals;
  return (
    <section>
      <h1>Exceptions</h1>
      <form class="inline" onSubmit={(e) => void load(e)} data-testid="report-form">
        <label>Window
          <select name="window" value={win} onChange={(e) => setWin((e.currentTarget as HTMLSelectElement).value)}>
            {WINDOWS.map((w) => <option key={w.value} value={w.value}>{w.label}</option>)}
          </select>
        </label>
        {win !== 'custom' ? null : <>
          <label>Since (ISO 8601 or an age like 24h)<input name="since" value={since} onInput={(e) => setSince((e.currentTarget as HTMLInputElement).value)} /></label>
          <label>Until<input name="until" value={until} onInput={(e) => setUntil((e.currentTarget as HTMLInputElement).value)} placeholder="now" /></label>
        </>}
        <button type="submit" disabled={busy}>{busy ? 'Running…' : 'Run report'}</button>
      </form>
      {error === null ? null : <p class="error" data-testid="report-error">{error}</p>}
      {report === null || t === undefined ? null : (
        <div data-testid="report">
          <p class="muted">{time(report.since)} to {time(report.until)} · generated {time(report.generatedAt)}{report.truncated ? ` · lists cut at ${report.limit} entries` : ''}</p>
          <div class="tiles">
            <div class="tile" data-testid="report-transactions" data-value={String(t.transactions)}><div class="label">Transactions</div><div class="value">{t.transactions}</div><div class="sub">{amounts(t.amounts)}</div></div>
            <div class="tile"><div class="label">Approved</div><div class="value">{t.approved}</div></div>
            <div class="tile"><div class="label">Declined</div><div class="value">{t.declined}</div></div>
            <div class="tile" data-testid="report-exceptions" data-value={String(t.exceptions)}><div class="label">Exceptions</div><div class="value">{t.exceptions}</div><div class="sub">{amounts(t.exceptionAmounts)}</div></div>
            <div class="tile"><div class="label">In flight</div><div class="value">{t.inFlight}</div></div>
            <div class="tile"><div class="label">Terminal reversals</div><div class="value">{t.terminalReversals}</div></div>
          </div>
          {SECTIONS.map((d) => <Section key={d.key} def={d} report={report} />)}
        </div>
      )}
    </section>
  );
}
