/**
 * The SQLite store: `sqlite:PATH` (parent directories are created), optionally with
 * `?synchronous=full|normal|extra&busy_timeout=MS`. WAL mode, `synchronous=FULL` by
 * default (a resolved write survives a power loss, not just a crash of the process),
 * foreign keys on, versioned migrations at open() (./migrations/sqlite.ts).
 *
 * better-sqlite3 is synchronous, so by default it runs in a worker thread
 * (./sqlite-worker.ts) and the event loop only queues and posts messages; group commit
 * (./group-commit.ts) hands the worker one batch at a time. A report runs in a worker of
 * its own (./sqlite-report.ts), beside the journal's. `inline: true` runs the same
 * engine on the calling thread, for the CLI, where blocking does not matter.
 */
import { resolve as resolvePath } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { BatchOutcome, StoreBackend, StoreRead } from './backend.js';
import { GroupCommitStore, type GroupCommitOptions } from './group-commit.js';
import { SqliteEngine, SYNC_MODES, type SqliteEngineOptions, type SyncMode } from './sqlite-engine.js';
import { reportInWorker } from './sqlite-report.js';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.js';
import type { StoreOp } from './types.js';
import { spawnWorker } from './worker-spawn.js';

export type { SyncMode } from './sqlite-engine.js';

export interface SqliteStoreOptions extends Partial<GroupCommitOptions> {
  /** Default `full`, or the URL's `synchronous`. */
  synchronous?: SyncMode;
  /** How long to wait for another connection's write lock, ms. Default 5000, or the URL's `busy_timeout`. */
  busyTimeoutMs?: number;
  /** Run SQLite on the calling thread instead of a worker (CLI use; it blocks the event loop). */
  inline?: boolean;
}

export interface SqliteUrl {
  /** As written after `sqlite:` (relative paths are relative to the working directory). */
  path: string;
  synchronous?: SyncMode;
  busyTimeoutMs?: number;
}

const EXPECTED = 'expected sqlite:PATH[?synchronous=full|normal|extra&busy_timeout=MS], e.g. sqlite:./data/revswitch.db';

/** Parses `sqlite:PATH[?...]`; throws an error naming the URL and what was expected. */
export function parseSqliteUrl(url: string): SqliteUrl {
  if (!url.startsWith('sqlite:')) throw new Error(`store URL ${JSON.stringify(url)}: ${EXPECTED}`);
  const rest = url.slice('sqlite:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  if (path === '') throw new Error(`store URL ${JSON.stringify(url)}: no file path; ${EXPECTED}`);
  if (path.startsWith('//')) {
    throw new Error(`store URL ${JSON.stringify(url)}: write sqlite:PATH without "//" (sqlite:/var/lib/revswitch.db, sqlite:./data/revswitch.db)`);
  }
  const out: SqliteUrl = { path };
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rest.slice(q + 1))) {
      if (k === 'synchronous') {
        const mode = v.toLowerCase() as SyncMode;
        if (!SYNC_MODES.includes(mode)) throw new Error(`store URL ${JSON.stringify(url)}: synchronous must be one of ${SYNC_MODES.join(', ')}, got ${JSON.stringify(v)}`);
        out.synchronous = mode;
      } else if (k === 'busy_timeout') {
        const ms = Number(v);
        if (v === '' || !Number.isInteger(ms) || ms < 0) throw new Error(`store URL ${JSON.stringify(url)}: busy_timeout must be a whole number of ms, got ${JSON.stringify(v)}`);
        out.busyTimeoutMs = ms;
      } else {
        throw new Error(`store URL ${JSON.stringify(url)}: unknown parameter ${JSON.stringify(k)}; expected synchronous or busy_timeout`);
      }
    }
  }
  return out;
}

/** The engine on the calling thread. */
class InlineBackend implements StoreBackend {
  private engine: SqliteEngine | null = null;
  constructor(private readonly opts: SqliteEngineOptions) {}

  open(): Promise<void> {
    try {
      this.engine = new SqliteEngine(this.opts);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  runBatch(ops: StoreOp[]): Promise<BatchOutcome> {
    let outcome: BatchOutcome;
    try {
      outcome = this.live().runBatch(ops);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    // Answered on a later turn of the event loop: a completion in the same microtask queue
    // would let busy writers starve timers and I/O.
    return new Promise((resolve) => setImmediate(resolve, outcome));
  }

  read(r: StoreRead): Promise<unknown> {
    if (r.read === 'report' && this.opts.path !== ':memory:') return reportInWorker(this.opts.path, this.opts.busyTimeoutMs, this.opts.label, r.q);
    try {
      return Promise.resolve(this.live().read(r));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  close(): Promise<void> {
    this.engine?.close();
    this.engine = null;
    return Promise.resolve();
  }

  private live(): SqliteEngine {
    if (this.engine === null) throw new Error(`${this.opts.label}: the database is not open`);
    return this.engine;
  }
}

interface Outstanding {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * The engine in a worker thread. Every request gets one reply; if the worker dies first
 * (an uncaught error, terminate(), an exit), every outstanding and later request is
 * rejected with the reason. The worker keeps the process alive only while a request is
 * outstanding: an idle open store does not hold the process open.
 */
class WorkerBackend implements StoreBackend {
  worker: Worker | null = null;
  private readonly outstanding = new Map<number, Outstanding>();
  private nextId = 1;
  private dead: Error | null = null;
  private closing = false;

  constructor(private readonly opts: SqliteEngineOptions) {}

  open(): Promise<void> {
    const w = spawnWorker('sqlite-worker', this.opts);
    this.worker = w;
    w.on('message', (m: WorkerReply) => this.onReply(m));
    w.on('error', (e: Error) => this.die(new Error(`${this.opts.label}: the SQLite worker failed: ${e.message}`)));
    w.on('messageerror', (e: Error) => this.die(new Error(`${this.opts.label}: a message from the SQLite worker could not be read: ${e.message}`)));
    w.on('exit', (code: number) => {
      if (!this.closing) this.die(new Error(`${this.opts.label}: the SQLite worker exited unexpectedly (exit code ${code})`));
      this.worker = null;
    });
    return new Promise<void>((resolve, reject) => {
      this.outstanding.set(0, { resolve: () => resolve(), reject });
    }).then(() => { w.unref(); }, async (e: unknown) => {
      this.closing = true;
      await w.terminate();
      throw e;
    });
  }

  runBatch(ops: StoreOp[]): Promise<BatchOutcome> {
    return this.request({ id: 0, kind: 'batch', ops }) as Promise<BatchOutcome>;
  }

  read(r: StoreRead): Promise<unknown> {
    // A report reads for seconds: in a worker of its own, so the journal's commits do not queue behind it.
    if (r.read === 'report' && this.opts.path !== ':memory:') {
      if (this.dead) return Promise.reject(this.dead);
      return reportInWorker(this.opts.path, this.opts.busyTimeoutMs, this.opts.label, r.q);
    }
    return this.request({ id: 0, kind: 'read', read: r });
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (w === null || this.dead) return;
    try {
      await this.request({ id: 0, kind: 'close' });
    } finally {
      this.closing = true;
      await w.terminate();
    }
  }

  private request(m: WorkerRequest): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const w = this.worker;
    if (w === null) return Promise.reject(new Error(`${this.opts.label}: the SQLite worker is not running`));
    const id = this.nextId++;
    m.id = id;
    return new Promise<unknown>((resolve, reject) => {
      try {
        w.postMessage(m); // a value that cannot be cloned throws here, and only this request fails
      } catch (e) {
        reject(new Error(`${this.opts.label}: cannot send ${m.kind} to the SQLite worker: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      if (this.outstanding.size === 0) w.ref();
      this.outstanding.set(id, { resolve, reject });
    });
  }

  private onReply(m: WorkerReply): void {
    const o = this.outstanding.get(m.id);
    if (o === undefined) return;
    this.outstanding.delete(m.id);
    if (this.outstanding.size === 0 && m.id !== 0) this.worker?.unref();
    if (m.ok) o.resolve(m.value);
    else o.reject(new Error(m.error));
  }

  /** The worker is gone or unusable: fail everything outstanding and later, and make sure it is gone. */
  private die(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    const all = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const o of all) o.reject(e);
    const w = this.worker;
    if (w !== null) {
      this.closing = true;
      w.unref();
      void w.terminate();
    }
  }
}

/** `sqlite:PATH`: SQLite in WAL mode, in a worker thread unless `inline`. */
export class SqliteStore extends GroupCommitStore {
  readonly path: string;
  readonly synchronous: SyncMode;
  private readonly workerBackend: WorkerBackend | null;

  constructor(url: string, opts: SqliteStoreOptions = {}) {
    const parsed = parseSqliteUrl(url);
    const engine: SqliteEngineOptions = {
      path: parsed.path === ':memory:' ? ':memory:' : resolvePath(parsed.path),
      synchronous: opts.synchronous ?? parsed.synchronous ?? 'full',
      busyTimeoutMs: opts.busyTimeoutMs ?? parsed.busyTimeoutMs ?? 5000,
      label: url,
    };
    if (!SYNC_MODES.includes(engine.synchronous)) {
      throw new Error(`${url}: synchronous must be one of ${SYNC_MODES.join(', ')}, got ${JSON.stringify(engine.synchronous)}`);
    }
    const backend = opts.inline ? new InlineBackend(engine) : new WorkerBackend(engine);
    super(url, backend, opts);
    this.path = engine.path;
    this.synchronous = engine.synchronous;
    this.workerBackend = backend instanceof WorkerBackend ? backend : null;
  }

  /** The worker thread, while it runs (null inline): for diagnostics and tests. */
  get worker(): Worker | null {
    return this.workerBackend?.worker ?? null;
  }
}
