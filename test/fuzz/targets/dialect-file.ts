/**
 * The dialect override loader (`--dialect FILE.json`, switch/config/dialect-file.ts): the
 * input is the file's text.
 *
 * Property: the loader gives a dialect or throws a DialectError. A dialect it accepts
 * works: sample messages of the built-in dialects, decoded with it, give a message or an
 * IsoError, and what it decodes round-trips; a sample message as JSON encodes or is
 * refused with an IsoError or DialectError, and what it encodes decodes back the same.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  decode, DialectError, encode, getDialect, IsoError, messageFromJson, type Dialect, type IsoMessage,
} from '../../../codec/index.js';
import { resolveDialect } from '../../../switch/config/dialect-file.js';
import { describeThrown, must, ownErrors, PropertyFailure, type FuzzTarget } from '../target.js';

/** Field values of a 0200 and an 0400; each dialect takes those it defines. */
const SAMPLE: Record<string, string> = {
  mti: '0200', 2: '4761739001010119', 3: '000000', 4: '000000001000', 7: '1125143000', 11: '000123', 12: '143000', 13: '1125',
  14: '2512', 22: '051', 25: '00', 28: 'D00000150', 32: '123456', 35: '4761739001010119=2512101', 37: '123456789012', 41: 'TERM0001',
  42: 'MERCHANT0000001', 48: 'ADDITIONAL DATA', 49: '840', 52: '0123456789ABCDEF', 55: '9F26080123456789ABCDEF5F2A020840',
  60: '22000001000', 61: '000001000123', 62: '0011223344', 90: '020000012311251430000000012345600000000000',
  95: '000000000600000000000600C00000000C00000000', 102: 'ACCT000001', 128: '0123456789ABCDEF',
};

/** The sample fields the dialect defines and can encode each on its own: a weird field leaves the rest testable. */
function sampleFor(d: Dialect): Record<string, string> {
  const out: Record<string, string> = { mti: `${d.versionDigit}200` };
  if (d.tpdu) out.tpdu = '6000010002';
  if (d.headerLength > 0) out.header = '60'.repeat(d.headerLength);
  for (const [k, v] of Object.entries(SAMPLE)) {
    if (k === 'mti' || d.fields[Number(k)] === undefined) continue;
    const fits = ownErrors([IsoError, DialectError], () => encode(d, messageFromJson(d, { ...out, [k]: v })), { noCardNumbers: true });
    if (fits.ok) out[k] = v;
  }
  return out;
}

/** Bodies of the built-in dialects: a derived dialect decodes them, or says why not. */
const BODIES: Buffer[] = ['iso87a', 'iso87a-hex', 'iso87b', 'iso93a', 'cup'].map((name) => {
  const d = getDialect(name);
  return encode(d, messageFromJson(d, sampleFor(d)));
});

function roundTrip(d: Dialect, m: IsoMessage, what: string): void {
  let back: IsoMessage;
  try {
    back = decode(d, encode(d, m));
  } catch (e) {
    throw new PropertyFailure(`${what} with the loaded dialect does not encode and decode again: ${describeThrown(e)}`, { cause: e });
  }
  must(isDeepStrictEqual(back.toJSON(), m.toJSON()), `${what} with the loaded dialect changed on encode -> decode`);
}

let file = '';

export const target: FuzzTarget = {
  name: 'dialect-file',
  about: 'the dialect override loader (--dialect FILE.json); what it accepts decodes and encodes consistently',
  maxLen: 16384,
  nests: true,
  dictionary: [
    '"base"', '"name"', '"description"', '"version"', '"mti"', '"bitmap"', '"tertiary"', '"envelope"', '"echo"', '"fields"', '"keep"',
    '"tpdu"', '"header"', '"type"', '"length"', '"max"', '"encoding"', '"prefix"', '"pad"', '"label"', '"parts"', '"reason"',
    '"iso87a"', '"iso87a-hex"', '"iso87b"', '"iso93a"', '"cup"', '"1987"', '"1993"', '"ascii"', '"bcd"', '"ebcdic"', '"binary"',
    '"hex"', '"fixed"', '"LL"', '"LLL"', '"LLLL"', '"n"', '"an"', '"ans"', '"b"', '"z"', '"x+n"', '"left0"', '"right0"', '"leftF"',
    '"rightF"', '"tlv"', '"f90"', '"cup60"', '"cup61"', 'null', 'true', 'false', '0', '1', '999', '9999', '65', '128', '129', '192',
    '{', '}', '[', ']', ',', ':',
  ],
  setup(scratch: string): void {
    file = join(scratch, 'dialect.json');
  },
  run(input: Buffer): void {
    writeFileSync(file, input);
    const r = ownErrors([DialectError], () => resolveDialect(file));
    if (!r.ok) return;
    const d = r.value;
    for (const body of BODIES) {
      const m = ownErrors([IsoError], () => decode(d, body), { noCardNumbers: true });
      if (m.ok) roundTrip(d, m.value, 'a decoded sample');
    }
    const m = ownErrors([IsoError, DialectError], () => encode(d, messageFromJson(d, sampleFor(d))), { noCardNumbers: true });
    if (!m.ok) return;
    let sample: IsoMessage;
    try {
      sample = decode(d, m.value);
    } catch (e) {
      throw new PropertyFailure(`the sample the loaded dialect encodes does not decode: ${describeThrown(e)}`, { cause: e });
    }
    roundTrip(d, sample, 'the encoded sample');
  },
};
