/**
 * The lease race: two nodes (two SafQueues with different node ids, each on its own store
 * connection pool) pull from ONE PostgreSQL queue of 10,000 reversals, through fake links
 * that acknowledge every reversal. Every reversal reaches "the issuer" (either link) as a
 * 0400 exactly once, no row is ever claimed by both nodes while both are alive (FOR
 * UPDATE SKIP LOCKED), and when node A is killed mid-run (its queue stops: no renewals,
 * no answers) the rows it held are claimed by B once A's leases expire, and finished.
 *
 * Needs PostgreSQL (test/support/pg.ts): skipped, saying why, when none answers, unless
 * REVSWITCH_REQUIRE_PG is set.
 */
import t from 'tap';
import { IsoMessage, getDialect, responseTo, type Dialect } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { Mux } from '../switch/edge/mux.js';
import type { ReversalLink } from '../switch/undo/reversals.js';
import { SafQueue } from '../switch/undo/reversal-queue.js';
import { openStore } from '../switch/store/index.js';
import { sealMessage } from '../switch/store/sealed.js';
import { CardKeys } from '../switch/store/secrets.js';
import type { ReversalRow, Store } from '../switch/store/types.js';
import { PgSchemas, pgReady } from './support/pg.js';
import { until } from './support/until.js';

const D = getDialect('iso87a');
const rules = loadDefaultRules();
const keys = new CardKeys(Buffer.alloc(32, 9));
const PAN = '4761739001010119';
const N = 10_000;
const LEASE_MS = 2000;

/** A link to "the issuer": records every message, answers 00 on the next turn unless dead. */
class AckLink implements ReversalLink {
  readonly dialect: Dialect = D;
  isUp = true;
  dead = false;
  sent: IsoMessage[] = [];
  queue: SafQueue | null = null;
  /** Each node's link numbers from its own base, so the two nodes' STANs never meet. */
  readonly mux: Mux;
  constructor(base: number) {
    this.mux = new Mux({ tickMs: 10, firstStan: base + 1 });
  }
  send(msg: IsoMessage): boolean {
    if (this.dead) return false;
    this.sent.push(msg.clone());
    setImmediate(() => {
      if (!this.dead) this.queue?.handleResponse('up', responseTo(D, msg, '00'));
    });
    return true;
  }
}

function original(i: number): IsoMessage {
  const stan = String(i).padStart(6, '0');
  const m = new IsoMessage('0200');
  const f: Record<number, string> = {
    2: PAN, 3: '000000', 4: '000000001000', 7: '1125221530', 11: stan, 12: '221530', 13: '1125', 37: `RRN${stan}000`,
    41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
  };
  for (const [k, v] of Object.entries(f)) m.set(Number(k), v);
  return m;
}

if (await pgReady(t)) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());

  t.test('two nodes, one queue of 10,000 reversals: each sent once; a dead node\'s leases move', async (t) => {
    const schema = schemas.next();
    const seed = openStore(schemas.url(schema));
    await seed.open();
    const t0 = Date.now();
    const inserts: Promise<boolean>[] = [];
    for (let i = 1; i <= N; i++) {
      const row: ReversalRow = {
        id: `rev-${i}`, txnId: `t-${i}`, upstream: 'up', state: 'pending', attempts: 0, reason: '68', finalAmount: null,
        explanation: 'timeout', original: sealMessage(D, original(i), keys, `t-${i}`), message: null, sentStan: null, enqueuedAt: t0 + i,
        dueAt: t0, lastError: null, note: null, updatedAt: t0,
      };
      inserts.push(seed.insertReversal(row));
    }
    t.equal((await Promise.all(inserts)).filter(Boolean).length, N, `${N} reversals queued, nobody's`);
    await seed.close();

    const stores: Store[] = [];
    const claims = new Map<string, { node: string; at: number }[]>();
    const node = (name: string, base: number): { q: SafQueue; link: AckLink; store: Store; counters: Counters } => {
      const store = openStore(schemas.url(schema, '&pool=3'));
      stores.push(store);
      const claim = store.claimReversals.bind(store);
      store.claimReversals = async (...args) => {
        const rows = await claim(...args);
        const at = Date.now();
        for (const r of rows) {
          const list = claims.get(r.id) ?? [];
          list.push({ node: name, at });
          claims.set(r.id, list);
        }
        return rows;
      };
      const link = new AckLink(base);
      const counters = new Counters();
      const q = new SafQueue(store, new Map([['up', link]]), {
        window: 64, responseTimeoutMs: 2000, backoffMs: [200, 500], maxAttempts: 50, maxAgeMs: 3600_000,
        outcomeOf: (rc) => rules.reversalResponse(rc), log: createLogger(process.env.LEASE_LOG ? 'warn' : 'silent'), counters, keys,
        lease: { node: name, leaseMs: LEASE_MS, claimLimit: 1000 },
      });
      link.queue = q;
      return { q, link, store, counters };
    };
    t.teardown(async () => {
      for (const s of stores) await s.close().catch(() => undefined);
    });
    const a = node('node-a', 100_000);
    const b = node('node-b', 500_000);
    await a.store.open();
    await b.store.open();
    await a.store.heartbeat('node-a', Date.now(), null);
    await b.store.heartbeat('node-b', Date.now(), null);
    a.q.start();
    b.q.start();

    // Kill A once both nodes have done real work.
    await until(() => a.link.sent.length >= 1500 && b.link.sent.length >= 1500, 'both nodes sending', 30_000, 50);
    a.q.stop();
    a.link.dead = true;
    const killedAt = Date.now();
    const heldByA = (await b.store.nodes()).find((n) => n.node === 'node-a')?.leases ?? 0;
    t.ok(heldByA > 0, `node A held ${heldByA} leases when it was killed`);

    await until(async () => (await b.store.reversals(['pending', 'sent'])).length === 0, 'the queue drained', 60_000, 50);
    const acked = await b.store.reversals(['acked']);
    t.equal(acked.length, N, 'every reversal acknowledged');

    // Both links are "the issuer": count first sends (0400) per original. A reversal A had
    // marked sent (its 0400 stored) when it died reaches the issuer as B's 0401 repeat of
    // that same message, whether or not A's 0400 left: never as a second 0400.
    const firsts = new Map<string, number>();
    const seen = new Set<string>();
    let repeats = 0;
    for (const m of [...a.link.sent, ...b.link.sent]) {
      const key = (m.get(90) ?? '').slice(4, 10);
      seen.add(key);
      if (m.mti === '0401') repeats++;
      else firsts.set(key, (firsts.get(key) ?? 0) + 1);
    }
    const twice = [...firsts].filter(([, n]) => n > 1);
    t.same(twice, [], 'no reversal was sent as a 0400 twice');
    t.equal(seen.size, N, `every reversal reached the issuer (${firsts.size} as a 0400; ${repeats} 0401 repeats of ones A left marked sent)`);
    const stans = new Map<string, Set<string>>();
    for (const m of [...a.link.sent, ...b.link.sent]) {
      const key = (m.get(90) ?? '').slice(4, 10);
      const set = stans.get(key) ?? new Set<string>();
      set.add(`${m.get(11) ?? ''}|${m.get(7) ?? ''}`);
      stans.set(key, set);
    }
    t.same([...stans].filter(([, v]) => v.size > 1).map(([k]) => k), [], 'each reversal always went out as the same message (one STAN and F7)');

    // SKIP LOCKED and the leases: while A was alive, a row went from one node to the other
    // only once its lease had lapsed (a renewal late on a loaded machine), never within it.
    const early = [...claims].filter(([, list]) => list.some((c, i) => i > 0 && c.at < killedAt && c.node !== list[i - 1].node && c.at - list[i - 1].at < LEASE_MS - 100));
    t.same(early.map(([id]) => id).slice(0, 20), [], 'no row claimed by both nodes within one lease');
    const lapsed = [...claims].filter(([, list]) => new Set(list.filter((c) => c.at < killedAt).map((c) => c.node)).size > 1).length;
    t.comment(`rows that moved while both were alive (a late renewal let the lease lapse): ${lapsed}`);
    const movedLate = [...claims].filter(([, list]) => list.some((c) => c.node === 'node-b' && c.at >= killedAt)
      && list.some((c) => c.node === 'node-a'));
    t.ok(movedLate.length > 0, `${movedLate.length} rows of A's were claimed by B after A died`);
    const firstMove = Math.min(...movedLate.map(([, list]) => Math.min(...list.filter((c) => c.node === 'node-b' && c.at >= killedAt).map((c) => c.at))));
    t.ok(firstMove - killedAt <= LEASE_MS + 1500, `B took A's rows ${firstMove - killedAt} ms after the kill (lease ${LEASE_MS} ms)`);
    t.equal(b.counters.get('reversals_claimed') > 0, true, 'B counted its claims');
  });
}
