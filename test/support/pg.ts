/**
 * PostgreSQL for tests: where the server is (REVSWITCH_PG_URL, default the local one),
 * whether it answers, and schemas of a run's own. Tests that need it are skipped with the
 * reason when it does not answer, unless REVSWITCH_REQUIRE_PG is set (CI), which makes
 * that a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { pgMessage } from '../../switch/store/postgres.js';
import { redactUrl } from '../../switch/store/url.js';

export const PG_URL = process.env.REVSWITCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const PG_REQUIRED = Boolean(process.env.REVSWITCH_REQUIRE_PG);

/** null when the server answers, else why not (with where it was looked for). */
export async function pgUnreachable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return `PostgreSQL at ${redactUrl(PG_URL)} is not reachable (${pgMessage(e)})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** What a skipped test says, or what a failing one says under REVSWITCH_REQUIRE_PG. */
export function pgSkipText(why: string): string {
  return PG_REQUIRED
    ? `${why}, and REVSWITCH_REQUIRE_PG is set: the PostgreSQL tests must run`
    : `${why}; set REVSWITCH_PG_URL to point at a server, REVSWITCH_REQUIRE_PG=1 to make this a failure`;
}

/**
 * Whether the server answers. When it does not, says why on `t`: a failure under
 * REVSWITCH_REQUIRE_PG, else a skip (plan 0); inside a subtest named `subtest` when
 * given, for a file whose other tests run without PostgreSQL.
 */
export async function pgReady(t: Test, subtest?: string): Promise<boolean> {
  const why = await pgUnreachable();
  if (why === null) return true;
  const report = (x: Test): void => {
    if (PG_REQUIRED) x.fail(pgSkipText(why));
    else x.plan(0, pgSkipText(why));
  };
  if (subtest === undefined) report(t);
  else {
    t.test(subtest, (x) => {
      report(x);
      x.end();
    });
  }
  return false;
}

/** Schema names of one test run: `rs_test_<pid>_<random>_<n>`; drop them all with dropSchemas(). */
export class PgSchemas {
  readonly prefix = `rs_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  private n = 0;

  next(): string {
    return `${this.prefix}_${++this.n}`;
  }

  /** PG_URL with `schema` set (and `extra` parameters appended, e.g. "&pool=2"). */
  url(schema: string, extra = ''): string {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    return u.toString() + extra;
  }

  /** Drops every schema of this run (CASCADE). */
  async dropAll(): Promise<void> {
    await withPg('public', async (c) => {
      const r = await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [this.prefix]);
      for (const { nspname } of r.rows) await c.query(`DROP SCHEMA "${nspname}" CASCADE`);
    });
  }
}

/** A raw connection with its search_path on `schema`, as an operator's psql would have. */
export async function withPg<T>(schema: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}`, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
