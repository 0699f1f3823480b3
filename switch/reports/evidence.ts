/**
 * The evidence for one transaction (`revswitch txn`, `GET /api/transactions/...`): its
 * journal row with the masked PAN only, and every state change of it, of its reversal and
 * of any reversal the terminal sent for it, in time order, each with the decision and
 * the rule's explanation the switch wrote. What a bank or a cardholder is shown.
 *
 * Never shown: the sealed message, the PAN's keyed hash, the sealed reversal.
 */
import { parseAmount } from '../../codec/index.js';
import type { HistoryRow, ReversalRow, Store, TxnQuery, TxnRow } from '../store/types.js';
import { formatMinor } from './format-report.js';
import { originalOf } from './report.js';
import { table } from './table.js';
import { isoTime as iso } from './time.js';

/** A journal row without its sealed message, PAN hash or duplicate key; times as ISO text; the approval code always there (null when none), so the JSON carries it. */
export type EvidenceTxn = Omit<TxnRow, 'sealed' | 'panHash' | 'dupKey' | 'createdAt' | 'updatedAt' | 'approvalCode'> & { approvalCode: string | null; createdAt: string; updatedAt: string };

/** A reversal row without the sealed original and message. */
export interface EvidenceReversal {
  id: string;
  /** reversal, or refund (the undo once the sale's business day had closed). */
  kind: string;
  /** What a refund credits (n12); null for a reversal. */
  amount: string | null;
  txnId: string | null;
  upstream: string;
  state: string;
  attempts: number;
  reason: string;
  finalAmount: string | null;
  explanation: string;
  sentStan: string | null;
  enqueuedAt: string;
  lastError: string | null;
  note: string | null;
  updatedAt: string;
}

export interface EvidenceEntry {
  at: string;
  seq: number;
  kind: HistoryRow['kind'];
  /** Which row: the transaction, its reversal, or a terminal's reversal record. */
  ref: string;
  role: 'transaction' | 'reversal' | 'terminal reversal';
  state: string;
  /** The history detail, parsed when it is JSON (responseCode, failureClass, decision, note...). */
  detail: Record<string, unknown> | string | null;
}

export interface Evidence {
  txn: EvidenceTxn;
  reversal: EvidenceReversal | null;
  /** Reversals the terminal sent for this transaction (their own journal rows). */
  terminalReversals: EvidenceTxn[];
  history: EvidenceEntry[];
}

export type Lookup =
  | { found: 'none' }
  | { found: 'one'; evidence: Evidence }
  | { found: 'many'; candidates: EvidenceTxn[] };

export function evidenceTxn(t: TxnRow): EvidenceTxn {
  return {
    id: t.id, node: t.node, listener: t.listener, sender: t.sender, terminal: t.terminal, merchant: t.merchant, acquirer: t.acquirer,
    mti: t.mti, stan: t.stan, f7: t.f7, rrn: t.rrn, amount: t.amount, currency: t.currency, panMasked: t.panMasked,
    businessDate: t.businessDate, upstream: t.upstream, upstreamStan: t.upstreamStan, state: t.state, responseCode: t.responseCode,
    approvalCode: t.approvalCode ?? null, failureClass: t.failureClass, decision: t.decision, reversalId: t.reversalId, createdAt: iso(t.createdAt), updatedAt: iso(t.updatedAt),
  };
}

function evidenceReversal(r: ReversalRow): EvidenceReversal {
  return {
    id: r.id, kind: r.kind ?? 'reversal', amount: r.amount ?? null, txnId: r.txnId, upstream: r.upstream, state: r.state, attempts: r.attempts,
    reason: r.reason, finalAmount: r.finalAmount,
    explanation: r.explanation, sentStan: r.sentStan, enqueuedAt: iso(r.enqueuedAt), lastError: r.lastError, note: r.note,
    updatedAt: iso(r.updatedAt),
  };
}

function parseDetail(d: string | null): Record<string, unknown> | string | null {
  if (d === null || !d.startsWith('{')) return d;
  try {
    const v: unknown = JSON.parse(d);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : d;
  } catch {
    return d;
  }
}

/** Every history row of the transaction, its reversal and the terminal's reversals, by time (then write order). */
export function mergeHistory(parts: { role: EvidenceEntry['role']; rows: readonly HistoryRow[] }[]): EvidenceEntry[] {
  const all: (EvidenceEntry & { ms: number })[] = [];
  for (const p of parts) {
    for (const h of p.rows) all.push({ ms: h.at, at: iso(h.at), seq: h.seq, kind: h.kind, ref: h.ref, role: p.role, state: h.state, detail: parseDetail(h.detail) });
  }
  all.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  return all.map(({ ms: _ms, ...e }) => e);
}

/** The evidence of a transaction row (a terminal's reversal record is shown as part of its original's). */
export async function evidenceOf(store: Store, t: TxnRow): Promise<Evidence> {
  const reversal = t.reversalId === null ? undefined : await store.reversal(t.reversalId);
  // A terminal's reversal carries the sale's RRN and terminal; its decision names the original.
  const near = t.terminal === null ? [] : await store.findTxns(t.rrn !== null ? { rrn: t.rrn, terminal: t.terminal } : { terminal: t.terminal, businessDate: t.businessDate ?? undefined });
  const terminalRevs = near.filter((x) => originalOf(x) === t.id);
  const parts: Parameters<typeof mergeHistory>[0] = [{ role: 'transaction', rows: await store.history(t.id) }];
  if (reversal !== undefined) parts.push({ role: 'reversal', rows: await store.history(reversal.id) });
  for (const x of terminalRevs) parts.push({ role: 'terminal reversal', rows: await store.history(x.id) });
  return {
    txn: evidenceTxn(t),
    reversal: reversal === undefined ? null : evidenceReversal(reversal),
    terminalReversals: terminalRevs.map(evidenceTxn),
    history: mergeHistory(parts),
  };
}

export interface EvidenceQuery extends TxnQuery {
  /** The switch's transaction id: exact, no search. */
  id?: string;
}

/**
 * Finds the transaction and builds its evidence. A terminal's reversal record that
 * matches stands for its original; several different transactions are candidates.
 */
export async function lookupTxn(store: Store, q: EvidenceQuery): Promise<Lookup> {
  let rows: TxnRow[];
  if (q.id !== undefined) {
    const t = await store.txn(q.id);
    rows = t === undefined ? [] : [t];
  } else {
    rows = await store.findTxns({ rrn: q.rrn, terminal: q.terminal, stan: q.stan, businessDate: q.businessDate });
  }
  const byId = new Map<string, TxnRow>();
  for (const r of rows) {
    const orig = originalOf(r);
    const o = orig === null ? undefined : byId.get(orig) ?? (await store.txn(orig));
    const t = o ?? r;
    byId.set(t.id, t);
  }
  const found = [...byId.values()];
  if (found.length === 0) return { found: 'none' };
  if (found.length > 1) return { found: 'many', candidates: found.map(evidenceTxn) };
  return { found: 'one', evidence: await evidenceOf(store, found[0]) };
}

// ---- text ---------------------------------------------------------------------------------

const shortMs = (s: string): string => s.replace('T', ' ').replace('Z', '');

/** An amount that is not n12 is shown as stored: evidence hides nothing, even a bad row. */
function amountText(amount: string | null, currency: string | null): string {
  if (amount === null) return '-';
  const n = parseAmount(amount);
  const minor = n === null ? amount : String(n);
  return currency ? `${formatMinor(minor, currency)} ${currency}` : `${minor} (minor units)`;
}

function detailText(d: EvidenceEntry['detail']): string {
  if (d === null) return '';
  if (typeof d === 'string') return d;
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ');
}

export function formatEvidenceText(e: Evidence): string {
  const t = e.txn;
  const out: string[] = [];
  out.push(`transaction ${t.id}  (${t.mti}, node ${t.node}, listener ${t.listener})`);
  const kv: [string, string][] = [
    ['terminal', t.terminal ?? '-'], ['merchant', t.merchant ?? '-'], ['acquirer', t.acquirer ?? '-'], ['stan', t.stan],
    ['f7', t.f7 ?? '-'], ['rrn', t.rrn ?? '-'], ['amount', amountText(t.amount, t.currency)], ['card', t.panMasked ?? '-'],
    ['business date', t.businessDate ?? '-'], ['upstream', `${t.upstream ?? '-'}${t.upstreamStan ? ` (stan ${t.upstreamStan})` : ''}`],
    ['state', t.state], ['response code', t.responseCode ?? '-'], ['approval code', t.approvalCode ?? '-'], ['failure class', t.failureClass ?? '-'], ['decision', t.decision ?? '-'],
    ['created', t.createdAt], ['updated', t.updatedAt],
  ];
  if (e.reversal) {
    const r = e.reversal;
    const what = r.kind === 'refund' ? `amount ${r.amount ?? '-'}` : `reason ${r.reason}`;
    kv.push([r.kind, `${r.id}: ${r.state}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}, ${what}` +
      `${r.finalAmount !== null ? `, final amount ${r.finalAmount}` : ''}${r.lastError ? `, last error: ${r.lastError}` : ''}${r.note ? `, note: ${r.note}` : ''}`]);
    kv.push([`${r.kind} rule`, r.explanation]);
  } else {
    kv.push(['reversal', 'none']);
  }
  for (const x of e.terminalReversals) kv.push(['terminal reversal', `${x.id} (${x.mti}, stan ${x.stan}, reason ${x.responseCode ?? '-'}, ${x.createdAt}): ${x.decision ?? '-'}`]);
  const w = Math.max(...kv.map(([k]) => k.length));
  for (const [k, v] of kv) out.push(`  ${k.padEnd(w)}  ${v}`);
  out.push('', 'history (every state change, in time order)');
  const rows = e.history.map((h) => [shortMs(h.at), h.role, h.state, detailText(h.detail)]);
  for (const l of table(['at (UTC)', 'of', 'state', 'detail'], rows)) out.push(`  ${l}`);
  return out.join('\n') + '\n';
}

/** The candidates of an ambiguous look-up, one line each. */
export function formatCandidatesText(c: readonly EvidenceTxn[]): string {
  const rows = c.map((t) => [t.id, t.createdAt, t.terminal ?? '-', t.stan, t.rrn ?? '-', t.businessDate ?? '-', amountText(t.amount, t.currency), t.state]);
  return table(['id', 'created', 'terminal', 'stan', 'rrn', 'business date', 'amount', 'state'], rows).join('\n') + '\n';
}
