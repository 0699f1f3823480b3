/**
 * A working key as the network sends it in an 0800/0820 key change (or in the answer to
 * ours), in one of two layouts, chosen per upstream (`keyChange.field`):
 *
 * - F48: the key type (2 digits: 01 a PIN key, ZPK; 02 a MAC key, ZAK), the key under the
 *   zone master key as hex (16, 32 or 48 digits), then its check value (6 hex digits).
 * - F96: the key under the zone master key in F96 (8 bytes: a single-length key), its
 *   type in F53's first two digits (as above), its check value in F48 (6 hex digits).
 *
 * A layout not met yields a reason, never the key material.
 */
import type { IsoMessage } from '../../codec/index.js';

export interface KeyChange {
  type: 'ZPK' | 'ZAK';
  cryptogram: Buffer;
  kcv: string;
}

const TYPES: Record<string, 'ZPK' | 'ZAK'> = { '01': 'ZPK', '02': 'ZAK' };

export function keyChangeOf(msg: IsoMessage, field: 'F48' | 'F96'): KeyChange | { error: string } {
  if (field === 'F48') {
    const f48 = msg.get(48);
    const m = f48 === undefined ? null : /^(0[12])((?:[0-9A-Fa-f]{16}){1,3})([0-9A-Fa-f]{6})$/.exec(f48);
    if (!m) return { error: 'F48 is not a key type (01/02), a key of 16, 32 or 48 hex digits and a 6-digit check value' };
    return { type: TYPES[m[1]], cryptogram: Buffer.from(m[2], 'hex'), kcv: m[3].toUpperCase() };
  }
  const key = msg.getBytes(96);
  const type = TYPES[msg.get(53)?.slice(0, 2) ?? ''];
  const kcv = msg.get(48);
  if (key === undefined || key.length !== 8) return { error: 'F96 does not hold an 8-byte key' };
  if (type === undefined) return { error: 'F53 does not start with a key type (01 PIN key, 02 MAC key)' };
  if (kcv === undefined || !/^[0-9A-Fa-f]{6}$/.test(kcv)) return { error: 'F48 does not hold the key\'s 6-digit check value' };
  return { type, cryptogram: Buffer.from(key), kcv: kcv.toUpperCase() };
}
