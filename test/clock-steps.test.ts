/**
 * Clock steps, unit by unit (issue 21; docs/operations.md, "Clock steps"), with the wall
 * clock and the monotonic clock injected apart and the wall one stepped an hour:
 *
 * - the reversal queue times answer deadlines and backoff on the monotonic clock: a +1 h
 *   step neither times out every reversal awaiting its answer nor sends every one waiting
 *   out its backoff, a -1 h step holds none of them back; what it stores (due times,
 *   history times) stays on the wall clock;
 * - a node judges its own reversal leases on the monotonic clock (a -1 h step must not let
 *   it send past a lease it could not renew), while the leases it writes stay wall-clock
 *   times, which the other nodes read;
 * - business dates are the wall clock's by intent: a step across the cutover moves a
 *   sale's undo from a reversal to a refund (+1 h) or keeps it a reversal (-1 h).
 */
import t from 'tap';
import { decide, loadDefaultRules, type DecisionState } from '../rules/index.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { ReversalLeases } from '../switch/undo/reversal-leases.js';
import type { ReversalUpdate, Store } from '../switch/store/types.js';
import { FakeLink, SafStores, original, queue, settle } from './support/saf-harness.js';

const HOUR = 3_600_000;
const stores = await SafStores.of(t);

/** The two clocks apart: `wall` is what Date.now() would say, `mono` what performance.now() would. */
function clocks(): { wall: number; mono: number } {
  return { wall: Date.parse('2026-03-04T10:00:00Z'), mono: 50_000 };
}

/**
 * A queue on both clocks (1 s answer timeout and backoff) and `advance(ms, step)`: the
 * monotonic clock moves ms, the wall clock ms + step, and the queue pumps and its writes
 * settle twice (a write's follow-up pump included).
 */
function steppedQueue(store: Store, link: FakeLink, settleOn: Store = store): {
  q: ReturnType<typeof queue>; c: { wall: number; mono: number }; advance: (ms: number, step?: number) => Promise<void>;
} {
  const c = clocks();
  const q = queue(store, link, { now: 0 }, { now: () => c.wall, monotonic: () => c.mono, responseTimeoutMs: 1000, backoffMs: [1000] });
  const advance = async (ms: number, step = 0): Promise<void> => {
    c.mono += ms;
    c.wall += ms + step;
    q.pump();
    await settle(settleOn);
    q.pump();
    await settle(settleOn);
  };
  return { q, c, advance };
}

for (const kind of stores.kinds) {
  t.test(`${kind}: +1 h: reversals awaiting their answer are not all timed out, nor those in backoff all sent`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const { q, c, advance } = steppedQueue(store, link);
    const states = (): string[] => ['a', 'b', 'c'].map((id) => q.get(id)?.state ?? '?');
    for (const [id, stan] of [['a', '000101'], ['b', '000102'], ['c', '000103']]) {
      q.enqueue({ id, upstream: 'up', original: original(stan), reason: '68', explanation: 'timeout', txnId: `t-${id}` });
    }
    await advance(0);
    tt.equal(link.sent.length, 3, 'three 0400s out, each with 1 s to be answered');
    await advance(500, +HOUR);
    tt.same(states(), ['sent', 'sent', 'sent'], 'the step fires no answer deadline');
    await advance(499);
    tt.same(states(), ['sent', 'sent', 'sent'], 'nor does the time up to the deadline');
    const failedAtWall = c.wall + 1;
    await advance(1);
    tt.same(states(), ['pending', 'pending', 'pending'], 'each deadline fires on time: the attempt failed, backoff 1 s');
    const row = await store.reversal('a');
    tt.equal(row?.dueAt, failedAtWall + 1000, 'the stored due time is on the wall clock, stepped as it is');
    const history = await store.history('a');
    tt.ok((history.at(-1)?.at ?? 0) >= failedAtWall, 'and so are the history times');
    await advance(500, +HOUR);
    tt.equal(link.sent.length, 3, 'a second step sends nothing in backoff early');
    await advance(499);
    tt.equal(link.sent.length, 3);
    await advance(1);
    tt.same(link.sent.slice(3).map((m) => m.mti), ['0401', '0401', '0401'], 'the repeats go when their backoff is over');
  });

  t.test(`${kind}: -1 h: reversals awaiting their answer or their backoff are not held back an hour`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const { q, advance } = steppedQueue(store, link);
    q.enqueue({ id: 'r', upstream: 'up', original: original('000201'), reason: '68', explanation: 'timeout', txnId: 't-r' });
    await advance(0);
    tt.equal(link.sent.length, 1);
    await advance(1000, -HOUR);
    tt.equal(q.get('r')?.state, 'pending', 'the answer deadline fired at its time, an hour behind the clock it was set by');
    await advance(1000, -HOUR);
    tt.same(link.sent.map((m) => m.mti), ['0400', '0401'], 'and the repeat went after its backoff');
  });
}

for (const kind of stores.kinds) {
  t.test(`${kind}: -1 h, then a restart: a reversal in backoff is not held back an hour by its stored due time`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const c = clocks();
    const opts = { now: () => c.wall, monotonic: () => c.mono, responseTimeoutMs: 1000, backoffMs: [5000] };
    const before = new FakeLink();
    const q1 = queue(store, before, { now: 0 }, opts);
    q1.enqueue({ id: 'k', upstream: 'up', original: original('000401'), reason: '68', explanation: 'timeout', txnId: 't-k' });
    q1.pump();
    await settle(store);
    c.mono += 1000;
    c.wall += 1000;
    q1.pump();
    await settle(store);
    const stored = await store.reversal('k');
    tt.equal(stored?.state, 'pending', 'its answer deadline passed: in backoff');
    tt.equal(stored?.dueAt, c.wall + 5000, 'due in 5 s by the wall clock of the time');
    q1.stop();
    // The process stops, the wall clock steps back an hour, it starts again.
    c.wall -= HOUR;
    const after = new FakeLink();
    const q2 = queue(store, after, { now: 0 }, opts);
    tt.equal(await q2.load(), 1);
    c.mono += 5000;
    c.wall += 5000;
    q2.pump();
    await settle(store);
    q2.pump();
    await settle(store);
    tt.same(after.sent.map((m) => m.mti), ['0401'], 'sent within the longest delay the queue sets, not an hour later');
  });
}

t.test('-1 h: a transition write the store failed is retried after its delay, not an hour later', async (tt) => {
  const { store: inner } = await stores.open(tt, 'memory');
  tt.teardown(() => inner.close());
  let failNext = false;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'updateReversal') {
        return async (u: ReversalUpdate): Promise<boolean> => {
          if (failNext && u.state === 'pending') {
            failNext = false;
            throw new Error('injected: disk full');
          }
          return target.updateReversal(u);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const link = new FakeLink();
  const { q, advance } = steppedQueue(store, link, inner);
  q.enqueue({ id: 'w', upstream: 'up', original: original('000301'), reason: '68', explanation: 'timeout', txnId: 't-w' });
  await advance(0);
  failNext = true;
  await advance(1000);
  tt.equal((await inner.reversal('w'))?.state, 'sent', 'the timeout\'s write failed: the store still says sent');
  await advance(1000, -HOUR);
  tt.same((await inner.history('w')).map((h) => h.state), ['sent', 'pending', 'sent'], 'retried after its delay (the first backoff) across the step, and the repeat followed');
  tt.same(link.sent.map((m) => m.mti), ['0400', '0401']);
});

t.test('reversal leases: this node judges its own on the monotonic clock, writes them on the wall clock', async (tt) => {
  const c = clocks();
  const store = {
    claimReversals: async () => [],
    renewLeases: async () => 0,
  } as unknown as Store;
  const quiet = { adopt: () => false, activeIds: () => [], room: () => 1000, dropUnowned: () => {}, pump: () => {} };
  const make = (): ReversalLeases => new ReversalLeases(store, quiet, { node: 'a', leaseMs: 10_000 }, {
    log: createLogger('silent'), counters: new Counters(), now: () => c.wall, mono: () => c.mono,
  });

  const back = make();
  await back.claimAtLoad();
  tt.ok(back.maySend(), 'a fresh lease: it may send');
  // Its renewals fail from here (nothing renews it in this test) and the wall clock goes back an hour.
  c.wall -= HOUR;
  c.mono += 9_000;
  tt.ok(back.maySend(), 'inside the lease, less its margin');
  c.wall += 1_000;
  c.mono += 1_000;
  tt.notOk(back.maySend(), 'leaseMs after its last renewal it stops, whatever the wall clock says');

  const ahead = make();
  await ahead.claimAtLoad();
  c.wall += HOUR;
  c.mono += 1_000;
  tt.ok(ahead.maySend(), 'a +1 h step does not make a lease just renewed look lapsed');

  const row = { owner: null, leaseUntil: null } as unknown as Parameters<ReversalLeases['own']>[0];
  ahead.own(row, c.wall);
  tt.equal(row.leaseUntil, c.wall + 10_000, 'the lease written to the store is a wall-clock time: other nodes judge it');
});

t.test('business dates are the wall clock\'s, by intent: a step across the cutover', async (tt) => {
  const rules = loadDefaultRules(); // Europe/Berlin, cutover 23:00
  const zero: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
  const timeout = (originalTime: number, now: number) => decide(rules, {
    mti: '0200', amount: 10000, currency: '978', event: 'timeout', originalTime, now, panHash: 'h:card-1',
  }, zero);
  const sale = Date.parse('2026-03-04T22:40:00+01:00'); // Wednesday, before the cutover
  tt.equal(rules.businessDate(sale), '2026-03-04');
  tt.equal(timeout(sale, sale + 8_000).action, 'reverse', 'timed out 8 s later: a reversal');
  const stepped = timeout(sale, sale + 8_000 + HOUR);
  tt.equal(stepped.action, 'refund', '+1 h across the cutover: the business date looks closed, so a refund (the money still comes back)');
  tt.equal(rules.businessDate(sale + HOUR), '2026-03-05', 'and a sale received during the step carries the next business date');
  const late = Date.parse('2026-03-04T23:10:00+01:00'); // Thursday's business date
  tt.equal(timeout(late, late + 8_000 - HOUR).action, 'reverse', '-1 h back across the cutover: still a reversal (the original is not closed)');
});
