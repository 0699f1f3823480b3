/**
 * The in-memory store (`memory:`): the same contract as SQLite (compare-and-set,
 * history in the same "transaction" as the change, append-only history, group commit
 * with the same queue) and nothing survives close(). Tests use it, and the store bench
 * uses it as the "no database" baseline.
 *
 * Rows are copied on the way in and on the way out, so a caller holding a row (or a
 * history entry) cannot change what is stored. An operation is validated before it
 * touches anything, so a refused one changes nothing, as in SQLite.
 */
import {
  insertReversalDetail, insertTxnDetail, orphanNote, repairDetail, reviewDetail, txnQueryFields, updateTxnDetail, type BatchOutcome, type OpResult, type StoreBackend,
  type StoreRead,
} from './backend.js';
import { GroupCommitStore, type GroupCommitOptions } from './group-commit.js';
import { MemoryRecon } from './recon-memory.js';
import { MemoryRetention } from './retention-memory.js';
import { ERASED_STATE } from './retention-sql.js';
import { memoryReport } from './report-memory.js';
import { DUPLICATE_REQUEST, type HistoryRow, type NodeRow, type ReversalRow, type ReviewRow, type SealedTable, type SealedValue, type StoreOp, type TxnRow } from './types.js';

export class MemoryBackend implements StoreBackend {
  private readonly txns = new Map<string, TxnRow>();
  private readonly revs = new Map<string, ReversalRow>();
  private readonly reviewRows = new Map<string, ReviewRow>();
  private readonly histByRef = new Map<string, HistoryRow[]>();
  /** Reversal leases, kept beside the rows (ordinary reads leave them out). */
  private readonly leases = new Map<string, { owner: string | null; until: number }>();
  /** The nodes table: leaseUntil is the node's own lease, what renewLeases extends. */
  private readonly nodeRows = new Map<string, Omit<NodeRow, 'leases'>>();
  private readonly dupKeys = new Map<string, string>();
  private seq = 0;
  private isOpen = false;
  private readonly retention = new MemoryRetention(
    { txns: this.txns, revs: this.revs, reviews: this.reviewRows, history: this.histByRef, dupKeys: this.dupKeys },
    (at, ref, detail) => this.append(at, 'retention', ref, ERASED_STATE, detail),
  );

  private readonly recon = new MemoryRecon(this.txns, this.revs);

  open(): Promise<void> {
    this.isOpen = true;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }

  runBatch(ops: StoreOp[]): Promise<BatchOutcome> {
    if (!this.isOpen) return Promise.reject(new Error('the memory store is closed'));
    const t0 = performance.now();
    const results: OpResult[] = new Array<OpResult>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      try {
        results[i] = { ok: true, value: this.apply(ops[i]) };
      } catch (e) {
        results[i] = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    }
    const outcome: BatchOutcome = { results, commitMs: performance.now() - t0 };
    // Delivered on a later turn of the event loop, as a database's answer would be: a
    // completion within the same microtask queue would let busy writers starve timers and I/O.
    return new Promise((resolve) => setImmediate(resolve, outcome));
  }

  read(r: StoreRead): Promise<unknown> {
    if (!this.isOpen) return Promise.reject(new Error('the memory store is closed'));
    return Promise.resolve(this.query(r));
  }

  private query(r: StoreRead): unknown {
    switch (r.read) {
      case 'txn': {
        const t = this.txns.get(r.id);
        return t === undefined ? undefined : { ...t };
      }
      case 'recentTxns': {
        const rows = byCreated([...this.txns.values()].filter((t) => t.createdAt >= r.since));
        return r.limit === undefined ? rows : rows.slice(Math.max(0, rows.length - r.limit));
      }
      case 'unfinishedTxns':
        return byCreated([...this.txns.values()].filter((t) => this.unfinished(t)));
      case 'reversal': {
        const v = this.revs.get(r.id);
        return v === undefined ? undefined : { ...v };
      }
      case 'reversals': {
        const states = r.states === undefined ? null : new Set<string>(r.states);
        const rows = [...this.revs.values()].filter((v) => states === null || states.has(v.state)).map((v) => ({ ...v }));
        // Stable: equal times keep insertion order, as SQLite's rowid tie-break does.
        return rows.sort((a, b) => a.enqueuedAt - b.enqueuedAt);
      }
      case 'history':
        return (this.histByRef.get(r.ref) ?? []).map((h) => ({ ...h }));
      case 'txnsBetween':
        return byCreated([...this.txns.values()].filter((t) => t.createdAt >= r.since && t.createdAt < r.until));
      case 'findTxns': {
        const fields = txnQueryFields(r.q);
        if (fields.length === 0) return [];
        return byCreated([...this.txns.values()].filter((t) => fields.every(([k, v]) => t[k] === v)));
      }
      case 'reversalsBetween':
        return [...this.revs.values()]
          .filter((v) => v.enqueuedAt >= r.since && v.enqueuedAt < r.until)
          .map((v) => ({ ...v }))
          .sort((a, b) => a.enqueuedAt - b.enqueuedAt);
      case 'historyBetween': {
        const rows: HistoryRow[] = [];
        for (const list of this.histByRef.values()) for (const h of list) if (h.at >= r.since && h.at < r.until) rows.push({ ...h });
        return rows.sort((a, b) => a.seq - b.seq);
      }
      case 'heartbeat': {
        const n = this.nodeRows.get(r.node);
        if (n === undefined) this.nodeRows.set(r.node, { node: r.node, startedAt: r.at, heartbeatAt: r.at, info: r.info, leaseUntil: 0 });
        else Object.assign(n, { heartbeatAt: r.at, info: r.info });
        return null;
      }
      case 'nodes':
        return [...this.nodeRows.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).map((n) => {
          let leases = 0;
          for (const [id, l] of this.leases) if (l.owner === n.node && this.active(id)) leases++;
          return { ...n, leases };
        });
      case 'claimReversals': {
        const out: ReversalRow[] = [];
        const rows = [...this.revs.values()].filter((v) => v.state === 'pending' || v.state === 'sent').sort((a, b) => a.enqueuedAt - b.enqueuedAt);
        for (const v of rows) {
          if (out.length >= r.limit) break;
          const l = this.leases.get(v.id) ?? { owner: null, until: 0 };
          if (l.owner !== null && !(r.includeOwn && l.owner === r.node) && (l.until >= r.now || (this.nodeRows.get(l.owner)?.leaseUntil ?? 0) >= r.now)) continue;
          const lease = { owner: r.node, until: r.now + r.leaseMs };
          this.leases.set(v.id, lease);
          out.push({ ...v, owner: lease.owner, leaseUntil: lease.until });
        }
        return out;
      }
      case 'renewLeases': {
        const n = this.nodeRows.get(r.node);
        if (n === undefined) this.nodeRows.set(r.node, { node: r.node, startedAt: 0, heartbeatAt: 0, info: null, leaseUntil: r.until });
        else n.leaseUntil = r.until;
        return 1;
      }
      case 'releaseLeases': {
        let n = 0;
        for (const id of r.ids) {
          const l = this.leases.get(id);
          if (l === undefined || l.owner !== r.node) continue;
          this.leases.set(id, { owner: null, until: 0 });
          n++;
        }
        return n;
      }
      case 'claimOrphanTxns': {
        const out: TxnRow[] = [];
        for (const t of byCreated([...this.txns.values()])) {
          if (!this.unfinished(t) || t.node === r.node) continue;
          const n = this.nodeRows.get(t.node);
          if (n !== undefined && n.heartbeatAt >= r.staleBefore) continue;
          const live = this.txns.get(t.id) as TxnRow;
          live.node = r.node;
          live.state = 'recovered';
          live.updatedAt = r.at;
          this.append(r.at, 'txn', t.id, 'recovered', orphanNote(t.node));
          out.push(t);
        }
        return out;
      }
      case 'forgetNode': {
        const known = this.nodeRows.has(r.node);
        let leases = 0;
        for (const [id, l] of this.leases) if (l.owner === r.node && this.active(id)) leases++;
        const unfinished = [...this.txns.values()].filter((t) => t.node === r.node && this.unfinished(t)).length;
        const forgotten = known && leases === 0 && unfinished === 0;
        if (forgotten) this.nodeRows.delete(r.node);
        return { forgotten, known, leases, unfinished };
      }
      case 'retryManual': {
        const v = this.revs.get(r.id);
        if (v === undefined || v.state !== 'manual') return false;
        Object.assign(v, { state: 'pending', attempts: 0, dueAt: r.at, lastError: null, note: r.note, retriedAt: r.at, updatedAt: r.at });
        this.leases.set(v.id, { owner: null, until: 0 });
        this.append(r.at, 'reversal', v.id, 'pending', repairDetail.retried(r.note));
        return true;
      }
      case 'undoBacklog': {
        const by = new Map<string, { upstream: string; pending: number; sent: number; manual: number }>();
        for (const v of this.revs.values()) {
          if (v.state !== 'pending' && v.state !== 'sent' && v.state !== 'manual') continue;
          let b = by.get(v.upstream);
          if (b === undefined) by.set(v.upstream, (b = { upstream: v.upstream, pending: 0, sent: 0, manual: 0 }));
          b[v.state]++;
        }
        return [...by.values()].sort((a, b) => (a.upstream < b.upstream ? -1 : a.upstream > b.upstream ? 1 : 0));
      }
      case 'reassignUpstream': {
        let n = 0;
        for (const v of this.revs.values()) {
          if (v.upstream !== r.from || (v.state !== 'pending' && v.state !== 'sent' && v.state !== 'manual')) continue;
          v.upstream = r.to;
          v.updatedAt = r.at;
          if (v.state !== 'manual') {
            Object.assign(v, { state: 'pending', dueAt: r.at, message: null, sentStan: null });
            this.leases.set(v.id, { owner: null, until: 0 });
          }
          this.append(r.at, 'reversal', v.id, v.state, repairDetail.reassigned(r.from, r.to, r.note));
          n++;
        }
        for (const t of this.txns.values()) {
          if (t.upstream !== r.from || !this.unfinished(t)) continue;
          t.upstream = r.to;
          t.updatedAt = r.at;
          this.append(r.at, 'txn', t.id, t.state, repairDetail.reassigned(r.from, r.to, r.note));
          n++;
        }
        return n;
      }
      case 'insertReview': {
        if (this.reviewRows.has(r.row.id)) return false;
        this.reviewRows.set(r.row.id, { ...r.row });
        this.append(r.row.createdAt, 'review', r.row.id, r.row.state, reviewDetail.inserted(r.row));
        return true;
      }
      case 'review': {
        const v = this.reviewRows.get(r.id);
        return v === undefined ? undefined : { ...v };
      }
      case 'reviews':
        return [...this.reviewRows.values()].filter((v) => r.states === undefined || r.states.includes(v.state))
          .sort((a, b) => a.createdAt - b.createdAt).map((v) => ({ ...v }));
      case 'decideReview': {
        const v = this.reviewRows.get(r.d.id);
        if (v === undefined || v.state !== 'open') return false;
        Object.assign(v, { state: r.d.state, decidedAt: r.d.at, decidedBy: r.d.by, note: r.d.note, action: r.d.action });
        this.append(r.d.at, 'review', v.id, r.d.state, reviewDetail.decided(r.d));
        return true;
      }
      case 'reviewQueued': {
        const v = this.reviewRows.get(r.id);
        if (v === undefined || v.state !== 'approved' || v.undoId !== null) return false;
        v.undoId = r.undoId;
        this.append(r.at, 'review', v.id, 'queued', reviewDetail.queued(r.undoId));
        return true;
      }
      case 'report': {
        const history = [...this.histByRef.values()].flat().sort((a, b) => a.seq - b.seq);
        return memoryReport({ txns: [...this.txns.values()], reversals: [...this.revs.values()], history, reviews: [...this.reviewRows.values()] }, r.q);
      }
      case 'sealedPage':
        return this.sealedPage(r.table, r.after, r.limit);
      case 'checkpoint':
        return null;
      case 'retentionPlan':
        return this.retention.plan(r.sealedBefore, r.evidenceBefore);
      case 'eraseSealed':
        return this.retention.erase(r.before, r.at, r.limit, r.detail);
      case 'purgeCandidates':
        return this.retention.candidates(r.before, r.limit);
      case 'purge':
        this.retention.purge(r.batch, r.summary);
        return null;
      case 'pruned':
        return this.retention.summaries();
      case 'reconJournal':
        return this.recon.journal(r.q);
      case 'reconRefunds':
        return this.recon.refunds(r.since, r.until);
      case 'insertReconRun':
        return this.recon.insertRun(r.row);
      case 'reconRuns':
        return this.recon.allRuns();
      case 'reseal': {
        const row = r.v.table === 'txns' ? this.txns.get(r.v.id) : this.revs.get(r.v.id);
        const rec = row as unknown as Record<string, unknown> | undefined;
        if (rec === undefined || rec[r.v.column] !== r.v.value) return false;
        rec[r.v.column] = r.to;
        return true;
      }
    }
  }

  private sealedPage(table: SealedTable, after: string, limit: number): SealedValue[] {
    const out: SealedValue[] = [];
    const rows = table === 'txns' ? [...this.txns.values()] : [...this.revs.values()];
    const page = rows.filter((x) => x.id > after).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, limit);
    for (const x of page) {
      if ('sealed' in x) {
        if (x.sealed !== null) out.push({ table, id: x.id, txnId: null, upstream: x.upstream, column: 'sealed', value: x.sealed });
        continue;
      }
      if (x.original !== '') out.push({ table, id: x.id, txnId: x.txnId, upstream: x.upstream, column: 'original', value: x.original });
      if (x.message !== null) out.push({ table, id: x.id, txnId: x.txnId, upstream: x.upstream, column: 'message', value: x.message });
    }
    return out;
  }

  private active(id: string): boolean {
    const v = this.revs.get(id);
    return v !== undefined && (v.state === 'pending' || v.state === 'sent');
  }

  /** Applies one operation; throws, having changed nothing, when it is refused. */
  private apply(op: StoreOp): boolean {
    switch (op.op) {
      case 'insertTxn': {
        const row = op.row;
        if (this.txns.has(row.id)) throw new Error(`a transaction with id ${row.id} exists (duplicate primary key)`);
        const { dupKey, ...plain } = row;
        if (dupKey != null) {
          const holder = this.dupKeys.get(dupKey);
          if (holder !== undefined) throw new Error(`${DUPLICATE_REQUEST}: key ${dupKey} is transaction ${holder}'s (txn_keys)`);
          this.dupKeys.set(dupKey, row.id);
        }
        // As the SQL stores: the approval code is an outcome, written by updateTxn only.
        this.txns.set(row.id, { ...plain, approvalCode: null, approvedAmount: null });
        this.append(row.createdAt, 'txn', row.id, row.state, insertTxnDetail(row));
        return true;
      }
      case 'updateTxn': {
        const u = op.update;
        const t = this.txns.get(u.id);
        if (u.owner !== undefined && t?.node !== u.owner) return false;
        if (t === undefined) throw new Error(`no transaction with id ${u.id}`);
        t.state = u.state;
        t.updatedAt = u.at;
        if (u.responseCode !== undefined) t.responseCode = u.responseCode;
        if (u.failureClass !== undefined) t.failureClass = u.failureClass;
        if (u.decision !== undefined) t.decision = u.decision;
        if (u.reversalId !== undefined) t.reversalId = u.reversalId;
        if (u.approvalCode !== undefined) t.approvalCode = u.approvalCode;
        if (u.approvedAmount !== undefined) t.approvedAmount = u.approvedAmount;
        this.append(u.at, 'txn', u.id, u.state, updateTxnDetail(u));
        return true;
      }
      case 'insertReversal': {
        const row = op.row;
        if (this.revs.has(row.id)) return false;
        const { owner, leaseUntil, ...plain } = row;
        this.revs.set(row.id, { ...plain, kind: row.kind ?? 'reversal', amount: row.amount ?? null, retriedAt: row.retriedAt ?? null });
        this.leases.set(row.id, { owner: owner ?? null, until: leaseUntil ?? 0 });
        this.append(row.enqueuedAt, 'reversal', row.id, row.state, insertReversalDetail(row));
        return true;
      }
      case 'updateReversal': {
        const u = op.update;
        const v = this.revs.get(u.id);
        if (v === undefined || !u.from.includes(v.state)) return false;
        v.state = u.state;
        v.updatedAt = u.at;
        if (u.attempts !== undefined) v.attempts = u.attempts;
        if (u.message !== undefined) v.message = u.message;
        if (u.sentStan !== undefined) v.sentStan = u.sentStan;
        if (u.dueAt !== undefined) v.dueAt = u.dueAt;
        if (u.lastError !== undefined) v.lastError = u.lastError;
        if (u.note !== undefined) v.note = u.note;
        this.append(u.at, 'reversal', u.id, u.state, u.detail ?? null);
        return true;
      }
    }
  }

  /** Sent upstream without an outcome, or taken as recovered with its reversal never stored (a crash between the two). */
  private unfinished(t: TxnRow): boolean {
    return t.state === 'forwarded' || (t.state === 'recovered' && ![...this.revs.values()].some((v) => v.txnId === t.id));
  }

  private append(at: number, kind: HistoryRow['kind'], ref: string, state: string, detail: string | null): void {
    const h: HistoryRow = Object.freeze({ seq: ++this.seq, at, kind, ref, state, detail });
    let list = this.histByRef.get(ref);
    if (list === undefined) {
      list = [];
      this.histByRef.set(ref, list);
    }
    list.push(h);
  }
}

function byCreated(rows: TxnRow[]): TxnRow[] {
  return rows.map((t) => ({ ...t })).sort((a, b) => a.createdAt - b.createdAt);
}

export type MemoryStoreOptions = Partial<GroupCommitOptions>;

/** `memory:`. Batches are handed over on the next turn of the event loop unless told otherwise. */
export class MemoryStore extends GroupCommitStore {
  constructor(url = 'memory:', opts: MemoryStoreOptions = {}) {
    super(url, new MemoryBackend(), { batchDelayMs: 0, ...opts });
  }
}
