/**
 * `revswitch events tail` (issue 20): lifecycle events read back with no protoc, from the
 * daily files: the last N as JSON lines or a person's lines, and --follow printing new
 * ones as the switch writes them. (The NATS source is tested in events-nats.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EVENT_KINDS } from '../switch/observe/events/index.js';
import { eventLine } from '../switch/cli/events-command.js';
import { nodeArgsFor, ROOT } from './support/built.js';
import { sale, startHarness } from './support/switch-harness.js';
import { until } from './support/until.js';

const CLI = nodeArgsFor('switch/cli/main');

t.test('events tail --file: the last N, as JSON or for a person, and --follow', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-events-tail-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { events: { file: { dir, fsync: false } } });
  const c = await h.client();
  const first = sale({ terminal: 'TAILT001' });
  tt.equal((await c.request(first)).get(39), '00');
  await h.bus?.flush();

  const json = spawnSync(process.execPath, [...CLI, 'events', 'tail', '--file', dir, '-n', '3', '--json'], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(json.status, 0, json.stderr);
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; rrn?: string; panMasked?: string });
  tt.equal(lines.length, 3, 'the last 3');
  tt.ok(lines.every((e) => (EVENT_KINDS as readonly string[]).includes(e.kind)), `each a lifecycle event: ${lines.map((e) => e.kind).join(', ')}`);
  tt.ok(lines.some((e) => e.rrn === first.get(37)), 'the sale\'s among them');
  tt.notMatch(json.stdout, first.get(2) as string, 'never the full PAN');

  const text = spawnSync(process.execPath, [...CLI, 'events', 'tail', '--file', dir], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(text.status, 0);
  tt.match(text.stdout, new RegExp(`ANSWERED\\s+txn=\\S+.*rrn=${first.get(37)}`), 'a person\'s line: time, kind, txn, then the fields');

  const follow = spawn(process.execPath, [...CLI, 'events', 'tail', '--file', dir, '-n', '0', '--follow', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  follow.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  follow.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<number | null>((r) => follow.once('exit', (code) => r(code)));
  tt.teardown(() => { if (follow.exitCode === null) follow.kill('SIGKILL'); });
  // Its first read done (a fixed wait of 1.5 s lost the race on a loaded CI machine: the sale's events came first and counted as the past).
  await until(() => err.includes('following '), 'the follower to say it is following', 30_000);
  tt.match(err, `following ${dir}: Ctrl-C ends`, 'it says so on stderr');
  tt.equal(out, '', '-n 0: nothing of the past');
  const later = sale({ terminal: 'TAILT002' });
  tt.equal((await c.request(later)).get(39), '00');
  await h.bus?.flush();
  await until(() => out.includes(later.get(37) as string), 'the new sale\'s events followed', 10_000);
  follow.kill('SIGINT');
  tt.equal(await exited, 0, 'Ctrl-C ends it cleanly');
});

t.test('events tail: where the events are must be said', async (tt) => {
  const r = spawnSync(process.execPath, [...CLI, 'events', 'tail'], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(r.status, 2);
  tt.match(r.stderr, /say where the events are: --file DIR, --nats URL, or --config FILE/);
  tt.equal(eventLine({ timeMs: 0, kind: 'ANSWERED', txnId: 'x-1', eventId: 'e', node: 'n', rrn: 'R1', note: 'two words' }),
    '1970-01-01T00:00:00.000Z  ANSWERED              txn=x-1  rrn=R1  note="two words"');
});
