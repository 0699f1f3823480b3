/**
 * Longer than 400 lines: besides the queue, one small method per Store operation (each a
 * line or two handing a read to the backend); splitting them off would scatter the Store
 * interface's one implementation.
 *
 * Group commit, above any backend: writes queue up and go to the database as batches, one
 * transaction each, so a busy switch pays one commit (one fsync) for hundreds of writes.
 *
 * A batch is handed over when the previous one has committed AND either `batchDelayMs`
 * has passed since the first operation of the queue arrived or `batchOps` are queued;
 * flush() and reads hand the queue over at once. Only one batch is in flight; the next
 * accumulates meanwhile (up to `maxBatchOps` per batch). Promises settle in call order.
 *
 * Failure: an operation the database refuses (a duplicate key, an update of a missing
 * row) rejects its own promise with an error naming the store, the operation and the
 * id; it changed nothing, and the rest of its batch commits (how is the backend's
 * business: see sqlite-engine.ts). A batch that does not commit at all (the disk, a dead worker) rejects every
 * promise of that batch; a backend that is gone rejects everything after it. Nothing
 * hangs and nothing is dropped without a rejection.
 */
import { build as buildHistogram } from 'hdr-histogram-js';
import { describeOp, txnQueryFields, type BatchOutcome, type ReadResults, type StoreBackend, type StoreRead } from './backend.js';
import type {
  ForgetNodeOutcome, HistoryRow, NodeRow, UpstreamBacklog, ReversalRow, ReversalState, ReversalUpdate, ReviewDecision, ReviewRow, ReviewState, SealedTable, SealedValue, Store, StoreOp, StoreStats, TxnQuery,
  TxnRow, TxnUpdate, PurgeBatch, PruneSummary, RetentionPlan,
} from './types.js';
import type { ReportData, ReportQuery } from './report-query.js';
import type { ReconJournalQuery, ReconJournalRow, ReconRefundRow, ReconRunRow } from './recon-rows.js';

export interface GroupCommitOptions {
  /** How long the first queued operation waits for company, ms; 0 means the next turn of the event loop. */
  batchDelayMs: number;
  /** Hand the queue over as soon as this many operations are waiting. */
  batchOps: number;
  /** At most this many operations in one transaction. */
  maxBatchOps: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = { batchDelayMs: 1, batchOps: 512, maxBatchOps: 4096 };

interface Pending {
  op: StoreOp;
  resolve: (value: boolean) => void;
  reject: (e: Error) => void;
}

interface Waiter {
  /** Settles once every operation up to this sequence number has. */
  seq: number;
  /** A flush (rejects when a batch in its range failed to commit) or a read barrier (never rejects). */
  strict: boolean;
  error: Error | null;
  resolve: () => void;
  reject: (e: Error) => void;
}

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** A Store on a backend, with the queue, ordering, barriers and statistics. */
export class GroupCommitStore implements Store {
  private readonly opts: GroupCommitOptions;
  private queue: Pending[] = [];

  get backlog(): number {
    return this.queue.length + this.inFlight;
  }
  /** Operations accepted so far, and settled so far (committed or rejected). */
  private queuedSeq = 0;
  private settledSeq = 0;
  private inFlight = 0;
  private due = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private waiters: Waiter[] = [];
  private phase: Phase = 'new';
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private batches = 0;
  private committedOps = 0;
  private maxCommitUs = 0;
  /** Commit latency in microseconds. */
  private readonly commitUs = buildHistogram({
    useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3,
  });

  /** Called after each batch commits (metrics): its commit time and size. Must not throw. */
  onCommit: ((ms: number, ops: number) => void) | null = null;
  /** Called when a batch does not commit at all (readiness). Must not throw. */
  onCommitError: ((error: Error) => void) | null = null;

  constructor(
    readonly url: string,
    private readonly backend: StoreBackend,
    opts: Partial<GroupCommitOptions> = {},
  ) {
    const o = { ...DEFAULT_GROUP_COMMIT, ...opts };
    if (!(o.batchDelayMs >= 0)) throw new Error(`${url}: batchDelayMs must be >= 0, got ${o.batchDelayMs}`);
    if (!(Number.isInteger(o.batchOps) && o.batchOps >= 1)) throw new Error(`${url}: batchOps must be an integer >= 1, got ${o.batchOps}`);
    if (!(Number.isInteger(o.maxBatchOps) && o.maxBatchOps >= o.batchOps)) {
      throw new Error(`${url}: maxBatchOps must be an integer >= batchOps (${o.batchOps}), got ${o.maxBatchOps}`);
    }
    this.opts = o;
  }

  open(): Promise<void> {
    if (this.phase === 'open') return Promise.resolve();
    if (this.phase === 'opening' && this.opening) return this.opening;
    if (this.phase !== 'new') return Promise.reject(new Error(`${this.url}: the store was closed; make a new one to reopen`));
    this.phase = 'opening';
    this.opening = this.backend.open().then(
      () => { this.phase = 'open'; },
      (e: unknown) => { this.phase = 'closed'; throw e; },
    );
    return this.opening;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.phase === 'new') {
      this.phase = 'closed';
      return;
    }
    if (this.phase === 'opening' && this.opening) {
      try {
        await this.opening;
      } catch {
        return; // never opened: nothing to close
      }
    }
    if (this.phase === 'closed') return;
    this.phase = 'closing';
    try {
      await this.barrier(false);
    } finally {
      this.clearTimers();
      this.phase = 'closed';
      await this.backend.close();
    }
  }

  insertTxn(row: TxnRow): Promise<void> {
    return new Promise<void>((resolve, reject) => this.push({ op: 'insertTxn', row }, () => resolve(), reject));
  }

  updateTxn(update: TxnUpdate): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => this.push({ op: 'updateTxn', update }, resolve, reject));
  }

  insertReversal(row: ReversalRow): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => this.push({ op: 'insertReversal', row }, resolve, reject));
  }

  updateReversal(update: ReversalUpdate): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => this.push({ op: 'updateReversal', update }, resolve, reject));
  }

  /** A compare-and-set from manual to resolved; the note is both the row's and the history's. */
  resolveManual(id: string, note: string, at: number): Promise<boolean> {
    return this.updateReversal({ id, from: ['manual'], state: 'resolved', at, note, detail: note });
  }

  retryManual(id: string, note: string, at: number): Promise<boolean> {
    return this.read({ read: 'retryManual', id, note, at });
  }

  undoBacklog(): Promise<UpstreamBacklog[]> {
    return this.read({ read: 'undoBacklog' });
  }

  reassignUpstream(from: string, to: string, note: string, at: number): Promise<number> {
    return this.read({ read: 'reassignUpstream', from, to, note, at });
  }

  forgetNode(node: string): Promise<ForgetNodeOutcome> {
    return this.read({ read: 'forgetNode', node });
  }

  flush(): Promise<void> {
    return this.barrier(true);
  }

  txn(id: string): Promise<TxnRow | undefined> {
    return this.read({ read: 'txn', id });
  }

  recentTxns(since: number, limit?: number): Promise<TxnRow[]> {
    return this.read(limit === undefined ? { read: 'recentTxns', since } : { read: 'recentTxns', since, limit });
  }

  unfinishedTxns(): Promise<TxnRow[]> {
    return this.read({ read: 'unfinishedTxns' });
  }

  reversal(id: string): Promise<ReversalRow | undefined> {
    return this.read({ read: 'reversal', id });
  }

  reversals(states?: readonly ReversalState[]): Promise<ReversalRow[]> {
    return this.read(states === undefined ? { read: 'reversals' } : { read: 'reversals', states: [...states] });
  }

  history(ref: string): Promise<HistoryRow[]> {
    return this.read({ read: 'history', ref });
  }

  txnsBetween(since: number, until: number): Promise<TxnRow[]> {
    return this.read({ read: 'txnsBetween', since, until });
  }

  sealedPage(table: SealedTable, after: string, limit: number): Promise<SealedValue[]> {
    return this.read({ read: 'sealedPage', table, after, limit });
  }

  reseal(v: SealedValue, to: string): Promise<boolean> {
    return this.read({ read: 'reseal', v, to });
  }

  async checkpoint(): Promise<void> {
    await this.read({ read: 'checkpoint' });
  }

  retentionPlan(sealedBefore: number, evidenceBefore: number): Promise<RetentionPlan> {
    return this.read({ read: 'retentionPlan', sealedBefore, evidenceBefore });
  }

  eraseSealed(before: number, at: number, limit: number, detail: string): Promise<number> {
    return this.read({ read: 'eraseSealed', before, at, limit, detail });
  }

  purgeCandidates(before: number, limit: number): Promise<PurgeBatch> {
    return this.read({ read: 'purgeCandidates', before, limit });
  }

  async purge(batch: PurgeBatch, summary: PruneSummary): Promise<void> {
    await this.read({ read: 'purge', batch, summary });
  }

  pruned(): Promise<PruneSummary[]> {
    return this.read({ read: 'pruned' });
  }

  reconJournal(q: ReconJournalQuery): Promise<ReconJournalRow[]> {
    return this.read({ read: 'reconJournal', q: { ...q } });
  }

  reconRefunds(since: number, until: number): Promise<ReconRefundRow[]> {
    return this.read({ read: 'reconRefunds', since, until });
  }

  insertReconRun(row: ReconRunRow): Promise<boolean> {
    return this.read({ read: 'insertReconRun', row });
  }

  reconRuns(): Promise<ReconRunRow[]> {
    return this.read({ read: 'reconRuns' });
  }

  findTxns(q: TxnQuery): Promise<TxnRow[]> {
    // Only the fields given cross to the backend (a worker message keeps undefined keys).
    const clean: TxnQuery = {};
    for (const [k, v] of txnQueryFields(q)) clean[k] = v;
    return this.read({ read: 'findTxns', q: clean });
  }

  reversalsBetween(since: number, until: number): Promise<ReversalRow[]> {
    return this.read({ read: 'reversalsBetween', since, until });
  }

  historyBetween(since: number, until: number): Promise<HistoryRow[]> {
    return this.read({ read: 'historyBetween', since, until });
  }

  report(q: ReportQuery): Promise<ReportData> {
    return this.read({ read: 'report', q });
  }

  heartbeat(node: string, at: number, info: string | null): Promise<void> {
    return this.read({ read: 'heartbeat', node, at, info }).then(() => undefined);
  }

  nodes(): Promise<NodeRow[]> {
    return this.read({ read: 'nodes' });
  }

  claimReversals(node: string, now: number, leaseMs: number, limit: number, includeOwn = false): Promise<ReversalRow[]> {
    return this.read({ read: 'claimReversals', node, now, leaseMs, limit, includeOwn });
  }

  renewLeases(node: string, until: number): Promise<number> {
    return this.read({ read: 'renewLeases', node, until });
  }

  releaseLeases(node: string, ids: readonly string[]): Promise<number> {
    return ids.length === 0 ? Promise.resolve(0) : this.read({ read: 'releaseLeases', node, ids: [...ids] });
  }

  claimOrphanTxns(node: string, staleBefore: number, at: number): Promise<TxnRow[]> {
    return this.read({ read: 'claimOrphanTxns', node, staleBefore, at });
  }

  insertReview(row: ReviewRow): Promise<boolean> {
    return this.read({ read: 'insertReview', row });
  }

  review(id: string): Promise<ReviewRow | undefined> {
    return this.read({ read: 'review', id });
  }

  reviews(states?: readonly ReviewState[]): Promise<ReviewRow[]> {
    return this.read(states === undefined ? { read: 'reviews' } : { read: 'reviews', states: [...states] });
  }

  decideReview(d: ReviewDecision): Promise<boolean> {
    return this.read({ read: 'decideReview', d });
  }

  reviewQueued(id: string, undoId: string, at: number): Promise<boolean> {
    return this.read({ read: 'reviewQueued', id, undoId, at });
  }

  stats(): StoreStats {
    const h = this.commitUs;
    const empty = h.totalCount === 0;
    // The histogram reports a bucket's highest value; never above the exact maximum.
    const pct = (p: number) => (empty ? 0 : Math.min(h.getValueAtPercentile(p), this.maxCommitUs) / 1000);
    return {
      batches: this.batches,
      ops: this.committedOps,
      commitMs: { p50: pct(50), p99: pct(99), max: this.maxCommitUs / 1000 },
      queued: this.queuedSeq - this.settledSeq,
    };
  }

  // --- the queue ---

  private notOpen(what: string): Error {
    const why = this.phase === 'new' || this.phase === 'opening' ? 'is not open yet (call open() first)' : 'is closed';
    return new Error(`${this.url}: ${what}: the store ${why}`);
  }

  private push(op: StoreOp, resolve: (v: boolean) => void, reject: (e: Error) => void): void {
    if (this.phase !== 'open') {
      reject(this.notOpen(describeOp(op)));
      return;
    }
    this.queue.push({ op, resolve, reject });
    this.queuedSeq++;
    if (this.queue.length >= this.opts.batchOps) {
      this.due = true;
      this.pump();
    } else if (!this.due && this.timer === null && this.immediate === null) {
      this.arm();
    }
  }

  private arm(): void {
    if (this.opts.batchDelayMs <= 0) this.immediate = setImmediate(this.onTimer);
    else this.timer = setTimeout(this.onTimer, this.opts.batchDelayMs);
  }

  private clearTimers(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.immediate = null;
    this.due = true;
    this.pump();
  };

  /** Hands the queue to the backend if it is due and nothing is in flight. */
  private pump(): void {
    // An empty queue has nothing to be due: a barrier that only waited for the batch in
    // flight must not leave `due` set, or the next lone write would arm no timer and wait
    // for batchOps of company (or the next read) before it went.
    if (this.queue.length === 0) this.due = false;
    if (this.inFlight > 0 || !this.due || this.queue.length === 0) return;
    let batch: Pending[];
    if (this.queue.length <= this.opts.maxBatchOps) {
      batch = this.queue;
      this.queue = [];
      this.due = false;
      this.clearTimers();
    } else {
      batch = this.queue.splice(0, this.opts.maxBatchOps);
      // The rest waited as long as this batch did: due as soon as it commits.
    }
    this.inFlight = batch.length;
    const ops = batch.map((p) => p.op);
    let started: Promise<BatchOutcome>;
    try {
      started = this.backend.runBatch(ops);
    } catch (e) {
      started = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    started.then(
      (outcome) => this.committed(batch, outcome),
      (e: unknown) => this.failed(batch, e),
    );
  }

  private committed(batch: Pending[], outcome: BatchOutcome): void {
    if (outcome.results.length !== batch.length) {
      this.failed(batch, new Error(`the database answered ${outcome.results.length} results for a batch of ${batch.length}`));
      return;
    }
    this.batches++;
    this.committedOps += batch.length;
    const us = Math.max(1, Math.round(outcome.commitMs * 1000));
    this.commitUs.recordValue(us);
    if (us > this.maxCommitUs) this.maxCommitUs = us;
    this.onCommit?.(outcome.commitMs, batch.length);
    for (let i = 0; i < batch.length; i++) {
      const r = outcome.results[i];
      const p = batch[i];
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(`${this.url}: ${describeOp(p.op)}: ${r.error}`));
    }
    this.settle(batch.length, null);
  }

  private failed(batch: Pending[], e: unknown): void {
    const why = e instanceof Error ? e.message : String(e);
    const err = new Error(`${this.url}: a batch of ${batch.length} operations did not commit: ${why}`);
    for (const p of batch) p.reject(new Error(`${this.url}: ${describeOp(p.op)}: not committed: ${why}`, { cause: err }));
    this.onCommitError?.(err);
    this.settle(batch.length, err);
  }

  private settle(n: number, batchError: Error | null): void {
    const first = this.settledSeq + 1;
    this.settledSeq += n;
    this.inFlight = 0;
    if (this.waiters.length > 0) {
      const keep: Waiter[] = [];
      for (const w of this.waiters) {
        if (batchError && w.strict && w.error === null && first <= w.seq) w.error = batchError;
        if (w.seq <= this.settledSeq) {
          if (w.error) w.reject(w.error);
          else w.resolve();
        } else {
          keep.push(w);
        }
      }
      this.waiters = keep;
    }
    this.pump();
  }

  /** Resolves once everything queued so far has settled; hands the queue over now. */
  private barrier(strict: boolean): Promise<void> {
    if (this.settledSeq === this.queuedSeq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq: this.queuedSeq, strict, error: null, resolve, reject });
      this.due = true;
      this.pump();
    });
  }

  private async read<K extends StoreRead['read']>(r: Extract<StoreRead, { read: K }>): Promise<ReadResults[K]> {
    if (this.phase !== 'open') throw this.notOpen(r.read);
    await this.barrier(false);
    return (await this.backend.read(r)) as ReadResults[K];
  }
}
