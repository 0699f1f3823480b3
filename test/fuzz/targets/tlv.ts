/**
 * EMV BER-TLV (F55): parseTlv, encodeTlv and redactTlv on arbitrary bytes.
 *
 * Property: parse and redact throw only IsoError, with no card number in the message, and
 * refuse the same inputs at the top level; what parse accepts encodes, and that encoding
 * parses to the same items; what redact gives parses, and no sensitive tag (track 2
 * equivalent, PAN, ...) keeps a value at any depth.
 */
import { isDeepStrictEqual } from 'node:util';
import { encodeTlv, IsoError, parseTlv, redactTlv, SENSITIVE_TAGS, type TlvItem } from '../../../codec/index.js';
import { describeThrown, must, ownErrors, PropertyFailure, type FuzzTarget } from '../target.js';

const OWN = [IsoError];
const NO_PAN = { noCardNumbers: true };

function plain(items: readonly TlvItem[]): [string, string, boolean][] {
  return items.map((i) => [i.tag, Buffer.from(i.value).toString('hex'), i.constructed]);
}

/** Every item at every depth of already redacted TLV; nested templates parse, as redact parsed them. */
function walk(bytes: Uint8Array, visit: (item: TlvItem) => void, depth = 0): void {
  must(depth <= 17, 'redacted TLV nests deeper than redact allows');
  for (const item of parseTlv(bytes)) {
    visit(item);
    if (item.constructed) walk(item.value, visit, depth + 1);
  }
}

export const target: FuzzTarget = {
  name: 'tlv',
  about: 'EMV BER-TLV: parse, encode, redact',
  maxLen: 4096,
  dictionary: [
    Buffer.from('9f26', 'hex'), Buffer.from('5f2a', 'hex'), Buffer.from('57', 'hex'), Buffer.from('5a', 'hex'), Buffer.from('9f6b', 'hex'),
    Buffer.from('9f1f', 'hex'), Buffer.from('9f20', 'hex'), Buffer.from('56', 'hex'), Buffer.from('70', 'hex'), Buffer.from('77', 'hex'),
    Buffer.from('bf0c', 'hex'), Buffer.from('1f8101', 'hex'), Buffer.from('81', 'hex'), Buffer.from('82', 'hex'), Buffer.from('83', 'hex'),
    Buffer.from('84', 'hex'), Buffer.from('80', 'hex'), Buffer.from('00', 'hex'), Buffer.from('ff', 'hex'), Buffer.from('820100', 'hex'),
  ],
  run(input: Buffer): void {
    const parsed = ownErrors(OWN, () => parseTlv(input), NO_PAN);
    const redacted = ownErrors(OWN, () => redactTlv(input), NO_PAN);
    if (!parsed.ok) {
      must(!redacted.ok, 'redactTlv accepted what parseTlv refuses');
      return;
    }
    let again: TlvItem[];
    try {
      again = parseTlv(encodeTlv(parsed.value));
    } catch (e) {
      throw new PropertyFailure(`parsed items do not encode and parse again: ${describeThrown(e)}`, { cause: e });
    }
    must(isDeepStrictEqual(plain(again), plain(parsed.value)), 'parse -> encode -> parse changed the items');
    if (!redacted.ok) return; // a template inside did not parse: redact refuses rather than guess
    walk(redacted.value, (item) => {
      must(!SENSITIVE_TAGS.includes(item.tag) || item.value.length === 0, `redactTlv left a value in tag ${item.tag}`);
    });
  },
};
