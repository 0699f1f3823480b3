/** Retention on the memory store: the same selection as ./retention-sql.ts, over its maps. */
import type { HistoryRow, PruneSummary, PurgeBatch, RetentionPlan, ReversalRow, ReviewRow, TxnRow } from './types.js';

export interface MemoryTables {
  txns: Map<string, TxnRow>;
  revs: Map<string, ReversalRow>;
  reviews: Map<string, ReviewRow>;
  history: Map<string, HistoryRow[]>;
  dupKeys: Map<string, string>;
}

const FINAL_REVERSAL = new Set(['acked', 'cancelled', 'resolved']);

export class MemoryRetention {
  private readonly pruned: PruneSummary[] = [];

  constructor(private readonly t: MemoryTables, private readonly erased: (at: number, ref: string, detail: string) => void) {}

  private doneTxn(x: TxnRow): boolean {
    if (x.state === 'forwarded' || x.state === 'recovered') return false;
    for (const r of this.t.revs.values()) if (r.txnId === x.id && (r.state === 'pending' || r.state === 'sent' || r.state === 'manual')) return false;
    for (const v of this.t.reviews.values()) if (v.txnId === x.id && v.state === 'open') return false;
    return true;
  }

  private sealedTxns(before: number): TxnRow[] {
    return [...this.t.txns.values()].filter((x) => x.sealed !== null && x.createdAt < before && this.doneTxn(x));
  }

  private sealedRevs(before: number): ReversalRow[] {
    return [...this.t.revs.values()].filter((r) => (r.original !== '' || r.message !== null) && r.enqueuedAt < before && FINAL_REVERSAL.has(r.state));
  }

  private oldTxns(before: number): TxnRow[] {
    return [...this.t.txns.values()].filter((x) => x.createdAt < before && this.doneTxn(x)).sort((a, b) => a.createdAt - b.createdAt);
  }

  private oldRevs(before: number): ReversalRow[] {
    return [...this.t.revs.values()].filter((r) => r.enqueuedAt < before && FINAL_REVERSAL.has(r.state)).sort((a, b) => a.enqueuedAt - b.enqueuedAt);
  }

  private oldReviews(before: number): ReviewRow[] {
    return [...this.t.reviews.values()].filter((v) => v.createdAt < before && v.state !== 'open').sort((a, b) => a.createdAt - b.createdAt);
  }

  private orphanHistory(before: number): HistoryRow[] {
    const out: HistoryRow[] = [];
    for (const [ref, list] of this.t.history) {
      if (this.t.txns.has(ref) || this.t.revs.has(ref) || this.t.reviews.has(ref)) continue;
      for (const h of list) if (h.at < before) out.push(h);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  plan(sealedBefore: number, evidenceBefore: number): RetentionPlan {
    return {
      sealedTxns: this.sealedTxns(sealedBefore).length, sealedReversals: this.sealedRevs(sealedBefore).length,
      txns: this.oldTxns(evidenceBefore).length, reversals: this.oldRevs(evidenceBefore).length,
      reviews: this.oldReviews(evidenceBefore).length, history: this.orphanHistory(evidenceBefore).length,
    };
  }

  erase(before: number, at: number, limit: number, detail: string): number {
    let n = 0;
    for (const x of this.sealedTxns(before).slice(0, limit)) {
      x.sealed = null;
      this.erased(at, x.id, detail);
      n++;
    }
    for (const r of this.sealedRevs(before).slice(0, limit)) {
      r.original = '';
      r.message = null;
      this.erased(at, r.id, detail);
      n++;
    }
    return n;
  }

  candidates(before: number, limit: number): PurgeBatch {
    const text = <T extends { id: string }>(rows: T[]): { key: string; text: string }[] =>
      rows.slice(0, limit).map((r) => ({ key: r.id, text: JSON.stringify(r) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return {
      before,
      txns: text(this.oldTxns(before)),
      reversals: text(this.oldRevs(before)),
      reviews: text(this.oldReviews(before)),
      history: this.orphanHistory(before).slice(0, limit).map((h) => ({ key: String(h.seq), text: JSON.stringify(h) })),
    };
  }

  purge(batch: PurgeBatch, summary: PruneSummary): void {
    for (const { key } of batch.txns) this.t.txns.delete(key);
    for (const { key } of batch.reversals) this.t.revs.delete(key);
    for (const { key } of batch.reviews) this.t.reviews.delete(key);
    const seqs = new Set(batch.history.map((h) => Number(h.key)));
    for (const [ref, list] of this.t.history) {
      const kept = list.filter((h) => !seqs.has(h.seq));
      if (kept.length === 0) this.t.history.delete(ref);
      else if (kept.length !== list.length) this.t.history.set(ref, kept);
    }
    for (const [k, id] of this.t.dupKeys) if (!this.t.txns.has(id)) this.t.dupKeys.delete(k);
    this.pruned.push({ ...summary });
  }

  summaries(): PruneSummary[] {
    return this.pruned.map((s) => ({ ...s }));
  }
}
