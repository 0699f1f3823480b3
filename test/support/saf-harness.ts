/**
 * What the store-and-forward tests share: a scripted link, a fake clock, originals, and a
 * store of each kind (memory, SQLite in a temporary directory, PostgreSQL in a schema of
 * its own when a server answers: see ./pg.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { IsoMessage, getDialect, responseTo, type Dialect } from '../../codec/index.js';
import { loadDefaultRules } from '../../rules/index.js';
import { Counters } from '../../switch/observe/counters.js';
import { createLogger } from '../../switch/observe/log.js';
import { Mux } from '../../switch/edge/mux.js';
import type { ReversalLink } from '../../switch/undo/reversals.js';
import { SafQueue, type SafOptions } from '../../switch/undo/reversal-queue.js';
import { openStore } from '../../switch/store/index.js';
import { CardKeys } from '../../switch/store/secrets.js';
import type { Store } from '../../switch/store/types.js';
import { PgSchemas, pgReady } from './pg.js';

export const D = getDialect('iso87a');
export const rules = loadDefaultRules();
export const keys = new CardKeys(Buffer.alloc(32, 7));
export const PAN = '4761739001010119';

export class FakeLink implements ReversalLink {
  constructor(readonly dialect: Dialect = D) {}
  isUp = true;
  sent: IsoMessage[] = [];
  readonly mux = new Mux({ tickMs: 10, firstStan: 501 });
  send(msg: IsoMessage): boolean {
    if (!this.isUp) return false;
    this.sent.push(msg.clone());
    return true;
  }
}

export function original(stan: string, amount = '000000001000'): IsoMessage {
  const m = new IsoMessage('0200');
  const f: Record<number, string> = {
    2: PAN, 3: '000000', 4: amount, 7: '1125221530', 11: stan, 12: '221530', 13: '1125', 35: `${PAN}=28121010000000000000`,
    37: `RRN${stan}000`, 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
  };
  for (const [k, v] of Object.entries(f)) m.set(Number(k), v);
  return m;
}

/** Lets queued store writes commit (group commit runs on timers and a worker). */
export async function settle(store: Store): Promise<void> {
  await store.flush();
  await new Promise((r) => setImmediate(r));
  await store.flush();
}

export type Kind = 'memory' | 'sqlite' | 'postgres';

/** The stores the queue is tested on: memory and SQLite, and PostgreSQL when a server answers. */
export class SafStores {
  private constructor(readonly kinds: readonly Kind[], private readonly schemas: PgSchemas) {}

  static async of(t: Test): Promise<SafStores> {
    const pgUp = await pgReady(t, 'postgres');
    const schemas = new PgSchemas();
    if (pgUp) t.teardown(() => schemas.dropAll());
    return new SafStores(pgUp ? ['memory', 'sqlite', 'postgres'] : ['memory', 'sqlite'], schemas);
  }

  /** A new store of the kind; `dir` (a directory for SQLite, a schema for PostgreSQL) opens an existing one again. */
  async open(tt: Test, kind: Kind, dir?: string): Promise<{ store: Store; dir: string }> {
    if (kind === 'postgres') {
      const schema = dir ?? this.schemas.next();
      const store = openStore(this.schemas.url(schema));
      await store.open();
      return { store, dir: schema };
    }
    const d = dir ?? mkdtempSync(join(tmpdir(), 'revswitch-saf-'));
    if (!dir) tt.teardown(() => rmSync(d, { recursive: true, force: true }));
    const store = openStore(kind === 'memory' ? 'memory:' : `sqlite:${join(d, 'saf.db')}`);
    await store.open();
    return { store, dir: d };
  }
}

export function queue(store: Store, link: FakeLink, clock: { now: number }, over: Partial<SafOptions> = {}): SafQueue {
  return new SafQueue(store, new Map([['up', link]]), {
    window: 4, responseTimeoutMs: 1000, backoffMs: [1000, 5000, 30_000, 60_000, 300_000], maxAttempts: 20,
    maxAgeMs: 24 * 3600_000, outcomeOf: (rc, kind) => (kind === 'refund' ? rules.refundResponse(rc) : rules.reversalResponse(rc)), log: createLogger('silent'),
    counters: new Counters(), keys, now: () => clock.now, ...over,
  });
}

export function answer(rev: IsoMessage, rc: string): IsoMessage {
  return responseTo(D, rev, rc);
}

export async function step(q: SafQueue, store: Store, clock: { now: number }, ms: number): Promise<void> {
  clock.now += ms;
  q.pump();
  await settle(store);
  q.pump();
  await settle(store);
}

