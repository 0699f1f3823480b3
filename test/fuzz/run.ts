/**
 * npm run fuzz -- TARGET|all [--seconds N] [--seed S] [--jobs J] [--timeout-ms MS]
 *                            [--max-heap-mb MB] [--runs N] [--quiet] [--json]
 * npm run fuzz -- TARGET --replay FILE...    run saved inputs once, in this thread, with stacks
 * npm run fuzz -- --list
 *
 * Fuzzes each target for N seconds (default 60) and prints executions, executions per
 * second, blocks covered and corpus size. A finding is written to
 * test/fuzz/crashes/TARGET/ and the exit status is 1. See docs/fuzzing.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runTarget, type RunResult } from './runner.js';
import { describeThrown } from './target.js';
import { isTarget, loadTarget, TARGET_NAMES } from './targets/index.js';

const USAGE = 'usage: npm run fuzz -- TARGET|all [--seconds N] [--seed S] [--jobs J] [--timeout-ms MS] [--max-heap-mb MB] [--runs N] [--quiet] [--json]\n' +
  '       npm run fuzz -- TARGET --replay FILE...\n       npm run fuzz -- --list';

function positive(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function replay(name: string, files: string[]): Promise<number> {
  const target = await loadTarget(name);
  const scratch = mkdtempSync(join(tmpdir(), `revswitch-fuzz-${name}-`));
  let bad = 0;
  try {
    await target.setup?.(scratch);
    for (const file of files) {
      try {
        await target.run(readFileSync(file));
        process.stdout.write(`${file}: ok\n`);
      } catch (e) {
        bad++;
        process.stdout.write(`${file}: ${describeThrown(e)}\n${e instanceof Error ? e.stack : ''}\n`);
        if (e instanceof Error && e.cause instanceof Error) process.stdout.write(`caused by ${e.cause.stack ?? e.cause.message}\n`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return bad === 0 ? 0 : 1;
}

function line(r: RunResult): string {
  const found = r.finding === null ? 'no finding' : `FINDING ${r.finding.kind}: ${r.finding.file}\n  ${r.finding.message.split('\n')[0]}`;
  return `${r.target.padEnd(13)} ${r.seconds.toFixed(0).padStart(5)} s ${String(r.execs).padStart(11)} execs ${String(r.execsPerSecond).padStart(7)} exec/s ` +
    `${String(r.blocks).padStart(6)} blocks ${String(r.corpus).padStart(5)} corpus (${r.seeds} seeds)  ${found}`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string' }, seed: { type: 'string' }, jobs: { type: 'string' }, 'timeout-ms': { type: 'string' },
      'max-heap-mb': { type: 'string' }, runs: { type: 'string' }, replay: { type: 'boolean' }, list: { type: 'boolean' },
      quiet: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    for (const name of TARGET_NAMES) process.stdout.write(`${name.padEnd(13)} ${(await loadTarget(name)).about}\n`);
    return 0;
  }
  const [which, ...rest] = positionals;
  if (which === undefined) fail('name a target or all');
  if (values.replay) {
    if (!isTarget(which)) fail(`no target "${which}"`);
    if (rest.length === 0) fail('--replay needs the files to run');
    return replay(which, rest);
  }
  if (rest.length > 0) fail(`unexpected ${rest.join(' ')}`);
  const names = which === 'all' ? [...TARGET_NAMES] : [which];
  for (const n of names) if (!isTarget(n)) fail(`no target "${n}"; targets: ${TARGET_NAMES.join(', ')}`);
  const seconds = positive(values.seconds, 'seconds', 60);
  const jobs = Math.floor(positive(values.jobs, 'jobs', 1));
  const base = {
    seconds,
    seed: Math.floor(positive(values.seed, 'seed', 1)),
    timeoutMs: positive(values['timeout-ms'], 'timeout-ms', 1000),
    maxHeapMb: positive(values['max-heap-mb'], 'max-heap-mb', 512),
    maxExecs: values.runs === undefined ? undefined : Math.floor(positive(values.runs, 'runs', 1)),
  };
  let nextPrint = 0;
  const onStats = values.quiet || values.json ? undefined : (target: string, s: { execs: number; blocks: number; corpus: number; ms: number }): void => {
    if (Date.now() < nextPrint) return;
    nextPrint = Date.now() + 5000 / jobs;
    process.stdout.write(`${target}: ${(s.ms / 1000).toFixed(0)} s, ${s.execs} execs, ${Math.round(s.execs / (s.ms / 1000))} exec/s, ${s.blocks} blocks, corpus ${s.corpus}\n`);
  };
  const queue = [...names];
  const results: RunResult[] = [];
  await Promise.all(Array.from({ length: Math.min(jobs, names.length) }, async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const r = await runTarget({ ...base, target: n, onStats });
      results.push(r);
      if (!values.json) process.stdout.write(`${line(r)}\n`);
    }
  }));
  results.sort((a, b) => names.indexOf(a.target) - names.indexOf(b.target));
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (results.length > 1) process.stdout.write(`\n${results.map(line).join('\n')}\n`);
  return results.some((r) => r.finding !== null) ? 1 : 0;
}

process.exitCode = await main();
