/**
 * One node id, one live process. Two switches under one id on one store would never see
 * each other die (each takes the other's heartbeat for its own), so a killed one's sales in
 * flight would stay held for good: the second refuses to start, naming the id and how to
 * give another. A node restarting after its own crash (a recent row whose beat has
 * stopped) starts. And `revswitch start` with a taken id exits 2.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { getDialect } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig } from '../switch/config/index.js';
import { NodeIdInUse } from '../switch/engine/heartbeat.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { SqliteStore } from '../switch/store/index.js';
import { CardKeys } from '../switch/store/secrets.js';
import { freePort, nodeArgsFor } from './support/built.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const keys = new CardKeys(Buffer.alloc(32, 9));

async function node(url: string, id: string): Promise<{ sw: Switch; store: SqliteStore }> {
  const store = new SqliteStore(url);
  await store.open();
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.node = id;
  cfg.admin = 'off';
  cfg.cluster = { ...cfg.cluster, heartbeatMs: 100 };
  return { sw: new Switch(cfg, loadDefaultRules(), createLogger('silent'), (d) => getDialect(d), { store, keys }), store };
}

t.test('a second switch under a live node id refuses to start; another id starts; a dead one is taken over', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-node-id-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const a = await node(url, 'pos-1');
  await a.sw.start();
  tt.teardown(async () => {
    await a.sw.stop(200);
    await a.store.close();
  });

  const b = await node(url, 'pos-1');
  const refused = await b.sw.start().then(() => null, (e: unknown) => e);
  tt.ok(refused instanceof NodeIdInUse, 'the second one under pos-1 is refused');
  tt.match((refused as Error).message, /node id "pos-1" is in use: another switch is heartbeating under it in the store \(pid \d+ on .+ instance [0-9a-f-]{36}\)\. Give this one its own id: revswitch start --node ID, or "node" in the config file/);
  await b.store.close();

  const c = await node(url, 'pos-2');
  await c.sw.start();
  tt.pass('pos-2 starts beside it');
  await c.sw.stop(200);
  await c.store.close();

  // A node that died without stopping (kill -9) left a recent row whose beat no longer moves.
  const s = new SqliteStore(url);
  await s.open();
  await s.heartbeat('pos-3', Date.now(), JSON.stringify({ pid: 1, host: 'gone', instance: 'a-dead-process' }));
  await s.flush();
  const restarted = await node(url, 'pos-3');
  const began = Date.now();
  await restarted.sw.start();
  tt.ok(Date.now() - began >= 200, 'it watched the old row for two beats first');
  tt.pass('pos-3 restarted after its crash');
  await restarted.sw.stop(200);
  await restarted.store.close();
  // On this host, a row whose process is gone is taken at once: a restart after kill -9 stays quick.
  await s.heartbeat('pos-4', Date.now(), JSON.stringify({ pid: 4_194_303, host: hostname(), instance: 'killed-here' }));
  await s.flush();
  const local = await node(url, 'pos-4');
  const t0 = Date.now();
  await local.sw.start();
  tt.ok(Date.now() - t0 < 200, `no wait for a process gone from this host (${Date.now() - t0} ms)`);
  await local.sw.stop(200);
  await local.store.close();
  await s.close();
});

t.test('revswitch start --node with an id a live switch holds exits 2, naming it', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-node-cli-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = `sqlite:${join(dir, 'journal.db')}`;
  const args = async (id: string): Promise<string[]> => [
    ...nodeArgsFor('switch/cli/main'), 'start', '--store', store, '--node', id, '--listen', `127.0.0.1:${await freePort()}`, '--admin', 'off', '--log-level', 'error',
  ];
  const first = spawn(process.execPath, await args('till-7'), { cwd: ROOT, env: { ...process.env, REVSWITCH_PAN_KEY: 'd6c1f30bda15c3d5c726e21acd6c979dac0c6a6e88cf83d41325c2c08ed84462' }, stdio: ['ignore', 'pipe', 'pipe'] });
  tt.teardown(() => {
    first.kill('SIGKILL');
  });
  let firstErr = '';
  first.stderr.on('data', (b: Buffer) => (firstErr += b.toString()));
  // Up once its heartbeat row is in the store.
  const deadline = Date.now() + 20_000;
  for (let up = false; !up;) {
    const probe = new SqliteStore(store);
    try {
      await probe.open();
      up = (await probe.nodes()).some((n) => n.node === 'till-7');
    } catch {
      // the database is not created yet
    } finally {
      await probe.close();
    }
    if (!up && Date.now() > deadline) throw new Error(`the first switch did not start: ${firstErr}`);
    if (!up) await new Promise((r) => setTimeout(r, 200));
  }
  const second = spawn(process.execPath, await args('till-7'), { cwd: ROOT, env: { ...process.env, REVSWITCH_PAN_KEY: 'd6c1f30bda15c3d5c726e21acd6c979dac0c6a6e88cf83d41325c2c08ed84462' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  second.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => second.on('exit', (c) => resolve(c)));
  tt.equal(code, 2, 'exit 2');
  tt.match(err, /node id "till-7" is in use/, 'naming the id');
  tt.match(err, /--node ID/, 'and how to give another');
});
