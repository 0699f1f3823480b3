/**
 * Differential tests against the npm package iso_8583 (v2.6.7), our test oracle, in both
 * directions, with our iso87a dialect (ASCII MTI, numerics and prefixes, binary bitmap):
 *
 *   (a) random message -> iso_8583 `new Iso8583(json).getRawMessage()` -> our decode():
 *       same MTI and field values, and byte-identical to our own encoding (modulo the
 *       secondary bitmap iso_8583 always emits, see below);
 *   (b) random message -> our encode() -> iso_8583 `new Iso8583().getIsoJSON(buf,
 *       {lenHeader: false})` (without the option it strips a 2-byte length header): same values.
 *
 * iso_8583 is loaded with createRequire: it is CommonJS without type declarations, so a
 * plain `import` would not type-check under `strict`; the two methods used are typed below.
 *
 * THE SUBSET. A field is in it when both libraries put the same bytes on the wire for it:
 * same length kind (fixed / LL / LLL), the same fixed length in bytes, and a non-empty
 * intersection of the characters each accepts. Values are generated from that
 * intersection, computed from both sides (our type's characters, filtered through
 * iso_8583's own lib/types.js validator), and variable lengths up to the smaller max.
 *
 *   same spec in both:            2-27 (n), 28-31 and 97 (x+n), 32, 33, 99, 100 (n LL),
 *                                 41-48, 56, 57, 60-63, 98, 101-117, 124-126 (ans),
 *                                 39, 50, 91-95 (an), 54 (an LLL), 66-90 (n fixed)
 *   same layout, other charset:   34 (ours ans, theirs ns: no letters), 35 (z; theirs
 *                                 unchecked: digits, 'D', '='), 36 (ours z, theirs n),
 *                                 37, 38 (ours an, theirs anp), 40, 49, 51 (ours an,
 *                                 theirs n), 118-122 (ours ans, theirs n), 123 (ours ans,
 *                                 theirs an; its MinLen 15 is never enforced)
 *   other max, same prefix:       59 (ans LLL; theirs max 255, ours 999)
 *   binary:                       52 (8 bytes in both; iso_8583's JSON holds 16 hex digits
 *                                 and unpacks to lowercase hex, ours is uppercase)
 *
 * Character-set deviations inside the subset: iso_8583's "ans" rejects '#', '@' and '\'
 * (its regex omits them; ISO 8583 ans is all printable ASCII), and its "an" has no space
 * (ours, like most networks, allows it), so F39/F50/F54/F91-95 are letters and digits only.
 *
 * EXCLUDED, because iso_8583 deviates from ISO 8583:1987 or from this dialect's layout:
 *   1    the secondary bitmap, not a data field
 *   53   ours n 16 (ISO 1987); theirs b fixed 96 hex digits = 48 bytes
 *   55   ours b LLL 255 (EMV TLV bytes); theirs ans LLL 999: it would write the hex TEXT
 *        with a prefix counting hex characters
 *   58   ours ans LLL 999 (ISO 1987 reserved national); theirs n LL 11
 *   64, 96, 128  MACs, b 8 bytes in ISO 8583; theirs MaxLen 8 hex digits = 4 bytes
 *   65   ours b 1 byte; theirs "b fixed 1" = half a byte (it reads slice(0, 0.5))
 *   127  theirs is a nested 127.x sub-message with a 6-digit (llllllvar) prefix
 *
 * Other iso_8583 behaviour the tests work around:
 *   - it always sets bit 1 and writes a secondary bitmap, even when no field > 64 is
 *     present; our decoder accepts an all-zero secondary bitmap (and our encoder omits it);
 *   - it refuses an empty variable field ("in bitmap but not in json": it tests the value
 *     for truthiness), so (a) generates variable values of at least 1 character;
 *   - it only accepts MTIs from its own table (lib/msgTypes.js), so MTIs come from MTIS;
 *   - its unpacker checks no lengths, characters or trailing bytes, so (b) is a check on
 *     our layout, not on validation.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import { decode, encode, getDialect, IsoError, IsoMessage } from '../codec/index.js';
import { ANS, AN, DIGITS, isoMessageArb } from './support/arbitraries.js';

interface TheirFormat { ContentType: string; LenType: string; MaxLen: number; Label: string }
type TheirJson = Record<string, string>;
interface TheirMessage {
  getRawMessage(): Buffer | { error: string };
  getIsoJSON(buf: Buffer, config?: { lenHeader?: boolean }): TheirJson | { error: string };
}
type TheirCtor = new (message?: TheirJson) => TheirMessage;

const require = createRequire(import.meta.url);
const Iso8583 = require('iso_8583') as TheirCtor;
const THEIR_FORMATS = require('iso_8583/lib/formats.js') as Record<string, TheirFormat>;
const theirTypeCheck = require('iso_8583/lib/types.js') as (format: TheirFormat, data: string, field: number) => true | { error: string };

const d = getDialect('iso87a');
const NUM_RUNS = 200;

const SAME_SPEC = [
  ...range(2, 27), 28, 29, 30, 31, 97, 32, 33, 99, 100,
  ...range(41, 48), 56, 57, ...range(60, 63), 98, ...range(101, 117), 124, 125, 126,
  39, 50, ...range(91, 95), 54, ...range(66, 90),
];
const OTHER_CHARSET = [34, 35, 36, 37, 38, 40, 49, 51, ...range(118, 122), 123];
const SUBSET = [...new Set([...SAME_SPEC, ...OTHER_CHARSET, 59, 52])].sort((a, b) => a - b);
const EXCLUDED = [1, 53, 55, 58, 64, 65, 96, 127, 128];

/** 1987 MTIs iso_8583's lib/msgTypes.js knows (it refuses others). */
const MTIS = (
  '0100 0101 0110 0120 0121 0130 0200 0201 0202 0203 0210 0212 0220 0221 0230 0320 0321 0322 0323 0330 0332 '
  + '0400 0401 0410 0420 0421 0430 0500 0501 0510 0520 0521 0522 0523 0530 0532 0600 0601 0610 0620 0621 0630 '
  + '0800 0801 0810 0820'
).split(' ');

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

/** Characters our type admits (see codec/charsets.ts). */
const OURS: Record<string, string> = { n: DIGITS, an: AN, ans: ANS, z: DIGITS + '=D' };
const LEN_KIND: Record<string, string> = { fixed: 'fixed', llvar: 'LL', lllvar: 'LLL' };

/** Our characters for field n that iso_8583's validator also accepts one by one. */
function sharedAlphabet(n: number): string | undefined {
  const ours = d.field(n)!;
  const theirs = THEIR_FORMATS[n];
  if (ours.type === 'b' || ours.type === 'x+n') return undefined;
  const chars = OURS[ours.type].split('').filter((c) => theirTypeCheck(theirs, c, n) === true);
  return chars.join('');
}
const ALPHABET = new Map(SUBSET.map((n) => [n, sharedAlphabet(n)]));

/** Random messages over the subset, iso_8583-acceptable. */
function subsetArb(minVarLength: number): fc.Arbitrary<IsoMessage> {
  return isoMessageArb(d, {
    fields: SUBSET,
    alphabet: (n) => ALPHABET.get(n),
    maxLength: (n) => THEIR_FORMATS[n].MaxLen,
    minVarLength,
    mti: fc.constantFrom(...MTIS),
  });
}

/** Our message as iso_8583's JSON: key "0" for the MTI, b fields as hex. */
function asTheirJson(m: IsoMessage, hexCase: 'upper' | 'lower'): TheirJson {
  const { mti, ...fields } = m.toJSON();
  const out: TheirJson = { 0: mti };
  for (const [k, v] of Object.entries(fields)) {
    out[k] = d.field(Number(k))!.type === 'b' && hexCase === 'lower' ? v.toLowerCase() : v;
  }
  return out;
}

/** Our encoding as iso_8583 lays it out: a secondary bitmap is always present. */
function withSecondaryBitmap(wire: Buffer): Buffer {
  if (wire[4] & 0x80) return wire;
  const out = Buffer.concat([wire.subarray(0, 12), Buffer.alloc(8), wire.subarray(12)]);
  out[4] |= 0x80;
  return out;
}

t.test('the subset is justified by both libraries\' tables', async (t) => {
  t.equal(SUBSET.length, 119, 'data fields 2-128 minus the 8 excluded ones');
  t.same(SUBSET.filter((n) => EXCLUDED.includes(n)), [], 'subset and exclusions are disjoint');
  t.same(range(1, 128).filter((n) => !SUBSET.includes(n) && !EXCLUDED.includes(n)), [], 'every field 1-128 is classified');
  for (const n of SUBSET) {
    const ours = d.field(n)!;
    const theirs = THEIR_FORMATS[n];
    t.equal(LEN_KIND[theirs.LenType], ours.length, `F${n}: same length kind (${ours.length})`);
    if (ours.length === 'fixed') {
      const theirBytes = theirs.ContentType === 'b' ? theirs.MaxLen / 2 : theirs.MaxLen;
      t.equal(theirBytes, ours.max, `F${n}: same fixed length`);
    } else {
      const cap = Math.min(ours.max, theirs.MaxLen, 60);
      t.ok(cap >= 11, `F${n}: values up to ${cap} fit both (ours max ${ours.max}, theirs ${theirs.MaxLen})`);
    }
    t.equal(ours.type === 'b', theirs.ContentType === 'b', `F${n}: binary in both or neither`);
    if (ours.type !== 'b' && ours.type !== 'x+n') t.ok((ALPHABET.get(n) ?? '').length >= 10, `F${n}: shared alphabet "${ALPHABET.get(n)}"`);
  }
  // Each exclusion really is a layout difference.
  const bytesOf = (f: TheirFormat) => (f.ContentType === 'b' ? f.MaxLen / 2 : f.MaxLen);
  for (const n of [53, 64, 65, 96, 128]) t.not(bytesOf(THEIR_FORMATS[n]), d.field(n)!.max, `F${n}: fixed lengths differ`);
  t.not(THEIR_FORMATS[55].ContentType, 'b', 'F55: iso_8583 treats it as text');
  t.not(LEN_KIND[THEIR_FORMATS[58].LenType], d.field(58)!.length, 'F58: prefix lengths differ');
  t.equal(THEIR_FORMATS[127].LenType, 'llllllvar', 'F127: iso_8583 nests a sub-message with a 6-digit prefix');
  // iso_8583's character-set quirks, as documented above.
  t.equal(ALPHABET.get(43), ANS.replace(/[#@\\]/g, ''), 'iso_8583 ans lacks # @ \\');
  t.equal(ALPHABET.get(39), AN.replace(' ', ''), 'iso_8583 an lacks space');
  for (const mti of MTIS) {
    t.ok(Buffer.isBuffer(new Iso8583({ 0: mti, 3: '000000' }).getRawMessage()), `iso_8583 accepts MTI ${mti}`);
  }
});

t.test('a fixed example both ways (README-style message)', async (t) => {
  const json: TheirJson = {
    0: '0100', 2: '4761739001010119', 3: '000000', 4: '000000005000', 7: '0911131411',
    12: '131411', 13: '0911', 14: '2212', 18: '4111', 22: '051', 23: '001', 25: '00', 26: '12',
    32: '423935', 33: '111111111', 35: '4761739001010119D22122011758928889', 41: '12345678',
    42: 'MOTITILL_000001', 43: 'My Termianl Business                    ', 49: '404',
    52: '7434F67813BAE545', 123: '91010151134C101',
  };
  const raw = new Iso8583(json).getRawMessage();
  if (!Buffer.isBuffer(raw)) throw new Error(`iso_8583 refused the example: ${raw.error}`);
  const m = decode(d, raw);
  const { 0: mti, ...fields } = json;
  t.same(m.toJSON(), { mti, ...fields }, 'we decode what iso_8583 packed');
  t.equal(Buffer.compare(withSecondaryBitmap(encode(d, m)), raw), 0, 'same bytes, modulo the empty secondary bitmap');
  const back = new Iso8583().getIsoJSON(encode(d, m), { lenHeader: false });
  t.same(back, { ...json, 52: json[52].toLowerCase() }, 'iso_8583 unpacks what we encoded');
});

t.test('(a) iso_8583 packs, we decode', async (t) => {
  let withSecondary = 0;
  fc.assert(fc.property(subsetArb(1), (m) => {
    const json = asTheirJson(m, 'upper');
    const raw = new Iso8583(json).getRawMessage();
    if (!Buffer.isBuffer(raw)) throw new Error(`iso_8583 refused ${JSON.stringify(json)}: ${raw.error}`);
    let ours: IsoMessage;
    try {
      ours = decode(d, raw);
    } catch (e) {
      throw new Error(`we could not decode iso_8583's ${raw.toString('hex')}: ${(e as Error).message}`);
    }
    assert.deepStrictEqual(ours.toJSON(), m.toJSON(), 'same MTI and values');
    // Byte level: iso_8583's packing is exactly ours, plus its always-present secondary bitmap.
    assert.equal(raw.toString('hex'), withSecondaryBitmap(encode(d, ours)).toString('hex'), 'same bytes');
    if ((m.fieldNumbers().at(-1) ?? 0) > 64) withSecondary++;
  }), { numRuns: NUM_RUNS });
  t.ok(withSecondary > NUM_RUNS / 10, `fields > 64 exercised (${withSecondary}/${NUM_RUNS})`);
});

t.test('(b) we encode, iso_8583 unpacks', async (t) => {
  let empties = 0;
  fc.assert(fc.property(subsetArb(0), (m) => {
    const wire = encode(d, m);
    const theirs = new Iso8583().getIsoJSON(wire, { lenHeader: false });
    const err = (theirs as { error?: unknown }).error;
    if (err !== undefined) throw new Error(`iso_8583 could not unpack ${wire.toString('hex')}: ${String(err)}`);
    assert.deepStrictEqual(theirs, asTheirJson(m, 'lower'), 'same values');
    if (Object.values(m.toJSON()).includes('')) empties++;
  }), { numRuns: NUM_RUNS });
  t.ok(empties > 0, `empty variable fields exercised (${empties})`);
});

t.test('the excluded fields do break (so the exclusions are needed)', async (t) => {
  // F64: iso_8583 writes 4 bytes where ISO 8583 (and we) expect 8, so we see a truncated field.
  const raw = new Iso8583({ 0: '0200', 3: '000000', 64: '0011AABB' }).getRawMessage();
  if (!Buffer.isBuffer(raw)) throw new Error(`iso_8583 refused: ${raw.error}`);
  t.throws(() => decode(d, raw), IsoError, 'F64 as 4 bytes is a truncation for us');
  // F55: iso_8583 writes hex text with a prefix counting characters, not bytes.
  const raw55 = new Iso8583({ 0: '0200', 55: '9F2701' }).getRawMessage();
  if (!Buffer.isBuffer(raw55)) throw new Error(`iso_8583 refused: ${raw55.error}`);
  t.equal(raw55.subarray(20).toString('latin1'), '0069F2701', 'F55 goes out as "006" + hex text');
});
