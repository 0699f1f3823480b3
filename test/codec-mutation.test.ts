/**
 * Mutation and fuzz tests: whatever bytes arrive, decode() returns an IsoMessage or throws
 * an IsoError, never anything else (a TypeError, a RangeError from a Buffer call, an
 * out-of-bounds read turned into garbage), and it finishes (all inputs here are < 8 KiB;
 * returning at all is the "no hang" check, there are no timing asserts).
 *
 * Inputs, for every built-in dialect and the derived test dialects:
 *   - valid encodings (test/support/arbitraries.ts) with 1-4 mutations: truncation, bit
 *     flips, byte overwrites, insertions, deletions, a garbage tail, bitmap edits (a bit
 *     flip, or a random hex digit for hex bitmaps) and length-prefix edits (random bytes,
 *     a random length, length +-1..3, max and max+1, written in the prefix's own encoding);
 *   - random garbage of 0..300 bytes.
 * Decode errors must carry an offset inside the input. And whatever decode accepts must
 * re-encode, and that encoding decode back to the same message (a switch forwards what
 * it accepted).
 *
 * messageFromJson + encode are fuzzed with JSON-ish input (random objects, odd keys, values
 * of every JSON type, valid messages with corrupted entries): only IsoError or DialectError
 * may escape (an encode IsoError's offset is -1 or inside the output), and anything
 * encode produces must decode.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import {
  decode, encode, messageFromJson, DialectError, IsoError, IsoMessage, type Dialect, type FieldSpec,
} from '../codec/index.js';
import { allTestDialects, definedFields, isoMessageArb } from './support/arbitraries.js';

const RUNS = 2000;
const GARBAGE_RUNS = 2000;
const JSON_RUNS = 1000;
const DIALECTS = allTestDialects();
const byName = (name: string): Dialect => DIALECTS.find((d) => d.name === name)!;

/* ------------------------------------------------------------------ decode contract */

/** Decodes; any throw that is not an IsoError with an in-range offset fails the property. */
function decodeOrIsoError(d: Dialect, bytes: Uint8Array): IsoMessage | IsoError {
  let out: IsoMessage;
  try {
    out = decode(d, bytes);
  } catch (e) {
    if (!(e instanceof IsoError)) {
      throw new Error(`decode threw a non-IsoError on ${Buffer.from(bytes).toString('hex')}: ${String(e)}`, { cause: e });
    }
    assert.ok(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= bytes.length,
      `IsoError offset ${e.offset} outside the ${bytes.length}-byte input (${e.message}) for ${Buffer.from(bytes).toString('hex')}`);
    return e;
  }
  assert.ok(out instanceof IsoMessage, 'decode returned an IsoMessage');
  return out;
}

/** What decode accepted must encode, and decode back to itself. */
function reencodes(d: Dialect, m: IsoMessage, input: Uint8Array): void {
  let wire: Buffer;
  try {
    wire = encode(d, m);
  } catch (e) {
    throw new Error(`decode accepted ${Buffer.from(input).toString('hex')} but encode refused the result: ${String(e)}`, { cause: e });
  }
  let back: IsoMessage;
  try {
    back = decode(d, wire);
  } catch (e) {
    throw new Error(`decode accepted ${Buffer.from(input).toString('hex')}, its re-encoding ${wire.toString('hex')} does not decode: ${String(e)}`, { cause: e });
  }
  assert.deepStrictEqual(back.toJSON(), m.toJSON(), `re-encoding of accepted ${Buffer.from(input).toString('hex')} changed the message`);
}

/* ------------------------------------------------------------------ wire layout */

const LEN_DIGITS: Record<string, number> = { LL: 2, LLL: 3, LLLL: 4 };

function mapsFor(last: number): number {
  return last > 128 ? 3 : last > 64 ? 2 : 1;
}

/** Bytes before the first bitmap: TPDU, header, MTI. */
function headBytes(d: Dialect): number {
  return (d.tpdu ? 5 : 0) + d.headerLength + (d.spec.mti === 'bcd' ? 2 : 4);
}

/**
 * Where field n starts in encode(d, m): the length of the message cut before n, plus
 * the bitmaps the full message has and the cut one lacks.
 */
function fieldOffset(d: Dialect, m: IsoMessage, n: number): number {
  const cut = m.clone();
  for (const k of m.fieldNumbers()) if (k >= n) cut.delete(k);
  const lastFull = m.fieldNumbers().at(-1) ?? 0;
  const lastCut = cut.fieldNumbers().at(-1) ?? 0;
  const mapBytes = d.bitmapHex ? 16 : 8;
  return encode(d, cut).length + (mapsFor(lastFull) - mapsFor(lastCut)) * mapBytes;
}

function prefixSize(s: FieldSpec): number {
  const digits = LEN_DIGITS[s.length];
  const enc = s.prefix ?? 'ascii';
  return enc === 'ascii' || enc === 'ebcdic' ? digits : digits === 2 ? 1 : 2;
}

/** A length written as the field's prefix would be (the value is reduced to fit). */
function writePrefix(s: FieldSpec, value: number): number[] {
  const digits = LEN_DIGITS[s.length];
  switch (s.prefix ?? 'ascii') {
    case 'ascii':
    case 'ebcdic': {
      const text = String(value % 10 ** digits).padStart(digits, '0');
      return [...text].map((c) => (s.prefix === 'ebcdic' ? 0xf0 : 0x30) + Number(c));
    }
    case 'bcd': {
      const text = String(value % (digits === 2 ? 100 : 10000)).padStart(digits === 2 ? 2 : 4, '0');
      const out: number[] = [];
      for (let i = 0; i < text.length; i += 2) out.push((Number(text[i]) << 4) | Number(text[i + 1]));
      return out;
    }
    case 'binary':
      return digits === 2 ? [value & 0xff] : [(value >> 8) & 0xff, value & 0xff];
  }
}

/** The length a prefix says, read independently of the codec. */
function readPrefix(s: FieldSpec, b: Uint8Array, off: number): number {
  const size = prefixSize(s);
  let v = 0;
  for (let i = 0; i < size; i++) {
    const x = b[off + i];
    switch (s.prefix ?? 'ascii') {
      case 'ascii': v = v * 10 + (x - 0x30); break;
      case 'ebcdic': v = v * 10 + (x - 0xf0); break;
      case 'bcd': v = v * 100 + (x >> 4) * 10 + (x & 15); break;
      case 'binary': v = v * 256 + x; break;
    }
  }
  return v;
}

function unitsOf(m: IsoMessage, n: number): number {
  return m.getBytes(n)?.length ?? m.get(n)!.length;
}

/* ------------------------------------------------------------------ mutations */

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'tail'; at: number; bytes: Uint8Array }
  | { kind: 'bitmap'; at: number; bit: number; hex: number }
  | { kind: 'prefix'; pick: number; how: 'random' | 'value' | 'delta' | 'max'; value: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('tail' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('bitmap' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), hex: fc.integer({ min: 0, max: 15 }) }),
  fc.record({
    kind: fc.constant('prefix' as const),
    pick: fc.nat(),
    how: fc.constantFrom('random' as const, 'value' as const, 'delta' as const, 'max' as const),
    value: fc.nat({ max: 65535 }),
    bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  }),
);

/** Structural edits (which need the original layout) first, then the byte-level ones. */
function applyMutations(d: Dialect, m: IsoMessage, wire: Buffer, muts: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(wire);
  const structural = muts.filter((x) => x.kind === 'bitmap' || x.kind === 'prefix');
  const bytewise = muts.filter((x) => x.kind !== 'bitmap' && x.kind !== 'prefix');
  const last = m.fieldNumbers().at(-1) ?? 0;
  const variable = m.fieldNumbers().filter((n) => d.field(n)!.length !== 'fixed');
  for (const x of [...structural, ...bytewise]) {
    const len = b.length;
    switch (x.kind) {
      case 'truncate': b = b.slice(0, x.at % (len + 1)); break;
      case 'flip': if (len > 0) b[x.at % len] ^= 1 << x.bit; break;
      case 'set': if (len > 0) b[x.at % len] = x.byte; break;
      case 'insert': { const at = x.at % (len + 1); b = concat(b.subarray(0, at), x.bytes, b.subarray(at)); break; }
      case 'delete': { const at = x.at % (len + 1); b = concat(b.subarray(0, at), b.subarray(at + x.count)); break; }
      case 'tail': b = concat(b.subarray(0, x.at % (len + 1)), x.bytes); break;
      case 'bitmap': {
        const start = headBytes(d);
        const size = mapsFor(last) * (d.bitmapHex ? 16 : 8);
        const at = start + (x.at % size);
        if (at >= len) break;
        if (d.bitmapHex) b[at] = '0123456789ABCDEF'.charCodeAt(x.hex);
        else b[at] ^= 1 << x.bit;
        break;
      }
      case 'prefix': {
        if (variable.length === 0) break;
        const n = variable[x.pick % variable.length];
        const s = d.field(n)!;
        const at = fieldOffset(d, m, n);
        const size = prefixSize(s);
        const units = unitsOf(m, n);
        let bytes: number[];
        switch (x.how) {
          case 'random': bytes = [...x.bytes.subarray(0, size)]; break;
          case 'value': bytes = writePrefix(s, x.value); break;
          case 'delta': bytes = writePrefix(s, Math.max(0, units + ((x.value % 7) - 3 || 1))); break;
          case 'max': bytes = writePrefix(s, s.max + (x.value & 1)); break;
        }
        if (at + size <= len) b.set(bytes, at);
        break;
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/* ------------------------------------------------------------------ tests */

t.test('the layout helpers agree with the encoder (prefix offsets are right)', async (t) => {
  let checked = 0;
  for (const d of DIALECTS) {
    fc.assert(fc.property(isoMessageArb(d), (m) => {
      const wire = encode(d, m);
      for (const n of m.fieldNumbers()) {
        const s = d.field(n)!;
        if (s.length === 'fixed') continue;
        const at = fieldOffset(d, m, n);
        assert.equal(readPrefix(s, wire, at), unitsOf(m, n), `${d.name} F${n} prefix at ${at} of ${wire.toString('hex')}`);
        checked++;
      }
    }), { numRuns: 50 });
  }
  t.ok(checked > 1000, `${checked} prefixes located`);
});

for (const d of DIALECTS) {
  t.test(`mutated messages: ${d.name}`, async (t) => {
    const seen = { accepted: 0, rejected: 0 };
    const arb = fc.record({ m: isoMessageArb(d), muts: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) });
    fc.assert(fc.property(arb, ({ m, muts }) => {
      const input = applyMutations(d, m, encode(d, m), muts);
      assert.ok(input.length <= 8192, 'inputs stay under 8 KiB');
      const r = decodeOrIsoError(d, input);
      if (r instanceof IsoError) seen.rejected++;
      else seen.accepted++;
    }), { numRuns: RUNS });
    t.ok(seen.rejected > RUNS / 10, `mutants rejected with IsoError: ${seen.rejected}`);
    t.ok(seen.accepted > 0, `mutants still accepted: ${seen.accepted}`);
  });

  t.test(`accepted mutants re-encode: ${d.name}`, async (t) => {
    let accepted = 0;
    // One small edit at a time, so more mutants survive decoding and reach the re-encode.
    const arb = fc.record({ m: isoMessageArb(d), muts: fc.array(mutationArb, { minLength: 1, maxLength: 1 }) });
    fc.assert(fc.property(arb, ({ m, muts }) => {
      const input = applyMutations(d, m, encode(d, m), muts);
      const r = decodeOrIsoError(d, input);
      if (r instanceof IsoError) return;
      accepted++;
      reencodes(d, r, input);
    }), { numRuns: RUNS / 2 });
    t.ok(accepted > 0, `${accepted} accepted mutants re-encoded`);
  });

  t.test(`random garbage: ${d.name}`, async (t) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = decodeOrIsoError(d, bytes);
      if (!(r instanceof IsoError)) reencodes(d, r, bytes);
    }), { numRuns: GARBAGE_RUNS });
    // A valid envelope, MTI and primary bitmap, then garbage: gets past the first checks.
    const head = fc.record({ m: isoMessageArb(d, { fields: definedFields(d).filter((n) => n <= 64), maxFields: 3 }), tail: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(fc.property(head, ({ m, tail }) => {
      const wire = encode(d, m);
      const input = concat(wire.subarray(0, headBytes(d) + (d.bitmapHex ? 16 : 8)), tail);
      const r = decodeOrIsoError(d, input);
      if (!(r instanceof IsoError)) reencodes(d, r, input);
    }), { numRuns: GARBAGE_RUNS / 2 });
    t.pass('garbage only ever yields IsoError or a message');
  });
}

t.test('a length prefix is honoured exactly (variable BCD x+n)', async (t) => {
  // test-iso87b-prefixes F28: x+n LL, BCD prefix, value = sign byte + BCD digits.
  const d = DIALECTS.find((x) => x.name === 'test-iso87b-prefixes')!;
  t.equal(d.field(28)?.length, 'LL');
  t.equal(encode(d, new IsoMessage('0200', { 28: 'C1' })).toString('hex'), '0200' + '0000001000000000' + '02' + '4301', 'C1 is prefix 02, sign 43, digit 1 + pad');
  // Prefix 00: zero characters declared. Decoding must not produce (or consume) more than that.
  const wire = Buffer.from('0200' + '0000001000000000' + '00' + '43', 'hex');
  const r = decodeOrIsoError(d, wire);
  if (r instanceof IsoError) {
    t.pass(`rejected: ${r.message}`);
  } else {
    t.equal(r.get(28), '', 'a field declared 0 characters long decodes to 0 characters (and the byte after it is trailing)');
  }
});

/* ------------------------------------------------------------------ JSON fuzz */

const KEYS = [
  'mti', 'tpdu', 'header', 'MTI', '', ' ', '0', '1', '2', '02', ' 2', '2 ', '2.0', '1e1', '-1', '+2', '0x2', '65', '128',
  '129', '192', '193', '999', '4294967298', '\u0662', '\uff12', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__',
];
const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 2, max: 192 }).map(String) },
  { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const digitsArb = fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 50 });
const hexArb = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFgG '), maxLength: 40 });
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) }, // any code point, lone surrogates included
  { weight: 3, arbitrary: digitsArb },
  { weight: 3, arbitrary: hexArb },
  { weight: 2, arbitrary: fc.constantFrom('0200', '1200', '0000', '9999', '', 'C', 'D', 'C123', 'D12=34', '=', 'x', '\u0000', '\u00ff', '\u0100', '\ud800', '0\u0660', '\uff10\uff10') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('9', 'A', ' '), minLength: 900, maxLength: 2100 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 })) },
);

function jsonishArb(d: Dialect): fc.Arbitrary<unknown> {
  // Valid messages with a few entries replaced, added or removed: gets deep into encode.
  const corrupted = fc.record({
    m: isoMessageArb(d, { maxFields: 8 }),
    set: fc.array(fc.tuple(keyArb, valueArb), { maxLength: 3 }),
    drop: fc.array(fc.nat(), { maxLength: 2 }),
  }).map(({ m, set, drop }) => {
    const o: Record<string, unknown> = { ...m.toJSON() };
    const keys = Object.keys(o);
    for (const i of drop) if (keys.length > 0) delete o[keys[i % keys.length]];
    for (const [k, v] of set) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  });
  return fc.oneof(
    { weight: 4, arbitrary: corrupted },
    { weight: 2, arbitrary: fc.dictionary(keyArb, valueArb, { maxKeys: 10 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
  );
}

/** Encode errors give an offset into the output, or -1 when there is none. */
function assertEncodeOffset(e: IsoError): void {
  assert.ok(e.offset === -1 || (Number.isInteger(e.offset) && e.offset >= 0), `encode IsoError with offset ${e.offset}: ${e.message}`);
}

for (const d of DIALECTS) {
  t.test(`messageFromJson + encode fuzz: ${d.name}`, async (t) => {
    const seen = { encoded: 0, refused: 0 };
    fc.assert(fc.property(jsonishArb(d), (obj) => {
      let wire: Buffer;
      try {
        wire = encode(d, messageFromJson(d, obj));
      } catch (e) {
        if (e instanceof IsoError) assertEncodeOffset(e);
        if (e instanceof IsoError || e instanceof DialectError) { seen.refused++; return; }
        throw new Error(`non-IsoError from messageFromJson/encode: ${String(e)}`, { cause: e });
      }
      seen.encoded++;
      try {
        decode(d, wire);
      } catch (e) {
        throw new Error(`encode produced ${wire.toString('hex')}, which does not decode: ${String(e)}`, { cause: e });
      }
    }), { numRuns: JSON_RUNS });
    t.ok(seen.refused > 0 && seen.encoded > 0, `encoded ${seen.encoded}, refused ${seen.refused}`);
  });
}

t.test('encode fuzz: random text or bytes in random fields', async (t) => {
  const valueOf = fc.oneof(valueArb.filter((v): v is string => typeof v === 'string'), fc.uint8Array({ maxLength: 40 }));
  const arb = fc.record({
    dialect: fc.constantFrom(...DIALECTS.map((d) => d.name)),
    mti: fc.oneof(fc.constantFrom('0200', '1200', '0800', '1804'), fc.string({ maxLength: 5 })),
    tpdu: fc.option(fc.uint8Array({ maxLength: 6 })),
    header: fc.option(fc.uint8Array({ maxLength: 8 })),
    fields: fc.array(fc.tuple(fc.integer({ min: 2, max: 192 }), valueOf), { maxLength: 6 }),
  });
  let encoded = 0;
  fc.assert(fc.property(arb, ({ dialect, mti, tpdu, header, fields }) => {
    const d = byName(dialect);
    const m = new IsoMessage(mti);
    m.tpdu = tpdu;
    m.header = header;
    for (const [n, v] of fields) m.set(n, v);
    let wire: Buffer;
    try {
      wire = encode(d, m);
    } catch (e) {
      if (e instanceof IsoError) { assertEncodeOffset(e); return; }
      throw new Error(`non-IsoError from encode: ${String(e)}`, { cause: e });
    }
    encoded++;
    decodeOrIsoError(d, wire);
    assert.doesNotThrow(() => decode(d, wire), `encode output ${wire.toString('hex')} must decode`);
  }), { numRuns: JSON_RUNS * 2 });
  t.ok(encoded > 0, `${encoded} messages encoded`);
});
