/**
 * The PostgreSQL server the bench suites measure against: BENCH_PG_URL, else
 * REVSWITCH_PG_URL, else the local one. Suites that use it create schemas of their own
 * (rs_bench_<pid>_<random>_<n>) and drop them when done.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.BENCH_PG_URL || process.env.REVSWITCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** This process's schema-name prefix. */
export const PG_RUN = `rs_bench_${process.pid}_${randomBytes(3).toString('hex')}`;

/** PG_URL with `schema` set. */
export function pgUrlWithSchema(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  return u.toString();
}

/** A plain connection to the server, for probes, settings and clean-up. */
export async function pgAdmin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await f(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The server's durability settings, as a note: what a commit waits for. */
export async function pgSettingsNote(c: pg.Client): Promise<string> {
  const settings = await c.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'max_connections') ORDER BY name");
  return settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ');
}

/** Drops every schema whose name starts with prefix (CASCADE). */
export async function dropSchemas(prefix: string): Promise<void> {
  await pgAdmin(async (c) => {
    const r = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [prefix]);
    for (const { nspname } of r.rows) await c.query(`DROP SCHEMA "${nspname}" CASCADE`);
  });
}
