/**
 * The lifecycle event sinks on /metrics, read at scrape time: until now a NATS sink that
 * could not publish was invisible until something downstream missed its events.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { NatsSink, type EventBus } from './events/index.js';

/** Counters whose value is the sink's own running total. */
function total(registry: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, v: number) => void) => void): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      read((labels, v) => this.inc(labels, v));
    },
  });
}

export function registerEventMetrics(registry: Registry, bus: EventBus): void {
  const nats = (): NatsSink | undefined => bus.sinks.find((s): s is NatsSink => s instanceof NatsSink);
  total(registry, 'revswitch_events_emitted_total', 'Lifecycle events the switch emitted.', [], (set) => set({}, bus.stats().emitted));
  total(registry, 'revswitch_events_written_total', 'Lifecycle events each sink took (a file written; NATS: spooled on disk).', ['sink'],
    (set) => { for (const s of bus.stats().sinks) set({ sink: s.name }, s.written); });
  total(registry, 'revswitch_events_dropped_total', 'Lifecycle events lost: a sink\'s memory buffer full, or the NATS spool past maxSpoolBytes.', ['sink'], (set) => {
    const n = nats()?.stats();
    for (const s of bus.stats().sinks) set({ sink: s.name }, s.dropped + (s.name === 'nats' && n ? n.dropped : 0));
  });
  const withNats = nats() !== undefined;
  if (!withNats) return;
  total(registry, 'revswitch_events_published_total', 'Lifecycle events JetStream acknowledged.', [], (set) => set({}, nats()?.stats().published ?? 0));
  total(registry, 'revswitch_events_publish_failures_total', 'Attempts to publish to NATS that failed (each retried with backoff).', [],
    (set) => set({}, nats()?.stats().publishFailures ?? 0));
  new Gauge({
    name: 'revswitch_events_spool_bytes', help: 'Bytes of lifecycle events spooled on disk and not yet acknowledged by NATS.', registers: [registry],
    collect() { this.set(nats()?.stats().pendingBytes ?? 0); },
  });
  new Gauge({
    name: 'revswitch_events_oldest_unpublished_age_seconds', help: 'Age of the oldest lifecycle event not yet acknowledged by NATS (0 when none waits).', registers: [registry],
    collect() {
      const at = nats()?.stats().oldestUnpublishedAt ?? null;
      this.set(at === null ? 0 : Math.max(0, (Date.now() - at) / 1000));
    },
  });
  new Gauge({
    name: 'revswitch_events_nats_connected', help: '1 while the NATS event sink is connected, else 0.', registers: [registry],
    collect() { this.set(nats()?.stats().connected ? 1 : 0); },
  });
}
