/**
 * Reversal dispatch: the seam between deciding to reverse and the reversal reaching the
 * issuer. Callers enqueue, cancel and hand over responses; a worker per upstream link
 * sends 0400 (then 0401 repeats), takes 0410s, and moves what cannot be delivered to
 * manual handling. SafQueue (./reversal-queue.ts) implements it over the store; on the in-memory
 * store (`memory:`) the same code runs without durability.
 */
import type { Dialect, IsoMessage } from '../../codec/index.js';
import type { Mux } from '../edge/mux.js';

import type { ReversalState, UndoKind } from '../store/types.js';
export type { ReversalState, UndoKind };

export interface ReversalRequest {
  /** Unique per original: the same original enqueued twice is one reversal (one refund). */
  id: string;
  /** Default reversal. A refund credits `amount` with a x220 once the original's business day has closed. */
  kind?: UndoKind;
  /** A refund's amount, n12 minor units (at most the original's F4). */
  amount?: string;
  upstream: string;
  /** The original as it was sent upstream (the switch's STAN). Track, PIN and ICC data are dropped on enqueue. */
  original: IsoMessage;
  /** F39 reason (1987, UnionPay) or F25 message reason (1993). */
  reason: string;
  /** F95 final amount for a partial reversal. */
  finalAmount?: string;
  /** Why, from rules/: goes into the record and the logs. */
  explanation: string;
  /** The journal's transaction id, when the original is journaled. */
  txnId?: string;
}

export interface ReversalRecord {
  readonly id: string;
  readonly upstream: string;
  state: ReversalState;
  attempts: number;
  readonly enqueuedAt: number;
  lastError?: string;
}

/** What the switch needs from an upstream link to send reversals. */
export interface ReversalLink {
  readonly dialect: Dialect;
  readonly isUp: boolean;
  /** This host wants a refund as a financial request (x200), not the default advice (x220). */
  readonly refundAsRequest?: boolean;
  /** The link's in-flight table: STANs come from it and answers through it (edge/mux.ts). */
  readonly mux: Pick<Mux, 'nextStan' | 'hold' | 'release' | 'dispatch' | 'holdReversal' | 'releaseReversal'>;
  send(msg: IsoMessage): boolean;
}

export interface ReversalQueue {
  /** False when a reversal with this id already exists (it is not sent twice). */
  enqueue(req: ReversalRequest): boolean;
  /** Withdraws a reversal that has not been sent yet (a late decline: nothing was held). */
  cancel(id: string): boolean;
  /** Offers an upstream response; true when it was the answer to a reversal. */
  handleResponse(upstream: string, msg: IsoMessage): boolean;
  get(id: string): ReversalRecord | undefined;
  /** Reversals not yet acknowledged or moved to manual handling. */
  readonly outstanding: number;
  records(): ReversalRecord[];
  start(): void;
  stop(): void;
}
