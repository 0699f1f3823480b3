/**
 * Several nodes on one store: the leases of the reversal queue (./reversal-queue.ts).
 * Every entry a node's queue holds is leased to that node in the store. The leases are
 * renewed every leaseMs/3, and at the same tick the rows nobody holds (or whose lease
 * expired: a dead node's) are claimed. A node sends only while it can show a live lease,
 * so once its leases may have lapsed (a stall, a store outage) it leaves the sending to
 * whichever node took its rows over, and resyncs with the store before it goes on.
 *
 * They reach the queue's entries only through LeasedQueue, so every change to an entry
 * stays in the queue.
 *
 * Two clocks (docs/operations.md, "Clock steps"): the leases in the store are wall-clock
 * times, since other nodes judge them; whether this node's own leases still hold is timed
 * on the monotonic clock, so a step back of the wall clock never lets a node go on
 * sending past a lease it failed to renew, and a step forward does not stop it.
 */
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { ReversalRow, Store } from '../store/types.js';

export interface LeaseOptions {
  /** This node's id: the owner written on every row it holds. */
  node: string;
  leaseMs: number;
  /** The most rows one periodic claim takes (default 1000). */
  claimLimit?: number;
}

/** What the leases need from the queue. */
export interface LeasedQueue {
  /** Takes a claimed row into the queue; false when it has it already or cannot resume it. */
  adopt(row: ReversalRow, why: string, detail: string): boolean;
  /** The ids of its entries that are not final yet (pending or sent). */
  activeIds(): string[];
  /** How many more entries its memory cap lets it take (SafOptions.maxInMemory). */
  room(): number;
  /** Lets go, without a write, of the active entries not in `owned` (another node holds them now). */
  dropUnowned(owned: ReadonlySet<string>): void;
  /** Drives what is due. */
  pump(): void;
}

/** The most rows one claim at start (or after a lapsed lease) takes. */
const LOAD_LIMIT = 100_000;

/**
 * The most claims of claimLimit rows one lease tick makes while the queue has room: an
 * outage's backlog in the store comes back into memory at up to this many times
 * claimLimit per tick (30,000 rows every leaseMs/3 with the defaults), not claimLimit.
 */
const CLAIMS_PER_TICK = 30;

export class ReversalLeases {
  private timer: NodeJS.Timeout | null = null;
  /** Until when this node's leases are known to hold (the last renewal's start + leaseMs), on the monotonic clock. */
  private okUntil = 0;
  /** A renewal came too late: entries may have been claimed by another node; resync at the next renewal. */
  private lapsed = false;
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly queue: LeasedQueue,
    private readonly lease: LeaseOptions,
    /** `now`: the wall clock, for the store's leases; `mono`: the monotonic clock, for okUntil. */
    private readonly env: { log: Logger; counters: Counters; now: () => number; mono: () => number },
  ) {}

  /** At load: the rows this node may take (its own from before a restart, unowned ones, expired leases), leased to it. */
  async claimAtLoad(): Promise<ReversalRow[]> {
    const started = this.env.now();
    const m0 = this.env.mono();
    const rows = await this.store.claimReversals(this.lease.node, started, this.lease.leaseMs, Math.max(1, Math.min(LOAD_LIMIT, this.queue.room())), true);
    this.okUntil = m0 + this.lease.leaseMs;
    return rows;
  }

  /** Marks a row this node inserts as its own, so no other node claims it while the lease holds. */
  own(row: ReversalRow, now: number): void {
    row.owner = this.lease.node;
    row.leaseUntil = now + this.lease.leaseMs;
  }

  /** Whether this node may send now (its leases are known to hold, with a margin). */
  maySend(): boolean {
    return !this.lapsed && this.env.mono() < this.okUntil - Math.min(500, this.lease.leaseMs / 10);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.lease.leaseMs / 3)));
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * At a planned shutdown (after stop()): gives up the leases on what is still pending or
   * sent, so another node takes them at its next claim instead of after leaseMs.
   */
  async release(): Promise<number> {
    const ids = this.queue.activeIds();
    await this.store.flush();
    return this.store.releaseLeases(this.lease.node, ids);
  }

  /** Every leaseMs/3: renew this node's leases, then claim what nobody holds. */
  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const { node, leaseMs } = this.lease;
    try {
      const t0 = this.env.now();
      const m0 = this.env.mono();
      if (m0 >= this.okUntil && this.okUntil > 0) this.lapsed = true;
      await this.store.renewLeases(node, t0 + leaseMs);
      if (this.lapsed) {
        // Another node may have claimed some of ours meanwhile: keep only what the store
        // says is ours (claimed again with includeOwn), drop the rest from the mirror. A
        // claim cut at LOAD_LIMIT does not say what is not ours, so then nothing is dropped.
        const mine = await this.store.claimReversals(node, t0, leaseMs, LOAD_LIMIT, true);
        if (mine.length < LOAD_LIMIT) this.queue.dropUnowned(new Set(mine.map((r) => r.id)));
        for (const row of mine) this.queue.adopt(row, 'taken over: its lease had expired', 'claimed after a lapsed lease');
        this.lapsed = false;
      }
      this.okUntil = m0 + leaseMs;
      // Rows nobody holds (a dead node's, or spilled past the memory cap), while there is room.
      const limit = this.lease.claimLimit ?? 1000;
      let n = 0;
      for (let i = 0; i < CLAIMS_PER_TICK; i++) {
        const want = Math.min(limit, this.queue.room());
        if (want <= 0) break;
        const rows = await this.store.claimReversals(node, this.env.now(), leaseMs, want);
        for (const row of rows) if (this.queue.adopt(row, 'taken over from another node', `claimed by ${node}`)) n++;
        if (rows.length < want) break;
      }
      if (n > 0) {
        this.env.counters.inc('reversals_claimed', n);
        this.env.log.warn('reversals claimed from the shared queue', { count: n, node });
        this.queue.pump();
      }
    } catch (err) {
      this.env.counters.inc('store_errors');
      this.env.log.error('reversal leases not renewed', { error: (err as Error).message });
    } finally {
      this.busy = false;
    }
  }
}
