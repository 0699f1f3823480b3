/**
 * The transaction table: every request the switch forwarded, by its keys (./txn.ts), kept
 * after it ends for duplicate detection, terminal reversals and late responses. A capped
 * cache in front of the journal: what it let go is found in the store when asked for.
 */
import type { OriginalRef } from '../../codec/index.js';
import { originalKeyOf, type Txn } from './txn.js';

export class TxnTable {
  private readonly byKey = new Map<string, Txn>();
  private readonly byDay = new Map<string, Txn>();
  /** Only transactions with an originalKey of their own (1993). */
  private readonly byOriginal = new Map<string, Txn>();

  /** Answered transactions waiting to be packed, at the end of the event loop's turn. */
  private toPack: Txn[] = [];

  constructor(private readonly retentionMs: number, private readonly maxEntries: number) {}

  /**
   * A transaction was answered: packed (./txn.ts) once the turn that answered it has run,
   * since what follows an answer in that turn (rules/, a reversal's queueing, an
   * undeliverable approval) reads its messages. Packed that soon, the live messages die
   * young, in the scavenger, and never reach the old generation.
   */
  ended(t: Txn): void {
    if (this.toPack.push(t) === 1) setImmediate(this.packPending);
  }

  private readonly packPending = (): void => {
    const batch = this.toPack;
    this.toPack = [];
    for (const t of batch) t.pack();
  };

  get(key: string): Txn | undefined {
    return this.byKey.get(key);
  }

  getByDay(dayKey: string): Txn | undefined {
    return this.byDay.get(dayKey);
  }

  /** The original a reversal's F90 or F56 names, from the reversal's sender. */
  getOriginal(sender: string, ref: OriginalRef): Txn | undefined {
    const k = originalKeyOf(sender, ref);
    return ref.timeField === 7 ? this.byKey.get(k) : this.byOriginal.get(k);
  }

  add(t: Txn): void {
    if (t.state !== 'inflight') this.ended(t);
    this.byKey.set(t.key, t);
    this.byDay.set(t.dayKey, t);
    if (t.originalKey !== null) this.byOriginal.set(t.originalKey, t);
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Drops ended transactions past retention, oldest first (Maps keep insertion order), and
   * past maxEntries younger ones too. Returns how many went before their retention because
   * the cap was reached: a duplicate of one is then answered from the journal, slower.
   */
  sweep(now: number): number {
    let early = 0;
    for (const [k, t] of this.byKey) {
      const old = now - t.startedAt > this.retentionMs;
      if (!old && this.byKey.size <= this.maxEntries) break;
      if (t.state === 'inflight') continue;
      if (!old) early++;
      this.byKey.delete(k);
      if (this.byDay.get(t.dayKey) === t) this.byDay.delete(t.dayKey);
      if (t.originalKey !== null && this.byOriginal.get(t.originalKey) === t) this.byOriginal.delete(t.originalKey);
    }
    return early;
  }
}
