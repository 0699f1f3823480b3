#!/usr/bin/env node
/**
 * The revswitch command line. Each subcommand lives in switch/cli/ and returns its
 * output, or throws a CommandError with its exit status (UsageError: 2, with the usage);
 * errors become one line on stderr.
 */
import { DialectError, IsoError } from '../../codec/index.js';
import { CommandError, UsageError } from './args.js';
import { DECODE_USAGE, ENCODE_USAGE, decodeCommand, encodeCommand } from './codec-commands.js';
import { RULES_USAGE, rulesCommand } from './rules-commands.js';
import { DEMO_USAGE, demoCommand } from './demo-command.js';
import { KEYS_USAGE, keysCommand } from './keys-command.js';
import { MAINTENANCE_USAGE, maintenanceCommand } from './maintenance-command.js';
import { MANUAL_USAGE, manualCommand } from './manual-commands.js';
import { MIGRATE_USAGE, migrateCommand } from './migrate-command.js';
import { NODES_USAGE, nodesCommand } from './nodes-command.js';
import { ROUTE_USAGE, routeCommand } from './route-command.js';
import { REPORT_USAGE, TXN_USAGE, reportCommand, txnCommand } from './report-commands.js';
import { RECONCILE_USAGE, reconcileCommand } from './reconcile-command.js';
import { REVIEW_USAGE, reviewCommand } from './review-commands.js';
import { SIM_USAGE, simCommand } from './sim-commands.js';
import { START_USAGE, startCommand } from './start-command.js';
import { CaseError, RulesError } from '../../rules/index.js';

type Command = (argv: string[]) => Promise<string>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  start: { run: startCommand, usage: START_USAGE },
  demo: { run: demoCommand, usage: DEMO_USAGE },
  decode: { run: decodeCommand, usage: DECODE_USAGE },
  encode: { run: encodeCommand, usage: ENCODE_USAGE },
  rules: { run: rulesCommand, usage: RULES_USAGE },
  sim: { run: simCommand, usage: SIM_USAGE },
  manual: { run: manualCommand, usage: MANUAL_USAGE },
  review: { run: reviewCommand, usage: REVIEW_USAGE },
  migrate: { run: migrateCommand, usage: MIGRATE_USAGE },
  nodes: { run: nodesCommand, usage: NODES_USAGE },
  report: { run: reportCommand, usage: REPORT_USAGE },
  txn: { run: txnCommand, usage: TXN_USAGE },
  route: { run: routeCommand, usage: ROUTE_USAGE },
  keys: { run: keysCommand, usage: KEYS_USAGE },
  maintenance: { run: maintenanceCommand, usage: MAINTENANCE_USAGE },
  reconcile: { run: reconcileCommand, usage: RECONCILE_USAGE },
};

function help(): string {
  return ['usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`revswitch: unknown command "${name}"\n${help()}\n`);
    return 2;
  }
  try {
    const out = await cmd.run(rest);
    process.stdout.write(out.endsWith('\n') ? out : out + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`revswitch ${name}: ${e.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    // Bad input (a message, a dialect or rules file, a case): the message names what
    // and where, one line per problem, and the exit status is 1.
    if (e instanceof IsoError || e instanceof DialectError || e instanceof RulesError || e instanceof CaseError) {
      const prefix = e instanceof CaseError ? 'case: ' : '';
      for (const line of e.message.split('\n')) process.stderr.write(`revswitch ${name}: ${prefix}${line}\n`);
      return 1;
    }
    if (e instanceof CommandError) {
      if (e.output !== undefined) process.stdout.write(e.output.endsWith('\n') ? e.output : e.output + '\n');
      process.stderr.write(`revswitch ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`revswitch: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    // Sockets or timers may still be open: an internal error ends the process.
    process.exit(70);
  },
);
