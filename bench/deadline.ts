/**
 * Deadline -> 0400, measured at the issuer (`npm run bench:deadline -- [sqlite|memory]`).
 * 100 sales the issuer never answers (amount ending 91), one every 50 ms, each from its
 * own terminal and card so no velocity guard interferes; the switch's upstream timeout is
 * 100 ms and its wheel ticks every 5 ms. The figure is the 0400's arrival at the issuer
 * minus (the terminal's send of its 0200 + 100 ms): an upper bound of the switch's own
 * delay from deadline to 0400, since it also holds the 0200's trip into the switch.
 */
import { startIssuer } from '../switch/sim/issuer.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { IsoMessage } from '../codec/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
const storeKind = process.argv[2] ?? 'sqlite';
const dir = mkdtempSync(join(tmpdir(), 'revswitch-deadline-'));
const issuer = await startIssuer({ seed: 1, approveRate: 1 });
const sentAt = new Map<string | undefined, number>();
const lags: number[] = [];
issuer.onMessage((e) => {
  const t = performance.now();
  if (e.msg.mti === '0400') { const a = sentAt.get(e.msg.get(37)); if (a !== undefined) lags.push(t - a - 100); }
});
const cfg = defaultConfig();
cfg.listeners[0].port = 0; cfg.admin = 'off'; cfg.panHashKey = '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881'; cfg.tickMs = 5;
cfg.store = storeKind === 'memory' ? 'memory:' : `sqlite:${join(dir, 'deadline.db')}`;
cfg.upstreams.push({ name: 'i', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, dialect: 'iso87a', timeoutMs: 100 });
const r = await startSwitch(cfg, createLogger('error'));
await r.sw.waitUntilUp();
const c = await connectClient({ port: r.sw.ports()[0] });
const N = 100;
for (let i = 0; i < N; i++) {
  const m = new IsoMessage('0200');
  const stan = String(i + 1).padStart(6, '0');
  const f: Record<number, string> = { 2: '47617390010' + String(10000 + i), 3: '000000', 4: '000000001291', 7: '1126030000', 11: stan, 12: '030000', 13: '1126', 37: 'DL' + stan.padStart(10, '0'), 41: 'TERM' + String(i).padStart(4, '0'), 42: 'MERCHANT' + String(i).padStart(7, '0'), 49: '840' };
  for (const [k, v] of Object.entries(f)) m.set(Number(k), v);
  sentAt.set(m.get(37), performance.now());
  c.send(m);
  await new Promise((res) => setTimeout(res, 50));
}
await new Promise((res) => setTimeout(res, 1000));
lags.sort((a, b) => a - b);
const q = (p: number): string => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))].toFixed(2);
console.log(`${storeKind}: ${lags.length}/${N} reversals; deadline -> 0400 at the issuer (upper bound, from the terminal's send, ms): p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${lags[lags.length - 1].toFixed(2)}`);
await c.close();
await r.stop();
await issuer.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
