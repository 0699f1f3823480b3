/**
 * ISO 8583:1993: three-digit action codes in F39, network management in an 1804 with the
 * function code in F24, the original named in F56 (by its STAN and F12 local date-time),
 * a reversal's function code in F24 (400 full, 401 partial) and reason in F25, and a
 * refund's F24 200 with its own F12.
 */
import { refundBase, reversalBase, type RefundLayout, type RefundOptions, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoError } from '../errors.js';
import type { IsoMessage } from '../message.js';
import { formatF56 } from '../subfields.js';
import { keptOf, netCodeOf, netRequest, originalFrom, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

export const CODES_93: Readonly<Record<LocalCode, string>> = {
  approved: '000',
  format_error: '904',
  invalid_transaction: '902',
  issuer_unavailable: '907',
  system_error: '909',
  // "Transaction destination cannot be found for routing".
  no_route: '908',
  mac_error: '916',
  // "Incorrect PIN".
  pin_error: '117',
};

export const F24_93: Readonly<Record<NetCode, string>> = { sign_on: '801', sign_off: '802', key_change: '811', cutover: '821', echo: '831' };

const REVERSAL_COPY_93 = [2, 3, 4, 5, 6, 12, 14, 18, 19, 22, 23, 26, 32, 33, 37, 38, 41, 42, 43, 49, 50, 51];

/** As 1987's (iso87.ts), with F26, the card acceptor business code 1993 adds; F25 is the message reason here. */
const REFUND_93: RefundLayout = { copy: [2, 14, 18, 22, 23, 26, 32, 33, 41, 42, 43, 49], withF7: true };

/**
 * F24 200: ISO 8583:1993's function code for an "original financial request/advice". A
 * refund is a new financial transaction, not a completion of an earlier authorization
 * (201/202) nor a replacement; processing code 20 makes it a refund and F56 names the sale
 * it undoes. F25: the message reason codes 1000-1499 say why an advice is sent instead of a
 * request (1003 card issuer unavailable, 1004 terminal processed...) and none names a
 * refund queued after the business day closed, so the codec sends none unless the host
 * asks for one (RefundOptions.messageReason). Relied on: the standard's function and
 * message reason code tables as remembered, checked against PayEx's ISO 8583:1993 (IFSF)
 * host-to-host spec, page "FINANCIAL TRANSACTION ADVICE 1220/1221/1230" on
 * developer.payex.com (F12, F24 200/201/202 and F25 1003/1004 mandatory in a 1220).
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
  // F7, F11 and F13 key a repeat; F34 (sealed) is an extended PAN; F24, F25, F30 and F56 are a stored reversal's.
  keptFields: keptOf(REVERSAL_COPY_93, REFUND_93.copy, [2, 7, 11, 13, 24, 25, 30, 34, 56]),

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
    const m = refundBase(dialect, orig, opts, REFUND_93).set(24, F24_FINANCIAL).set(56, f56Of(orig));
    // F12 is the refund's own local time: the sale's is in F56, and the codec has no clock.
    if (opts.localDateTime === undefined) throw new IsoError(12, -1, 'a 1993 refund needs its own local date-time (localDateTime, YYMMDDhhmmss)');
    m.set(12, opts.localDateTime);
    if (opts.messageReason !== undefined) m.set(25, opts.messageReason);
    return m;
  },
};
