/**
 * The event bus: the switch emits lifecycle events, the bus hands them to the sinks.
 *
 * emit() never blocks and never throws: it stamps the event and pushes it on an array.
 * Once per event-loop turn (one setImmediate for the whole batch, never a timer per
 * event) the batch is encoded and given to every sink. Each sink has its own lane, so a
 * slow sink holds up only itself; while its write is in progress the next batch waits in
 * memory (bounded: past `maxBuffered` events are dropped and counted, never the switch's
 * work). Sinks that must not lose events (NATS) make their own write a local disk append.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { delimited, eventSchema, type LifecycleEventInput } from './schema.js';

export interface EventSink {
  /** For logs and stats. */
  readonly name?: string;
  /** One batch: each element one encoded LifecycleEvent (no length prefix). Resolves when it is taken. */
  write(batch: Uint8Array[]): Promise<void>;
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** Stamped on every event, and part of every event id. */
  node: string;
  log: Logger;
  /** Events waiting in memory for one sink, at most. Default 1,000,000. */
  maxBuffered?: number;
}

export interface SinkStats {
  name: string;
  written: number;
  dropped: number;
  failedWrites: number;
  buffered: number;
}

export interface BusStats {
  emitted: number;
  /** Events that could not be encoded (a bug): dropped. */
  invalid: number;
  sinks: SinkStats[];
}

class Lane {
  pending: Uint8Array[] = [];
  running = false;
  idle: (() => void)[] = [];
  readonly stats: SinkStats;

  constructor(readonly sink: EventSink, private readonly max: number, private readonly log: Logger) {
    this.stats = { name: sink.name ?? 'sink', written: 0, dropped: 0, failedWrites: 0, buffered: 0 };
  }

  push(batch: readonly Uint8Array[]): void {
    let room = this.max - this.pending.length;
    for (const b of batch) {
      if (room-- > 0) this.pending.push(b);
      else this.stats.dropped++;
    }
    if (room < 0) this.log.error('event sink too slow: events dropped', { sink: this.stats.name, dropped: this.stats.dropped });
    this.stats.buffered = this.pending.length;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.stats.buffered = 0;
      try {
        await this.sink.write(batch);
        this.stats.written += batch.length;
      } catch (e) {
        this.stats.failedWrites++;
        this.stats.dropped += batch.length;
        this.log.error('event sink write failed: batch dropped', { sink: this.stats.name, events: batch.length, error: (e as Error).message });
      }
    }
    this.running = false;
    const waiting = this.idle;
    this.idle = [];
    for (const r of waiting) r();
  }

  whenIdle(): Promise<void> {
    return this.running ? new Promise((r) => this.idle.push(r)) : Promise.resolve();
  }
}

export class EventBus {
  private buf: LifecycleEventInput[] = [];
  private scheduled = false;
  private closed = false;
  private seq = 0;
  private emitted = 0;
  private invalid = 0;
  private readonly prefix: string;
  private readonly lanes: Lane[];
  private readonly schema = eventSchema();

  constructor(readonly sinks: readonly EventSink[], private readonly opts: EventBusOptions) {
    // Unique across restarts and nodes: node, start time, a random part, then a counter.
    this.prefix = `${opts.node}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}.`;
    this.lanes = sinks.map((s) => new Lane(s, opts.maxBuffered ?? 1_000_000, opts.log));
  }

  /** Takes the event (it is stamped in place) for the sinks. Never blocks, never throws. */
  emit(e: LifecycleEventInput): void {
    if (this.closed) return;
    if (e.eventId === undefined) e.eventId = this.prefix + (++this.seq).toString(36);
    if (e.timeMs === undefined) e.timeMs = Date.now();
    if (e.node === undefined) e.node = this.opts.node;
    this.emitted++;
    this.buf.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const events = this.buf;
    if (events.length === 0) return;
    this.buf = [];
    const batch: Uint8Array[] = [];
    for (const e of events) {
      try {
        batch.push(this.schema.encode(e));
      } catch (err) {
        this.invalid++;
        this.opts.log.error('event not encodable: dropped', { kind: e.kind, txn: e.txnId, error: (err as Error).message });
      }
    }
    if (batch.length > 0) for (const l of this.lanes) l.push(batch);
  };

  /** Resolves once every event emitted so far has been written by every sink (or dropped). */
  async flush(): Promise<void> {
    this.drain();
    await Promise.all(this.lanes.map((l) => l.whenIdle()));
  }

  /** Flushes, then closes the sinks; later emits are ignored. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    for (const s of this.sinks) {
      try {
        await s.close();
      } catch (e) {
        this.opts.log.error('event sink close failed', { sink: s.name ?? 'sink', error: (e as Error).message });
      }
    }
  }

  stats(): BusStats {
    return { emitted: this.emitted, invalid: this.invalid, sinks: this.lanes.map((l) => ({ ...l.stats })) };
  }
}

export interface FileSinkOptions {
  dir: string;
  /** fdatasync after every batch: survives a power cut, costs a disk flush per batch. */
  fsync?: boolean;
  now?: () => number;
}

/** UTC day of an epoch-ms time, YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Length-delimited protobuf files, one per UTC day: `events-YYYY-MM-DD.pb` in `dir`,
 * opened in append mode (a restart, or the manual CLI, appends to the same file). Each
 * batch is one write() of whole records, so two appending processes never interleave
 * inside a record. The day is the day the batch is written.
 */
export class FileSink implements EventSink {
  readonly name = 'file';
  private fh: FileHandle | null = null;
  private day = '';
  private readonly now: () => number;

  constructor(private readonly opts: FileSinkOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The file events written now go to. */
  currentFile(): string {
    return join(this.opts.dir, `events-${utcDay(this.now())}.pb`);
  }

  async write(batch: Uint8Array[]): Promise<void> {
    const day = utcDay(this.now());
    if (day !== this.day || this.fh === null) {
      if (this.fh) await this.fh.close();
      this.fh = null;
      // Owner only: events carry masked card data and amounts, nobody else's to read.
      await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
      this.fh = await open(join(this.opts.dir, `events-${day}.pb`), 'a', 0o600);
      this.day = day;
    }
    const buf = delimited(batch);
    let off = 0;
    while (off < buf.length) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
    if (this.opts.fsync) await this.fh.datasync();
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
  }
}
