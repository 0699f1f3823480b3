/**
 * The soak (`npm run bench:soak -- [--minutes 10] [--tps 120] [--seed N] [--skew-ms 5000]
 * [--kill-every-s 60]`), not part of `npm test`: two switch nodes as child processes on one
 * PostgreSQL schema, under load with every fault of the simulators, while
 * - the store fails under each node (./soak/fault-proxy.ts: lost commit replies, killed
 *   connections with batches in flight, stalls as behind a lock),
 * - one node is killed with SIGKILL every `--kill-every-s` and restarted at once, the
 *   nodes in turn,
 * - the two nodes' clocks differ by twice `--skew-ms` (one ahead, one behind:
 *   ./soak/skew-clock.ts).
 * Then the faults stop, the queues drain, and the money check is made from both ends: the
 * issuer's holds are exactly the approvals the terminals kept, nothing was reversed twice,
 * and no approval a terminal kept lost its hold (a delivered approval reversed). Exit 1
 * when it fails. Figures go to stdout and soak-latest.json (bench/out/; bench/results/ with --record).
 *
 * Leases: a reversal's lease is judged by each node's own clock, so the soak runs them at
 * 30 s, where a 10 s difference between the nodes cannot let one take the other's live
 * leases (heartbeats and takeover use the database's clock: docs/deployment.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultsDir } from './lib/results.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { balancer } from '../switch/sim/balancer.js';
import { untilAnswering } from '../switch/sim/answering.js';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { createRng } from '../switch/sim/prng.js';
import { runTerminals, type TerminalSummary } from '../switch/sim/terminals.js';
import { openStore } from '../switch/store/index.js';
import { FaultProxy, type FaultCounts } from './soak/fault-proxy.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'switch', 'cli', 'main.js');
const SKEW_PRELOAD = new URL('./soak/skew-clock.js', import.meta.url).href;
const PG_URL = process.env.REVSWITCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' }, tps: { type: 'string', default: '120' }, seed: { type: 'string', default: '1' },
    'skew-ms': { type: 'string', default: '5000' }, 'kill-every-s': { type: 'string', default: '60' }, record: { type: 'boolean', default: false },
  },
});
const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`soak: --${name}: expected a number of at least ${min}, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const MINUTES = num('minutes', args.minutes, 0.1);
const TPS = num('tps', args.tps, 1);
const SEED = num('seed', args.seed, 0);
const SKEW_MS = num('skew-ms', args['skew-ms'], 0);
const KILL_EVERY_S = num('kill-every-s', args['kill-every-s'], 5);

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const log = (line: string): void => { process.stderr.write(`soak: ${line}\n`); };

interface Node {
  name: string;
  skewMs: number;
  port: number;
  config: string;
  child: ChildProcess;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const dir = mkdtempSync(join(tmpdir(), 'revswitch-soak-'));
const schema = `rs_soak_${process.pid}`;
const rng = createRng(SEED);
const issuer = await startIssuer({
  seed: SEED, approveRate: 0.9, latencyMs: { min: 1, max: 20 }, dropRate: 0.005, lateRate: 0.005, lateMs: 2500, reversalDropRate: 0.05,
});
const proxies = [0, 1].map(() => new FaultProxy({ host: '127.0.0.1', port: Number(new URL(PG_URL).port || 5432) }, {
  lostCommitReply: 0.002, killPerSecond: 0.002, stallPerSecond: 0.002, stallMs: 2000,
}, () => rng.next()));
for (const p of proxies) await p.start();

/** The soak's schema, through a proxy's port, or straight to the server without one. */
function storeUrl(port?: number): string {
  const u = new URL(PG_URL);
  if (port !== undefined) u.port = String(port);
  u.searchParams.set('schema', schema);
  return u.toString();
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function makeNode(name: string, skewMs: number, proxy: FaultProxy): Promise<Node> {
  const port = await freePort();
  const config = join(dir, `${name}.json`);
  writeFileSync(config, JSON.stringify({
    node: name,
    listeners: [{ name: 'pos', host: '127.0.0.1', port }],
    upstreams: [{ name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 1000, reconnectBackoffMs: [50, 100, 200] }],
    store: storeUrl(proxy.port), admin: 'off', panHashKey: '02676a1b764e5035a19615a429845dbcc779df1d8ab5decb23530cc4163358ae', logLevel: 'warn', tickMs: 5,
    reversal: { responseTimeoutMs: 1000, backoffMs: [200, 1000, 3000], maxAttempts: 100 },
    cluster: { heartbeatMs: 500, leaseMs: 30_000, nodeDeadMs: 3000 },
  }));
  const n = { name, skewMs, port, config } as Node;
  spawnNode(n);
  await ready(n);
  return n;
}

function spawnNode(n: Node): void {
  const child = spawn(process.execPath, ['--import', SKEW_PRELOAD, CLI, 'start', '--config', n.config], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, REVSWITCH_SOAK_SKEW_MS: String(n.skewMs) },
  });
  n.child = child;
  n.stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { n.stderr = (n.stderr + s).slice(-20_000); });
  n.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function ready(n: Node, capMs = 60_000): Promise<number> {
  const gone = (): string | null => (n.child.exitCode !== null || n.child.signalCode !== null ? n.stderr : null);
  return untilAnswering({ port: n.port, capMs, gone, what: `node ${n.name}` });
}

async function dropSchema(): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

const nodes: Node[] = [];
let failed = false;
try {
  await dropSchema();
  nodes.push(await makeNode('soak-a', SKEW_MS, proxies[0]));
  nodes.push(await makeNode('soak-b', -SKEW_MS, proxies[1]));
  const [a, b] = nodes;
  log(`nodes up: A on ${a.port} (clock +${SKEW_MS} ms), B on ${b.port} (clock -${SKEW_MS} ms); ${MINUTES} min at ${TPS} sales/s, SIGKILL every ${KILL_EVERY_S} s`);
  const lbA = await balancer(() => [a.port, b.port]);
  const lbB = await balancer(() => [b.port, a.port]);

  const durationS = Math.round(MINUTES * 60);
  const kills: { node: string; atS: number; restartMs: number }[] = [];
  let stopKilling = false;
  const loadStart = Date.now();
  const killer = (async () => {
    for (let k = 0; !stopKilling; k++) {
      const at = loadStart + (k + 1) * KILL_EVERY_S * 1000;
      if (at > loadStart + durationS * 1000 - 5000) break;
      await delay(at - Date.now());
      if (stopKilling) break;
      const victim = nodes[k % 2];
      victim.child.kill('SIGKILL');
      await victim.exited;
      const t0 = Date.now();
      spawnNode(victim);
      await ready(victim);
      kills.push({ node: victim.name, atS: Math.round((t0 - loadStart) / 1000), restartMs: Date.now() - t0 });
      log(`killed ${victim.name} at +${Math.round((t0 - loadStart) / 1000)} s; answering again after ${Date.now() - t0} ms`);
    }
  })();

  const common = {
    durationS, progress: false, magicMix: { '99': 0.01, '68': 0.01, '91': 0.005, '96': 0.005, '10': 0.01, '51': 0.01 },
    disconnectRate: 0.01, reverseOnHangUp: true, chipDeclineRate: 0.01, responseTimeoutMs: 5000, reversalAttempts: 50,
    reversalTimeoutMs: 2000, cards: 1,
  };
  const [host, pos] = await Promise.all([
    runTerminals({ ...common, port: lbA.port, mode: 'persistent', tps: TPS / 2, connections: 8, seed: SEED + 1, acquirerId: '111111', terminalIdPrefix: 'HA', rrnPrefix: '81' }),
    runTerminals({ ...common, port: lbB.port, mode: 'per-sale', tps: TPS / 2, connections: 32, seed: SEED + 2, acquirerId: '222222', terminalIdPrefix: 'PB', rrnPrefix: '82' }),
  ]);
  stopKilling = true;
  await killer;
  log('load done; faults off; letting the queues drain');
  for (const p of proxies) p.quiet();

  const store = openStore(storeUrl());
  await store.open();
  const drainStart = Date.now();
  let open = -1;
  let unfinished = -1;
  // Until nothing is open, or nothing has moved for a minute (3 min at most).
  let lastChange = Date.now();
  while (Date.now() - drainStart < 180_000 && Date.now() - lastChange < 60_000) {
    const o = (await store.reversals(['pending', 'sent'])).length;
    const u = (await store.unfinishedTxns()).length;
    if (o !== open || u !== unfinished) lastChange = Date.now();
    [open, unfinished] = [o, u];
    if (open === 0 && unfinished === 0) break;
    await delay(500);
  }
  const manual = (await store.reversals(['manual'])).length;
  const reversals = await store.reversals();
  // Anything left in flight, with its history: what a person would look at.
  const stranded: string[] = [];
  for (const row of (await store.unfinishedTxns()).slice(0, 20)) {
    const hist = (await store.history(row.id)).map((h) => `${h.state}${h.detail ? ` ${h.detail}` : ''}`).join(' | ');
    stranded.push(`${row.id} node ${row.node} state ${row.state} rc ${row.responseCode ?? '-'} rrn ${row.rrn ?? '-'} reversal ${row.reversalId ?? '-'}: ${hist}`);
  }
  await store.close();
  const drainMs = Date.now() - drainStart;

  const ledger = issuer.ledger();
  const kept = [...host.approvedRrns, ...pos.approvedRrns];
  const money = checkMoneyInvariant(ledger, kept);
  const faults: FaultCounts = proxies.reduce((s, p) => ({
    connections: s.connections + p.counts.connections, lostCommitReplies: s.lostCommitReplies + p.counts.lostCommitReplies,
    killed: s.killed + p.counts.killed, stalls: s.stalls + p.counts.stalls,
  }), { connections: 0, lostCommitReplies: 0, killed: 0, stalls: 0 });
  const ok = money.ok && money.missingHolds.length === 0 && open === 0 && unfinished === 0 && manual === 0 && ledger.counters.secondReversals === 0;
  failed = !ok;

  const result = {
    when: new Date().toISOString(), minutes: MINUTES, tps: TPS, seed: SEED, skewMs: SKEW_MS, killEveryS: KILL_EVERY_S, ok,
    sales: ledger.counters.requests, approved: ledger.counters.approved, keptApprovals: kept.length, holds: ledger.holds.length,
    reversalsAtIssuer: ledger.counters.reversals, reversalsApplied: ledger.counters.reversalsApplied, repeats: ledger.counters.reversalRepeats,
    secondReversals: ledger.counters.secondReversals, strayHolds: money.strayHolds.length, reversedTwice: money.reversedTwice.length,
    deliveredApprovalsReversed: money.missingHolds.length, reversalRows: reversals.length, manual, openAfterDrain: open, unfinishedAfterDrain: unfinished,
    drainMs, kills, storeFaults: faults, stranded,
    terminals: { host: brief(host), pos: brief(pos) },
  };
  process.stdout.write([
    '== acquirer host via A (persistent)', formatTerminalSummary(host), '',
    '== POS terminals via B (a connection per sale)', formatTerminalSummary(pos), '',
    `== kills: ${kills.map((k) => `${k.node} at +${k.atS} s (back in ${k.restartMs} ms)`).join(', ') || 'none'}`,
    `== store faults: ${JSON.stringify(faults)}`,
    `== after the drain (${drainMs} ms): reversals open ${open}, transactions in flight ${unfinished}, manual ${manual}`,
    ...(stranded.length > 0 ? ['== left in flight', ...stranded] : []),
    '== money check', formatMoneyCheck(money),
    `  delivered approvals reversed (kept approvals without a hold): ${money.missingHolds.length}`,
    `  second reversals at the issuer: ${ledger.counters.secondReversals}`,
    `== soak ${ok ? 'OK' : 'FAILED'}`, '',
  ].join('\n'));
  const dir = resultsDir(args.record);
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(result, null, 2);
  writeFileSync(join(dir, `soak-${result.when.replace(/[:]/g, '-')}.json`), json);
  writeFileSync(join(dir, 'soak-latest.json'), json);
  await lbA.close();
  await lbB.close();
} catch (e) {
  failed = true;
  process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
  for (const n of nodes) process.stderr.write(`--- ${n.name} stderr (tail)\n${n.stderr.slice(-4000)}\n`);
} finally {
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGTERM');
  await Promise.all(nodes.map((n) => Promise.race([n.exited, delay(15_000)])));
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
  for (const p of proxies) await p.close();
  await issuer.close();
  await dropSchema().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

function brief(s: TerminalSummary): Record<string, unknown> {
  const { approvedRrns: _a, terminalReversedRrns: _t, reversalFailedRrns: _r, disconnectedRrns: _d, sales: _s, ...rest } = s;
  return rest;
}
