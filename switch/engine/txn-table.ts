/**
 * The transaction table: every request the switch forwarded, by the sender's own key,
 * kept after it ends for duplicate detection, terminal reversals and late responses.
 * In memory for now, with a retention window; issue 5 puts the same records in the store.
 */
import type { IsoMessage } from '../../codec/index.js';
import type { Conn } from '../edge/framed-conn.js';

export type TxnState =
  | 'inflight'
  | 'approved'
  | 'declined'
  | 'timed_out'
  | 'undeliverable'
  | 'reversed_by_terminal'
  | 'not_sent';

export interface Txn {
  /** The journal's id. */
  readonly id: string;
  /** sender | STAN | F7: what makes a request a duplicate. */
  readonly key: string;
  /** sender | STAN | MMDD: what a reversal without F90 can match on. */
  readonly dayKey: string;
  /** The terminal's request, without track, PIN or ICC data once forwarded. */
  readonly request: IsoMessage;
  readonly listener: string;
  state: TxnState;
  /** Where the answer goes, and duplicates waiting for the same answer. */
  conn: Conn | null;
  waiters: Conn[];
  upstream: string;
  /** The request as sent upstream, under the link's own STAN. */
  sent: IsoMessage | null;
  upstreamStan: number;
  readonly startedAt: number;
  /** performance.now() when the request was read, and when it was written upstream (0: not yet): metrics. */
  readonly receivedAt: number;
  sentAt: number;
  /** The answer the terminal got (or would have got). */
  answer: IsoMessage | null;
  /** The reversal id, once one was queued. */
  reversalId: string | null;
  /** A terminal reversal arrived while the original was still in flight. */
  reverseWhenDone: { reason: string } | null;
  /** What rules/ said last, for the record. */
  decision: string | null;
}

/** Sender identity: the acquirer (F32) when a host forwards for many terminals, and the terminal (F41). */
export function senderOf(msg: IsoMessage): string {
  return `${msg.get(32) ?? ''}/${msg.get(41) ?? ''}`;
}

export class TxnTable {
  private readonly byKey = new Map<string, Txn>();
  private readonly byDay = new Map<string, Txn>();

  constructor(private readonly retentionMs: number, private readonly maxEntries: number) {}

  get(key: string): Txn | undefined {
    return this.byKey.get(key);
  }

  getByDay(dayKey: string): Txn | undefined {
    return this.byDay.get(dayKey);
  }

  add(t: Txn): void {
    this.byKey.set(t.key, t);
    this.byDay.set(t.dayKey, t);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Drops ended transactions past retention, oldest first (Maps keep insertion order). */
  sweep(now: number): void {
    for (const [k, t] of this.byKey) {
      const old = now - t.startedAt > this.retentionMs;
      if (!old && this.byKey.size <= this.maxEntries) break;
      if (t.state === 'inflight') continue;
      this.byKey.delete(k);
      if (this.byDay.get(t.dayKey) === t) this.byDay.delete(t.dayKey);
    }
  }
}
