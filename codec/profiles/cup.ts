/**
 * China UnionPay POS: 1987-style response codes, network management in an 0800 whose
 * F60.3 carries the function, a reversal that repeats the original's own trace (F11)
 * and F60 instead of naming it in an original-data field, and a refund that names it in F61.
 */
import { refundBase, reversalBase, type RefundLayout, type RefundOptions, type ReversalOptions } from '../builders.js';
import type { Dialect } from '../dialect.js';
import { IsoError } from '../errors.js';
import { IsoMessage } from '../message.js';
import { formatCup60, formatCup61, type Cup61 } from '../subfields.js';
import { CODES_87, F70 } from './iso87.js';
import { keptOf, netCodeOf, type LocalCode, type NetCode, type OriginalRef, type Profile } from './profile.js';

const CODES_CUP: Readonly<Record<LocalCode, string>> = {
  ...CODES_87,
  // UnionPay answers an unroutable card with "no such issuer".
  no_route: '15',
  // A0: MAC 校验错 (the terminal reverses what it sent); A7: 安全处理失败, security processing failed.
  mac_error: 'A0',
  pin_error: 'A7',
};

const REVERSAL_COPY_CUP = [2, 3, 4, 11, 14, 22, 23, 25, 38, 41, 42, 49, 60];

/**
 * The UnionPay POS refund (退货): an 0220 advice with processing code 200000, F25 00, F60
 * = 60.1 transaction type 25, 60.2 batch, 60.3 000 (a transaction, not network
 * management), and the original named in F61 by its batch (its 60.2), POS trace (its F11)
 * and date (its F13, MMDD); F37 the original's RRN and F38 its authorization code. A refund
 * causes no reversal. Sources: 中国银联POS终端消息域说明 (UnionPay, May 2002), its table of
 * transaction types (退货: 200000, F25 00, 0220/0230, 60.1 25, no reversal), as published
 * at www.renrendoc.com/p-13821646.html and m.31ppt.com/p-2398641.html; the POS application
 * CaoEnXin/LiaoYang_POS, Src/tranproc.c RefundTran (0220, 200000, F37, F61 = batch + trace
 * + MMDD) and Src/globalvar.c TrTable (refund: F25 00, 60.1 25, 60.3 000); and a Java POS
 * client, class cn.wimetro.pos.TradeRefund (found by the code search without its
 * repository's name: 61.1 from the original's 60.2, 61.2 from its F11, 61.3 from its F13,
 * F38 from the original, F60 = 25 + batch + 000). Read only; nothing copied.
 */
const REFUND_CUP: RefundLayout = { copy: [2, 14, 23, 41, 42, 49], withF7: false, processingCode: '200000' };
const CUP_REFUND_TYPE = '25';
const CUP_CONDITION_NORMAL = '00';
const CUP_NOT_NETWORK = '000';
/**
 * F22 keeps the original's 22.1 (how the card was read); 22.2 on UnionPay says whether this
 * message carries a PIN (1) or not (2), and a refund never does.
 */
const CUP_NO_PIN = '2';

/** F60: 60.1 transaction type (2 digits) and 60.2 batch (6) before the 60.3 code. */
const F60_BEFORE_CODE = '00000000';

/**
 * F61 of a refund: the original's batch, POS trace and date. The host finds the sale by
 * them together (a trace alone repeats), so each is required.
 */
function cupOriginal(orig: IsoMessage, opts: RefundOptions): Cup61 {
  const batch = orig.cup60()?.batch;
  const trace = orig.get(11);
  const date = opts.originalDate ?? orig.get(13);
  if (batch === undefined) throw new IsoError(61, -1, 'the original needs F60 (its batch, 60.2) to build F61');
  if (trace === undefined) throw new IsoError(61, -1, 'the original needs F11 (its POS trace) to build F61');
  if (date === undefined) throw new IsoError(61, -1, 'the original date is needed for F61: its F13 or originalDate');
  return { batch, trace, date };
}

export const CUP: Profile = {
  standard: 'cup',
  localCodes: CODES_CUP,
  reasonField: 39,
  // F11, F12 and F13 key a repeat and name the original in F61; F34 (sealed) is an extended PAN; F37 and F39 are a stored refund's and reversal's.
  keptFields: keptOf(REVERSAL_COPY_CUP, REFUND_CUP.copy, [2, 11, 12, 13, 32, 34, 37, 39, 61]),

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
    const m = refundBase(dialect, orig, opts, REFUND_CUP).set(25, CUP_CONDITION_NORMAL);
    const original = cupOriginal(orig, opts);
    const entry = orig.get(22);
    if (entry !== undefined && entry.length === 3) m.set(22, entry.slice(0, 2) + CUP_NO_PIN);
    m.set(60, formatCup60({ type: CUP_REFUND_TYPE, batch: opts.batch ?? original.batch, networkCode: CUP_NOT_NETWORK }));
    return m.set(61, formatCup61(original));
  },
};
