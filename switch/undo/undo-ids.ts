/**
 * The ids of the undos of one sale, derived from the original as it went upstream: the
 * same sale gives the same ids on every node, after every restart and from the CLI, so the
 * store takes at most one reversal and one refund per original.
 */

/** `startedAt`: when the switch received the sale (the journal row's createdAt). */
export function reversalIdOf(upstream: string, upstreamStan: string, f7: string, startedAt: number): string {
  return `${upstream}|${upstreamStan}|${f7}|${startedAt}`;
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
