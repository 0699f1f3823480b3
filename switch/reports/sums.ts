/**
 * Exact sums of amounts per currency for the report: bigint minor units, never a float, so
 * a day of n12 amounts cannot lose a cent.
 */
import { parseAmount } from '../../codec/index.js';
import type { TxnRow } from '../store/types.js';

/** A sum in one currency, as the report shows it. */
export interface Amount {
  currency: string;
  /** Transactions summed. */
  count: number;
  /** Minor units, as a decimal string. */
  minor: string;
}

/**
 * A stored amount as bigint minor units for the sums. One that is not n12 (1 to 12 digits)
 * counts as 0: it cannot have come from an ISO message, and a report shows what it can.
 */
export function minorOf(s: string | null): bigint {
  const n = s === null ? null : parseAmount(s);
  return n === null ? 0n : BigInt(n);
}

/** Sums per currency. */
export class Sums {
  private readonly m = new Map<string, { count: number; minor: bigint }>();
  count = 0;

  add(currency: string | null, minor: bigint): void {
    this.addMany(currency, 1, minor);
  }

  /** `count` transactions at once, summing to `minor` (a group the store summed). */
  addMany(currency: string | null, count: number, minor: bigint): void {
    const c = currency ?? '';
    const e = this.m.get(c) ?? { count: 0, minor: 0n };
    e.count += count;
    e.minor += minor;
    this.m.set(c, e);
    this.count += count;
  }

  addTxn(t: TxnRow): void {
    this.add(t.currency, minorOf(t.amount));
  }

  amounts(): Amount[] {
    return [...this.m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, e]) => ({ currency, count: e.count, minor: e.minor.toString() }));
  }
}

export function grouped<K>(): { get(k: K): Sums; entries(): [K, Sums][] } {
  const m = new Map<K, Sums>();
  return {
    get(k) {
      let s = m.get(k);
      if (s === undefined) {
        s = new Sums();
        m.set(k, s);
      }
      return s;
    },
    entries: () => [...m.entries()],
  };
}
