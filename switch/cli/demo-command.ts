/**
 * `revswitch demo`: the switch, the issuer simulator and the terminal generator in one
 * process, with faults on (lost approvals, late approvals, drops, disconnects, chip
 * declines). It ends with the money check: every hold left at the issuer must belong to
 * a sale whose approval a terminal kept, and no sale may be reversed twice. Then one sale
 * is refunded after a cutover (./demo-refund-scene.ts). Exit 1 when either fails, so the
 * demo doubles as a smoke test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultConfig, UPSTREAM_DEFAULTS } from '../config/index.js';
import { createLogger, type Level } from '../observe/log.js';
import { formatLedger, formatMoneyCheck, formatTerminalSummary } from '../sim/format.js';
import { checkMoneyInvariant } from '../sim/invariant.js';
import { startIssuer } from '../sim/issuer.js';
import { runTerminals, type TerminalSummary } from '../sim/terminals.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, flag, jsonOption, runs, type Parsed } from './kit.js';
import { runRefundScene, type RefundSceneResult } from './demo-refund-scene.js';
import { startSwitch, type Running } from './start-command.js';

export const DEMO_USAGE = 'revswitch demo [--duration S] [--tps N] [--connections C] [--seed N] [--store URL] [--log-level LEVEL] [--json]';

/** The switch's upstream deadline in the demo: short, so the late answers arrive within the run. */
const DEMO_TIMEOUT_MS = 1500;
const LATE_MS = 2500;

function int(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

export function registerDemo(parent: Command): Command {
  const cmd = parent.command('demo')
    .description('the switch, an issuer simulator and terminals in one process, with faults on; ends with the money check (exit 1 if it fails)')
    .option('--duration <s>', 'seconds of traffic, 1 to 3600', '15')
    .option('--tps <n>', 'sales per second', '200')
    .option('--connections <c>', 'POS terminal connections, 1 to 999', '64')
    .option('--seed <n>', 'the simulators\' random seed, to replay a run (default: from the clock)')
    .option('--store <url>', 'the store (default: SQLite in a scratch directory, removed after)')
    .option('--log-level <level>', 'debug, info, warn, error or silent', 'warn');
  jsonOption(cmd, 'the results as JSON');
  examples(cmd, 'revswitch demo', 'revswitch demo --duration 60 --tps 500 --seed 42', 'revswitch demo --json > demo.json');
  return runs(cmd, demo);
}

async function demo(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const durationS = int(flag(p, 'duration'), 'duration', 1, 3600, 15);
  const tps = int(flag(p, 'tps'), 'tps', 1, 100_000, 200);
  const connections = int(flag(p, 'connections'), 'connections', 1, 999, 64);
  const seed = int(flag(p, 'seed'), 'seed', 0, 0xffffffff, (Date.now() % 1_000_000) >>> 0);
  const level = flag(p, 'log-level') ?? 'warn';
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new UsageError(`--log-level: expected debug, info, warn, error or silent, got ${JSON.stringify(level)}`);
  const log = createLogger(level as Level);
  const err = (line: string): void => { process.stderr.write(`revswitch demo: ${line}\n`); };

  const issuer = await startIssuer({
    seed, approveRate: 0.92, latencyMs: { min: 1, max: 20 }, dropRate: 0.005, lateRate: 0.005, lateMs: LATE_MS,
    reversalDropRate: 0.02,
  });
  const cfg = defaultConfig();
  // The real default store (SQLite, WAL, group commit), in a scratch directory unless --store names one.
  const scratch = flag(p, 'store') === undefined ? mkdtempSync(join(tmpdir(), 'revswitch-demo-')) : null;
  cfg.store = flag(p, 'store') ?? `sqlite:${join(scratch as string, 'demo.db')}`;
  cfg.panHashKey = randomBytes(32).toString('hex');
  cfg.listeners[0].port = 0;
  cfg.upstreamTimeoutMs = DEMO_TIMEOUT_MS;
  cfg.reversal.responseTimeoutMs = 1000;
  cfg.reversal.backoffMs = [200, 500, 1000];
  cfg.upstreams.push({ name: 'demo-issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, dialect: 'iso87a', timeoutMs: DEMO_TIMEOUT_MS });
  let running: Running;
  try {
    running = await startSwitch(cfg, log);
  } catch (e) {
    await issuer.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
  const port = running.sw.ports()[0];
  if (!(await running.sw.waitUntilUp(5000))) err('the issuer link is not up yet; early sales will be answered 91');
  err(`switch on 127.0.0.1:${port}, issuer simulator on 127.0.0.1:${issuer.port} (seed ${seed})`);
  err(`${tps} sales/s from ${connections} POS terminals and an acquirer host for ${durationS} s, with lost and late approvals, drops, disconnects and chip declines`);

  // Two kinds of client at once: POS terminals with a connection per sale (these hang up
  // early now and then), and an acquirer host with a few persistent connections and many
  // sales in flight on each. A host that hangs up with sales in flight would have to
  // reverse them itself when it reconnects; the simulated host does not, so it does not
  // hang up. Past the default velocity thresholds a reversal still goes out, with an alert
  // (velocity_alerts in the counters below).
  let pos: TerminalSummary;
  let host: TerminalSummary;
  const abort = new AbortController();
  const onSig = (): void => abort.abort();
  process.once('SIGINT', onSig);
  const common = {
    port, durationS, signal: abort.signal, responseTimeoutMs: 5000, reversalTimeoutMs: 3000, chipDeclineRate: 0.01,
    magicMix: { '99': 0.01, '68': 0.01, '91': 0.005, '51': 0.01, '96': 0.005 },
  };
  try {
    [pos, host] = await Promise.all([
      runTerminals({ ...common, mode: 'per-sale', tps: tps * 0.6, connections, seed, disconnectRate: 0.02, terminalIdPrefix: 'POS', rrnPrefix: '61' }),
      runTerminals({ ...common, mode: 'persistent', tps: tps * 0.4, connections: 32, seed: seed + 1, acquirerId: '4711', terminalIdPrefix: 'ACQ', rrnPrefix: '62' }),
    ]);
  } finally {
    process.off('SIGINT', onSig);
  }
  // Late answers and the last reversals (with their repeats) settle before the check.
  err('sales done; letting late answers and reversals settle');
  await settle(() => running.sw.reversals.outstanding === 0, LATE_MS + 500, 30_000);
  err('refund scene: a sale approved, the business day closed, then the terminal cancels');
  const scene = await runRefundScene(running.sw, running.store, issuer, port);
  const journal = await running.store.reversals();
  const byState: Record<string, number> = {};
  for (const r of journal) {
    const key = `${r.kind ?? 'reversal'} ${r.state}`;
    byState[key] = (byState[key] ?? 0) + 1;
  }
  await running.stop();
  const ledger = issuer.ledger();
  await issuer.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  const money = checkMoneyInvariant(ledger, [...pos.approvedRrns, ...host.approvedRrns]);
  const counters = running.sw.counters.snapshot();
  const ok = money.ok && scene.ok;
  const failure = !money.ok ? 'the money invariant does not hold' : `the refund scene failed: ${scene.problem ?? ''}`;

  if (p.flags.has('json')) {
    const out = JSON.stringify({
      seed, terminals: { pos: brief(pos), host: brief(host) }, switch: counters, undos: byState, ledger: ledger.summary,
      money: { ok: money.ok, strayHolds: money.strayHolds.length, reversedTwice: money.reversedTwice.length, missingHolds: money.missingHolds.length, balance: money.balance },
      refundScene: scene,
    }, null, 2);
    if (!ok) throw new CommandError(failure, 1, out);
    return out;
  }
  const text = [
    '== POS terminals (a connection per sale)', formatTerminalSummary(pos), '',
    '== acquirer host (persistent connections, F32 4711)', formatTerminalSummary(host), '',
    '== switch counters', ...Object.entries(counters).map(([k, v]) => `  ${k.padEnd(36)} ${v}`), '',
    `== reversals and refunds in the store (${cfg.store}): ${Object.entries(byState).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`, '',
    '== refund after cutover', formatScene(scene), '',
    '== issuer ledger', formatLedger(ledger, 10), '',
    '== money check', formatMoneyCheck(money),
  ].join('\n');
  if (!ok) throw new CommandError(failure, 1, text);
  return text;
}

function formatScene(s: RefundSceneResult): string {
  return [
    `  sale ${s.rrn || '(none)'} of ${(s.amount / 100).toFixed(2)} answered ${s.saleCode ?? 'nothing'}; cutover moved to ${s.cutover || '-'}; the terminal's cancel answered ${s.cancelCode ?? 'nothing'}`,
    `  refund in the store: ${s.refundState ?? 'none'}; at the issuer: ${s.refundsApplied} refund applied, ${(s.creditedAtIssuer / 100).toFixed(2)} credited, hold ${s.holdStatus ?? 'not found'}`,
    `  ${s.ok ? 'OK: one refund, the sale nets to zero' : `FAILED: ${s.problem ?? ''}`}`,
  ].join('\n');
}

function brief(s: TerminalSummary): Omit<TerminalSummary, 'approvedRrns' | 'terminalReversedRrns' | 'reversalFailedRrns' | 'disconnectedRrns' | 'sales'> {
  const { approvedRrns: _a, terminalReversedRrns: _t, reversalFailedRrns: _r, disconnectedRrns: _d, sales: _s, ...rest } = s;
  return rest;
}

/** Waits at least minMs, then until done() or maxMs. */
async function settle(done: () => boolean, minMs: number, maxMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const t = Date.now() - start;
    if ((t >= minMs && done()) || t >= maxMs) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
