/**
 * The store contract (test/support/store-contract.ts) on every store there is:
 * MemoryStore, SqliteStore in its worker thread, and SqliteStore inline (the CLI's mode).
 * SQLite databases live in a temporary directory, one per test, removed at the end.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryStore, openStore, PostgresStore, SqliteStore, type Store } from '../switch/store/index.js';
import { RECON_SQL } from '../switch/store/recon-sql.js';
import { crashWriter } from './support/crash-writer.js';
import { storeContract, txnRow } from './support/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'revswitch-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function pathOf(s: Store): string {
  if (!(s instanceof SqliteStore)) throw new Error(`not a SqliteStore: ${s.url}`);
  return s.path;
}

/** A raw connection, as another process (an operator with the sqlite3 shell) would have. */
function raw<T>(s: Store, fn: (db: Database.Database) => T): T {
  const db = new Database(pathOf(s), { timeout: 1000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function tryRun(db: Database.Database, sql: string): string | null {
  try {
    db.prepare(sql).run();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

t.test('MemoryStore', async (t) => {
  storeContract(t, { name: 'memory', make: () => new MemoryStore() });
});

/** The hooks any SQLite store shares: they work on the file, beside the store. */
const sqliteHooks = {
  schemaVersion: (s: Store) => raw(s, (db) => db.prepare<[], number>('SELECT MAX(version) FROM schema_migrations').pluck().get() ?? 0),
  tamperHistory: async (s: Store) => raw(s, (db) => ({
    update: tryRun(db, "UPDATE history SET state = 'tampered'"),
    delete: tryRun(db, 'DELETE FROM history'),
  })),
  lockDatabase: async (s: Store) => {
    const db = new Database(pathOf(s));
    db.exec('BEGIN EXCLUSIVE');
    return () => { db.exec('ROLLBACK'); db.close(); };
  },
};

t.test('SqliteStore (worker thread)', async (t) => {
  storeContract(t, {
    name: 'sqlite',
    make: () => new SqliteStore(`sqlite:${join(dir, `w${++n}`, 'nested', 'store.db')}?busy_timeout=100`),
    reopen: (s) => new SqliteStore(s.url),
    ...sqliteHooks,
    crashWriter: (s) => crashWriter(s.url),
    crashBackend: async (s) => {
      if (!(s instanceof SqliteStore) || s.worker === null) throw new Error('no worker to crash');
      await s.worker.terminate();
    },
  });
});

t.test('SqliteStore (inline)', async (t) => {
  storeContract(t, {
    name: 'sqlite inline',
    make: () => new SqliteStore(`sqlite:${join(dir, `i${++n}`, 'store.db')}?busy_timeout=100`, { inline: true }),
    reopen: (s) => new SqliteStore(s.url, { inline: true }),
    ...sqliteHooks,
  });
});

t.test('SQLite specifics', async (t) => {
  t.test('the schema: tables, indexes, triggers, pragmas', async (t) => {
    const s = new SqliteStore(`sqlite:${join(dir, `s${++n}`, 'store.db')}`);
    await s.open();
    await s.insertTxn(txnRow('a'));
    const names = raw(s, (db) => db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all());
    t.same(names, [
      'history', 'history_at', 'history_no_delete', 'history_no_update', 'history_ref', 'maintenance_window', 'nodes', 'pruned', 'pruned_no_delete',
      'pruned_no_update', 'recon_runs', 'recon_runs_date', 'reversals', 'reversals_enqueued_at', 'reversals_owner', 'reversals_state_due_at', 'reversals_state_lease', 'reversals_txn_id', 'reversals_unowned', 'reviews',
      'reviews_created_at', 'reviews_state', 'schema_migrations', 'txn_keys', 'txn_keys_created_at', 'txns', 'txns_business_date', 'txns_created_at', 'txns_node_state', 'txns_rrn',
      'txns_state', 'txns_terminal_stan',
    ]);
    t.equal(raw(s, (db) => db.pragma('journal_mode', { simple: true })), 'wal', 'WAL mode persists in the file');
    const plan = raw(s, (db) => db.prepare<[], { detail: string }>("EXPLAIN QUERY PLAN SELECT * FROM txns WHERE terminal = 'x' AND stan = '1'").all());
    t.match(plan.map((p) => p.detail).join(' '), /txns_terminal_stan/, 'the duplicate lookup (terminal and STAN) uses its index');
    const recon = raw(s, (db) => db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${RECON_SQL.journalPage}`).all('2026-12-03', null, null, '', 10));
    t.match(recon.map((p) => p.detail).join(' '), /txns_business_date/, 'reconciliation reads a business date on its index');
    await s.close();
  });

  t.test('a failing migration names itself and leaves the database as it was', async (t) => {
    const { migrate } = await import('../switch/store/sqlite-engine.js');
    const db = new Database(':memory:');
    t.equal(migrate(db, 'test:', [{ version: 1, name: 'one', sql: 'CREATE TABLE a (x)' }]), 1);
    t.throws(() => migrate(db, 'test:', [
      { version: 1, name: 'one', sql: 'CREATE TABLE a (x)' },
      { version: 2, name: 'two', sql: 'CREATE TABLE b (x); CREATE TABLE c (x; oops' },
    ]), /test:: migration 2 \(two\) failed: .*syntax error/);
    t.equal(db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get(), 1, 'version 2 not recorded');
    t.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'").pluck().get(), 0, 'and its first statement rolled back');
    t.throws(() => migrate(db, 'test:', []), /schema version 1, newer than this revswitch knows \(0\)/);
    db.close();
  });

  t.test('a change never commits without its history row', async (t) => {
    const s = new SqliteStore(`sqlite:${join(dir, `h${++n}`, 'store.db')}`);
    await s.open();
    // Another connection makes history refuse one ref: the change of that op went through first.
    raw(s, (db) => db.exec("CREATE TRIGGER refuse_boom BEFORE INSERT ON history WHEN NEW.ref = 'boom' BEGIN SELECT RAISE(ABORT, 'no history for boom'); END"));
    const r = await Promise.allSettled([s.insertTxn(txnRow('before')), s.insertTxn(txnRow('boom')), s.insertTxn(txnRow('after'))]);
    t.same(r.map((x) => x.status), ['rejected', 'rejected', 'rejected'], 'the whole batch fails');
    t.match(r[1].status === 'rejected' ? String(r[1].reason) : '', /insertTxn boom: not committed: .*history row failed after the change.*no history for boom/);
    t.equal(await s.txn('boom'), undefined, 'the change was rolled back');
    t.equal(await s.txn('before'), undefined, 'and so was the rest of its batch');
    raw(s, (db) => db.exec('DROP TRIGGER refuse_boom'));
    await s.insertTxn(txnRow('before'));
    t.same((await s.history('before')).map((x) => x.state), ['forwarded'], 'the store carries on');
    await s.close();
  });

  t.test('synchronous from the URL and from options', async (t) => {
    const a = new SqliteStore(`sqlite:${join(dir, 'sync.db')}?synchronous=normal`);
    t.equal(a.synchronous, 'normal');
    t.equal(new SqliteStore(`sqlite:${join(dir, 'sync.db')}`).synchronous, 'full', 'FULL by default');
    t.equal(new SqliteStore(`sqlite:${join(dir, 'sync.db')}?synchronous=normal`, { synchronous: 'full' }).synchronous, 'full', 'options win');
    await a.open();
    t.equal(a.stats().batches, 0);
    await a.close();
  });

  t.test('an unopenable path fails open() with the path', async (t) => {
    const file = join(dir, 'plain-file');
    rmSync(file, { force: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'not a directory');
    const s = new SqliteStore(`sqlite:${join(file, 'store.db')}`);
    await t.rejects(s.open(), /plain-file/);
    await s.close();
  });
});

t.test('openStore picks by URL', async (t) => {
  t.ok(openStore('memory:') instanceof MemoryStore);
  t.ok(openStore(`sqlite:${join(dir, 'x.db')}`) instanceof SqliteStore);
  const pg = openStore('postgres://rev:secret@db/revswitch');
  t.ok(pg instanceof PostgresStore, 'postgres:// is PostgreSQL (not connected until open())');
  t.equal(pg.url, 'postgres://rev@db/revswitch', 'its url has no password');
  t.ok(openStore('postgresql://rev@db:5433/revswitch?schema=switch_a&pool=8') instanceof PostgresStore, 'postgresql:// too');
  for (const bad of ['postgres://rev:secret@db/revswitch?schema=Bad-Name', 'postgres://rev:secret@db/revswitch?pool=0', 'postgres://rev:secret@db/revswitch?cache=big']) {
    try {
      openStore(bad);
      t.fail(`${bad} is refused`);
    } catch (e) {
      t.match(String(e), /store URL "postgres:\/\/rev@db\/revswitch\?.*": (schema|pool|unknown parameter)/, `a bad parameter names the URL: ${String(e)}`);
      t.notMatch(String(e), /secret/, 'the password is not echoed');
    }
  }
  t.throws(() => openStore('postgres://rev@db'), /no database name/);
  t.throws(() => openStore('mysql://db/x'), /store URL "mysql:\/\/db\/x": expected sqlite:PATH .* or memory:/);
  t.throws(() => openStore('./data/revswitch.db'), /store URL "\.\/data\/revswitch\.db": expected sqlite:PATH/);
  t.throws(() => openStore('sqlite:'), /store URL "sqlite:": no file path/);
  t.throws(() => openStore('sqlite://x.db'), /without "\/\/"/);
  t.throws(() => openStore('sqlite:x.db?synchronous=off'), /synchronous must be one of full, normal, extra, got "off"/);
  t.throws(() => openStore('sqlite:x.db?busy_timeout=soon'), /busy_timeout must be a whole number of ms/);
  t.throws(() => openStore('sqlite:x.db?cache=big'), /unknown parameter "cache"/);
  t.throws(() => openStore('memory:foo'), /expected exactly "memory:"/);
});
