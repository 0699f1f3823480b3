/**
 * PostgreSQL gone mid-batch (issue 21): the switch's backend connections are terminated
 * (pg_terminate_backend) again and again while sales flow. Whatever batch was committing
 * fails; the store connects again. The promises hold throughout:
 *
 * - no sale reaches the issuer without its journal row (the write-ahead);
 * - an approval the terminal got is on record as approved (durable before delivery);
 * - every hold at the issuer is a sale the terminal got approved: the others are reversed
 *   (a failed approval write means not delivered, and reversed);
 * - afterwards nothing is left in flight: the state changes that failed are written again
 *   (engine/journal-mender.ts), and readiness is back.
 */
import pg from 'pg';
import t from 'tap';
import type { IsoMessage } from '../codec/index.js';
import { PG_URL, PgSchemas, pgReady } from './support/pg.js';
import { sale, startHarness } from './support/switch-harness.js';
import { until } from './support/until.js';

const APP = `rs_outage_${process.pid}`;

async function terminate(): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [APP]);
    return r.rowCount ?? 0;
  } finally {
    await c.end().catch(() => undefined);
  }
}

t.test('PostgreSQL connections killed mid-batch: no forward without its write-ahead, no approval lost, all resumes', async (tt) => {
  if (!(await pgReady(tt))) return;
  const schemas = new PgSchemas();
  tt.teardown(() => schemas.dropAll());
  const url = schemas.url(schemas.next(), `&application_name=${APP}&pool=4`);
  const h = await startHarness(tt, { store: url, admin: true, upstreamTimeoutMs: 4000, issuer: { latencyMs: { min: 5, max: 60 } } });
  tt.ok(await h.sw.waitUntilUp(10_000), 'the link is up');
  const clients = await Promise.all([h.client(), h.client(), h.client(), h.client()]);

  const answers = new Map<string, string>();
  let killed = 0;
  let kills = 0;
  const killer = (async () => {
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 60));
      killed += await terminate();
      kills++;
    }
  })();
  const load = Promise.all(clients.map(async (c, k) => {
    for (let i = 0; i < 30; i++) {
      const m: IsoMessage = sale({ terminal: `TERMPG0${k}` });
      const a = await c.request(m, 10_000);
      answers.set(m.get(37) ?? '', a.get(39) ?? '');
    }
  }));
  await Promise.all([killer, load]);
  tt.ok(killed > 0, `connections terminated: ${killed} over ${kills} rounds`);
  tt.equal(answers.size, 120, 'every sale answered');
  const approved = [...answers].filter(([, rc]) => rc === '00').map(([rrn]) => rrn);
  const refused = [...answers].filter(([, rc]) => rc !== '00');
  tt.ok(approved.length > 0, `${approved.length} approved, ${refused.length} not (${[...new Set(refused.map(([, rc]) => rc))].join(', ') || 'none'})`);

  const store = h.sw.journal.store;
  await until(async () => {
    const r = await fetch(`http://127.0.0.1:${h.admin?.port ?? 0}/readyz`);
    return r.status === 200;
  }, 'ready again', 20_000, 100);
  await until(() => h.sw.journal.mender.size === 0 && h.sw.reversals.outstanding === 0, 'failed changes written again, reversals acknowledged', 30_000, 50);
  await until(async () => (await store.unfinishedTxns()).length === 0, 'nothing left in flight', 20_000, 100);

  const rows = await store.recentTxns(0);
  const byRrn = new Map(rows.map((r) => [r.rrn ?? '', r]));
  const forwarded = h.events.filter((e) => e.msg.mti === '0200').map((e) => e.msg.get(37) ?? '');
  tt.same(forwarded.filter((rrn) => !byRrn.has(rrn)), [], `every forwarded sale has its journal row (${forwarded.length} forwarded)`);
  tt.same(approved.filter((rrn) => byRrn.get(rrn)?.state !== 'approved'), [], 'every approval the terminal got is on record as approved');
  const holds = h.issuer.ledger().holds.filter((x) => x.status === 'held').map((x) => x.rrn).sort();
  tt.same(holds, [...approved].sort(), 'the issuer holds exactly the sales the terminals got approved: every other one was reversed');
});
