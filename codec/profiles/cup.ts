/**
 * China UnionPay POS: 1987-style response codes, network management in an 0800 whose
 * F60.3 carries the function, and a reversal that repeats the original's own trace (F11)
 * and F60 instead of naming it in an original-data field.
 */
import { reversalBase, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoMessage } from '../message.js';
import { CODES_87, F70 } from './iso87.js';
import { netCodeOf, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

const CODES_CUP: Readonly<Record<LocalCode, string>> = {
  ...CODES_87,
  // UnionPay answers an unroutable card with "no such issuer".
  no_route: '15',
};

const REVERSAL_COPY_CUP = [2, 3, 4, 11, 14, 22, 23, 25, 38, 41, 42, 49, 60];

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
};
