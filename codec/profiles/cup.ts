/**
 * China UnionPay POS: 1987-style response codes, network management in an 0800 whose
 * F60.3 carries the function, and a reversal that repeats the original's own trace (F11)
 * and F60 instead of naming it in an original-data field.
 */
import { refundBase, reversalBase, type RefundOptions, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoError } from '../errors.js';
import { IsoMessage } from '../message.js';
import { formatCup61 } from '../subfields.js';
import { CODES_87, F70 } from './iso87.js';
import { netCodeOf, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

const CODES_CUP: Readonly<Record<LocalCode, string>> = {
  ...CODES_87,
  // UnionPay answers an unroutable card with "no such issuer".
  no_route: '15',
};

const REVERSAL_COPY_CUP = [2, 3, 4, 11, 14, 22, 23, 25, 38, 41, 42, 49, 60];

/**
 * The UnionPay POS refund (退货): an 0220 with processing code 200000, F60.1 transaction
 * type 25, and the original named in F61 by its batch (60.2), POS trace (F11) and date
 * (F13, MMDD); F37 the original's RRN and F38 its authorization code. Field usage as in
 * the UnionPay POS terminal specification (Q/CUP 009 part 3) as public POS code applies it;
 * a host that differs can override the dialect.
 */
const REFUND_COPY_CUP = [2, 14, 22, 23, 25, 37, 41, 42, 49];
const CUP_REFUND_TYPE = '25';

/** F60: 60.1 transaction type (2 digits) and 60.2 batch (6) before the 60.3 code. */
const F60_BEFORE_CODE = '00000000';

export const CUP: Profile = {
  standard: 'cup',
  localCodes: CODES_CUP,
  reasonField: 39,

  networkRequest(_dialect: Dialect, code: NetCode, stan: string): IsoMessage {
    const m = new IsoMessage('0800');
    m.set(11, stan);
    m.set(60, F60_BEFORE_CODE + F70[code]);
    return m;
  },

  networkCode(msg: IsoMessage): NetCode | undefined {
    return netCodeOf(F70, msg.get(60)?.slice(8, 11));
  },

  // The reversal's F11 is the original's trace: matched by STAN and day, not by a field.
  originalOf(): OriginalRef | undefined {
    return undefined;
  },

  reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions): IsoMessage {
    const { rev, partial } = reversalBase(dialect, orig, REVERSAL_COPY_CUP, opts, false);
    rev.set(39, opts.reason ?? '98');
    if (partial) rev.set(4, partial.final);
    return rev;
  },

  refundOf(dialect: Dialect, orig: IsoMessage, opts: RefundOptions): IsoMessage {
    const m = refundBase(dialect, orig, REFUND_COPY_CUP, opts, false);
    m.set(3, '200000');
    const trace = orig.get(11);
    const date = orig.get(13);
    if (trace === undefined) throw new IsoError(61, -1, 'the original needs F11 (its POS trace) to build F61');
    const batch = orig.cup60()?.batch ?? '000000';
    m.set(60, CUP_REFUND_TYPE + batch);
    m.set(61, formatCup61({ batch, trace, date }));
    return m;
  },
};
