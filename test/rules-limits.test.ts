/**
 * Every limit at, just under and just over its bound (domain.md §5), the velocity guard,
 * the age windows, and the refusal of anything that looks like a PAN.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  CaseError, compileRules, decide, defaultRulesPath, parseCaseJson, type DecisionCase, type DecisionState,
} from '../rules/index.js';

type Data = Record<string, Record<string, unknown>>;
const DEFAULT_TEXT = readFileSync(defaultRulesPath(), 'utf8');
function rulesWith(change: (d: Data) => void) {
  const d = parse(DEFAULT_TEXT) as Data;
  change(d);
  return compileRules(d, 'test rules');
}

// Caps chosen so each bound is easy to sit on.
const rules = rulesWith((d) => {
  d.limits = {
    perCardDaily: { count: 3, amount: 50000, currency: '978', otherCurrencies: { '840': 20000 } },
    promotions: { SPEND100: { minimumSpend: 10000, currency: '978' } },
  };
  d.velocity = { windowMinutes: 10, maxPerTerminal: 10, maxPerMerchant: 50, maxPerCard: 3 };
});

const WED = Date.parse('2025-03-05T10:00:00+01:00');
const THU = Date.parse('2025-03-06T10:00:00+01:00'); // the next business date: a refund
const ZERO: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
const state = (s: Partial<DecisionState>): DecisionState => ({ ...ZERO, ...s });

function reversal(extra: Partial<DecisionCase> = {}): DecisionCase {
  return { mti: '0200', amount: 20000, currency: '978', event: 'customer_cancel', originalTime: WED, now: WED + 60_000, panHash: 'h:card-1', ...extra };
}
function refund(extra: Partial<DecisionCase> = {}): DecisionCase {
  return reversal({ event: 'timeout', now: THU, ...extra });
}

function caseError(tt: Test, fn: () => unknown, path: string, reason: string): void {
  try {
    fn();
  } catch (e) {
    tt.ok(e instanceof CaseError, 'a CaseError');
    if (e instanceof CaseError) {
      tt.equal(e.path, path, 'path');
      tt.equal(e.reason, reason, 'reason');
    }
    return;
  }
  tt.fail(`expected CaseError at ${path}`);
}

t.test('partial undo (F95) is never above the original', async (tt) => {
  const under = decide(rules, reversal({ finalAmount: 19999 }), ZERO);
  tt.same([under.action, under.amount, under.finalAmount, under.reason], ['reverse', 1, 19999, '17'], 'final just under the original: reverse 1');
  tt.match(under.explanation, /reverse 1 of 20000 \(F95 final amount 19999\) with reason 17$/);
  const at = decide(rules, reversal({ finalAmount: 20000 }), ZERO);
  tt.same([at.action, at.amount, at.rule], ['none', 0, 'nothing-to-undo'], 'final equal to the original: nothing to undo');
  const over = decide(rules, reversal({ finalAmount: 20001 }), ZERO);
  tt.same([over.action, over.proposed, over.amount, over.rule], ['review', 'reverse', 0, 'limit.partial-above-original'], 'final above: review');
  tt.match(over.explanation, /the final amount 20001 \(F95\) is above the original 20000/);
  const zero = decide(rules, reversal({ finalAmount: 0 }), ZERO);
  tt.same([zero.action, zero.amount, zero.finalAmount], ['reverse', 20000, 0], 'final 0: everything reversed, F95 says so');
  const digits = decide(rules, reversal({ amount: '000000020000', finalAmount: '000000005000' }), ZERO);
  tt.same([digits.amount, digits.finalAmount], [15000, 5000], 'n12 strings');
  const big = decide(rules, reversal({ amount: 20000n, finalAmount: 5000n }), ZERO);
  tt.same([big.amount, big.finalAmount], [15000, 5000], 'bigints');
});

t.test('cumulative refunds never exceed the original', async (tt) => {
  const at = decide(rules, refund({ refundedSoFar: 0, finalAmount: 0, amount: 20000 }), ZERO);
  tt.equal(at.action, 'refund', 'nothing refunded yet: the full amount');
  const justUnder = decide(rules, refund({ event: 'customer_cancel', refundedSoFar: 4999, finalAmount: 15000 }), ZERO);
  tt.same([justUnder.action, justUnder.amount], ['refund', 5000], '4999 + 5000 = 9999 of 20000');
  const exactly = decide(rules, refund({ event: 'customer_cancel', refundedSoFar: 15000, finalAmount: 15000 }), ZERO);
  tt.same([exactly.action, exactly.amount], ['refund', 5000], '15000 + 5000 = the original exactly');
  const over = decide(rules, refund({ event: 'customer_cancel', refundedSoFar: 15001, finalAmount: 15000 }), ZERO);
  tt.same([over.action, over.proposed, over.rule, over.amount], ['review', 'refund', 'limit.cumulative-refunds', 5000], 'one unit over');
  tt.match(over.explanation, /15001 already refunded plus 5000 now is 20001, above the original 20000/);
  const reversalToo = decide(rules, reversal({ refundedSoFar: 1 }), ZERO);
  tt.same([reversalToo.action, reversalToo.rule], ['review', 'limit.cumulative-refunds'], 'a full reversal after a refund would give back too much');
});

t.test('per-card daily cap on automatic refunds: count', async (tt) => {
  tt.equal(decide(rules, refund(), state({ cardRefundsToday: 1 })).action, 'refund', '2nd refund of 3');
  tt.equal(decide(rules, refund(), state({ cardRefundsToday: 2 })).action, 'refund', '3rd refund: at the cap');
  const over = decide(rules, refund(), state({ cardRefundsToday: 3 }));
  tt.same([over.action, over.proposed, over.rule], ['review', 'refund', 'limit.per-card-daily.count'], '4th: review');
  tt.match(over.explanation, /already had 3 automatic refunds today; one more exceeds the per-card daily cap of 3/);
  tt.equal(decide(rules, reversal(), state({ cardRefundsToday: 99 })).action, 'reverse', 'the cap is on refunds, not reversals');
});

t.test('per-card daily cap on automatic refunds: amount, per currency', async (tt) => {
  tt.equal(decide(rules, refund(), state({ cardRefundAmountToday: 29999 })).action, 'refund', '29999 + 20000 just under 50000');
  tt.equal(decide(rules, refund(), state({ cardRefundAmountToday: 30000 })).action, 'refund', '30000 + 20000 = 50000: at the cap');
  const over = decide(rules, refund(), state({ cardRefundAmountToday: '000000030001' }));
  tt.same([over.action, over.rule, over.amount], ['review', 'limit.per-card-daily.amount', 20000], '50001: review');
  tt.match(over.explanation, /already had 30001 refunded today; 20000 more makes 50001, above the per-card daily cap of 50000 in currency 978/);
  tt.equal(decide(rules, refund({ currency: '840', amount: 20000 }), ZERO).action, 'refund', 'the 840 cap is 20000: at it');
  tt.equal(decide(rules, refund({ currency: '840', amount: 20001 }), ZERO).rule, 'limit.per-card-daily.amount', '840: one over');
  const yen = decide(rules, refund({ currency: '392' }), ZERO);
  tt.same([yen.action, yen.rule], ['review', 'limit.per-card-daily.currency'], 'no cap for 392: cannot check, so review');
  const anon = decide(rules, refund({ panHash: undefined }), ZERO);
  tt.same([anon.action, anon.rule], ['review', 'limit.per-card-daily.no-pan-hash'], 'no PAN hash: cannot check, so review');
});

t.test('a minimum-spend promotion: an undo may not leave less than the minimum', async (tt) => {
  const promo = (finalAmount: number) => decide(rules, reversal({ promotion: 'SPEND100', finalAmount }), ZERO);
  tt.equal(promo(10000).action, 'reverse', '10000 left: at the minimum');
  tt.equal(promo(10001).action, 'reverse', '10001 left: above');
  const below = promo(9999);
  tt.same([below.action, below.proposed, below.rule, below.amount, below.finalAmount], ['review', 'reverse', 'limit.promotion-minimum-spend', 10001, 9999]);
  tt.match(below.explanation, /9999 would remain, below the minimum spend of 10000 for promotion "SPEND100"/);
  tt.equal(promo(0).action, 'reverse', 'a full undo cancels the purchase and its promotion');
  tt.equal(decide(rules, reversal({ promotion: 'SPEND100' }), ZERO).action, 'reverse', 'no F95: a full undo');
  const afterRefunds = decide(rules, refund({ event: 'customer_cancel', promotion: 'SPEND100', refundedSoFar: 5000, finalAmount: 14000 }), ZERO);
  tt.equal(afterRefunds.rule, 'limit.promotion-minimum-spend', 'earlier refunds count: 20000 - 5000 - 6000 = 9000 left');
  tt.equal(decide(rules, reversal({ promotion: 'NOPE', finalAmount: 15000 }), ZERO).rule, 'limit.promotion-unknown', 'unknown id: review');
  tt.equal(decide(rules, reversal({ promotion: 'SPEND100', currency: '840', finalAmount: 15000 }), ZERO).rule, 'limit.promotion-unknown', 'other currency: review');
});

t.test('velocity: past the Nth automatic undo in the window a refund is reviewed; a reversal goes out with an alert', async (tt) => {
  const rows: [keyof DecisionState, number, string][] = [
    ['terminalUndos', 10, 'terminal'],
    ['merchantUndos', 50, 'merchant'],
    ['cardUndos', 3, 'card'],
  ];
  for (const [key, max, who] of rows) {
    tt.equal(decide(rules, reversal(), state({ [key]: max - 2 })).action, 'reverse', `${who}: ${max - 2} before, just under`);
    tt.equal(decide(rules, reversal(), state({ [key]: max - 1 })).action, 'reverse', `${who}: ${max - 1} before, this is the ${max}th`);
    tt.equal(decide(rules, reversal(), state({ [key]: max - 1 })).alert, null, `${who}: within the threshold, no alert`);
    const over = decide(rules, reversal(), state({ [key]: max }));
    tt.same([over.action, over.proposed], ['reverse', 'reverse'], `${who}: ${max} before: the reversal still goes out`);
    tt.match(over.alert, { scopes: [who], text: new RegExp(`exceeds the velocity threshold for the ${who}; `) }, `${who}: named in the alert`);
    tt.match(over.explanation, /alert only, a reversal is never held back/, `${who}: and in the explanation`);
    const refundOver = decide(rules, refund(), state({ [key]: max }));
    tt.same([refundOver.action, refundOver.proposed, refundOver.rule], ['review', 'refund', 'velocity'], `${who}: a refund past it goes to review`);
    tt.match(refundOver.explanation, new RegExp(`exceeds the velocity threshold for the ${who}; `), `${who}: named`);
  }
  const all = decide(rules, reversal({ finalAmount: 5000 }), { terminalUndos: 12, merchantUndos: 7, cardUndos: 3, cardRefundsToday: 0, cardRefundAmountToday: 0 });
  tt.equal(all.action, 'reverse', 'a partial reversal past every threshold still goes out');
  tt.equal(
    all.explanation,
    'event customer_cancel (the customer cancelled or less was dispensed) is customer_cancel: the customer cancelled, or the device dispensed less than asked; ' +
      'one more automatic undo exceeds the velocity threshold for the terminal, card; ' +
      'undos already in the last 10 min: terminal 12 (max 10), merchant 7 (max 50), card 3 (max 3): alert only, a reversal is never held back; ' +
      'reverse 15000 of 20000 (F95 final amount 5000) with reason 17',
    'every count is in the explanation',
  );
  tt.equal(rules.velocityWindowMs, 600_000, 'the window the caller counts over');
  tt.equal(decide(rules, reversal({ event: undefined, responseCode: '05' }), state({ terminalUndos: 99 })).action, 'none', 'nothing to undo: velocity is moot');
});

t.test('age windows: 24 h card-present, 72 h card-not-present', async (tt) => {
  // A long weekend keeps the business date open, so only the age window can bite.
  const fri = Date.parse('2025-03-07T23:30:00+01:00'); // business date Monday 2025-03-10
  const H = 3_600_000;
  const cp = (age: number) => decide(rules, reversal({ event: 'timeout', originalTime: fri, now: fri + age, cardPresent: true }), ZERO);
  tt.equal(cp(24 * H - 1).action, 'reverse', 'just under 24 h');
  tt.equal(cp(24 * H).action, 'reverse', 'exactly 24 h: still inside');
  tt.same([cp(24 * H + 1).action, cp(24 * H + 1).rule], ['refund', 'max-age'], '1 ms over');
  tt.equal(decide(rules, reversal({ event: 'timeout', originalTime: fri, now: fri + 24 * H + 1 }), ZERO).action, 'refund', 'card-present is the default');
  const cnp = (age: number) => decide(rules, reversal({ event: 'timeout', originalTime: fri, now: fri + age, cardPresent: false }), ZERO).action;
  tt.equal(cnp(47 * H), 'reverse', '47 h, card-not-present');
  const monEvening = Date.parse('2025-03-10T22:59:00+01:00') - fri; // still business date Monday
  tt.equal(cnp(monEvening), 'reverse', '71.5 h, card-not-present, same business date');
  const auth = decide(rules, reversal({ mti: '0100', event: 'timeout', originalTime: fri, now: fri + 25 * H }), ZERO);
  tt.same([auth.action, auth.proposed, auth.rule], ['review', 'reverse', 'max-age'], 'an old authorization: review, never refund');
});

t.test('a PAN never enters the rules engine', async (tt) => {
  const withPan = { ...reversal(), pan: '4111111111111111' } as DecisionCase;
  caseError(tt, () => decide(rules, withPan, ZERO), 'pan', 'a case never carries a PAN; pass panHash, a keyed hash of the PAN, instead');
  caseError(tt, () => decide(rules, reversal({ panHash: '4111111111111111' }), ZERO), 'panHash',
    'looks like a PAN (12 to 19 digits); pass a keyed hash of the PAN, never the PAN');
  tt.equal(decide(rules, reversal({ panHash: '41111111111' }), ZERO).action, 'reverse', '11 digits is not a PAN length');
  caseError(tt, () => parseCaseJson({ pan: '4111111111111111' }), 'pan', 'a case never carries a PAN; pass panHash, a keyed hash of the PAN, instead');
  try {
    decide(rules, reversal({ panHash: '5500000000000004' }), ZERO);
  } catch (e) {
    tt.notMatch((e as Error).message, /5500000000000004/, 'the error message does not echo the value');
  }
});

t.test('malformed amounts and counters are refused, never guessed', async (tt) => {
  const EXPECTED = 'expected integer minor units from 0 to 999999999999 (a digit string, an integer or a bigint)';
  caseError(tt, () => decide(rules, reversal({ amount: 10.5 }), ZERO), 'amount', EXPECTED);
  caseError(tt, () => decide(rules, reversal({ amount: -1 }), ZERO), 'amount', EXPECTED);
  caseError(tt, () => decide(rules, reversal({ amount: '12.50' }), ZERO), 'amount', EXPECTED);
  caseError(tt, () => decide(rules, reversal({ amount: '1000000000000' }), ZERO), 'amount', EXPECTED);
  caseError(tt, () => decide(rules, reversal({ amount: 10n ** 12n }), ZERO), 'amount', EXPECTED);
  caseError(tt, () => decide(rules, reversal({ finalAmount: '' }), ZERO), 'finalAmount', EXPECTED);
  caseError(tt, () => decide(rules, reversal(), state({ terminalUndos: -1 })), 'state.terminalUndos', 'expected a non-negative integer count');
  caseError(tt, () => decide(rules, reversal(), state({ cardUndos: 1.5 })), 'state.cardUndos', 'expected a non-negative integer count');
  caseError(tt, () => decide(rules, reversal(), state({ cardRefundAmountToday: 0.1 })), 'state.cardRefundAmountToday', EXPECTED);
  tt.equal(decide(rules, reversal({ amount: 999_999_999_999 }), ZERO).amount, 999_999_999_999, 'the largest n12 amount');
});
