/**
 * The rules loader (rules/load.ts) and the case reader of `revswitch rules decide`
 * (rules/case.ts). The first byte picks: a rules file as YAML, as JSON, or a case as JSON
 * judged by the default rules; the rest is the text.
 *
 * Property: parseRules gives compiled rules or throws a RulesError with a message; rules
 * it accepts summarise, describe their change from the default rules, and decide a set of
 * valid cases without a throw of any kind (decide() may refuse only a malformed case, and
 * these are well formed). parseCaseJson throws only CaseError; a case it accepts is
 * decided by the default rules, or refused with a CaseError.
 */
import { readFileSync } from 'node:fs';
import {
  CaseError, compileRules, decide, defaultRulesPath, parseCaseJson, parseRules, rulesChanges, RulesError,
  type CompiledRules, type DecisionCase, type DecisionState,
} from '../../../rules/index.js';
import { describeThrown, ownErrors, PropertyFailure, type FuzzTarget } from '../target.js';
import { parse } from 'yaml';

const DEFAULT_TEXT = readFileSync(defaultRulesPath(), 'utf8');
const DEFAULTS: CompiledRules = compileRules(parse(DEFAULT_TEXT) as unknown, 'default.yaml');

const T0 = Date.parse('2025-03-05T10:00:00+01:00');
const DAY = 86_400_000;
const ZERO: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
const BUSY: DecisionState = { terminalUndos: 40, merchantUndos: 400, cardUndos: 9, cardRefundsToday: 9, cardRefundAmountToday: 900000 };

/** Well-formed cases: every event, some response codes, 1987 and 1993, partial, late, after cutover, busy counters. */
export const CASES: readonly [DecisionCase, DecisionState][] = [
  [{ mti: '0200', amount: 10000, currency: '978', event: 'timeout', originalTime: T0, now: T0 + 1000 }, ZERO],
  [{ mti: '0200', amount: '000000010000', currency: '978', responseCode: '05', originalTime: T0, now: T0 + 1000 }, ZERO],
  [{ mti: '0200', amount: 10000, currency: '978', responseCode: '00', event: 'undeliverable', originalTime: T0, now: T0 + 2000, panHash: 'h1' }, BUSY],
  [{ mti: '1200', amount: 5000, currency: '840', responseCode: '911', dialect: 'iso93a', originalTime: T0, now: T0 + 500 }, ZERO],
  [{ mti: '0200', amount: 10000, currency: '978', event: 'customer_cancel', finalAmount: 3000, originalTime: T0, now: T0 + 60_000 }, ZERO],
  [{ mti: '0200', amount: 10000, currency: '978', event: 'late', originalTime: T0, now: T0 + 2 * DAY, cardPresent: false }, BUSY],
  [{ mti: '0100', amount: 999_999_999_999, currency: '156', event: 'chip_decline', dialect: 'cup', upstream: 'unionpay', originalTime: T0, now: T0 + 10 * DAY }, ZERO],
  [{ mti: '0420', originalMti: '0200', amount: 1, currency: '978', responseCode: '94', originalTime: T0, now: T0 + 1, promotion: 'p1', refundedSoFar: 0 }, ZERO],
  [{ mti: '0200', amount: 0, currency: '978', event: 'mac_failure', upstream: 'visa', originalTime: T0 + DAY, now: T0 }, ZERO],
  ...(['connection_lost', 'format_error'] as const).map((event): [DecisionCase, DecisionState] =>
    [{ mti: '0200', amount: 700, currency: '978', event, originalTime: T0, now: T0 + 5000 }, ZERO]),
];

function judged(rules: CompiledRules, what: string): void {
  for (const [c, s] of CASES) {
    try {
      decide(rules, c, s);
    } catch (e) {
      throw new PropertyFailure(`${what} cannot decide a well-formed case (${c.event ?? c.responseCode}): ${describeThrown(e)}`, { cause: e });
    }
  }
  try {
    rules.summary();
    rulesChanges(DEFAULTS, rules);
  } catch (e) {
    throw new PropertyFailure(`${what} cannot be summarised or compared: ${describeThrown(e)}`, { cause: e });
  }
}

export const target: FuzzTarget = {
  name: 'rules',
  about: 'the rules loader (YAML and JSON) and the case reader, accepted rules decide well-formed cases',
  maxLen: 32768,
  nests: true,
  dictionary: [
    'version: 1', 'classes:', 'responseCodes:', 'reversalResponses:', 'refundResponses:', 'unknown:', 'timing:', 'limits:', 'velocity:',
    'businessDay:', 'dialects:', 'upstreams:', 'promotions:', 'action: reverse', 'action: none', 'action: review', 'reason: "06"',
    'class: ', 'label: ', '"00"', '"05"', '"68"', '"911"', 'timeout', 'late', 'approved', 'duplicate', 'Europe/Berlin', 'UTC', '23:00',
    'saturday', 'sunday', '2025-01-01', '*a', '&a ', '<<: ', '!!str ', '- ', ': ', '{', '}', '[', ']', '"', "'", '#', '\n  ',
    '"mti"', '"amount"', '"currency"', '"event"', '"responseCode"', '"originalTime"', '"now"', '"velocity"', '"cardRefundsToday"',
    '"pan"', '"panHash"', '"2025-03-05T10:00:00+01:00"', '"0200"', '"978"', '999999999999', '1e400', '-0',
  ],
  run(input: Buffer): void {
    const sel = (input[0] ?? 0) % 3;
    const text = input.toString('utf8', 1);
    if (sel < 2) {
      const r = ownErrors([RulesError], () => parseRules(text, sel === 0 ? 'fuzz.yaml' : 'fuzz.json'));
      if (r.ok) judged(r.value, 'accepted rules');
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return; // not JSON: the CLI's JSON.parse refuses it before the case reader sees it
    }
    const c = ownErrors([CaseError], () => parseCaseJson(data));
    if (c.ok) ownErrors([CaseError], () => decide(DEFAULTS, c.value.case, c.value.state));
  },
};
