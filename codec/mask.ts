/**
 * Card data protection at the edge (PCI DSS 3.3.1, 3.4.1): a PAN shows at most its
 * first 6 and last 4 digits, and track data, PIN blocks and the track-equivalent EMV
 * tags never appear at all. Every log line and error that shows a message goes
 * through redact() first.
 */
import type { IsoMessage, MessageJson } from './message.js';
import { redactTlv } from './tlv.js';

/** Fields that are sensitive authentication data: blanked entirely. */
export const BLANKED_FIELDS: readonly number[] = [35, 36, 45, 52];
/** Fields that hold a PAN: masked to first 6 / last 4. */
export const PAN_FIELDS: readonly number[] = [2, 34];

/**
 * 4111111111111111 -> 411111******1111. Shorter numbers reveal less: the last 4 only
 * when at least 8 digits stay hidden, nothing otherwise.
 */
export function maskPan(pan: string): string {
  const len = pan.length;
  if (len >= 13) return pan.slice(0, 6) + '*'.repeat(len - 10) + pan.slice(len - 4);
  if (len >= 12) return '*'.repeat(len - 4) + pan.slice(len - 4);
  return '*'.repeat(len);
}

/** A copy of `msg` safe to log: PANs masked, track and PIN fields blanked, F55 sensitive tags emptied. */
export function redact(msg: IsoMessage): IsoMessage {
  const m = msg.clone();
  for (const n of PAN_FIELDS) {
    const v = m.values[n];
    if (v !== undefined) m.values[n] = typeof v === 'string' ? maskPan(v) : '*'.repeat(v.length * 2);
  }
  for (const n of BLANKED_FIELDS) {
    const v = m.values[n];
    if (v !== undefined) m.values[n] = '*'.repeat(typeof v === 'string' ? v.length : v.length * 2);
  }
  const emv = m.values[55];
  if (emv !== undefined && typeof emv !== 'string') {
    try {
      m.values[55] = redactTlv(emv, 55);
    } catch {
      // Unparseable ICC data could hide track 2 anywhere: show none of it.
      m.values[55] = '*'.repeat(emv.length * 2);
    }
  } else if (typeof emv === 'string') {
    m.values[55] = '*'.repeat(emv.length);
  }
  return m;
}

/** The JSON form of a message, redacted. */
export function redactedJson(msg: IsoMessage): MessageJson {
  return redact(msg).toJSON();
}
