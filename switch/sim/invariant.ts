/**
 * The money invariant, checked from both ends of a run: the issuer's ledger and what
 * the terminals saw. Sales are matched by F37, which the load generator makes unique.
 */
import type { HoldRecord, LedgerSnapshot } from './ledger.js';

export interface MoneyCheck {
  /** No stray hold and no sale reversed twice. */
  ok: boolean;
  /** Holds still in place whose approval no terminal kept: the cardholder pays for goods never sold. */
  strayHolds: HoldRecord[];
  /** Holds that more than one distinct reversal reached (repeats do not count). */
  reversedTwice: HoldRecord[];
  /**
   * Approvals a terminal kept whose hold is gone or was never placed: the merchant
   * handed over goods for money that came back. Not part of `ok`, because a terminal
   * may receive an approval the switch could not know was delivered; assert it where
   * the scenario rules that out.
   */
  missingHolds: string[];
  /**
   * The balance at the issuer: what is still held (count and minor units), against the
   * approvals the terminals kept, and what refunds credited back, each refunded sale netted
   * to zero. Held minus refunded equals the kept approvals when `ok`.
   */
  balance: { held: number; heldAmount: number; kept: number; refundedSales: number; refundedAmount: number };
}

export function checkMoneyInvariant(ledger: LedgerSnapshot, keptRrns: Iterable<string>): MoneyCheck {
  const kept = new Set(keptRrns);
  const strayHolds = ledger.holds.filter((h) => !kept.has(h.rrn));
  const reversedTwice = [...ledger.holds, ...ledger.released].filter((h) => h.reversals.distinct > 1);
  const live = new Set(ledger.holds.map((h) => h.rrn));
  const missingHolds = [...kept].filter((r) => !live.has(r)).sort();
  const refundedSales = [...ledger.holds, ...ledger.released].filter((h) => Number(h.refunded) > 0).length;
  const balance = {
    held: ledger.holds.length, heldAmount: ledger.heldAmount, kept: kept.size, refundedSales, refundedAmount: ledger.summary.refundedAmount,
  };
  return { ok: strayHolds.length === 0 && reversedTwice.length === 0, strayHolds, reversedTwice, missingHolds, balance };
}
