/**
 * Benchmark entry point: `node dist/bench/run.js [--quick] [--record | --no-write] [--plot] [SUITE...]`.
 * Result files go to bench/out/ (ignored), or with --record to bench/results/ (committed).
 * No suite names means every suite, in registry order. Exit status: 0 when every
 * requested suite ran (targets missed or not: judging budgets is the guard's job),
 * 1 when a suite failed or a precondition check did not hold, 2 on a usage error.
 */
import type { ExtendedContext, ExtendedOutput } from './lib/extras.js';
import { BenchOptions, timingFromEnv, UsageError } from './lib/options.js';
import { gitCommit, machineInfo, runtimeInfo } from './lib/machine.js';
import { resultsDir, writeResult } from './lib/results.js';
import { BenchCheckError, evaluateTarget, linkBaselines, type Suite } from './lib/suite.js';
import { casesTable, targetsTable } from './lib/table.js';
import { harnessOverheadNs } from './lib/timing.js';

interface Registered {
  description: string;
  /** Loaded only when selected, so one suite's imports never slow another's start. */
  load: () => Promise<Suite>;
}

/** The suite registry. A new suite is one line here plus its module in ./suites/. */
export const SUITES: Readonly<Record<string, Registered>> = {
  codec: {
    description: 'decode/encode 0200, 0400, 0800 in every dialect; iso87a against npm iso_8583',
    load: async () => (await import('./suites/codec.js')).codecSuite,
  },
  rules: {
    description: 'rules.decide() per decision path and a mix; target >= 2,000,000 decisions/s',
    load: async () => (await import('./suites/rules.js')).rulesSuite,
  },
  matcher: {
    description: 'track+resolve at 10k/100k/1M in flight, expiry bursts, heap per entry; against Map+setTimeout',
    load: async () => (await import('./suites/matcher.js')).matcherSuite,
  },
  store: {
    description: 'journal writes/s with group commit: SQLite FULL/NORMAL (worker, inline) vs MemoryStore; commit latency, event-loop delay',
    load: async () => (await import('./suites/store.js')).storeSuite,
  },
  e2e: {
    description: 'load generator -> switch -> issuer simulator over loopback, against a bare len2 relay: TPS, latency percentiles, deadline -> 0400',
    load: async () => (await import('./suites/e2e.js')).e2eSuite,
  },
  scale: {
    description: 'e2e with the PostgreSQL store against SQLite, one node and two: saturation TPS, p99 at one open-loop rate, CPU per sale per layer',
    load: async () => (await import('./suites/scale.js')).scaleSuite,
  },
};

/** Units of every figure in a result file. */
export const UNITS = {
  opsPerSec: 'operations (messages) per second, median of the samples',
  usPerOp: 'microseconds per operation, 1e6 / opsPerSec',
  sampleOpsPerSec: 'operations per second of each sample',
  minOpsPerSec: 'operations per second, slowest sample',
  maxOpsPerSec: 'operations per second, fastest sample',
  spreadPct: 'percent, (max - min) / median over the samples',
  iterations: 'calls made while sampling (warmup excluded)',
  batch: 'calls between two clock reads',
  sampledMs: 'milliseconds spent sampling the case',
  messageBytes: 'bytes on the wire',
  ratioVsBaseline: 'times the baseline case opsPerSec (dimensionless)',
  warmupMs: 'milliseconds of warmup per case',
  sampleMs: 'milliseconds per sample',
  totalMemoryBytes: 'bytes',
  cpuSpeedMHz: 'MHz',
  loopOverheadNsPerOp: 'nanoseconds the timing loop costs per call (informational, not subtracted)',
} as const;

const USAGE = `usage: node dist/bench/run.js [--quick] [--record | --no-write] [--plot] [--list] [SUITE...]
  SUITE       one or more of: ${Object.keys(SUITES).join(', ')} (default: all)
  --quick     shorter warmup and samples (0.1 s x 3), for guards and smoke runs
  --record    write the result files to bench/results/ (committed, quoted by the README);
              without it they go to bench/out/, which git ignores
  --no-write  print the table only, write no result file
  --plot      also write the suite's plots (e2e: e2e-latency.svg, next to the results)
  --list      list the suites and exit
env: BENCH_SECONDS (per sample), BENCH_SAMPLES, BENCH_WARMUP_SECONDS, BENCH_RESULTS_DIR,
     BENCH_ONLY (case-id prefixes; codec and matcher)`;

function parseArgs(argv: string[]): { options: BenchOptions; suites: string[]; list: boolean; plot: boolean } {
  let quick = false;
  let write = true;
  let record = false;
  let list = false;
  let plot = false;
  const names: string[] = [];
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--no-write') write = false;
    else if (a === '--record') record = true;
    else if (a === '--list') list = true;
    else if (a === '--plot') plot = true;
    else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else names.push(a);
  }
  if (record && !write) throw new UsageError('--record and --no-write contradict each other');
  const known = Object.keys(SUITES);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown suite${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; expected one of ${known.join(', ')}`);
  }
  return {
    options: { ...timingFromEnv(quick), quick, write, resultsDir: write ? resultsDir(record) : null },
    suites: names.length === 0 ? known : [...new Set(names)],
    list,
    plot,
  };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench: ${e.message}\n${USAGE}`);
    return 2;
  }
  const { options, suites, list, plot } = parsed;
  if (list) {
    for (const [name, s] of Object.entries(SUITES)) console.log(`${name.padEnd(10)} ${s.description}`);
    return 0;
  }

  const machine = machineInfo();
  const runtime = runtimeInfo();
  const commit = gitCommit();
  const timing = { warmupMs: options.warmupMs, sampleMs: options.sampleMs, samples: options.samples };
  const log = (line: string) => process.stderr.write(line + '\n');
  log(`bench: ${machine.cpuModel} x${machine.cpuCount}, node ${runtime.node}, commit ${commit}`);
  log(`bench: warmup ${timing.warmupMs} ms, ${timing.samples} samples x ${timing.sampleMs} ms per case${options.quick ? ' (quick)' : ''}`);
  const loopOverheadNsPerOp = harnessOverheadNs(timing);

  let status = 0;
  for (const name of suites) {
    const suite = await SUITES[name].load();
    const ctx: ExtendedContext = { timing, quick: options.quick, log, plot, resultsDir: options.resultsDir };
    const timestamp = new Date().toISOString();
    let out: ExtendedOutput;
    try {
      out = await suite.run(ctx);
    } catch (e) {
      console.error(`bench: suite ${name} failed: ${e instanceof BenchCheckError ? e.message : e instanceof Error ? e.stack : String(e)}`);
      status = 1;
      continue;
    }
    linkBaselines(out.cases);
    const targets = out.targets.map((t) => evaluateTarget(out.cases, t));

    const failed = out.checks.filter((c) => !c.ok);
    if (failed.length > 0) status = 1;

    console.log(`\n== ${suite.name}: ${suite.description}`);
    console.log(out.table ?? casesTable(suite, out.cases));
    if (targets.length > 0) console.log('\n' + targetsTable(targets));
    for (const n of out.notes) console.log(`note: ${n}`);
    for (const c of failed) console.log(`FAILED CHECK: ${c.name}: ${c.detail}`);

    if (options.write) {
      const record = {
        schema: 1,
        suite: suite.name,
        description: suite.description,
        timestamp,
        machine,
        node: runtime.node,
        runtime,
        git: { commit },
        options: { ...timing, quick: options.quick },
        harness: { loopOverheadNsPerOp },
        units: UNITS,
        checks: out.checks,
        cases: out.cases,
        targets,
        notes: out.notes,
        ...out.extra,
      };
      const files = writeResult(suite.name, timestamp, record, options.resultsDir ?? undefined);
      console.log(`\nwrote ${files.file}\n  and ${files.latest}`);
    }
    for (const f of out.files ?? []) console.log(`wrote ${f}`);
  }
  return status;
}

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
  },
);
