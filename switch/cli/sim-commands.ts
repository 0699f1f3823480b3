/**
 * `revswitch sim issuer` and `revswitch sim terminals`: the simulators from the shell.
 * The issuer runs until SIGINT or SIGTERM and then prints its ledger (and, with
 * --settlement-dir, writes its settlement files and lists them on stderr); the terminals
 * run for their duration (SIGINT stops sending early) and print their summary.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { FRAMINGS, type FramingName } from '../../codec/index.js';
import { loadRulesFile } from '../../rules/index.js';
import { resolveDialect } from '../config/dialect-file.js';
import { formatLedger, formatTerminalSummary } from '../sim/format.js';
import { startIssuer, type IssuerOptions, type IssuerSim } from '../sim/issuer.js';
import { MAGIC_AMOUNTS } from '../sim/magic.js';
import { FAULT_KINDS, type FaultKind, type SettlementFaults } from '../sim/settlement.js';
import { SettlementWriteError } from '../sim/settlement-writer.js';
import { runTerminals, type TerminalMode, type TerminalOptions } from '../sim/terminals.js';
import { HostPortError, parseHostPort, type HostPort } from '../config/host-port.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';

export const SIM_USAGE =
  'revswitch sim issuer --listen HOST:PORT [--dialect NAME|FILE.json] [--framing NAME] [--approve-rate R]\n' +
  '                [--latency-ms A[-B]] [--drop-rate R] [--late-rate R] [--late-ms N] [--reversal-drop-rate R]\n' +
  '                [--seed N] [--ledger-http HOST:PORT] [--json]\n' +
  '                [--settlement-dir DIR [--settlement-upstream NAME] [--rules FILE]\n' +
  '                 [--settlement-faults drop=N,duplicate=N,amount=N,settle-reversed=N,unknown=N]]\n' +
  '  revswitch sim terminals --target HOST:PORT --tps N --duration S [--connections C] [--mode per-sale|persistent]\n' +
  '                [--dialect NAME|FILE.json] [--framing NAME] [--disconnect-rate R] [--chip-decline-rate R]\n' +
  '                [--response-timeout-ms N] [--reversal-timeout-ms N] [--magic-mix ENDING=R,...] [--amount MIN-MAX]\n' +
  '                [--mti 0100|0200] [--acquirer-id N] [--seed N] [--cards N] [--json]';

/** An address flag (config/host-port.ts), HOST:PORT or :PORT; port 0 only where `zeroOk`. */
function addressFlag(v: string, what: string, zeroOk: boolean): HostPort {
  try {
    return parseHostPort(v, { allowZero: zeroOk, allowBarePort: false });
  } catch (e) {
    if (e instanceof HostPortError) throw new UsageError(`${what}: ${e.message}`);
    throw e;
  }
}

function num(p: Parsed, name: string, check: (n: number) => boolean, expected: string): number | undefined {
  const v = flag(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name}: expected ${expected}, got ${JSON.stringify(v)}`);
  return n;
}

const rateFlag = (p: Parsed, name: string): number | undefined => num(p, name, (n) => n >= 0 && n <= 1, 'a rate from 0 to 1');
const msFlag = (p: Parsed, name: string): number | undefined => num(p, name, (n) => Number.isInteger(n) && n >= 0, 'whole milliseconds');

function required(p: Parsed, name: string): string {
  const v = flag(p, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function framingFlag(p: Parsed): FramingName | undefined {
  const v = flag(p, 'framing');
  if (v === undefined) return undefined;
  if (v === 'none' || !(FRAMINGS as readonly string[]).includes(v)) {
    throw new UsageError(`--framing: expected one of ${FRAMINGS.filter((f) => f !== 'none').join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as FramingName;
}

function noPositional(p: Parsed): void {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
}

/** Library validation errors (RangeError) are usage errors here. */
async function asUsage<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/** Resolves on the first SIGINT or SIGTERM, and stops listening for them. */
function nextSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => (): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

async function issuerCommand(p: Parsed): Promise<string> {
  noPositional(p);
  const listen = addressFlag(required(p, 'listen'), '--listen', true);
  const opts: IssuerOptions = {
    host: listen.host, port: listen.port,
    dialect: resolveDialect(flag(p, 'dialect')),
    framing: framingFlag(p),
    approveRate: rateFlag(p, 'approve-rate'),
    dropRate: rateFlag(p, 'drop-rate'),
    lateRate: rateFlag(p, 'late-rate'),
    lateMs: msFlag(p, 'late-ms'),
    reversalDropRate: rateFlag(p, 'reversal-drop-rate'),
    seed: num(p, 'seed', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295'),
    log: (line) => process.stderr.write(`revswitch sim ${line}\n`),
  };
  const lat = flag(p, 'latency-ms');
  if (lat !== undefined) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(lat);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new UsageError(`--latency-ms: expected N or MIN-MAX milliseconds, got ${JSON.stringify(lat)}`);
    opts.latencyMs = m[2] === undefined ? Number(m[1]) : { min: Number(m[1]), max: Number(m[2]) };
  }
  const http = flag(p, 'ledger-http');
  if (http !== undefined) opts.ledgerHttp = addressFlag(http, '--ledger-http', true);
  settlementFlags(p, opts);

  let issuer: IssuerSim;
  try {
    issuer = await asUsage(() => startIssuer(opts));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new UsageError(`cannot listen: ${(e as Error).message}`);
    throw e;
  }
  const stop = nextSignal();
  const hostText = issuer.host.includes(':') ? `[${issuer.host}]` : issuer.host;
  process.stderr.write(`revswitch sim issuer: listening on ${hostText}:${issuer.port} (dialect ${issuer.dialect.name}, framing ${issuer.framing.name}, seed ${issuer.seed})\n`);
  if (issuer.ledgerUrl) process.stderr.write(`revswitch sim issuer: ledger at ${issuer.ledgerUrl}\n`);
  const sig = await stop;
  process.stderr.write(`revswitch sim issuer: ${sig}, stopping\n`);
  let failed: SettlementWriteError | null = null;
  try {
    await issuer.close();
  } catch (e) {
    if (!(e instanceof SettlementWriteError)) throw e;
    failed = e;
  }
  for (const path of issuer.settlementFiles()) process.stderr.write(`revswitch sim issuer: settlement file ${path}\n`);
  const ledger = issuer.ledger();
  const out = p.flags.has('json') ? JSON.stringify(ledger, null, 2) : formatLedger(ledger);
  if (failed) throw new CommandError(failed.message, 1, out);
  return out;
}

/** --settlement-dir and the flags that only make sense with it. */
function settlementFlags(p: Parsed, opts: IssuerOptions): void {
  const dir = flag(p, 'settlement-dir');
  if (dir === undefined) {
    for (const f of ['settlement-upstream', 'settlement-faults', 'rules']) {
      if (flag(p, f) !== undefined) throw new UsageError(`--${f} needs --settlement-dir`);
    }
    return;
  }
  // Found out now rather than at exit, when the files are due.
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`--settlement-dir: cannot write to ${JSON.stringify(dir)}: ${(e as Error).message}`);
  }
  opts.settlementDir = dir;
  opts.settlementUpstream = flag(p, 'settlement-upstream');
  const spec = flag(p, 'settlement-faults');
  if (spec !== undefined) opts.settlementFaults = settlementFaults(spec);
  const rules = flag(p, 'rules');
  if (rules !== undefined) opts.calendar = loadRulesFile(rules).calendar;
}

/** "drop=2,duplicate=1,settle-reversed=1": a count per fault kind, each kind once. */
function settlementFaults(spec: string): SettlementFaults {
  const names = FAULT_KINDS.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  const out: SettlementFaults = {};
  for (const part of spec.split(',')) {
    const m = /^([a-z-]+)=(\d{1,6})$/.exec(part.trim());
    const kind: FaultKind | undefined = m ? FAULT_KINDS[names.indexOf(m[1])] : undefined;
    if (!m || kind === undefined || out[kind] !== undefined) {
      const why = m && kind !== undefined ? 'given twice' : 'expected KIND=COUNT';
      throw new UsageError(`--settlement-faults: ${why}, got ${JSON.stringify(part)} (kinds: ${names.join(', ')})`);
    }
    out[kind] = Number(m[2]);
  }
  return out;
}

function magicMix(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  const endings = MAGIC_AMOUNTS.map((m) => m.ending);
  for (const part of v.split(',')) {
    const m = /^(\d\d)=([0-9.]+)$/.exec(part.trim());
    const share = m ? Number(m[2]) : NaN;
    if (!m || !endings.includes(m[1]) || !(share >= 0 && share <= 1)) {
      throw new UsageError(`--magic-mix: expected ENDING=RATE,... with endings ${endings.join(', ')}, got ${JSON.stringify(part)}`);
    }
    out[m[1]] = share;
  }
  return out;
}

async function terminalsCommand(p: Parsed): Promise<string> {
  noPositional(p);
  const target = addressFlag(required(p, 'target'), '--target', false);
  required(p, 'tps');
  required(p, 'duration');
  const mode = flag(p, 'mode');
  if (mode !== undefined && mode !== 'per-sale' && mode !== 'persistent') throw new UsageError(`--mode: expected per-sale or persistent, got ${JSON.stringify(mode)}`);
  const mti = flag(p, 'mti');
  if (mti !== undefined && mti !== '0100' && mti !== '0200') throw new UsageError(`--mti: expected 0100 or 0200, got ${JSON.stringify(mti)}`);
  const acquirer = flag(p, 'acquirer-id');
  if (acquirer !== undefined && !/^\d{1,11}$/.test(acquirer)) throw new UsageError(`--acquirer-id: expected 1 to 11 digits, got ${JSON.stringify(acquirer)}`);
  const opts: TerminalOptions = {
    host: target.host, port: target.port,
    tps: num(p, 'tps', (n) => n > 0, 'a positive number') as number,
    durationS: num(p, 'duration', (n) => n > 0, 'a positive number of seconds') as number,
    connections: num(p, 'connections', (n) => Number.isInteger(n) && n >= 1 && n <= 999, 'an integer from 1 to 999'),
    mode: mode as TerminalMode | undefined,
    dialect: resolveDialect(flag(p, 'dialect')),
    framing: framingFlag(p),
    disconnectRate: rateFlag(p, 'disconnect-rate'),
    chipDeclineRate: rateFlag(p, 'chip-decline-rate'),
    responseTimeoutMs: num(p, 'response-timeout-ms', (n) => Number.isInteger(n) && n > 0, 'positive whole milliseconds'),
    reversalTimeoutMs: num(p, 'reversal-timeout-ms', (n) => Number.isInteger(n) && n > 0, 'positive whole milliseconds'),
    mti: mti as '0100' | '0200' | undefined,
    acquirerId: acquirer,
    seed: num(p, 'seed', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295'),
    cards: num(p, 'cards', (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'an integer from 1 to 1000'),
  };
  const mix = flag(p, 'magic-mix');
  if (mix !== undefined) opts.magicMix = magicMix(mix);
  const amount = flag(p, 'amount');
  if (amount !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(amount);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < Number(m[1])) throw new UsageError(`--amount: expected MIN-MAX whole units, got ${JSON.stringify(amount)}`);
    opts.amountUnits = { min: Number(m[1]), max: Number(m[2]) };
  }
  const abort = new AbortController();
  opts.signal = abort.signal;
  const onSig = (): void => abort.abort();
  process.once('SIGINT', onSig);
  try {
    const summary = await asUsage(() => runTerminals(opts));
    return p.flags.has('json') ? JSON.stringify(summary, null, 2) : formatTerminalSummary(summary);
  } finally {
    process.off('SIGINT', onSig);
  }
}

const FRAMING_HELP = `the length prefix: ${FRAMINGS.filter((f) => f !== 'none').join(', ')} (default: len2)`;
const DIALECT_HELP = 'a dialect name or a dialect file (default: iso87a)';
const SEED_HELP = 'the random seed, to replay a run (default: from the clock)';

export function registerSim(parent: Command): Command {
  const sim = parent.command('sim').description('the simulators: an issuer host, and POS terminals or an acquirer host');
  examples(sim, 'revswitch sim issuer --listen 127.0.0.1:9583', 'revswitch sim terminals --target 127.0.0.1:8583 --tps 50 --duration 30');

  const issuer = sim.command('issuer');
  issuer
    .description('an issuer host with a ledger of holds, until SIGINT or SIGTERM; then its ledger (and settlement files)')
    .option('--listen <host:port>', 'where to listen; port 0 picks one (required)')
    .option('--dialect <name|file.json>', DIALECT_HELP)
    .option('--framing <name>', FRAMING_HELP)
    .option('--approve-rate <r>', 'the share of sales approved, 0 to 1 (default: 0.9)')
    .option('--latency-ms <a[-b]>', 'the answer delay, fixed or a range (default: 0)')
    .option('--drop-rate <r>', 'the share of requests never answered (default: 0)')
    .option('--late-rate <r>', 'the share answered after --late-ms (default: 0)')
    .option('--late-ms <n>', 'the delay of a late answer (default: 10000)')
    .option('--reversal-drop-rate <r>', 'the share of reversals never answered (default: 0)')
    .option('--seed <n>', SEED_HELP)
    .option('--ledger-http <host:port>', 'serve the ledger as JSON over HTTP here')
    .option('--settlement-dir <dir>', 'write a settlement file per business date here at exit')
    .option('--settlement-upstream <name>', 'the upstream name in the settlement files (with --settlement-dir)')
    .option('--settlement-faults <spec>', 'faults to plant in the files: drop=N,duplicate=N,amount=N,settle-reversed=N,unknown=N (with --settlement-dir)')
    .option('--rules <file>', 'the rules whose business calendar dates the files (with --settlement-dir)');
  jsonOption(issuer, 'the ledger as JSON');
  examples(issuer, 'revswitch sim issuer --listen 127.0.0.1:9583 --approve-rate 0.95 --latency-ms 5-50',
    'revswitch sim issuer --listen :0 --settlement-dir ./settlement --settlement-faults drop=1,amount=1');
  runs(issuer, issuerCommand);

  const terminals = sim.command('terminals');
  terminals
    .description('POS terminals (a connection per sale) or an acquirer host (persistent connections) sending sales; then a summary')
    .option('--target <host:port>', 'the switch (required)')
    .option('--tps <n>', 'sales per second (required)')
    .option('--duration <s>', 'seconds of traffic (required; SIGINT stops early)')
    .option('--connections <c>', 'connections, 1 to 999 (default: 8)')
    .option('--mode <mode>', 'per-sale or persistent (default: persistent)')
    .option('--dialect <name|file.json>', DIALECT_HELP)
    .option('--framing <name>', FRAMING_HELP)
    .option('--disconnect-rate <r>', 'the share of sales whose terminal hangs up before the answer (default: 0)')
    .option('--chip-decline-rate <r>', 'the share of approvals the chip declines, reversed by the terminal (default: 0)')
    .option('--response-timeout-ms <n>', 'how long a terminal waits for an answer (default: 30000)')
    .option('--reversal-timeout-ms <n>', 'how long a terminal waits for a reversal\'s answer (default: 10000)')
    .option('--magic-mix <ending=r,...>', 'shares of magic amounts by ending, e.g. 99=0.01,68=0.01 (the issuer simulator acts on them)')
    .option('--amount <min-max>', 'the sale amount range, in whole units (default: 1-500)')
    .option('--mti <mti>', '0100 or 0200 (default: 0200)')
    .option('--acquirer-id <n>', 'field 32, 1 to 11 digits')
    .option('--seed <n>', SEED_HELP)
    .option('--cards <n>', 'distinct cards, 1 to 1000 (default: 1000)');
  jsonOption(terminals, 'the summary as JSON');
  examples(terminals, 'revswitch sim terminals --target 127.0.0.1:8583 --tps 50 --duration 30',
    'revswitch sim terminals --target 127.0.0.1:8583 --tps 200 --duration 60 --mode persistent --connections 4 --json');
  runs(terminals, terminalsCommand);
  return sim;
}
