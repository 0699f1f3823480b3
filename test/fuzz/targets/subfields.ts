/**
 * The sub-field codecs a reversal is built from: F90 and F56 (original data), F95
 * (replacement amounts), UnionPay F60 and F61. The first byte picks the part and the
 * direction; the rest is the field's text (parse), or the parts' texts separated by '|'
 * (format).
 *
 * Property: parse and format throw only IsoError, with no card number in the message and,
 * for parse, an offset inside the text; parse then format gives the text back exactly;
 * format then parse then format gives the same text.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  formatCup60, formatCup61, formatF56, formatF90, formatF95, IsoError, parseCup60, parseCup61, parseF56, parseF90, parseF95,
} from '../../../codec/index.js';
import { describeThrown, must, ownErrors, PropertyFailure, type FuzzTarget } from '../target.js';

const OWN = [IsoError];
const NO_PAN = { noCardNumbers: true };

interface Part {
  name: string;
  parse(v: string): object;
  format(o: object): string;
  /** The parts object from '|'-separated texts (absent where a text is missing). */
  from(texts: (string | undefined)[]): object;
}

/** The codecs take their own types; the fuzzer hands them whatever the texts give. */
function part<T extends object>(name: string, parse: (v: string) => T, format: (o: T) => string, from: (t: (string | undefined)[]) => T): Part {
  return { name, parse, format: (o) => format(o as T), from };
}

export const PARTS: readonly Part[] = [
  part('F90', parseF90, formatF90, ([mti = '', stan = '', transmissionDateTime = '', acquirer, forwarder]) => ({ mti, stan, transmissionDateTime, acquirer, forwarder })),
  part('F56', parseF56, formatF56, ([mti = '', stan = '', localDateTime = '', acquirer = '']) => ({ mti, stan, localDateTime, acquirer })),
  part('F95', parseF95, formatF95, ([transaction = '', settlement, transactionFee, settlementFee]) => ({ transaction, settlement, transactionFee, settlementFee })),
  part('F60', parseCup60, formatCup60, ([type = '', batch = '', networkCode, readCapability, icCondition, partialApproval, accountType]) =>
    ({ type, batch, networkCode, readCapability, icCondition, partialApproval, accountType })),
  part('F61', parseCup61, formatCup61, ([batch = '', trace = '', date, rest]) => ({ batch, trace, date, rest })),
];

function formatted(p: Part, o: object, what: string): string {
  try {
    return p.format(o);
  } catch (e) {
    throw new PropertyFailure(`${p.name}: ${what} does not format: ${describeThrown(e)}`, { cause: e });
  }
}

export const target: FuzzTarget = {
  name: 'subfields',
  about: 'F90, F56, F95, UnionPay F60 and F61: parse and format',
  maxLen: 256,
  dictionary: ['0200', '0400', '000123', '1125143000', '00000123456', '00000000000', 'C00000000', 'D00000150', '000000001000', '22', '000001', '|', '12', '11'],
  run(input: Buffer): void {
    const sel = input[0] ?? 0;
    const p = PARTS[sel % PARTS.length];
    const text = input.toString('latin1', 1);
    if (sel % (PARTS.length * 2) < PARTS.length) {
      const r = ownErrors(OWN, () => p.parse(text), NO_PAN);
      if (!r.ok) {
        const off = (r.error as IsoError).offset;
        must(off >= 0 && off <= text.length, `${p.name}: IsoError offset ${off} outside the ${text.length}-character text`);
        return;
      }
      must(formatted(p, r.value, 'what parse gives') === text, `${p.name}: parse -> format is not the text`);
      return;
    }
    const parts = text.split('|').map((t) => (t === '~' ? undefined : t));
    const r = ownErrors(OWN, () => p.format(p.from(parts)), NO_PAN);
    if (!r.ok) return;
    let back: object;
    try {
      back = p.parse(r.value);
    } catch (e) {
      throw new PropertyFailure(`${p.name}: what format gives does not parse: ${describeThrown(e)}`, { cause: e });
    }
    must(formatted(p, back, 'the parse of a formatted value') === r.value, `${p.name}: format -> parse -> format changed the text`);
    must(isDeepStrictEqual(p.parse(r.value), back), `${p.name}: parse is not deterministic`);
  },
};
