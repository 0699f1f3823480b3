/** Reconciliation's reads and run records on the memory store: the same rows as ./recon-sql.ts gives. */
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';
import { journalRow, refundRow } from './recon-sql.js';
import type { ReversalRow, TxnRow } from './types.js';

export class MemoryRecon {
  private readonly runs = new Map<string, ReconRunRow>();

  constructor(private readonly txns: Map<string, TxnRow>, private readonly revs: Map<string, ReversalRow>) {}

  journal(q: ReconJournalQuery): ReconJournalRow[] {
    const page = [...this.txns.values()]
      .filter((t) => t.businessDate === q.businessDate && t.id > q.after && (q.upstream === null || t.upstream === q.upstream) && t.mti.charAt(1) === '2')
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, q.limit);
    return page.map((t) => {
      const r = this.reversalOf(t.id);
      return journalRow({
        id: t.id, mti: t.mti, state: t.state, rrn: t.rrn, terminal: t.terminal, upstream: t.upstream, upstreamStan: t.upstreamStan, f7: t.f7,
        sealed: t.f7 === null ? t.sealed : null, amount: t.amount, approvedAmount: t.approvedAmount ?? null, currency: t.currency, createdAt: t.createdAt,
        reversalId: r?.id ?? null, reversalState: r?.state ?? null, reversalFinal: r?.finalAmount ?? null,
      });
    });
  }

  refunds(since: number, until: number): ReconRefundRow[] {
    return [...this.revs.values()]
      .filter((r) => (r.kind ?? 'reversal') === 'refund' && r.enqueuedAt >= since && r.enqueuedAt < until)
      .sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.id < b.id ? -1 : 1))
      .map((r) => {
        const t = r.txnId === null ? undefined : this.txns.get(r.txnId);
        return refundRow({
          id: r.id, txnId: r.txnId, state: r.state, amount: r.amount ?? null, explanation: r.explanation, enqueuedAt: r.enqueuedAt, updatedAt: r.updatedAt, upstream: r.upstream,
          rrn: t?.rrn ?? null, terminal: t?.terminal ?? null, upstreamStan: t?.upstreamStan ?? null, f7: t?.f7 ?? null,
          sealed: t !== undefined && t.f7 === null ? t.sealed : null, currency: t?.currency ?? null,
        });
      });
  }

  insertRun(r: ReconRunRow): boolean {
    if (this.runs.has(r.id)) return false;
    this.runs.set(r.id, { ...r });
    return true;
  }

  allRuns(): ReconRunRow[] {
    return [...this.runs.values()].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((r) => ({ ...r }));
  }

  /** The transaction's reversal: the acked one first, then the first enqueued. */
  private reversalOf(txnId: string): ReversalRow | undefined {
    let best: ReversalRow | undefined;
    for (const r of this.revs.values()) {
      if (r.txnId !== txnId || (r.kind ?? 'reversal') !== 'reversal') continue;
      if (best === undefined || (r.state === 'acked') > (best.state === 'acked') || ((r.state === 'acked') === (best.state === 'acked') && r.enqueuedAt < best.enqueuedAt)) best = r;
    }
    return best;
  }
}
