/**
 * Sliding-window counts of automatic undos per terminal, merchant and card: the state
 * rules/ asks for (it keeps no store of its own). In memory, per node: a restart, or
 * another node of the same store, counts from zero. The window is timed on the monotonic
 * clock: a wall-clock step neither forgets the last hour's undos nor keeps them counted
 * an hour longer. The per-card refund counts are kept by business day, the wall clock's.
 */
import type { IsoMessage } from '../../codec/index.js';
import type { DecisionState } from '../../rules/index.js';

/** Past this many cards with refunds, earlier business days' counts are dropped (they no longer count). */
const MAX_CARDS = 10_000;

export class Velocity {
  private readonly events = new Map<string, number[]>();
  /** Automatic refunds per card on one business day (the per-card daily cap): count and minor units. */
  private readonly refunds = new Map<string, { day: number; count: number; amount: number }>();

  constructor(private readonly windowMs: number, private readonly clock: () => number = () => performance.now()) {}

  /** `businessDay`: rules/'s business day now (the wall clock's), which the per-card refund counts are kept by. */
  state(req: IsoMessage, panHash: string | undefined, businessDay: number): DecisionState {
    const now = this.clock();
    const today = panHash === undefined ? undefined : this.refunds.get(panHash);
    const sameDay = today !== undefined && today.day === businessDay;
    return {
      terminalUndos: this.count(`t|${req.get(41) ?? ''}`, now),
      merchantUndos: this.count(`m|${req.get(42) ?? ''}`, now),
      cardUndos: panHash === undefined ? 0 : this.count(`c|${panHash}`, now),
      cardRefundsToday: sameDay ? today.count : 0,
      cardRefundAmountToday: sameDay ? today.amount : 0,
    };
  }

  /** A refund counts as an undo and toward the card's refunds of the business day. */
  recordRefund(req: IsoMessage, panHash: string | undefined, businessDay: number, amount: number): void {
    this.record(req, panHash);
    if (panHash === undefined) return;
    if (this.refunds.size >= MAX_CARDS) for (const [k, v] of this.refunds) if (v.day !== businessDay) this.refunds.delete(k);
    const r = this.refunds.get(panHash);
    if (r === undefined || r.day !== businessDay) this.refunds.set(panHash, { day: businessDay, count: 1, amount });
    else {
      r.count++;
      r.amount += amount;
    }
  }

  record(req: IsoMessage, panHash: string | undefined): void {
    const now = this.clock();
    this.add(`t|${req.get(41) ?? ''}`, now);
    this.add(`m|${req.get(42) ?? ''}`, now);
    if (panHash !== undefined) this.add(`c|${panHash}`, now);
  }

  private count(key: string, now: number): number {
    const list = this.events.get(key);
    if (!list) return 0;
    while (list.length > 0 && now - list[0] > this.windowMs) list.shift();
    if (list.length === 0) this.events.delete(key);
    return list.length;
  }

  private add(key: string, now: number): void {
    const list = this.events.get(key);
    if (list) list.push(now);
    else this.events.set(key, [now]);
  }
}
