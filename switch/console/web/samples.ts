/**
 * What the overview has seen: the totals of /api/overview at each refresh, kept for an
 * hour in the tab (nothing stored elsewhere), and the rates and latencies drawn from
 * them. The server gives totals since start; a rate is the difference of two samples
 * over the time between them, so a switch restart (totals going down) shows as a gap,
 * not a negative rate.
 */
import { bucketQuantile } from '../../observe/bucket-quantile.js';
import type { Overview } from './types.js';

export const KEEP_MS = 3_600_000;

export function keep(samples: readonly Overview[], next: Overview): Overview[] {
  return [...samples, next].filter((s) => s.at >= next.at - KEEP_MS);
}

/** The counter's rate per second between a and b; null when it cannot be told (one sample, or a restart). */
export function perSecond(a: Overview, b: Overview, value: (o: Overview) => number | null): number | null {
  const va = value(a);
  const vb = value(b);
  const dt = (b.at - a.at) / 1000;
  if (va === null || vb === null || dt <= 0 || vb < va) return null;
  return (vb - va) / dt;
}

/** The rate per second over the last `windowMs` of samples (at least two of them). */
export function recentRate(samples: readonly Overview[], windowMs: number, value: (o: Overview) => number | null): number | null {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  const first = samples.find((s) => s.at >= last.at - windowMs) ?? samples[0];
  return first === last ? perSecond(samples[samples.length - 2], last, value) : perSecond(first, last, value);
}

/** The q-quantile of what was added to the histogram between a and b, as histogram_quantile does; null when nothing was. */
export function intervalQuantile(q: number, a: Overview, b: Overview): number | null {
  const before = new Map(a.addedLatency.buckets.map(([le, n]) => [le, n]));
  const diff = b.addedLatency.buckets.map(([le, n]) => [le ?? Infinity, n - (before.get(le) ?? 0)] as const);
  // A restart between the samples resets the counters: nothing measurable in that interval.
  if (diff.length === 0 || diff[diff.length - 1][1] <= 0) return null;
  return bucketQuantile(q, diff);
}

/** The chart's columns: time (s), sales/s, timeouts/min, reversals/min, added latency p99 (ms) of each interval. */
export function chartData(samples: readonly Overview[]): [number[], (number | null)[], (number | null)[], (number | null)[], (number | null)[]] {
  const t: number[] = [];
  const sales: (number | null)[] = [];
  const timeouts: (number | null)[] = [];
  const reversals: (number | null)[] = [];
  const p99: (number | null)[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    t.push(b.at / 1000);
    sales.push(perSecond(a, b, (o) => o.sales));
    const perMin = (v: number | null): number | null => (v === null ? null : v * 60);
    timeouts.push(perMin(perSecond(a, b, (o) => o.timeouts)));
    reversals.push(perMin(perSecond(a, b, (o) => o.reversals)));
    const q = intervalQuantile(0.99, a, b);
    p99.push(q === null ? null : q * 1000);
  }
  return [t, sales, timeouts, reversals, p99];
}
