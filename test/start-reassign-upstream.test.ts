/**
 * A renamed upstream (issue 20): reversals queued for a link the config no longer has
 * would be claimed at start, fail to resume and land in the manual queue, so `start`
 * refuses (exit 2, naming them) until `--reassign-upstream OLD=NEW` moves them; moved,
 * they reach the issuer on the new name and are acknowledged. Then `manual retry`: an
 * entry a person puts back in the queue is sent again with a fresh life. Real SQLite
 * store in a temp directory, a real issuer simulator over TCP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ConfigError, defaultConfig, UPSTREAM_DEFAULTS, type SwitchConfig } from '../switch/config/index.js';
import { parseReassign } from '../switch/cli/queue-upstreams.js';
import { startSwitch, type Running } from '../switch/cli/start-command.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerEvent } from '../switch/sim/issuer.js';
import { connectStore } from '../switch/store/index.js';
import { nodeArgsFor, ROOT } from './support/built.js';
import { sale } from './support/switch-harness.js';
import { until } from './support/until.js';

const PAN_KEY = '5c1d0e3f7a9b2c4d6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809';

function config(store: string, upstream: { name: string; port: number }): SwitchConfig {
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.logLevel = 'silent';
  cfg.admin = 'off';
  cfg.store = store;
  cfg.node = 'node-a';
  cfg.panHashKey = PAN_KEY;
  cfg.tickMs = 5;
  cfg.upstreamTimeoutMs = 300;
  cfg.cluster = { heartbeatMs: 200, leaseMs: 600, nodeDeadMs: 2000 };
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 300, backoffMs: [100, 200] };
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: upstream.name, host: '127.0.0.1', port: upstream.port, timeoutMs: 300, reconnectBackoffMs: [50, 100] }];
  return cfg;
}

t.test('--reassign-upstream: pairs checked against the config', async (tt) => {
  tt.same([...parseReassign('old=issuer', ['issuer'])], [['old', 'issuer']]);
  tt.same([...parseReassign('a=issuer, b=issuer', ['issuer'])], [['a', 'issuer'], ['b', 'issuer']]);
  tt.same([...parseReassign(undefined, ['issuer'])], []);
  tt.throws(() => parseReassign('old', ['issuer']), /expected OLD=NEW/);
  tt.throws(() => parseReassign('old=nowhere', ['issuer']), /no upstream named "nowhere" \(it has issuer\)/);
  tt.throws(() => parseReassign('issuer=issuer', ['issuer']), /"issuer" is still configured/);
  tt.throws(() => parseReassign('a=issuer,a=issuer', ['issuer']), /"a" is given twice/);
  tt.throws(() => parseReassign('a b=issuer', ['issuer']), ConfigError);
});

t.test('a renamed upstream: start refuses, --reassign-upstream sends its reversals on the new name; manual retry', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-reassign-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;

  // 1. Under the old name, an issuer that answers nothing: the sale times out, its reversal
  //    is queued and never acknowledged; the switch stops with it pending.
  const silent = await startIssuer({ seed: 3, dropRate: 1, reversalDropRate: 1 });
  let running: Running | null = await startSwitch(config(url, { name: 'old-issuer', port: silent.port }), createLogger('silent'));
  const sw1 = running.sw;
  await until(() => [...sw1.links.values()].every((l) => l.isUp), 'the link signed on');
  const client = await connectClient({ port: sw1.ports()[0] });
  const s1 = sale();
  const answer = await client.request(s1, 5000);
  tt.not(answer.get(39), '00', `the timed-out sale is not approved (${answer.get(39)})`);
  const store1 = running.store;
  await until(async () => (await store1.reversals(['pending', 'sent'])).length === 1, 'its reversal queued');
  await client.close();
  await running.sw.stop(200);
  await running.store.close();
  running = null;
  await silent.close();
  const check = await connectStore(url);
  const [queued] = await check.reversals(['pending', 'sent']);
  await check.close();
  tt.equal(queued.upstream, 'old-issuer');

  // 2. The link renamed in the config: start refuses, naming the upstream and the count.
  const issuer = await startIssuer({ seed: 4, approveRate: 1 });
  tt.teardown(() => issuer.close());
  const seen: IssuerEvent[] = [];
  issuer.onMessage((e) => seen.push(e));
  const renamed = config(url, { name: 'issuer', port: issuer.port });
  await tt.rejects(startSwitch(renamed, createLogger('silent')),
    /reversals for upstreams the config no longer has: "old-issuer" \(1 (pending|sent)\).*--reassign-upstream old-issuer=NEW.*it has issuer/);
  const file = join(dir, 'revswitch.json');
  writeFileSync(file, JSON.stringify({
    store: url, node: 'node-a', panHashKey: PAN_KEY, admin: 'off', logLevel: 'silent',
    listeners: [{ name: 'pos', host: '127.0.0.1', port: 0, dialect: 'iso87a', framing: 'len2' }],
    upstreams: [{ name: 'issuer', host: '127.0.0.1', port: issuer.port }],
  }));
  const cli = await promisify(execFile)(process.execPath, [...nodeArgsFor('switch/cli/main'), 'start', '--config', file], { cwd: ROOT })
    .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
  tt.equal(cli.code, 2, 'revswitch start exits 2');
  tt.match(cli.stderr, /"old-issuer" \(1 (pending|sent)\)/, `and names them: ${cli.stderr.trim()}`);
  const untouched = await connectStore(url);
  tt.has(await untouched.reversal(queued.id), { upstream: 'old-issuer', state: queued.state }, 'a refused start changed nothing');
  tt.same((await untouched.reversals(['manual'])), [], 'and sent nothing to the manual queue');
  await untouched.close();

  // 3. With --reassign-upstream the reversal goes to the issuer on the new name and is acked.
  running = await startSwitch(renamed, createLogger('silent'), { reassignUpstream: 'old-issuer=issuer' });
  const sw = running.sw;
  tt.teardown(async () => {
    await sw.stop(200);
    await sw.journal.store.close();
  });
  const store = running.store;
  await until(async () => (await store.reversal(queued.id))?.state === 'acked', 'the reassigned reversal acknowledged', 10_000);
  const rev = seen.find((e) => e.msg.mti.startsWith('04'));
  tt.ok(rev, 'the issuer got the reversal');
  tt.equal(rev?.msg.get(90)?.slice(4, 10), queued.txnId === null ? undefined : (await store.txn(queued.txnId))?.upstreamStan,
    'naming the sale by its upstream STAN (F90)');
  const hist = await store.history(queued.id);
  tt.ok(hist.some((h) => /"from":"old-issuer"/.test(h.detail ?? '') && /"upstream":"issuer"/.test(h.detail ?? '')), 'the move is in its history');
  tt.equal((await store.reversal(queued.id))?.upstream, 'issuer');

  // 4. manual retry: an entry in the manual queue (as one that exhausted its attempts
  //    while a key was wrong) is put back and sent again, its attempts and age fresh.
  await store.updateReversal({ id: queued.id, from: ['acked'], state: 'manual', at: Date.now(), lastError: 'test: back to manual' });
  // Counted before the retry: the running switch may claim and resend it before the CLI returns.
  const before = seen.filter((e) => e.msg.mti.startsWith('04')).length;
  const retried = await promisify(execFile)(process.execPath,
    [...nodeArgsFor('switch/cli/main'), 'manual', 'retry', queued.id, '--note', 'key fixed, ticket 12', '--config', file], { cwd: ROOT });
  tt.match(retried.stdout, new RegExp(`retried ${queued.id}: pending again`));
  await until(async () => (await store.reversal(queued.id))?.state === 'acked', 'the retried entry claimed, sent and acknowledged', 10_000);
  tt.ok(seen.filter((e) => e.msg.mti.startsWith('04')).length > before, 'sent to the issuer again');
  tt.has(await store.reversal(queued.id), { attempts: 1 }, 'with a fresh count of attempts');
  tt.match((await store.history(queued.id)).map((h) => h.detail ?? '').join('\n'), /"retry":true,"note":"key fixed, ticket 12"/);
});
