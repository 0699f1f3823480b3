/**
 * `revswitch demo`: the switch, the issuer simulator and the terminal generator in one
 * process, with faults on (lost approvals, late approvals, drops, disconnects, chip
 * declines). It ends with the money check: every hold left at the issuer must belong to
 * a sale whose approval a terminal kept, and no sale may be reversed twice. Exit 1 when
 * the check fails, so the demo doubles as a smoke test.
 */
import { defaultConfig, UPSTREAM_DEFAULTS } from '../config.js';
import { createLogger, type Level } from '../log.js';
import { formatLedger, formatMoneyCheck, formatTerminalSummary } from '../sim/format.js';
import { checkMoneyInvariant } from '../sim/invariant.js';
import { startIssuer } from '../sim/issuer.js';
import { runTerminals, type TerminalSummary } from '../sim/terminals.js';
import { flag, parseArgs, UsageError } from './args.js';
import { startSwitch } from './start-command.js';

export const DEMO_USAGE = 'revswitch demo [--duration S] [--tps N] [--connections C] [--seed N] [--log-level LEVEL] [--json]';

/** The switch's upstream deadline in the demo: short, so the late answers arrive within the run. */
const DEMO_TIMEOUT_MS = 1500;
const LATE_MS = 2500;

function int(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

export class DemoFailed extends Error {}

export async function demoCommand(argv: string[]): Promise<string> {
  const p = parseArgs(argv, { duration: true, tps: true, connections: true, seed: true, 'log-level': true, json: false });
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const durationS = int(flag(p, 'duration'), 'duration', 1, 3600, 15);
  const tps = int(flag(p, 'tps'), 'tps', 1, 100_000, 200);
  const connections = int(flag(p, 'connections'), 'connections', 1, 999, 16);
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
  cfg.listeners[0].port = 0;
  cfg.upstreamTimeoutMs = DEMO_TIMEOUT_MS;
  cfg.reversal.responseTimeoutMs = 1000;
  cfg.reversal.backoffMs = [200, 500, 1000];
  cfg.upstreams.push({ name: 'demo-issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, dialect: 'iso87a', timeoutMs: DEMO_TIMEOUT_MS });
  const running = await startSwitch(cfg, log);
  const port = running.sw.ports()[0];
  if (!(await running.sw.waitUntilUp(5000))) err('the issuer link is not up yet; early sales will be answered 91');
  err(`switch on 127.0.0.1:${port}, issuer simulator on 127.0.0.1:${issuer.port} (seed ${seed})`);
  err(`${tps} sales/s from ${connections} terminals for ${durationS} s, with lost and late approvals, drops, disconnects and chip declines`);

  let summary: TerminalSummary;
  const abort = new AbortController();
  const onSig = (): void => abort.abort();
  process.once('SIGINT', onSig);
  try {
    summary = await runTerminals({
      port, tps, durationS, connections, seed, signal: abort.signal,
      magicMix: { '99': 0.01, '68': 0.01, '91': 0.005, '51': 0.01, '96': 0.005 },
      disconnectRate: 0.01, chipDeclineRate: 0.01, responseTimeoutMs: 5000, reversalTimeoutMs: 3000,
    });
  } finally {
    process.off('SIGINT', onSig);
  }
  // Late answers and the last reversals (with their repeats) settle before the check.
  err('sales done; letting late answers and reversals settle');
  await settle(() => running.sw.reversals.outstanding === 0, LATE_MS + 500, 30_000);
  await running.sw.stop(5_000);
  const ledger = issuer.ledger();
  await issuer.close();
  const money = checkMoneyInvariant(ledger, summary.approvedRrns);
  const counters = running.sw.counters.snapshot();

  if (p.flags.has('json')) {
    const out = JSON.stringify({ seed, terminals: { ...summary, approvedRrns: undefined, terminalReversedRrns: undefined, reversalFailedRrns: undefined, disconnectedRrns: undefined }, switch: counters, ledger: ledger.summary, money: { ok: money.ok, strayHolds: money.strayHolds.length, reversedTwice: money.reversedTwice.length, missingHolds: money.missingHolds.length } }, null, 2);
    if (!money.ok) throw new DemoFailed(out);
    return out;
  }
  const text = [
    '== terminals', formatTerminalSummary(summary), '',
    '== switch counters', ...Object.entries(counters).map(([k, v]) => `  ${k.padEnd(36)} ${v}`), '',
    '== issuer ledger', formatLedger(ledger, 10), '',
    '== money check', formatMoneyCheck(money),
  ].join('\n');
  if (!money.ok) throw new DemoFailed(text);
  return text;
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
