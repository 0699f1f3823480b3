/** Helpers shared by the hand-built vector and error tests. */
import { IsoError, toHex, type FieldValue } from '../../codec/index.js';

/** Hex bytes with whitespace and `#` comments (to end of line) -> Buffer. */
export function wire(text: string): Buffer {
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^([0-9A-Fa-f]{2})*$/.test(clean)) throw new Error(`bad hex literal in test: ${clean}`);
  return Buffer.from(clean, 'hex');
}

export const B = (h: string): Buffer => Buffer.from(h, 'hex');

/** The JSON a decoder should give for these fields (binary values as hex). */
export function fieldsJson(mti: string, fields: Record<number, FieldValue>, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { mti, ...extra };
  for (const [k, x] of Object.entries(fields)) out[k] = typeof x === 'string' ? x : toHex(x);
  return out;
}

/** What a failing call threw, reduced to what the assertions compare. */
export function isoError(fn: () => unknown): { field: number | null; offset: number; message: string } | string {
  try {
    fn();
  } catch (e) {
    if (e instanceof IsoError) return { field: e.field, offset: e.offset, message: e.message };
    return `not an IsoError: ${String(e)}`;
  }
  return 'did not throw';
}
