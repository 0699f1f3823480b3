/**
 * The fuzzer itself (test/fuzz/, docs/fuzzing.md): that it is coverage-guided, and that the
 * runner turns a hang, a full heap and a large allocation into findings with their input.
 *
 * Coverage guidance is shown on a toy with four nested magic bytes: with block coverage
 * the engine passes them one at a time and reaches the innermost branch; blind mutation of
 * the same seed, with the same mutator and as many executions, does not (it would need
 * about 2^32 tries). Bounded by executions, never by time.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Coverage } from './fuzz/coverage.js';
import { Engine } from './fuzz/engine.js';
import { Mutator } from './fuzz/mutator.js';
import { Rng } from './fuzz/rng.js';
import { runTarget } from './fuzz/runner.js';
import { loadTarget } from './fuzz/targets/index.js';
import { MAGIC } from './fuzz/targets/toy-magic.js';

const BUDGET = 3_000_000;
/** Executions the guided run needed; the blind run gets at least as many. */
let execsGuided = 0;

t.test('block coverage: a new branch is new features, the same branch again is not', async (tt) => {
  const toy = await loadTarget('toy-magic');
  const cov = new Coverage(toy.covers);
  cov.start();
  {
    const ran = (input: string): Set<number> => {
      const out: number[] = [];
      cov.collect(out);
      toy.run(Buffer.from(input));
      out.length = 0;
      cov.collect(out);
      return new Set(out);
    };
    const none = ran('x');
    const one = ran('F');
    const two = ran('FU');
    tt.ok([...one].some((id) => !none.has(id)), 'passing the first magic byte runs a block the miss did not');
    tt.ok([...two].some((id) => !one.has(id)), 'and passing the second runs another');
    tt.same(ran('FU'), two, 'the same input runs the same blocks');
  }
});

t.test('coverage-guided: the engine passes four nested magic bytes', async (tt) => {
  const toy = await loadTarget('toy-magic');
  const r = await new Engine(toy, { seed: 1, deadline: Infinity, maxExecs: BUDGET, feedback: true, allocLimit: 1 << 30 }).run([Buffer.from('seed')]);
  tt.ok(r.finding !== null, `reached the ${MAGIC} branch within ${BUDGET} executions`);
  tt.match(r.finding?.message ?? '', `reached the ${MAGIC} branch`);
  tt.equal(r.finding?.input.subarray(0, 4).toString('latin1'), MAGIC, 'with an input that starts with the magic');
  tt.ok(r.stats.corpus >= 4, `kept an input per magic byte passed (corpus ${r.stats.corpus})`);
  tt.comment(`coverage-guided: ${r.stats.execs} executions`);
  execsGuided = r.stats.execs;
});

t.test('blind: the same mutations without coverage feedback do not get there', async (tt) => {
  const toy = await loadTarget('toy-magic');
  const runs = Math.max(execsGuided, 200_000);
  const r = await new Engine(toy, { seed: 1, deadline: Infinity, maxExecs: runs, feedback: false, allocLimit: 1 << 30 }).run([Buffer.from('seed')]);
  tt.equal(r.finding, null, `no finding in ${r.stats.execs} blind executions`);
  tt.equal(r.stats.corpus, 1, 'the corpus stays the seed');
});

t.test('the mutator: same seed, same mutants; never longer than the limit', async (tt) => {
  const make = (): Mutator => new Mutator(new Rng(7), 64, ['TOKEN'], { nests: true });
  const a = make();
  const b = make();
  const base = Buffer.from('0200 {"a": [1, 2]}\nline two\n');
  let longest = 0;
  for (let i = 0; i < 5000; i++) {
    const x = a.mutate(base, () => base);
    const y = b.mutate(base, () => base);
    if (!x.equals(y)) return tt.fail(`mutant ${i} differs between two runs with one seed`);
    longest = Math.max(longest, x.length);
  }
  tt.ok(longest <= 64, `longest mutant ${longest} bytes`);
  tt.ok(base.equals(Buffer.from('0200 {"a": [1, 2]}\nline two\n')), 'the corpus entry is never changed in place');
});

t.test('the runner: a hang, a full heap and a large allocation are findings with their input', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-fuzz-test-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string, string][] = [['toy-hang', 'H', 'timeout'], ['toy-oom', 'M', 'out-of-memory'], ['toy-alloc', 'A', 'allocation']];
  for (const [target, seed, kind] of cases) {
    const corpusDir = join(dir, 'corpus', target);
    mkdirSync(corpusDir, { recursive: true });
    writeFileSync(join(corpusDir, 'seed'), seed);
    const r = await runTarget({ target, seconds: 30, corpusDir, crashDir: join(dir, 'crashes'), timeoutMs: 500, maxHeapMb: 64, allocLimitMb: 32 });
    tt.equal(r.finding?.kind, kind, `${target}: ${r.finding?.message}`);
    const file = r.finding?.file ?? '';
    tt.equal(readFileSync(file, 'latin1')[0], seed, `${target}: the input is kept (${file})`);
    tt.match(readFileSync(`${file}.txt`, 'utf8'), kind, `${target}: with a note`);
  }
});
