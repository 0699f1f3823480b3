/**
 * The running switch end to end, one test per reversal case of domain.md §1: a terminal
 * client and the issuer simulator over real TCP on 127.0.0.1, the switch between them
 * with a 300 ms upstream deadline. Each test asserts what the terminal got and what the
 * issuer saw: the reversal's MTI and reason, and F90 built from the request the switch
 * sent upstream (its own STAN, the terminal's F7, the acquirer id). No durations are
 * asserted: every wait is on an issuer event, a client message or a polled counter.
 */
import t, { type Test } from 'tap';
import { getDialect, repeatOf, reversalOf, type IsoMessage } from '../codec/index.js';
import { transmissionTime } from '../codec/index.js';
import type { IssuerEvent } from '../switch/sim/issuer.js';
import type { SimClient } from '../switch/sim/client.js';
import { ACQUIRER, nextStan, sale, startHarness, upstreamF90, type Harness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');

const saleOf = (rrn: string) => (e: IssuerEvent): boolean => (e.msg.mti === '0200' || e.msg.mti === '0100') && e.msg.get(37) === rrn;
const reversalOfRrn = (rrn: string) => (e: IssuerEvent): boolean => e.msg.mti[1] === '4' && e.msg.get(37) === rrn;

/** A terminal's own reversal of its sale: a new STAN and F7, F90 of the sale as the terminal sent it. */
function terminalReversal(s: IsoMessage, reason: string, approvalCode?: string): IsoMessage {
  return reversalOf(D87, s, { reason, stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode });
}

/** F90 of the switch's reversal: the original as the switch sent it upstream, field by field. */
function checkF90(tt: Test, rev: IsoMessage, up: IsoMessage, terminalSale: IsoMessage): void {
  const f90 = rev.get(90) ?? '';
  tt.equal(f90, upstreamF90(up), 'F90 = the upstream request\'s MTI, STAN, F7, F32, F33');
  tt.equal(f90.slice(0, 4), terminalSale.mti, 'F90 1-4: original MTI');
  tt.equal(f90.slice(4, 10), up.get(11), 'F90 5-10: the switch\'s upstream STAN');
  tt.equal(f90.slice(10, 20), terminalSale.get(7), 'F90 11-20: the original F7');
  tt.equal(f90.slice(20, 31), ACQUIRER.padStart(11, '0'), 'F90 21-31: acquirer id (F32), zero-filled');
  tt.equal(f90.slice(31, 42), '0'.repeat(11), 'F90 32-42: forwarding institution (no F33), zero-filled');
}

/** Answers the client got for this STAN (the sale's own F11). */
function answersFor(c: SimClient, stan: string | undefined): IsoMessage[] {
  return c.received.filter((m) => m.get(11) === stan);
}

async function acked(h: Harness): Promise<void> {
  await h.until(() => h.sw.reversals.outstanding === 0, 'every reversal acknowledged');
}

// ---- timeouts --------------------------------------------------------------------------

t.test('timeout, approved and held but never answered (..99): terminal gets 91, the switch reverses with 68, the hold is released', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '1099' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const res = await c.request(s);
  tt.equal(res.mti, '0210');
  tt.equal(res.get(39), '91', 'the switch answers the terminal itself at its deadline');
  tt.equal(res.get(41), s.get(41));
  tt.equal(res.get(37), rrn);

  const up = (await upSale).msg;
  const rev = await upRev;
  tt.equal(rev.msg.mti, '0400');
  tt.equal(rev.msg.get(39), '68', 'reason 68: no response in time');
  checkF90(tt, rev.msg, up, s);
  tt.not(rev.msg.get(11), up.get(11), 'the reversal has a STAN of its own');
  tt.equal(rev.msg.get(4), s.get(4), 'full amount');
  tt.notOk(rev.msg.has(95), 'a full reversal has no F95');
  tt.equal(rev.reversal, 'applied');

  await acked(h);
  const l = h.issuer.ledger();
  tt.same(l.holds.filter((x) => x.rrn === rrn), [], 'no hold left');
  const released = l.released.find((x) => x.rrn === rrn);
  tt.equal(released?.reversals.reason, '68');
  tt.equal(released?.reversals.distinct, 1);
  tt.equal(h.sw.counters.get('timeouts'), 1);
  tt.equal(h.sw.counters.get('reversals_acked'), 1);
  tt.equal(answersFor(c, s.get(11)).length, 1, 'one answer for the sale');
});

t.test('timeout, never answered and nothing posted (..91): terminal gets 91, the reversal reaches the issuer unmatched, nothing held', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '2091' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const res = await c.request(s);
  tt.equal(res.mti, '0210');
  tt.equal(res.get(39), '91');

  const up = (await upSale).msg;
  const rev = await upRev;
  tt.equal(rev.msg.mti, '0400');
  tt.equal(rev.msg.get(39), '68');
  checkF90(tt, rev.msg, up, s);
  tt.equal(rev.reversal, 'unmatched', 'nothing was posted, so the reversal finds no hold');

  await acked(h);
  const l = h.issuer.ledger();
  tt.equal(l.holds.length, 0);
  tt.equal(l.released.length, 0);
  tt.equal(l.unmatched.length, 1);
  tt.match(l.unmatched[0], { rrn, original: 'not-approved', originalCode: '91', reason: '68' });
});

// ---- late responses ----------------------------------------------------------------------

t.test('late approval (..68 answered after the deadline): terminal gets 91, the reversal stands, the late 00 is never relayed', async (tt) => {
  const h = await startHarness(tt, { issuer: { lateMs: 900 } });
  const c = await h.client();
  const s = sale({ amount: '3068' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const res = await c.request(s);
  tt.equal(res.get(39), '91');

  const up = await upSale;
  tt.equal(up.delayMs, 900, 'the issuer approves it late');
  tt.equal(up.answer?.get(39), '00');
  const rev = await upRev;
  tt.equal(rev.msg.mti, '0400');
  tt.equal(rev.msg.get(39), '68');
  checkF90(tt, rev.msg, up.msg, s);
  tt.equal(rev.reversal, 'applied');

  // The late approval reaches the switch and goes no further.
  await h.until(() => h.sw.counters.get('late_responses') === 1, 'the late approval at the switch');
  await h.barrier(c);
  tt.equal(answersFor(c, s.get(11)).length, 1, 'the terminal got the 91 only');
  tt.equal(h.sw.counters.get('reversals_cancelled'), 0, 'a late approval never withdraws the reversal');
  const recs = h.sw.reversals.records();
  tt.equal(recs.length, 1);
  tt.equal(recs[0].state, 'acked');
  const l = h.issuer.ledger();
  tt.same(l.holds.filter((x) => x.rrn === rrn), [], 'the hold is released');
  tt.equal(l.released.find((x) => x.rrn === rrn)?.reversals.reason, '68');
});

t.test('late decline, reversal already sent: it reaches the issuer unmatched and nothing is held', async (tt) => {
  // The in-memory queue sends a reversal the moment it is queued, so by the time the late
  // decline arrives there is nothing left to withdraw: the issuer sees an unmatched reversal.
  const h = await startHarness(tt, { issuer: { approveRate: 0, lateRate: 1, lateMs: 800 } });
  const c = await h.client();
  const s = sale({ amount: '4000' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const res = await c.request(s);
  tt.equal(res.get(39), '91');
  const up = await upSale;
  tt.match(up.answer?.get(39), /^(05|51)$/, 'the issuer declines it, late');
  const rev = await upRev;
  tt.equal(rev.msg.get(39), '68');
  checkF90(tt, rev.msg, up.msg, s);
  tt.equal(rev.reversal, 'unmatched');

  await h.until(() => h.sw.counters.get('late_responses') === 1, 'the late decline at the switch');
  await h.barrier(c);
  tt.equal(answersFor(c, s.get(11)).length, 1, 'the late decline is not relayed either');
  tt.equal(h.sw.counters.get('reversals_cancelled'), 0, 'a sent reversal cannot be withdrawn');
  const l = h.issuer.ledger();
  tt.equal(l.holds.length, 0, 'nothing held');
  tt.match(l.unmatched.find((u) => u.rrn === rrn), { original: 'not-approved', originalCode: up.answer?.get(39) });
});

t.test('late decline, reversal not yet sent: it is withdrawn and never reaches the issuer', async (tt) => {
  // One reversal in flight per link (window 1), and the issuer never answers reversals, so
  // a first reversal holds the window for 3 s; the second sale's reversal waits behind it
  // and its late decline (600 ms) withdraws it.
  const h = await startHarness(tt, {
    issuer: { approveRate: 0, lateRate: 1, lateMs: 600, reversalDropRate: 1 },
    reversal: { window: 1, responseTimeoutMs: 3000, maxAttempts: 1 },
  });
  const c = await h.client();
  const first = sale({ amount: '5099' });
  const firstRev = h.issuer.waitFor(reversalOfRrn(first.get(37) as string));
  tt.equal((await c.request(first)).get(39), '91');
  await firstRev;

  const s = sale({ amount: '5000' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  tt.equal((await c.request(s)).get(39), '91');
  const up = await upSale;
  tt.match(up.answer?.get(39), /^(05|51)$/);
  await h.until(() => h.sw.counters.get('reversals_cancelled') === 1, 'the queued reversal withdrawn by the late decline');
  tt.equal(h.sw.counters.get('late_responses'), 1);
  const states = h.sw.reversals.records().map((r) => r.state).sort();
  tt.same(states, ['cancelled', 'sent'], 'the first still in flight, the second withdrawn');
  await h.barrier(c);
  tt.same(h.reversalsSeen().map((e) => e.msg.get(37)), [first.get(37)], 'only the first sale was ever reversed');
  tt.equal(h.issuer.ledger().holds.length, 0);
});

// ---- undeliverable ---------------------------------------------------------------------

/** Sends a sale on a fresh connection and closes it as soon as the issuer has the sale (it answers 1 s later). */
async function saleThenHangUp(h: Harness, s: IsoMessage): Promise<IssuerEvent> {
  const c = await h.client();
  const upSale = h.issuer.waitFor(saleOf(s.get(37) as string));
  c.send(s);
  const up = await upSale;
  await c.close();
  return up;
}

t.test('undeliverable: the terminal hangs up before the approval arrives: reversal 06, hold released', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 1000 }, upstreamTimeoutMs: 5000, reversal: { responseTimeoutMs: 5000 } });
  const s = sale({ amount: '6000' });
  const rrn = s.get(37) as string;
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const up = await saleThenHangUp(h, s);
  tt.equal(up.answer?.get(39), '00', 'the issuer approves and holds');
  const rev = await upRev;
  tt.equal(rev.msg.mti, '0400');
  tt.equal(rev.msg.get(39), '06', 'reason 06: approved but undeliverable');
  checkF90(tt, rev.msg, up.msg, s);
  tt.equal(rev.reversal, 'applied');
  await acked(h);
  tt.equal(h.sw.counters.get('undeliverable'), 1);
  tt.equal(h.sw.counters.get('timeouts'), 0);
  const l = h.issuer.ledger();
  tt.equal(l.holds.length, 0);
  tt.equal(l.released.find((x) => x.rrn === rrn)?.reversals.reason, '06');

  // The terminal comes back and resends the same sale: it must not be told "approved" for
  // money that was just given back, and the sale is not forwarded again.
  const c2 = await h.client();
  const again = await c2.request(s);
  tt.equal(again.get(39), '91', 'the stored answer is no longer the approval');
  tt.equal(h.salesSeen(rrn).length, 1, 'forwarded once');
});

t.test('undeliverable to the first connection but delivered to a resent duplicate: not reversed', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 1000 }, upstreamTimeoutMs: 5000, reversal: { responseTimeoutMs: 5000 } });
  const s = sale({ amount: '6100' });
  const rrn = s.get(37) as string;
  await saleThenHangUp(h, s);
  // The terminal reconnects and resends while the sale is still in flight.
  const c2 = await h.client();
  const res = await c2.request(s);
  tt.equal(res.get(39), '00', 'the duplicate gets the approval');
  await h.barrier(c2);
  tt.equal(h.reversalsSeen().length, 0, 'the terminal has its approval: nothing is reversed');
  tt.equal(h.sw.counters.get('undeliverable'), 0);
  tt.equal(h.salesSeen(rrn).length, 1, 'forwarded once');
  tt.equal(h.issuer.ledger().holds.find((x) => x.rrn === rrn)?.status, 'held');
});

// ---- chip decline and terminal reversals ------------------------------------------------

t.test('chip decline: the terminal reverses its approved sale (0400 F39 06): 0410 at once, reversal upstream with the switch\'s F90', async (tt) => {
  // The issuer processes reversals but never answers them: the terminal's 0410 comes from
  // the switch alone, without waiting for the issuer.
  const h = await startHarness(tt, { issuer: { reversalDropRate: 1 } });
  const c = await h.client();
  const s = sale({ amount: '7000' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const res = await c.request(s);
  tt.equal(res.get(39), '00');
  const up = (await upSale).msg;

  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const rev = terminalReversal(s, '06', res.get(38));
  const ans = await c.request(rev);
  tt.equal(ans.mti, '0410');
  tt.equal(ans.get(39), '00');
  tt.equal(ans.get(11), rev.get(11), 'answered under the reversal\'s own STAN');
  tt.equal(ans.get(90), rev.get(90), 'F90 echoed');

  const seen = await upRev;
  tt.equal(seen.msg.mti, '0400');
  tt.equal(seen.msg.get(39), '06', 'chip decline: reason 06');
  checkF90(tt, seen.msg, up, s);
  tt.not(seen.msg.get(90), rev.get(90), 'not the terminal\'s F90: the issuer knows the sale by the switch\'s STAN');
  tt.equal(seen.reversal, 'applied');
  tt.equal(seen.answer, null, 'the issuer never answered it');
  const released = h.issuer.ledger().released.find((x) => x.rrn === rrn);
  tt.equal(released?.reversals.reason, '06');
  tt.equal(h.sw.counters.get('terminal_reversals'), 1);
});

t.test('terminal reversal of an approved original, then its repeats: answered each time, forwarded once', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '8000' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const res = await c.request(s);
  tt.equal(res.get(39), '00');
  const up = (await upSale).msg;

  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const rev = terminalReversal(s, '17', res.get(38));
  const a1 = await c.request(rev);
  tt.equal(a1.mti, '0410');
  tt.equal(a1.get(39), '00');
  const seen = await upRev;
  tt.equal(seen.msg.mti, '0400');
  tt.equal(seen.msg.get(39), '17', 'the terminal\'s reason (customer cancellation) goes upstream');
  checkF90(tt, seen.msg, up, s);
  tt.equal(seen.reversal, 'applied');

  const a2 = await c.request(repeatOf(rev));
  tt.equal(a2.mti, '0410', '0401 answered');
  tt.equal(a2.get(39), '00');
  const a3 = await c.request(rev);
  tt.equal(a3.get(39), '00', 'the same 0400 again: answered');
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 1, 'one reversal upstream, whatever the repeats');
  tt.equal(h.sw.counters.get('terminal_reversal_repeats'), 2);
  tt.equal(h.sw.counters.get('terminal_reversals'), 1);
  const released = h.issuer.ledger().released.find((x) => x.rrn === rrn);
  tt.equal(released?.reversals.received, 1);
  tt.equal(released?.reversals.reason, '17');
});

t.test('terminal reversal of an unknown original: answered 00 so the terminal\'s queue drains, nothing forwarded', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  // An approved sale of the same terminal, whose STAN the unknown reversal reuses: the
  // reversal's F90 names another sale, so this one must stay untouched.
  const other = sale({ amount: '9000' });
  tt.equal((await c.request(other)).get(39), '00');

  const never = sale({ amount: '9100', stan: '654321' });
  const rev = reversalOf(D87, never, { reason: '68', stan: other.get(11), transmissionDateTime: other.get(7) });
  const a1 = await c.request(rev);
  tt.equal(a1.mti, '0410');
  tt.equal(a1.get(39), '00');
  const a2 = await c.request(repeatOf(rev));
  tt.equal(a2.mti, '0410');
  tt.equal(a2.get(39), '00');
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 0, 'nothing reached the issuer');
  tt.equal(h.sw.counters.get('terminal_reversals_unknown_original'), 1, 'recorded once for reconciliation');
  tt.equal(h.sw.counters.get('terminal_reversal_repeats'), 1);
  tt.equal(h.issuer.ledger().holds.find((x) => x.rrn === other.get(37))?.status, 'held', 'the other sale stands');
});

t.test('terminal reversal of a declined original (..51): answered, nothing forwarded', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '9251' });
  const res = await c.request(s);
  tt.equal(res.get(39), '51');
  const rev = terminalReversal(s, '68');
  const a1 = await c.request(rev);
  tt.equal(a1.mti, '0410');
  tt.equal(a1.get(39), '00');
  const a2 = await c.request(repeatOf(rev));
  tt.equal(a2.get(39), '00');
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 0, 'a definitive decline held nothing');
  tt.equal(h.sw.counters.get('terminal_reversal_repeats'), 1);
  tt.equal(h.issuer.ledger().unmatched.length, 0);
});

t.test('terminal reversal while the original is in flight: answered at once, reversed when the approval comes', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 800 }, upstreamTimeoutMs: 5000, reversal: { responseTimeoutMs: 5000 } });
  const c = await h.client();
  const s = sale({ amount: '9300' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const saleAnswer = c.request(s);
  const up = (await upSale).msg;
  const ans = await c.request(terminalReversal(s, '68'));
  tt.equal(ans.mti, '0410');
  tt.equal(ans.get(39), '00');
  tt.equal((await saleAnswer).get(39), '00');
  const seen = await upRev;
  tt.equal(seen.msg.get(39), '68');
  checkF90(tt, seen.msg, up, s);
  tt.equal(seen.reversal, 'applied');
  await acked(h);
  tt.equal(h.reversalsSeen().length, 1);
  tt.equal(h.issuer.ledger().holds.length, 0);
});

t.test('a partial reversal while the original is in flight stays partial when the approval comes', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 800 }, upstreamTimeoutMs: 5000, reversal: { responseTimeoutMs: 5000 } });
  const c = await h.client();
  const s = sale({ amount: '9300' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const saleAnswer = c.request(s);
  await upSale;
  // The customer takes 30.00 of the 93.00: the terminal reverses the other 63.00.
  const partial = reversalOf(D87, s, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), finalAmount: '3000' });
  tt.equal((await c.request(partial)).get(39), '00', 'answered at once');
  tt.equal((await saleAnswer).get(39), '00');
  const seen = await upRev;
  tt.ok(seen.msg.has(95), 'the reversal upstream carries F95');
  tt.equal(seen.msg.replacementAmounts()?.transaction, '000000003000', 'with the final amount the terminal gave');
  await acked(h);
  tt.equal(h.issuer.ledger().holds.find((x) => x.rrn === rrn)?.amount, '000000003000', 'the issuer holds what the customer kept');
});

// ---- answers that are not approvals ------------------------------------------------------

t.test('an in-time 96 (unknown outcome) is relayed, and the switch reverses it (06), harmlessly unmatched', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '9496' });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor(reversalOfRrn(rrn));
  const res = await c.request(s);
  tt.equal(res.get(39), '96');
  const rev = await upRev;
  tt.equal(rev.msg.mti, '0400');
  tt.equal(rev.msg.get(39), '06');
  checkF90(tt, rev.msg, (await upSale).msg, s);
  tt.equal(rev.reversal, 'unmatched');
  await acked(h);
});

t.test('definitive declines (05, 51) and a duplicate (94) are never reversed; a fraud code (59) goes to review', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  for (const [amount, rc] of [['9505', '05'], ['9551', '51'], ['9594', '94'], ['9559', '59']]) {
    const res = await c.request(sale({ amount }));
    tt.equal(res.get(39), rc, `..${rc.slice(-2)} relayed`);
  }
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 0, 'no reversal');
  tt.equal(h.sw.counters.get('reversals_queued'), 0);
  tt.equal(h.sw.counters.get('manual_reviews'), 1, 'the fraud decline is flagged');
});
