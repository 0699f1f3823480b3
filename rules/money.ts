/**
 * Amounts as integer minor units. A JS number holds every n12 value exactly (below 2^53),
 * so the hot path works in numbers; strings and bigints are accepted at the edge.
 */
import { parseAmount } from '../codec/index.js';
import { CaseError } from './errors.js';
import { MAX_AMOUNT, type Amount } from './types.js';

const EXPECTED = `expected integer minor units from 0 to ${MAX_AMOUNT} (a digit string, an integer or a bigint)`;

/** Parses an amount without regular expressions or allocation (digit text: codec's parseAmount); throws CaseError naming `path`. */
export function toMinor(v: Amount, path: string): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0 && v <= MAX_AMOUNT) return v;
    throw new CaseError(path, EXPECTED);
  }
  if (typeof v === 'string') {
    const out = parseAmount(v);
    if (out === null) throw new CaseError(path, EXPECTED);
    return out;
  }
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= BigInt(MAX_AMOUNT)) return Number(v);
    throw new CaseError(path, EXPECTED);
  }
  throw new CaseError(path, EXPECTED);
}

/** F4 / F95 form: twelve digits, zero-filled. */
export function toN12(minor: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0 || minor > MAX_AMOUNT) {
    throw new RangeError(`amount ${minor} does not fit n12`);
  }
  return String(minor).padStart(12, '0');
}
