/**
 * `revswitch rules check [FILE]` and `revswitch rules decide [--rules FILE] [JSON | -]`:
 * operations staff see what a rules change would do before they deploy it.
 */
import {
  CaseError, decide, defaultRulesPath, loadRulesFile, parseCaseJson, type CompiledRules,
} from '../../rules/index.js';
import type { Command } from 'commander';
import { CommandError, readInput, UsageError } from './args.js';
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

/** The running switch's answer (GET /api/rules/decide): its rules in force, not a file's. */
async function decideAt(admin: string, text: string): Promise<string> {
  let url: URL;
  try {
    url = new URL('/api/rules/decide', admin);
  } catch {
    throw new UsageError(`--admin: expected the admin server's URL, like http://127.0.0.1:9464; got ${JSON.stringify(admin)}`);
  }
  url.searchParams.set('case', text);
  const token = process.env.REVSWITCH_ADMIN_TOKEN;
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (e) {
    throw new CommandError(`--admin ${admin}: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new CommandError(`--admin ${admin}: ${res.status}: ${body.error ?? res.statusText}`);
  return JSON.stringify(body, null, 2);
}

async function decideOne(p: Parsed): Promise<string> {
  const admin = flag(p, 'admin');
  if (admin !== undefined && flag(p, 'rules') !== undefined) throw new UsageError('--admin asks the running switch\'s rules; --rules names a file: one or the other');
  const text = await readInput(p.positional, 'JSON');
  if (admin !== undefined) return decideAt(admin, text);
  const rules = load(flag(p, 'rules'));
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
    .option('--rules <file>', 'the rules file (default: rules/default.yaml)')
    .option('--admin <url>', 'ask the running switch instead (its rules in force, with their hash); REVSWITCH_ADMIN_TOKEN is sent when set');
  jsonOption(decide_, 'the decision as JSON (it always is)');
  examples(decide_,
    `revswitch rules decide '{"mti":"0200","amount":"000000010000","currency":"978","event":"timeout",` +
    `"originalTime":"2025-03-07T14:00:00+01:00","now":"2025-03-07T14:00:30+01:00"}'`,
    'revswitch rules decide --rules my-rules.yaml < case.json',
    'revswitch rules decide --admin http://127.0.0.1:9464 < case.json');
  runs(decide_, decideOne);
  return rules;
}
