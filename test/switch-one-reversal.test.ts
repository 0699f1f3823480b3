/**
 * One reversal per original, across two nodes on one store (SQLite in a temporary
 * directory, two switches in this process): node A forwards a sale; while it is in
 * flight the terminal's own reversal reaches node B, which finds the sale in the shared
 * journal and reverses it; then A's deadline passes and A decides to reverse it too. Both
 * name the reversal by the original as it went upstream, so the store takes one and the
 * issuer sees one. It fails if a reversal's id stops being a function of its original.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, reversalOf, transmissionTime, type IsoMessage } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerEvent } from '../switch/sim/issuer.js';
import { SqliteStore } from '../switch/store/index.js';
import { CardKeys } from '../switch/store/secrets.js';
import { nextStan, sale } from './support/switch-harness.js';
import { until } from './support/until.js';

t.test('a terminal reversal on one node and a timeout on another: one reversal reaches the issuer', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-one-reversal-'));
  // The issuer answers after 1.5 s; the switches' deadline is 800 ms.
  const issuer = await startIssuer({ seed: 4, approveRate: 1, latencyMs: 1500 });
  const seen: IssuerEvent[] = [];
  issuer.onMessage((e) => seen.push(e));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const keys = new CardKeys(Buffer.alloc(32, 6));
  const node = async (name: string): Promise<{ sw: Switch; store: SqliteStore }> => {
    const store = new SqliteStore(url);
    await store.open();
    const cfg = defaultConfig();
    Object.assign(cfg.listeners[0], { port: 0 });
    cfg.node = name;
    cfg.tickMs = 5;
    cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 800, reconnectBackoffMs: [50] }];
    const sw = new Switch(cfg, loadDefaultRules(), createLogger('silent'), (d) => getDialect(d), { store, keys });
    await sw.start();
    return { sw, store };
  };
  const a = await node('node-a');
  const b = await node('node-b');
  const toA = await connectClient({ port: a.sw.ports()[0] });
  const toB = await connectClient({ port: b.sw.ports()[0] });
  tt.teardown(async () => {
    await toA.close();
    await toB.close();
    for (const n of [a, b]) {
      await n.sw.stop(500);
      await n.store.close();
    }
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  tt.ok(await a.sw.waitUntilUp(10_000) && await b.sw.waitUntilUp(10_000), 'both nodes signed on');

  const s = sale();
  const rrn = s.get(37) as string;
  const answerFromA = toA.request(s, 10_000);
  await until(() => seen.some((e) => e.msg.mti === '0200' && e.msg.get(37) === rrn), 'the sale at the issuer');
  const rev: IsoMessage = reversalOf(getDialect('iso87a'), s, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()) });
  tt.equal((await toB.request(rev, 10_000)).get(39), '00', 'node B answers the terminal\'s reversal');
  tt.equal((await answerFromA).get(39), '91', 'node A\'s deadline passes: 91');

  const reversals = (): IssuerEvent[] => seen.filter((e) => e.msg.mti[1] === '4' && e.msg.get(37) === rrn);
  await until(() => reversals().length > 0 && a.sw.reversals.outstanding === 0 && b.sw.reversals.outstanding === 0, 'the reversal acknowledged');
  await until(() => a.sw.counters.get('reversals_already_known') + b.sw.counters.get('reversals_already_known') === 1,
    'the second decision refused by the store', 5000).catch(() => undefined);
  tt.equal(a.sw.counters.get('reversals_already_known') + b.sw.counters.get('reversals_already_known'), 1, 'both nodes decided to reverse; the store took one');
  tt.same(reversals().map((e) => e.msg.mti), ['0400'], 'one reversal reached the issuer');
  tt.same(reversals().map((e) => e.reversal), ['applied'], 'and released the hold once');
});
