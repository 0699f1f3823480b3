/**
 * decide(rules, ) throughput with rules/default.yaml: it runs on every failed posting, so
 * it must never be the bottleneck (issue target: >= 2,000,000 decisions/s).
 *
 * One case per path through decide(), plus a mix that rotates over all of them, which
 * carries the target. Each fixture is decided once before timing and must give its
 * expected action and rule (recorded as checks), so a case measures the path it names.
 *
 * Times are 30 s apart, as after a real upstream timeout: the business-date cache (keyed
 * by UTC minute) then hits, as it does in production. The "cold-calendar" case defeats
 * the cache on every call, so it pays for Intl.DateTimeFormat twice; it shows the price
 * of a miss and carries no target.
 */
import { decide, loadDefaultRules, type CompiledRules, type Decision, type DecisionCase, type DecisionState } from '../../rules/index.js';
import { check, type CaseResult, type Check, type Suite, type SuiteContext, type SuiteOutput, type TargetSpec } from '../lib/suite.js';
import { measureGroup, type BenchCase } from '../lib/timing.js';

const TARGET_OPS = 2_000_000;
const MIX_ID = 'decide/mix';

const T0 = Date.parse('2025-03-05T10:00:00+01:00'); // a Wednesday, a working day
const SOON = T0 + 30_000;
const NEXT_DAY = Date.parse('2025-03-06T10:00:00+01:00');
const QUIET: DecisionState = { terminalUndos: 2, merchantUndos: 5, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
const BUSY: DecisionState = { ...QUIET, terminalUndos: 10 };

interface Fixture {
  path: string;
  what: string;
  c: DecisionCase;
  s: DecisionState;
  action: Decision['action'];
  rule: Decision['rule'];
}

const sale = (extra: Partial<DecisionCase>): DecisionCase =>
  ({ mti: '0200', amount: '000000012550', currency: '978', originalTime: T0, now: SOON, panHash: 'h:5f1c', ...extra });

const FIXTURES: readonly Fixture[] = [
  { path: 'reverse', what: 'timeout: full reversal', c: sale({ event: 'timeout' }), s: QUIET, action: 'reverse', rule: 'automatic-undo' },
  { path: 'none', what: 'response 05: nothing held', c: sale({ responseCode: '05' }), s: QUIET, action: 'none', rule: 'class-policy' },
  { path: 'duplicate', what: 'response 94: never reversed', c: sale({ responseCode: '94' }), s: QUIET, action: 'none', rule: 'never-reverse-duplicate' },
  { path: 'fraud', what: 'response 59: review', c: sale({ responseCode: '59' }), s: QUIET, action: 'review', rule: 'class-policy' },
  {
    path: 'terminal-cup', what: 'UnionPay 0400, reason 98',
    c: sale({ mti: '0400', originalMti: '0200', responseCode: '98', dialect: 'cup' }), s: QUIET, action: 'reverse', rule: 'automatic-undo',
  },
  {
    path: 'partial', what: 'cancel, F95 partial reversal',
    c: sale({ event: 'customer_cancel', finalAmount: '000000002550' }), s: QUIET, action: 'reverse', rule: 'automatic-undo',
  },
  { path: 'refund', what: 'next business day: refund', c: sale({ event: 'timeout', now: NEXT_DAY }), s: QUIET, action: 'refund', rule: 'business-day.settled' },
  // Velocity guards refunds, which credit money; on a mandatory reversal it only alerts.
  { path: 'velocity', what: '11th undo on a terminal, a refund: review', c: sale({ event: 'timeout', now: NEXT_DAY }), s: BUSY, action: 'review', rule: 'velocity' },
  { path: 'velocity-reversal', what: '11th undo on a terminal, a reversal: still sent', c: sale({ event: 'timeout' }), s: BUSY, action: 'reverse', rule: 'automatic-undo' },
];

interface PlannedCase extends BenchCase {
  name: string;
  variant: string;
}

function plan(rules: CompiledRules, checks: Check[]): PlannedCase[] {
  for (const f of FIXTURES) {
    const d = decide(rules, f.c, f.s);
    check(checks, `${f.path} decides as expected`, d.action === f.action && d.rule === f.rule,
      `expected ${f.action} by ${f.rule}, got ${d.action} by ${d.rule}`);
    check(checks, `${f.path} is deterministic`, JSON.stringify(decide(rules, f.c, f.s)) === JSON.stringify(d), 'a second call decided differently');
  }
  const cases: PlannedCase[] = FIXTURES.map((f) => ({
    id: `decide/${f.path}`, name: `decide: ${f.what}`, variant: f.path, fn: () => decide(rules, f.c, f.s),
  }));

  let i = 0;
  cases.push({
    id: MIX_ID, name: 'decide: every path above in turn', variant: 'mix',
    fn: () => {
      const f = FIXTURES[i];
      i = i === FIXTURES.length - 1 ? 0 : i + 1;
      return decide(rules, f.c, f.s);
    },
  });

  // 1024 minutes apart, every call lands on the same cache slot with a new key, so both
  // the original's and now's business dates miss: the worst case, two Intl calls.
  const cold = { ...FIXTURES[0].c };
  const STEP = 1024 * 60_000;
  let t = T0;
  cases.push({
    id: 'decide/cold-calendar', name: 'decide: timeout, business-date cache misses', variant: 'cold-calendar',
    fn: () => {
      t = t > T0 + 10_000 * STEP ? T0 : t + STEP;
      return decide(rules, { ...cold, originalTime: t, now: t + 30_000 }, QUIET);
    },
  });
  return cases;
}

function run(ctx: SuiteContext): SuiteOutput {
  const checks: Check[] = [];
  const rules = loadDefaultRules();
  const planned = plan(rules, checks);
  ctx.log(`rules: ${checks.length} checks passed; measuring ${planned.length} cases ` +
    `(~${Math.ceil((planned.length * (ctx.timing.warmupMs + ctx.timing.samples * ctx.timing.sampleMs)) / 1000)} s)`);
  const measured = measureGroup(planned, ctx.timing);
  const cases: CaseResult[] = planned.map((p, i) => {
    const { id: _id, ...m } = measured[i];
    return { id: p.id, name: p.name, variant: p.variant, impl: 'revswitch', ...m };
  });
  const targets: TargetSpec[] = [
    { id: 'rules.decide.ops', description: 'decide(), mix of every path', caseId: MIX_ID, metric: 'opsPerSec', min: TARGET_OPS, unit: 'decisions/s' },
  ];
  return {
    cases,
    targets,
    checks,
    notes: [
      `rules: ${rules.source}`,
      'one core; the issue\'s target is for the switch on 2 cores, so one core meeting it leaves the second free',
      'cold-calendar misses the business-date cache twice per decision (two Intl.DateTimeFormat calls); it has no target',
    ],
  };
}

export const rulesSuite: Suite = {
  name: 'rules',
  description: 'decide(rules, ) per decision path, default rules file',
  variantLabel: 'path',
  run,
};
