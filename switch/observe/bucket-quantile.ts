/**
 * histogram_quantile over cumulative buckets, with no dependency at all: the admin server's
 * /api/overview and the console in the browser (switch/console/web/samples.ts) both use it.
 */

/**
 * The q-quantile of cumulative buckets [upper bound, count], as Prometheus's
 * histogram_quantile: linear within the bucket; the highest finite bound when it falls in +Inf.
 */
export function bucketQuantile(q: number, buckets: readonly (readonly [number, number])[]): number | null {
  if (buckets.length === 0) return null;
  const total = buckets[buckets.length - 1][1];
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return lowerBound + (le - lowerBound) * ((rank - lowerCount) / Math.max(count - lowerCount, Number.MIN_VALUE));
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
