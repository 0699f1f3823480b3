/**
 * The bench guard (bench/guard.ts, `npm run bench:guard`) can fail: with the codec suite's
 * decode slowed down on purpose (REVSWITCH_BENCH_SLOWDOWN_US, read by bench/lib/slowdown.ts
 * at load; codec/ carries no hook) the codec decode figure is out of budget and the guard
 * exits 1; without it the same figure passes.
 * Only that figure is guarded here (`--only codec.decode`: the codec suite's iso87a 0200
 * cases, 3 runs of about 4 s), and nothing is written (`--no-write`).
 *
 * Runs the built dist/bench/guard.js (npm test builds first). When it is missing or older
 * than the sources it measures (codec/, bench/), the TypeScript runs through tsx instead,
 * so the test always exercises the current code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { nodeArgsFor } from './support/built.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));


const GUARD = nodeArgsFor('bench/guard', ['codec', 'bench']);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function guard(args: string[], slowdownUs?: number): Run {
  const env = { ...process.env };
  delete env.REVSWITCH_BENCH_SLOWDOWN_US;
  if (slowdownUs !== undefined) env.REVSWITCH_BENCH_SLOWDOWN_US = String(slowdownUs);
  const r = spawnSync(process.execPath, [...GUARD, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 55_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.comment(`guard under test: ${GUARD.length === 1 ? 'dist/bench/guard.js' : 'tsx bench/guard.ts'}`);

t.test('a broken budgets file: exit 2, naming the file, the budget and the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-guard-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'budgets.json');
  writeFileSync(file, JSON.stringify({
    suites: { codec: { args: ['--quick'], repeats: 1, timeoutSeconds: 60 } },
    budgets: [{ id: 'codec.decode.ratio', suite: 'codec', path: 'cases[id=decode/0200/iso87a/revswitch].ratioVsBaseline', op: '>', value: 8, note: 'x' }],
  }));
  const r = guard(['--budgets', file, '--no-write']);
  t.equal(r.status, 2, 'exit 2');
  t.match(r.stderr, file, 'names the file');
  t.match(r.stderr, 'budgets[0] (codec.decode.ratio).op', 'names the budget and the field');

  writeFileSync(file, '{ "budgets": [');
  const r2 = guard(['--budgets', file, '--no-write']);
  t.equal(r2.status, 2, 'not JSON: exit 2');
  t.match(r2.stderr, file);
});

t.test('decode slowed down by 20 µs a message: the decode figure FAILs and the guard exits 1', async (t) => {
  const r = guard(['--only', 'codec.decode', '--no-write'], 20);
  t.equal(r.status, 1, 'exit 1', { stdout: r.stdout, stderr: r.stderr });
  const line = /^FAIL\s+codec\.decode\.ratio\s+([\d.]+)x\s+budget >= ([\d.]+)x/m.exec(r.stdout);
  t.ok(line, 'a FAIL line for codec.decode.ratio', { stdout: r.stdout });
  if (line) t.ok(Number(line[1]) < Number(line[2]), `${line[1]}x is under the ${line[2]}x budget`);
  t.notMatch(r.stdout, /^PASS/m, 'nothing passes');
  t.match(r.stderr, 'REVSWITCH_BENCH_SLOWDOWN_US=20', 'says the slowdown is on');
});

t.test('the same figure without the slowdown: PASS, exit 0', async (t) => {
  const r = guard(['--only', 'codec.decode', '--no-write']);
  t.equal(r.status, 0, 'exit 0', { stdout: r.stdout, stderr: r.stderr });
  t.match(r.stdout, /^PASS\s+codec\.decode\.ratio\s+[\d.]+x\s+budget >= [\d.]+x\s+median of 3: /m);
  t.notMatch(r.stdout, /^FAIL/m);
});
