/**
 * Named event counters: plain numbers, cheap on the hot path, that tests and the shutdown
 * summary read. metrics.ts exposes them through prom-client at scrape time (named
 * metrics for the important ones, and all of them as revswitch_switch_events_total).
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values].sort(([a], [b]) => a.localeCompare(b)));
  }
}
