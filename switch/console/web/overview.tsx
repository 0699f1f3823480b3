/**
 * Overview: the switch now and over the last hour, refreshed every few seconds from
 * /api/overview (the same registry /metrics reads). Totals are shown beside the rates
 * so the page can be checked against a scrape.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { errorText, getJson } from './api.js';
import { Chart } from './chart.js';
import { age, count, ms, rate } from './format.js';
import { chartData, keep, perSecond, recentRate } from './samples.js';
import type { Overview } from './types.js';

export const REFRESH_MS = 3000;
const MINUTE = 60_000;

function Tile({ id, label, value, raw, sub }: { id: string; label: string; value: string; raw?: number | null; sub?: string }) {
  return (
    <div class="tile" data-testid={id} data-value={raw === undefined || raw === null ? '' : String(raw)}>
      <div class="label">{label}</div>
      <div class="value">{value}</div>
      {sub === undefined ? null : <div class="sub">{sub}</div>}
    </div>
  );
}

export function OverviewPage() {
  const [samples, setSamples] = useState<Overview[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = async (): Promise<void> => {
      try {
        const o = await getJson<Overview>('/api/overview');
        if (stopped) return;
        setSamples((s) => keep(s, o));
        setError(null);
      } catch (e) {
        if (!stopped) setError(errorText(e));
      }
      if (!stopped) timer = window.setTimeout(() => void tick(), REFRESH_MS);
    };
    void tick();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, []);

  const data = useMemo(() => chartData(samples), [samples]);
  const last = samples.length === 0 ? null : samples[samples.length - 1];
  if (last === null) return <section><h1>Overview</h1>{error === null ? <p class="muted">Loading…</p> : <p class="error">{error}</p>}</section>;

  const perMin = (v: (o: Overview) => number | null): string => {
    const r = recentRate(samples, MINUTE, v);
    return r === null ? '-' : rate(r * 60);
  };
  // Sales per second over the last refresh: what is happening now; the per-minute figures smooth over the last minute.
  const sales = samples.length < 2 ? null : perSecond(samples[samples.length - 2], last, (o) => o.sales);
  return (
    <section>
      <h1>Overview</h1>
      <p class="muted" data-testid="overview-at" data-value={String(last.at)}>
        As of {new Date(last.at).toLocaleTimeString()} · refreshed every {REFRESH_MS / 1000} s · {samples.length} samples kept in this tab (up to an hour)
        {error === null ? null : <span class="error"> · last refresh failed: {error}</span>}
      </p>
      <div class="tiles">
        <Tile id="ov-sales" label="Sales / s" value={rate(sales)} raw={last.sales} sub={`${count(last.sales)} since start`} />
        <Tile id="ov-approvals" label="Approvals / min" value={last.approvals === null ? 'n/a' : perMin((o) => o.approvals)} raw={last.approvals}
          sub={last.approvals === null ? `not counted by this switch; ${count(last.answers)} answers sent` : `${count(last.approvals)} since start`} />
        <Tile id="ov-timeouts" label="Timeouts / min" value={perMin((o) => o.timeouts)} raw={last.timeouts} sub={`${count(last.timeouts)} since start`} />
        <Tile id="ov-reversals" label="Reversals / min" value={perMin((o) => o.reversals)} raw={last.reversals} sub={`${count(last.reversals)} queued since start`} />
        <Tile id="ov-refunds" label="Refunds / min" value={perMin((o) => o.refunds)} raw={last.refunds} sub={`${count(last.refunds)} queued since start`} />
        <Tile id="ov-saf" label="SAF depth" value={count(last.saf.pending + last.saf.sent)} raw={last.saf.pending + last.saf.sent}
          sub={`${last.saf.pending} pending, ${last.saf.sent} sent`} />
        <Tile id="ov-saf-age" label="Oldest SAF entry" value={last.saf.pending + last.saf.sent === 0 ? '-' : age(last.saf.oldestAgeSeconds * 1000)} raw={last.saf.oldestAgeSeconds} />
        <Tile id="ov-manual" label="Manual queue" value={count(last.manualQueue)} raw={last.manualQueue} />
        <Tile id="ov-review" label="Review queue" value={count(last.reviewOpen)} raw={last.reviewOpen}
          sub={last.reviewOpen === 0 ? undefined : `oldest ${age(last.reviewOldestAgeSeconds * 1000)}`} />
        <Tile id="ov-p50" label="Added latency p50" value={ms(last.addedLatency.p50)} raw={last.addedLatency.p50} sub="since start" />
        <Tile id="ov-p99" label="Added latency p99" value={ms(last.addedLatency.p99)} raw={last.addedLatency.p99} sub="since start" />
        <Tile id="ov-inflight" label="In flight" value={count(last.inFlight)} raw={last.inFlight} />
      </div>
      <h2>Upstreams</h2>
      <div class="tiles">
        {last.upstreams.length === 0 ? <p class="muted">No upstream configured.</p> : last.upstreams.map((u) => (
          <div class="tile" key={u.name} data-testid={`ov-upstream-${u.name}`} data-value={u.up ? 'up' : 'down'}>
            <div class="label">{u.name}</div>
            <div class={`value ${u.up ? 'up' : 'down'}`}>{u.up ? 'signed on' : 'down'}</div>
          </div>
        ))}
      </div>
      <Chart data={data} />
    </section>
  );
}
