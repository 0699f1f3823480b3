/**
 * The classes a reconciliation puts every journal row and every settlement record in, and
 * what each proposes. The table is the README's; the order is the report's.
 */

export type ReconClass =
  | 'matched'
  | 'posted_but_undone'
  | 'missing_at_issuer'
  | 'amount_mismatch'
  | 'unknown_to_switch'
  | 'duplicate_in_file'
  | 'reversal_not_applied';

export const RECON_CLASSES: readonly ReconClass[] = [
  'matched', 'posted_but_undone', 'reversal_not_applied', 'missing_at_issuer', 'amount_mismatch', 'duplicate_in_file', 'unknown_to_switch',
];

/** refund: queued as a refund of the sale (issue 10's queue); review: an item for a person; none: nothing to do. */
export type ReconAction = 'refund' | 'review' | 'none';

/** What names a posting on both sides: its journal rows (evidence) and the keys a settlement file carries. */
export interface ReconKeys {
  /** The journal's transaction (evidence: `revswitch txn`, the admin API); null when the file alone has it. */
  txnId: string | null;
  /** The journal's reversal or refund row in the queue, if any. */
  undoId: string | null;
  undoState: string | null;
  /** The journal state of the transaction. */
  state: string | null;
  rrn: string;
  terminal: string;
  /** The upstream STAN. */
  stan: string;
  f7: string;
}

/** One difference between the journal and the file, with its evidence and what fixes it. */
export interface ReconLine extends ReconKeys {
  cls: ReconClass;
  currency: string;
  /** What the journal says should have settled (net of an acknowledged reversal), minor units; null when it has no row. */
  journalAmount: number | null;
  /** What the file settles for it (sales less reversals), minor units; null when it has no record. */
  fileAmount: number | null;
  /** The settlement file's lines it rests on. */
  fileLines: number[];
  action: ReconAction;
  /** What the refund credits, or what a review proposes to refund; null otherwise. */
  actionAmount: number | null;
  why: string;
}
