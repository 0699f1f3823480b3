/**
 * When the store-and-forward queue gives a reversal to a person: after `maxAgeMs` from
 * its enqueue (a fake clock a day on), and after the default 20 attempts. Never dropped:
 * each ends `manual` in the store, with why.
 */
import t from 'tap';
import { defaultConfig } from '../switch/config/index.js';
import { FakeLink, SafStores, original, queue, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);
const DEFAULTS = defaultConfig().reversal;

for (const kind of stores.kinds) {
  t.test(`${kind}: a reversal older than maxAgeMs goes to manual, with why`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    link.isUp = false; // the issuer unreachable all day
    const clock = { now: 10_000_000 };
    const q = queue(store, link, clock, { maxAgeMs: DEFAULTS.maxAgeMs, maxAttempts: DEFAULTS.maxAttempts, backoffMs: DEFAULTS.backoffMs });
    q.enqueue({ id: 'a1', upstream: 'up', original: original('000301'), reason: '68', explanation: 'timeout', txnId: 't-a1' });
    await step(q, store, clock, 0);
    await step(q, store, clock, DEFAULTS.maxAgeMs - 1);
    tt.equal(q.get('a1')?.state, 'pending', 'a day less a millisecond: still waiting for the link');
    await step(q, store, clock, 1000); // the waiting line is checked once a second
    const row = await store.reversal('a1');
    tt.equal(row?.state, 'manual', 'a day old: a person takes over');
    tt.match(row?.lastError, /older than 1440 min/);
    tt.equal(link.sent.length, 0);
  });

  t.test(`${kind}: the default ${DEFAULTS.maxAttempts} attempts, then manual`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 20_000_000 };
    const q = queue(store, link, clock, { maxAgeMs: DEFAULTS.maxAgeMs, maxAttempts: DEFAULTS.maxAttempts, backoffMs: DEFAULTS.backoffMs, responseTimeoutMs: DEFAULTS.responseTimeoutMs });
    q.enqueue({ id: 'a2', upstream: 'up', original: original('000302'), reason: '68', explanation: 'timeout', txnId: 't-a2' });
    await step(q, store, clock, 0);
    for (let i = 0; i < 100 && q.get('a2')?.state !== 'manual'; i++) await step(q, store, clock, 60_000);
    tt.equal(DEFAULTS.maxAttempts, 20, 'the documented default');
    tt.equal(link.sent.length, 20, 'twenty sends: one 0400, nineteen 0401');
    tt.same([...new Set(link.sent.map((m) => m.mti))], ['0400', '0401']);
    const row = await store.reversal('a2');
    tt.same([row?.state, row?.attempts], ['manual', 20]);
    tt.match(row?.lastError, /20 attempts/);
  });
}
