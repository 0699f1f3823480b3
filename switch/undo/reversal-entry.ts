/**
 * What the reversal queue (./reversal-queue.ts) keeps in memory per reversal: the mirror
 * of one store row, plus the message it sends and the flags that keep a send from
 * starting twice while a write is pending.
 */
import type { IsoMessage } from '../../codec/index.js';
import type { ReversalState, UndoKind } from '../store/types.js';
import type { EventBase } from '../observe/events/describe.js';

export interface Entry {
  id: string;
  kind: UndoKind;
  /** A refund's amount (n12); null for a reversal. */
  amount: string | null;
  upstream: string;
  txnId: string | null;
  state: ReversalState;
  attempts: number;
  /**
   * Where its age (maxAgeMs, the SAF's oldest entry) counts from: when it was queued, or
   * when a person last retried it from manual handling, which gives it a fresh life.
   */
  enqueuedAt: number;
  /** When it is next due (a send, or its answer's deadline): on the queue's monotonic clock, unlike the row's wall-clock dueAt. */
  dueAt: number;
  lastError: string | null;
  reason: string;
  finalAmount: string | null;
  /** The original as sent upstream; needed until the 0400 is built. */
  original: IsoMessage | null;
  /** The 0400 as first built; every later send is its repeat. */
  message: IsoMessage | null;
  sentStan: string | null;
  /** A write this entry waits on (the insert, the `sent` mark before sending, a failed write's retry, a re-read of its row). */
  busy: boolean;
  /** Transition writes not yet answered by the store: until they are, the row may lag the mirror. */
  writes: number;
  /** Busy because a failed write is being retried or its row re-read (./reversal-queue.ts). */
  retrying: boolean;
  /** In its link's ready line. */
  queued: boolean;
  /** The card and amount fields of its events (only with events on). */
  ev: EventBase | null;
}

/** Not final yet: pending (waiting to be sent) or sent (waiting for its 0410). */
export function isActive(e: Entry): boolean {
  return e.state === 'pending' || e.state === 'sent';
}
