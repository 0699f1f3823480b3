/**
 * Events to a NATS JetStream subject, without ever holding up the switch.
 *
 * write() only appends the batch to the disk spool (./spool.ts). A background pump reads
 * the spool from the committed position, publishes each record with the `Nats-Msg-Id`
 * header set to the event id, and moves the committed position only after JetStream's
 * PubAck for every record of the chunk. When NATS is down, or the stream missing, the pump
 * backs off and retries; events keep accumulating on disk and go out in order once it is
 * back. A record published twice (its ack lost in an outage, or a crash before the commit)
 * carries the same id, which JetStream drops as a duplicate within the stream's duplicate
 * window: exactly once in the stream, as long as the outage is shorter than that window.
 */
import { connect, nanos, type JetStreamClient, type NatsConnection } from 'nats';
import type { NatsEventsConfig } from '../../config/index.js';
import type { Logger } from '../log.js';
import type { EventSink } from './emitter.js';
import { eventSchema } from './schema.js';
import { dropInInbox, Spool, SpoolLocked, type SpoolOptions } from './spool.js';

/** The `events.nats` config (switch/config.ts). */
export type NatsSinkConfig = NatsEventsConfig;

export interface NatsSinkOptions {
  log: Logger;
  /** Records published per chunk (in flight at once). Default 256. */
  chunk?: number;
  /** On close, how long to keep publishing what is spooled. Default 2000 ms. */
  drainMs?: number;
  /** Reconnect and retry delays; the last repeats. */
  backoffMs?: number[];
  /** How often the idle pump looks at the inbox. Default 1000 ms. */
  inboxPollMs?: number;
  spool?: SpoolOptions;
}

export interface NatsSinkStats {
  /** Connected, and the last attempt to publish did not fail. */
  connected: boolean;
  published: number;
  duplicates: number;
  /** Bytes spooled and not yet acknowledged. */
  pendingBytes: number;
  dropped: number;
  publishFailures: number;
  /** When the oldest event not yet acknowledged happened (its timeMs); null when all are. */
  oldestUnpublishedAt: number | null;
}

export class NatsSink implements EventSink {
  readonly name = 'nats';
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private streamReady = false;
  private stopping = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private failures = 0;
  private readonly st = { published: 0, duplicates: 0, dropped: 0, publishFailures: 0 };
  private caughtUp: (() => void)[] = [];
  private readonly schema = eventSchema();
  /** The first spooled record's event time, read each time the pump takes a chunk: an outage shows as its age. */
  private oldestAt: number | null = null;

  private constructor(private readonly cfg: NatsSinkConfig, private readonly spool: Spool, private readonly opts: NatsSinkOptions) {}

  /** Opens the spool (throws SpoolLocked when another live process owns it) and starts the pump. */
  static async open(cfg: NatsSinkConfig, opts: NatsSinkOptions): Promise<NatsSink> {
    const spool = await Spool.open(cfg.spoolDir, { fsync: cfg.fsync, ...opts.spool });
    const s = new NatsSink(cfg, spool, opts);
    s.loop = s.pump();
    return s;
  }

  async write(batch: Uint8Array[]): Promise<void> {
    if (this.spool.pendingBytes > this.cfg.maxSpoolBytes) {
      this.st.dropped += batch.length;
      if (this.st.dropped === batch.length) this.opts.log.error('event spool full: events dropped until NATS catches up', { spool: this.cfg.spoolDir, maxSpoolBytes: this.cfg.maxSpoolBytes });
      return;
    }
    await this.spool.append(batch);
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private backoff(): number {
    const b = this.opts.backoffMs ?? [100, 250, 500, 1000, 2000];
    return b[Math.min(this.failures, b.length) - 1] ?? b[b.length - 1];
  }

  /** The background loop: connect, ingest the inbox, publish what is spooled, commit. */
  private async pump(): Promise<void> {
    // Monotonic: a wall clock stepped back must not leave the inbox unread for an hour.
    let lastInbox = -Infinity;
    while (!this.stopping) {
      try {
        const now = performance.now();
        if (now - lastInbox >= (this.opts.inboxPollMs ?? 1000)) {
          lastInbox = now;
          const n = await this.spool.ingestInbox();
          if (n > 0) this.opts.log.info('events taken from the spool inbox', { events: n });
        }
        const next = await this.spool.next(this.opts.chunk ?? 256);
        this.oldestAt = next === null ? null : this.schema.decode(next.records[0]).timeMs;
        if (next === null) {
          this.notifyCaughtUp();
          await this.sleep(this.opts.inboxPollMs ?? 1000);
          continue;
        }
        const js = await this.ready();
        const acks = await Promise.all(next.records.map((r) => {
          const id = this.schema.decode(r).eventId;
          return js.publish(this.cfg.subject, r, { msgID: id, timeout: 2000 });
        }));
        for (const a of acks) if (a.duplicate) this.st.duplicates++;
        this.st.published += acks.length;
        await this.spool.commit(next.end);
        if (this.failures > 0) this.opts.log.info('events publishing again', { subject: this.cfg.subject, afterFailures: this.failures });
        this.failures = 0;
      } catch (e) {
        if (this.stopping) break;
        this.failures++;
        this.st.publishFailures++;
        // A failure may mean the server restarted without the stream: check it next time.
        this.streamReady = false;
        if (this.failures === 1) this.opts.log.warn('events not published; spooled on disk, retrying', { subject: this.cfg.subject, error: (e as Error).message });
        if (this.nc?.isClosed()) {
          this.nc = null;
          this.js = null;
        }
        await this.sleep(this.backoff());
      }
    }
  }

  private async ready(): Promise<JetStreamClient> {
    if (!this.nc || this.nc.isClosed()) {
      this.nc = await connect({
        servers: this.cfg.url, name: 'revswitch-events', reconnect: true, maxReconnectAttempts: -1,
        reconnectTimeWait: 250, timeout: 2000, pingInterval: 5000,
      });
      this.js = this.nc.jetstream();
      this.streamReady = false;
    }
    if (!this.streamReady) {
      const jsm = await this.nc.jetstreamManager({ timeout: 2000 });
      try {
        await jsm.streams.info(this.cfg.stream);
      } catch (e) {
        if ((e as { code?: unknown }).code !== '404' && (e as { code?: unknown }).code !== 404) throw e;
        await jsm.streams.add({ name: this.cfg.stream, subjects: [this.cfg.subject], duplicate_window: nanos(this.cfg.duplicateWindowMs) });
        this.opts.log.info('event stream created', { stream: this.cfg.stream, subject: this.cfg.subject });
      }
      this.streamReady = true;
    }
    return this.js as JetStreamClient;
  }

  private notifyCaughtUp(): void {
    const w = this.caughtUp;
    this.caughtUp = [];
    for (const r of w) r();
  }

  /** Resolves once everything spooled so far is acknowledged, or false after maxMs. */
  async drained(maxMs: number): Promise<boolean> {
    if (this.spool.pendingBytes === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((r) => {
        this.caughtUp.push(() => r(true));
        this.poke();
      }),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), maxMs);
      }),
    ]);
    clearTimeout(timer);
    return done || this.spool.pendingBytes === 0;
  }

  stats(): NatsSinkStats {
    // A client that is reconnecting is not closed: "connected" also needs the last publish to have worked.
    const connected = this.nc !== null && !this.nc.isClosed() && this.failures === 0;
    return { connected, ...this.st, pendingBytes: this.spool.pendingBytes, oldestUnpublishedAt: this.oldestAt };
  }

  /** Keeps publishing up to `drainMs`; what is left stays spooled for the next start. */
  async close(): Promise<void> {
    const drainMs = this.opts.drainMs ?? 2000;
    if (drainMs > 0) await this.drained(drainMs);
    this.stopping = true;
    this.poke();
    await this.loop;
    const left = this.spool.pendingBytes;
    if (left > 0) this.opts.log.warn('events left in the spool for the next start', { spool: this.cfg.spoolDir, bytes: left });
    const nc = this.nc;
    this.nc = null;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    await this.spool.close();
  }
}

/** For a process that does not own the spool: each batch becomes one inbox file for the owner. */
export class InboxSink implements EventSink {
  readonly name = 'nats-inbox';
  constructor(private readonly spoolDir: string) {}

  async write(batch: Uint8Array[]): Promise<void> {
    await dropInInbox(this.spoolDir, batch);
  }

  async close(): Promise<void> {}
}

/** The owner's sink, or, when a live process owns the spool (the switch), its inbox. */
export async function natsSinkOrInbox(cfg: NatsSinkConfig, opts: NatsSinkOptions): Promise<EventSink> {
  try {
    return await NatsSink.open(cfg, opts);
  } catch (e) {
    if (e instanceof SpoolLocked) return new InboxSink(cfg.spoolDir);
    throw e;
  }
}
