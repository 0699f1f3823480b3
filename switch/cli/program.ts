/**
 * The revswitch command line as one commander program: each command module registers its
 * command (options with their defaults, examples, action); this file puts them together
 * and turns what goes wrong into an exit status and one line on stderr:
 *
 *   2  a command line the command cannot take (commander's errors and UsageError), with
 *      the command's usage;
 *   1  bad input (a message, a dialect or rules file, a case), one line per problem;
 *   n  a CommandError's own status, after the output it carries.
 *
 * Anything else is a bug, and main reports it as such.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { DialectError, IsoError } from '../../codec/index.js';
import { CaseError, RulesError } from '../../rules/index.js';
import { CommandError, UsageError } from './args.js';
import { DECODE_USAGE, ENCODE_USAGE, registerDecode, registerEncode } from './codec-commands.js';
import { DEMO_USAGE, registerDemo } from './demo-command.js';
import { EVENTS_USAGE, registerEvents } from './events-command.js';
import { KEYS_USAGE, registerKeys } from './keys-command.js';
import { commandPath, configureRoot, examples, invoke, ParseError } from './kit.js';
import { MAINTENANCE_USAGE, registerMaintenance } from './maintenance-command.js';
import { MANUAL_USAGE, registerManual } from './manual-commands.js';
import { MIGRATE_USAGE, registerMigrate } from './migrate-command.js';
import { NODES_USAGE, registerNodes } from './nodes-command.js';
import { RECONCILE_USAGE, registerReconcile } from './reconcile-command.js';
import { REPORT_USAGE, TXN_USAGE, registerReport, registerTxn } from './report-commands.js';
import { REVIEW_USAGE, registerReview } from './review-commands.js';
import { ROUTE_USAGE, registerRoute } from './route-command.js';
import { RULES_USAGE, registerRules } from './rules-commands.js';
import { SIM_USAGE, registerSim } from './sim-commands.js';
import { START_USAGE, registerStart } from './start-command.js';

/** Each command, in the order of the help, with the usage a usage error repeats. */
const COMMANDS: readonly [register: (parent: Command) => Command, usage: string][] = [
  [registerStart, START_USAGE],
  [registerDemo, DEMO_USAGE],
  [registerDecode, DECODE_USAGE],
  [registerEncode, ENCODE_USAGE],
  [registerRules, RULES_USAGE],
  [registerSim, SIM_USAGE],
  [registerManual, MANUAL_USAGE],
  [registerReview, REVIEW_USAGE],
  [registerMigrate, MIGRATE_USAGE],
  [registerNodes, NODES_USAGE],
  [registerReport, REPORT_USAGE],
  [registerTxn, TXN_USAGE],
  [registerRoute, ROUTE_USAGE],
  [registerKeys, KEYS_USAGE],
  [registerMaintenance, MAINTENANCE_USAGE],
  [registerReconcile, RECONCILE_USAGE],
  [registerEvents, EVENTS_USAGE],
];

/** package.json's version: from switch/cli/ in a checkout, or dist/switch/cli/ when built. */
export function packageVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'revswitch' && typeof pkg.version === 'string') return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const usages = new WeakMap<Command, string>();

/** The whole program; help and the version go to `out`. */
export function buildProgram(out: (text: string) => void): Command {
  const program = configureRoot(new Command('revswitch'), out)
    .description('an ISO 8583 payment switch that never loses a reversal')
    .version(packageVersion(), '-V, --version', 'print the version');
  for (const [register, usage] of COMMANDS) usages.set(register(program), usage);
  program.addHelpText('after', [
    '', 'Every command in full:', ...COMMANDS.map(([, u]) => `  ${u}`), '',
    'Run "revswitch COMMAND --help" for a command\'s options, defaults and examples.',
  ].join('\n'));
  examples(program, 'revswitch demo', 'revswitch start --config revswitch.json', 'revswitch report --since 24h --config revswitch.json');
  return program;
}

function line(text: string): string {
  return text.endsWith('\n') ? text : text + '\n';
}

/** The exit status for `e`, its message (and any output it carries) written; rethrows what is not ours. */
function failure(e: unknown, program: Command, argv: readonly string[], io: Io): number {
  const top = commandPath(program, argv)[1];
  const name = top?.name();
  if (e instanceof UsageError) {
    if (top === undefined || (e instanceof ParseError && e.path.length === 1)) {
      io.err(`revswitch: ${e.message}\nrun "revswitch --help" for the commands and their options\n`);
      return 2;
    }
    io.err(`revswitch ${name}: ${e.message}\nusage: ${usages.get(top) ?? `revswitch ${name} --help`}\n`);
    return 2;
  }
  // Bad input: the message names what and where, one line per problem.
  if (e instanceof IsoError || e instanceof DialectError || e instanceof RulesError || e instanceof CaseError) {
    const prefix = e instanceof CaseError ? 'case: ' : '';
    for (const l of e.message.split('\n')) io.err(`revswitch ${name ?? ''}: ${prefix}${l}\n`);
    return 1;
  }
  if (e instanceof CommandError) {
    // The message first: a person at a terminal reads why before the list it explains
    // (txn with several matches); a program reading stdout gets the list alone.
    io.err(`revswitch ${name ?? ''}: ${e.message}\n`);
    if (e.output !== undefined) io.out(line(e.output));
    return e.exitCode;
  }
  throw e;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io.out);
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 2;
  }
  let output: string | null;
  try {
    output = await invoke(program, argv);
  } catch (e) {
    return failure(e, program, argv, io);
  }
  if (output !== null) io.out(line(output));
  return 0;
}
