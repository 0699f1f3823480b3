/**
 * GET /api/overview: the few figures the console's overview shows, as JSON, read from the
 * switch's own Prometheus registry (./metrics.ts) in the same scrape a GET /metrics does,
 * so the page and a Prometheus dashboard never disagree. Counts are totals since start:
 * the page turns them into rates from its own samples.
 *
 * Open like /metrics (no token even with admin.requireTokenForReads): the same numbers, no
 * transaction in it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { sendBody } from './admin-guard.js';
import { bucketQuantile } from './bucket-quantile.js';

export interface Overview {
  /** When read, epoch ms. */
  at: number;
  /** Sales and authorizations read from terminals (0200 and 0100 in). */
  sales: number;
  /** Issuer approvals (revswitch_issuer_answers_total{outcome="approved"}); null on a switch that does not export it. */
  approvals: number | null;
  /** Answers written to terminals (0210 and 0110 out). */
  answers: number;
  timeouts: number;
  /** Reversals queued by the switch (every failure class). */
  reversals: number;
  /** Refunds queued. */
  refunds: number;
  saf: { pending: number; sent: number; oldestAgeSeconds: number };
  manualQueue: number;
  reviewOpen: number;
  reviewOldestAgeSeconds: number;
  inFlight: number;
  upstreams: { name: string; up: boolean }[];
  /** What the switch adds to a sale, seconds: p50 and p99 since start (histogram_quantile over the buckets); null before the first sale. */
  addedLatency: { count: number; p50: number | null; p99: number | null; buckets: [number, number][] };
}

type Values = MetricValue<string>[];

/** prom-client's scrape, by metric name (the bucket, sum and count series of a histogram under its own name). */
async function scrape(registry: Registry): Promise<Map<string, Values>> {
  const all = (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
  return new Map(all.map((m) => [m.name, m.values]));
}

function sum(values: Values | undefined, match: Record<string, string> = {}, metricName?: string): number {
  let n = 0;
  for (const v of values ?? []) {
    if (metricName !== undefined && (v as { metricName?: string }).metricName !== metricName) continue;
    const labels = v.labels as Record<string, string | number | undefined>;
    if (Object.entries(match).every(([k, want]) => String(labels[k]) === want)) n += v.value;
  }
  return n;
}


export async function readOverview(registry: Registry, now = Date.now()): Promise<Overview> {
  const m = await scrape(registry);
  const messages = m.get('revswitch_messages_total');
  const answers = m.get('revswitch_issuer_answers_total');
  const latency = m.get('revswitch_added_latency_seconds') ?? [];
  const buckets: [number, number][] = latency
    .filter((v) => (v as { metricName?: string }).metricName === 'revswitch_added_latency_seconds_bucket')
    .map((v) => [v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const saf = m.get('revswitch_saf_depth');
  return {
    at: now,
    sales: sum(messages, { side: 'terminal', direction: 'in', mti_class: '0200' }) + sum(messages, { side: 'terminal', direction: 'in', mti_class: '0100' }),
    approvals: answers === undefined ? null : sum(answers, { outcome: 'approved' }),
    answers: sum(messages, { side: 'terminal', direction: 'out', mti_class: '0210' }) + sum(messages, { side: 'terminal', direction: 'out', mti_class: '0110' }),
    timeouts: sum(m.get('revswitch_upstream_timeouts_total')),
    reversals: sum(m.get('revswitch_reversals_total')),
    refunds: sum(m.get('revswitch_refunds_total'), { state: 'queued' }),
    saf: { pending: sum(saf, { state: 'pending' }), sent: sum(saf, { state: 'sent' }), oldestAgeSeconds: sum(m.get('revswitch_saf_oldest_entry_age_seconds')) },
    manualQueue: sum(m.get('revswitch_manual_queue_size')),
    reviewOpen: sum(m.get('revswitch_review_open')),
    reviewOldestAgeSeconds: sum(m.get('revswitch_review_oldest_age_seconds')),
    inFlight: sum(m.get('revswitch_requests_in_flight')),
    upstreams: (m.get('revswitch_upstream_up') ?? []).map((v) => ({ name: String(v.labels.upstream), up: v.value === 1 })).sort((a, b) => a.name.localeCompare(b.name)),
    addedLatency: {
      count: sum(latency, {}, 'revswitch_added_latency_seconds_count'),
      p50: bucketQuantile(0.5, buckets),
      p99: bucketQuantile(0.99, buckets),
      buckets,
    },
  };
}

/** The /api/overview route (GET or HEAD); false for any other path. */
export function overviewRoute(registry: Registry): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://admin.invalid').pathname;
    if (path !== '/api/overview') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendBody(res, 405, { allow: 'GET, HEAD', 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ error: 'GET only' }) + '\n');
      return true;
    }
    // JSON has no Infinity: the +Inf bucket goes out as null.
    const text = JSON.stringify(await readOverview(registry), (_k, v: unknown) => (v === Infinity ? null : v)) + '\n';
    sendBody(res, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, text);
    return true;
  };
}
