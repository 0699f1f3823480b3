/**
 * The redaction step every log line passes through (log.ts), whatever a caller put in it.
 * summarize() already masks the PAN; this is the net under it:
 *
 * - fields named like sensitive authentication data (track1, track2, f35, f36, f45, f52,
 *   f55, pin, cvv...) are dropped, at any depth; a `pan` field is masked;
 * - in every string (and in the finished line), a run of 13 to 19 digits that passes the
 *   Luhn check is masked to its first six and last four digits, and what follows it as
 *   track data (after `=`, `^` or `D`, the track separators) is cut;
 * - binary values (Buffer, Uint8Array) never reach a line: only their length does.
 *
 * One exception keeps times readable: a 13-digit run starting with 1 is the shape of a
 * Unix time in milliseconds (until the year 2286) and no scheme issues such a PAN.
 */
import { maskPan } from '../../codec/index.js';

/** Field names dropped from log lines (compared lower-case). */
const DROPPED = new Set([
  'track', 'track1', 'track2', 'track3', 'f35', 'f36', 'f45', 'f52', 'f55', '35', '36', '45', '52', '55',
  'pin', 'pinblock', 'pin_block', 'cvv', 'cvv2', 'cvc', 'cvc2', 'cav', 'icc', 'iccdata',
]);
/** Field names whose value is a PAN: masked (summarize() gives them already masked). */
const PAN_KEYS = new Set(['pan', 'f2', '2']);

const MAX_DEPTH = 6;

/** `body` with the Luhn check digit appended: a valid test PAN. */
export function luhnComplete(body: string): string {
  for (let d = 0; d < 9; d++) if (luhn(body + d, 0, body.length + 1)) return body + d;
  return body + '9';
}

/** The Luhn check on s[from, to) (all digits). */
export function luhn(s: string, from: number, to: number): boolean {
  let sum = 0;
  let double = false;
  for (let i = to - 1; i >= from; i--) {
    let d = s.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Where track data that follows a PAN ends: at a quote, a backslash (a JSON escape) or a
 * control character; with `atSpace`, also at a space, a comma or a closing bracket.
 */
function trackEnd(s: string, from: number, atSpace: boolean): number {
  let i = from;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 39 || c === 92 || c < 32) break;
    if (atSpace && (c === 32 || c === 44 || c === 125 || c === 93 || c === 41)) break;
    i++;
  }
  return i;
}

/** Masks card numbers (and cuts the track data after them) in free text. Returns `s` itself when there is none. */
export function scrubText(s: string): string {
  let out: string[] | null = null;
  let last = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    if (!isDigit(s.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    const len = i - start;
    if (len < 13 || len > 19) continue;
    if (len === 13 && s.charCodeAt(start) === 49) continue;
    if (!luhn(s, start, i)) continue;
    out ??= [];
    out.push(s.slice(last, start), maskPan(s.slice(start, i)));
    last = i;
    const sep = i < n ? s.charCodeAt(i) : 0;
    // Track 2 (PAN=YYMM...), its BCD form printed as hex (PAN D YYMM...), track 1 (PAN^NAME^...).
    if (sep === 61 || (sep === 68 && i + 1 < n && isDigit(s.charCodeAt(i + 1)))) {
      out.push(s[i], '[redacted]');
      i = trackEnd(s, i + 1, true);
      last = i;
    } else if (sep === 94) {
      // Track 1: ^NAME^YYMM...; the name (up to 26 characters) may hold spaces.
      const second = s.indexOf('^', i + 1);
      out.push('^[redacted]');
      i = second > 0 && second - i <= 27 ? trackEnd(s, second + 1, true) : trackEnd(s, i + 1, false);
      last = i;
    }
  }
  if (out === null) return s;
  out.push(s.slice(last));
  return out.join('');
}

/** Whether a string still carries an unmasked card number. */
function hasPan(s: string): boolean {
  return scrubText(s) !== s;
}

/** A copy of a log line's fields with sensitive keys dropped and card numbers masked. */
export function scrubFields(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubText(v);
  if (typeof v === 'number') {
    // A PAN passed as a number (it could not even be exact above 2^53): masked as text.
    if (Number.isInteger(v) && v >= 1e12) {
      const s = String(v);
      const m = scrubText(s);
      return m === s ? v : m;
    }
    return v;
  }
  if (typeof v === 'bigint') return scrubText(v.toString());
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return `[${v.length} bytes]`;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (v instanceof Error) return { type: v.name, message: scrubText(v.message) };
  if (v instanceof Date) return v;
  if (Array.isArray(v)) return v.map((x) => scrubFields(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const key = k.toLowerCase();
    if (DROPPED.has(key)) continue;
    if (PAN_KEYS.has(key)) {
      if (typeof x === 'string' && !hasPan(x) && !isFullDigits(x)) out[k] = x;
      else if (typeof x === 'string') out[k] = maskPan(x);
      // A PAN field that is not text is dropped: nothing to mask safely.
      continue;
    }
    out[k] = scrubFields(x, depth + 1);
  }
  return out;
}

/** 12 or more digits and nothing else: a PAN that failed Luhn is still a PAN under a `pan` key. */
function isFullDigits(s: string): boolean {
  if (s.length < 12) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}
