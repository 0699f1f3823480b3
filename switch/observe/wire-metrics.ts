/**
 * The per-message counts of the wire: messages in and out by MTI class, and decode errors
 * by reason, for one side (terminal or upstream) and dialect. Conn bumps a typed-array
 * slot per message, with no allocation, hashing or regular expression; ./metrics.ts turns
 * the arrays into prom-client counters at scrape time.
 *
 * MTI class: the first three digits of the MTI with the last (the origin: 0 acquirer,
 * 1 acquirer repeat, 2 issuer...) set to 0. So "0200" and "0210" stay apart (request and
 * response), a 0401 repeat counts as "0400", and a 0421 as "0420". Anything that is not
 * four digits is "other".
 */
import { IsoError } from '../../codec/index.js';

export type Side = 'terminal' | 'upstream';

/** 000-999 for the first three MTI digits; 1000 for an MTI that is not four digits. */
export const MTI_SLOTS = 1001;
const OTHER_MTI = 1000;

/** The slot of an MTI: no allocation, no regular expression. */
export function mtiSlot(mti: string): number {
  if (mti.length !== 4) return OTHER_MTI;
  const a = mti.charCodeAt(0) - 48;
  const b = mti.charCodeAt(1) - 48;
  const c = mti.charCodeAt(2) - 48;
  const d = mti.charCodeAt(3) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9 || d < 0 || d > 9) return OTHER_MTI;
  return a * 100 + b * 10 + c;
}

/** The label value of a slot: "0200", "0210", "0400"... or "other". */
export function mtiClassOf(slot: number): string {
  return slot === OTHER_MTI ? 'other' : String(slot).padStart(3, '0') + '0';
}

/** What a decode error is about: a fixed list, so the label stays bounded whatever a peer sends. */
export const DECODE_REASONS = [
  'frame', 'frame_too_long', 'header', 'mti', 'bitmap', 'undefined_field', 'bad_length', 'too_long', 'truncated',
  'bad_character', 'trailing_bytes', 'other',
] as const;
export type DecodeReason = (typeof DECODE_REASONS)[number];

/** Maps a codec error (see codec/decode.ts and codec/framing.ts) onto DECODE_REASONS. Not on the hot path. */
export function decodeReason(e: unknown): DecodeReason {
  if (!(e instanceof IsoError)) return 'other';
  const r = e.reason;
  switch (e.site) {
    case 'frame': return r.includes('exceeds max') ? 'frame_too_long' : 'frame';
    case 'tpdu':
    case 'header': return 'header';
    case 'mti': return 'mti';
    case 'bitmap': return 'bitmap';
    case 'message': return 'trailing_bytes';
    default:
      if (r.includes('does not define')) return 'undefined_field';
      if (r.includes('length prefix')) return 'bad_length';
      if (r.includes('exceeds max') || r.includes('too long')) return 'too_long';
      if (r.startsWith('expected') && r.includes(', got')) return 'truncated';
      return 'bad_character';
  }
}

/** The message and decode-error counts of one side and dialect; Conn bumps them. */
export class WireMetrics {
  readonly in = new Float64Array(MTI_SLOTS);
  readonly out = new Float64Array(MTI_SLOTS);
  readonly decodeErrors = new Float64Array(DECODE_REASONS.length);

  constructor(readonly side: Side, readonly dialect: string) {}

  messageIn(mti: string): void {
    this.in[mtiSlot(mti)]++;
  }

  messageOut(mti: string): void {
    this.out[mtiSlot(mti)]++;
  }

  decodeError(e: unknown): void {
    this.decodeErrors[DECODE_REASONS.indexOf(decodeReason(e))]++;
  }
}
