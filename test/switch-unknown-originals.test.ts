/**
 * A flood of terminal reversals for sales that never existed (issue 16): every one is
 * answered 00 (a terminal repeats a reversal until it is), but past a few per sender and
 * minute they become one aggregate journal row, not a row, a permanent history row and a
 * log line each; a sender past the alert threshold raises an alert the report carries.
 * And the promise: in the middle of the flood, the same terminal's reversal of its real
 * sale (same card, same merchant) still goes upstream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, reversalOf } from '../codec/index.js';
import { sale, startHarness } from './support/switch-harness.js';

const D = getDialect('iso87a');
const FLOOD = 1000;

t.test('5 x 200 reversals of unknown originals: answered, aggregated, alerted; a real reversal in the middle still goes upstream', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-unknown-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const h = await startHarness(tt, {
    store: `sqlite:${join(dir, 'u.db')}`, unknownOriginals: { recordPerMinute: 10, alertPerMinute: 100 }, logLines: (l) => { lines.push(l); },
  });
  const c = await h.client();
  const real = sale({ amount: '4200', terminal: 'FLOODT01' });
  tt.equal((await c.request(real)).get(39), '00', 'a real sale of the terminal is approved');
  const t0 = Date.now();
  const quiet = sale({ amount: '100', terminal: 'QUIETT01', stan: '900001' });
  tt.equal((await c.request(reversalOf(D, quiet, { reason: '68', stan: '900002' }))).get(39), '00', 'another terminal\'s one unknown reversal');

  let answered = 0;
  for (let batch = 0; batch < 5; batch++) {
    const answers = await Promise.all(Array.from({ length: FLOOD / 5 }, (_, i) => {
      const never = sale({ amount: '100', terminal: 'FLOODT01', stan: String(100_000 + batch * 1000 + i) });
      return c.request(reversalOf(D, never, { reason: '68', stan: String(500_000 + batch * 1000 + i) }), 10_000);
    }));
    answered += answers.filter((a) => a.get(39) === '00').length;
    if (batch === 2) {
      // The terminal's own reversal of its real sale, amid the flood: a mandatory reversal, never held back.
      const rev = reversalOf(D, real, { reason: '06', stan: '777777' });
      tt.equal((await c.request(rev)).get(39), '00');
      await h.until(() => h.reversalsSeen().some((e) => e.msg.get(37) === real.get(37)), 'the real sale\'s reversal reached the issuer', 5000);
    }
  }
  const minutes = Math.floor(Date.now() / 60_000) - Math.floor(t0 / 60_000) + 1;
  tt.equal(answered, FLOOD, 'every reversal of an unknown original answered 00');
  tt.same(h.reversalsSeen().map((e) => e.msg.get(37)), [real.get(37)], 'only the real sale was reversed upstream');

  await h.sw.stop();
  const rows = (await h.store.recentTxns(0)).filter((r) => r.state === 'terminal_reversal');
  const flood = rows.filter((r) => r.terminal === 'FLOODT01');
  const aggregates = flood.filter((r) => r.decision?.startsWith('unknown originals:'));
  const own = flood.filter((r) => r.decision?.startsWith('unknown original: nothing to reverse'));
  const aggregated = aggregates.reduce((n, r) => n + Number(/unknown originals: (\d+) more/.exec(r.decision ?? '')?.[1] ?? 0), 0);
  tt.ok(own.length <= 10 * minutes && own.length >= 10, `${own.length} reversals with rows of their own (10 a minute, ${minutes} minute(s))`);
  tt.equal(own.length + aggregated, FLOOD, `${aggregates.length} aggregate row(s) count the other ${aggregated}`);
  tt.ok(aggregates.some((r) => r.decision?.includes('ALERT')), 'the aggregate row carries the alert');
  tt.ok(rows.some((r) => r.terminal === 'QUIETT01' && r.decision?.startsWith('unknown original:')), 'the quiet terminal\'s one reversal has its own row');
  tt.ok(h.sw.counters.get('unknown_original_floods') >= 1, 'the flood alert was raised');
  tt.equal(h.sw.counters.get('unknown_originals_aggregated'), aggregated);
  tt.equal(h.sw.counters.get('terminal_reversals_unknown_original'), FLOOD + 1, 'every one counted');
  const warns = lines.filter((l) => l.includes('terminal reversal of an unknown original'));
  tt.ok(warns.length <= 11 * minutes, `${warns.length} log lines for ${FLOOD + 1} reversals`);
  tt.ok(lines.some((l) => l.includes('above the alert threshold')), 'one error line names the sender past the threshold');
  const history = await h.store.historyBetween(t0, Date.now() + 1);
  tt.ok(history.length < 100, `${history.length} history rows, not one per reversal`);
});
