/**
 * Caps on what is given back automatically (domain.md §5). Each check returns null when
 * the undo is within bounds, or the rule and the words for the review; a breach is never
 * waved through and never silently trimmed to fit.
 */
import type { RuleId } from './types.js';

export interface Promotion {
  readonly minimumSpend: number;
  readonly currency: string;
}

export interface LimitsConfig {
  /** Automatic refunds per card per business date. */
  readonly perCardCount: number;
  /** Cap on their sum, per currency; a currency without a cap cannot be checked. */
  readonly perCardCaps: ReadonlyMap<string, number>;
  readonly promotions: ReadonlyMap<string, Promotion>;
}

export interface Breach {
  readonly rule: RuleId;
  readonly text: string;
}

/** F95 says what the cardholder finally pays; above the original it would reverse a negative amount. */
export function checkPartial(amount: number, finalAmount: number): Breach | null {
  if (finalAmount <= amount) return null;
  return {
    rule: 'limit.partial-above-original',
    text: `the final amount ${finalAmount} (F95) is above the original ${amount}: a partial undo may never exceed the original`,
  };
}

/** Everything given back, this undo included, stays within the original. */
export function checkCumulative(amount: number, refundedSoFar: number, undo: number): Breach | null {
  if (refundedSoFar + undo <= amount) return null;
  return {
    rule: 'limit.cumulative-refunds',
    text: `${refundedSoFar} already refunded plus ${undo} now is ${refundedSoFar + undo}, above the original ${amount}`,
  };
}

/** Counts exclude the refund being decided; "at the cap" is allowed, one more is not. */
export function checkPerCardDaily(
  l: LimitsConfig, currency: string, panHash: string | undefined, countToday: number, amountToday: number, undo: number,
): Breach | null {
  if (panHash === undefined) {
    return { rule: 'limit.per-card-daily.no-pan-hash', text: 'no panHash was given, so the per-card daily refund cap cannot be checked' };
  }
  const cap = l.perCardCaps.get(currency);
  if (cap === undefined) {
    return {
      rule: 'limit.per-card-daily.currency',
      text: `the per-card daily refund cap has no amount for currency ${currency} (limits.perCardDaily), so it cannot be checked`,
    };
  }
  if (countToday + 1 > l.perCardCount) {
    return {
      rule: 'limit.per-card-daily.count',
      text: `this card already had ${countToday} automatic refunds today; one more exceeds the per-card daily cap of ${l.perCardCount}`,
    };
  }
  if (amountToday + undo > cap) {
    return {
      rule: 'limit.per-card-daily.amount',
      text: `this card already had ${amountToday} refunded today; ${undo} more makes ${amountToday + undo}, above the per-card daily cap of ${cap} in currency ${currency}`,
    };
  }
  return null;
}

/**
 * A purchase that qualified for a minimum-spend promotion must not be undone below that
 * spend automatically: the benefit would have to be recalculated by a person. A full undo
 * (nothing left) cancels the benefit with the purchase, so it passes.
 */
export function checkPromotion(l: LimitsConfig, id: string, currency: string, remaining: number): Breach | null {
  const p = l.promotions.get(id);
  if (p === undefined) {
    return { rule: 'limit.promotion-unknown', text: `promotion ${JSON.stringify(id)} is not in limits.promotions, so its minimum spend cannot be checked` };
  }
  if (p.currency !== currency) {
    return {
      rule: 'limit.promotion-unknown',
      text: `promotion ${JSON.stringify(id)} is set in currency ${p.currency}, but the original is in ${currency}, so its minimum spend cannot be checked`,
    };
  }
  if (remaining === 0 || remaining >= p.minimumSpend) return null;
  return {
    rule: 'limit.promotion-minimum-spend',
    text: `${remaining} would remain, below the minimum spend of ${p.minimumSpend} for promotion ${JSON.stringify(id)}`,
  };
}
