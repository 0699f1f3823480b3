/** The rules engine's public surface. Everything else in rules/ is an implementation detail. */
export {
  FAILURE_CLASSES, LOCAL_EVENTS, MAX_AMOUNT,
  type FailureClass, type LocalEvent, type Action, type ClassAction, type Amount,
  type DecisionCase, type DecisionState, type Decision, type RuleId,
} from './types.js';
export { CompiledRules, type ClassifyQuery, type Classification, type ReversalOutcome } from './compile.js';
export { decide } from './decide.js';
export { compileRules, parseRules, loadRulesFile, loadDefaultRules, defaultRulesPath } from './load.js';
export { RulesHolder, type ReloadResult } from './holder.js';
export { describeRulesChange, rulesChanges, type RulesChange } from './change.js';
export { canonicalJson } from './canonical.js';
export { RulesError, CaseError, type RulesIssue } from './errors.js';
export { parseCaseJson, type ParsedCase } from './case.js';
export { toMinor, toN12 } from './money.js';
export { BusinessCalendar, WEEKDAYS, type Weekday, type CalendarConfig } from './business-day.js';
export { CLASS_INFO } from './classes.js';
export { checkCumulative, type Breach } from './limits.js';
