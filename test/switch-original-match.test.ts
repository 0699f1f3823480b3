/**
 * A terminal's reversal finds its original however the original is known: after a
 * restart (rebuilt from the journal) by the same keys as a live one, and on ISO 8583:1993
 * by what F56 names (the original's STAN and F12), not by the reversal's own STAN.
 *
 * Both were broken before the transaction and its keys were built in one place: the
 * rebuild after a restart keyed the day by F7 only (a sale without F7 lost its F13 day),
 * and F56 was never read, so a 1993 reversal with a STAN of its own matched nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatF56, getDialect, IsoMessage, isReversal } from '../codec/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { framedHost } from './support/framed-host.js';
import { framedTerminal } from './support/framed-terminal.js';
import { createLogger } from '../switch/observe/log.js';
import { ACQUIRER, sale, startHarness } from './support/switch-harness.js';
import { until } from './support/until.js';

t.test('after a restart, a terminal reversal finds a sale that had no F7 by its STAN and F13 day', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-restart-match-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = `sqlite:${join(dir, 'journal.db')}`;
  // A terminal that sends no F7: the day of its sale is its F13 (MMDD).
  const s = sale({ over: { 7: undefined, 13: '0314' } });

  await tt.test('before the restart: the sale is approved', async (t1) => {
    const h = await startHarness(t1, { store });
    const c = await h.client();
    t1.equal((await c.request(s, 10_000)).get(39), '00', 'approved');
    t1.equal(h.salesSeen(s.get(37) as string).length, 1, 'the issuer has it');
  });

  await tt.test('after the restart: the terminal\'s own 0400 (no F90, its STAN, F13) reverses it upstream', async (t2) => {
    const h = await startHarness(t2, { store });
    const c = await h.client();
    const rev = s.clone();
    rev.mti = '0400';
    rev.set(39, '17');
    t2.equal((await c.request(rev, 10_000)).get(39), '00', 'the terminal gets its 0410');
    await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
    const up = h.reversalsSeen()[0].msg;
    t2.equal(up.get(37), s.get(37), 'the reversal is of that sale (its RRN)');
    t2.equal(h.sw.counters.get('terminal_reversals_unknown_original'), 0, 'the original was found');
  });
});



t.test('ISO 8583:1993: a terminal\'s 1420 finds its original through F56, not its own STAN', async (tt) => {
  const d = getDialect('iso93a');
  const host = await framedHost(d);
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0, dialect: 'iso93a' });
  cfg.logLevel = 'silent';
  cfg.admin = 'off';
  cfg.store = 'memory:';
  cfg.panHashKey = '1b7cea1d47dbcc7527ff07a39241484c7f34ecc65a6e78655be2dbf0d57a060f';
  cfg.tickMs = 5;
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'host93', host: '127.0.0.1', port: host.port, dialect: 'iso93a', timeoutMs: 2000, reconnectBackoffMs: [50] }];
  const running = await startSwitch(cfg, createLogger('silent'));
  const term = await framedTerminal(d, running.sw.ports()[0]);
  tt.teardown(async () => {
    term.close();
    await running.sw.stop(200);
    await running.store.close();
    await new Promise((r) => host.server.close(r));
  });
  tt.ok(await running.sw.waitUntilUp(10_000), 'signed on with a 1804');

  const sale93 = new IsoMessage('1200', {
    2: '4761739001010119', 3: '000000', 4: '000000001000', 7: '0314101500', 11: '000123', 12: '260314101500',
    22: '201101010A3B', 24: '200', 32: ACQUIRER, 37: '930000000001', 41: 'TERM0093', 42: 'MERCHANT0000093', 49: '840',
  });
  const approved = await term.request(sale93);
  tt.equal(approved.get(39), '000', 'the sale is approved (1993 action code)');
  tt.equal(approved.get(38), 'A1B2C3');

  // The terminal's reversal advice: its own STAN and F7 (another day), the original named in F56.
  const rev = new IsoMessage('1420', {
    2: '4761739001010119', 3: '000000', 4: '000000001000', 7: '0315090000', 11: '000777', 12: '260315090000',
    24: '400', 25: '4000', 32: ACQUIRER, 37: '930000000001', 41: 'TERM0093', 42: 'MERCHANT0000093', 49: '840',
    56: formatF56({ mti: '1200', stan: '000123', localDateTime: '260314101500', acquirer: ACQUIRER }),
  });
  tt.equal((await term.request(rev)).get(39), '000', 'the terminal gets its 1430');
  await until(() => host.seen.some((m) => isReversal(m.mti)), 'the reversal at the host');
  const up = host.seen.find((m) => isReversal(m.mti)) as IsoMessage;
  const forwarded = host.seen.find((m) => m.mti === '1200') as IsoMessage;
  tt.equal(up.mti, '1400', 'the switch reverses upstream with a 1400');
  tt.equal(up.get(56)?.slice(4, 10), forwarded.get(11), 'naming the sale as it went upstream (the switch\'s STAN) in F56');
  tt.equal(up.get(25), '4000', 'with the reason in F25, as 1993 carries it (customer cancellation)');
  tt.equal(running.sw.counters.get('terminal_reversals_unknown_original'), 0, 'the original was found');
});
