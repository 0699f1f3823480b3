/**
 * The store (switch/store): journal writes per second through group commit, and what
 * they cost the event loop.
 *
 * Each case is the switch's write pattern under load: C concurrent "transactions", each
 * an insertTxn (written ahead of the send) then, once that resolved, an updateTxn with
 * the outcome; a transaction starts again as soon as its update resolved (closed loop).
 * Every insert and every update is one write; ops/s is writes per second. Rows carry a
 * ~300-character sealed message, as the switch's will.
 *
 * Stores: MemoryStore (the "no database" baseline), SQLite in its worker thread with
 * synchronous=FULL (the default: durable against power loss) and NORMAL (durable against
 * a process crash only, in WAL mode), SQLite FULL inline (on the event loop: what the
 * worker saves us), and SQLite FULL with one writer (latency at low load, where the
 * 1 ms batch delay is visible). Each case gets a new database in a temporary directory.
 *
 * PostgreSQL (BENCH_PG_URL, else REVSWITCH_PG_URL, else postgres://postgres@127.0.0.1:5432/test),
 * in the same run: the pipelined store (one round trip per batch), the same store
 * waiting for each statement's answer before sending the next (what pipelining saves),
 * and one writer. Each case gets a schema of its own, dropped afterwards. No server
 * reachable: those cases are skipped and the notes say why.
 *
 * Besides ops/s, each case records (in the result file and the notes): write latency
 * (call to resolve, p50/p99/max), commit latency from store.stats() (BEGIN to COMMIT in
 * the database, p50/p99/max), batches and writes per batch, event-loop delay
 * (perf_hooks.monitorEventLoopDelay, 1 ms resolution: p50/p99/max) and event-loop
 * utilization (the share of wall time the main thread was busy). Only the sampled
 * windows count, not the warmup.
 *
 * The databases go to BENCH_STORE_DIR (default: the OS temporary directory): point it at
 * the disk the switch will use, since FULL costs one fsync per commit and what an fsync
 * costs is the disk's business. The notes give this disk's fdatasync latency, measured first.
 */
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { build as buildHistogram } from 'hdr-histogram-js';
import { MemoryStore } from '../../switch/store/memory.js';
import { dropSchemas, PG_RUN, PG_URL, pgAdmin, pgSettingsNote, pgUrlWithSchema } from '../lib/pg.js';
import { pgMessage, PostgresStore, type PostgresStoreOptions } from '../../switch/store/postgres.js';
import { SqliteStore, type SqliteStoreOptions } from '../../switch/store/sqlite.js';
import { redactUrl } from '../../switch/store/url.js';
import type { Store, StoreStats, TxnRow } from '../../switch/store/types.js';
import { check, type CaseResult, type Check, type Suite, type SuiteContext, type SuiteOutput, type TargetSpec } from '../lib/suite.js';
import { median } from '../lib/timing.js';

const BASELINE = 'MemoryStore';
const CONCURRENCY = 512;
const MIN_SAMPLE_MS = 500;

interface Plan {
  id: string;
  name: string;
  variant: string;
  impl: string;
  concurrency: number;
  synchronous: string | null;
  make: (dir: string) => Store;
  /** Needs the PostgreSQL server. */
  postgres?: boolean;
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
}

/** A case with the store's own figures next to the common ones (they go into the result file). */
interface StoreCaseResult extends CaseResult {
  concurrency: number;
  synchronous: string | null;
  /** insertTxn or updateTxn call to its promise resolving, ms. */
  writeLatencyMs: Latency;
  /** store.stats().commitMs over the whole case (warmup included), ms. */
  commitMs: Latency;
  batches: number;
  writesPerBatch: number;
  /** monitorEventLoopDelay over the samples, ms. */
  eventLoopDelayMs: Latency;
  /** performance.eventLoopUtilization over the samples, 0..1. */
  eventLoopUtilization: number;
}

const SEALED = 'sealed:v1:' + 'Q'.repeat(290);

function txnRow(id: string, at: number): TxnRow {
  return {
    id, node: 'bench', listener: 'pos', sender: '00000001/TERM0001', terminal: 'TERM0001', merchant: 'MERCHANT0000001',
    acquirer: '00000001', mti: '0200', stan: id.slice(-6).padStart(6, '0'), f7: '1125213300', rrn: '533021000123',
    amount: '000000001000', currency: '978', panMasked: '476173******0119', panHash: 'h:5f1c0a9e', businessDate: '2025-11-25',
    upstream: 'issuer', upstreamStan: '000777', state: 'forwarded', responseCode: null, failureClass: null, decision: null,
    reversalId: null, sealed: SEALED, createdAt: at, updatedAt: at,
  };
}

const hist = () => buildHistogram({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
type Hist = ReturnType<typeof hist>;

function latencyOf(h: Hist, maxUs: number): Latency {
  if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0 };
  return { p50: Math.min(h.getValueAtPercentile(50), maxUs) / 1000, p99: Math.min(h.getValueAtPercentile(99), maxUs) / 1000, max: maxUs / 1000 };
}

interface Drive {
  writes: number;
  ms: number;
}

/**
 * `concurrency` transactions (insert, then update) in a closed loop for `ms`. Latencies
 * go into `lat` (µs) when it is given. Returns the writes that resolved and the time taken.
 */
async function drive(store: Store, prefix: string, concurrency: number, ms: number, lat: { h: Hist; max: number } | null): Promise<Drive> {
  let stop = false;
  let writes = 0;
  let seq = 0;
  const t0 = performance.now();
  const timer = setTimeout(() => { stop = true; }, ms);
  const record = (us: number) => {
    if (lat === null) return;
    const v = Math.max(1, Math.round(us));
    lat.h.recordValue(v);
    if (v > lat.max) lat.max = v;
  };
  async function client(): Promise<void> {
    while (!stop) {
      const id = `${prefix}-${seq++}`;
      const a = performance.now();
      await store.insertTxn(txnRow(id, Date.now()));
      const b = performance.now();
      await store.updateTxn({ id, state: 'approved', at: Date.now(), responseCode: '00', failureClass: 'approved', decision: 'none: approved' });
      const c = performance.now();
      record((b - a) * 1000);
      record((c - b) * 1000);
      writes += 2;
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, () => client()));
  } finally {
    clearTimeout(timer);
  }
  return { writes, ms: performance.now() - t0 };
}

/** The store does what the bench assumes: both writes land, with their history. */
async function verify(store: Store, label: string, checks: Check[]): Promise<void> {
  await store.insertTxn(txnRow('verify-1', 1));
  await store.updateTxn({ id: 'verify-1', state: 'approved', at: 2, responseCode: '00' });
  const row = await store.txn('verify-1');
  const h = await store.history('verify-1');
  check(checks, `${label}: insert + update land with their history`,
    row?.state === 'approved' && row.responseCode === '00' && h.map((x) => x.state).join() === 'forwarded,approved',
    `got ${JSON.stringify(row?.state)} with history ${JSON.stringify(h.map((x) => x.state))}`);
}

async function measure(ctx: SuiteContext, p: Plan, dir: string, checks: Check[]): Promise<StoreCaseResult> {
  const store = p.make(dir);
  await store.open();
  try {
    await verify(store, p.id, checks);
    // Warmup: the JIT, the database file's first pages, the worker.
    await drive(store, 'w', p.concurrency, ctx.timing.warmupMs, null);
    await store.flush();

    const sampleMs = Math.max(ctx.timing.sampleMs, MIN_SAMPLE_MS);
    const lat = { h: hist(), max: 0 };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const rates: number[] = [];
    let writes = 0;
    let sampled = 0;
    let elu: EventLoopUtilization | null = null;
    const before: StoreStats = store.stats();
    for (let s = 0; s < ctx.timing.samples; s++) {
      loop.enable();
      const e0 = performance.eventLoopUtilization();
      const d = await drive(store, `s${s}`, p.concurrency, sampleMs, lat);
      const e1 = performance.eventLoopUtilization(e0);
      loop.disable();
      elu = elu === null ? e1 : { idle: elu.idle + e1.idle, active: elu.active + e1.active, utilization: 0 };
      rates.push(d.writes / (d.ms / 1000));
      writes += d.writes;
      sampled += d.ms;
    }
    const after = store.stats();
    const med = median(rates);
    const min = Math.min(...rates);
    const max = Math.max(...rates);
    const batches = after.batches - before.batches;
    const loopMax = loop.max / 1e6;
    return {
      id: p.id, name: p.name, variant: p.variant, impl: p.impl,
      opsPerSec: med, usPerOp: 1e6 / med, sampleOpsPerSec: rates, minOpsPerSec: min, maxOpsPerSec: max,
      spreadPct: ((max - min) / med) * 100, iterations: writes, batch: p.concurrency, sampledMs: sampled,
      ...(p.impl === BASELINE ? {} : { baselineId: 'journal/memory' }),
      concurrency: p.concurrency,
      synchronous: p.synchronous,
      writeLatencyMs: latencyOf(lat.h, lat.max),
      commitMs: after.commitMs,
      batches,
      writesPerBatch: batches === 0 ? 0 : (after.ops - before.ops) / batches,
      eventLoopDelayMs: { p50: Math.min(loop.percentile(50) / 1e6, loopMax), p99: Math.min(loop.percentile(99) / 1e6, loopMax), max: loopMax },
      eventLoopUtilization: elu === null ? 0 : elu.active / (elu.active + elu.idle),
    };
  } finally {
    await store.close();
  }
}

const sqlite = (name: string, opts: SqliteStoreOptions) => (dir: string): Store => new SqliteStore(`sqlite:${join(dir, name, 'journal.db')}`, opts);

let pgSchemas = 0;

/** A PostgreSQL store in a schema of its own (dropped at the end of the suite). */
const postgres = (opts: PostgresStoreOptions) => (): Store => new PostgresStore(pgUrlWithSchema(`${PG_RUN}_${++pgSchemas}`), opts);

const PLANS: readonly Plan[] = [
  {
    id: 'journal/memory', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`, impl: BASELINE,
    concurrency: CONCURRENCY, synchronous: null, make: () => new MemoryStore(),
  },
  {
    id: 'journal/sqlite-normal', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`, impl: 'SQLite NORMAL, worker',
    concurrency: CONCURRENCY, synchronous: 'normal', make: sqlite('normal', { synchronous: 'normal' }),
  },
  {
    id: 'journal/sqlite-full', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`, impl: 'SQLite FULL, worker',
    concurrency: CONCURRENCY, synchronous: 'full', make: sqlite('full', { synchronous: 'full' }),
  },
  {
    id: 'journal/sqlite-full-inline', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`, impl: 'SQLite FULL, inline',
    concurrency: CONCURRENCY, synchronous: 'full', make: sqlite('inline', { synchronous: 'full', inline: true }),
  },
  {
    id: 'journal/sqlite-full-1', name: 'insert+update, one writer', variant: '1 concurrent', impl: 'SQLite FULL, worker',
    concurrency: 1, synchronous: 'full', make: sqlite('single', { synchronous: 'full' }),
  },
  {
    id: 'journal/postgres', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`, impl: 'PostgreSQL, multi-row, pipelined',
    concurrency: CONCURRENCY, synchronous: null, make: postgres({}), postgres: true,
  },
  {
    id: 'journal/postgres-per-op', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`,
    impl: 'PostgreSQL, pipelined, statement per op', concurrency: CONCURRENCY, synchronous: null, make: postgres({ multiRow: false }), postgres: true,
  },
  {
    id: 'journal/postgres-unpipelined', name: 'insert+update, group commit', variant: `${CONCURRENCY} concurrent`,
    impl: 'PostgreSQL, statement per op, one at a time', concurrency: CONCURRENCY, synchronous: null,
    make: postgres({ multiRow: false, pipeline: false }), postgres: true,
  },
  {
    id: 'journal/postgres-1', name: 'insert+update, one writer', variant: '1 concurrent', impl: 'PostgreSQL, pipelined',
    concurrency: 1, synchronous: null, make: postgres({}), postgres: true,
  },
];

/**
 * fdatasync latency of a 4 KiB overwrite in `dir`, ms: roughly what a FULL commit adds
 * (SQLite rewrites its WAL from the start after each checkpoint and syncs it per commit).
 */
function syncLatency(dir: string, n = 200): Latency {
  const file = join(dir, 'sync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const ms: number[] = [];
  try {
    writeSync(fd, block, 0, block.length, 0);
    fdatasyncSync(fd);
    for (let i = 0; i < n; i++) {
      block[i & 4095] = i & 0xff;
      writeSync(fd, block, 0, block.length, 0);
      const t0 = performance.now();
      fdatasyncSync(fd);
      ms.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(n * 0.5)], p99: ms[Math.floor(n * 0.99)], max: ms[n - 1] };
}

const f2 = (n: number) => n.toFixed(2);
const lat = (l: Latency) => `p50 ${f2(l.p50)} / p99 ${f2(l.p99)} / max ${f2(l.max)} ms`;

async function run(ctx: SuiteContext): Promise<SuiteOutput> {
  const checks: Check[] = [];
  const notes: string[] = [];
  const cases: StoreCaseResult[] = [];
  const base = process.env.BENCH_STORE_DIR || tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'revswitch-bench-store-'));
  try {
    notes.push(`fdatasync of a 4 KiB overwrite in ${base}: ${lat(syncLatency(dir))} (about what FULL adds to each commit)`);
    const pgWhy = await pgAdmin(async (c) => {
      notes.push(`PostgreSQL at ${redactUrl(PG_URL)}: ${await pgSettingsNote(c)} ` +
        '(synchronous_commit=on and fsync=on: a commit returns once its WAL is flushed, as SQLite FULL)');
      return null;
    }).catch((e: unknown) => pgMessage(e));
    if (pgWhy !== null) notes.push(`PostgreSQL cases skipped: no server at ${redactUrl(PG_URL)} (${pgWhy}); set BENCH_PG_URL`);
    for (const p of PLANS) {
      if (p.postgres && pgWhy !== null) continue;
      ctx.log(`store: ${p.id}`);
      const c = await measure(ctx, p, dir, checks);
      cases.push(c);
      notes.push(`${p.id}: ${Math.round(c.opsPerSec).toLocaleString('en-US')} writes/s; write latency ${lat(c.writeLatencyMs)}; ` +
        `commit ${lat(c.commitMs)}; ${c.writesPerBatch.toFixed(0)} writes/batch; ` +
        `event-loop delay ${lat(c.eventLoopDelayMs)}, loop utilization ${(c.eventLoopUtilization * 100).toFixed(0)}%`);
    }
    const pgCase = cases.find((c) => c.id === 'journal/postgres');
    const full = cases.find((c) => c.id === 'journal/sqlite-full');
    const perOp = cases.find((c) => c.id === 'journal/postgres-per-op');
    const serial = cases.find((c) => c.id === 'journal/postgres-unpipelined');
    const vs = (a: StoreCaseResult, b: StoreCaseResult, what: string) =>
      `${what}: ${(a.opsPerSec / b.opsPerSec).toFixed(2)}x the writes/s; commit p50 ${f2(a.commitMs.p50)} vs ${f2(b.commitMs.p50)} ms, ` +
      `p99 ${f2(a.commitMs.p99)} vs ${f2(b.commitMs.p99)} ms; ${a.writesPerBatch.toFixed(0)} vs ${b.writesPerBatch.toFixed(0)} writes/batch`;
    if (pgCase && full) notes.push(vs(pgCase, full, `PostgreSQL vs SQLite FULL (worker), ${CONCURRENCY} writers`));
    if (pgCase && perOp) notes.push(vs(pgCase, perOp, 'multi-row statements vs one statement per operation (both pipelined)'));
    if (perOp && serial) notes.push(vs(perOp, serial, 'pipelined vs one statement at a time (both one statement per operation)'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (pgSchemas > 0) {
      await dropSchemas(PG_RUN).catch((e: unknown) => ctx.log(`store: could not drop the bench schemas ${PG_RUN}_*: ${pgMessage(e)}`));
    }
  }
  notes.push('a write is one insertTxn or one updateTxn (each also appends its history row in the same transaction); ' +
    'ops/s are writes/s; transactions/s are half');
  notes.push(`database files in ${base} (BENCH_STORE_DIR); FULL fsyncs the WAL on every commit, NORMAL only at checkpoints, ` +
    'so the gap between them is what this disk\'s fsync costs');
  notes.push('event-loop delay is monitorEventLoopDelay at 1 ms resolution over the sampled windows; the inline case runs ' +
    'SQLite on the event loop and shows what the worker thread saves');
  const targets: TargetSpec[] = [];
  return { cases, targets, checks, notes };
}

export const storeSuite: Suite = {
  name: 'store',
  description: 'journal writes/s with group commit: SQLite FULL/NORMAL (worker, inline) and PostgreSQL (pipelined or not) against MemoryStore; commit latency, event-loop delay',
  variantLabel: 'writers',
  baselineName: BASELINE,
  run,
};
