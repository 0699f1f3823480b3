/**
 * `revswitch manual list | resolve | history` against a real SQLite store: the operator
 * closes a reversal that ran out of attempts, and the resolution is in the history.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { connectStore, type ReversalRow } from '../switch/store/index.js';
import type { ManualLine } from '../switch/reports/report.js';
import { txnRow } from './support/store-contract.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function reversal(id: string, at: number): ReversalRow {
  return {
    id, txnId: null, upstream: 'issuer', state: 'pending', attempts: 0, reason: '68', finalAmount: null, explanation: 'timeout',
    original: '{"mti":"0200"}', message: null, sentStan: null, enqueuedAt: at, dueAt: at, lastError: null, note: null, updatedAt: at,
  };
}

t.test('list, resolve and history of the manual queue', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-manual-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'm.db')}`;
  const store = await connectStore(url);
  const t0 = Date.now() - 3_600_000;
  // The sale behind rev-1, so the list can say what it was (terminal, RRN, amount).
  await store.insertTxn(txnRow('txn-1', { terminal: 'TERMMAN1', rrn: 'RRNMAN000001', amount: '000000004250', currency: '840', createdAt: t0, updatedAt: t0 }));
  await store.insertReversal({ ...reversal('rev-1', t0), txnId: 'txn-1' });
  await store.insertReversal(reversal('rev-2', t0));
  await store.updateReversal({ id: 'rev-1', from: ['pending'], state: 'sent', attempts: 20, at: t0 + 1 });
  await store.updateReversal({ id: 'rev-1', from: ['sent'], state: 'manual', lastError: 'no response before the timeout; 20 attempts', at: t0 + 2 });
  await store.close();

  const list = cli(['manual', 'list', '--store', url]);
  tt.equal(list.status, 0, list.stderr);
  tt.match(list.stdout, /1 reversal waiting for a person/);
  tt.match(list.stdout, /^id\s+kind\s+upstream\s+terminal\s+rrn\s+amount\s+attempts\s+reason\s+queued\s+age\s+why$/m, 'as the report\'s section: terminal, RRN, amount');
  tt.match(list.stdout, /rev-1\s+reversal\s+issuer\s+TERMMAN1\s+RRNMAN000001\s+000000004250 840\s+20\s+68\s+\S+\s+60 min\s+no response before the timeout; 20 attempts/);
  tt.notMatch(list.stdout, /rev-2/, 'a pending reversal is not in the manual queue');
  const json = JSON.parse(cli(['manual', 'list', '--store', url, '--json']).stdout) as ManualLine[];
  tt.match(json, [{ id: 'rev-1', terminal: 'TERMMAN1', rrn: 'RRNMAN000001', amount: '000000004250', attempts: 20 }]);
  tt.equal(json.length, 1);

  const noNote = cli(['manual', 'resolve', 'rev-1', '--store', url]);
  tt.equal(noNote.status, 2);
  tt.match(noNote.stderr, /--note is required/);
  const notManual = cli(['manual', 'resolve', 'rev-2', '--note', 'x', '--store', url]);
  tt.equal(notManual.status, 1);
  tt.match(notManual.stderr, /rev-2 is pending, not manual/);
  const unknown = cli(['manual', 'resolve', 'nope', '--note', 'x', '--store', url]);
  tt.equal(unknown.status, 1);
  tt.match(unknown.stderr, /no reversal with id "nope"/);

  const ok = cli(['manual', 'resolve', 'rev-1', '--note', 'issuer confirmed the hold was released (ticket 4711)', '--store', url]);
  tt.equal(ok.status, 0, ok.stderr);
  tt.match(ok.stdout, /resolved rev-1/);
  tt.match(cli(['manual', 'list', '--store', url]).stdout, /the manual queue is empty/);
  const again = cli(['manual', 'resolve', 'rev-1', '--note', 'twice', '--store', url]);
  tt.equal(again.status, 1, 'resolving twice is refused');

  const hist = cli(['manual', 'history', 'rev-1', '--store', url]);
  tt.equal(hist.status, 0, hist.stderr);
  const [head, ...histRows] = hist.stdout.trim().split('\n');
  tt.match(head, /^at \(UTC\)\s+of\s+state\s+detail$/, 'a table for a person');
  const states = histRows.map((l) => l.split(/\s+/)[2]);
  tt.same(states, ['pending', 'sent', 'manual', 'resolved']);
  tt.match(hist.stdout, /ticket 4711/, 'the note is in the history');
  tt.equal(cli(['manual', 'list', '--store', 'mysql://x']).status, 2, 'a bad store URL is a usage error');
});
