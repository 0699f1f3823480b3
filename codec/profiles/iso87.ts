/**
 * ISO 8583:1987: two-character response codes, network management in an 0800 with F70,
 * the original named in F90 (n42, by a reversal and a refund) and a partial reversal's
 * final amount in F95.
 */
import { refundBase, reversalBase, type RefundLayout, type RefundOptions, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoError } from '../errors.js';
import type { IsoMessage } from '../message.js';
import { formatF90, formatF95 } from '../subfields.js';
import { keptOf, netCodeOf, netRequest, originalFrom, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

export const CODES_87: Readonly<Record<LocalCode, string>> = {
  approved: '00',
  format_error: '30',
  invalid_transaction: '12',
  issuer_unavailable: '91',
  system_error: '96',
  // "Financial institution or intermediate network facility cannot be found for routing".
  no_route: '92',
  // "Security violation": the 1987 table has no MAC-specific code.
  mac_error: '63',
  // "Incorrect PIN": what a terminal shows for a PIN block that does not decrypt to one.
  pin_error: '55',
};

export const F70: Readonly<Record<NetCode, string>> = { sign_on: '001', sign_off: '002', key_change: '161', cutover: '201', echo: '301' };

/** Keys and amounts only: never track, PIN or ICC data. */
const REVERSAL_COPY_87 = [2, 3, 4, 5, 6, 12, 13, 14, 15, 18, 19, 22, 23, 25, 32, 33, 37, 38, 41, 42, 43, 49, 50, 51];

/**
 * A refund carries what identifies the card, the acceptor and the route, never the
 * original's amounts or dates, which would be the sale's and not its own. F14 and F23: the
 * card (an expiry is not sensitive authentication data); F18 and F43: the merchant's type
 * and name, for the issuer's rules and the statement; F22 and F25: how the sale was taken
 * (F22's third digit is the terminal's PIN capability, not a PIN in this message); F32 and
 * F33: the institutions, which route the answer and which F90 repeats; F41, F42: the
 * acceptor; F49: the currency the refund amount is in. F37 and F38 are the base's.
 */
const REFUND_87: RefundLayout = { copy: [2, 14, 18, 22, 23, 25, 32, 33, 41, 42, 43, 49], withF7: true };

/** F90 names the original as it went upstream: its MTI, STAN, F7, F32 and F33. */
function f90Of(orig: IsoMessage): string {
  const stan = orig.get(11);
  const origF7 = orig.get(7);
  if (stan === undefined || origF7 === undefined) throw new IsoError(90, -1, 'the original needs F11 and F7 to build F90');
  return formatF90({ mti: orig.mti, stan, transmissionDateTime: origF7, acquirer: orig.get(32), forwarder: orig.get(33) });
}

export const ISO87: Profile = {
  standard: 'iso87',
  localCodes: CODES_87,
  reasonField: 39,
  // F7 and F11 key a repeat; F34 (sealed) is an extended PAN; F39, F90 and F95 are a stored reversal's.
  keptFields: keptOf(REVERSAL_COPY_87, REFUND_87.copy, [2, 7, 11, 34, 39, 90, 95]),

  networkRequest(dialect: Dialect, code: NetCode, stan: string, nowMs: number): IsoMessage {
    return netRequest('0800', dialect, stan, nowMs, 70, F70[code]);
  },

  networkCode(msg: IsoMessage): NetCode | undefined {
    return netCodeOf(F70, msg.get(70));
  },

  originalOf(msg: IsoMessage): OriginalRef | undefined {
    return originalFrom(msg, 90, () => {
      const o = msg.originalData();
      return o && { mti: o.mti, stan: o.stan, timeField: 7, time: o.transmissionDateTime, acquirer: o.acquirer };
    });
  },

  reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions): IsoMessage {
    const { rev, partial } = reversalBase(dialect, orig, REVERSAL_COPY_87, opts, true);
    rev.set(90, f90Of(orig));
    rev.set(39, opts.reason ?? '68');
    if (partial) rev.set(95, formatF95({ transaction: partial.final }));
    return rev;
  },

  refundOf(dialect: Dialect, orig: IsoMessage, opts: RefundOptions): IsoMessage {
    return refundBase(dialect, orig, opts, REFUND_87).set(90, f90Of(orig));
  },
};
