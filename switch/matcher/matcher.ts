/**
 * The in-flight matcher: pairs every request the switch sends with its outcome, either
 * the response (`resolve`) or the deadline (`onExpire`). Exactly one of the two happens
 * for each successful `track`.
 *
 * An in-flight table (./key-table.ts) plus one timer wheel (./timer-wheel.ts) for every
 * deadline: no timer and no closure per request. The entry object carries the key, the
 * value, the table's chain link and the wheel's links; it is the only allocation per
 * request, and not even that when the matcher is busy: entries freed by resolve or expiry
 * are kept (up to 16,384) and reused by the next track.
 *
 * **Expiry.** A deadline is due at the first tick whose clock reading is at or after it
 * (never earlier, whatever the tick length). Each tick moves the due entries to the
 * wheel's due queue, then `onExpire(key, value, lateMs)` is called for them in slices of at most
 * `batchSize`. An entry stays in flight until its callback runs: a `resolve` that comes
 * while it waits in the due queue still wins, takes it out of the queue, and no callback
 * follows. The entry is removed from the table just before its callback, so the callback
 * may track the same key again.
 *
 * **Driving.** `start()` drives the wheel from one unref'd `setInterval(tickMs)` (it does
 * not keep the process alive). Each interval advances the wheel and delivers one slice;
 * if more are due, further slices follow in `setImmediate` callbacks, so I/O runs
 * between slices: a burst of 100,000 deadlines in one tick never stalls the event loop
 * for more than one slice. `stop()` clears the interval and any pending slice; entries
 * stay in flight.
 *
 * **Manual time (tests).** `tick(now)` advances to `now` and delivers everything due,
 * synchronously, in slices of `batchSize` with no yield between them. For a finer grain,
 * `advance(now)` only moves due entries to the queue and `drain(limit)` delivers up to
 * `limit` of them. `tick`, `advance` and `drain` called from inside `onExpire` do
 * nothing and return 0 (the outer loop carries on), so callbacks never recurse, and a
 * callback that tracks with timeout 0 waits for the next tick instead of looping.
 *
 * **Lateness.** `lateMs` is the clock read once per slice minus the entry's deadline: how
 * long after its deadline the switch began handling the expiry. The last and largest
 * values are kept in `stats()`; the switch reports "deadline to 0400 leaving" from them.
 * Driven by start(), lateness is at most about one tick plus event-loop delay, plus the
 * slices ahead of it in a burst.
 *
 * `onExpire` should not throw. If it does, the error propagates (from tick()/drain(),
 * or as an uncaught exception when driven by start()); that entry counts as expired and
 * the rest stay due for the next slice.
 *
 * Keys are compared as Map keys (SameValueZero). Timeouts are in ms and must be finite
 * and >= 0; a timeout of 0 expires at the next tick.
 */
import { KeyTable, type KeyedEntry } from './key-table.js';
import { DEFAULT_SLOTS, DEFAULT_TICK_MS, DETACHED, TimerWheel, type TimerEntry } from './timer-wheel.js';

export const DEFAULT_BATCH_SIZE = 5_000;
/** Most free entries kept for reuse (about 1.5 MB). */
const POOL_MAX = 16_384;

export interface MatcherOptions<K, V> {
  /** Called once for each tracked key whose deadline passed before it was resolved. */
  onExpire: (key: K, value: V, lateMs: number) => void;
  /** Wheel tick and interval period, ms (default 10). */
  tickMs?: number;
  /** Wheel slots, a power of two (default 4096, i.e. one revolution is 40.96 s). */
  slots?: number;
  /** Most onExpire calls per slice (default 5,000). */
  batchSize?: number;
  /** Monotonic clock in ms (default performance.now()). */
  now?: () => number;
  /**
   * Expected peak of integer keys in flight (default 0). The key table starts sized for
   * it, so it never stops to grow on the way there (about 140 ms at 1,000,000).
   */
  expectedInFlight?: number;
}

export interface MatcherStats {
  /** Keys in flight, including those due but not yet delivered. */
  inFlight: number;
  /** Due, waiting for the next slice. */
  pending: number;
  tracked: number;
  /** track() calls refused because the key was in flight. */
  duplicates: number;
  resolved: number;
  expired: number;
  /** lateMs of the most recent expiry (0 before any). */
  lastLateMs: number;
  /** Largest lateMs so far. */
  maxLateMs: number;
  /** Slices that delivered at least one expiry. */
  slices: number;
  /** Most expiries delivered in one slice. */
  maxSlice: number;
}

/** One request in flight. Every field is set in the constructor so all entries share one shape. */
class Entry<K, V> implements TimerEntry<Entry<K, V>>, KeyedEntry<K, Entry<K, V>> {
  key: K;
  /** null while the entry waits in the pool. */
  value: V | null;
  chain: Entry<K, V> | null = null;
  prev: Entry<K, V> | null = null;
  next: Entry<K, V> | null = null;
  slot = DETACHED;
  deadline = 0;

  constructor(key: K, value: V) {
    this.key = key;
    this.value = value;
  }
}

function defaultNow(): number {
  return performance.now();
}

export class Matcher<K, V> {
  readonly tickMs: number;
  readonly batchSize: number;
  private readonly table: KeyTable<K, Entry<K, V>>;
  private readonly wheel: TimerWheel<Entry<K, V>>;
  private readonly onExpire: (key: K, value: V, lateMs: number) => void;
  private readonly now: () => number;
  private interval: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private draining = false;
  /** Free entries, linked by `next`. */
  private pool: Entry<K, V> | null = null;
  private pooled = 0;

  private trackedCount = 0;
  private duplicateCount = 0;
  private resolvedCount = 0;
  private expiredCount = 0;
  private lastLate = 0;
  private maxLate = 0;
  private sliceCount = 0;
  private maxSliceSize = 0;

  constructor(opts: MatcherOptions<K, V>) {
    const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`matcher: batchSize must be a positive integer, got ${batchSize}`);
    this.onExpire = opts.onExpire;
    this.now = opts.now ?? defaultNow;
    this.batchSize = batchSize;
    this.table = new KeyTable<K, Entry<K, V>>(opts.expectedInFlight ?? 0);
    this.wheel = new TimerWheel<Entry<K, V>>({ startMs: this.now(), tickMs: opts.tickMs ?? DEFAULT_TICK_MS, slots: opts.slots ?? DEFAULT_SLOTS });
    this.tickMs = this.wheel.tickMs;
  }

  /** Keys in flight (including those due whose callback has not run yet). */
  get size(): number {
    return this.table.size;
  }

  /** True while start() drives the wheel. */
  get running(): boolean {
    return this.interval !== null;
  }

  /**
   * Starts tracking `key` with a deadline `timeoutMs` after `nowMs` (default: the
   * clock). Returns false, and changes nothing, when the key is already in flight: the
   * caller treats the request as a duplicate.
   */
  track(key: K, value: V, timeoutMs: number, nowMs: number = this.now()): boolean {
    if (!(timeoutMs >= 0 && timeoutMs <= Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`matcher: timeoutMs must be a finite number >= 0, got ${timeoutMs}`);
    }
    if (this.table.get(key) !== null) {
      this.duplicateCount++;
      return false;
    }
    let e = this.pool;
    if (e === null) {
      e = new Entry(key, value);
    } else {
      this.pool = e.next;
      this.pooled--;
      e.next = null;
      e.key = key;
      e.value = value;
    }
    this.table.add(e);
    this.wheel.schedule(e, nowMs + timeoutMs);
    this.trackedCount++;
    return true;
  }

  /** Removes `key` and cancels its deadline; undefined when it is not in flight (unknown, resolved or expired). */
  resolve(key: K): V | undefined {
    const e = this.table.get(key);
    if (e === null) return undefined;
    this.table.remove(e);
    this.wheel.cancel(e);
    this.resolvedCount++;
    const value = e.value as V;
    this.release(e);
    return value;
  }

  /** The value in flight for `key`, left in place. */
  peek(key: K): V | undefined {
    const e = this.table.get(key);
    return e === null ? undefined : (e.value as V);
  }

  has(key: K): boolean {
    return this.table.get(key) !== null;
  }

  /** The deadline (clock ms) of `key` while it is in flight. */
  deadlineOf(key: K): number | undefined {
    const e = this.table.get(key);
    return e === null ? undefined : e.deadline;
  }

  /**
   * Moves the wheel to `nowMs` and delivers every expiry due, synchronously (in slices
   * of batchSize, without yielding). Returns how many were delivered; 0 when called
   * from inside onExpire.
   */
  tick(nowMs: number = this.now()): number {
    if (this.draining) return 0;
    this.wheel.advance(nowMs);
    return this.drain(Infinity, nowMs);
  }

  /**
   * Moves the wheel to `nowMs`; due entries wait for drain(). Returns how many became
   * due. Inside an onExpire callback it does nothing and returns 0.
   */
  advance(nowMs: number = this.now()): number {
    if (this.draining) return 0;
    return this.wheel.advance(nowMs);
  }

  /** Entries due and not yet delivered. */
  get pending(): number {
    return this.wheel.due;
  }

  /**
   * Delivers up to `limit` due expiries (counted in slices of batchSize); returns how
   * many. Inside an onExpire callback it delivers nothing and returns 0.
   */
  drain(limit: number = this.batchSize, nowMs: number = this.now()): number {
    if (this.draining) return 0;
    let total = 0;
    while (total < limit) {
      const n = this.slice(Math.min(this.batchSize, limit - total), nowMs);
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  /** Drives ticks from one unref'd setInterval(tickMs). Idempotent. */
  start(): void {
    if (this.interval !== null) return;
    this.interval = setInterval(this.onInterval, this.tickMs);
    this.interval.unref();
  }

  /**
   * Stops the interval and any pending slice (called from onExpire, the current slice
   * finishes first). Entries stay in flight; tick() still works.
   */
  stop(): void {
    if (this.interval !== null) clearInterval(this.interval);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.interval = null;
    this.immediate = null;
  }

  stats(): MatcherStats {
    return {
      inFlight: this.table.size,
      pending: this.wheel.due,
      tracked: this.trackedCount,
      duplicates: this.duplicateCount,
      resolved: this.resolvedCount,
      expired: this.expiredCount,
      lastLateMs: this.lastLate,
      maxLateMs: this.maxLate,
      slices: this.sliceCount,
      maxSlice: this.maxSliceSize,
    };
  }

  /** One slice: at most `max` (<= batchSize) callbacks, lateness against one clock reading. */
  private slice(max: number, nowMs: number): number {
    if (this.draining) return 0;
    this.draining = true;
    let n = 0;
    try {
      while (n < max) {
        const e = this.wheel.shift();
        if (e === null) break;
        this.table.remove(e);
        const late = nowMs > e.deadline ? nowMs - e.deadline : 0;
        this.lastLate = late;
        if (late > this.maxLate) this.maxLate = late;
        this.expiredCount++;
        n++;
        const key = e.key;
        const value = e.value as V;
        this.release(e);
        this.onExpire(key, value, late);
      }
    } finally {
      this.draining = false;
      if (n > 0) {
        this.sliceCount++;
        if (n > this.maxSliceSize) this.maxSliceSize = n;
      }
    }
    return n;
  }

  /** Keeps a detached entry for reuse, so a busy matcher allocates nothing per request. */
  private release(e: Entry<K, V>): void {
    e.value = null; // the key stays until reuse: a number or a string in the switch's use
    if (this.pooled >= POOL_MAX) return;
    e.next = this.pool;
    this.pool = e;
    this.pooled++;
  }

  private readonly onInterval = (): void => {
    this.wheel.advance(this.now());
    if (this.immediate === null) this.pump();
  };

  /** Delivers one slice and, while more are due and the matcher runs, schedules the next. */
  private readonly pump = (): void => {
    this.immediate = null;
    try {
      this.slice(this.batchSize, this.now());
    } finally {
      if (this.wheel.due > 0 && this.interval !== null && this.immediate === null) this.immediate = setImmediate(this.pump);
    }
  };
}
