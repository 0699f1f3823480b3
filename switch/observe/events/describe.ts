/**
 * The card and transaction fields of an event, taken from a message: masked PAN and its
 * keyed hash only (never the PAN), amount in minor units. Built once per transaction or
 * reversal, and only when events are on.
 */
import { maskPan, parseAmount, type IsoMessage } from '../../../codec/index.js';
import type { LifecycleEventInput } from './schema.js';

/** The fields every event about one transaction repeats. */
export type EventBase = Pick<LifecycleEventInput,
  'terminal' | 'merchant' | 'acquirer' | 'stan' | 'f7' | 'rrn' | 'mti' | 'panMasked' | 'panHash' | 'amountMinor' | 'currency'>;

/** `panHash` is the caller's (the journal's keyed HMAC), so the value matches the journal row. */
export function describeMessage(msg: IsoMessage, panHash: (pan: string) => string, withKeys = true): EventBase {
  const pan = msg.get(2);
  const b: EventBase = {
    terminal: msg.get(41), merchant: msg.get(42), acquirer: msg.get(32), rrn: msg.get(37),
    panMasked: pan === undefined ? undefined : maskPan(pan), panHash: pan === undefined ? undefined : panHash(pan),
    amountMinor: minorUnits(msg.get(4)), currency: msg.get(49),
  };
  if (withKeys) {
    b.stan = msg.get(11);
    b.f7 = msg.get(7);
    b.mti = msg.mti;
  }
  return b;
}

/** An ISO amount (n12) as a number of minor units; undefined when absent or not 1 to 12 digits. */
export function minorUnits(v: string | null | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  return parseAmount(v) ?? undefined;
}

/** "action: explanation" (the journal's decision text) split back into its parts. */
export function splitDecision(d: string | null | undefined): { decisionAction?: string; decisionExplanation?: string } {
  if (!d) return {};
  const i = d.indexOf(': ');
  return i < 0 ? { decisionExplanation: d } : { decisionAction: d.slice(0, i), decisionExplanation: d.slice(i + 2) };
}
