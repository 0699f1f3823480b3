/**
 * A refund over TCP, end to end on SQLite: a sale is approved, its business day closes
 * (the process clock moves three days on), then the terminal cancels it. A reversal is no
 * longer possible, so the switch answers the terminal at once and sends the issuer ONE
 * refund (0220) with the original's amount and references, and no reversal; the terminal's
 * 0401 repeat changes nothing; `revswitch txn`'s evidence shows the refund and its answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, repeatOf, reversalOf, transmissionTime } from '../codec/index.js';
import { formatEvidenceText, lookupTxn } from '../switch/reports/evidence.js';
import { nextStan, sale, startHarness, upstreamF90 } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
const DAY = 24 * 3600_000;

t.test('sale approved, cutover passes, the terminal cancels: one refund reaches the issuer, no reversal', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-refund-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'journal.db')}`, reversal: { responseTimeoutMs: 2000 } });
  const c = await h.client();
  const s = sale({ amount: '4250' });
  const res = await c.request(s, 10_000);
  tt.equal(res.get(39), '00', 'approved');
  const sent = h.salesSeen(s.get(37) as string)[0]?.msg;
  tt.ok(sent, 'the issuer has the sale');

  // Three days on: the sale's business day has closed and its reversal window has passed.
  const realNow = Date.now;
  Date.now = () => realNow() + 3 * DAY;
  tt.teardown(() => {
    Date.now = realNow;
  });
  const cancel = reversalOf(D87, s, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) });
  const answered = await c.request(cancel, 10_000);
  tt.equal(answered.mti, '0410');
  tt.equal(answered.get(39), '00', 'the terminal is answered at once');

  const refunds = () => h.events.filter((e) => e.msg.mti.startsWith('022'));
  await h.until(() => refunds().length > 0, 'the refund at the issuer', 10_000);
  const r = refunds()[0].msg;
  tt.equal(r.mti, '0220');
  tt.equal(r.get(3)?.slice(0, 2), '20', 'processing code 20');
  tt.equal(r.get(4), '000000004250', "the original's amount");
  tt.equal(r.get(37), s.get(37), "the original's RRN");
  tt.equal(r.get(38), res.get(38), "the original's approval code");
  tt.equal(r.get(41), s.get(41));
  tt.equal(r.get(90), upstreamF90(sent as NonNullable<typeof sent>), 'F90 names the original as it went upstream');
  tt.same(h.reversalsSeen(), [], 'no reversal: the business day is closed');

  // The terminal repeats its cancel: answered again, nothing new upstream.
  const again = await c.request(repeatOf(cancel), 10_000);
  tt.equal(again.get(39), '00');
  await h.until(() => h.sw.reversals.outstanding === 0, 'the refund acknowledged', 10_000);
  await h.barrier(c);
  tt.equal(refunds().filter((e) => e.msg.mti === '0220').length, 1, 'one refund: the 0401 changed nothing');
  tt.equal(h.sw.counters.get('refunds_acked'), 1);

  await h.store.flush();
  const found = await lookupTxn(h.store, { rrn: s.get(37) as string, terminal: s.get(41) as string, stan: s.get(11) as string });
  tt.equal(found.found, 'one');
  if (found.found !== 'one') return;
  const ev = found.evidence;
  tt.equal(ev.reversal?.kind, 'refund', 'the evidence shows the refund');
  tt.same([ev.reversal?.state, ev.reversal?.amount], ['acked', '000000004250']);
  tt.match(formatEvidenceText(ev), /refund\|.*: acked, \d attempts?, amount 000000004250/);
  tt.ok(ev.history.some((x) => x.role === 'reversal' && x.state === 'acked'), "the refund's answer is in the history");
});
