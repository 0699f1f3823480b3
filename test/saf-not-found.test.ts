/**
 * "Original not found" (25, 1993 480) is true of a sale the issuer never held, and also of
 * one it is still processing when the reversal overtakes it. With the default rules
 * (outcome recheck) the reversal is repeated over the backoff, so a sale the issuer posts
 * after the first answer is still reversed; only after RECHECK_SENDS sends does "not found"
 * count as done. Fails when 25 is taken as done at once.
 */
import t from 'tap';
import { Counters } from '../switch/observe/counters.js';
import { FakeLink, SafStores, answer, original, queue, settle, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);

for (const kind of stores.kinds) {
  t.test(`${kind}: a reversal answered 25 is asked again, and the issuer's later 00 acks it`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 6_000_000 };
    const counters = new Counters();
    const q = queue(store, link, clock, { counters });
    q.enqueue({ id: 'n1', upstream: 'up', original: original('000201'), reason: '68', explanation: 'timeout', txnId: 't-n1' });
    await step(q, store, clock, 0);
    q.handleResponse('up', answer(link.sent[0], '25'));
    await settle(store);
    tt.equal(q.get('n1')?.state, 'pending', 'not done: the sale may still be in process at the issuer');
    await step(q, store, clock, 1000);
    tt.same(link.sent.map((m) => m.mti), ['0400', '0401'], 'asked again after the backoff');
    q.handleResponse('up', answer(link.sent[1], '00'));
    await settle(store);
    tt.equal((await store.reversal('n1'))?.state, 'acked', 'the sale, posted meanwhile, is reversed');
    tt.equal(counters.get('reversals_rechecked'), 1);
  });

  t.test(`${kind}: "not found" every time counts as done after the rechecks`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 7_000_000 };
    const q = queue(store, link, clock);
    q.enqueue({ id: 'n2', upstream: 'up', original: original('000202'), reason: '68', explanation: 'timeout', txnId: 't-n2' });
    await step(q, store, clock, 0);
    for (let i = 0; i < 10 && q.get('n2')?.state !== 'acked'; i++) {
      const last = link.sent[link.sent.length - 1];
      q.handleResponse('up', answer(last, '25'));
      await settle(store);
      await step(q, store, clock, 60_000);
    }
    tt.equal(link.sent.length, 4, 'four sends in all');
    tt.equal((await store.reversal('n2'))?.state, 'acked', 'then nothing was held: done');
  });
}
