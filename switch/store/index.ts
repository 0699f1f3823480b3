/**
 * Picking a store by URL: `sqlite:PATH` (the default, embedded), `memory:` (tests,
 * benches; nothing survives close), `postgres://...` / `postgresql://...` (several nodes
 * on one database: ./postgres.ts).
 */
import { MemoryStore, type MemoryStoreOptions } from './memory.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { Store } from './types.js';
import { redactUrl } from './url.js';

export type { BatchOutcome, OpResult, StoreBackend, StoreRead } from './backend.js';
export { DEFAULT_GROUP_COMMIT, GroupCommitStore, type GroupCommitOptions } from './group-commit.js';
export { MemoryStore, type MemoryStoreOptions } from './memory.js';
export { parsePostgresUrl, PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { parseSqliteUrl, SqliteStore, type SqliteStoreOptions, type SyncMode } from './sqlite.js';
export { redactUrl } from './url.js';
export type * from './types.js';

export type OpenStoreOptions = SqliteStoreOptions & MemoryStoreOptions & PostgresStoreOptions;

/**
 * The store a URL names, not yet opened: call open() (it connects and migrates). Throws
 * an error naming the URL and what was expected when the URL is not one of the forms above.
 */
export function openStore(url: string, opts: OpenStoreOptions = {}): Store {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite':
      return new SqliteStore(url, opts);
    case 'memory':
      if (url !== 'memory:') throw new Error(`store URL ${JSON.stringify(url)}: expected exactly "memory:" (it takes no path or options)`);
      return new MemoryStore(url, opts);
    case 'postgres':
    case 'postgresql':
      return new PostgresStore(url, opts);
    default:
      throw new Error(`store URL ${JSON.stringify(redactUrl(url))}: expected sqlite:PATH (e.g. sqlite:./data/revswitch.db), ` +
        'postgres://USER@HOST[:PORT]/DATABASE[?schema=NAME] or memory:');
  }
}

/** openStore, then open(). */
export async function connectStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const store = openStore(url, opts);
  await store.open();
  return store;
}
