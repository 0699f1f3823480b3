/**
 * One hashed timer wheel for every deadline in the switch (no timer per request).
 *
 * The wheel is an array of `slots` doubly linked lists, one per tick of `tickMs`; a
 * deadline `d` goes into slot `floor((d - origin) / tickMs) & (slots - 1)`. Entries are
 * intrusive: the list links (`prev`, `next`), the slot index and the deadline live on the
 * caller's own entry object, so scheduling and cancelling are O(1) and allocate nothing.
 *
 * Deadlines further away than one revolution (slots x tickMs, 40.96 s by default) simply
 * stay in their slot: a sweep moves an entry only when its absolute deadline has passed,
 * so a far entry is skipped (one comparison) on each revolution until its turn.
 *
 * `advance(now)` sweeps every tick from the last swept one up to the tick `now` falls in,
 * and moves each entry whose deadline is <= now to the *due queue*, a FIFO list held in
 * one extra slot (index `slots`). The tick `now` falls in is swept again by the next
 * advance, because entries later in that tick are not due yet. So a deadline is due at
 * the first advance whose `now` is at or after it: never early, and never later than the
 * next advance. Due entries are handed out one by one with `shift()`, which lets the
 * caller deliver a large burst in slices. An entry in the due queue can still be
 * cancelled.
 *
 * Order: entries become due tick by tick, and within a tick in the order they were
 * scheduled.
 *
 * A deadline before the wheel's current tick (a zero or negative timeout, or the clock
 * read before the last advance) is put in the current tick, so it becomes due at the next
 * advance. After a long pause (the clock jumped by more than a revolution) one advance
 * sweeps every slot once, not once per missed tick.
 */

/** The fields the wheel keeps on an entry. `E` is the entry type itself. */
export interface TimerEntry<E> {
  prev: E | null;
  next: E | null;
  /** The list the entry is on: a wheel slot, the due queue (`slots`), or -1 for none. */
  slot: number;
  /** Absolute deadline, in the clock's milliseconds. */
  deadline: number;
}

export interface TimerWheelOptions {
  /** The clock reading the wheel starts at (its tick 0). */
  startMs: number;
  /** Tick length in ms (default 10). */
  tickMs?: number;
  /** Number of slots, a power of two (default 4096). */
  slots?: number;
}

export const DEFAULT_TICK_MS = 10;
export const DEFAULT_SLOTS = 4096;

/** The value given to `slot` of an entry that is on no list. */
export const DETACHED = -1;

export class TimerWheel<E extends TimerEntry<E>> {
  readonly tickMs: number;
  readonly slots: number;
  private readonly mask: number;
  private readonly origin: number;
  /** The due queue's index in heads/tails. */
  private readonly dueSlot: number;
  private readonly heads: (E | null)[];
  private readonly tails: (E | null)[];
  /** The last tick swept; it is swept again by the next advance. */
  private current = 0;
  private scheduledCount = 0;
  private dueCount = 0;

  constructor(opts: TimerWheelOptions) {
    const tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    const slots = opts.slots ?? DEFAULT_SLOTS;
    if (!(Number.isFinite(tickMs) && tickMs > 0)) throw new RangeError(`timer wheel: tickMs must be a positive number, got ${tickMs}`);
    if (!(Number.isInteger(slots) && slots >= 1 && slots <= 2 ** 30 && (slots & (slots - 1)) === 0)) {
      throw new RangeError(`timer wheel: slots must be a power of two between 1 and 2^30, got ${slots}`);
    }
    if (!Number.isFinite(opts.startMs)) throw new RangeError(`timer wheel: startMs must be a finite number, got ${opts.startMs}`);
    this.tickMs = tickMs;
    this.slots = slots;
    this.mask = slots - 1;
    this.origin = opts.startMs;
    this.dueSlot = slots;
    // Filled by push so the arrays are packed (no holes), which keeps element access fast.
    this.heads = [];
    this.tails = [];
    for (let i = 0; i <= slots; i++) {
      this.heads.push(null);
      this.tails.push(null);
    }
  }

  /** Entries waiting for their deadline (not yet due). */
  get scheduled(): number {
    return this.scheduledCount;
  }

  /** Entries whose deadline has passed, waiting in the due queue for shift(). */
  get due(): number {
    return this.dueCount;
  }

  /** The tick a clock reading falls in. */
  tickOf(ms: number): number {
    return Math.floor((ms - this.origin) / this.tickMs);
  }

  /**
   * Puts `e` on the wheel for `deadline` (a finite clock reading). An entry already on
   * the wheel or in the due queue is moved.
   */
  schedule(e: E, deadline: number): void {
    if (e.slot !== DETACHED) this.cancel(e);
    let tick = Math.floor((deadline - this.origin) / this.tickMs);
    if (!(tick >= this.current)) tick = this.current;
    // `&` works on the low 32 bits, which hold the slot for any tick below 2^53.
    const slot = tick & this.mask;
    e.deadline = deadline;
    e.slot = slot;
    this.append(e, slot);
    this.scheduledCount++;
  }

  /** Takes `e` off the wheel or out of the due queue; false if it was on neither. */
  cancel(e: E): boolean {
    const slot = e.slot;
    if (slot === DETACHED) return false;
    this.unlink(e, slot);
    if (slot === this.dueSlot) this.dueCount--;
    else this.scheduledCount--;
    return true;
  }

  /**
   * Moves every entry whose deadline is <= nowMs to the due queue; returns how many
   * were moved. A clock reading earlier than the last one sweeps only the current tick.
   */
  advance(nowMs: number): number {
    const target = Math.floor((nowMs - this.origin) / this.tickMs);
    const from = this.current;
    let ticks = target - from + 1;
    if (!(ticks >= 1)) ticks = 1;
    if (ticks > this.slots) ticks = this.slots;
    let moved = 0;
    for (let i = 0; i < ticks; i++) moved += this.sweep((from + i) & this.mask, nowMs);
    if (target > from) this.current = target;
    this.scheduledCount -= moved;
    this.dueCount += moved;
    return moved;
  }

  /** Takes the oldest entry out of the due queue, or null when it is empty. */
  shift(): E | null {
    const e = this.heads[this.dueSlot];
    if (e === null) return null;
    this.unlink(e, this.dueSlot);
    this.dueCount--;
    return e;
  }

  private sweep(slot: number, nowMs: number): number {
    let moved = 0;
    let e = this.heads[slot];
    while (e !== null) {
      const next: E | null = e.next;
      if (e.deadline <= nowMs) {
        this.unlink(e, slot);
        e.slot = this.dueSlot;
        this.append(e, this.dueSlot);
        moved++;
      }
      e = next;
    }
    return moved;
  }

  private append(e: E, slot: number): void {
    const tail = this.tails[slot];
    e.prev = tail;
    e.next = null;
    if (tail === null) this.heads[slot] = e;
    else tail.next = e;
    this.tails[slot] = e;
  }

  /** Unlinks `e` from list `slot` and marks it detached. */
  private unlink(e: E, slot: number): void {
    const prev = e.prev;
    const next = e.next;
    if (prev === null) this.heads[slot] = next;
    else prev.next = next;
    if (next === null) this.tails[slot] = prev;
    else next.prev = prev;
    e.prev = null;
    e.next = null;
    e.slot = DETACHED;
  }
}
