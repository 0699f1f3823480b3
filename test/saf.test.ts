/**
 * The store-and-forward queue against a scripted link and a fake clock: 0400 then 0401
 * repeats, timeouts counted as attempts, the backoff schedule, manual handling, restarts
 * in the middle of a backoff, idempotent acks, and one stuck entry not holding up others.
 * Runs on the in-memory store, on SQLite and on PostgreSQL (skipped, saying why, when no
 * server answers: see test/support/pg.ts), through the Store interface only.
 */
import t from 'tap';
import { IsoMessage } from '../codec/index.js';
import { Counters } from '../switch/observe/counters.js';
import { FakeLink, PAN, SafStores, answer, original, queue, settle, step } from './support/saf-harness.js';

const stores = await SafStores.of(t);
const KINDS = stores.kinds;
const openFresh = stores.open.bind(stores);

for (const kind of KINDS) {
  t.test(`${kind}: first send 0400, later sends 0401 of the same message; a timeout counts; backoff followed; then manual`, async (tt) => {
    const { store } = await openFresh(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 1_000_000 };
    const q = queue(store, link, clock, { maxAttempts: 4, backoffMs: [1000, 5000, 30_000] });
    tt.ok(q.enqueue({ id: 'r1', upstream: 'up', original: original('000001'), reason: '68', explanation: 'timeout', txnId: 't1' }));
    tt.notOk(q.enqueue({ id: 'r1', upstream: 'up', original: original('000001'), reason: '68', explanation: 'again' }), 'one original, one reversal');
    await step(q, store, clock, 0);
    tt.equal(link.sent.length, 1);
    tt.equal(link.sent[0].mti, '0400');
    tt.equal(link.sent[0].get(2), PAN, 'the PAN is unsealed for the wire');
    tt.notOk(link.sent[0].has(35), 'track 2 never reaches a reversal');
    tt.equal(link.sent[0].get(39), '68');
    const sendTimes: number[] = [clock.now];
    // No answer: each attempt times out after 1 s, then the backoff waits 1 s, 5 s, 30 s.
    for (const wait of [1000, 5000, 30_000]) {
      await step(q, store, clock, 1000);
      tt.equal(q.get('r1')?.state, 'pending', 'the timeout counts as a failed attempt');
      await step(q, store, clock, wait - 1);
      const before = link.sent.length;
      await step(q, store, clock, 1);
      tt.equal(link.sent.length, before + 1, `a repeat after ${wait} ms`);
      sendTimes.push(clock.now);
    }
    tt.same(link.sent.map((m) => m.mti), ['0400', '0401', '0401', '0401']);
    tt.equal(new Set(link.sent.map((m) => `${m.get(11)}|${m.get(7)}`)).size, 1, 'every repeat keeps the STAN and F7');
    tt.equal(q.get('r1')?.attempts, 4);
    await step(q, store, clock, 1000);
    tt.equal(q.get('r1')?.state, 'manual', 'after maxAttempts: manual, never dropped');
    tt.equal(q.outstanding, 0);
    const row = await store.reversal('r1');
    tt.equal(row?.state, 'manual');
    tt.equal(row?.attempts, 4);
    const hist = (await store.history('r1')).map((h) => h.state);
    // The link was up with a free slot, so the row was written `sent` with its 0400 at once.
    tt.same(hist, ['sent', 'pending', 'sent', 'pending', 'sent', 'pending', 'sent', 'manual'], 'every transition is in the history');
    tt.ok(await store.resolveManual('r1', 'phoned the issuer: reversed by hand', clock.now));
    tt.equal((await store.reversal('r1'))?.state, 'resolved');
  });

  t.test(`${kind}: answer codes follow the rules file; acks are idempotent`, async (tt) => {
    const { store } = await openFresh(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 5_000_000 };
    const q = queue(store, link, clock);
    for (const id of ['ok', 'retry', 'manual']) q.enqueue({ id, upstream: 'up', original: original(id === 'ok' ? '000011' : id === 'retry' ? '000012' : '000013'), reason: '06', explanation: 'x' });
    await step(q, store, clock, 0);
    tt.equal(link.sent.length, 3);
    const [a, b, c] = link.sent;
    tt.ok(q.handleResponse('up', answer(a, '00')));
    tt.ok(q.handleResponse('up', answer(b, '96')));
    tt.ok(q.handleResponse('up', answer(c, '12')));
    await settle(store);
    tt.equal(q.get('ok')?.state, 'acked');
    tt.equal(q.get('retry')?.state, 'pending', '96: retried after the backoff');
    tt.equal(q.get('manual')?.state, 'manual', '12: the message itself is refused, a person decides');
    const before = (await store.history('ok')).length;
    tt.ok(q.handleResponse('up', answer(a, '00')), 'a late second 0410 is taken');
    await settle(store);
    tt.equal((await store.history('ok')).length, before, '... and changes nothing');
    await step(q, store, clock, 1000);
    tt.equal(link.sent.length, 4);
    tt.equal(link.sent[3].mti, '0401');
    tt.equal(link.sent[3].get(11), b.get(11));
    tt.notOk(q.handleResponse('up', new IsoMessage('0210', { 11: '999999', 39: '00' })), 'not a reversal answer: not taken');
  });

  t.test(`${kind}: an answer under the reversal's STAN that names another original is never its ack`, async (tt) => {
    const { store } = await openFresh(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 6_000_000 };
    const counters = new Counters();
    const q = queue(store, link, clock, { counters });
    q.enqueue({ id: 'r9', upstream: 'up', original: original('000021'), reason: '68', explanation: 'timeout' });
    await step(q, store, clock, 0);
    const [rev] = link.sent;
    for (const [n, other] of [[37, 'RRN999999000'], [41, 'TERM0099'], [90, `02009999991125221530${'0'.repeat(22)}`]] as const) {
      const wrong = answer(rev, '00');
      wrong.set(n, other);
      tt.ok(q.handleResponse('up', wrong), `an 0410 with another F${n} is taken as a reversal answer`);
      await settle(store);
      tt.equal(q.get('r9')?.state, 'sent', `... but does not ack this reversal (F${n} differs)`);
    }
    tt.equal(counters.get('reversal_responses_mismatched'), 3, 'each counted as mismatched');
    tt.ok(q.handleResponse('up', answer(rev, '00')));
    await settle(store);
    tt.equal(q.get('r9')?.state, 'acked', 'the true answer acks it');
  });

  t.test(`${kind}: one stuck reversal does not delay the others`, async (tt) => {
    const { store } = await openFresh(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    const clock = { now: 9_000_000 };
    const q = queue(store, link, clock, { window: 2, responseTimeoutMs: 30_000 });
    for (let i = 0; i < 20; i++) q.enqueue({ id: `r${i}`, upstream: 'up', original: original(String(100 + i).padStart(6, '0')), reason: '06', explanation: 'x' });
    // The issuer answers everything except r0, at once.
    for (let round = 0; round < 30 && q.outstanding > 1; round++) {
      await step(q, store, clock, 1);
      for (const m of link.sent.splice(0)) if (m.get(37) !== 'RRN000100000') q.handleResponse('up', answer(m, '00'));
    }
    tt.equal(q.outstanding, 1, 'all but the stuck one acked while it waits for its 30 s timeout');
    tt.equal(q.get('r0')?.state, 'sent');
    tt.ok(clock.now - 9_000_000 < 1000, 'well before the stuck entry timed out');
  });

  t.test(`${kind}: a late decline cancels a reversal not yet sent; a link that is down holds sends back`, async (tt) => {
    const { store } = await openFresh(tt, kind);
    tt.teardown(() => store.close());
    const link = new FakeLink();
    link.isUp = false;
    const clock = { now: 2_000_000 };
    const q = queue(store, link, clock);
    q.enqueue({ id: 'c1', upstream: 'up', original: original('000021'), reason: '68', explanation: 'timeout' });
    q.enqueue({ id: 'c2', upstream: 'up', original: original('000022'), reason: '68', explanation: 'timeout' });
    await step(q, store, clock, 100);
    tt.equal(link.sent.length, 0, 'nothing sent while the link is down');
    tt.ok(q.cancel('c1'));
    link.isUp = true;
    await step(q, store, clock, 100);
    tt.same(link.sent.map((m) => m.get(37)), ['RRN000022000'], 'only c2 goes out');
    tt.notOk(q.cancel('c2'), 'a sent reversal cannot be withdrawn');
    tt.equal((await store.reversal('c1'))?.state, 'cancelled');
  });
}

for (const kind of KINDS.filter((k) => k !== 'memory')) t.test(`${kind}: a restart in the middle of the backoff resumes the entry as a repeat of the same message`, async (tt) => {
  const { store, dir } = await openFresh(tt, kind);
  const link = new FakeLink();
  const clock = { now: 3_000_000 };
  const q1 = queue(store, link, clock);
  q1.enqueue({ id: 'x1', upstream: 'up', original: original('000031'), reason: '68', explanation: 'timeout' });
  q1.enqueue({ id: 'x2', upstream: 'up', original: original('000032'), reason: '68', explanation: 'timeout' });
  await step(q1, store, clock, 0);
  tt.equal(link.sent.length, 2);
  await step(q1, store, clock, 1000);
  tt.equal(q1.get('x1')?.state, 'pending', 'timed out: waiting out the backoff');
  const first = link.sent.find((m) => m.get(37) === 'RRN000031000') as IsoMessage;
  q1.stop();
  await store.close();

  const { store: again } = await openFresh(tt, kind, dir);
  tt.teardown(() => again.close());
  const link2 = new FakeLink();
  const q2 = queue(again, link2, clock);
  tt.equal(await q2.load(), 2);
  tt.equal(q2.outstanding, 2);
  await step(q2, again, clock, 500);
  tt.equal(link2.sent.length, 0, 'the backoff still runs after the restart');
  await step(q2, again, clock, 600);
  tt.equal(link2.sent.length, 2);
  const resent = link2.sent.find((m) => m.get(37) === 'RRN000031000') as IsoMessage;
  tt.equal(resent.mti, '0401');
  tt.equal(resent.get(11), first.get(11), 'same STAN as before the restart');
  tt.equal(resent.get(7), first.get(7), 'same F7');
  tt.equal(resent.get(2), PAN, 'the sealed PAN opens with the same key');
  q2.handleResponse('up', answer(resent, '00'));
  await settle(again);
  tt.equal((await again.reversal('x1'))?.state, 'acked');
  tt.equal((await again.reversal('x1'))?.attempts, 2);
});
