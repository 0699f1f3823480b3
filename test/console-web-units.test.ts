/**
 * The console's pure parts, in Node: the overview's rates and interval quantiles from
 * its samples (switch/console/web/samples.ts) and the CSV it builds
 * (switch/console/web/csv.ts), whose cells must never run as spreadsheet formulas.
 */
import t from 'tap';
import { toCsv } from '../switch/console/web/csv.js';
import { chartData, intervalQuantile, keep, KEEP_MS, perSecond, recentRate } from '../switch/console/web/samples.js';
import type { Overview } from '../switch/console/web/types.js';

function sample(at: number, sales: number, buckets: [number | null, number][] = [[0.001, 0], [0.01, 0], [null, 0]]): Overview {
  return {
    at, sales, approvals: null, answers: sales, timeouts: 0, reversals: 0, refunds: 0, saf: { pending: 0, sent: 0, oldestAgeSeconds: 0 },
    manualQueue: 0, reviewOpen: 0, reviewOldestAgeSeconds: 0, inFlight: 0, upstreams: [], addedLatency: { count: buckets.at(-1)?.[1] ?? 0, p50: null, p99: null, buckets },
  };
}

t.test('rates from totals; a restart is a gap, not a negative rate', async (tt) => {
  const a = sample(0, 100);
  const b = sample(2000, 300);
  tt.equal(perSecond(a, b, (o) => o.sales), 100);
  tt.equal(perSecond(b, sample(4000, 10), (o) => o.sales), null, 'totals went down: the switch restarted');
  tt.equal(perSecond(a, sample(0, 500), (o) => o.sales), null, 'no time between the two');
  tt.equal(perSecond(a, b, (o) => o.approvals), null, 'a figure the switch does not count');
  tt.equal(recentRate([a], 60_000, (o) => o.sales), null, 'one sample: no rate yet');
  tt.equal(recentRate([sample(0, 0), sample(30_000, 300), sample(90_000, 1500)], 60_000, (o) => o.sales), 20, 'over the last minute of samples');
});

t.test('an hour of samples is kept, no more', async (tt) => {
  let kept: Overview[] = [];
  for (let at = 0; at <= 2 * KEEP_MS; at += 60_000) kept = keep(kept, sample(at, at));
  tt.equal(kept[0].at, KEEP_MS);
  tt.equal(kept.length, 61);
});

t.test('the quantile of what an interval added, as histogram_quantile', async (tt) => {
  const a = sample(0, 0, [[0.001, 10], [0.01, 10], [null, 10]]);
  const b = sample(3000, 0, [[0.001, 10], [0.01, 20], [null, 20]]);
  tt.ok(Math.abs((intervalQuantile(0.5, a, b) ?? 0) - 0.0055) < 1e-15, 'ten new observations in the 1-10 ms bucket: the median halfway through it');
  tt.equal(intervalQuantile(0.5, a, a), null, 'nothing added');
  const c = sample(6000, 0, [[0.001, 10], [0.01, 20], [null, 30]]);
  tt.equal(intervalQuantile(0.99, b, c), 0.01, 'in +Inf: the highest finite bound');
  const [t0, sales, , , p99] = chartData([a, b, c]);
  tt.same(t0, [3, 6]);
  tt.same(sales, [0, 0]);
  tt.equal(p99[1], 10, 'milliseconds');
});

t.test('CSV: quoted as RFC 4180 asks, and no cell runs as a formula', async (tt) => {
  const csv = toCsv([{ title: 'a', value: (r: string[]) => r[0] }, { title: 'b, c', value: (r: string[]) => r[1] }], [
    ['plain', 'with "quotes"'], ['=HYPERLINK("http://x")', '+1'], ['-2', '@SUM(A1)'], ['line\nbreak', ''],
  ]);
  tt.equal(csv, [
    'a,"b, c"', 'plain,"with ""quotes"""', `"'=HYPERLINK(""http://x"")",'+1`, "'-2,'@SUM(A1)", '"line\nbreak",', '',
  ].join('\r\n'));
  tt.equal(toCsv([{ title: 'n', value: (r: number) => r }], [-5]), "n\r\n-5\r\n", 'a negative number stays a number');
});
