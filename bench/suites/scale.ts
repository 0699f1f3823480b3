/**
 * Scaling out: the switch end to end on its PostgreSQL store against its SQLite journal,
 * and two PostgreSQL nodes against one, in the same run (issue 8's figures).
 *
 * The topology is the e2e suite's (load generator -> switch -> issuer simulator over
 * loopback, the same 0200s, 8 persistent connections; see ./e2e.ts), with the store and
 * the node count varied:
 *
 *   sqlite-1     one node, a fresh SQLite journal in a temporary directory (the default)
 *   postgres-1   one node on PostgreSQL, a fresh schema of its own per step
 *   postgres-2   two nodes (node ids bench-a, bench-b) on one fresh schema, each with its
 *                own upstream link to the issuer; the generator's connections alternate
 *                between them (a load balancer's round robin, per connection)
 *
 * Every switch node runs exactly as `revswitch start` runs it (startSwitch, in its own
 * process: ../e2e/target-main.ts), with heartbeats and lease/orphan scans running as in
 * production. The rig (issuer + generator) is one process.
 *
 * Layout on a 2-core machine with taskset: node 1 on CPU 0, the rig on CPU 1, and a
 * second node on CPU 1 too, beside the rig. PostgreSQL's server processes are the
 * machine's own and are not pinned: the scheduler puts them on either CPU. So a node on
 * SQLite does its store work (the worker thread, the fsyncs) on its own core, while a
 * node on PostgreSQL hands it to a server that may run on the other one. The suite
 * therefore also measures the server's CPU (every process named "postgres", from /proc)
 * and reports the CPU per sale of each layer; "machine CPU per sale" (nodes + server) is
 * the comparison that does not depend on where the scheduler put the server. Open loop
 * paces with timers (not by spinning: the rig shares CPU 1 with node 2).
 *
 * Steps: saturation (closed loop, 32 in flight per connection) for each configuration,
 * ROUNDS times interleaved (A B C A B C ...) so drift lands on all alike; the case is
 * the median round. Then open-loop steps at two rates for all three, for the latency
 * tail at the same offered load: 1k TPS, and 60% of the lowest saturation.
 */
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ExtendedOutput } from '../lib/extras.js';
import { dropSchemas, PG_RUN, PG_URL, pgAdmin, pgSettingsNote, pgUrlWithSchema } from '../lib/pg.js';
import { BenchCheckError, type CaseResult, type Check, type Suite, type SuiteContext, type TargetSpec } from '../lib/suite.js';
import { formatInt, formatMs, renderTable, roundTo } from '../lib/table.js';
import { median } from '../lib/timing.js';
import { canPin, Child, RIG_SCRIPT, TARGET_SCRIPT } from '../e2e/ipc.js';
import { caseFigures, type LoadPlan, type LoadResult, type Percentiles } from '../e2e/loadgen.js';
import { cpuSince, machineCpu, processCpu, settle, type MachineCpu } from '../e2e/machine-cpu.js';
import type { CpuMark, SwitchStart } from '../e2e/target-main.js';
import { pgMessage } from '../../switch/store/postgres.js';
import { redactUrl } from '../../switch/store/url.js';

const CONNECTIONS = 8;
const WINDOW = 32;
/** Open-loop rates: a fixed quiet one, and this share of the lowest saturation. */
const OPEN_FIXED = 1000;
const OPEN_SHARE = 0.6;
const TIMEOUT_MS = 8000;
const TICK_MS = 10;
const DISTURBED_PCT = 10;
/** PostgreSQL on one node must carry at least this share of SQLite's saturation (issue 8). */
const TARGET_PG_VS_SQLITE = 0.7;
/** Two nodes must carry more than one: by at least this factor, so run-to-run noise cannot pass for scaling. */
const TARGET_TWO_VS_ONE = 1.05;


interface Config {
  key: 'sqlite-1' | 'postgres-1' | 'postgres-2';
  label: string;
  store: 'sqlite' | 'postgres';
  nodes: number;
  /** The configuration this one is compared with (ratio column, targets). */
  against?: Config['key'];
}

const CONFIGS: readonly Config[] = [
  { key: 'sqlite-1', label: 'SQLite, 1 node', store: 'sqlite', nodes: 1 },
  { key: 'postgres-1', label: 'PostgreSQL, 1 node', store: 'postgres', nodes: 1, against: 'sqlite-1' },
  { key: 'postgres-2', label: 'PostgreSQL, 2 nodes', store: 'postgres', nodes: 2, against: 'postgres-1' },
];

interface Step {
  config: Config;
  mode: 'open' | 'closed';
  rate: number;
  round: number;
}

interface StepResult {
  step: Step;
  load: LoadResult;
  /** Per node, over the window: CPU % of one core. */
  nodeCpuPct: number[];
  /** All nodes together, µs of CPU per answered sale. */
  nodeUsPerSale: number;
  /** PostgreSQL's server processes over the window (null for SQLite, or without /proc). */
  pgCpuPct: number | null;
  pgUsPerSale: number | null;
  rigCpuPct: number;
  otherCpuPct: number | null;
  /** Requests each node forwarded upstream over the whole step. */
  forwarded: number[];
  storeErrors: number;
}

interface ScaleCase extends CaseResult {
  mode: 'open' | 'closed';
  offeredTps: number | null;
  nodes: number;
  store: string;
  latencyMs: Percentiles;
  unanswered: number;
  nodeCpuPct: number[];
  nodeUsPerSale: number;
  pgCpuPct: number | null;
  pgUsPerSale: number | null;
  /** Nodes + PostgreSQL server, µs per sale. */
  machineUsPerSale: number;
  rigCpuPct: number;
  otherCpuPct: number | null;
  forwarded: number[];
  /** Saturation: every round's TPS (the case is the median round). */
  roundsTps: number[];
}

const ms = formatMs;
const round = roundTo;

class Runner {
  private runId = 10;
  private schemas = 0;

  constructor(
    private readonly rig: Child,
    private readonly ctx: SuiteContext,
    private readonly pin: boolean,
    private readonly timing: { warmupMs: number; measureMs: number; drainMs: number },
  ) {}

  async run(step: Step): Promise<StepResult> {
    const c = step.config;
    const what = `${c.label}, ${step.mode === 'closed' ? 'saturation' : `open loop ${formatInt(step.rate)} TPS`}` + (step.mode === 'closed' ? ` (round ${step.round + 1})` : '');
    if ((await settle(5000, DISTURBED_PCT)) === false) this.ctx.log('scale: the machine is busy with other work; measuring anyway');
    this.ctx.log(`scale: ${what}`);
    const { port: issuerPort } = await this.rig.call<{ port: number }>('issuer-start');
    const schema = c.store === 'postgres' ? `${PG_RUN}_${++this.schemas}` : null;
    const nodes: Child[] = [];
    const storeDirs: string[] = [];
    try {
      const ports: number[] = [];
      for (let i = 0; i < c.nodes; i++) {
        const node = new Child(TARGET_SCRIPT, { name: `node ${i + 1} (${c.key})`, cpu: this.pin ? i % 2 : undefined });
        nodes.push(node);
        const start: SwitchStart = {
          store: c.store, storeUrl: schema === null ? undefined : pgUrlWithSchema(schema), node: `bench-${String.fromCharCode(97 + i)}`,
          upstreamPort: issuerPort, timeoutMs: TIMEOUT_MS, tickMs: TICK_MS,
        };
        const started = await node.call<{ port: number; storeDir: string | null }>('start-switch', start);
        ports.push(started.port);
        if (started.storeDir) storeDirs.push(started.storeDir);
      }
      const marks: Promise<CpuMark[]>[] = [];
      const machine: (MachineCpu | null)[] = [];
      const pg: (Map<number, number> | null)[] = [];
      this.rig.onEvent = (e) => {
        if (e.event !== 'window') return;
        machine.push(machineCpu());
        if (schema !== null) pg.push(processCpu('postgres'));
        marks.push(Promise.all(nodes.map((n) => n.call<CpuMark>('cpu'))));
      };
      const plan: LoadPlan = {
        port: ports[0], ports, connections: CONNECTIONS, mode: step.mode, rate: step.rate, window: WINDOW,
        ...this.timing, magicEvery: 0, pace: 'timer', runId: this.runId++, verifyEvery: 64,
      };
      const { load } = await this.rig.call<{ load: LoadResult }>('run', { plan });
      const [m0, m1] = await Promise.all(marks);
      const wallMs = load.rigCpu.wallMs;
      const nodeUs = m0 && m1 ? m0.map((a, i) => m1[i].userUs - a.userUs + (m1[i].systemUs - a.systemUs)) : [];
      const nodeCpuPct = m0 && m1 ? nodeUs.map((us, i) => (us / 1000 / (m1[i].at - m0[i].at)) * 100) : [];
      const answered = load.answeredInWindow;
      const nodesUs = nodeUs.reduce((a, b) => a + b, 0);
      const nodeUsPerSale = answered > 0 ? nodesUs / answered : NaN;
      const [p0, p1] = pg;
      const pgMs = p0 && p1 ? cpuSince(p0, p1) : null;
      const rigMs = (load.rigCpu.userUs + load.rigCpu.systemUs) / 1000;
      const [c0, c1] = machine;
      const otherCpuPct = c0 && c1 && wallMs > 0
        ? Math.max(0, ((c1.busyMs - c0.busyMs - rigMs - nodesUs / 1000 - (pgMs ?? 0)) / wallMs) * 100)
        : null;
      const stats = await Promise.all(nodes.map((n) => n.call<{ counters?: Record<string, number> }>('stats')));
      await Promise.all(nodes.map((n) => n.call('stop')));
      await this.rig.call('issuer-stop');
      const r: StepResult = {
        step, load, nodeCpuPct, nodeUsPerSale,
        pgCpuPct: pgMs === null || wallMs <= 0 ? null : (pgMs / wallMs) * 100,
        pgUsPerSale: pgMs === null || answered === 0 ? null : (pgMs * 1000) / answered,
        rigCpuPct: wallMs > 0 ? (rigMs / wallMs) * 100 : 0,
        otherCpuPct,
        forwarded: stats.map((s) => s.counters?.forwarded ?? 0),
        storeErrors: stats.reduce((a, s) => a + (s.counters?.store_errors ?? 0), 0),
      };
      this.ctx.log(`scale:   ${formatInt(load.achievedTps)} TPS, p50 ${ms(load.latency.p50)} p99 ${ms(load.latency.p99)} ms` +
        (load.unanswered ? `, ${load.unanswered} unanswered` : '') +
        `, node CPU ${r.nodeCpuPct.map((p) => `${p.toFixed(0)}%`).join(' + ')} (${nodeUsPerSale.toFixed(1)} µs/sale)` +
        (r.pgCpuPct === null ? '' : `, PostgreSQL ${r.pgCpuPct.toFixed(0)}% (${r.pgUsPerSale?.toFixed(1)} µs/sale)`) +
        `, rig ${r.rigCpuPct.toFixed(0)}%` + (otherCpuPct === null ? '' : `, other ${otherCpuPct.toFixed(0)}%`));
      return r;
    } finally {
      this.rig.onEvent = () => {};
      await Promise.all(nodes.map((n) => n.close()));
      for (const d of storeDirs) rmSync(d, { recursive: true, force: true });
      if (schema !== null) await dropSchemas(schema).catch((e: unknown) => this.ctx.log(`scale: could not drop schema ${schema}: ${pgMessage(e)}`));
    }
  }
}

function caseOf(id: string, name: string, r: StepResult, roundsTps: number[]): ScaleCase {
  const l = r.load;
  const c = r.step.config;
  return {
    id, name, variant: r.step.mode === 'closed' ? 'saturation' : `open ${formatInt(r.step.rate)}`, impl: c.key,
    ...(roundsTps.length > 1 ? caseFigures(l, roundsTps) : caseFigures(l)),
    mode: r.step.mode,
    offeredTps: r.step.mode === 'open' ? r.step.rate : null,
    nodes: c.nodes,
    store: c.store,
    latencyMs: l.latency,
    unanswered: l.unanswered,
    nodeCpuPct: r.nodeCpuPct.map((p) => round(p, 1)),
    nodeUsPerSale: round(r.nodeUsPerSale, 2),
    pgCpuPct: r.pgCpuPct === null ? null : round(r.pgCpuPct, 1),
    pgUsPerSale: r.pgUsPerSale === null ? null : round(r.pgUsPerSale, 2),
    machineUsPerSale: round(r.nodeUsPerSale + (r.pgUsPerSale ?? 0), 2),
    rigCpuPct: round(r.rigCpuPct, 1),
    otherCpuPct: r.otherCpuPct === null ? null : round(r.otherCpuPct, 1),
    forwarded: r.forwarded,
    roundsTps: roundsTps.map((t) => Math.round(t)),
  };
}

function table(cases: readonly ScaleCase[]): string {
  const header = ['case', 'config', 'offered', 'TPS', 'rounds', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'unans', 'node CPU', 'node µs/sale', 'PG CPU', 'PG µs/sale', 'machine µs/sale', 'rig CPU', 'other CPU', 'vs'];
  const rows = cases.map((c) => [
    c.variant, c.impl,
    c.offeredTps === null ? `${WINDOW}x${CONNECTIONS} in flight` : formatInt(c.offeredTps),
    formatInt(c.opsPerSec),
    c.roundsTps.length > 1 ? c.roundsTps.map(formatInt).join(' ') : '',
    ms(c.latencyMs.p50), ms(c.latencyMs.p99), ms(c.latencyMs.p999), ms(c.latencyMs.max),
    String(c.unanswered),
    c.nodeCpuPct.map((p) => `${p.toFixed(0)}%`).join('+'),
    c.nodeUsPerSale.toFixed(1),
    c.pgCpuPct === null ? '' : `${c.pgCpuPct.toFixed(0)}%`,
    c.pgUsPerSale === null ? '' : c.pgUsPerSale.toFixed(1),
    c.machineUsPerSale.toFixed(1),
    `${c.rigCpuPct.toFixed(0)}%`,
    c.otherCpuPct === null ? '' : `${c.otherCpuPct.toFixed(0)}%`,
    c.ratioVsBaseline === undefined || c.baselineId === undefined ? '' : `${c.ratioVsBaseline.toFixed(2)}x ${c.baselineId.split('/').pop() ?? ''}`,
  ]);
  return renderTable(header, rows, [false, false, ...Array<boolean>(16).fill(true)]);
}

async function run(ctx: SuiteContext): Promise<ExtendedOutput> {
  const checks: Check[] = [];
  const notes: string[] = [];
  const settings = await pgAdmin(pgSettingsNote).catch((e: unknown) => {
    throw new BenchCheckError(`scale: no PostgreSQL at ${redactUrl(PG_URL)} (${pgMessage(e)}); this suite compares the PostgreSQL store with SQLite and needs one: set BENCH_PG_URL`);
  });
  checks.push({ name: `PostgreSQL reachable at ${redactUrl(PG_URL)}`, ok: true, detail: settings });
  const cpus = availableParallelism();
  const pin = process.env.BENCH_E2E_PIN !== '0' && canPin(cpus);
  const timing = ctx.quick ? { warmupMs: 500, measureMs: 2000, drainMs: 2000 } : { warmupMs: 1000, measureMs: 5000, drainMs: 3000 };
  const rounds = ctx.quick ? 1 : 3;
  const layout = pin
    ? 'node 1 pinned to CPU 0; the rig (issuer + generator, timer pacing) pinned to CPU 1, and node 2 (two-node steps) pinned to CPU 1 beside it; PostgreSQL server unpinned'
    : `unpinned (${cpus} CPUs): nodes, rig and PostgreSQL share the CPUs`;
  ctx.log(`scale: ${layout}`);

  const rig = new Child(RIG_SCRIPT, { name: 'rig', cpu: pin ? 1 : undefined, execArgv: ['--expose-gc'] });
  const runner = new Runner(rig, ctx, pin, timing);
  const sat = new Map<string, StepResult[]>();
  const open = new Map<string, StepResult>();
  const openRates: number[] = [OPEN_FIXED];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const c of CONFIGS) {
        const res = await runner.run({ config: c, mode: 'closed', rate: 0, round: r });
        sat.set(c.key, [...(sat.get(c.key) ?? []), res]);
      }
    }
    const lowest = Math.min(...CONFIGS.map((c) => median((sat.get(c.key) ?? []).map((s) => s.load.achievedTps))));
    const busy = Math.max(500, Math.round((lowest * OPEN_SHARE) / 500) * 500);
    if (busy > OPEN_FIXED) openRates.push(busy);
    for (const rate of openRates) {
      for (const c of CONFIGS) open.set(`${rate}/${c.key}`, await runner.run({ config: c, mode: 'open', rate, round: 0 }));
    }
  } finally {
    await rig.close();
  }

  const cases: ScaleCase[] = [];
  for (const c of CONFIGS) {
    const rs = [...(sat.get(c.key) ?? [])].sort((a, b) => a.load.achievedTps - b.load.achievedTps);
    const mid = rs[Math.floor((rs.length - 1) / 2)];
    cases.push(caseOf(`saturation/${c.key}`, `saturation, closed loop, ${c.label}`, mid, (sat.get(c.key) ?? []).map((s) => s.load.achievedTps)));
  }
  for (const rate of openRates) {
    for (const c of CONFIGS) {
      const r = open.get(`${rate}/${c.key}`);
      if (r) cases.push(caseOf(`open/${rate}/${c.key}`, `open loop ${formatInt(rate)} TPS, ${c.label}`, r, []));
    }
  }
  for (const k of cases) {
    const against = CONFIGS.find((c) => c.key === k.impl)?.against;
    if (against) k.baselineId = k.id.replace(/[^/]+$/, against);
  }
  const byId = new Map(cases.map((c) => [c.id, c]));
  for (const k of cases) {
    const b = k.baselineId === undefined ? undefined : byId.get(k.baselineId);
    if (b && b.opsPerSec > 0) k.ratioVsBaseline = k.opsPerSec / b.opsPerSec;
  }

  const all = [...[...sat.values()].flat(), ...open.values()];
  for (const r of all) {
    const v = r.load.verify;
    const id = `${r.step.mode === 'closed' ? `saturation round ${r.step.round + 1}` : `open ${r.step.rate}`}/${r.step.config.key}`;
    checks.push({
      name: `${id}: answers are the right ones`,
      ok: v.bad === 0 && r.load.unknownAnswers === 0 && v.checked > 0 && r.storeErrors === 0,
      detail: `${v.checked} answers decoded and checked, ${v.bad} wrong${v.firstBad ? ` (first: ${v.firstBad})` : ''}, ${r.load.unknownAnswers} unmatched, ` +
        `${r.storeErrors} store errors; F39 seen: ${JSON.stringify(v.codes)}`,
    });
    if (r.step.config.nodes > 1) {
      checks.push({
        name: `${id}: every node carried traffic`,
        ok: r.forwarded.every((n) => n > 0),
        detail: `forwarded upstream per node: ${r.forwarded.join(', ')}`,
      });
    }
  }

  const get = (id: string): ScaleCase | undefined => byId.get(id);
  const s1 = get('saturation/sqlite-1');
  const p1 = get('saturation/postgres-1');
  const p2 = get('saturation/postgres-2');
  const f = (c: ScaleCase | undefined): string => (c
    ? `${formatInt(c.opsPerSec)} TPS (rounds ${c.roundsTps.map(formatInt).join(', ')}), p99 ${ms(c.latencyMs.p99)} ms, node ${c.nodeUsPerSale.toFixed(0)} µs/sale` +
      (c.pgUsPerSale === null ? '' : ` + PostgreSQL ${c.pgUsPerSale.toFixed(0)} µs/sale`)
    : 'n/a');
  notes.push(`saturation: SQLite 1 node ${f(s1)}; PostgreSQL 1 node ${f(p1)}; PostgreSQL 2 nodes ${f(p2)}`);
  for (const o of cases.filter((c) => c.mode === 'open')) {
    notes.push(`${o.name}: p50 ${ms(o.latencyMs.p50)} / p99 ${ms(o.latencyMs.p99)} / p99.9 ${ms(o.latencyMs.p999)} / max ${ms(o.latencyMs.max)} ms, ${o.unanswered} unanswered`);
  }
  if (p2) {
    const busy = p2.nodeCpuPct.reduce((a, b) => a + b, 0) + (p2.pgCpuPct ?? 0) + p2.rigCpuPct + (p2.otherCpuPct ?? 0);
    const full = busy >= 0.9 * cpus * 100;
    notes.push(`two nodes at saturation: node 1 (CPU 0) ${p2.nodeCpuPct[0]?.toFixed(0)}%, node 2 (CPU 1, beside the rig at ${p2.rigCpuPct.toFixed(0)}%) ${p2.nodeCpuPct[1]?.toFixed(0)}%, ` +
      `PostgreSQL ${p2.pgCpuPct?.toFixed(0) ?? '?'}% of a core: the machine was ${busy.toFixed(0)}% busy of ${cpus * 100}%` +
      (full ? '; the machine\'s cores, not the store, bound two nodes here: on hosts of their own each node would have a core, and the server its own host' : ''));
  }
  const disturbed = cases.filter((c) => (c.otherCpuPct ?? 0) > DISTURBED_PCT);
  if (disturbed.length > 0) {
    notes.unshift(`DISTURBED: other work used more than ${DISTURBED_PCT}% of a core during ${disturbed.map((c) => `${c.id} (${c.otherCpuPct?.toFixed(0)}%)`).join(', ')}; rerun on an idle machine`);
  }
  notes.push(`layout: ${layout}`);
  notes.push(`PostgreSQL at ${redactUrl(PG_URL)}: ${settings}; a fresh schema per step (${PG_RUN}_N, dropped after); the store's default pool (4 connections per node)`);
  notes.push(`stores: SQLite sqlite:<tmp>/revswitch.db per step (FULL, worker thread); the nodes' config as startSwitch builds it (node ids bench-a, bench-b, heartbeat 1 s), ` +
    `admin HTTP off, fixed PAN key, upstream timeout ${TIMEOUT_MS} ms, tickMs ${TICK_MS}`);
  notes.push(`per step ${timing.warmupMs / 1000} s warmup, ${timing.measureMs / 1000} s measured; saturation: ${rounds} round(s) per configuration, interleaved, the median round stands; ` +
    `${CONNECTIONS} connections (alternating between nodes), closed loop ${WINDOW} in flight each; open loop latency from the due time (coordinated omission corrected)`);
  notes.push('node µs/sale: the switch processes\' CPU (user + system) over the window / answered sales; PG µs/sale: every "postgres" process (/proc) likewise; machine = both');

  const targets: TargetSpec[] = [
    { id: 'scale.postgres-vs-sqlite', description: `one node: PostgreSQL saturation / SQLite saturation (>= ${TARGET_PG_VS_SQLITE})`, caseId: 'saturation/postgres-1', metric: 'ratioVsBaseline', min: TARGET_PG_VS_SQLITE, unit: 'x' },
    { id: 'scale.two-vs-one', description: `PostgreSQL: two nodes' saturation / one node's (> 1; at least ${TARGET_TWO_VS_ONE})`, caseId: 'saturation/postgres-2', metric: 'ratioVsBaseline', min: TARGET_TWO_VS_ONE, unit: 'x' },
  ];

  return {
    cases, targets, checks, notes, table: table(cases),
    extra: {
      scale: {
        layout, pinned: pin, connections: CONNECTIONS, closedLoopWindowPerConnection: WINDOW, timing, rounds, openRates,
        postgres: settings,
        steps: all.map((r) => ({
          config: r.step.config.key, mode: r.step.mode, round: r.step.round, tps: Math.round(r.load.achievedTps), p99Ms: r.load.latency.p99,
          forwarded: r.forwarded, nodeCpuPct: r.nodeCpuPct.map((p) => round(p, 1)), pgCpuPct: r.pgCpuPct === null ? null : round(r.pgCpuPct, 1),
        })),
      },
    },
  };
}

export const scaleSuite: Suite = {
  name: 'scale',
  description: 'e2e saturation and open-loop latency: PostgreSQL store vs SQLite on one node, and two PostgreSQL nodes vs one',
  variantLabel: 'load',
  baselineName: 'sqlite-1',
  run,
};
