/**
 * Which byte values each text type admits, as lookup tables: one indexed load per
 * character on the hot path instead of a chain of comparisons.
 */
import { Cls } from './spec.js';

function table(ok: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = ok(c) ? 1 : 0;
  return t;
}

const digit = (c: number) => c >= 48 && c <= 57;
const alpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Index by Cls. x+n uses the digit table after its sign, checked separately. */
export const ALLOWED: readonly Uint8Array[] = (() => {
  const t: Uint8Array[] = [];
  t[Cls.N] = table(digit);
  t[Cls.AN] = table((c) => digit(c) || alpha(c) || c === 32);
  t[Cls.ANS] = table((c) => c >= 32 && c <= 126);
  // Track 2: digits and the field separator, written '=' in ASCII or 'D' from a BCD nibble.
  t[Cls.Z] = table((c) => digit(c) || c === 61 || c === 68);
  t[Cls.XN] = table(digit);
  t[Cls.B] = table(() => true);
  return t;
})();

/**
 * The complement of ALLOWED: 1 where a byte is rejected. Loops OR these together with no
 * branch per character and rescan only when something was rejected, to name the offset.
 */
export const REJECT: readonly Uint8Array[] = ALLOWED.map((t) => t.map((v) => v ^ 1));

export const CLASS_NAME = ['numeric', 'alphanumeric', 'alphanumeric-special', 'track', 'signed amount', 'binary'];

/** Why a character failed, without echoing it if it could be card data. */
export function badCharReason(cls: Cls, c: number): string {
  if (c > 0x7f) return `non-ASCII byte 0x${c.toString(16).toUpperCase().padStart(2, '0')} in ${CLASS_NAME[cls]} field`;
  if (c < 0x20 || c === 0x7f) return `control byte 0x${c.toString(16).toUpperCase().padStart(2, '0')} in ${CLASS_NAME[cls]} field`;
  if (cls === Cls.N || cls === Cls.XN) return 'non-digit in numeric field';
  return `character not allowed in ${CLASS_NAME[cls]} field`;
}
