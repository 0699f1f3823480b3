/**
 * Issue 16, "the admin port must not stop the switch": the report is aggregated by the
 * store (SQL on SQLite and PostgreSQL, JS on memory) and bounded. Checked here:
 * - every store's report equals the reference builder's (buildReport over the window's
 *   rows) on a randomized journal: classes, states, currencies, invalid and maximal
 *   amounts (a sum past 2^53), F95, refunds, velocity notes, review items; with the lists
 *   cut short too. This is the test that fails when the SQL aggregation is wrong;
 * - no statement reads a sealed message: the SQL text, a SQLite file whose sealed columns
 *   fail when evaluated, a PostgreSQL role without SELECT on them;
 * - the window is capped (400, exit 2), one report runs at a time (429 + Retry-After),
 *   admin.requireTokenForReads puts every /api/ read behind a token (401 without);
 * - a cut list says so (truncated, totalRows, the text and CSV).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { mountApi } from '../switch/cli/admin-routes.js';
import { configFromJson } from '../switch/config/load.js';
import { apiRoutes } from '../switch/observe/admin-api.js';
import { AdminServer } from '../switch/observe/admin.js';
import { createLogger } from '../switch/observe/log.js';
import { formatCsv, formatText } from '../switch/reports/format-report.js';
import { buildReport, gatherReport, type Report } from '../switch/reports/report.js';
import { MemoryStore } from '../switch/store/memory.js';
import { PG_TYPES, PostgresStore } from '../switch/store/postgres.js';
import type { ReportQuery } from '../switch/store/report-query.js';
import { PG_REPORT_SQL, pgReportTransaction } from '../switch/store/report-postgres.js';
import { SQLITE_REPORT_SQL, sqliteReport } from '../switch/store/report-sqlite.js';
import { SqliteStore } from '../switch/store/sqlite.js';
import type { Store } from '../switch/store/types.js';
import { PG_URL, PgSchemas, pgReady, withPg } from './support/pg.js';
import { WINDOW, writeRandomJournal } from './support/report-rows.js';
import { reversalRow, txnRow } from './support/store-contract.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SEED = 16;
const SIZE = 3000;
/** Maximal amounts in one currency: 9,100 of them sum past 2^53. */
const MAX_ROWS = 9100;
const OPTION_SETS = [{ top: 10, limit: 1000 }, { top: 3, limit: 7 }];

function tempDir(tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-report-bounded-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function opened<S extends Store>(tt: Test, s: S): Promise<S> {
  await s.open();
  tt.teardown(() => s.close());
  return s;
}

/** The reference: buildReport over every row the window and "now" involve, read the old way. */
async function reference(store: Store, o: { top: number; limit: number }): Promise<Report> {
  const { since, until } = WINDOW;
  const txns = await store.txnsBetween(since, until);
  const inWindow = new Set(txns.map((x) => x.id));
  return buildReport({
    txns, reversals: await store.reversalsBetween(since, until), history: await store.historyBetween(since, until),
    active: await store.reversals(['pending', 'sent']), manual: await store.reversals(['manual']), unfinished: await store.unfinishedTxns(),
    // Every other transaction: a terminal's reversal is left out of the refunds when its original is anywhere in the store.
    related: (await store.recentTxns(0)).filter((x) => !inWindow.has(x.id)), openReviews: await store.reviews(['open']),
  }, { ...WINDOW, ...o });
}

const memory = (async () => {
  const m = new MemoryStore();
  await m.open();
  await writeRandomJournal(m, SEED, SIZE, MAX_ROWS);
  return { store: m, refs: await Promise.all(OPTION_SETS.map((o) => reference(m, o))) };
})();

async function agrees(tt: Test, store: Store, what: string): Promise<void> {
  const { refs } = await memory;
  for (const [i, o] of OPTION_SETS.entries()) {
    const r = await gatherReport(store, { ...WINDOW, ...o });
    tt.strictSame(r, refs[i], `${what}, top ${o.top}, limit ${o.limit}: the report is the reference's`);
  }
}

t.test('every store aggregates as the reference builds', async (tt) => {
  const { store: mem, refs } = await memory;
  const r = refs[0];
  tt.ok(r.totals.transactions > 10_000 && r.totals.exceptions > 1000 && r.totals.inFlight > 0 && r.totals.terminalReversals > 0, 'the journal has every outcome');
  tt.ok(r.totalRows.refunds > 100 && r.totalRows.velocityAlerts > 10 && r.totalRows.manual > 10 && r.totalRows.openReviews > 10, 'and every list');
  tt.equal(r.totals.amounts.find((a) => a.currency === '999')?.minor, (999_999_999_999n * BigInt(MAX_ROWS)).toString(), 'a sum past 2^53, exact');
  tt.ok(refs[1].truncated, 'the short lists are cut');
  await agrees(tt, mem, 'memory');
  const file = await opened(tt, new SqliteStore(`sqlite:${join(tempDir(tt), 'r.db')}`));
  await writeRandomJournal(file, SEED, SIZE, MAX_ROWS);
  await agrees(tt, file, 'SQLite, a file (the report worker)');
  const inMemory = await opened(tt, new SqliteStore('sqlite::memory:'));
  await writeRandomJournal(inMemory, SEED, SIZE, MAX_ROWS);
  await agrees(tt, inMemory, 'SQLite :memory: (the engine\'s own connection)');
  const inline = await opened(tt, new SqliteStore(file.url, { inline: true }));
  await agrees(tt, inline, 'SQLite opened inline, as the CLI does');
});

const schemas = new PgSchemas();
if (await pgReady(t, 'PostgreSQL')) {
  t.teardown(() => schemas.dropAll());
  t.test('PostgreSQL aggregates as the reference builds, and as a role that may not read sealed columns', async (tt) => {
    const schema = schemas.next();
    const store = await opened(tt, new PostgresStore(schemas.url(schema)));
    await writeRandomJournal(store, SEED, SIZE, MAX_ROWS);
    await agrees(tt, store, 'PostgreSQL');

    const role = `rs_report_${process.pid}_${randomBytes(3).toString('hex')}`;
    await withPg(schema, async (c) => {
      const cols = async (table: string, hidden: string[]): Promise<string> =>
        (await c.query<{ c: string }>('SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [schema, table]))
          .rows.map((x) => x.c).filter((x) => !hidden.includes(x)).join(', ');
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await c.query(`GRANT SELECT (${await cols('txns', ['sealed'])}) ON txns TO ${role}`);
      await c.query(`GRANT SELECT (${await cols('reversals', ['original', 'message'])}) ON reversals TO ${role}`);
      await c.query(`GRANT SELECT ON history, reviews TO ${role}`);
    });
    tt.teardown(() => withPg(schema, async (c) => {
      await c.query(`DROP OWNED BY ${role}`);
      await c.query(`DROP ROLE ${role}`);
    }));
    const u = new URL(PG_URL);
    u.username = role;
    u.password = '';
    const client = new pg.Client({ connectionString: u.toString(), options: `-c search_path=${schema}`, types: PG_TYPES });
    await client.connect();
    tt.teardown(() => client.end());
    await tt.rejects(client.query('SELECT sealed FROM txns LIMIT 1'), /permission denied/, 'the role may not read txns.sealed');
    await tt.rejects(client.query('SELECT message FROM reversals LIMIT 1'), /permission denied/, 'nor reversals.message');
    const q: ReportQuery = { ...WINDOW, pendingOlderThanMs: 3_600_000, top: 10, limit: 1000 };
    tt.strictSame(await pgReportTransaction(client, q), await store.report(q), 'the report runs without them, and says the same');
  });
}

t.test('the report never reads a sealed message', async (tt) => {
  const statements = [...Object.entries(SQLITE_REPORT_SQL), ...Object.entries(PG_REPORT_SQL)];
  for (const [name, sql] of statements) {
    tt.notMatch(sql, /\bsealed\b|\bmessage\b|\boriginal\b(?! \()|\b[a-z]\.\*|SELECT \* FROM (txns|reversals)\b/i, `${name}: names no sealed column, selects no whole row`);
  }

  // A SQLite file whose sealed columns fail when anything evaluates them.
  const path = join(tempDir(tt), 'trap.db');
  const store = await opened(tt, new SqliteStore(`sqlite:${path}`));
  await writeRandomJournal(store, SEED, 600);
  const q: ReportQuery = { ...WINDOW, pendingOlderThanMs: 3_600_000, top: 10, limit: 1000 };
  const plain = await store.report(q);
  const db = new Database(path);
  tt.teardown(() => db.close());
  const columns = (table: string, trap: string[]): string => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
    .map(({ name }) => (trap.includes(name) ? `json('{') AS ${name}` : name)).join(', ');
  const txnCols = columns('txns', ['sealed']);
  const revCols = columns('reversals', ['original', 'message']);
  db.exec(`ALTER TABLE txns RENAME TO txns_data; ALTER TABLE reversals RENAME TO reversals_data;
    CREATE VIEW txns AS SELECT rowid AS rowid, ${txnCols} FROM txns_data;
    CREATE VIEW reversals AS SELECT rowid AS rowid, ${revCols} FROM reversals_data;`);
  tt.throws(() => db.prepare('SELECT sealed FROM txns').all(), /malformed JSON/, 'reading txns.sealed fails');
  tt.throws(() => db.prepare('SELECT original FROM reversals').all(), /malformed JSON/, 'reading reversals.original fails');
  tt.strictSame(sqliteReport(db, q), plain, 'the report runs without them, and says the same');
});

// ---- the HTTP bounds --------------------------------------------------------------------------

async function serve(tt: Test, handler: ReturnType<typeof apiRoutes>): Promise<number> {
  const server: Server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  tt.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text }, headers: res.headers };
}

t.test('the window is capped: 400 over the API, a usage error on the command line', async (tt) => {
  const store = await opened(tt, new MemoryStore());
  const port = await serve(tt, apiRoutes(store));
  const r = await get(port, '/api/report?since=1970-01-01');
  tt.equal(r.status, 400);
  tt.match(r.body.error, /^the window 1970-01-01T00:00:00\.000Z \.\. \S+ is \d+ days long, longer than the 31 days allowed \(admin\.reportMaxDays\)/);
  tt.equal((await get(port, '/api/report?since=31d')).status, 200, '31 days is allowed');
  tt.equal((await get(port, '/api/report?since=32d')).status, 400, '32 is not');
  const short = await serve(tt, apiRoutes(store, { reportMaxDays: 2 }));
  tt.match(await get(short, '/api/report?since=3d'), { status: 400, body: { error: /longer than the 2 days allowed/ } }, 'admin.reportMaxDays');
  tt.match(await get(port, '/api/report?top=1001'), { status: 400, body: { error: /^top: expected a whole number from 1 to 1000/ } });
  tt.match(await get(port, '/api/report?limit=0'), { status: 400, body: { error: /^limit: expected a whole number from 1 to 10000/ } });
  tt.match(await get(port, '/api/report?limit=x'), { status: 400, body: { error: /^limit: expected a whole number/ } });
  tt.match(await get(port, '/api/report?limit=5'), { status: 200, body: { limit: 5, truncated: false } });

  const cli = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts'), 'report', '--since', '1970-01-01', '--store', 'memory:'],
    { cwd: ROOT, encoding: 'utf8' });
  tt.equal(cli.status, 2, 'revswitch report: exit 2');
  tt.match(cli.stderr, /longer than the 31 days allowed \(admin\.reportMaxDays\)/);
});

t.test('one report at a time: a second one meanwhile gets 429 with Retry-After', async (tt) => {
  const store = await opened(tt, new MemoryStore());
  let started!: () => void;
  const running = new Promise<void>((r) => { started = r; });
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  // The store's first report waits for the test: the first request is slow for as long as it must be.
  let calls = 0;
  const slow = new Proxy(store, {
    get(target, key) {
      if (key === 'report') {
        return async (q: ReportQuery) => {
          if (calls++ === 0) {
            started();
            await held;
          }
          return target.report(q);
        };
      }
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const port = await serve(tt, apiRoutes(slow));
  const first = get(port, '/api/report');
  await running;
  const second = await get(port, '/api/report?since=yesterday');
  tt.equal(second.status, 429, 'the second report is refused while the first runs');
  tt.match(second.body.error, /another report is running: one at a time; retry in \d+ s/);
  tt.match(second.headers.get('retry-after'), /^[1-9]\d*$/, 'with Retry-After in seconds');
  tt.equal((await get(port, '/api/report?since=1970-01-01')).status, 400, 'a bad one is still told why');
  tt.equal((await get(port, '/api/manual')).status, 200, 'other reads go on');
  release();
  tt.equal((await first).status, 200, 'the first one finishes');
  tt.equal((await get(port, '/api/report')).status, 200, 'and the next one runs');
});

t.test('admin.requireTokenForReads: every /api/ read needs the token; /metrics and the probes do not', async (tt) => {
  const token = 'reads-and-writes-token';
  const tokens = { ops: `sha256:${createHash('sha256').update(token).digest('hex')}` };
  tt.throws(() => configFromJson({ admin: { listen: '127.0.0.1:0', requireTokenForReads: true } }, 'c.json'),
    /c\.json: admin\.requireTokenForReads: expected admin\.tokens to go with it/, 'a config with no token to give is refused');
  tt.throws(() => configFromJson({ admin: { reportMaxDays: 0 } }, 'c.json'), /admin\.reportMaxDays: expected an integer from 1 to 366/);
  const c = configFromJson({ admin: { listen: '127.0.0.1:0', tokens, requireTokenForReads: true, reportMaxDays: 7 } }, 'c.json');
  tt.match(c, { adminRequireTokenForReads: true, adminReportMaxDays: 7 });
  tt.match(configFromJson({}, 'c.json'), { adminRequireTokenForReads: false, adminReportMaxDays: 31 }, 'the defaults');

  const store = await opened(tt, new MemoryStore());
  const start = async (cfg: typeof c): Promise<number> => {
    const admin = new AdminServer({
      host: '127.0.0.1', port: 0, registry: new Registry(), ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'),
    });
    mountApi(admin, cfg, { store, rules: () => { throw new Error('no rules here'); }, log: createLogger('silent') });
    await admin.start();
    tt.teardown(() => admin.stop());
    return admin.port;
  };
  const port = await start(c);
  for (const path of ['/api/report', '/api/manual', '/api/transactions?rrn=X', '/api/review', '/api/nothing']) {
    const r = await get(port, path);
    tt.equal(r.status, 401, `${path} without a token: 401`);
    tt.equal(r.headers.get('www-authenticate'), 'Bearer');
    tt.equal((await get(port, path, { authorization: 'Bearer wrong' })).status, 401, `${path} with a wrong token: 401`);
  }
  const auth = { authorization: `Bearer ${token}` };
  tt.equal((await get(port, '/api/report', auth)).status, 200, 'the report with the token');
  tt.equal((await get(port, '/api/manual', auth)).status, 200);
  tt.equal((await get(port, '/api/review', auth)).status, 200);
  tt.match(await get(port, '/api/report?since=8d', auth), { status: 400, body: { error: /longer than the 7 days allowed/ } }, 'admin.reportMaxDays reaches the API');
  for (const path of ['/metrics', '/healthz', '/readyz']) tt.equal((await get(port, path)).status, 200, `${path} stays open`);

  const open = await start({ ...c, adminRequireTokenForReads: false });
  tt.equal((await get(open, '/api/manual')).status, 200, 'without the setting, reads are open as before');
});

t.test('a list cut at the limit says so: truncated, totalRows, the text, the CSV', async (tt) => {
  const store = await opened(tt, new MemoryStore());
  const now = WINDOW.now;
  for (let i = 0; i < 5; i++) {
    await store.insertTxn(txnRow(`s${i}`, { createdAt: now - 5000 + i, updatedAt: now, state: 'timed_out', rrn: `RRN${i}` }));
    await store.insertReversal(reversalRow(`m${i}`, { txnId: `s${i}`, enqueuedAt: now - 4000 + i, dueAt: now }));
    await store.updateReversal({ id: `m${i}`, from: ['pending'], state: 'manual', at: now - 100, lastError: 'answered 12' });
  }
  const r = await gatherReport(store, { since: now - 60_000, until: now, now, limit: 2 });
  tt.equal(r.manual.length, 2, 'two shown');
  tt.same(r.manual.map((m) => m.id), ['m0', 'm1'], 'the oldest');
  tt.match(r, { limit: 2, truncated: true, totalRows: { manual: 5, reviews: 0 } });
  const text = formatText(r);
  tt.match(text, /Manual queue \(5\)\n(.*\n){3} {2}\.\.\. and 3 more \(the first 2 shown: --limit\)\n/);
  tt.match(formatCsv(r), /\r\ntruncated,manual,,,5,/);
  tt.match(formatCsv(r), /\r\nwindow,limit,,,2,/);
  const port = await serve(tt, apiRoutes(store));
  tt.match(await get(port, '/api/manual?limit=3'), { status: 200, body: { count: 5, truncated: true, reversals: [{ id: 'm0' }, { id: 'm1' }, { id: 'm2' }] } });
});
