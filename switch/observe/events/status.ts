/**
 * What the event sinks are doing, for people: the line logged at start and the /readyz
 * detail. Events are evidence, not the payment path: a sink that is down never makes the
 * switch unready, but it must not be invisible until something fails either.
 */
import type { EventsConfig } from '../../config/index.js';
import type { EventBus } from './emitter.js';
import { NatsSink } from './nats-sink.js';

/** The configured sinks, one phrase each ("none" when events are off). */
export function describeSinks(c: EventsConfig): string {
  const out: string[] = [];
  if (c.file) out.push(`file ${c.file.dir}${c.file.fsync ? ' (fsync)' : ''}`);
  if (c.nats) out.push(`NATS ${c.nats.url} subject ${c.nats.subject} (stream ${c.nats.stream}; spooled in ${c.nats.spoolDir})`);
  return out.length === 0 ? 'none' : out.join('; ');
}

/** Each sink's state now: what it wrote, what waits, what was dropped. */
export function sinkStatus(bus: EventBus, now = Date.now()): string[] {
  const lanes = bus.stats().sinks;
  return bus.sinks.map((sink, i) => {
    const lane = lanes[i];
    const base = `events to ${lane.name}: ${lane.written} written, ${lane.buffered} waiting in memory, ${lane.dropped} dropped`;
    if (!(sink instanceof NatsSink)) return base;
    const n = sink.stats();
    const age = n.oldestUnpublishedAt === null ? '' : `, the oldest unpublished ${Math.max(0, Math.round((now - n.oldestUnpublishedAt) / 1000))} s old`;
    return `${base}; NATS ${n.connected ? 'connected' : 'NOT connected'}, ${n.published} published, ${n.pendingBytes} bytes spooled${age}` +
      (n.dropped > 0 ? `, ${n.dropped} dropped with the spool full` : '');
  });
}
