/**
 * The vocabulary of the rules engine: failure classes, local events, the case a caller
 * asks about, the state it passes in, and the decision it gets back.
 */
import type { VelocityBreach } from './velocity.js';

/**
 * Every way a posting can end. The first eight come from upstream response codes; the
 * rest are things the switch or the terminal saw locally.
 */
export const FAILURE_CLASSES = [
  'approved',
  'insufficient_funds',
  'declined',
  'input_error',
  'fraud_suspect',
  'technical_unknown',
  'issuer_outage',
  'duplicate',
  'timeout',
  'late',
  'undeliverable',
  'mac_failure',
  'chip_decline',
  'customer_cancel',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** What the switch itself observed instead of (or after) a response code. */
export const LOCAL_EVENTS = [
  'timeout',
  'connection_lost',
  'late',
  'undeliverable',
  'mac_failure',
  'format_error',
  'chip_decline',
  'customer_cancel',
] as const;
export type LocalEvent = (typeof LOCAL_EVENTS)[number];

/** What a class asks for before timing and limits are weighed. A refund only ever comes from timing. */
export type ClassAction = 'reverse' | 'none' | 'review';
export type Action = ClassAction | 'refund';

/**
 * Integer minor units: an ISO 8583 F4 style digit string (1 to 12 digits), a safe
 * non-negative integer, or a bigint. Never a float.
 */
export type Amount = string | number | bigint;

/** The largest amount an n12 field can carry. */
export const MAX_AMOUNT = 999_999_999_999;

/** One outcome to decide on. Times are epoch milliseconds: rules/ keeps no clock. */
export interface DecisionCase {
  /**
   * MTI of the message the outcome is about: the posting (x1xx authorization, x2xx
   * financial), or a terminal-initiated reversal (x4xx) whose reason is in responseCode.
   */
  readonly mti: string;
  /** Required for a reversal (x4xx): whether the original only held funds (x1xx) or debited them (x2xx). */
  readonly originalMti?: string;
  /** What the original holds or debited (F4 of the approval; for a partial approval, the approved amount). */
  readonly amount: Amount;
  /** ISO 4217 numeric, three digits. */
  readonly currency: string;
  /** F39 of the response (a 1993 action code has 3 digits), or the reason code of a terminal-initiated reversal. */
  readonly responseCode?: string;
  /** A local event; when both are given, see decide() for which one governs. */
  readonly event?: LocalEvent;
  /** Dialect of the link the code came over; selects `dialects.<name>` overrides. */
  readonly dialect?: string;
  /** Upstream link name; selects `upstreams.<name>` overrides, which win over the dialect's. */
  readonly upstream?: string;
  /** When the original was sent, epoch ms. */
  readonly originalTime: number;
  /** When this decision is made, epoch ms. */
  readonly now: number;
  /** Card-present (24 h reversal window by default) or not (72 h). Absent means card-present, the shorter window. */
  readonly cardPresent?: boolean;
  /** F95: what the cardholder finally pays after a partial undo. Absent means a full undo. */
  readonly finalAmount?: Amount;
  /** Refunds already made against this original. */
  readonly refundedSoFar?: Amount;
  /** A keyed hash of the PAN, for the per-card daily refund cap. Never the PAN itself. */
  readonly panHash?: string;
  /** Promotion id from `limits.promotions` that the original qualified for. */
  readonly promotion?: string;
}

/**
 * Counters the caller keeps (rules/ has no store). Each counts what was already decided,
 * NOT including the case being decided now.
 */
export interface DecisionState {
  /** Automatic undos (reversals and refunds) for this terminal within rules.velocityWindowMs. */
  readonly terminalUndos: number;
  /** The same for this merchant. */
  readonly merchantUndos: number;
  /** The same for this card (by PAN hash). */
  readonly cardUndos: number;
  /** Automatic refunds to this card (by PAN hash) on the current business date (rules.businessDate(now)). */
  readonly cardRefundsToday: number;
  /** Their sum, in the case's currency, minor units. */
  readonly cardRefundAmountToday: Amount;
}

/** Names the rule that settled the decision, so logs and tests can key on it. */
export type RuleId =
  | 'class-policy'
  | 'never-reverse-duplicate'
  | 'decided-by-response'
  | 'nothing-to-undo'
  | 'automatic-undo'
  | 'limit.partial-above-original'
  | 'limit.cumulative-refunds'
  | 'limit.per-card-daily.count'
  | 'limit.per-card-daily.amount'
  | 'limit.per-card-daily.currency'
  | 'limit.per-card-daily.no-pan-hash'
  | 'limit.promotion-minimum-spend'
  | 'limit.promotion-unknown'
  | 'business-day.settled'
  | 'max-age'
  | 'velocity';

export interface Decision {
  readonly action: Action;
  /** What would happen without review: equal to action unless action is 'review'. */
  readonly proposed: Action;
  readonly class: FailureClass;
  readonly rule: RuleId;
  /**
   * The reversal's reason code (also given when a reversal is proposed for review), null
   * otherwise: F39 in 1987 and UnionPay, the message reason code F25 in 1993.
   */
  readonly reason: string | null;
  /** Minor units to give back (0 when nothing is undone or proposed). */
  readonly amount: number;
  /** F95 final amount when the undo is partial; null for a full undo. */
  readonly finalAmount: number | null;
  /** Which rule fired and why, for operators and cardholder disputes. */
  readonly explanation: string;
  /**
   * A threshold the undo passed that a person should hear of, while the decision stands:
   * velocity on a reversal (a reversal releases a hold and pays nobody, so it is never held
   * back). Null when none.
   */
  readonly alert: VelocityBreach | null;
}
