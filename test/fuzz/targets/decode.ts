/**
 * decode() in every dialect: the built-in ones and the derived test dialects with the
 * encodings no built-in one uses (EBCDIC, hex b fields, binary and LLLL prefixes). The
 * first byte picks the dialect, the rest is the message body.
 *
 * Property: decode gives an IsoMessage or throws an IsoError whose offset lies in the input
 * and whose message holds no card number; decodePartial fails the same way. What decode
 * accepts re-encodes and decodes back to the same message, packs and unpacks to itself,
 * redacts without a throw, and its parts (F55 TLV, F90, F56, F95, F60, F61) and its
 * response and reversal are built or refused with an IsoError.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  decode, decodePartial, encode, IsoError, packMessage, redact, responseTo, reversalOf, unpackMessage, type Dialect, type IsoMessage,
} from '../../../codec/index.js';
import { allTestDialects } from '../../support/arbitraries.js';
import type { Rng } from '../rng.js';
import { must, ownErrors, PropertyFailure, describeThrown, type FuzzTarget } from '../target.js';

/** Index = the selector byte modulo the count. make-corpus.ts writes seeds with the same order. */
export const DIALECTS: readonly Dialect[] = allTestDialects();

const OWN = [IsoError];
const NO_PAN = { noCardNumbers: true };

export function dialectOf(input: Buffer): Dialect {
  return DIALECTS[(input[0] ?? 0) % DIALECTS.length];
}

function json(m: IsoMessage): Record<string, string> {
  return m.toJSON() as Record<string, string>;
}

function accepted(d: Dialect, m: IsoMessage): void {
  let wire: Buffer;
  try {
    wire = encode(d, m);
  } catch (e) {
    throw new PropertyFailure(`decode accepted a message that encode refuses: ${describeThrown(e)}`, { cause: e });
  }
  let back: IsoMessage;
  try {
    back = decode(d, wire);
  } catch (e) {
    throw new PropertyFailure(`the re-encoding of an accepted message does not decode: ${describeThrown(e)}`, { cause: e });
  }
  must(isDeepStrictEqual(json(back), json(m)), 'decode -> encode -> decode changed the message');
  must(isDeepStrictEqual(json(unpackMessage(packMessage(m))), json(m)), 'pack -> unpack changed the message');
  const safe = redact(m);
  for (const n of [35, 36, 45, 52]) {
    const v = safe.get(n);
    must(v === undefined || /^\**$/.test(v), `redact left field ${n} readable`);
  }
  const parts: (() => unknown)[] = [() => m.emv(), () => m.originalData(), () => m.originalData93(), () => m.replacementAmounts(), () => m.cup60(), () => m.cup61()];
  for (const part of parts) ownErrors(OWN, part, NO_PAN);
  ownErrors(OWN, () => responseTo(d, m, '00'), NO_PAN);
  const rev = ownErrors(OWN, () => reversalOf(d, m, { reason: '68' }), NO_PAN);
  if (rev.ok) ownErrors(OWN, () => encode(d, rev.value), NO_PAN);
}

/** A bit of the bitmap flipped (binary) or a hex digit of it changed: a field added or dropped. */
function mutateBitmap(input: Buffer, rng: Rng): Buffer | null {
  const d = dialectOf(input);
  const start = 1 + (d.tpdu ? 5 : 0) + d.headerLength + (d.spec.mti === 'bcd' ? 2 : 4);
  const size = (d.bitmapHex ? 16 : 8) * (rng.oneIn(2) ? 1 : rng.between(2, d.tertiary ? 3 : 2));
  if (input.length <= start) return null;
  const at = start + rng.below(Math.min(size, input.length - start));
  const out = Buffer.from(input);
  if (d.bitmapHex) out[at] = '0123456789ABCDEF'.charCodeAt(rng.below(16));
  else out[at] ^= 1 << rng.below(8);
  return out;
}

export const target: FuzzTarget = {
  name: 'decode',
  about: `decode in every dialect (${DIALECTS.map((d) => d.name).join(', ')}), accepted messages round-trip`,
  maxLen: 8192,
  dictionary: [
    '0200', '0210', '0400', '0420', '0800', '0810', '1200', '1400', '1804', '0100',
    Buffer.from('0200', 'hex'), Buffer.from('0400', 'hex'), Buffer.from('0800', 'hex'), Buffer.from('f0f2f0f0', 'hex'),
    Buffer.alloc(8, 0xff), Buffer.from('8000000000000000', 'hex'), Buffer.from('0000000000000001', 'hex'),
    'F2', 'FF', '0000000000000000', 'FFFFFFFFFFFFFFFF', '99', '999', '9999', '00', '000', '0000', '19', '37',
    'C', 'D', '=', 'D00000000', 'C00000000', '000000001000', '4111111111111111=2512101',
    Buffer.from('9f2608', 'hex'), Buffer.from('5f2a02', 'hex'), Buffer.from('8182', 'hex'), Buffer.from('7f', 'hex'),
    Buffer.from('6000010002', 'hex'), Buffer.from('603100311301', 'hex'),
  ],
  mutate: mutateBitmap,
  run(input: Buffer): void {
    const d = dialectOf(input);
    const body = input.subarray(1);
    const r = ownErrors(OWN, () => decode(d, body), NO_PAN);
    if (!r.ok) {
      const e = r.error as IsoError;
      must(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= body.length, `IsoError offset ${e.offset} outside the ${body.length}-byte input`);
      const partial = decodePartial(d, body);
      must(partial.error !== null && partial.error.message === e.message, 'decodePartial fails differently from decode');
      return;
    }
    accepted(d, r.value);
  },
};
