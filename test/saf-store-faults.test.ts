/**
 * The store-and-forward queue when the store fails under it: the mirror in memory must
 * follow the store, never lead it. A failed write is retried and the entry waits for it; a
 * write whose reply was lost is found done on its retry; an insert that committed but
 * whose reply was lost is taken from the row; and a periodic sweep takes a live row the
 * queue lost and drops an entry the store closed. In each case exactly one reversal (a
 * 0400 and its 0401 repeats, one STAN and F7) ends acknowledged or with a person.
 * On memory, SQLite and PostgreSQL.
 */
import t from 'tap';
import { sealMessage } from '../switch/store/sealed.js';
import type { ReversalRow, ReversalUpdate, Store } from '../switch/store/types.js';
import { Counters } from '../switch/observe/counters.js';
import { D, FakeLink, SafStores, answer, keys, original, queue, settle, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);

/** What a chosen write does: fail (nothing written), or commit and lose its reply. */
type Fault = 'fail' | 'lost-reply';

/** The store with writes that fail once each, when their predicate matches. */
function faulty(store: Store): { store: Store; failUpdate(when: (u: ReversalUpdate) => boolean, f: Fault): void; failInsert(f: Fault): void } {
  const updates: { when: (u: ReversalUpdate) => boolean; f: Fault }[] = [];
  const inserts: Fault[] = [];
  const lost = (): Error => new Error('injected: connection lost before the reply');
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === 'updateReversal') {
        return async (u: ReversalUpdate): Promise<boolean> => {
          const i = updates.findIndex((x) => x.when(u));
          if (i < 0) return target.updateReversal(u);
          const [{ f }] = updates.splice(i, 1);
          if (f === 'fail') throw new Error('injected: disk full');
          await target.updateReversal(u);
          throw lost();
        };
      }
      if (prop === 'insertReversal') {
        return async (row: ReversalRow): Promise<boolean> => {
          const f = inserts.shift();
          if (f === undefined) return target.insertReversal(row);
          if (f === 'fail') throw new Error('injected: disk full');
          await target.insertReversal(row);
          await target.flush();
          throw lost();
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    store: wrapped,
    failUpdate: (when, f) => { updates.push({ when, f }); },
    failInsert: (f) => { inserts.push(f); },
  };
}

/** Steps the fake clock until `done`, at most `n` steps of `ms`. */
async function stepUntil(q: Parameters<typeof step>[0], store: Store, clock: { now: number }, ms: number, n: number, done: () => boolean): Promise<void> {
  for (let i = 0; i < n && !done(); i++) await step(q, store, clock, ms);
}

const rev = (id: string, stan: string) => ({ id, upstream: 'up', original: original(stan), reason: '68', explanation: 'timeout', txnId: `t-${id}` });

for (const kind of stores.kinds) {
  t.test(`${kind}: a failed sent -> pending write does not strand the reversal`, async (tt) => {
    const { store: real } = await stores.open(tt, kind);
    tt.teardown(() => real.close());
    const f = faulty(real);
    const link = new FakeLink();
    const clock = { now: 2_000_000 };
    const counters = new Counters();
    const q = queue(f.store, link, clock, { counters });
    q.enqueue(rev('w1', '000101'));
    await step(q, f.store, clock, 0);
    tt.same(link.sent.map((m) => m.mti), ['0400']);
    f.failUpdate((u) => u.id === 'w1' && u.state === 'pending', 'fail');
    await step(q, f.store, clock, 1000); // no answer: the attempt fails, its write fails
    tt.equal((await real.reversal('w1'))?.state, 'sent', 'the store still says sent');
    await stepUntil(q, f.store, clock, 500, 40, () => link.sent.length > 1);
    tt.same(link.sent.map((m) => m.mti), ['0400', '0401'], 'the write retried, then the repeat went out');
    q.handleResponse('up', answer(link.sent[1], '00'));
    await settle(f.store);
    tt.equal((await real.reversal('w1'))?.state, 'acked', 'acknowledged in the store');
    tt.equal(q.outstanding, 0);
    tt.ok(counters.get('store_errors') >= 1, 'the failure counted');
  });

  t.test(`${kind}: a write whose reply was lost is found done on its retry`, async (tt) => {
    const { store: real } = await stores.open(tt, kind);
    tt.teardown(() => real.close());
    const f = faulty(real);
    const link = new FakeLink();
    const clock = { now: 3_000_000 };
    const q = queue(f.store, link, clock);
    q.enqueue(rev('l1', '000102'));
    await step(q, f.store, clock, 0);
    f.failUpdate((u) => u.id === 'l1' && u.state === 'pending', 'lost-reply');
    await step(q, f.store, clock, 1000);
    await stepUntil(q, f.store, clock, 500, 40, () => link.sent.length > 1);
    tt.same(link.sent.map((m) => m.mti), ['0400', '0401']);
    q.handleResponse('up', answer(link.sent[1], '00'));
    await settle(f.store);
    tt.equal((await real.reversal('l1'))?.state, 'acked');
    // The retry of a change that had landed may land again where the change allows its own
    // state as a start (sent|pending -> pending): the history then shows it twice; the
    // messages, which are what the issuer sees, do not change.
    tt.match((await real.history('l1')).map((h) => h.state).join(','), /^sent,pending,(pending,)?sent,acked$/);
  });

  t.test(`${kind}: an insert that committed but lost its reply is taken from its row, not forgotten`, async (tt) => {
    const { store: real } = await stores.open(tt, kind);
    tt.teardown(() => real.close());
    const f = faulty(real);
    const link = new FakeLink();
    const clock = { now: 4_000_000 };
    const counters = new Counters();
    // The insert's retry runs on a real timer after the first backoff: keep it short.
    const q = queue(f.store, link, clock, { counters, backoffMs: [20, 1000] });
    f.failInsert('lost-reply');
    q.enqueue(rev('i1', '000103'));
    await new Promise((r) => setTimeout(r, 150));
    await stepUntil(q, f.store, clock, 100, 40, () => link.sent.length > 0);
    tt.equal(link.sent.length, 1, 'the reversal reaches the issuer');
    tt.equal(link.sent[0].get(90)?.slice(4, 10), '000103', 'for its original');
    q.handleResponse('up', answer(link.sent[0], '00'));
    await settle(f.store);
    tt.equal((await real.reversal('i1'))?.state, 'acked');
    tt.equal(counters.get('reversals_already_known'), 0, 'not mistaken for a reversal made before');
  });

  t.test(`${kind}: the sweep takes a live row the queue lost, and drops an entry the store closed`, async (tt) => {
    const { store: real } = await stores.open(tt, kind);
    tt.teardown(() => real.close());
    const link = new FakeLink();
    const clock = { now: 5_000_000 };
    const q = queue(real, link, clock);
    // A live row in the store the running queue never saw (the limbo a lost entry leaves).
    const at = clock.now;
    await real.insertReversal({
      id: 's1', txnId: 't-s1', upstream: 'up', state: 'pending', attempts: 0, reason: '68', finalAmount: null, explanation: 'timeout',
      original: sealMessage(D, original('000104'), keys, 't-s1'), message: null, sentStan: null, enqueuedAt: at, dueAt: at, lastError: null, note: null, updatedAt: at,
    });
    await settle(real);
    // And an entry the store closed under the queue (a person resolved it by hand).
    q.enqueue(rev('s2', '000105'));
    await step(q, real, clock, 0);
    tt.equal(link.sent.length, 1);
    tt.ok(await real.updateReversal({ id: 's2', from: ['sent'], state: 'manual', at: clock.now, detail: 'taken by hand' }));
    await settle(real);
    tt.equal(q.outstanding, 1, 'before the sweep the queue knows one');
    tt.ok((await q.sweep()) >= 2, 'two differences healed');
    await step(q, real, clock, 0);
    await step(q, real, clock, 0);
    tt.equal(link.sent.filter((m) => m.get(90)?.slice(4, 10) === '000104').length, 1, 'the lost row is sent');
    tt.equal(q.get('s2'), undefined, 'the closed one left the queue');
    tt.equal(q.outstanding, 1, 'only the taken row is outstanding');
    tt.equal(await q.sweep(), 0, 'a second sweep finds nothing');
  });
}

for (const kind of stores.kinds) {
  t.test(`${kind}: several nodes: the sweep takes back this node's own lost row, never another node's, and an insert that meets another's row leaves it`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: Date.now() };
    const lease = { node: 'n1', leaseMs: 60_000 };
    const q = queue(store, link, clock, { lease });
    await q.load(); // this node's lease is live from here
    const at = clock.now;
    const row = (id: string, stan: string, owner: string) => ({
      id, txnId: `t-${id}`, upstream: 'up', state: 'pending' as const, attempts: 0, reason: '68', finalAmount: null, explanation: 'timeout',
      original: sealMessage(D, original(stan), keys, `t-${id}`), message: null, sentStan: null, enqueuedAt: at, dueAt: at, lastError: null, note: null,
      updatedAt: at, owner, leaseUntil: at + 60_000,
    });
    await store.insertReversal(row('mine', '000401', 'n1'));
    await store.insertReversal(row('theirs', '000402', 'n2'));
    await store.renewLeases('n2', at + 60_000);
    await settle(store);
    await q.sweep();
    await step(q, store, clock, 0);
    await step(q, store, clock, 0);
    const stans = link.sent.map((m) => m.get(90)?.slice(4, 10));
    tt.same(stans, ['000401'], "its own lost row is sent; the other node's live one is not touched");
    // Another node's reversal of the same original, already in the store: this node's
    // enqueue of it meets that row and leaves it (one original, one reversal).
    q.enqueue({ id: 'theirs', upstream: 'up', original: original('000402'), reason: '68', explanation: 'timeout', txnId: 't-other' });
    await new Promise((r) => setTimeout(r, 50));
    await step(q, store, clock, 0);
    await step(q, store, clock, 0);
    tt.same(link.sent.map((m) => m.get(90)?.slice(4, 10)), ['000401'], 'nothing sent for the other node\'s row');
  });
}
