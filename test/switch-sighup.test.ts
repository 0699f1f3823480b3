/**
 * SIGHUP reloads the rules file. A file that does not load (bad YAML, or a value the
 * schema refuses) keeps the rules in force and says why, naming the file and the path; the
 * switch goes on answering. A good file afterwards is taken. The switch runs as
 * `revswitch start` in a child process, on SQLite in a temp directory.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { IsoMessage, transmissionTime } from '../codec/index.js';
import { defaultRulesPath } from '../rules/index.js';
import { connectClient } from '../switch/sim/client.js';
import { freePort, nodeArgsFor, ROOT } from './support/built.js';
import { until } from './support/until.js';

t.test('SIGHUP with a bad rules file keeps the rules in force and says why; a good one is taken', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-sighup-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rules = join(dir, 'rules.yaml');
  copyFileSync(defaultRulesPath(), rules);
  const port = await freePort();
  const config = join(dir, 'switch.json');
  writeFileSync(config, JSON.stringify({
    listeners: [{ name: 'pos', host: '127.0.0.1', port }], store: `sqlite:${join(dir, 'switch.db')}`, rules, logLevel: 'info', admin: 'off',
    panHashKey: '417923270fadb9a658faf71f6546e681a81c1da21c9eabbdfa7f8657b277883c',
  }));
  const child = spawn(process.execPath, [...nodeArgsFor('switch/cli/main'), 'start', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  tt.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });

  let stan = 0;
  const echo = async (): Promise<string | undefined> => {
    const c = await connectClient({ port });
    try {
      const m = new IsoMessage('0800').set(7, transmissionTime(Date.now())).set(11, String(++stan).padStart(6, '0')).set(70, '301');
      return (await c.request(m, 2000)).get(39);
    } finally {
      await c.close();
    }
  };
  await until(async () => (await echo().catch(() => undefined)) === '00', 'the switch answering', 30_000, 50);
  await until(() => stderr.includes('revswitch ready'), 'the ready line', 10_000);
  const ready = stderr.split('\n').find((l) => l.includes('revswitch ready')) ?? '';
  tt.match(ready, `revswitch ready: listening on 127.0.0.1:${port} (iso87a, len2); upstream demo-issuer 127.0.0.1:`, `one line says where it listens: ${ready}`);
  tt.match(ready, `store sqlite:${join(dir, 'switch.db')}; admin off`, 'its store, and that the admin server is off');
  tt.match(stderr, /"msg":"events: none"/, 'and the event sinks it has (none here)');

  const good = readFileSync(rules, 'utf8');
  writeFileSync(rules, good.replace('cutover: "23:00"', 'cutover: "25:00"'));
  child.kill('SIGHUP');
  await until(() => stderr.includes('rules reload failed'), 'the failed reload logged', 10_000);
  const line = stderr.split('\n').find((l) => l.includes('rules reload failed')) ?? '';
  tt.match(line, /keeping the previous rules/);
  tt.ok(line.includes(rules), `names the file: ${line}`);
  tt.match(line, /businessDay\.cutover/, 'names the path');
  tt.match(line, /25:00/, 'and the value refused');
  tt.equal(await echo(), '00', 'still answering on the rules in force');

  writeFileSync(rules, good.replace('cutover: "23:00"', 'cutover: "22:30"'));
  child.kill('SIGHUP');
  await until(() => stderr.includes('rules reloaded'), 'the good file taken', 10_000);
  const reloaded = stderr.split('\n').find((l) => l.includes('rules reloaded')) ?? '';
  tt.match(reloaded, /rules reloaded: 1 change: businessDay\.cutover \\"23:00\\" -> \\"22:30\\"/, `says what changed: ${reloaded}`);
  tt.match(reloaded, /"hash":"[0-9a-f]{64}"/, 'and the content hash now in force');
  tt.equal(await echo(), '00');
  child.kill('SIGTERM');
  tt.equal(await exited, 0, 'stops cleanly');
});
