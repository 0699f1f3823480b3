/**
 * Sliding-window counts of automatic undos per terminal, merchant and card: the state
 * rules/ asks for (it keeps no store of its own). In memory, per node: a restart, or
 * another node of the same store, counts from zero.
 */
import type { IsoMessage } from '../../codec/index.js';
import type { DecisionState } from '../../rules/index.js';

export class Velocity {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly windowMs: number) {}

  state(req: IsoMessage, panHash: string | undefined, now: number): DecisionState {
    return {
      terminalUndos: this.count(`t|${req.get(41) ?? ''}`, now),
      merchantUndos: this.count(`m|${req.get(42) ?? ''}`, now),
      cardUndos: panHash === undefined ? 0 : this.count(`c|${panHash}`, now),
      cardRefundsToday: 0,
      cardRefundAmountToday: 0,
    };
  }

  record(req: IsoMessage, panHash: string | undefined, now: number): void {
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
