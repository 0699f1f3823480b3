/**
 * The ids of the undos of one sale, derived from the original as it went upstream: the
 * same sale gives the same ids on every node, after every restart and from the CLI, so the
 * store takes at most one reversal and one refund per original.
 */
import { sealedField } from '../store/sealed.js';
import type { TxnRow } from '../store/types.js';

/** `startedAt`: when the switch received the sale (the journal row's createdAt). */
export function reversalIdOf(upstream: string, upstreamStan: string, f7: string, startedAt: number): string {
  return `${upstream}|${upstreamStan}|${f7}|${startedAt}`;
}

/**
 * The reversal id of a journal row, from what went upstream: its upstream STAN and the F7
 * of its sealed request (the terminal's F7 when the sealed message has none). Null when it
 * never went upstream; throws when the sealed message cannot be read.
 */
export function reversalIdOfRow(txn: TxnRow): string | null {
  if (txn.upstream === null || txn.upstreamStan === null) return null;
  const f7 = txn.sealed === null ? undefined : sealedField(txn.sealed, 7);
  return reversalIdOf(txn.upstream, txn.upstreamStan, f7 ?? txn.f7 ?? '', txn.createdAt);
}

/** A refund's id: its original's reversal id, marked. */
export function refundIdOf(reversalId: string): string {
  return `refund|${reversalId}`;
}

/** One review item per transaction. */
export function reviewIdOf(txnId: string): string {
  return `review|${txnId}`;
}

/**
 * A review item a reconciliation raised (`revswitch reconcile --apply`): one per class and
 * journal row or settlement line, so the same file applied again raises nothing new.
 */
export function reconReviewIdOf(businessDate: string, cls: string, key: string): string {
  return `review|recon|${businessDate}|${cls}|${key}`;
}

export function isReconReviewId(id: string): boolean {
  return id.startsWith('review|recon|');
}
