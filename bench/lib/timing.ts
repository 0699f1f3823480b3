/**
 * The timing loop. Each case runs for a fixed time slice per sample rather than a fixed
 * count, so fast and slow cases cost the same wall time. A case's function is called in
 * batches (sized during warmup so one batch takes about a millisecond) and the clock is
 * read only between batches: process.hrtime.bigint() costs tens of nanoseconds, which
 * would otherwise be a visible share of a sub-microsecond operation.
 *
 * Every result is stored in a module-level sink, so V8 cannot prove the call useless and
 * drop it, nor skip materialising the object it returns.
 *
 * Cases are measured as a group with their samples interleaved (A B C, A B C, ...):
 * drift on a shared machine (another process, thermal throttling, a GC-heavy neighbour
 * case) then spreads over all cases instead of landing on whichever ran last, which
 * matters when the headline figure is a ratio of two cases.
 */
import type { TimingOptions } from './options.js';

export interface BenchCase {
  id: string;
  fn: () => unknown;
}

export interface Measurement {
  id: string;
  /** Median of the samples' throughputs. */
  opsPerSec: number;
  /** 1e6 / opsPerSec. */
  usPerOp: number;
  sampleOpsPerSec: number[];
  minOpsPerSec: number;
  maxOpsPerSec: number;
  /** (max - min) / median, in percent: how noisy the samples were. */
  spreadPct: number;
  /** Calls made while sampling (warmup excluded). */
  iterations: number;
  /** Calls between two clock reads. */
  batch: number;
  sampledMs: number;
}

let sink: unknown;

/** The last value a case returned; read it so the sink is never dead either. */
export function lastSunk(): unknown {
  return sink;
}

function runBatch(fn: () => unknown, n: number): void {
  for (let i = 0; i < n; i++) sink = fn();
}

const now = process.hrtime.bigint;
const NS_PER_MS = 1_000_000n;

/** Runs `fn` for `ms`, growing the batch until one takes ~1 ms; returns the batch size. */
function warmup(fn: () => unknown, ms: number): number {
  let batch = 1;
  const deadline = now() + BigInt(Math.ceil(ms * 1e6));
  for (;;) {
    const t0 = now();
    runBatch(fn, batch);
    const took = now() - t0;
    if (took < NS_PER_MS && batch < 1 << 24) batch *= 2;
    if (t0 + took >= deadline) return batch;
  }
}

function sample(fn: () => unknown, batch: number, ms: number): { ops: number; ns: bigint } {
  const budget = BigInt(Math.ceil(ms * 1e6));
  let ops = 0;
  const t0 = now();
  let elapsed = 0n;
  do {
    runBatch(fn, batch);
    ops += batch;
    elapsed = now() - t0;
  } while (elapsed < budget);
  return { ops, ns: elapsed };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Warms every case up (all of them, before any sample, so the JIT has seen every type
 * the group will use), then takes `samples` interleaved rounds.
 */
export function measureGroup(
  cases: readonly BenchCase[],
  opts: TimingOptions,
  progress?: (done: number, total: number) => void,
): Measurement[] {
  const batches = cases.map((c) => warmup(c.fn, opts.warmupMs));
  const perCase = cases.map(() => ({ rates: [] as number[], iterations: 0, ns: 0n }));
  const total = cases.length * opts.samples;
  let done = 0;
  for (let s = 0; s < opts.samples; s++) {
    for (let i = 0; i < cases.length; i++) {
      const r = sample(cases[i].fn, batches[i], opts.sampleMs);
      perCase[i].rates.push(r.ops / (Number(r.ns) / 1e9));
      perCase[i].iterations += r.ops;
      perCase[i].ns += r.ns;
      progress?.(++done, total);
    }
  }
  return cases.map((c, i) => {
    const rates = perCase[i].rates;
    const med = median(rates);
    const min = Math.min(...rates);
    const max = Math.max(...rates);
    return {
      id: c.id,
      opsPerSec: med,
      usPerOp: 1e6 / med,
      sampleOpsPerSec: rates,
      minOpsPerSec: min,
      maxOpsPerSec: max,
      spreadPct: ((max - min) / med) * 100,
      iterations: perCase[i].iterations,
      batch: batches[i],
      sampledMs: Number(perCase[i].ns) / 1e6,
    };
  });
}

/**
 * Nanoseconds the loop itself costs per call (an empty function through the same
 * batch loop). Reported, never subtracted: it is a few ns against hundreds.
 */
export function harnessOverheadNs(opts: TimingOptions): number {
  let x = 0;
  const [m] = measureGroup([{ id: 'noop', fn: () => ++x }], { warmupMs: Math.min(opts.warmupMs, 100), sampleMs: Math.min(opts.sampleMs, 100), samples: 3 });
  return 1e9 / m.opsPerSec;
}
