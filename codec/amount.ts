/**
 * The one parser of ISO 8583 amounts (F4, F5, F6, F30, the parts of F95): n12 digit text to
 * integer minor units. Every n12 value is below 2^53, so a JS number holds it exactly and
 * no caller needs a bigint to parse; sums of many amounts are the caller's business.
 */

/** An n12 field carries at most this many digits. */
export const MAX_AMOUNT_DIGITS = 12;

/**
 * 1 to 12 ASCII digits to minor units (leading zeros allowed); null for anything else:
 * empty, longer, a sign, a space, a decimal point. Runs on the hot path, hence the loop
 * over char codes instead of a regular expression or Number() (which accepts " 1", "1e3").
 */
export function parseAmount(text: string): number | null {
  const n = text.length;
  if (n === 0 || n > MAX_AMOUNT_DIGITS) return null;
  let out = 0;
  for (let i = 0; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    out = out * 10 + d;
  }
  return out;
}
