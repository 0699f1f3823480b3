/**
 * `revswitch nodes --forget ID` (issue 20): a dead node's heartbeat row goes, and only a
 * dead node that holds nothing: a live one, or one whose queued reversal leases or
 * unfinished sales have not passed to a live node yet, is refused (exit 1) with what it
 * holds. Real SQLite store in a temp directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { connectStore } from '../switch/store/index.js';
import { nodeArgsFor, ROOT } from './support/built.js';
import { reversalRow, txnRow } from './support/store-contract.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [...nodeArgsFor('switch/cli/main'), ...args], { cwd: ROOT })
    .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

t.test('nodes --forget: a dead node that holds nothing, only', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-forget-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const long = Date.now() - 3_600_000;
  const s = await connectStore(url);
  await s.heartbeat('gone', long, null);
  await s.heartbeat('leasing', long, null);
  await s.heartbeat('sending', long, null);
  await s.heartbeat('live', Date.now(), null);
  await s.insertReversal(reversalRow('r1', { owner: 'leasing', leaseUntil: long + 10_000, enqueuedAt: long, dueAt: long, updatedAt: long }));
  await s.insertTxn(txnRow('t1', { node: 'sending', state: 'forwarded', createdAt: long, updatedAt: long }));
  await s.insertTxn(txnRow('t2', { node: 'gone', state: 'approved', createdAt: long, updatedAt: long }));
  await s.close();

  const live = await cli(['nodes', '--store', url, '--forget', 'live']);
  tt.equal(live.code, 1);
  tt.match(live.stderr, /node live is alive .*stop it first/);
  const leasing = await cli(['nodes', '--store', url, '--forget', 'leasing']);
  tt.equal(leasing.code, 1);
  tt.match(leasing.stderr, /node leasing still holds 1 reversal lease: a live node takes them over/);
  const sending = await cli(['nodes', '--store', url, '--forget', 'sending']);
  tt.equal(sending.code, 1);
  tt.match(sending.stderr, /node sending still holds 1 sale without an outcome/);
  const ghost = await cli(['nodes', '--store', url, '--forget', 'ghost']);
  tt.equal(ghost.code, 1);
  tt.match(ghost.stderr, /no node "ghost" in this store \(it has gone, leasing, live, sending\)/);

  const gone = await cli(['nodes', '--store', url, '--forget', 'gone']);
  tt.equal(gone.code, 0, gone.stderr);
  tt.match(gone.stdout, /forgot node gone/);
  const list = JSON.parse((await cli(['nodes', '--store', url, '--json'])).stdout) as { node: string }[];
  tt.same(list.map((n) => n.node), ['leasing', 'live', 'sending'], 'its row is gone, the others stay');
  const after = await connectStore(url);
  tt.equal((await after.txn('t2'))?.node, 'gone', 'its transactions keep its name');
  await after.close();
});
