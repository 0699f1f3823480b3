/**
 * Message builders: the response to a request, the reversal of an original, and the
 * repeat form of a message. They follow the dialect's standard: 1987 reversals carry
 * F90 (and F95 when partial), 1993 ones F56 and F24, UnionPay ones the original's own
 * trace and F60. A reversal is built from key fields and amounts only: never from
 * track data, PIN blocks or ICC data.
 */
import type { Dialect } from './dialect.js';
import { IsoError } from './errors.js';
import type { IsoMessage } from './message.js';
import { copyBytes, IsoMessage as Message } from './message.js';
import { formatF56, formatF90, formatF95 } from './subfields.js';
import { swapTpdu } from './tpdu.js';

/** 0200 -> 0210, 0401 -> 0410, 0420 -> 0430, 1100 -> 1110. */
export function responseMti(mti: string): string {
  if (mti.length !== 4) throw new IsoError('mti', -1, 'expected 4 digits');
  const fn = mti.charCodeAt(2) - 48;
  if (fn < 0 || fn > 9 || (fn & 1) === 1) throw new IsoError('mti', -1, `MTI ${mti} is not a request or advice`);
  return mti.slice(0, 2) + String(fn + 1) + '0';
}

/** The repeat MTI: 0400 -> 0401, 0420 -> 0421. A repeat stays a repeat. */
export function repeatMti(mti: string): string {
  const origin = mti.charCodeAt(3) - 48;
  if (mti.length !== 4 || origin < 0 || origin > 9) throw new IsoError('mti', -1, 'expected 4 digits');
  if (origin === 0 || origin === 2) return mti.slice(0, 3) + String(origin + 1);
  if (origin === 1 || origin === 3) return mti;
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

/** Copy-through fields of a reversal: keys and amounts, never track, PIN or ICC data. */
const REVERSAL_COPY_87 = [2, 3, 4, 5, 6, 12, 13, 14, 15, 18, 19, 22, 23, 25, 32, 33, 37, 38, 41, 42, 43, 49, 50, 51];
const REVERSAL_COPY_93 = [2, 3, 4, 5, 6, 12, 14, 18, 19, 22, 23, 26, 32, 33, 37, 38, 41, 42, 43, 49, 50, 51];
const REVERSAL_COPY_CUP = [2, 3, 4, 11, 14, 22, 23, 25, 38, 41, 42, 49, 60];

export interface ReversalOptions {
  /** Why: F39 in a 1987 or UnionPay reversal (68, 06, 98, 96, A0...). */
  reason?: string;
  /** 1993: the message reason code, F25 (default 4021, timeout waiting for response). */
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

/**
 * The reversal of `orig` (the original request as sent upstream). A `finalAmount`
 * makes it partial; it must be below the original amount.
 */
export function reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions = {}): IsoMessage {
  const cls = orig.mti.slice(1, 2);
  if (cls !== '1' && cls !== '2') throw new IsoError('mti', -1, `MTI ${orig.mti} is not an authorization or financial message`);
  const original = orig.get(4);
  let final: string | undefined;
  if (opts.finalAmount !== undefined) {
    if (original === undefined) throw new IsoError(4, -1, 'a partial reversal needs the original amount (F4)');
    final = digits12(opts.finalAmount, 'final amount');
    const orig12 = digits12(original, 'original amount');
    if (final >= orig12) throw new IsoError(95, -1, 'partial reversal: the final amount must be below the original amount');
  }
  const cup = dialect.field(60)?.parts === 'cup60';
  const v93 = dialect.spec.version === '1993';
  const rev = new Message((v93 ? '14' : '04') + (opts.advice ? '20' : '00'));
  const copy = cup ? REVERSAL_COPY_CUP : v93 ? REVERSAL_COPY_93 : REVERSAL_COPY_87;
  for (const n of copy) {
    const v = orig.values[n];
    if (v !== undefined && dialect.fields[n] !== undefined) rev.values[n] = v;
  }
  if (orig.tpdu) rev.tpdu = copyBytes(orig.tpdu);
  if (orig.header) rev.header = copyBytes(orig.header);
  if (opts.approvalCode !== undefined) rev.set(38, opts.approvalCode);
  if (opts.stan !== undefined) rev.set(11, opts.stan);
  else if (orig.has(11)) rev.values[11] = orig.values[11];
  const f7 = opts.transmissionDateTime ?? orig.get(7);
  if (f7 !== undefined && !cup) rev.set(7, f7);

  if (cup) {
    rev.set(39, opts.reason ?? '98');
    if (final !== undefined) rev.set(4, final);
    return rev;
  }
  if (v93) {
    const stan = orig.get(11);
    const local = orig.get(12);
    if (stan === undefined || local === undefined) throw new IsoError(56, -1, 'the original needs F11 and F12 to build F56');
    rev.set(56, formatF56({ mti: orig.mti, stan, localDateTime: local, acquirer: orig.get(32) ?? '' }));
    rev.set(24, final === undefined ? '400' : '401');
    rev.set(25, opts.messageReason ?? '4021');
    if (final !== undefined && original !== undefined) {
      rev.set(30, digits12(original, 'original amount') + '000000000000');
      rev.set(4, final);
    }
    return rev;
  }
  const stan = orig.get(11);
  const origF7 = orig.get(7);
  if (stan === undefined || origF7 === undefined) throw new IsoError(90, -1, 'the original needs F11 and F7 to build F90');
  rev.set(90, formatF90({ mti: orig.mti, stan, transmissionDateTime: origF7, acquirer: orig.get(32), forwarder: orig.get(33) }));
  rev.set(39, opts.reason ?? '68');
  if (final !== undefined) rev.set(95, formatF95({ transaction: final }));
  return rev;
}

/** The repeat form of a message (0400 -> 0401, 0420 -> 0421), otherwise unchanged. */
export function repeatOf(msg: IsoMessage): IsoMessage {
  const m = msg.clone();
  m.mti = repeatMti(msg.mti);
  return m;
}
