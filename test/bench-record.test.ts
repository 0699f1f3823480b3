/**
 * Running a bench leaves the work tree clean (issue 20): result files go to bench/out/,
 * which git ignores, unless the run is recorded with --record, which writes the committed
 * files in bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { resultsDir } from '../bench/lib/results.js';
import { nodeArgsFor, ROOT } from './support/built.js';

const RUN = nodeArgsFor('bench/run', ['bench', 'codec', 'rules', 'switch']);

function bench(args: string[], env: Record<string, string | undefined> = {}): { status: number | null; stdout: string; stderr: string } {
  const childEnv: Record<string, string | undefined> = { ...process.env, BENCH_RESULTS_DIR: undefined, ...env };
  const r = spawnSync(process.execPath, [...RUN, ...args], { cwd: ROOT, encoding: 'utf8', env: childEnv as NodeJS.ProcessEnv, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function gitStatus(path: string): string {
  return spawnSync('git', ['status', '--porcelain', '--', path], { cwd: ROOT, encoding: 'utf8' }).stdout;
}

t.test('where results go', async (tt) => {
  const saved = process.env.BENCH_RESULTS_DIR;
  tt.teardown(() => { if (saved === undefined) delete process.env.BENCH_RESULTS_DIR; else process.env.BENCH_RESULTS_DIR = saved; });
  delete process.env.BENCH_RESULTS_DIR;
  tt.equal(resultsDir(), join(ROOT, 'bench', 'out'), 'a run: bench/out/');
  tt.equal(resultsDir(true), join(ROOT, 'bench', 'results'), 'a recorded run: bench/results/');
  process.env.BENCH_RESULTS_DIR = '/somewhere';
  tt.equal(resultsDir(true), '/somewhere', 'BENCH_RESULTS_DIR wins over both');
  const ignored = spawnSync('git', ['check-ignore', '-q', 'bench/out/x-latest.json'], { cwd: ROOT });
  tt.equal(ignored.status, 0, 'git ignores bench/out/');
});

t.test('--record and --no-write together are a usage error', async (tt) => {
  const r = bench(['--record', '--no-write', 'rules']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /--record and --no-write contradict each other/);
});

t.test('a run without --record writes bench/out/ and leaves bench/results/ alone', async (tt) => {
  const before = gitStatus('bench/results');
  const latest = join(ROOT, 'bench', 'out', 'rules-latest.json');
  const since = existsSync(latest) ? statSync(latest).mtimeMs : 0;
  const r = bench(['--quick', 'rules'], { BENCH_SECONDS: '0.02', BENCH_SAMPLES: '1', BENCH_WARMUP_SECONDS: '0.01' });
  tt.equal(r.status, 0, `the rules suite ran (${r.stderr.slice(-300)})`);
  tt.ok(existsSync(latest) && statSync(latest).mtimeMs > since, 'bench/out/rules-latest.json written');
  tt.equal(JSON.parse(readFileSync(latest, 'utf8')).suite, 'rules', 'with the suite\'s result');
  tt.equal(gitStatus('bench/results'), before, 'bench/results/ as it was');
});

t.test('--record writes where BENCH_RESULTS_DIR or bench/results/ says', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-bench-record-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = bench(['--quick', '--record', 'rules'], { BENCH_RESULTS_DIR: dir, BENCH_SECONDS: '0.02', BENCH_SAMPLES: '1', BENCH_WARMUP_SECONDS: '0.01' });
  tt.equal(r.status, 0);
  tt.ok(existsSync(join(dir, 'rules-latest.json')), 'written there');
});
