/**
 * `revswitch rules check [FILE]` and `revswitch rules decide [--rules FILE] [JSON | -]`:
 * operations staff see what a rules change would do before they deploy it.
 */
import {
  CaseError, decide, defaultRulesPath, loadRulesFile, parseCaseJson, type CompiledRules,
} from '../../rules/index.js';
import { flag, parseArgs, readInput, UsageError } from './args.js';

export const RULES_USAGE = 'revswitch rules check [FILE] | revswitch rules decide [--rules FILE] [JSON | -]';

function load(file: string | undefined): CompiledRules {
  return loadRulesFile(file ?? defaultRulesPath());
}

async function check(argv: string[]): Promise<string> {
  const p = parseArgs(argv, {});
  if (p.positional.length > 1) throw new UsageError(`rules check takes one FILE, got ${p.positional.length}`);
  return load(p.positional[0]).summary();
}

async function decideOne(argv: string[]): Promise<string> {
  const p = parseArgs(argv, { rules: true });
  const rules = load(flag(p, 'rules'));
  const text = await readInput(p, 'JSON');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CaseError('', `not valid JSON: ${(e as Error).message}`);
  }
  const { case: c, state } = parseCaseJson(data);
  return JSON.stringify(decide(rules, c, state), null, 2);
}

export async function rulesCommand(argv: string[]): Promise<string> {
  const [sub, ...rest] = argv;
  if (sub === 'check') return check(rest);
  if (sub === 'decide') return decideOne(rest);
  throw new UsageError(sub === undefined ? 'expected a subcommand: check or decide' : `unknown subcommand "${sub}"; expected check or decide`);
}
