/**
 * What each failure class means, and which actions a rules file may give it. The
 * restrictions are the domain's hard lines (domain.md §1): a rules file can tune policy,
 * but it cannot make the switch reverse a duplicate or drop a reversal the cardholder is owed.
 */
import type { ClassAction, FailureClass, LocalEvent } from './types.js';

export interface ClassInfo {
  /** Why the funds are (or are not) in doubt, as it reads in an explanation. */
  readonly meaning: string;
  readonly allowed: readonly ClassAction[];
  /** A wrongful hold is possible, so review proposes an undo (and the class needs a reversal reason). */
  readonly fundsMayBeHeld: boolean;
  /** Shown when a rules file asks for an action outside `allowed`. */
  readonly because?: string;
}

/**
 * A mandatory reversal only releases a hold the cardholder got nothing for; it pays nobody,
 * and networks oblige the acquirer to send it. So no rules file may send one to review:
 * a review would hold the cardholder's money until a person looked.
 */
const MANDATORY = 'a mandatory reversal: it only releases a hold, pays nobody, and the network obliges us to send it, so review would hold the cardholder\'s money back';

export const CLASS_INFO: Readonly<Record<FailureClass, ClassInfo>> = {
  approved: {
    meaning: 'approved and delivered, so the sale stands',
    fundsMayBeHeld: false,
    allowed: ['none', 'review'],
    because: 'reversing a delivered approval would undo a completed sale',
  },
  insufficient_funds: {
    meaning: 'a definitive decline for lack of funds or a limit, so nothing was held',
    fundsMayBeHeld: false,
    allowed: ['none', 'review', 'reverse'],
  },
  declined: {
    meaning: 'a definitive decline, so nothing was held',
    fundsMayBeHeld: false,
    allowed: ['none', 'review', 'reverse'],
  },
  input_error: {
    meaning: 'the request was rejected as invalid, so nothing was held',
    fundsMayBeHeld: false,
    allowed: ['none', 'review', 'reverse'],
  },
  fraud_suspect: {
    meaning: 'a decline on a fraud signal: nothing was held, but a person must look',
    fundsMayBeHeld: false,
    allowed: ['review'],
    because: 'fraud outcomes must be flagged for review (domain.md §1)',
  },
  technical_unknown: {
    meaning: 'a technical failure with an unknown outcome, so funds may be held',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  issuer_outage: {
    meaning: 'the issuer or a gateway was down: usually nothing was posted, and a reversal is harmless',
    fundsMayBeHeld: true,
    allowed: ['reverse', 'none', 'review'],
  },
  duplicate: {
    meaning: 'a duplicate transmission: a reversal could undo the real original',
    fundsMayBeHeld: false,
    allowed: ['none', 'review'],
    because: 'reversing a duplicate (94) could undo the real original',
  },
  timeout: {
    meaning: 'no response in time, so the outcome is unknown',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  late: {
    meaning: 'the response came after the timeout: the reversal queued then stands, and the late response never reaches the terminal',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  undeliverable: {
    meaning: 'approved, but the response could not be delivered to the terminal',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  mac_failure: {
    meaning: 'the response failed its MAC check, so its outcome cannot be trusted',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  chip_decline: {
    meaning: 'approved online, then the chip card or the terminal declined',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
  customer_cancel: {
    meaning: 'the customer cancelled, or the device dispensed less than asked',
    fundsMayBeHeld: true,
    allowed: ['reverse'],
    because: MANDATORY,
  },
};

/**
 * Classes a terminal-initiated reversal's reason code may map to: the terminal reverses
 * because it could not complete, never because of a decline or a duplicate.
 */
export const REVERSAL_REASON_CLASSES: readonly FailureClass[] = [
  'timeout', 'late', 'undeliverable', 'mac_failure', 'chip_decline', 'customer_cancel', 'technical_unknown', 'issuer_outage',
];

/** An unknown response code is never taken to mean "approved" or "duplicate": either would wrongly skip a reversal. */
export const UNKNOWN_RESPONSE_CLASSES: readonly FailureClass[] = [
  'insufficient_funds', 'declined', 'input_error', 'fraud_suspect', 'technical_unknown', 'issuer_outage',
];

/**
 * Events that only happen after an approval. When the case also carries a response code
 * that is not an approval, that response governs: nothing was held, so the event changes nothing.
 * A MAC failure is not among them: a response that fails its MAC cannot be believed.
 */
export const AFTER_APPROVAL_EVENTS: ReadonlySet<LocalEvent> = new Set<LocalEvent>(['undeliverable', 'chip_decline', 'customer_cancel']);

/** The only class code 94 may have, in every table (domain.md §1). */
export const DUPLICATE_CODE = '94';
