/**
 * A terminal's reversal without an original-data field (no F90) names its original only
 * by its terminal and STAN: it must find it across the date boundary. A 0400 sent after
 * midnight GMT for a sale before it carries the new day in F7; a sale with only a local
 * F13 may be reversed with a GMT F7; a next-day 0401 repeats. Of several sales of the
 * terminal with that STAN near that day, the amount and then the RRN choose; if still
 * several, nothing is reversed at random: a person decides. Each case failed when the day
 * had to match exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, repeatOf, reversalOf, type IsoMessage } from '../codec/index.js';
import { nextStan, sale, startHarness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');

/** The terminal's own reversal of `s` with no F90: its STAN, the F7 given. */
function bare(s: IsoMessage, f7: string, drop: number[] = []): IsoMessage {
  // reversalOf builds F90 from the original's F7, which goes: a sale without one lends it the reversal's.
  const base = s.has(7) ? s : s.clone().set(7, f7);
  const r = reversalOf(D87, base, { reason: '17', stan: s.get(11) as string, transmissionDateTime: f7 });
  for (const n of [90, ...drop]) r.delete(n);
  return r;
}

t.test('a reversal after midnight GMT finds its sale of the day before, once, and its next-day 0401 changes nothing', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ f7: '1203235950', amount: '4200' });
  tt.equal((await c.request(s, 5000)).get(39), '00');
  const rev = bare(s, '1204000010');
  tt.equal((await c.request(rev, 5000)).get(39), '00');
  await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
  tt.equal(h.reversalsSeen()[0].msg.get(37), s.get(37), 'of that sale');
  await c.request(repeatOf(rev), 5000);
  await h.until(() => h.sw.reversals.outstanding === 0, 'acknowledged');
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 1, 'one reversal: the 0401 repeat changed nothing');
  tt.equal(h.issuer.ledger().holds.filter((x) => x.rrn === s.get(37)).length, 0, 'the hold is released');
});

t.test('a sale with only F13 is found by a reversal with a GMT F7 of the next day', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '4300', over: { 7: undefined, 13: '1203' } });
  tt.equal((await c.request(s, 5000)).get(39), '00');
  await c.request(bare(s, '1204001500', [13]), 5000);
  await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
  tt.equal(h.reversalsSeen()[0].msg.get(37), s.get(37));
});

t.test('two sales of the terminal with that STAN near the day: the amount chooses; same amount and no RRN: a person', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const stan = nextStan();
  const first = sale({ stan, f7: '1203100000', amount: '1000' });
  const second = sale({ stan, f7: '1204090000', amount: '2500' });
  for (const s of [first, second]) tt.equal((await c.request(s, 5000)).get(39), '00');
  await c.request(bare(second, '1204100000'), 5000);
  await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
  tt.equal(h.reversalsSeen()[0].msg.get(37), second.get(37), 'the one with the reversal\'s amount');

  const stan2 = nextStan();
  const a = sale({ stan: stan2, f7: '1203110000', amount: '3000', terminal: 'TERM0009' });
  const b = sale({ stan: stan2, f7: '1204080000', amount: '3000', terminal: 'TERM0009' });
  for (const s of [a, b]) tt.equal((await c.request(s, 5000)).get(39), '00');
  tt.equal((await c.request(bare(b, '1204120000', [37]), 5000)).get(39), '00', 'the terminal is answered');
  await h.barrier(c);
  tt.equal(h.reversalsSeen().length, 1, 'nothing reversed at random');
  tt.equal(h.sw.counters.get('terminal_reversals_ambiguous'), 1, 'counted, and its row goes to the report as a review');
});

t.test('from the journal (SQLite), once the sale has left memory: found across the date boundary', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-dates-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'journal.db')}`, maxRetained: 1 });
  const c = await h.client();
  const s = sale({ f7: '1203235955', amount: '4400' });
  tt.equal((await c.request(s, 5000)).get(39), '00');
  await c.request(sale({ terminal: 'TERM0002' }), 5000);
  await h.until(() => h.sw.txns.size <= 1, 'the sale swept out of memory');
  await h.store.flush();
  await c.request(bare(s, '1204000020'), 5000);
  await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
  tt.equal(h.reversalsSeen()[0].msg.get(37), s.get(37));
  tt.equal(h.sw.counters.get('terminal_reversals_matched_in_store'), 1, 'found in the journal');
});
