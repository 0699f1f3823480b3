/**
 * An issuer outage's backlog (issue 21): an hour at 1,000 TPS leaves 3.6M timeouts, so
 * 3.6M queued reversals. `npm run bench:outage -- [--queued 1000000] [--store sqlite,postgres]
 * [--seconds 60] [--window 16] [--sales-per-second 50] [--record]`.
 *
 * For each store: N reversals are written straight into a fresh store as the queue leaves
 * them (pending, unowned, each with its own sealed original), then a real switch starts
 * on it with an issuer that answers at once (the issuer is back), and for `--seconds`:
 * - the switch's memory (RSS, heap) after start and at its peak;
 * - the time of every claim of the queue's leases (the store's claimReversals);
 * - the drain rate, reversals acknowledged per second, with the window and backoff as
 *   configured (defaults), and the time the whole backlog would take at that rate;
 * - a terminal doing sales meanwhile (`--sales-per-second`): every one must be approved
 *   (the switch stays ready for new sales during the drain), with its latency.
 * The issuer is a minimal responder in this process (it keeps nothing per message), so
 * the memory measured is the switch's. Prints a table and writes outage-latest.json
 * (bench/out/; bench/results/ with --record).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { build as buildHistogram } from 'hdr-histogram-js';
import { decode, encode, frame, FrameReader, getDialect, IsoMessage, responseTo, transmissionTime } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { switchReadiness } from '../switch/engine/readiness.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { PostgresStore, SqliteStore, type Store } from '../switch/store/index.js';
import { sealMessage } from '../switch/store/sealed.js';
import { CardKeys } from '../switch/store/secrets.js';
import { resultsDir, writeResult } from './lib/results.js';

const { values: args } = parseArgs({
  options: {
    queued: { type: 'string', default: '1000000' },
    store: { type: 'string', default: 'sqlite,postgres' },
    seconds: { type: 'string', default: '60' },
    window: { type: 'string', default: '16' },
    'sales-per-second': { type: 'string', default: '50' },
    pg: { type: 'string', default: process.env.REVSWITCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test' },
    record: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const N = Number(args.queued);
const SECONDS = Number(args.seconds);
const SALES_PER_SECOND = Number(args['sales-per-second']);
const DIALECT = getDialect('iso87a');
const KEYS = new CardKeys(Buffer.alloc(32, 7));
const log = (line: string): void => { process.stderr.write(`outage: ${line}\n`); };
const mb = (b: number): number => Math.round(b / 1e6);

/** The sale as it went upstream, for reversal `i` (its own STAN, F7 and RRN). */
function original(i: number, at: number): IsoMessage {
  const m = new IsoMessage('0200');
  const v: Record<number, string> = {
    2: '4761739001010119', 3: '000000', 4: '000000001000', 7: transmissionTime(at), 11: String(i % 999_999 + 1).padStart(6, '0'),
    12: '120000', 13: '1204', 22: '051', 25: '00', 32: '123456', 37: `OUT${String(i).padStart(9, '0')}`, 41: `T${String(i % 5000).padStart(7, '0')}`,
    42: 'MERCHANT0000001', 49: '978',
  };
  for (const [k, x] of Object.entries(v)) m.set(Number(k), x);
  return m;
}

type Row = [id: string, original: string, enqueuedAt: number];

function* rows(now: number): Generator<Row> {
  for (let i = 0; i < N; i++) {
    const id = `outage-${String(i).padStart(9, '0')}`;
    const at = now - 3_600_000 + Math.floor((i * 3_600_000) / N);
    yield [id, sealMessage(DIALECT, original(i, at), KEYS, id), at];
  }
}

async function fillSqlite(path: string, now: number): Promise<void> {
  const s = new SqliteStore(`sqlite:${path}`, { inline: true });
  await s.open();
  await s.close();
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const ins = db.prepare(`INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, final_amount, explanation, original, message, sent_stan,
    enqueued_at, due_at, last_error, note, updated_at, owner, lease_until, kind, amount) VALUES (?, NULL, 'issuer', 'pending', 0, '68', NULL,
    'timeout: the issuer was down', ?, NULL, NULL, ?, ?, NULL, NULL, ?, NULL, 0, 'reversal', NULL)`);
  const batch = db.transaction((b: Row[]) => { for (const [id, o, at] of b) ins.run(id, o, at, at, at); });
  let b: Row[] = [];
  for (const r of rows(now)) {
    b.push(r);
    if (b.length === 20_000) { batch(b); b = []; }
  }
  batch(b);
  db.close();
}

async function fillPostgres(url: string, schema: string, now: number): Promise<void> {
  const s = new PostgresStore(`${url}?schema=${schema}`);
  await s.open();
  await s.close();
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    let b: Row[] = [];
    const flush = async (): Promise<void> => {
      await c.query(`INSERT INTO reversals (id, txn_id, upstream, state, attempts, reason, explanation, original, enqueued_at, due_at, updated_at,
        lease_until, kind) SELECT id, NULL, 'issuer', 'pending', 0, '68', 'timeout: the issuer was down', o, at, at, at, 0, 'reversal'
        FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, o, at)`, [b.map((r) => r[0]), b.map((r) => r[1]), b.map((r) => r[2])]);
      b = [];
    };
    for (const r of rows(now)) {
      b.push(r);
      if (b.length === 10_000) await flush();
    }
    if (b.length > 0) await flush();
    await c.query('ANALYZE reversals');
  } finally {
    await c.end();
  }
}

/** An issuer that is back: every request answered at once, 00, nothing kept. */
function responder(): Promise<{ server: Server; port: number; answered: () => number }> {
  let answered = 0;
  const server = createServer((sock: Socket) => {
    const reader = new FrameReader('len2', {
      onFrame: (body) => {
        const req = decode(DIALECT, body);
        sock.write(frame('len2', encode(DIALECT, responseTo(DIALECT, req, '00'))));
        answered++;
      },
    });
    sock.on('data', (d: Buffer) => reader.push(d));
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, port: typeof a === 'object' && a ? a.port : 0, answered: () => answered });
  }));
}

interface Figures {
  store: string;
  queued: number;
  window: number;
  fillSeconds: number;
  startMs: number;
  afterStart: { rssMb: number; heapMb: number };
  peak: { rssMb: number; heapMb: number };
  claims: { count: number; rows: number; p50Ms: number; p99Ms: number; maxMs: number };
  acked: number;
  drainPerSecond: number;
  wholeBacklogMinutes: number;
  sales: { sent: number; approved: number; p50Ms: number; p99Ms: number };
  notReadySamples: number;
}

async function run(kind: 'sqlite' | 'postgres'): Promise<Figures> {
  const now = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-outage-'));
  const schema = `rs_outage_${process.pid}`;
  const t0 = performance.now();
  let store: Store;
  if (kind === 'sqlite') {
    const path = join(dir, 'journal.db');
    await fillSqlite(path, now);
    store = new SqliteStore(`sqlite:${path}`);
  } else {
    await fillPostgres(String(args.pg), schema, now);
    store = new PostgresStore(`${String(args.pg)}?schema=${schema}`);
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  log(`${kind}: ${N} reversals queued in ${fillSeconds.toFixed(1)} s`);
  global.gc?.();

  const claimMs = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
  let claimRows = 0;
  const claim = store.claimReversals.bind(store);
  store.claimReversals = async (...a: Parameters<Store['claimReversals']>) => {
    const c0 = performance.now();
    const r = await claim(...a);
    claimMs.recordValue(Math.max(1, Math.round(performance.now() - c0)));
    if (process.env.OUTAGE_TRACE) log(`claim limit ${a[3]} includeOwn ${String(a[4] ?? false)}: ${r.length} rows in ${Math.round(performance.now() - c0)} ms`);
    claimRows += r.length;
    return r;
  };
  const issuer = await responder();
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.node = 'outage-a';
  cfg.reversal.window = Number(args.window);
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port }];
  await store.open();
  const sw = new Switch(cfg, loadDefaultRules(), createLogger('error'), (name) => getDialect(name), { store, keys: KEYS });
  const s0 = performance.now();
  await sw.start();
  const startMs = performance.now() - s0;
  global.gc?.();
  const mem = (): { rssMb: number; heapMb: number } => ({ rssMb: mb(process.memoryUsage().rss), heapMb: mb(process.memoryUsage().heapUsed) });
  const afterStart = mem();
  const peak = { ...afterStart };
  log(`${kind}: started in ${(startMs / 1000).toFixed(1)} s, rss ${afterStart.rssMb} MB, heap ${afterStart.heapMb} MB`);
  await sw.waitUntilUp(10_000);

  const client = await connectClient({ port: sw.ports()[0] });
  const saleMs = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000, numberOfSignificantValueDigits: 3 });
  let sent = 0;
  let approved = 0;
  let notReady = 0;
  const ackedAt0 = sw.counters.get('reversals_acked');
  const d0 = performance.now();
  const end = d0 + SECONDS * 1000;
  let nextSale = d0;
  const pending: Promise<void>[] = [];
  let stan = 0;
  while (performance.now() < end && sw.reversals.outstanding + (N - claimRows) > 0) {
    if (performance.now() >= nextSale) {
      nextSale += 1000 / SALES_PER_SECOND;
      const m = original(N + ++stan, Date.now());
      m.set(11, String(stan % 999_999 + 1).padStart(6, '0'));
      m.set(37, `SALE${String(stan).padStart(8, '0')}`);
      const q0 = performance.now();
      sent++;
      pending.push(client.request(m, 10_000).then((a) => {
        saleMs.recordValue(Math.max(1, Math.round(performance.now() - q0)));
        if (a.get(39) === '00') approved++;
      }, () => undefined));
    }
    if (sent % 25 === 0) {
      const m = mem();
      peak.rssMb = Math.max(peak.rssMb, m.rssMb);
      peak.heapMb = Math.max(peak.heapMb, m.heapMb);
      if (!(await switchReadiness(sw)).ready) notReady++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - d0) / 1000;
  const acked = sw.counters.get('reversals_acked') - ackedAt0;
  const rate = acked / elapsed;
  log(`${kind}: ${acked} acked in ${elapsed.toFixed(0)} s (${rate.toFixed(0)}/s); claims ${claimMs.totalCount}, p99 ${claimMs.getValueAtPercentile(99)} ms`);
  await client.close();
  await sw.stop(1000);
  await store.close();
  issuer.server.close();
  rmSync(dir, { recursive: true, force: true });
  if (kind === 'postgres') {
    const c = new pg.Client({ connectionString: String(args.pg) });
    await c.connect();
    await c.query(`DROP SCHEMA ${schema} CASCADE`);
    await c.end();
  }
  return {
    store: kind, queued: N, window: Number(args.window), fillSeconds: Math.round(fillSeconds), startMs: Math.round(startMs), afterStart, peak,
    claims: { count: claimMs.totalCount, rows: claimRows, p50Ms: claimMs.getValueAtPercentile(50), p99Ms: claimMs.getValueAtPercentile(99), maxMs: claimMs.maxValue },
    acked, drainPerSecond: Math.round(rate), wholeBacklogMinutes: rate > 0 ? Math.round(N / rate / 60) : -1,
    sales: { sent, approved, p50Ms: saleMs.getValueAtPercentile(50), p99Ms: saleMs.getValueAtPercentile(99) },
    notReadySamples: notReady,
  };
}

const results: Figures[] = [];
for (const kind of String(args.store).split(',')) results.push(await run(kind as 'sqlite' | 'postgres'));
for (const r of results) {
  process.stdout.write(`${r.store}: ${r.queued} queued, window ${r.window}; start ${(r.startMs / 1000).toFixed(1)} s; rss ${r.afterStart.rssMb} MB after start, ${r.peak.rssMb} MB peak ` +
    `(heap ${r.peak.heapMb} MB); claims ${r.claims.count} (${r.claims.rows} rows) p50 ${r.claims.p50Ms} ms p99 ${r.claims.p99Ms} ms max ${r.claims.maxMs} ms; ` +
    `drain ${r.drainPerSecond}/s (whole backlog ~${r.wholeBacklogMinutes} min); sales ${r.sales.approved}/${r.sales.sent} approved, p50 ${r.sales.p50Ms} ms p99 ${r.sales.p99Ms} ms; ` +
    `not ready ${r.notReadySamples} samples\n`);
}
if (!args['no-write']) {
  const at = new Date().toISOString();
  const files = writeResult('outage', at, { at, queued: N, seconds: SECONDS, results }, resultsDir(Boolean(args.record)));
  log(`written: ${JSON.stringify(files)}`);
}
