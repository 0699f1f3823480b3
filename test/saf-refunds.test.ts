/**
 * Refunds through the store-and-forward queue, as reversals go: written ahead of the send,
 * a 0220 first and 0221 repeats of the same message, answers weighed by the rules file's
 * refundResponses, and after a crash (between queue and send, or between the `sent` mark
 * and the answer) exactly one refund at the issuer. On memory, SQLite and PostgreSQL.
 */
import t from 'tap';
import type { IsoMessage } from '../codec/index.js';
import { Counters } from '../switch/observe/counters.js';
import { FakeLink, PAN, SafStores, answer, original, queue, settle, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);

/** The original as the engine keeps it for a refund: the request sent upstream, with its approval's F38. */
function approved(stan: string, amount = '000000001000'): IsoMessage {
  const m = original(stan, amount);
  m.set(38, 'AP' + stan.slice(-4));
  return m;
}

const refund = (id: string, stan: string, amount: string) => ({
  id, kind: 'refund' as const, amount, upstream: 'up', original: approved(stan), reason: '', explanation: 'after cutover: refund', txnId: `t-${id}`,
});

for (const kind of stores.kinds) {
  t.test(`${kind}: a refund goes out as a 0220 of the refund amount, repeats as 0221, and is acked by refundResponses`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 7_000_000 };
    const counters = new Counters();
    const q = queue(store, link, clock, { counters });
    tt.ok(q.enqueue(refund('f1', '000041', '000000000400')));
    tt.notOk(q.enqueue(refund('f1', '000041', '000000000400')), 'one undo, one refund');
    await step(q, store, clock, 0);
    tt.equal(link.sent.length, 1);
    const [m] = link.sent;
    tt.equal(m.mti, '0220', 'an advice');
    tt.equal(m.get(3)?.slice(0, 2), '20', 'processing code 20: refund');
    tt.equal(m.get(4), '000000000400', 'the refund amount, not the original');
    tt.equal(m.get(2), PAN, 'the PAN unsealed for the wire');
    tt.equal(m.get(37), 'RRN000041000', "the original's RRN");
    tt.equal(m.get(38), 'AP0041', "the original's approval code");
    tt.notOk(m.has(35), 'no track data');
    tt.notOk(m.has(39), 'no response code');
    await step(q, store, clock, 1000);
    await step(q, store, clock, 1000);
    tt.same(link.sent.map((x) => x.mti), ['0220', '0221'], 'no answer: a repeat after the backoff');
    tt.equal(new Set(link.sent.map((x) => `${x.get(11)}|${x.get(7)}`)).size, 1, 'the repeat keeps the STAN and F7');
    tt.ok(q.handleResponse('up', answer(link.sent[1], '00')), 'its 0230 is taken');
    await settle(store);
    tt.equal(q.get('f1')?.state, 'acked', 'a 0230 00 acks it');
    tt.equal(counters.get('refunds_acked'), 1);
    tt.equal(counters.get('reversals_acked'), 0, 'counted as a refund, not a reversal');
    const row = await store.reversal('f1');
    tt.same([row?.kind, row?.amount, row?.state], ['refund', '000000000400', 'acked']);
  });

  t.test(`${kind}: a refund's answer codes follow refundResponses, not reversalResponses`, async (tt) => {
    const { store } = await stores.open(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 8_000_000 };
    const q = queue(store, link, clock);
    q.enqueue(refund('f25', '000051', '000000001000'));
    q.enqueue(refund('f96', '000052', '000000001000'));
    await step(q, store, clock, 0);
    const [a, b] = link.sent;
    const asReversal = answer(b, '00');
    asReversal.mti = '0410';
    q.handleResponse('up', asReversal);
    await settle(store);
    tt.equal(q.get('f96')?.state, 'sent', "an 0410 under the refund's STAN is no answer to it");
    q.handleResponse('up', answer(a, '25'));
    q.handleResponse('up', answer(b, '96'));
    await settle(store);
    tt.equal(q.get('f25')?.state, 'manual', '25 (original not found) credited nothing: a person takes it up (a reversal would count it done)');
    tt.equal(q.get('f96')?.state, 'pending', '96: retried');
  });
}

for (const kind of stores.kinds.filter((k) => k !== 'memory')) {
  t.test(`${kind}: a crash between queue and send, then one between the sent mark and the answer: one refund at the issuer`, async (tt) => {
    const { store, dir } = await stores.open(tt, kind);
    const link = new FakeLink();
    link.isUp = false;
    const clock = { now: 9_000_000 };
    const q1 = queue(store, link, clock);
    q1.enqueue(refund('f9', '000061', '000000000700'));
    await step(q1, store, clock, 0);
    tt.equal(link.sent.length, 0, 'the link is down: queued, not sent');
    tt.equal((await store.reversal('f9'))?.state, 'pending', 'written ahead: pending in the store');
    q1.stop();
    await store.close();

    // First restart: the row comes back and goes out once, as a first 0220.
    const second = await stores.open(tt, kind, dir);
    const link2 = new FakeLink();
    const q2 = queue(second.store, link2, clock);
    tt.equal(await q2.load(), 1);
    await step(q2, second.store, clock, 0);
    tt.same(link2.sent.map((m) => m.mti), ['0220'], 'sent once after the restart');
    tt.equal((await second.store.reversal('f9'))?.state, 'sent');
    q2.stop();
    await second.store.close();

    // Second restart, before any answer: it resumes as a repeat of that same 0220, never a new refund.
    const third = await stores.open(tt, kind, dir);
    tt.teardown(() => third.store.close());
    const link3 = new FakeLink();
    const q3 = queue(third.store, link3, clock);
    tt.equal(await q3.load(), 1);
    await step(q3, third.store, clock, 1000);
    tt.same(link3.sent.map((m) => m.mti), ['0221'], 'a repeat');
    tt.equal(link3.sent[0].get(11), link2.sent[0].get(11), 'of the same STAN');
    tt.equal(link3.sent[0].get(4), '000000000700');
    tt.ok(q3.handleResponse('up', answer(link3.sent[0], '00')));
    await settle(third.store);
    const row = await third.store.reversal('f9');
    tt.same([row?.kind, row?.state, row?.attempts], ['refund', 'acked', 2]);
  });
}
