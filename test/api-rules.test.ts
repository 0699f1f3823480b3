/**
 * GET /api/rules: which rules the running switch decides with (issue 20), so an operator
 * can tell whether the file they checked is the one in force: the source, the content
 * hash (`revswitch rules check` prints its first 16 digits), the version and the load time.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { defaultRulesPath, loadDefaultRules, parseRules } from '../rules/index.js';
import { startHarness } from './support/switch-harness.js';
import { execFile, spawnSync } from 'node:child_process';
import { nodeArgsFor, ROOT } from './support/built.js';

t.test('/api/rules names the rules in force, and follows a swap', async (tt) => {
  const h = await startHarness(tt, { admin: true });
  const port = h.admin?.port;
  if (port === undefined) throw new Error('no admin port');
  const get = async (): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/rules`);
    tt.equal(res.status, 200);
    return (await res.json()) as Record<string, unknown>;
  };
  const first = await get();
  tt.match(first, { hash: loadDefaultRules().hash, version: 1, source: /default\.yaml$/ }, 'the default rules, by content hash');
  tt.ok(Number.isFinite(Date.parse(String(first.loadedAt))), 'with the time they were loaded');

  const moved = parseRules(readFileSync(defaultRulesPath(), 'utf8').replace(/cutover: "?23:00"?/, 'cutover: "22:00"'), 'moved.yaml');
  h.sw.rules.swap(moved);
  tt.match(await get(), { hash: moved.hash, source: 'moved.yaml' }, 'after a reload, the new ones');
});

t.test('rules decide --admin asks the running switch', async (tt) => {
  const h = await startHarness(tt, { admin: true });
  const port = h.admin?.port;
  if (port === undefined) throw new Error('no admin port');
  const moved = parseRules(readFileSync(defaultRulesPath(), 'utf8').replace(/cutover: "?23:00"?/, 'cutover: "14:00"'), 'moved.yaml');
  h.sw.rules.swap(moved);
  const c = '{"mti":"0200","amount":"000000010000","currency":"978","event":"timeout","originalTime":"2025-03-07T13:00:00+01:00","now":"2025-03-07T14:30:00+01:00","panHash":"h:1"}';
  const run = (args: string[]) => spawnSync(process.execPath, [...nodeArgsFor('switch/cli/main'), 'rules', 'decide', ...args, c], { cwd: ROOT, encoding: 'utf8' });
  const file = run([]);
  tt.equal((JSON.parse(file.stdout) as { action: string }).action, 'reverse', 'the default file: the day is still open, a reversal');
  // Not spawnSync: the switch answering it runs in this process's event loop.
  const runAsync = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgsFor('switch/cli/main'), 'rules', 'decide', ...args], { cwd: ROOT, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
  const live = await runAsync(['--admin', `http://127.0.0.1:${port}`, c]);
  tt.equal(live.status, 0, live.stderr);
  const got = JSON.parse(live.stdout) as { rules: { hash: string }; decision: { action: string; rule: string } };
  tt.match(got, { rules: { hash: moved.hash }, decision: { action: 'refund', rule: 'business-day.settled' } }, 'the running switch, its cutover moved to 14:00: a refund, with the hash of its rules');
  const bad = await runAsync(['--admin', `http://127.0.0.1:${port}`, '{"mti":"0200"}']);
  tt.equal(bad.status, 1);
  tt.match(bad.stderr, /400: case: /, 'a bad case: the switch says what is wrong');
});
