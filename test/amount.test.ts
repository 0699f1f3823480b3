/**
 * codec's parseAmount, the one parser of ISO 8583 n12 amounts (F4, F5, F6, F30, F95's
 * parts): its edge cases, a property against the obvious regular-expression version on
 * arbitrary strings, and the callers (rules' toMinor, the events' minorUnits) that must
 * accept and refuse exactly what it does.
 */
import t from 'tap';
import fc from 'fast-check';
import { MAX_AMOUNT_DIGITS, parseAmount } from '../codec/index.js';
import { CaseError, MAX_AMOUNT, toMinor } from '../rules/index.js';
import { minorUnits } from '../switch/observe/events/describe.js';

const NUM_RUNS = 2000;

/** The specification, written the slow and obvious way. */
const oracle = (s: string): number | null => (/^\d{1,12}$/.test(s) ? Number(s) : null);

const DIGITS = [...'0123456789'];
/**
 * Digit strings of 0 to 15 characters, and the same with one stray character, so the
 * property reaches the 12/13-digit boundary. size 'max': by default fast-check keeps strings
 * near 10 characters, and a parser taking 11 or 13 digits then passes.
 */
const digitsArb = fc.string({ unit: fc.constantFrom(...DIGITS), maxLength: 15, size: 'max' });
const nearDigitsArb = fc.tuple(digitsArb, fc.nat(15), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))
  .map(([d, at, c]) => d.slice(0, at) + c + d.slice(at));
const anyStringArb = fc.oneof(fc.string({ maxLength: 16 }), fc.string({ maxLength: 16, unit: 'binary' }), digitsArb, nearDigitsArb);

t.test('edge cases', async (t) => {
  const cases: [string, string, number | null][] = [
    ['empty', '', null],
    ['1 digit', '7', 7],
    ['0', '0', 0],
    ['12 digits', '123456789012', 123_456_789_012],
    ['the largest n12', '999999999999', 999_999_999_999],
    ['13 digits', '1234567890123', null],
    ['13 digits, leading zero', '0000000000001', null],
    ['leading zeros', '000000001099', 1099],
    ['twelve zeros', '000000000000', 0],
    ['a sign', '-1', null],
    ['a plus', '+1', null],
    ['a decimal point', '10.00', null],
    ['a space before', ' 12', null],
    ['a space after', '12 ', null],
    ['an exponent', '1e3', null],
    ['hex', '0x1F', null],
    ['letters', 'abc', null],
    ['a colon (the code after 9)', '1:', null],
    ['a slash (the code before 0)', '1/', null],
    ['a fullwidth digit', '\uff11', null],
    ['an Arabic-Indic digit', '\u0661', null],
  ];
  for (const [name, text, want] of cases) t.equal(parseAmount(text), want, name);
});

t.test('the n12 limit and the rules limit are the same number', async (t) => {
  t.equal(MAX_AMOUNT_DIGITS, 12);
  t.equal(MAX_AMOUNT, 999_999_999_999);
  t.equal(MAX_AMOUNT, 10 ** MAX_AMOUNT_DIGITS - 1, 'rules MAX_AMOUNT is the largest n12 value');
  t.ok(Number.isSafeInteger(MAX_AMOUNT), 'a JS number holds it exactly');
});

t.test('property: parseAmount agrees with /^\\d{1,12}$/ then Number() on arbitrary strings', async (t) => {
  fc.assert(fc.property(anyStringArb, (s) => parseAmount(s) === oracle(s)), { numRuns: NUM_RUNS });
  t.pass(`${NUM_RUNS} strings`);
});

t.test('property: toMinor and minorUnits accept and refuse what parseAmount does', async (t) => {
  fc.assert(fc.property(anyStringArb, (s) => {
    const want = parseAmount(s);
    if (minorUnits(s) !== (want ?? undefined)) return false;
    try {
      return toMinor(s, 'amount') === want;
    } catch (e) {
      return want === null && e instanceof CaseError;
    }
  }), { numRuns: NUM_RUNS });
  t.equal(minorUnits(null), undefined, 'minorUnits: null');
  t.equal(minorUnits(undefined), undefined, 'minorUnits: undefined');
  t.equal(minorUnits('123456789012345'), undefined, 'minorUnits: 15 digits are no longer an amount');
});
