/**
 * Sub-field codecs for the composite fields a reversal is built from: original data (F90,
 * F56), replacement amounts (F95) and the UnionPay POS private fields F60 and F61.
 *
 * Values here are the field contents after the field codec has removed any length prefix
 * and decoded BCD, so every part is a string of ASCII digits. Parsers check digits and
 * lengths only, not calendar ranges: an original's F7 is matched, not interpreted, and
 * a peer's odd but well-formed value must still find its original.
 *
 * Errors carry the part name and the offset where that part starts, never the value.
 */
import { IsoError } from './errors.js';

// ---------------------------------------------------------------------------------------
// F90, ISO 8583:1987 original data elements, n42 fixed

export interface OriginalData {
  mti: string;
  stan: string;
  /** The original's F7, MMDDhhmmss. */
  transmissionDateTime: string;
  /** F32 as on the wire: 11 digits, right-justified, zero-filled. */
  acquirer: string;
  /** F33 as on the wire: 11 digits, zero-filled. */
  forwarder: string;
}

const F90_LEN = 42;

export function parseF90(v: string): OriginalData {
  const mti = digitsAt(v, 90, 0, 4, 'MTI');
  const stan = digitsAt(v, 90, 4, 6, 'STAN');
  const transmissionDateTime = digitsAt(v, 90, 10, 10, 'transmission date-time');
  const acquirer = digitsAt(v, 90, 20, 11, 'acquirer');
  const forwarder = digitsAt(v, 90, 31, 11, 'forwarder');
  if (v.length > F90_LEN) throw new IsoError(90, F90_LEN, `too long: expected ${F90_LEN} digits`);
  return { mti, stan, transmissionDateTime, acquirer, forwarder };
}

/** A missing acquirer or forwarder is zero-filled, as F90 has no way to say "absent". */
export function formatF90(d: {
  mti: string;
  stan: string;
  transmissionDateTime: string;
  acquirer?: string;
  forwarder?: string;
}): string {
  return (
    exactDigits(d.mti, 90, 4, 'MTI') +
    exactDigits(d.stan, 90, 6, 'STAN') +
    exactDigits(d.transmissionDateTime, 90, 10, 'transmission date-time') +
    padDigits(d.acquirer, 90, 11, 'acquirer') +
    padDigits(d.forwarder, 90, 11, 'forwarder')
  );
}

// ---------------------------------------------------------------------------------------
// F56, ISO 8583:1993 original data elements, LLVAR n..35

export interface OriginalData93 {
  mti: string;
  stan: string;
  /** YYMMDDhhmmss. */
  localDateTime: string;
  /** 0 to 11 digits, carried with its own 2-digit length. */
  acquirer: string;
}

const F56_ACQ_MAX = 11;

export function parseF56(v: string): OriginalData93 {
  const mti = digitsAt(v, 56, 0, 4, 'MTI');
  const stan = digitsAt(v, 56, 4, 6, 'STAN');
  const localDateTime = digitsAt(v, 56, 10, 12, 'local date-time');
  const ll = Number(digitsAt(v, 56, 22, 2, 'acquirer length'));
  if (ll > F56_ACQ_MAX) throw new IsoError(56, 22, `acquirer length: at most ${F56_ACQ_MAX}`);
  const acquirer = digitsAt(v, 56, 24, ll, 'acquirer');
  if (v.length > 24 + ll) throw new IsoError(56, 24 + ll, 'trailing characters after acquirer');
  return { mti, stan, localDateTime, acquirer };
}

/** An empty acquirer is legal here (LL 00), unlike the zero-filled F90 parts. */
export function formatF56(d: OriginalData93): string {
  const head =
    exactDigits(d.mti, 56, 4, 'MTI') +
    exactDigits(d.stan, 56, 6, 'STAN') +
    exactDigits(d.localDateTime, 56, 12, 'local date-time');
  const acquirer = d.acquirer;
  if (acquirer.length > F56_ACQ_MAX) throw new IsoError(56, -1, `acquirer: at most ${F56_ACQ_MAX} digits`);
  if (!allDigits(acquirer)) throw new IsoError(56, -1, 'acquirer: expected digits');
  return head + String(acquirer.length).padStart(2, '0') + acquirer;
}

// ---------------------------------------------------------------------------------------
// F95, ISO 8583:1987 replacement amounts, an42

/**
 * The FINAL amounts after a partial reversal, not the amount reversed: a 100.00 sale
 * reversed down to 30.00 carries 000000003000. Fees are C (credit) or D (debit) and 8
 * digits.
 */
export interface ReplacementAmounts {
  transaction: string;
  settlement: string;
  transactionFee: string;
  settlementFee: string;
}

const F95_LEN = 42;
const ZERO_FEE = 'C00000000';

export function parseF95(v: string): ReplacementAmounts {
  const transaction = digitsAt(v, 95, 0, 12, 'transaction amount');
  const settlement = digitsAt(v, 95, 12, 12, 'settlement amount');
  const transactionFee = feeAt(v, 24, 'transaction fee');
  const settlementFee = feeAt(v, 33, 'settlement fee');
  if (v.length > F95_LEN) throw new IsoError(95, F95_LEN, `too long: expected ${F95_LEN} characters`);
  return { transaction, settlement, transactionFee, settlementFee };
}

/** Amounts shorter than 12 digits (fees: 8 digits after the sign) are zero-filled on the left. */
export function formatF95(a: {
  transaction: string;
  settlement?: string;
  transactionFee?: string;
  settlementFee?: string;
}): string {
  return (
    padDigits(a.transaction, 95, 12, 'transaction amount') +
    padDigits(a.settlement, 95, 12, 'settlement amount') +
    formatFee(a.transactionFee, 'transaction fee') +
    formatFee(a.settlementFee, 'settlement fee')
  );
}

function feeAt(v: string, off: number, label: string): string {
  const c = v.charCodeAt(off);
  if (v.length < off + 9 || (c !== 0x43 && c !== 0x44) || !allDigits(v, off + 1, off + 9)) {
    throw new IsoError(95, off, `${label}: expected C or D then 8 digits`);
  }
  return v.slice(off, off + 9);
}

function formatFee(fee: string | undefined, label: string): string {
  if (fee === undefined) return ZERO_FEE;
  const sign = fee.charCodeAt(0);
  if (sign !== 0x43 && sign !== 0x44) throw new IsoError(95, -1, `${label}: expected C or D first`);
  return fee[0] + padDigits(fee.slice(1), 95, 8, label);
}

// ---------------------------------------------------------------------------------------
// China UnionPay POS F60, LLLVAR n..17

/** 60.1 and 60.2 are always there; the rest may stop after any part, but never skip one. */
export interface Cup60 {
  /** 60.1: 22 sale, 23 void, 25 refund, 10 pre-auth, ... */
  type: string;
  /** 60.2 */
  batch: string;
  /** 60.3: the network-management code UnionPay uses instead of F70. */
  networkCode?: string;
  /** 60.4 */
  readCapability?: string;
  /** 60.5 */
  icCondition?: string;
  /** 60.6 */
  partialApproval?: string;
  /** 60.7 */
  accountType?: string;
}

type Cup60Optional = 'networkCode' | 'readCapability' | 'icCondition' | 'partialApproval' | 'accountType';

const CUP60_OPTIONAL: readonly { key: Cup60Optional; len: number; label: string }[] = [
  { key: 'networkCode', len: 3, label: '60.3 network code' },
  { key: 'readCapability', len: 1, label: '60.4 read capability' },
  { key: 'icCondition', len: 1, label: '60.5 IC condition' },
  { key: 'partialApproval', len: 1, label: '60.6 partial approval' },
  { key: 'accountType', len: 3, label: '60.7 account type' },
];
const CUP60_MAX = 17;

export function parseCup60(v: string): Cup60 {
  const out: Cup60 = {
    type: digitsAt(v, 60, 0, 2, '60.1 transaction type'),
    batch: digitsAt(v, 60, 2, 6, '60.2 batch'),
  };
  let off = 8;
  for (const part of CUP60_OPTIONAL) {
    if (off === v.length) return out;
    out[part.key] = digitsAt(v, 60, off, part.len, part.label);
    off += part.len;
  }
  if (v.length > CUP60_MAX) throw new IsoError(60, CUP60_MAX, `too long: at most ${CUP60_MAX} digits`);
  return out;
}

export function formatCup60(p: Cup60): string {
  let s = exactDigits(p.type, 60, 2, '60.1 transaction type') + exactDigits(p.batch, 60, 6, '60.2 batch');
  let missing: string | null = null;
  for (const part of CUP60_OPTIONAL) {
    const value = p[part.key];
    if (value === undefined) {
      missing ??= part.label;
      continue;
    }
    if (missing !== null) throw new IsoError(60, -1, `${missing}: missing before ${part.label}`);
    s += exactDigits(value, 60, part.len, part.label);
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// China UnionPay POS F61, original message data, LLLVAR n..29

export interface Cup61 {
  /** 61.1 original batch. */
  batch: string;
  /** 61.2 original POS trace (the original's F11). */
  trace: string;
  /** 61.3 original date, MMDD. */
  date?: string;
  /** 61.4 onwards, kept whole: its layout differs between UnionPay spec editions. */
  rest?: string;
}

const CUP61_MAX = 29;
const CUP61_REST_MAX = CUP61_MAX - 16;

export function parseCup61(v: string): Cup61 {
  const out: Cup61 = {
    batch: digitsAt(v, 61, 0, 6, '61.1 batch'),
    trace: digitsAt(v, 61, 6, 6, '61.2 trace'),
  };
  if (v.length === 12) return out;
  out.date = digitsAt(v, 61, 12, 4, '61.3 date');
  if (v.length === 16) return out;
  if (v.length > CUP61_MAX) throw new IsoError(61, CUP61_MAX, `too long: at most ${CUP61_MAX} digits`);
  out.rest = digitsAt(v, 61, 16, v.length - 16, 'rest');
  return out;
}

export function formatCup61(p: Cup61): string {
  let s = exactDigits(p.batch, 61, 6, '61.1 batch') + exactDigits(p.trace, 61, 6, '61.2 trace');
  if (p.date === undefined) {
    if (p.rest !== undefined) throw new IsoError(61, -1, '61.3 date: missing before rest');
    return s;
  }
  s += exactDigits(p.date, 61, 4, '61.3 date');
  if (p.rest === undefined) return s;
  const rest = p.rest;
  if (rest.length === 0 || rest.length > CUP61_REST_MAX) {
    throw new IsoError(61, -1, `rest: expected 1 to ${CUP61_REST_MAX} digits`);
  }
  if (!allDigits(rest)) throw new IsoError(61, -1, 'rest: expected digits');
  return s + rest;
}

// ---------------------------------------------------------------------------------------
// Shared checks. Loops rather than regular expressions: these run once per reversal on the
// hot path, and a loop makes the "never echo the value" rule easy to see.

function allDigits(s: string, from = 0, to = s.length): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Reads exactly `len` digits at `off`; a short value fails on the part it cuts off. */
function digitsAt(v: string, field: number, off: number, len: number, label: string): string {
  if (v.length < off + len || !allDigits(v, off, off + len)) {
    throw new IsoError(field, off, `${label}: expected ${digits(len)}`);
  }
  return v.slice(off, off + len);
}

function exactDigits(s: string, field: number, len: number, label: string): string {
  if (s.length !== len || !allDigits(s)) throw new IsoError(field, -1, `${label}: expected ${digits(len)}`);
  return s;
}

/** Undefined means absent and becomes zeros; an empty string is a caller bug, not absence. */
function padDigits(s: string | undefined, field: number, len: number, label: string): string {
  if (s === undefined) return '0'.repeat(len);
  if (s.length > len) throw new IsoError(field, -1, `${label}: at most ${len} digits`);
  if (s.length === 0 || !allDigits(s)) throw new IsoError(field, -1, `${label}: expected digits`);
  return s.padStart(len, '0');
}

function digits(n: number): string {
  return n === 1 ? '1 digit' : `${n} digits`;
}
