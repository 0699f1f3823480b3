/**
 * Every fuzz target (test/fuzz/targets/, docs/fuzzing.md) for a short smoke: about 10 s
 * each (FUZZ_SMOKE_SECONDS), two at a time, from the checked-in seed corpus. Any finding
 * fails the test and leaves its input in test/fuzz/crashes/TARGET/ with a note beside it;
 * `npm run fuzz -- TARGET --replay FILE` runs it again with a stack.
 */
import t from 'tap';
import { runTarget, type RunResult } from './fuzz/runner.js';
import { TARGET_NAMES } from './fuzz/targets/index.js';

const SECONDS = Number(process.env.FUZZ_SMOKE_SECONDS ?? 10);
const SEED = Number(process.env.FUZZ_SMOKE_SEED ?? 1);
const JOBS = 2;

t.setTimeout((Math.ceil(TARGET_NAMES.length / JOBS) * SECONDS + 90) * 1000);

t.test(`every target, ${SECONDS} s each, ${JOBS} at a time`, async (tt) => {
  const queue = [...TARGET_NAMES];
  const results: RunResult[] = [];
  await Promise.all(Array.from({ length: JOBS }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      results.push(await runTarget({ target: name, seconds: SECONDS, seed: SEED }));
    }
  }));
  for (const name of TARGET_NAMES) {
    const r = results.find((x) => x.target === name);
    if (r === undefined) {
      tt.fail(`${name} did not run`);
      continue;
    }
    const f = r.finding;
    tt.equal(f, null, f === null ? `${name}: no finding` : `${name}: ${f.kind} (${f.file}): ${f.message.split('\n')[0]}`);
    tt.ok(r.execs > r.seeds && r.corpus > 0, `${name}: ${r.execs} executions, ${r.blocks} blocks, corpus ${r.corpus} from ${r.seeds} seeds`);
  }
});
