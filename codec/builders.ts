/**
 * Message builders: the response to a request, the repeat form of a message, and what
 * every standard's reversal and refund have in common. Each standard's own reversal (1987
 * F90 and F95, 1993 F56 and F24, UnionPay's original trace and F60) and refund (F90, F56,
 * UnionPay F60/F61) is its profile's (codec/profiles/). Both are built from key fields and
 * amounts only: never from track data, PIN blocks or ICC data.
 */
import type { Dialect } from './dialect.js';
import { IsoError } from './errors.js';
import type { IsoMessage } from './message.js';
import { copyBytes, IsoMessage as Message } from './message.js';
import { isOriginating, isPosting, isResponse, MtiClass, mtiClass, mtiFunction, mtiOrigin, MtiOrigin } from './mti.js';
import { swapTpdu } from './tpdu.js';

/** 0200 -> 0210, 0401 -> 0410, 0420 -> 0430, 1100 -> 1110. */
export function responseMti(mti: string): string {
  if (mti.length !== 4) throw new IsoError('mti', -1, 'expected 4 digits');
  const fn = mtiFunction(mti);
  if (fn < 0 || isResponse(mti)) throw new IsoError('mti', -1, `MTI ${mti} is not a request or advice`);
  return mti.slice(0, 2) + String(fn + 1) + '0';
}

/** The repeat MTI: 0400 -> 0401, 0420 -> 0421. A repeat stays a repeat. */
export function repeatMti(mti: string): string {
  const origin = mtiOrigin(mti);
  if (mti.length !== 4 || origin < 0) throw new IsoError('mti', -1, 'expected 4 digits');
  if (origin === MtiOrigin.AcquirerRepeat || origin === MtiOrigin.IssuerRepeat) return mti;
  if (origin === MtiOrigin.Acquirer || origin === MtiOrigin.Issuer) return mti.slice(0, 3) + String(origin + 1);
  throw new IsoError('mti', -1, `MTI ${mti} has no repeat form`);
}

/**
 * The response to `req`: MTI + 10, the dialect's echo fields copied, the TPDU's
 * addresses swapped, and F39 set when a response code is given.
 */
export function responseTo(dialect: Dialect, req: IsoMessage, responseCode?: string): IsoMessage {
  const res = new Message(responseMti(req.mti));
  for (const n of dialect.spec.echo) {
    const v = req.values[n];
    if (v !== undefined) res.values[n] = v;
  }
  if (req.tpdu) res.tpdu = swapTpdu(req.tpdu);
  if (req.header) res.header = copyBytes(req.header);
  if (responseCode !== undefined) res.set(39, responseCode);
  return res;
}

/**
 * Whether `answer` is about another message than `req`: one of `fields` that both carry
 * holds different values (an answer under a STAN it does not belong to).
 */
export function answersAnother(answer: IsoMessage, req: IsoMessage, fields: readonly number[]): boolean {
  for (const n of fields) {
    const x = answer.get(n);
    const y = req.get(n);
    if (x !== undefined && y !== undefined && x !== y) return true;
  }
  return false;
}

export interface ReversalOptions {
  /**
   * Why, in the field the standard carries it (the profile's reasonField): F39 on 1987
   * and UnionPay (68, 06, 98, 96, A0...), F25 on 1993 (4021, 4000...).
   */
  reason?: string;
  /** 1993: the message reason code, F25, when it differs from `reason` (default 4021, timeout waiting for response). */
  messageReason?: string;
  /** The amount that stays with the cardholder's account after a partial reversal. */
  finalAmount?: string;
  /** The reversal's own STAN (default: the original's). */
  stan?: string;
  /** The reversal's F7 (default: the original's). The codec keeps no clock. */
  transmissionDateTime?: string;
  /** The approval code from the original's response, when known. */
  approvalCode?: string;
  /** Send as an advice (0420/1420) instead of a request. */
  advice?: boolean;
}

function digits12(v: string, what: string): string {
  if (v.length === 0 || v.length > 12) throw new IsoError(4, -1, `${what}: expected 1 to 12 digits`);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) throw new IsoError(4, -1, `${what}: expected digits`);
  }
  return v.padStart(12, '0');
}

/** A partial reversal's final amount and the original's, both n12; throws when it is not below the original. */
export interface PartialAmounts {
  original: string;
  final: string;
}

/** The dialect's MTI of a message class: its request (x.00), or its advice (x.20). */
function mtiOf(dialect: Dialect, cls: number, advice: boolean): string {
  return String(dialect.versionDigit) + String(cls) + (advice ? '20' : '00');
}

/** A new message of `mti` with the `copy` fields the dialect has, and the envelope (TPDU, header), from the original. */
function copiedFrom(dialect: Dialect, orig: IsoMessage, copy: readonly number[], mti: string): IsoMessage {
  const m = new Message(mti);
  for (const n of copy) {
    const v = orig.values[n];
    if (v !== undefined && dialect.fields[n] !== undefined) m.values[n] = v;
  }
  if (orig.tpdu) m.tpdu = copyBytes(orig.tpdu);
  if (orig.header) m.header = copyBytes(orig.header);
  return m;
}

/**
 * What every standard's reversal starts from: the MTI (x400, or x420 as an advice), the
 * copy-through fields the dialect has, the envelope, the approval code, the STAN and F7.
 * The standard's own original-data fields are added by its profile (codec/profiles/).
 * Null `partial` means a full reversal.
 */
export function reversalBase(
  dialect: Dialect, orig: IsoMessage, copy: readonly number[], opts: ReversalOptions, withF7: boolean,
): { rev: IsoMessage; partial: PartialAmounts | null } {
  if (!isPosting(orig.mti)) throw new IsoError('mti', -1, `MTI ${orig.mti} is not an authorization or financial message`);
  let partial: PartialAmounts | null = null;
  if (opts.finalAmount !== undefined) {
    const original = orig.get(4);
    if (original === undefined) throw new IsoError(4, -1, 'a partial reversal needs the original amount (F4)');
    partial = { original: digits12(original, 'original amount'), final: digits12(opts.finalAmount, 'final amount') };
    if (partial.final >= partial.original) throw new IsoError(95, -1, 'partial reversal: the final amount must be below the original amount');
  }
  const rev = copiedFrom(dialect, orig, copy, mtiOf(dialect, MtiClass.Reversal, opts.advice === true));
  if (opts.approvalCode !== undefined) rev.set(38, opts.approvalCode);
  if (opts.stan !== undefined) rev.set(11, opts.stan);
  else if (orig.has(11)) rev.values[11] = orig.values[11];
  const f7 = opts.transmissionDateTime ?? orig.get(7);
  if (f7 !== undefined && withF7) rev.set(7, f7);
  return { rev, partial };
}

export interface RefundOptions {
  /** What the refund credits: 1 to 12 digits, more than zero and at most the original's F4. */
  amount: string;
  /** The refund's own STAN: it is a new message, not the original's. */
  stan: string;
  /** Its F7 (MMDDhhmmss). The codec keeps no clock. */
  transmissionDateTime: string;
  /** F38 of the original's approval, when known. */
  approvalCode?: string;
  /** A financial request (x200) instead of the default advice (x220), for hosts that want one. */
  request?: boolean;
  /**
   * F37 of the original when its request carried none: a UnionPay host assigns the RRN in
   * its 0210. Default: the original's F37.
   */
  retrievalReference?: string;
  /** 1993: the refund's own F12 (YYMMDDhhmmss), which the standard requires; the codec keeps no clock. */
  localDateTime?: string;
  /** 1993: F25, the message reason code, for a host that asks for one (none by default: see the profile). */
  messageReason?: string;
  /** UnionPay: 60.2, the batch the refund is filed under. Default: the original's, the switch keeps no terminal batch. */
  batch?: string;
  /** UnionPay: 61.3, the original's date (MMDD) when its request carried no F13 (the host returns F13 in its 0210). */
  originalDate?: string;
}

/** How a standard lays out its refund; its original-data fields are its profile's. */
export interface RefundLayout {
  /** The original's fields the refund carries unchanged: never track, PIN or ICC data, nor F39. */
  readonly copy: readonly number[];
  /** Whether the standard carries F7 (UnionPay POS does not). */
  readonly withF7: boolean;
  /** A fixed processing code, where the standard has one; otherwise refundProcessingCode(orig). */
  readonly processingCode?: string;
}

/** The first two digits of a processing code at 20 and above are credits, inquiries, transfers, payments. */
const FIRST_NON_DEBIT = '20';

/**
 * Only a financial debit is refunded: an authorization moved no money, a response or a
 * reversal is not a sale, and a credit refunded would pay the cardholder twice.
 */
function checkRefundable(orig: IsoMessage): void {
  if (mtiClass(orig.mti) !== MtiClass.Financial || !isOriginating(orig.mti)) {
    throw new IsoError('mti', -1, `MTI ${orig.mti} is not a financial request or advice: only a financial sale is refunded`);
  }
  const f3 = orig.get(3);
  if (f3 !== undefined && f3.slice(0, 2) >= FIRST_NON_DEBIT) {
    throw new IsoError(3, -1, 'the original is not a debit (processing code 00-19): nothing to refund');
  }
}

/** The refund amount as n12, checked against the original's F4. */
function refundAmount(orig: IsoMessage, amount: string): string {
  const original = orig.get(4);
  if (original === undefined) throw new IsoError(4, -1, 'a refund needs the original amount (F4)');
  const n12 = digits12(amount, 'refund amount');
  if (n12 === '000000000000') throw new IsoError(4, -1, 'refund amount: expected more than zero');
  if (n12 > digits12(original, 'original amount')) throw new IsoError(4, -1, 'refund amount: expected at most the original amount');
  return n12;
}

/** Processing code 20 (refund, a credit) to the account types the original debited, its F3 positions 3-6. */
function refundProcessingCode(orig: IsoMessage): string {
  const f3 = orig.get(3);
  return '20' + (f3 !== undefined && f3.length === 6 ? f3.slice(2) : '0000');
}

/** `v` in field `n` when there is a value and the dialect has the field. */
function setWhereDefined(dialect: Dialect, m: IsoMessage, n: number, v: string | undefined): void {
  if (v !== undefined && dialect.fields[n] !== undefined) m.set(n, v);
}

/**
 * What every standard's refund starts from: the x220 advice (x200 on request), the
 * layout's copy-through fields and envelope, the processing code, the refund amount, its
 * own STAN and F7, the original's RRN and the approval code it undoes.
 */
export function refundBase(dialect: Dialect, orig: IsoMessage, opts: RefundOptions, layout: RefundLayout): IsoMessage {
  checkRefundable(orig);
  const amount = refundAmount(orig, opts.amount);
  const m = copiedFrom(dialect, orig, layout.copy, mtiOf(dialect, MtiClass.Financial, opts.request !== true));
  m.set(3, layout.processingCode ?? refundProcessingCode(orig));
  m.set(4, amount);
  m.set(11, opts.stan);
  if (layout.withF7) m.set(7, opts.transmissionDateTime);
  setWhereDefined(dialect, m, 37, opts.retrievalReference ?? orig.get(37));
  setWhereDefined(dialect, m, 38, opts.approvalCode);
  return m;
}

/** The repeat form of a message (0400 -> 0401, 0420 -> 0421), otherwise unchanged. */
export function repeatOf(msg: IsoMessage): IsoMessage {
  const m = msg.clone();
  m.mti = repeatMti(msg.mti);
  return m;
}
