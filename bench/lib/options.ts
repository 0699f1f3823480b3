/**
 * How long to measure. Defaults suit a human reading the table; `--quick` and the
 * BENCH_* variables exist so a CI guard can trade precision for time.
 *
 *   BENCH_SECONDS          seconds per sample          (default 0.3, --quick 0.1)
 *   BENCH_SAMPLES          samples per case, median    (default 5,   --quick 3)
 *   BENCH_WARMUP_SECONDS   warmup per case             (default 0.3, --quick 0.1)
 *   BENCH_RESULTS_DIR      where result files go       (default bench/results)
 *   BENCH_ONLY             comma-separated case-id prefixes: suites that support it
 *                          (codec, matcher) measure only those cases and their baselines
 *
 * Environment variables win over `--quick`, so `BENCH_SAMPLES=9 ... --quick` is allowed.
 */
export interface TimingOptions {
  warmupMs: number;
  sampleMs: number;
  samples: number;
}

export interface BenchOptions extends TimingOptions {
  quick: boolean;
  /** false with --no-write: print the table, leave bench/results alone. */
  write: boolean;
  resultsDir: string | null;
}

export const DEFAULT_TIMING: TimingOptions = { warmupMs: 300, sampleMs: 300, samples: 5 };
export const QUICK_TIMING: TimingOptions = { warmupMs: 100, sampleMs: 100, samples: 3 };

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function positive(env: NodeJS.ProcessEnv, name: string, integer: boolean): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

export function timingFromEnv(quick: boolean, env: NodeJS.ProcessEnv = process.env): TimingOptions {
  const base = quick ? QUICK_TIMING : DEFAULT_TIMING;
  const seconds = positive(env, 'BENCH_SECONDS', false);
  const samples = positive(env, 'BENCH_SAMPLES', true);
  const warmup = positive(env, 'BENCH_WARMUP_SECONDS', false);
  return {
    warmupMs: warmup === undefined ? base.warmupMs : warmup * 1000,
    sampleMs: seconds === undefined ? base.sampleMs : seconds * 1000,
    samples: samples ?? base.samples,
  };
}

/**
 * BENCH_ONLY: which cases to measure, as case-id prefixes ("decode/0200/iso87a/,pairs/1M/").
 * Null when unset: everything. The bench guard uses it to measure only what it guards.
 * A suite that honours it keeps a selected case's baseline too, and says so in a note.
 */
export interface CaseFilter {
  prefixes: string[];
  selects(id: string): boolean;
}

export function caseFilterFromEnv(env: NodeJS.ProcessEnv = process.env): CaseFilter | null {
  const raw = env.BENCH_ONLY;
  if (raw === undefined || raw.trim() === '') return null;
  const prefixes = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  return { prefixes, selects: (id) => prefixes.some((p) => id.startsWith(p)) };
}

/** The ids a filter keeps: the selected ones and the baselines they are compared with. */
export function keptIds<T extends { id: string; baselineId?: string | undefined }>(cases: readonly T[], f: CaseFilter): Set<string> {
  const keep = new Set<string>();
  for (const c of cases) {
    if (!f.selects(c.id)) continue;
    keep.add(c.id);
    if (c.baselineId !== undefined) keep.add(c.baselineId);
  }
  return keep;
}
