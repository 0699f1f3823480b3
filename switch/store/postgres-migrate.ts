/**
 * The migration runner and the schema version: each migration of
 * ./migrations/postgres.ts in a transaction under an advisory lock, so nodes starting at
 * once apply each migration once. Migrations run on a plain connection of their own,
 * outside the pool's pipeline mode: a migration is one multi-statement script.
 */
import pg from 'pg';
import type { Migration } from './migrations/sqlite.js';
import { poolConfig, postgresConfig, type PostgresConfig } from './postgres-config.js';
import { pgMessage } from './postgres-errors.js';

/** A PostgreSQL identifier, quoted. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The lock that serializes migrations of one schema across processes (a transaction-level advisory lock). */
const lockMigrations = (c: pg.ClientBase, schema: string) => c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`revswitch migrate ${schema}`]);

/** `f` inside BEGIN and COMMIT, rolled back when it throws. */
export async function inTransaction<T>(c: pg.ClientBase, f: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const v = await f();
    await c.query('COMMIT');
    return v;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The highest version in the schema's schema_migrations; 0 when the schema or the table does not exist yet. */
export async function readSchemaVersion(c: pg.ClientBase, schema: string): Promise<number> {
  const t = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${ident(schema)}.schema_migrations`]);
  if (t.rows[0]?.t == null) return 0;
  const v = await c.query<{ v: number }>(`SELECT COALESCE(MAX(version), 0)::integer AS v FROM ${ident(schema)}.schema_migrations`);
  return v.rows[0].v;
}

/**
 * Brings the schema up to the last migration (creating the schema when it does not
 * exist); returns the version it is at. Each step is a transaction that first takes the
 * schema's advisory lock and re-reads the version, so two processes starting on one new
 * schema at once apply each migration once and neither fails.
 */
export async function migratePostgres(c: pg.ClientBase, label: string, schema: string, migrations: readonly Migration[]): Promise<number> {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version <= migrations[i - 1].version) {
      throw new Error(`${label}: migrations out of order: ${migrations[i].version} after ${migrations[i - 1].version}`);
    }
  }
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const s = ident(schema);
  let at: number;
  try {
    at = await inTransaction(c, async () => {
      await lockMigrations(c, schema);
      // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema
      // exists: look first, so a role that may only use its schema can still open it.
      const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      return readSchemaVersion(c, schema);
    });
  } catch (e) {
    throw new Error(`${label}: cannot prepare schema ${schema} for migrations: ${pgMessage(e)}`);
  }
  if (at > latest) {
    throw new Error(`${label}: the database is at schema version ${at}, newer than this revswitch knows (${latest}); upgrade revswitch`);
  }
  for (const m of migrations) {
    if (m.version <= at) continue;
    try {
      await inTransaction(c, async () => {
        await lockMigrations(c, schema);
        if ((await readSchemaVersion(c, schema)) >= m.version) return; // another process got there first
        await c.query(`SET LOCAL search_path TO ${s}`);
        await c.query(m.sql);
        await c.query(`INSERT INTO ${s}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
      });
    } catch (e) {
      throw new Error(`${label}: migration ${m.version} (${m.name}) failed: ${pgMessage(e)}`);
    }
  }
  return readSchemaVersion(c, schema);
}

/**
 * The schema version a URL's database is at, read without migrating (0 when nothing is
 * there yet): for `revswitch migrate`, which prints it before and after.
 */
export async function postgresSchemaVersion(url: string): Promise<number> {
  const c = postgresConfig(url);
  return withClient(c, async (client) => {
    try {
      return await readSchemaVersion(client, c.schema);
    } catch (e) {
      throw new Error(`${c.label}: cannot read the schema version: ${pgMessage(e)}`);
    }
  });
}

/** One plain (not pipelined, not pooled) connection for `f`, closed afterwards. */
export async function withClient<T>(c: PostgresConfig, f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(poolConfig(c, false));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new Error(`${c.label}: cannot connect: ${pgMessage(e)}`);
  }
  try {
    return await f(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
