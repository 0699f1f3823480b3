/**
 * The reversal queue's memory cap (reversal.maxInMemory, issue 21): an issuer outage's
 * backlog lives in the store, not the heap. Past the cap a new reversal is stored unowned
 * and not kept in memory; claims take only the room left; as entries finish, the lease
 * tick claims the stored ones back. None is refused, dropped or held back for good: with
 * one card, one terminal and one merchant, 60 mandatory reversals under a cap of 8, every
 * one reaches the issuer once and is acknowledged. On memory, SQLite and PostgreSQL.
 */
import t from 'tap';
import { IsoMessage, responseTo, type Dialect } from '../codec/index.js';
import { Mux } from '../switch/edge/mux.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { SafQueue } from '../switch/undo/reversal-queue.js';
import type { ReversalLink } from '../switch/undo/reversals.js';
import { D, keys, original, rules, SafStores } from './support/saf-harness.js';
import { until } from './support/until.js';

/** The issuer: down until `isUp`, then answers 00 on the next turn; records what it got. */
class Issuer implements ReversalLink {
  readonly dialect: Dialect = D;
  isUp = false;
  sent: IsoMessage[] = [];
  queue: SafQueue | null = null;
  readonly mux = new Mux({ tickMs: 10, firstStan: 701 });
  send(msg: IsoMessage): boolean {
    if (!this.isUp) return false;
    this.sent.push(msg.clone());
    setImmediate(() => this.queue?.handleResponse('up', responseTo(D, msg, '00')));
    return true;
  }
}

t.test('past maxInMemory reversals wait in the store, are claimed back as room frees, and all are acknowledged', async (t) => {
  const stores = await SafStores.of(t);
  for (const kind of stores.kinds) {
    await t.test(kind, async (tt) => {
      const { store } = await stores.open(tt, kind);
      tt.teardown(() => store.close());
      const link = new Issuer();
      const counters = new Counters();
      const q = new SafQueue(store, new Map([['up', link]]), {
        window: 4, responseTimeoutMs: 1000, backoffMs: [50, 100], maxAttempts: 50, maxAgeMs: 3600_000, maxInMemory: 8,
        outcomeOf: (rc) => rules.reversalResponse(rc), log: createLogger('silent'), counters, keys,
        lease: { node: 'node-a', leaseMs: 600, claimLimit: 5 },
      });
      link.queue = q;
      await q.load();
      q.start();
      tt.teardown(() => q.stop());
      const N = 60;
      for (let i = 1; i <= N; i++) {
        // One card, one terminal, one merchant: the outage's timeouts, each a mandatory reversal.
        const m = original(String(i).padStart(6, '0'));
        tt.ok(q.enqueue({ id: `rev-${i}`, upstream: 'up', original: m, reason: '68', explanation: 'timeout: the issuer is down' }), `reversal ${i} accepted`);
      }
      await store.flush();
      tt.equal(q.outstanding, 8, 'only the cap in memory');
      tt.equal(counters.get('reversals_spilled'), N - 8, 'the rest spilled to the store, counted');
      const unowned = (await store.claimReversals('peek', Date.now(), 1, 1000)).length;
      tt.equal(unowned, N - 8, 'stored unowned, pending: any node with room may claim them');
      await store.releaseLeases('peek', (await store.reversals(['pending'])).map((r) => r.id));

      link.isUp = true;
      await until(async () => (await store.reversals(['acked'])).length === N, 'every reversal acknowledged', 30_000, 20);
      const stans = link.sent.filter((m) => m.mti === '0400').map((m) => m.get(90)?.slice(4, 10));
      tt.equal(new Set(stans).size, N, 'each original reversed');
      tt.equal(stans.length, N, 'once');
      tt.same(await store.reversals(['manual']), [], 'none given up to manual');
    });
  }
});
