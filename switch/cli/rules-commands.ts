/**
 * `revswitch rules check [FILE]` and `revswitch rules decide [--rules FILE] [JSON | -]`:
 * operations staff see what a rules change would do before they deploy it.
 */
import {
  CaseError, decide, defaultRulesPath, loadRulesFile, parseCaseJson, type CompiledRules,
} from '../../rules/index.js';
import type { Command } from 'commander';
import { readInput, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';

export const RULES_USAGE = 'revswitch rules check [FILE] | revswitch rules decide [--rules FILE] [JSON | -]';

function load(file: string | undefined): CompiledRules {
  return loadRulesFile(file ?? defaultRulesPath());
}

async function check(p: Parsed): Promise<string> {
  if (p.positional.length > 1) throw new UsageError(`rules check takes one FILE, got ${p.positional.length}`);
  const file = p.positional[0] ?? defaultRulesPath();
  const rules = load(file);
  const summary = rules.summary();
  // The hash is what /api/rules reports for the rules in force: the two compare directly.
  return p.flags.has('json') ? JSON.stringify({ file, valid: true, hash: rules.hash, version: rules.version, summary: summary.split('\n') }, null, 2) : summary;
}

async function decideOne(p: Parsed): Promise<string> {
  const rules = load(flag(p, 'rules'));
  const text = await readInput(p.positional, 'JSON');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CaseError('', `not valid JSON: ${(e as Error).message}`);
  }
  const { case: c, state } = parseCaseJson(data);
  return JSON.stringify(decide(rules, c, state), null, 2);
}

export function registerRules(parent: Command): Command {
  const rules = parent.command('rules').description('check a rules file, or see what the rules decide for a case, before deploying them');
  examples(rules, 'revswitch rules check rules/default.yaml', 'revswitch rules decide --rules my-rules.yaml < case.json');
  const check_ = rules.command('check')
    .description('validate a rules file and summarise what it does (exit 1 naming each problem)')
    .argument('[file]', 'the rules file (default: rules/default.yaml)');
  jsonOption(check_, 'the summary as JSON');
  examples(check_, 'revswitch rules check', 'revswitch rules check my-rules.yaml');
  runs(check_, check);
  const decide_ = rules.command('decide')
    .description('what the rules decide for one case: the failure class, the undo and why')
    .argument('[json]', 'the case as JSON; - or absent: read stdin')
    .option('--rules <file>', 'the rules file (default: rules/default.yaml)');
  jsonOption(decide_, 'the decision as JSON (it always is)');
  examples(decide_,
    `revswitch rules decide '{"mti":"0200","amount":"000000010000","currency":"978","event":"timeout",` +
    `"originalTime":"2025-03-07T14:00:00+01:00","now":"2025-03-07T14:00:30+01:00"}'`,
    'revswitch rules decide --rules my-rules.yaml < case.json');
  runs(decide_, decideOne);
  return rules;
}
