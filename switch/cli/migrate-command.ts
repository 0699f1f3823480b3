/**
 * `revswitch migrate --store URL`: brings a store's schema up to this revswitch's last
 * migration and nothing else, for deployment pipelines (run it once before rolling the
 * nodes; a node also migrates at start, under the same lock, so forgetting it is safe).
 * Prints the schema version before and after. Works on sqlite: and postgres:// stores.
 *
 * Exit status: 0 migrated (or already current); 1 the store could not be reached or a
 * migration failed (the message names the store, without its password, and why); 2 a
 * bad URL or usage.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { postgresSchemaVersion } from '../store/postgres.js';
import { parseSqliteUrl, redactUrl } from '../store/index.js';
import type { Command } from 'commander';
import { CommandError, UsageError } from './args.js';
import { examples, jsonOption, runs, storeOptions, type Parsed } from './kit.js';
import { commandStore, namingStore, storeOf } from './store-arg.js';

export const MIGRATE_USAGE = 'revswitch migrate [--store URL | --config FILE] [--json]';

/** The version in a SQLite file's schema_migrations, without creating or changing anything; 0 when there is none. */
function sqliteSchemaVersion(url: string): number {
  const path = resolve(parseSqliteUrl(url).path);
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (table === undefined) return 0;
    return db.prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() ?? 0;
  } finally {
    db.close();
  }
}

async function schemaVersion(url: string, kind: 'sqlite' | 'postgres'): Promise<number> {
  return kind === 'sqlite' ? sqliteSchemaVersion(url) : postgresSchemaVersion(url);
}

export function registerMigrate(parent: Command): Command {
  const cmd = parent.command('migrate')
    .description('bring a store\'s schema up to this version and nothing else (run once before rolling the nodes)');
  storeOptions(cmd);
  jsonOption(cmd, 'the versions before and after as JSON');
  examples(cmd, 'revswitch migrate --store sqlite:./data/revswitch.db', 'revswitch migrate --store "postgres://rev@db/revswitch?schema=switch" --json');
  return runs(cmd, migrate);
}

async function migrate(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  const { url } = storeOf(p);
  const shown = redactUrl(url);

  const store = commandStore(url);
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  if (scheme === 'memory') throw new UsageError(`store URL ${JSON.stringify(shown)}: memory: keeps nothing, so there is nothing to migrate`);
  const kind = scheme === 'sqlite' ? 'sqlite' : 'postgres';

  const fail = (e: unknown): never => {
    throw new CommandError(namingStore(shown, e));
  };
  const before = await schemaVersion(url, kind).catch(fail);
  try {
    await store.open();
  } catch (e) {
    fail(e);
  } finally {
    await store.close().catch(() => undefined);
  }
  const after = await schemaVersion(url, kind).catch(fail);
  if (p.flags.has('json')) return JSON.stringify({ store: shown, before, after, applied: after - before }, null, 2);
  if (after === before) return `${shown}: schema version ${after}, up to date (nothing to apply)`;
  const n = after - before;
  return `${shown}: schema version ${before} -> ${after} (${n} migration${n === 1 ? '' : 's'} applied)`;
}
