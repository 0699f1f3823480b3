/**
 * The four digits of an MTI by name (ISO 8583-1: version, class, function, origin), as
 * pg-protocol names its message bytes. `mti[1] === '4'` tells a reader nothing;
 * `mtiClass(mti) === MtiClass.Reversal` does. Each reader looks at one character of the
 * string and allocates nothing, so it is fit for the hot path; a position that is not a
 * digit reads as -1, which matches no named value.
 */

/** Second digit: what the message is about. */
export const MtiClass = {
  Authorization: 1,
  Financial: 2,
  FileAction: 3,
  Reversal: 4,
  Reconciliation: 5,
  Administrative: 6,
  FeeCollection: 7,
  NetworkManagement: 8,
} as const;

/** Third digit: the message's role in its exchange. Odd values are answers. */
export const MtiFunction = {
  Request: 0,
  RequestResponse: 1,
  Advice: 2,
  AdviceResponse: 3,
  Notification: 4,
  NotificationAck: 5,
  Instruction: 6,
  InstructionAck: 7,
} as const;

/** Fourth digit: who sent it, and whether it repeats an earlier send (odd values). */
export const MtiOrigin = {
  Acquirer: 0,
  AcquirerRepeat: 1,
  Issuer: 2,
  IssuerRepeat: 3,
  Other: 4,
  OtherRepeat: 5,
} as const;

function digitAt(mti: string, i: number): number {
  const d = mti.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

/** First digit: 0 for ISO 8583:1987, 1 for 1993, 2 for 2003. */
export function mtiVersion(mti: string): number {
  return digitAt(mti, 0);
}

export function mtiClass(mti: string): number {
  return digitAt(mti, 1);
}

export function mtiFunction(mti: string): number {
  return digitAt(mti, 2);
}

export function mtiOrigin(mti: string): number {
  return digitAt(mti, 3);
}

/** An answer to something (x1x0, x1x3...): its function digit is odd. */
export function isResponse(mti: string): boolean {
  const f = digitAt(mti, 2);
  return f >= 0 && (f & 1) === 1;
}

/** A request, advice, notification or instruction: something that can be answered. */
export function isOriginating(mti: string): boolean {
  const f = digitAt(mti, 2);
  return f >= 0 && (f & 1) === 0;
}

/** A repeat of an earlier send (0401, 0421, 1201...): the origin digit is odd. */
export function isRepeat(mti: string): boolean {
  const o = digitAt(mti, 3);
  return o >= 0 && (o & 1) === 1;
}

/** An authorization (x1xx) or financial (x2xx) message: the postings a reversal can undo. */
export function isPosting(mti: string): boolean {
  const c = digitAt(mti, 1);
  return c === MtiClass.Authorization || c === MtiClass.Financial;
}

export function isReversal(mti: string): boolean {
  return digitAt(mti, 1) === MtiClass.Reversal;
}

export function isNetworkManagement(mti: string): boolean {
  return digitAt(mti, 1) === MtiClass.NetworkManagement;
}
