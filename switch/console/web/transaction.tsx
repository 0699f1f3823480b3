/**
 * Transaction: find a sale by RRN, or terminal + STAN (optionally the business date), and
 * show its evidence as the API gives it (GET /api/transactions, /api/transactions/ID):
 * the journal row with the masked PAN only, its reversal or refund, and every state
 * change of them in time order with the decision, rule and attempt each carries.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, getJson } from './api.js';
import { money, time } from './format.js';
import type { Evidence, EvidenceEntry, EvidenceTxn, TxnSearch } from './types.js';

type Found = { kind: 'none' } | { kind: 'many'; txns: EvidenceTxn[] } | { kind: 'one'; evidence: Evidence };

function Field({ label, value }: { label: string; value: string | null | undefined }) {
  return <div><span>{label}</span><span>{value === null || value === undefined || value === '' ? '-' : value}</span></div>;
}

function detailText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One state change: what happened, then every detail the switch wrote with it. */
function Entry({ e }: { e: EvidenceEntry }) {
  const detail = e.detail;
  return (
    <li class={`role-${e.role.replace(/\s+/g, '-')}`} data-testid="timeline-entry" data-role={e.role} data-state={e.state}>
      <div class="when">{time(e.at)}</div>
      <div class="what">{e.role}: {e.state}</div>
      {detail === null ? null : typeof detail === 'string' ? <div>{detail}</div> : (
        <dl>
          {Object.entries(detail).map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`}>{detailText(v)}</dd>])}
        </dl>
      )}
    </li>
  );
}

function EvidenceView({ ev }: { ev: Evidence }) {
  const t = ev.txn;
  const r = ev.reversal;
  return (
    <div data-testid="evidence">
      <h2>Transaction {t.id}</h2>
      <div class="facts">
        <Field label="MTI" value={t.mti} />
        <Field label="Card" value={t.panMasked} />
        <Field label="Amount" value={money(t.amount, t.currency)} />
        <Field label="Terminal" value={t.terminal} />
        <Field label="Merchant" value={t.merchant} />
        <Field label="STAN" value={t.stan} />
        <Field label="RRN" value={t.rrn} />
        <Field label="Business date" value={t.businessDate} />
        <Field label="Upstream" value={t.upstream} />
        <Field label="State" value={t.state} />
        <Field label="Response" value={t.responseCode} />
        <Field label="Approval code" value={t.approvalCode} />
        <Field label="Failure class" value={t.failureClass} />
        <Field label="Created" value={time(t.createdAt)} />
      </div>
      {t.decision === null ? null : <p><strong>Decision:</strong> {t.decision}</p>}
      {r === null ? null : (
        <div class="card" data-testid="evidence-undo" data-state={r.state}>
          <strong>{r.kind === 'refund' ? 'Refund' : 'Reversal'} {r.id}</strong>: {r.state}, {r.attempts} attempt{r.attempts === 1 ? '' : 's'} to {r.upstream}
          {r.kind === 'refund' ? `, ${money(r.amount, t.currency)}` : `, reason ${r.reason}`}
          <div class="muted">{r.explanation}</div>
          {r.lastError === null ? null : <div class="warn">last error: {r.lastError}</div>}
          {r.note === null ? null : <div>note: {r.note}</div>}
        </div>
      )}
      {ev.terminalReversals.length === 0 ? null : <p>Reversals sent by the terminal: {ev.terminalReversals.map((x) => `${x.id} (${x.state})`).join(', ')}</p>}
      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        {ev.history.map((e) => <Entry key={`${e.ref}-${e.seq}`} e={e} />)}
      </ol>
    </div>
  );
}

export function TransactionPage({ id }: { id?: string }) {
  const [rrn, setRrn] = useState('');
  const [terminal, setTerminal] = useState('');
  const [stan, setStan] = useState('');
  const [date, setDate] = useState('');
  const [found, setFound] = useState<Found | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (path: string): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      if (path.startsWith('/api/transactions/')) {
        setFound({ kind: 'one', evidence: await getJson<Evidence>(path) });
      } else {
        const r = await getJson<TxnSearch>(path);
        setFound(r.count === 0 ? { kind: 'none' } : r.evidence !== undefined ? { kind: 'one', evidence: r.evidence } : { kind: 'many', txns: r.transactions });
      }
    } catch (e) {
      setFound(null);
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (id !== undefined && id !== '') void run(`/api/transactions/${encodeURIComponent(id)}`);
  }, [id]);

  const search = (e: Event): void => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (rrn.trim() !== '') q.set('rrn', rrn.trim());
    else {
      q.set('terminal', terminal.trim());
      q.set('stan', stan.trim());
    }
    if (date.trim() !== '') q.set('date', date.trim());
    if (location.hash !== '#/txn') location.hash = '#/txn';
    void run(`/api/transactions?${q.toString()}`);
  };

  const value = (set: (v: string) => void) => (e: Event): void => set((e.currentTarget as HTMLInputElement).value);
  return (
    <section>
      <h1>Transaction</h1>
      <form class="inline" onSubmit={search} data-testid="txn-search">
        <label>RRN (F37)<input name="rrn" value={rrn} onInput={value(setRrn)} size={14} /></label>
        <span class="muted">or</span>
        <label>Terminal (F41)<input name="terminal" value={terminal} onInput={value(setTerminal)} size={10} /></label>
        <label>STAN (F11)<input name="stan" value={stan} onInput={value(setStan)} size={8} /></label>
        <label>Business date<input name="date" value={date} onInput={value(setDate)} placeholder="YYYY-MM-DD" size={11} /></label>
        <button type="submit" disabled={busy || (rrn.trim() === '' && (terminal.trim() === '' || stan.trim() === ''))}>Search</button>
      </form>
      {error === null ? null : <p class="error" data-testid="txn-error">{error}</p>}
      {found === null ? null : found.kind === 'none' ? <p data-testid="txn-none">No transaction found.</p> : found.kind === 'many' ? (
        <div>
          <p>{found.txns.length} transactions match; pick one:</p>
          <table>
            <thead><tr><th>Created</th><th>Id</th><th>Terminal</th><th>STAN</th><th>RRN</th><th>Card</th><th class="num">Amount</th><th>State</th></tr></thead>
            <tbody>
              {found.txns.map((t) => (
                <tr key={t.id}>
                  <td>{time(t.createdAt)}</td><td><a href={`#/txn/${encodeURIComponent(t.id)}`}>{t.id}</a></td><td>{t.terminal ?? '-'}</td><td>{t.stan}</td>
                  <td>{t.rrn ?? '-'}</td><td>{t.panMasked ?? '-'}</td><td class="num">{money(t.amount, t.currency)}</td><td>{t.state}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <EvidenceView ev={found.evidence} />}
    </section>
  );
}
