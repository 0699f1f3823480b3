/**
 * Lifecycle events: the schema (events.proto), the bus the switch emits on, and the sinks
 * the config chooses. `createEventBus` returns null when no sink is configured, and every
 * emitting call site checks for null first: events off cost one comparison.
 */
import type { EventsConfig } from '../../config/index.js';
import type { Logger } from '../log.js';
import { EventBus, FileSink, type EventSink } from './emitter.js';
import { NatsSink, natsSinkOrInbox, type NatsSinkOptions } from './nats-sink.js';

export { EventBus, FileSink, utcDay, type EventSink, type BusStats } from './emitter.js';
export { NatsSink, InboxSink } from './nats-sink.js';
export { eventSchema, splitDelimited, EVENT_KINDS, type EventKind, type LifecycleEventInput } from './schema.js';

export interface CreateBusOptions {
  node: string;
  log: Logger;
  /**
   * 'switch': the NATS spool must be free (a second switch on the same spool is an error).
   * 'cli': a short-lived process; when the switch owns the spool, events go to its inbox.
   */
  role?: 'switch' | 'cli';
  nats?: Omit<NatsSinkOptions, 'log'>;
}

export function eventsEnabled(c: EventsConfig): boolean {
  return c.file !== undefined || c.nats !== undefined;
}

/** The bus over the configured sinks, or null when none is configured. */
export async function createEventBus(c: EventsConfig, opts: CreateBusOptions): Promise<EventBus | null> {
  if (!eventsEnabled(c)) return null;
  const sinks: EventSink[] = [];
  if (c.file) sinks.push(new FileSink({ dir: c.file.dir, fsync: c.file.fsync }));
  if (c.nats) {
    const o = { log: opts.log, ...opts.nats };
    try {
      sinks.push(opts.role === 'cli' ? await natsSinkOrInbox(c.nats, o) : await NatsSink.open(c.nats, o));
    } catch (e) {
      for (const s of sinks) await s.close().catch(() => undefined);
      throw new Error(`events.nats.spoolDir: ${(e as Error).message}`);
    }
  }
  return new EventBus(sinks, { node: opts.node, log: opts.log });
}
