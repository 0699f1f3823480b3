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
import { nextStan, sale, startHarness } from './support/switch-harness.js';

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
  await start(Math.ceil((limitMb * 1e6) / 3400));
  const warned = lines.find((l) => l.event.startsWith('maxRetained may fill the heap'));
  tt.ok(warned, 'one that could take the whole heap is warned about');
  tt.equal(warned?.fields?.heapLimitMb, Math.round(limitMb), 'with the heap limit');
});
