/**
 * ISO 8583:1993: three-digit action codes in F39, network management in an 1804 with the
 * function code in F24, the original named in F56 (by its STAN and F12 local date-time),
 * and a reversal's function code in F24 (400 full, 401 partial) and reason in F25.
 */
import { refundBase, reversalBase, type RefundOptions, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoError } from '../errors.js';
import type { IsoMessage } from '../message.js';
import { formatF56 } from '../subfields.js';
import { netCodeOf, netRequest, originalFrom, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

export const CODES_93: Readonly<Record<LocalCode, string>> = {
  approved: '000',
  format_error: '904',
  invalid_transaction: '902',
  issuer_unavailable: '907',
  system_error: '909',
  // "Transaction destination cannot be found for routing".
  no_route: '908',
};

export const F24_93: Readonly<Record<NetCode, string>> = { sign_on: '801', sign_off: '802', key_change: '811', cutover: '821', echo: '831' };

const REVERSAL_COPY_93 = [2, 3, 4, 5, 6, 12, 14, 18, 19, 22, 23, 26, 32, 33, 37, 38, 41, 42, 43, 49, 50, 51];

/** As 1987's: the card, the acceptor, the institutions, the RRN; F12 too, since 1993 names the original by it. */
const REFUND_COPY_93 = [2, 12, 14, 18, 22, 23, 26, 32, 33, 37, 41, 42, 43, 49];

/**
 * 1993 function code (F24) of a financial advice or request that is the first of its kind
 * (ISO 8583:1993 table: 200 "original financial request/advice"); the refund is told apart
 * by its processing code 20, and names its original in F56.
 */
const F24_FINANCIAL = '200';

/** F56 names the original as it went upstream: its MTI, STAN, F12 local date-time and F32. */
function f56Of(orig: IsoMessage): string {
  const stan = orig.get(11);
  const local = orig.get(12);
  if (stan === undefined || local === undefined) throw new IsoError(56, -1, 'the original needs F11 and F12 to build F56');
  return formatF56({ mti: orig.mti, stan, localDateTime: local, acquirer: orig.get(32) ?? '' });
}

export const ISO93: Profile = {
  standard: 'iso93',
  localCodes: CODES_93,
  reasonField: 25,

  networkRequest(dialect: Dialect, code: NetCode, stan: string, nowMs: number): IsoMessage {
    return netRequest('1804', dialect, stan, nowMs, 24, F24_93[code]);
  },

  networkCode(msg: IsoMessage): NetCode | undefined {
    return netCodeOf(F24_93, msg.get(24));
  },

  originalOf(msg: IsoMessage): OriginalRef | undefined {
    return originalFrom(msg, 56, () => {
      const o = msg.originalData93();
      return o && { mti: o.mti, stan: o.stan, timeField: 12, time: o.localDateTime, acquirer: o.acquirer };
    });
  },

  reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions): IsoMessage {
    const { rev, partial } = reversalBase(dialect, orig, REVERSAL_COPY_93, opts, true);
    rev.set(56, f56Of(orig));
    rev.set(24, partial ? '401' : '400');
    rev.set(25, opts.messageReason ?? opts.reason ?? '4021');
    if (partial) {
      rev.set(30, partial.original + '000000000000');
      rev.set(4, partial.final);
    }
    return rev;
  },

  refundOf(dialect: Dialect, orig: IsoMessage, opts: RefundOptions): IsoMessage {
    const m = refundBase(dialect, orig, REFUND_COPY_93, opts, true);
    m.set(56, f56Of(orig));
    if (dialect.fields[24] !== undefined) m.set(24, F24_FINANCIAL);
    return m;
  },
};
