/**
 * Properties of decide() over generated cases (fast-check): deterministic, never gives
 * back more than the original, never reverses a duplicate, always explains itself.
 */
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  LOCAL_EVENTS, MAX_AMOUNT, decide, defaultRulesPath, loadDefaultRules, parseRules, toMinor, type Decision, type DecisionCase, type DecisionState,
} from '../rules/index.js';

const rules = loadDefaultRules();
const CODES = ['00', '05', '51', '14', '30', '59', '04', '06', '68', '91', '94', '96', '98', 'A0', 'N7', 'Q9', '000', '100', '911', '913', '4021'];
const REASONS = ['68', '98', '96', 'A0', '06', '17', '32', '22', 'ZZ', '4021', '4013'];
const lo = Date.parse('2024-12-01T00:00:00Z');
const hi = Date.parse('2026-02-01T00:00:00Z');

const amountArb = fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: MAX_AMOUNT }));
const asAmount = (n: number, form: number) => (form === 0 ? n : form === 1 ? String(n).padStart(12, '0') : BigInt(n));

const caseArb: fc.Arbitrary<{ c: DecisionCase; s: DecisionState }> = fc
  .record({
    kind: fc.constantFrom('0100', '0200', '1200', '0220', '0400', '0420', '1420'),
    originalMti: fc.constantFrom('0100', '0200'),
    amount: amountArb,
    form: fc.integer({ min: 0, max: 2 }),
    finalPart: fc.option(fc.double({ min: 0, max: 1.0001, noNaN: true }), { nil: undefined }),
    refundedPart: fc.option(fc.double({ min: 0, max: 1.2, noNaN: true }), { nil: undefined }),
    currency: fc.constantFrom('978', '840', '392', '826'),
    code: fc.option(fc.constantFrom(...CODES), { nil: undefined }),
    reason: fc.constantFrom(...REASONS),
    event: fc.option(fc.constantFrom(...LOCAL_EVENTS), { nil: undefined }),
    dialect: fc.constantFrom(undefined, 'cup', 'iso93a', 'iso87b', 'nope'),
    upstream: fc.constantFrom(undefined, 'visa', 'other'),
    originalTime: fc.integer({ min: lo, max: hi }),
    delay: fc.integer({ min: -3_600_000, max: 9 * 86_400_000 }),
    cardPresent: fc.option(fc.boolean(), { nil: undefined }),
    panHash: fc.option(fc.constantFrom('h:a', 'h:b'), { nil: undefined }),
    promotion: fc.option(fc.constantFrom('SPEND100', 'OTHER'), { nil: undefined }),
    counters: fc.tuple(fc.nat(60), fc.nat(60), fc.nat(6), fc.nat(5), amountArb),
  })
  .map((g) => {
    const reversal = g.kind.charAt(1) === '4';
    // Parts above 1 reach past the original, where the limits must catch them; n12 still bounds them.
    const part = (p: number | undefined) => (p === undefined ? undefined : Math.min(MAX_AMOUNT, Math.floor(g.amount * p)));
    const finalAmount = part(g.finalPart);
    const refundedSoFar = part(g.refundedPart);
    const base = {
      mti: g.kind,
      amount: asAmount(g.amount, g.form),
      currency: g.currency,
      dialect: g.dialect,
      upstream: g.upstream,
      originalTime: g.originalTime,
      now: g.originalTime + g.delay,
      cardPresent: g.cardPresent,
      finalAmount: finalAmount === undefined ? undefined : asAmount(finalAmount, g.form),
      refundedSoFar,
      panHash: g.panHash,
      promotion: g.promotion,
    };
    const c: DecisionCase = reversal
      ? { ...base, originalMti: g.originalMti, responseCode: g.reason }
      : { ...base, responseCode: g.event === undefined ? (g.code ?? '05') : g.code, event: g.event };
    const [terminalUndos, merchantUndos, cardUndos, cardRefundsToday, cardRefundAmountToday] = g.counters;
    return { c, s: { terminalUndos, merchantUndos, cardUndos, cardRefundsToday, cardRefundAmountToday } };
  });

const RUNS = { numRuns: 3000 };

t.test('decide is deterministic, and a fresh rules object agrees with a warmed one', async (tt) => {
  const text = readFileSync(defaultRulesPath(), 'utf8');
  fc.assert(
    fc.property(caseArb, ({ c, s }) => {
      const fresh = parseRules(text, 'fresh.yaml');
      const a = decide(rules, c, s);
      const b = decide(rules, c, s);
      const d = decide(fresh, c, s);
      return JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(a) === JSON.stringify(d);
    }),
    { numRuns: 300 },
  );
  fc.assert(fc.property(caseArb, ({ c, s }) => JSON.stringify(decide(rules, c, s)) === JSON.stringify(decide(rules, c, s))), RUNS);
  tt.pass('same case, same state: same decision');
});

t.test('a reversal or refund never gives back more than the original', async (tt) => {
  fc.assert(
    fc.property(caseArb, ({ c, s }) => {
      const d = decide(rules, c, s);
      const original = toMinor(c.amount, 'amount');
      if (d.amount < 0 || d.amount > original) return false;
      if (d.finalAmount !== null && d.finalAmount + d.amount !== original) return false;
      // An automatic undo also respects what earlier refunds already gave back.
      const refunded = c.refundedSoFar === undefined ? 0 : toMinor(c.refundedSoFar, 'refundedSoFar');
      if ((d.action === 'reverse' || d.action === 'refund') && refunded + d.amount > original) return false;
      return true;
    }),
    RUNS,
  );
  tt.pass('amount <= original, and F95 + amount = original when partial');
});

t.test('a duplicate is never reversed or refunded', async (tt) => {
  let seen = 0;
  fc.assert(
    fc.property(caseArb, ({ c, s }) => {
      const d = decide(rules, c, s);
      const dupCode = c.mti.charAt(1) !== '4' && c.responseCode !== undefined &&
        rules.classify({ responseCode: c.responseCode, dialect: c.dialect, upstream: c.upstream }).class === 'duplicate';
      if (d.class !== 'duplicate' && !dupCode) return true;
      seen++;
      return d.action !== 'reverse' && d.action !== 'refund' && d.proposed !== 'reverse' && d.proposed !== 'refund' && d.amount === 0;
    }),
    RUNS,
  );
  tt.ok(seen > 50, `duplicates were generated (${seen})`);
});

t.test('every decision carries an explanation, and its fields agree with each other', async (tt) => {
  const checks = (d: Decision, c: DecisionCase): boolean =>
    d.explanation.length > 20 &&
    d.explanation.includes(d.class) &&
    (d.action === 'review' || d.proposed === d.action) &&
    // A zero-amount original (an account check) held nothing, but its reversal is harmless and still sent.
    (d.action !== 'reverse' || (d.reason !== null && (d.amount > 0 || toMinor(c.amount, 'amount') === 0))) &&
    (d.action !== 'refund' || (d.reason === null && d.amount > 0 && c.mti.charAt(1) !== '1' && c.originalMti?.charAt(1) !== '1')) &&
    (d.action !== 'none' || d.amount === 0);
  fc.assert(fc.property(caseArb, ({ c, s }) => checks(decide(rules, c, s), c)), RUNS);
  tt.pass('explanation present; reverse has a reason; refund never for an authorization; none gives nothing back');
});
