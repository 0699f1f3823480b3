/**
 * How long to measure. Defaults suit a human reading the table; `--quick` and the
 * BENCH_* variables exist so a CI guard can trade precision for time.
 *
 *   BENCH_SECONDS          seconds per sample          (default 0.3, --quick 0.1)
 *   BENCH_SAMPLES          samples per case, median    (default 5,   --quick 3)
 *   BENCH_WARMUP_SECONDS   warmup per case             (default 0.3, --quick 0.1)
 *   BENCH_RESULTS_DIR      where result files go       (default bench/results)
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
