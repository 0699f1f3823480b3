/**
 * What the journal says one financial transaction should have settled, from its state and
 * its reversal: the yardstick a settlement file is measured against. A reversal pays
 * nobody, so an undone sale should settle nothing, or (a partial reversal, F95) its final
 * amount once the reversal was acknowledged.
 */
import type { ReconJournalRow } from '../store/types.js';

export interface Expectation {
  /** Minor units the file should settle for it, net. */
  expected: number;
  /** What was asked, or approved when less was approved (F39 10). */
  asked: number;
  /** Approved and kept: the merchant is owed `expected`. */
  kept: boolean;
  /** The journal undid it (timed out, undelivered, reversed, recovered, chip declined...). */
  undone: boolean;
  /** Its reversal was acknowledged by the upstream. */
  reversalAcked: boolean;
  /** Its reversal is still in the queue (pending or sent): a refund now could credit twice. */
  undoInFlight: boolean;
}

/** n12 (or any digit string) to minor units; null and '' are 0. */
export function minor(v: string | null): number {
  if (v === null || v === '') return 0;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

export function expectationOf(row: ReconJournalRow): Expectation {
  const asked = minor(row.approvedAmount ?? row.amount);
  const rev = row.reversalState;
  const reversalAcked = rev === 'acked';
  const undoInFlight = rev === 'pending' || rev === 'sent';
  const afterReversal = reversalAcked ? minor(row.reversalFinal) : 0;
  switch (row.state) {
    case 'approved':
      // An approval whose reversal an operator cancelled stands.
      if (rev === null || rev === 'cancelled') return { expected: asked, asked, kept: true, undone: false, reversalAcked, undoInFlight };
      return { expected: afterReversal, asked, kept: false, undone: true, reversalAcked, undoInFlight };
    case 'declined':
    case 'not_sent':
      return { expected: 0, asked, kept: false, undone: false, reversalAcked, undoInFlight };
    default:
      return { expected: afterReversal, asked, kept: false, undone: true, reversalAcked, undoInFlight };
  }
}
