/**
 * The two queues a person works: the manual queue (reversals and refunds the switch gave
 * up on: GET /api/manual) and the review queue (decisions rules/ left to a person:
 * GET /api/review), with approve or reject and a note. A decision needs the admin bearer
 * token (./token.ts), asked for here once per tab; the server says who decided by the
 * token's name.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorText, getJson, postJson } from './api.js';
import { age, money, time } from './format.js';
import { adminToken, setAdminToken } from './token.js';
import type { ManualLine, ReviewItem } from './types.js';

function useLoad<T>(path: string): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let stopped = false;
    getJson<T>(path).then((d) => { if (!stopped) { setData(d); setError(null); } }, (e: unknown) => { if (!stopped) setError(errorText(e)); });
    return () => { stopped = true; };
  }, [path, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function ManualPage() {
  const { data, error, reload } = useLoad<{ count: number; reversals: ManualLine[]; truncated: boolean }>('/api/manual');
  return (
    <section>
      <div class="section-head"><h1>Manual queue</h1><button class="secondary" type="button" onClick={reload}>Refresh</button></div>
      <p class="muted">Reversals and refunds the switch stopped retrying: each needs a person (settle with the issuer, then <code>revswitch manual resolve</code>).</p>
      {error === null ? null : <p class="error">{error}</p>}
      {data === null ? null : data.reversals.length === 0 ? <p data-testid="manual-empty">The manual queue is empty.</p> : (
        <table data-testid="manual-table">
          <thead><tr><th>Age</th><th>Kind</th><th>Why</th><th>Terminal</th><th>RRN</th><th class="num">Amount</th><th>Upstream</th><th class="num">Attempts</th><th>Transaction</th></tr></thead>
          <tbody>
            {data.reversals.map((m) => (
              <tr key={m.id} data-testid="manual-row">
                <td title={time(m.enqueuedAt)}>{age(m.ageMs)}</td><td>{m.kind}</td><td>{m.lastError ?? '-'}</td><td>{m.terminal ?? '-'}</td><td>{m.rrn ?? '-'}</td>
                <td class="num">{money(m.amount, m.currency)}</td><td>{m.upstream}</td><td class="num">{m.attempts}</td>
                <td>{m.txnId === null ? '-' : <a href={`#/txn/${encodeURIComponent(m.txnId)}`}>{m.txnId}</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data?.truncated ? <p class="warn">Showing {data.reversals.length} of {data.count}.</p> : null}
    </section>
  );
}

/** The token field: asked once, kept in sessionStorage only. */
function TokenForm({ onChange }: { onChange: () => void }) {
  const [draft, setDraft] = useState('');
  const has = adminToken() !== null;
  if (has) {
    return (
      <p data-testid="token-set">Admin token set for this tab. <button class="secondary" type="button" onClick={() => { setAdminToken(null); onChange(); }}>Forget it</button></p>
    );
  }
  return (
    <form class="inline" data-testid="token-form" onSubmit={(e) => { e.preventDefault(); setAdminToken(draft); setDraft(''); onChange(); }}>
      <label>Admin token (needed to decide; kept in this tab only)
        <input type="password" name="token" autocomplete="off" value={draft} onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)} size={40} />
      </label>
      <button type="submit" disabled={draft.trim() === ''}>Use token</button>
    </form>
  );
}

function Decide({ item, onDone, onTokenRefused }: { item: ReviewItem; onDone: (msg: string) => void; onTokenRefused: (msg: string) => void }) {
  const [note, setNote] = useState('');
  const [action, setAction] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const decide = async (verdict: 'approve' | 'reject'): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const body = verdict === 'approve' && action !== '' ? { note, action } : { note };
      const r = await postJson<{ state: string; by: string; action?: string; undoId?: string | null }>(`/api/review/${encodeURIComponent(item.id)}/${verdict}`, body);
      onDone(`${item.id} ${r.state} by ${r.by}${r.action ? ` (${r.action}${r.undoId ? `: ${r.undoId} queued` : ''})` : ''}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        // A wrong token must not stay and be sent again with every call.
        setAdminToken(null);
        onTokenRefused(`The token was refused (${e.message}): enter it again.`);
      } else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const can = !busy && note.trim() !== '' && adminToken() !== null;
  return (
    <div class="decide">
      <label>Note (why; goes into the history)<textarea name="note" value={note} onInput={(e) => setNote((e.currentTarget as HTMLTextAreaElement).value)} /></label>
      <label>Action on approval
        <select name="action" value={action} onChange={(e) => setAction((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">as rules decide ({item.proposed})</option>
          <option value="reverse">reverse</option>
          <option value="refund">refund</option>
          <option value="none">none</option>
        </select>
      </label>
      <button type="button" disabled={!can} onClick={() => void decide('approve')} data-testid="approve">Approve</button>
      <button type="button" class="danger" disabled={!can} onClick={() => void decide('reject')} data-testid="reject">Reject</button>
      {error === null ? null : <span class="error" data-testid="decide-error">{error}</span>}
    </div>
  );
}

export function ReviewPage() {
  const [state, setState] = useState('open');
  const { data, error, reload } = useLoad<{ count: number; items: ReviewItem[] }>(`/api/review?state=${state}`);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const [, setTokenGen] = useState(0);
  const tokenChanged = (): void => setTokenGen((n) => n + 1);
  const now = Date.now();
  return (
    <section>
      <div class="section-head">
        <h1>Review queue</h1>
        <select value={state} onChange={(e) => setState((e.currentTarget as HTMLSelectElement).value)} data-testid="review-state">
          <option value="open">open</option><option value="approved">approved</option><option value="rejected">rejected</option>
        </select>
        <button class="secondary" type="button" onClick={reload}>Refresh</button>
      </div>
      <TokenForm onChange={tokenChanged} />
      {message === null ? null : <p class={message.bad ? 'error' : 'ok'} data-testid="review-message">{message.text}</p>}
      {error === null ? null : <p class="error">{error}</p>}
      {data === null ? null : data.items.length === 0 ? <p data-testid="review-empty">No {state} review items.</p> : data.items.map((it) => (
        <div class="card" key={it.id} data-testid="review-item" data-id={it.id}>
          <div><strong>{it.id}</strong> <span class="muted">opened {time(it.createdAt)}, {age(now - it.createdAt)} ago</span></div>
          <div>Why: {it.why}</div>
          <div class="muted">
            proposes {it.proposed}{it.amount === null ? '' : ` of ${money(it.amount, null)}`}{it.reason === null ? '' : `, reason ${it.reason}`} ·
            transaction <a href={`#/txn/${encodeURIComponent(it.txnId)}`}>{it.txnId}</a>
          </div>
          {it.state === 'open' ? (
            <Decide item={it} onDone={(text) => { setMessage({ text, bad: false }); reload(); }}
              onTokenRefused={(text) => { setMessage({ text, bad: true }); tokenChanged(); }} />
          ) : (
            <div>{it.state} by {it.decidedBy ?? '?'} at {time(it.decidedAt)}{it.action ? ` (${it.action})` : ''}: {it.note ?? ''}{it.undoId ? ` · ${it.undoId}` : ''}</div>
          )}
        </div>
      ))}
    </section>
  );
}
