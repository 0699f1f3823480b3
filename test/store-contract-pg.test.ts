/**
 * The store contract (test/support/store-contract.ts), unchanged, on PostgreSQL, and what
 * is PostgreSQL's own: the schema, migrations racing, refusals that would abort a
 * transaction, a lost connection, two stores (nodes) on one schema, int8 as numbers.
 *
 * The server: REVSWITCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test. Each
 * run works in schemas of its own (rs_test_<pid>_<random>_<n>, one per store the suite
 * makes) and drops them all (CASCADE) at the end, so runs never see each other's rows.
 *
 * No server reachable: the file is skipped, saying why, so a newcomer's `npm test`
 * passes; with REVSWITCH_REQUIRE_PG set (CI: .ci/run) that is a failure instead.
 */
import pg from 'pg';
import t from 'tap';
import { POSTGRES_MIGRATIONS } from '../switch/store/migrations/postgres.js';
import { migratePostgres, PostgresStore, postgresSchemaVersion } from '../switch/store/postgres.js';
import { MemoryStore, openStore, type Store, type StoreOp } from '../switch/store/index.js';
import { crashWriter } from './support/crash-writer.js';
import { PG_URL, PgSchemas, pgReady, withPg } from './support/pg.js';
import { reversalRow, storeContract, txnRow } from './support/store-contract.js';

const BASE = PG_URL;
const T0 = 1_764_000_000_000;
const schemas = new PgSchemas();
const urlFor = (schema: string, extra = ''): string => schemas.url(schema, extra);
const newSchema = (): string => schemas.next();

/** Each store's full URL (store.url has no password; the server might want one). */
const urls = new WeakMap<Store, string>();
function make(url: string, opts: ConstructorParameters<typeof PostgresStore>[1] = {}): PostgresStore {
  const s = new PostgresStore(url, opts);
  urls.set(s, url);
  return s;
}
const urlOf = (s: Store): string => urls.get(s) ?? s.url;
const schemaOf = (s: Store): string => {
  if (!(s instanceof PostgresStore)) throw new Error(`not a PostgresStore: ${s.url}`);
  return s.schema;
};

/** A raw connection to the store's schema (or a schema by name). */
const raw = <T>(s: Store | string, f: (c: pg.Client) => Promise<T>): Promise<T> => withPg(typeof s === 'string' ? s : schemaOf(s), f);

async function tryQuery(c: pg.Client, sql: string): Promise<string | null> {
  try {
    await c.query(sql);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

if (await pgReady(t)) {
  t.teardown(() => schemas.dropAll());
  tests();
}

function tests(): void {
  t.test('PostgresStore', async (t) => {
    storeContract(t, {
      name: 'postgres',
      serverClock: true,
      // lock_timeout: the lockDatabase check fails its batch after 1 s instead of 5.
      make: () => make(urlFor(newSchema(), '&lock_timeout=1000')),
      reopen: (s) => make(urlOf(s)),
      schemaVersion: (s) => raw(s, async (c) => (await c.query<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0].v),
      tamperHistory: (s) => raw(s, async (c) => ({
        update: await tryQuery(c, "UPDATE history SET state = 'tampered'"),
        delete: await tryQuery(c, 'DELETE FROM history'),
      })),
      // The write lock: EXCLUSIVE mode lets readers in and keeps every writer out.
      lockDatabase: async (s) => {
        const c = new pg.Client({ connectionString: BASE, options: `-c search_path=${schemaOf(s)}` });
        c.on('error', () => undefined);
        await c.connect();
        await c.query('BEGIN');
        await c.query('LOCK TABLE txns, reversals, history IN EXCLUSIVE MODE');
        return () => { void c.query('ROLLBACK').finally(() => c.end()); };
      },
      crashWriter: (s) => crashWriter(urlOf(s)),
      // No crashBackend: a lost connection is not the end of a PostgreSQL store (the pool
      // connects again), unlike a dead SQLite worker; 'a lost connection' below covers it.
    });
  });

  t.test('PostgreSQL specifics', async (t) => {
    t.test('the schema: tables, indexes, triggers, all in the store\'s schema', async (t) => {
      const s = make(urlFor(newSchema()));
      await s.open();
      t.equal(s.schemaVersion, POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version, 'at the last migration');
      const names = await raw(s, async (c) => (await c.query<{ name: string }>(`
        SELECT relname AS name FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'i') AND relname NOT LIKE '%_pkey'
        UNION ALL SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = $1::regnamespace)
        ORDER BY 1`, [s.schema])).rows.map((r) => r.name));
      t.same(names, [
        'history', 'history_at', 'history_no_delete', 'history_no_truncate', 'history_no_update', 'history_ref', 'maintenance_window', 'nodes', 'pruned',
        'pruned_no_delete', 'pruned_no_truncate', 'pruned_no_update', 'recon_runs', 'recon_runs_date', 'reversals', 'reversals_enqueued_at', 'reversals_owner', 'reversals_state_due_at', 'reversals_state_lease',
        'reversals_txn_id', 'reversals_unowned', 'reviews', 'reviews_created_at', 'reviews_state', 'schema_migrations', 'txn_keys', 'txn_keys_created_at', 'txns', 'txns_business_date', 'txns_created_at', 'txns_node_state',
        'txns_rrn', 'txns_state', 'txns_terminal_stan',
      ]);
      const elsewhere = await raw('public', async (c) => (await c.query("SELECT 1 FROM pg_class WHERE relname = 'txns' AND relnamespace = 'public'::regnamespace")).rowCount);
      t.equal(elsewhere, 0, 'nothing in public');
      t.match(await raw(s, (c) => tryQuery(c, 'TRUNCATE history')), /append-only: TRUNCATE refused/, 'TRUNCATE is refused too');
      await s.close();
    });

    t.test('BIGINT reads back as a number, never rounded', async (t) => {
      const s = make(urlFor(newSchema()));
      await s.open();
      await s.insertTxn(txnRow('a'));
      await s.insertReversal(reversalRow('r', { attempts: 3 }));
      t.strictSame(await s.txn('a'), txnRow('a'), 'the row is exactly what was written (numbers, not strings)');
      t.strictSame(await s.reversal('r'), reversalRow('r', { attempts: 3 }));
      const h = (await s.history('a'))[0];
      t.equal(typeof h.seq, 'number');
      t.equal(h.at, T0);
      await raw(s, (c) => c.query("UPDATE txns SET created_at = 9007199254740993 WHERE id = 'a'"));
      await t.rejects(s.txn('a'), /txn: .*9007199254740993, beyond JavaScript's safe integers/);
      await s.close();
    });

    t.test('two stores migrating one new schema at once apply each migration once', async (t) => {
      const schema = newSchema();
      const stores = Array.from({ length: 4 }, () => make(urlFor(schema)));
      await Promise.all(stores.map((s) => s.open()));
      t.same(stores.map((s) => s.schemaVersion), stores.map(() => POSTGRES_MIGRATIONS.length));
      const rows = await raw(schema, async (c) => (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows);
      t.same(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
      await Promise.all(stores.map((s) => s.close()));
      t.equal(await postgresSchemaVersion(urlFor(schema)), POSTGRES_MIGRATIONS.length, 'postgresSchemaVersion reads it');
      t.equal(await postgresSchemaVersion(urlFor(newSchema())), 0, 'a schema that does not exist is at 0');
    });

    t.test('a failing migration names itself and leaves the schema as it was', async (t) => {
      const schema = newSchema();
      await raw('public', async (c) => {
        t.equal(await migratePostgres(c, 'test:', schema, [{ version: 1, name: 'one', sql: 'CREATE TABLE a (x int)' }]), 1);
        await t.rejects(migratePostgres(c, 'test:', schema, [
          { version: 1, name: 'one', sql: 'CREATE TABLE a (x int)' },
          { version: 2, name: 'two', sql: 'CREATE TABLE b (x int); CREATE TABLE c (x int; oops' },
        ]), /test:: migration 2 \(two\) failed: syntax error/);
        t.equal(await migratePostgres(c, 'test:', schema, [{ version: 1, name: 'one', sql: '' }]), 1, 'still at 1');
        t.equal((await c.query('SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = $2::regnamespace', ['b', schema])).rowCount, 0,
          'its first statement rolled back');
        await t.rejects(migratePostgres(c, 'test:', schema, []), /schema version 1, newer than this revswitch knows \(0\)/);
      });
    });

    t.test('a refusal that aborts the transaction fails its operation alone', async (t) => {
      const s = make(urlFor(newSchema()));
      await s.open();
      // The history of one ref is refused by a trigger: its change went through first, in the same statement.
      await raw(s, async (c) => {
        await c.query(`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'no history for boom'; END $$`);
        await c.query("CREATE TRIGGER refuse_boom BEFORE INSERT ON history FOR EACH ROW WHEN (NEW.ref LIKE 'boom%') EXECUTE FUNCTION refuse_boom()");
      });
      const b0 = s.stats().batches;
      const r = await Promise.allSettled([
        s.insertTxn(txnRow('before')), s.insertTxn(txnRow('boom')), s.insertTxn(txnRow('mid')),
        s.insertReversal(reversalRow('boom-r')), s.updateTxn({ id: 'mid', state: 'approved', at: T0 + 1 }), s.insertTxn(txnRow('after')),
      ]);
      t.same(r.map((x) => x.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      t.equal(s.stats().batches - b0, 1, 'one batch');
      t.match(r[1].status === 'rejected' ? String(r[1].reason) : '', /insertTxn boom: no history for boom/, 'the error names op, id and why');
      t.equal(await s.txn('boom'), undefined, 'the refused change did not commit without its history');
      t.equal(await s.reversal('boom-r'), undefined);
      t.equal((await s.txn('mid'))?.state, 'approved', 'the rest of the batch committed');
      t.same((await s.history('mid')).map((h) => h.state), ['forwarded', 'approved']);
      t.ok(await s.txn('before'));
      t.ok(await s.txn('after'));
      await s.close();
    });

    t.test('a lost connection fails its batch, and the store connects again', async (t) => {
      const s = make(urlFor(newSchema()));
      await s.open();
      await s.insertTxn(txnRow('ok'));
      const lock = new pg.Client({ connectionString: BASE, options: `-c search_path=${s.schema}` });
      lock.on('error', () => undefined);
      await lock.connect();
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE txns IN EXCLUSIVE MODE');
      const pending = Promise.allSettled([s.insertTxn(txnRow('lost')), s.updateTxn({ id: 'ok', state: 'approved', at: T0 + 1 })]);
      // Wait for the store's batch to block on the lock, then kill its connection.
      let killed = 0;
      for (let i = 0; i < 200 && killed === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const k = await lock.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'revswitch' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
          AND query LIKE '%INSERT INTO txns%'`);
        killed = k.rowCount ?? 0;
      }
      t.equal(killed, 1, 'the store\'s connection was terminated mid-batch');
      const r = await pending;
      await lock.query('ROLLBACK');
      await lock.end();
      t.same(r.map((x) => x.status), ['rejected', 'rejected'], 'the batch\'s callers are told');
      t.match(r[0].status === 'rejected' ? String(r[0].reason) : '', new RegExp(`${s.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: insertTxn lost: not committed: .*terminat`));
      await s.insertTxn(txnRow('later'));
      t.ok(await s.txn('later'), 'a later write goes through on a new connection');
      t.equal(await s.txn('lost'), undefined);
      t.equal((await s.txn('ok'))?.state, 'forwarded');
      await s.close();
    });

    t.test('two stores on one schema: a compare-and-set has one winner', async (t) => {
      const schema = newSchema();
      const a = make(urlFor(schema));
      const b = make(urlFor(schema));
      await a.open();
      await b.open();
      const N = 300;
      await Promise.all(Array.from({ length: N }, (_, i) => a.insertReversal(reversalRow(`r${i}`))));
      const send = (s: Store, i: number) => s.updateReversal({ id: `r${i}`, from: ['pending'], state: 'sent', at: T0 + 1, attempts: 1 });
      // Opposite orders, so the two batches' row locks cross (a deadlock is rerun).
      const [wa, wb] = await Promise.all([
        Promise.all(Array.from({ length: N }, (_, i) => send(a, i))),
        Promise.all(Array.from({ length: N }, (_, i) => send(b, N - 1 - i)).reverse()),
      ]);
      const both = wa.map((x, i) => Number(x) + Number(wb[i]));
      t.ok(both.every((x) => x === 1), `each reversal was taken by exactly one store (a: ${wa.filter(Boolean).length}, b: ${wb.filter(Boolean).length})`);
      const h = await b.history('r7');
      t.same(h.map((x) => x.state), ['pending', 'sent'], 'one history row for the one winner');
      t.equal(await b.insertReversal(reversalRow('r0')), false, 'an id inserted by the other store exists');
      await t.rejects(b.insertTxn(txnRow('t')).then(() => a.insertTxn(txnRow('t'))), /insertTxn t: duplicate key/);
      await a.close();
      await b.close();
    });

    t.test('pipelined and not: the same results', async (t) => {
      for (const pipeline of [true, false]) {
        const s = make(urlFor(newSchema()), { pipeline });
        await s.open();
        const r = await Promise.allSettled([
          s.insertTxn(txnRow('x')), s.insertTxn(txnRow('x')), s.updateTxn({ id: 'x', state: 'approved', at: T0 + 1 }),
          s.insertReversal(reversalRow('r')), s.updateReversal({ id: 'r', from: ['sent'], state: 'acked', at: T0 + 2 }),
        ]);
        t.same(r.map((x) => (x.status === 'fulfilled' ? x.value ?? 'ok' : 'refused')), ['ok', 'refused', true, true, false], `pipeline ${pipeline}`);
        await s.close();
      }
    });

    t.test('random batches: multi-row and one statement per operation both do what MemoryStore does', async (t) => {
      let seed = 0x5eed;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
      const TS = ['forwarded', 'approved', 'declined', 'timed_out'] as const;
      const RS = ['pending', 'sent', 'acked', 'manual'] as const;
      const maybe = <T>(v: T): T | undefined => (rnd(3) === 0 ? undefined : v);
      // Few ids: short segments, many repeats; many ids: long segments, big multi-row statements.
      let ids = 6;
      const randomOp = (k: number): StoreOp => {
        const tid = `t${rnd(ids)}`;
        const rid = `r${rnd(ids)}`;
        switch (rnd(4)) {
          case 0:
            return { op: 'insertTxn', row: txnRow(tid, { createdAt: T0 + rnd(3), updatedAt: T0, amount: `a${k}`, rrn: maybe(`rrn${k}`) ?? null }) };
          case 1:
            return { op: 'updateTxn', update: {
              id: tid, state: pick(TS), at: T0 + k, responseCode: maybe(rnd(2) ? null : `${k % 100}`), decision: maybe(`d${k}`), note: maybe(`n${k}`),
              owner: rnd(3) === 0 ? pick(['node-1', 'node-2'] as const) : undefined,
            } };
          case 2:
            return { op: 'insertReversal', row: reversalRow(rid, { enqueuedAt: T0 + rnd(3), reason: `${k % 100}` }) };
          default:
            return { op: 'updateReversal', update: {
              id: rid, from: RS.filter(() => rnd(2) === 0), state: pick(RS), at: T0 + k, attempts: maybe(k), lastError: maybe(rnd(2) ? null : `e${k}`),
              dueAt: maybe(T0 + 2 * k), detail: maybe(`x${k}`),
            } };
        }
      };
      const apply = (s: Store, op: StoreOp): Promise<unknown> => {
        switch (op.op) {
          case 'insertTxn': return s.insertTxn(op.row);
          case 'updateTxn': return s.updateTxn(op.update);
          case 'insertReversal': return s.insertReversal(op.row);
          case 'updateReversal': return s.updateReversal(op.update);
        }
      };
      const stores: [string, Store][] = [
        ['memory', new MemoryStore()], ['multi-row', make(urlFor(newSchema()))], ['per-op', make(urlFor(newSchema()), { multiRow: false })],
      ];
      for (const [, s] of stores) await s.open();
      let k = 0;
      for (let round = 0; round < 30; round++) {
        ids = round % 2 === 0 ? 6 : 60;
        const batch = Array.from({ length: 5 + rnd(60) }, () => randomOp(k++));
        const outcomes = await Promise.all(stores.map(async ([, s]) => {
          const r = await Promise.allSettled(batch.map((op) => apply(s, op)));
          return r.map((x) => (x.status === 'fulfilled' ? String(x.value) : 'refused'));
        }));
        if (!t.same(outcomes[1], outcomes[0], `round ${round}: multi-row outcomes`) || !t.same(outcomes[2], outcomes[0], `round ${round}: per-op outcomes`)) break;
      }
      const state = async (s: Store) => {
        const refs = [...Array(60).keys()].flatMap((i) => [`t${i}`, `r${i}`]);
        const history = await Promise.all(refs.map(async (ref) => (await s.history(ref)).map(({ seq: _, ...h }) => h)));
        return { txns: await s.recentTxns(0), reversals: await s.reversals(), history };
      };
      const [m, a, b] = await Promise.all(stores.map(([, s]) => state(s)));
      t.strictSame(a, m, 'multi-row: same rows, same order, same history per row');
      t.strictSame(b, m, 'per-op: the same');
      const seqs = (await stores[1][1].historyBetween(0, T0 * 2)).map((h) => h.seq);
      t.ok(seqs.every((x, i) => i === 0 || x > seqs[i - 1]), 'historyBetween in seq order');
      for (const [, s] of stores) await s.close();
    });

    t.test('a server that is not there: open() fails, naming the store without its password', async (t) => {
      const s = openStore('postgres://rev:secret@127.0.0.1:1/test?connect_timeout=2');
      const e = await s.open().then(() => null, (x: unknown) => String(x));
      t.match(e, /postgres:\/\/rev@127\.0\.0\.1:1\/test\?connect_timeout=2: cannot connect: .*ECONNREFUSED/);
      t.notMatch(e, /secret/);
      await s.close();
    });
  });
}
