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
import { CommandError, flag, parseArgs, UsageError, type Parsed } from './args.js';

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

async function issuerCommand(argv: string[]): Promise<string> {
  const p = parseArgs(argv, {
    listen: true, dialect: true, framing: true, 'approve-rate': true, 'latency-ms': true, 'drop-rate': true,
    'late-rate': true, 'late-ms': true, 'reversal-drop-rate': true, seed: true, 'ledger-http': true, json: false,
    'settlement-dir': true, 'settlement-upstream': true, 'settlement-faults': true, rules: true,
  });
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

async function terminalsCommand(argv: string[]): Promise<string> {
  const p = parseArgs(argv, {
    target: true, tps: true, duration: true, connections: true, mode: true, dialect: true, framing: true,
    'disconnect-rate': true, 'chip-decline-rate': true, 'response-timeout-ms': true, 'reversal-timeout-ms': true,
    'magic-mix': true, amount: true, mti: true, 'acquirer-id': true, seed: true, cards: true, json: false,
  });
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

export async function simCommand(argv: string[]): Promise<string> {
  const [sub, ...rest] = argv;
  if (sub === 'issuer') return issuerCommand(rest);
  if (sub === 'terminals') return terminalsCommand(rest);
  throw new UsageError(sub === undefined ? 'expected a subcommand: issuer or terminals' : `unknown subcommand "${sub}"; expected issuer or terminals`);
}
