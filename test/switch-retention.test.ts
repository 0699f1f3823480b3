/**
 * The in-memory transaction table is a cache with a cap (maxRetained): a sale it has let
 * go is still in the journal, and a duplicate or a terminal's reversal of it must be
 * answered from there: the duplicate with the first answer (F39 and F38) and never
 * forwarded again, the reversal matched to its original and sent upstream.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDialect, reversalOf } from '../codec/index.js';
import { getHeapStatistics } from 'node:v8';
import { startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig } from '../switch/config/index.js';
import type { Logger } from '../switch/observe/log.js';
import { transmissionTime } from '../codec/index.js';
import { nextStan, sale, startHarness, upstreamF90 } from './support/switch-harness.js';
import type { IsoMessage } from '../codec/index.js';

const D87 = getDialect('iso87a');
const CAP = 1000;

t.test('a sale the table let go: its duplicate and its reversal are answered from the journal', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-retention-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'journal.db')}`, maxRetained: CAP });
  const c = await h.client();
  const first = sale({ terminal: 'TERMEV01' });
  const rrn = first.get(37) as string;
  const res = await c.request(first);
  tt.equal(res.get(39), '00', 'approved');
  tt.match(res.get(38), /^\d{6}$/, 'with an approval code');

  // More sales than the table keeps, from another terminal, 100 in flight at a time.
  for (let sent = 0; sent < CAP + 200; sent += 100) {
    await Promise.all(Array.from({ length: 100 }, () => c.request(sale({ terminal: 'TERMEV02' }), 10_000)));
  }
  const keyOfFirst = `${first.get(32) ?? ''}/TERMEV01|${first.get(11) ?? ''}|${first.get(7) ?? ''}`;
  await h.until(() => h.sw.txns.get(keyOfFirst) === undefined, 'the sweep to let the first sale go', 10_000);
  tt.ok(h.sw.txns.size <= CAP, `the table holds at most ${CAP} (${h.sw.txns.size})`);
  tt.equal(h.sw.counters.get('retained_cap_evictions'), CAP + 201 - h.sw.txns.size,
    'each sale let go before its retention, for the cap, is counted');

  const dup = await c.request(first.clone(), 5000);
  tt.equal(dup.get(39), '00', 'the duplicate gets the first answer');
  tt.equal(dup.get(38), res.get(38), 'with its approval code');
  tt.equal(h.salesSeen(rrn).length, 1, 'and the issuer saw the sale once');

  const upRev = h.issuer.waitFor((e) => e.msg.mti[1] === '4' && e.msg.get(37) === rrn);
  const rev = reversalOf(D87, first, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) });
  const rres = await c.request(rev, 5000);
  tt.equal(rres.get(39), '00', 'the terminal\'s reversal is answered');
  const up = await upRev;
  tt.equal(up.msg.get(90)?.slice(0, 4), '0200', 'and sent upstream against the original (F90)');
  await h.until(() => h.issuer.ledger().holds.every((x) => x.rrn !== rrn), 'the hold released');
});

t.test('the sales waiting for a late answer are capped by maxRetained too, and what goes is counted', async (tt) => {
  // The issuer answers no sale: each times out, is declined, reversed, and waits for a late answer.
  const h = await startHarness(tt, { maxRetained: CAP, issuer: { dropRate: 1 }, upstreamTimeoutMs: 150 });
  const c = await h.client();
  const N = CAP + 150;
  for (let sent = 0; sent < N; sent += 150) {
    await Promise.all(Array.from({ length: 150 }, () => c.request(sale({ terminal: 'TERMLW01' }), 10_000)));
  }
  await h.until(() => h.sw.counters.get('timeouts') >= N, 'every sale timed out', 20_000);
  // The sweep runs once a second: wait for the one after the last timeout.
  const counted = (): number => h.sw.counters.get('late_waits_dropped');
  await h.until(() => counted() >= h.sw.counters.get('timeouts') - CAP, 'the sweep to let the waits past the cap go', 10_000);
  tt.equal(counted(), h.sw.counters.get('timeouts') - CAP, 'the waits past the cap went, each counted');
  await h.until(() => h.sw.reversals.outstanding === 0, 'every timed-out sale reversed and acknowledged', 20_000);
});

t.test('a kept sale is packed, and what reads it later gets what the live one had', async (tt) => {
  const h = await startHarness(tt, { issuer: { lateMs: 700 } });
  const c = await h.client();
  const keyOf = (m: IsoMessage): string => `${m.get(32) ?? ''}/${m.get(41) ?? ''}|${m.get(11) ?? ''}|${m.get(7) ?? ''}`;

  const s = sale({ terminal: 'TERMPK01' });
  const rrn = s.get(37) as string;
  const res = await c.request(s);
  tt.equal(res.get(39), '00', 'approved');
  const txn = h.sw.txns.get(keyOf(s));
  await h.until(() => txn?.packed === true, 'the answered sale to be packed');
  if (!txn) return;
  const upstream = h.salesSeen(rrn)[0].msg;
  tt.same(txn.request.toJSON(), s.toJSON(), 'the request, unpacked, is the terminal\'s');
  tt.same(txn.sent?.toJSON(), upstream.toJSON(), 'the copy sent upstream, unpacked, is what the issuer got (the switch\'s STAN)');
  tt.same(txn.answer?.toJSON(), res.toJSON(), 'the answer, unpacked, is what the terminal got');
  tt.ok(txn.packed, 'reading them leaves it packed');

  const dup = await c.request(s.clone(), 5000);
  tt.same(dup.toJSON(), res.toJSON(), 'a duplicate gets the same answer');
  tt.equal(h.salesSeen(rrn).length, 1, 'and is not forwarded');

  const upRev = h.issuer.waitFor((e) => e.msg.mti[1] === '4' && e.msg.get(37) === rrn);
  const rev = reversalOf(D87, s, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) });
  tt.equal((await c.request(rev, 5000)).get(39), '00', 'the terminal\'s reversal is answered');
  tt.equal((await upRev).msg.get(90), upstreamF90(upstream), 'and sent upstream naming the original as it went (F90: its upstream STAN and F7)');

  // Timed out (the issuer answers after 700 ms, the deadline is 300): packed with its
  // reversal queued, then the late approval must still be matched to it.
  const slow = sale({ terminal: 'TERMPK02', amount: '1068' });
  tt.equal((await c.request(slow, 5000)).get(39), '91', 'a sale past its deadline gets 91');
  const timedOut = h.sw.txns.get(keyOf(slow));
  await h.until(() => timedOut?.packed === true, 'the timed-out sale to be packed');
  await h.until(() => h.sw.counters.get('late_responses') === 1, 'the late approval', 5000);
  tt.equal(h.sw.counters.get('late_answers_mismatched'), 0, 'matched to its sale through the packed copy sent upstream');
  await h.until(() => h.reversalsSeen().some((e) => e.msg.get(37) === slow.get(37)), 'the timeout\'s reversal at the issuer');
});

t.test('a maxRetained that could fill the heap is called out at start', async (tt) => {
  const lines: { event: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = {
    level: 'info',
    debug: () => undefined,
    info: () => undefined,
    warn: (event, fields) => { lines.push({ event, fields }); },
    error: () => undefined,
  };
  const start = async (maxRetained: number): Promise<void> => {
    const cfg = defaultConfig();
    cfg.listeners[0].port = 0;
    cfg.store = 'memory:';
    cfg.admin = 'off';
    cfg.panHashKey = 'ac406efdb04f5ee1dea5032d349c3167eb2a78bf4f5be19d354c185a34d4969f';
    cfg.maxRetained = maxRetained;
    const running = await startSwitch(cfg, log);
    await running.stop();
  };
  await start(250_000);
  tt.same(lines.filter((l) => l.event.startsWith('maxRetained')), [], 'the default fits');
  const limitMb = getHeapStatistics().heap_size_limit / 1e6;
  await start(Math.ceil((limitMb * 1e6) / 1000));
  const warned = lines.find((l) => l.event.startsWith('maxRetained may fill the heap'));
  tt.ok(warned, 'one that could take the whole heap is warned about');
  tt.equal(warned?.fields?.heapLimitMb, Math.round(limitMb), 'with the heap limit');
});
