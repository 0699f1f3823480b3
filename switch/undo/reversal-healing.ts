/**
 * Keeps the reversal queue's mirror in memory (./reversal-queue.ts) from leading the store
 * for good: the store is the truth. A transition write the store failed is retried, and
 * its entry waits for it; a refused compare-and-set, or an insert that met a row, re-reads
 * the row and the entry follows it; a periodic sweep compares the mirror with the store's
 * live rows and heals each difference. Every heal is counted (reversals_healed, metric
 * revswitch_undo_heals_total) and logged.
 *
 * Several nodes: only this node's own rows are taken back (by owner, through a claim); a
 * live row another node changed is let go, since it took the lease.
 */
import type { Counters } from '../observe/counters.js';
import type { LifecycleEventInput } from '../observe/events/schema.js';
import type { Logger } from '../observe/log.js';
import type { ReversalRow, ReversalUpdate, Store, UndoKind } from '../store/types.js';
import { isActive, type Entry } from './reversal-entry.js';
import type { LeaseOptions } from './reversal-leases.js';

/** What the healing needs from the queue. */
export interface HealedQueue {
  entry(id: string): Entry | undefined;
  entries(): Iterable<Entry>;
  /** Takes a row into the queue; false when it has it already or cannot resume it. */
  adopt(row: ReversalRow, why: string, detail: string): boolean;
  /** Lets go of an entry in memory only: its slot, its STAN, the count, the mirror. */
  retire(e: Entry): void;
  schedule(e: Entry): void;
  pump(): void;
  write(u: ReversalUpdate, kind: UndoKind, e: Entry | undefined, ev: Partial<LifecycleEventInput> | undefined): Promise<void>;
}

export interface HealingOptions {
  store: Store;
  /** Several nodes: this node's lease; null for one node. */
  lease: LeaseOptions | null;
  /** The monotonic clock the retries are timed on: a wall-clock step neither fires them all nor holds them back. */
  now: () => number;
  /** The wall clock, for what is stored (a retried write's time, a claim's lease). */
  wall: () => number;
  /** How long a failed write or read waits before it is tried again. */
  retryMs: number;
  log: Logger;
  counters: Counters;
}

/** A transition write the store failed, retried until the store answers. */
interface Rewrite {
  u: ReversalUpdate;
  kind: UndoKind;
  e: Entry | undefined;
  ev: Partial<LifecycleEventInput> | undefined;
  at: number;
}

/** A row whose re-read failed. */
interface Reread {
  e: Entry;
  why: string;
  at: number;
}

/**
 * The most rows one sweep reads (several nodes: claims, which rewrites their leases). The
 * sweep is a backstop, and it runs in the store's writer: a claim of every live row of a
 * large backlog held commits back for hundreds of ms (the e2e bench's deadline step saw
 * sales time out), so it takes a bounded bite.
 */
const SWEEP_LIMIT = 1000;

/** Takes the items of `list` due at `now` out of it. */
function takeDue<T extends { at: number }>(list: T[], now: number): T[] {
  if (list.length === 0) return [];
  const due = list.filter((r) => r.at <= now);
  if (due.length > 0) list.splice(0, list.length, ...list.filter((r) => r.at > now));
  return due;
}

export class ReversalHealing {
  private readonly rewrites: Rewrite[] = [];
  private readonly rereads: Reread[] = [];
  private sweeping = false;

  constructor(private readonly queue: HealedQueue, private readonly opts: HealingOptions) {}

  /** A write the store failed: retried after retryMs; its entry waits (busy) until it lands. */
  writeFailed(r: Omit<Rewrite, 'at'>): void {
    if (r.e) {
      r.e.busy = true;
      r.e.retrying = true;
    }
    this.rewrites.push({ ...r, at: this.opts.now() + this.opts.retryMs });
  }

  /** From the queue's pump: the failed writes and reads that are due, again. */
  retryDue(now: number): void {
    for (const r of takeDue(this.rewrites, now)) void this.queue.write({ ...r.u, at: this.opts.wall() }, r.kind, r.e, r.ev);
    for (const r of takeDue(this.rereads, now)) this.heal(r.e, r.why);
  }

  /**
   * The mirror and the store disagree about `e`: its row is read again and the entry
   * re-enters the queue as the row says. Nothing moves the entry meanwhile.
   */
  heal(e: Entry, why: string): void {
    e.busy = true;
    e.retrying = true;
    this.opts.store.reversal(e.id).then(
      (row) => {
        e.busy = false;
        e.retrying = false;
        this.follow(e, row, why);
      },
      (err: unknown) => {
        this.opts.counters.inc('store_errors');
        this.opts.log.error(`${e.kind} row not re-read; retrying`, { id: e.id, error: (err as Error).message });
        this.rereads.push({ e, why, at: this.opts.now() + this.opts.retryMs });
      },
    );
  }

  /** Makes the mirror of `e` what `row` says. */
  private follow(e: Entry, row: ReversalRow | undefined, why: string): void {
    const q = this.queue;
    if (q.entry(e.id) !== e) return; // replaced meanwhile
    // A write landed or started meanwhile: it decides. Its insert not landed yet (it
    // retries until it does): nothing to follow. The same state: nothing to heal.
    if (e.writes > 0 || e.busy || row === undefined || row.state === e.state) {
      if (isActive(e)) q.schedule(e);
      return;
    }
    this.opts.counters.inc('reversals_healed');
    this.opts.log.warn(`${e.kind} re-read from the store`, { id: e.id, mirror: e.state, store: row.state, why });
    q.retire(e);
    // Several nodes: a live row in another state than this node left it is another node's
    // doing (it took the lease): let go. This node's own rows come back through the sweep,
    // which claims them by owner.
    if ((row.state === 'pending' || row.state === 'sent') && !this.opts.lease) {
      q.adopt(row, why, 'taken again from the store');
      q.pump();
    }
  }

  /**
   * After an insert the store already had: takes the row when it is this very insert
   * (its reply was lost and the retry met it: same enqueue time, transaction, upstream)
   * and still live. A row another node or an earlier run inserted stays theirs: one
   * original, one reversal (counted already_known).
   */
  takeIfOwnInsert(mine: ReversalRow, kind: UndoKind): void {
    const id = mine.id;
    this.opts.store.reversal(id).then(
      (row) => {
        const own = row !== undefined && row.enqueuedAt === mine.enqueuedAt && row.txnId === mine.txnId && row.upstream === mine.upstream;
        if (own && (row.state === 'pending' || row.state === 'sent') && this.queue.entry(id) === undefined) {
          this.opts.counters.inc('reversals_healed');
          this.opts.log.warn(`${kind} found live in the store after its insert; taken from the row`, { id });
          this.queue.adopt(row, 'its insert met its own row', 'taken again from the store');
          this.queue.pump();
        } else {
          this.opts.counters.inc(`${kind}s_already_known`);
        }
      },
      (err: unknown) => {
        // The sweep finds it if it is live.
        this.opts.counters.inc('store_errors');
        this.opts.log.error(`${kind} row not re-read after its insert; the sweep will`, { id, error: (err as Error).message });
      },
    );
  }

  /**
   * Compares the mirror with the store's live rows: a live row this node may hold that the
   * mirror lacks is taken; an entry whose row is in another state (or final, or another
   * node's) is re-read and follows it. Entries with a write in flight are left to it.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    const q = this.queue;
    let healed = 0;
    try {
      // Several nodes: the rows this node owns (and free ones, as the leases' claim takes
      // them), so a row of its own that the queue lost comes back; one node: every live row.
      const lease = this.opts.lease;
      const rows = lease
        ? await this.opts.store.claimReversals(lease.node, this.opts.wall(), lease.leaseMs, SWEEP_LIMIT, true)
        : await this.opts.store.reversals(['pending', 'sent']);
      const live = new Map(rows.map((r) => [r.id, r]));
      for (const row of rows) {
        if (q.entry(row.id) !== undefined) continue;
        this.opts.counters.inc('reversals_healed');
        this.opts.log.warn(`${row.kind ?? 'reversal'} live in the store but not in the queue; taken`, { id: row.id, state: row.state });
        if (q.adopt(row, 'the queue had lost it', 'taken again from the store')) healed++;
      }
      // Only with the whole picture: an entry missing from a list cut at the limit is not
      // a difference, and re-reading each would be a read per entry.
      for (const e of rows.length < SWEEP_LIMIT ? [...q.entries()] : []) {
        if (!isActive(e) || e.busy || e.writes > 0 || live.get(e.id)?.state === e.state) continue;
        healed++;
        this.heal(e, 'the store disagreed with the queue');
      }
      if (healed > 0) q.pump();
    } catch (err) {
      this.opts.counters.inc('store_errors');
      this.opts.log.error('reversal sweep failed', { error: (err as Error).message });
    } finally {
      this.sweeping = false;
    }
    return healed;
  }
}
