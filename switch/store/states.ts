/**
 * The states and kinds of the store's rows (./types.ts re-exports them): a leaf, so the
 * modules the Store contract names can use them without an import cycle.
 */

/** A transaction's life as the journal records it. */
export type JournalState =
  /** Written ahead of the send: if the switch dies now, recovery reverses it. */
  | 'forwarded'
  | 'approved'
  | 'declined'
  /** No answer by the deadline; the terminal got a non-approval. */
  | 'timed_out'
  /** Approved, but the answer did not reach the terminal. */
  | 'undeliverable'
  /** Approved, then reversed on the terminal's request. */
  | 'reversed_by_terminal'
  /** Never left the switch (no upstream, or the write failed). */
  | 'not_sent'
  /** Found without an outcome at start-up: the switch died while it was in flight. */
  | 'recovered'
  /** A reversal a terminal sent (0400/0420): answered at once, recorded here. */
  | 'terminal_reversal';

export type ReversalState = 'pending' | 'sent' | 'acked' | 'manual' | 'cancelled' | 'resolved';

/**
 * What a row of the store-and-forward queue undoes a sale with: a reversal (x400, releases
 * a hold; inside the reversal window) or a refund (x220 credit, once the sale's business
 * day has closed). Both share the queue, its write-ahead, repeats, leases and manual state.
 */
export type UndoKind = 'reversal' | 'refund';

/** What a review can end in: the undo carried out, or nothing. */
export type ReviewAction = 'reverse' | 'refund' | 'none';
