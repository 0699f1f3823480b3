/**
 * What differs between the standards a dialect follows (ISO 8583:1987, ISO 8583:1993,
 * China UnionPay POS), kept in one object per standard instead of `if (version ===
 * '1993')` branches wherever the switch builds or reads a message: the response codes the
 * switch answers with itself, network management, where a reversal names its original,
 * and how a reversal and a refund are built.
 */
import type { Dialect } from '../dialect.js';
import type { RefundOptions, ReversalOptions } from '../builders.js';
import { IsoError } from '../errors.js';
import { transmissionTime } from '../field-formats.js';
import { IsoMessage } from '../message.js';

export type Standard = 'iso87' | 'iso93' | 'cup';

/** The outcomes the switch answers itself, named; each profile gives its F39 for them. */
/** `mac_error`: the request's MAC is missing or does not verify; `pin_error`: its PIN block cannot be translated (not a valid block under the terminal's key). */
export type LocalCode = 'approved' | 'format_error' | 'invalid_transaction' | 'issuer_unavailable' | 'system_error' | 'no_route' | 'mac_error' | 'pin_error';

export const LOCAL_CODES: readonly LocalCode[] = ['approved', 'format_error', 'invalid_transaction', 'issuer_unavailable', 'system_error', 'no_route', 'mac_error', 'pin_error'];

/** Network management functions (F70 on 1987, F24 on 1993, F60.3 on UnionPay POS). */
export type NetCode = 'sign_on' | 'sign_off' | 'echo' | 'cutover' | 'key_change';

/**
 * The original a reversal names in its original-data field: F90 (1987) or F56 (1993).
 * `time` is the original's F7 (MMDDhhmmss) on 1987 and its F12 (YYMMDDhhmmss) on 1993:
 * `timeField` says which, so the original is looked up by the same field.
 */
export interface OriginalRef {
  mti: string;
  stan: string;
  timeField: 7 | 12;
  time: string;
  /** F32 as the original-data field carries it (1987: 11 digits zero-filled; 1993: as sent). */
  acquirer: string;
}

export interface Profile {
  readonly standard: Standard;
  /** F39 for each outcome the switch answers itself. */
  readonly localCodes: Readonly<Record<LocalCode, string>>;
  /** Where a reversal carries its reason code: F39 (1987, UnionPay) or F25, the message reason (1993). */
  readonly reasonField: 39 | 25;
  /**
   * The fields a message of this standard needs later, once stored: what its reversal and
   * refund copy or read, the keys a repeat or a terminal's reversal is matched by, what an
   * answer given again echoes, and the original-data fields of the reversals and refunds
   * the switch builds. F2 and F34 are among them (stored sealed). Everything else (free
   * text such as F48, which may carry a CVV2) is dropped before a message is stored.
   */
  readonly keptFields: readonly number[];
  networkRequest(dialect: Dialect, code: NetCode, stan: string, nowMs: number): IsoMessage;
  /** Which network management function a request asks for, or undefined. */
  networkCode(msg: IsoMessage): NetCode | undefined;
  /**
   * The original a reversal names, or undefined when it names none (absent or malformed
   * original-data field, or a standard, like UnionPay POS, whose reversal carries the
   * original's own trace in F11 instead).
   */
  originalOf(msg: IsoMessage): OriginalRef | undefined;
  /** The reversal of `orig` (the original request as it was sent), as this standard builds it. */
  reversalOf(dialect: Dialect, orig: IsoMessage, opts: ReversalOptions): IsoMessage;
  /** The refund of `orig` (a financial sale as it was sent) once it can no longer be reversed. */
  refundOf(dialect: Dialect, orig: IsoMessage, opts: RefundOptions): IsoMessage;
}

/** The fields a standard keeps: the union of its copy lists and its own, in field order. */
export function keptOf(...lists: (readonly number[])[]): readonly number[] {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

/** A network management table read backwards: code -> name. */
export function netCodeOf(table: Readonly<Record<NetCode, string>>, raw: string | undefined): NetCode | undefined {
  if (raw === undefined) return undefined;
  for (const k in table) if (table[k as NetCode] === raw) return k as NetCode;
  return undefined;
}

/** A network management request: its MTI, F7 where the dialect has it, F11, and the function code in `field`. */
export function netRequest(mti: string, dialect: Dialect, stan: string, nowMs: number, field: number, code: string): IsoMessage {
  const m = new IsoMessage(mti);
  if (dialect.fields[7]) m.set(7, transmissionTime(nowMs));
  m.set(11, stan);
  m.set(field, code);
  return m;
}

/** The original an original-data field names; a malformed field names nothing (the caller falls back to the reversal's own keys). */
export function originalFrom(msg: IsoMessage, field: number, read: () => OriginalRef | undefined): OriginalRef | undefined {
  if (!msg.has(field)) return undefined;
  try {
    return read();
  } catch (e) {
    if (e instanceof IsoError) return undefined;
    throw e;
  }
}
