/**
 * `revswitch migrate --store URL` on SQLite and on PostgreSQL (skipped, saying why, when
 * no server answers; a failure under REVSWITCH_REQUIRE_PG): the version before and after,
 * once and again, and the errors (a bad URL exits 2, an unreachable store exits 1, and no
 * message shows a password).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { POSTGRES_MIGRATIONS } from '../switch/store/migrations/postgres.js';
import { SQLITE_MIGRATIONS } from '../switch/store/migrations/sqlite.js';
import { PgSchemas, pgReady, withPg } from './support/pg.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('SQLite and PostgreSQL have the same migrations (versions and names)', async (t) => {
  t.same(POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]), SQLITE_MIGRATIONS.map((m) => [m.version, m.name]),
    'a migration added to one dialect is added to the other');
});

t.test('sqlite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'nested', 'm.db')}`;
  const last = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1].version;
  const first = cli(['migrate', '--store', url]);
  t.equal(first.status, 0, first.stderr);
  t.equal(first.stdout.trim(), `${url}: schema version 0 -> ${last} (${last} migrations applied)`);
  const again = cli(['migrate', '--store', url]);
  t.equal(again.status, 0, again.stderr);
  t.equal(again.stdout.trim(), `${url}: schema version ${last}, up to date (nothing to apply)`);

  const bad = cli(['migrate', '--store', 'sqlite:x.db?synchronous=off']);
  t.equal(bad.status, 2, 'a bad URL is a usage error');
  t.match(bad.stderr, /revswitch migrate: store URL "sqlite:x.db\?synchronous=off": synchronous must be one of/);
  t.equal(cli(['migrate', '--store', 'memory:']).status, 2, 'memory: has nothing to migrate');
  t.equal(cli(['migrate', '--store', 'mysql://db/x']).status, 2);
  t.equal(cli(['migrate', 'extra', '--store', url]).status, 2);
  t.notOk(existsSync('x.db'), 'a refused URL creates nothing');
});

t.test('postgres', async (t) => {
  if (!(await pgReady(t))) return;
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());
  const schema = schemas.next();
  const url = schemas.url(schema);
  const last = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
  const first = cli(['migrate', '--store', url]);
  t.equal(first.status, 0, first.stderr);
  t.equal(first.stdout.trim(), `${url}: schema version 0 -> ${last} (${last} migrations applied)`);
  t.equal(cli(['migrate', '--store', url]).stdout.trim(), `${url}: schema version ${last}, up to date (nothing to apply)`);
  const tables = await withPg(schema, async (c) => (await c.query<{ t: string }>(
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1", [schema])).rows.map((r) => r.t));
  t.same(tables, ['history', 'maintenance_window', 'nodes', 'pruned', 'recon_runs', 'reversals', 'reviews', 'schema_migrations', 'txn_keys', 'txns'], 'the tables are in the schema');

  const down = cli(['migrate', '--store', 'postgres://rev:hunter2@127.0.0.1:1/test?schema=x&connect_timeout=2']);
  t.equal(down.status, 1, 'an unreachable server exits 1');
  t.match(down.stderr, /^revswitch migrate: postgres:\/\/rev@127\.0\.0\.1:1\/test\?schema=x&connect_timeout=2: cannot connect: .*ECONNREFUSED/);
  const badSchema = cli(['migrate', '--store', 'postgres://rev:hunter2@127.0.0.1/test?schema=No-Such']);
  t.equal(badSchema.status, 2, 'a bad schema name is a usage error');
  t.match(badSchema.stderr, /store URL "postgres:\/\/rev@127\.0\.0\.1\/test\?schema=No-Such": schema must be/);
  t.notMatch(down.stderr + badSchema.stderr, /hunter2/, 'the password is never shown');
});
