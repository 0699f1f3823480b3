/**
 * A message kept for later (a reversal to build after a crash, a repeat to resend) is
 * stored sealed: sensitive authentication data removed, which PCI DSS 3.3.1 forbids
 * keeping even encrypted, and the PAN encrypted. Everything else stays readable, so an
 * operator can still see what a stored reversal is about.
 */
import { messageFromJson, type Dialect, type IsoMessage } from '../../codec/index.js';
import type { CardKeys } from './secrets.js';

/** Track 2, track 3, track 1, PIN block, and the ICC data that may carry tag 57 (track 2 equivalent). */
export const SENSITIVE_FIELDS: readonly number[] = [35, 36, 45, 52, 55];

export function sealMessage(msg: IsoMessage, keys: CardKeys): string {
  const json: Record<string, string> = { ...msg.toJSON() };
  for (const n of SENSITIVE_FIELDS) delete json[String(n)];
  const pan = json['2'];
  if (pan !== undefined) {
    delete json['2'];
    json.pan = keys.seal(pan);
  }
  return JSON.stringify(json);
}

export function unsealMessage(dialect: Dialect, sealed: string, keys: CardKeys): IsoMessage {
  const json = JSON.parse(sealed) as Record<string, string>;
  const pan = json.pan;
  delete json.pan;
  if (pan !== undefined) json['2'] = keys.open(pan);
  return messageFromJson(dialect, json);
}

/** A plain (not encrypted) field of a sealed message, without opening the PAN: F7, F3, the MTI. */
export function sealedField(sealed: string, n: number | 'mti'): string | undefined {
  const v = (JSON.parse(sealed) as Record<string, unknown>)[String(n)];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The sealed message with a plain field set (a refund's original carries its approval's
 * F38): no key needed, the PAN stays sealed. Never for sensitive fields.
 */
export function withSealedField(sealed: string, n: number, value: string): string {
  if (n === 2 || SENSITIVE_FIELDS.includes(n)) throw new Error(`field ${n} is never kept in the clear`);
  const json = JSON.parse(sealed) as Record<string, unknown>;
  json[String(n)] = value;
  return JSON.stringify(json);
}
