/**
 * Runs one target in a worker thread and watches it: a V8 heap cap (resourceLimits) for
 * unbounded allocation, and a watchdog on the shared input slot for a hang. A hang is
 * confirmed by running the input again alone in a fresh worker before it counts; one that
 * does not repeat (the machine was busy) restarts fuzzing from the corpus found so far.
 * A finding's input is written to test/fuzz/crashes/TARGET/ with a .txt beside it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineFinding, EngineResult, EngineStats } from './engine.js';
import { readSeeds } from './corpus.js';
import { InputSlot } from './slot.js';
import { loadTarget } from './targets/index.js';
import type { WorkerInput, WorkerMessage } from './worker.js';

export const FUZZ_DIR = fileURLToPath(new URL('.', import.meta.url)).replace(/\/dist\/test\/fuzz\/$/, '/test/fuzz/');

export interface RunOptions {
  target: string;
  seconds: number;
  seed?: number;
  /** Stop after this many executions even if time is left. */
  maxExecs?: number;
  /** An input running longer than this is a hang. */
  timeoutMs?: number;
  /** The worker's V8 old-generation cap. */
  maxHeapMb?: number;
  /** ArrayBuffer memory one input may leave behind. */
  allocLimitMb?: number;
  /** Where the seeds are (default test/fuzz/corpus/TARGET). */
  corpusDir?: string;
  /** Where findings go (default test/fuzz/crashes). */
  crashDir?: string;
  onStats?: (target: string, stats: EngineStats) => void;
}

export interface Finding {
  kind: EngineFinding['kind'] | 'timeout' | 'out-of-memory';
  message: string;
  /** The input, written to the crash folder. */
  file: string;
}

export interface RunResult {
  target: string;
  seconds: number;
  execs: number;
  execsPerSecond: number;
  blocks: number;
  corpus: number;
  seeds: number;
  /** Inputs over the time limit once that ran in time when repeated alone. */
  slowOnce: number;
  finding: Finding | null;
}

type Outcome =
  | { type: 'done'; result: EngineResult }
  | { type: 'timeout'; input: Buffer; ms: number }
  | { type: 'oom'; input: Buffer | null };

interface Launch {
  mode: WorkerInput['mode'];
  seeds: Buffer[];
  seed: number;
  deadline: number;
  maxExecs: number;
}

export async function runTarget(opts: RunOptions): Promise<RunResult> {
  const target = await loadTarget(opts.target);
  const timeoutMs = opts.timeoutMs ?? 1000;
  const seeds = readSeeds(opts.corpusDir ?? join(FUZZ_DIR, 'corpus', opts.target));
  const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `revswitch-fuzz-${opts.target}-`));
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  const found: Buffer[] = [];
  let execs = 0;
  let last: EngineStats = { execs: 0, blocks: 0, corpus: 0, ms: 0 };
  let slowOnce = 0;
  let seed = opts.seed ?? 1;

  const launch = (l: Launch, onEntry: (b: Buffer) => void, onStats: (s: EngineStats) => void): Promise<Outcome> => {
    const slot = InputSlot.create(target.maxLen + Math.max(0, ...l.seeds.map((s) => s.length)));
    const data: WorkerInput = {
      target: opts.target, mode: l.mode, seeds: l.seeds, seed: l.seed, deadline: l.deadline, maxExecs: l.maxExecs,
      feedback: true, allocLimit: (opts.allocLimitMb ?? 64) * 1048576, slot, scratch,
    };
    return watch(startWorker(data, opts.maxHeapMb ?? 512), new InputSlot(slot), timeoutMs, l.deadline, onEntry, onStats);
  };

  try {
    for (;;) {
      const outcome = await launch(
        { mode: 'fuzz', seeds: [...seeds, ...found], seed, deadline, maxExecs: (opts.maxExecs ?? Infinity) - execs },
        (b) => found.push(b),
        (s) => {
          last = s;
          opts.onStats?.(opts.target, { ...s, execs: execs + s.execs, ms: Date.now() - started });
        },
      );
      if (outcome.type === 'done') {
        execs += outcome.result.stats.execs;
        last = outcome.result.stats;
        const f = outcome.result.finding;
        return result(f === null ? null : record(opts, f.kind, f.message, Buffer.from(f.input)));
      }
      execs += last.execs;
      if (outcome.type === 'oom') {
        const input = outcome.input;
        if (input === null) return result(record(opts, 'out-of-memory', 'the worker ran out of heap between inputs', Buffer.alloc(0)));
        const again = await replay(input);
        const alone = again.type === 'oom' ? 'and again when run alone' : 'but not when run alone: memory grows across inputs';
        return result(record(opts, 'out-of-memory', `the worker ran out of its ${opts.maxHeapMb ?? 512} MB heap on this input, ${alone}`, input));
      }
      const again = await replay(outcome.input);
      if (again.type === 'timeout') {
        return result(record(opts, 'timeout', `an input ran over ${timeoutMs} ms (twice, the second time alone)`, outcome.input));
      }
      if (again.type === 'done' && again.result.finding !== null) {
        const f = again.result.finding;
        return result(record(opts, f.kind, f.message, Buffer.from(f.input)));
      }
      slowOnce++;
      seed++;
      if (Date.now() >= deadline) return result(null);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  function replay(input: Buffer): Promise<Outcome> {
    return launch({ mode: 'replay', seeds: [input], seed, deadline: Date.now() + timeoutMs * 10, maxExecs: 1 }, () => undefined, () => undefined);
  }

  function result(finding: Finding | null): RunResult {
    const seconds = (Date.now() - started) / 1000;
    return {
      target: opts.target, seconds, execs, execsPerSecond: Math.round(execs / seconds), blocks: last.blocks, corpus: last.corpus,
      seeds: seeds.length, slowOnce, finding,
    };
  }
}

/** Starts the worker; under tsx (a .ts module) the worker registers tsx itself, as workers do not inherit it. */
function startWorker(data: WorkerInput, maxHeapMb: number): Worker {
  // A worker's stack is 4 MB by default, the main thread's (where the CLI loads a config)
  // under 1 MB: at 4 MB a nesting that overflows in production would pass here.
  const limits = { resourceLimits: { maxOldGenerationSizeMb: maxHeapMb, stackSizeMb: 1 }, workerData: data };
  const url = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
  if (!url.endsWith('.ts')) return new Worker(new URL(url), limits);
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { ...limits, eval: true });
}

/** Waits for the worker's outcome, ending it on a hang. */
function watch(
  w: Worker, slot: InputSlot, timeoutMs: number, deadline: number, onEntry: (b: Buffer) => void, onStats: (s: EngineStats) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let settled = false;
    const settle = (o: Outcome | Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      void w.terminate();
      if (o instanceof Error) reject(o);
      else resolve(o);
    };
    const timer = setInterval(() => {
      const ms = slot.runningFor();
      if (ms !== null && ms > timeoutMs) settle({ type: 'timeout', input: slot.input(), ms });
      // Stuck outside any input (in the engine itself): a harness bug, not a finding.
      else if (Date.now() > deadline + 60_000) settle(new Error('the fuzzing worker did not stop a minute after its deadline'));
    }, Math.min(100, Math.max(10, timeoutMs / 4)));
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'entry') onEntry(Buffer.from(m.input));
      else if (m.type === 'stats') onStats(m.stats);
      else settle({ type: 'done', result: m.result });
    });
    w.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') settle({ type: 'oom', input: slot.runningFor() === null ? null : slot.input() });
      else settle(e);
    });
    w.on('exit', (code) => settle(new Error(`the fuzzing worker exited (code ${code}) without a result`)));
  });
}

/** Writes the input and a note beside it; the finding names the file. */
function record(opts: RunOptions, kind: Finding['kind'], message: string, input: Buffer): Finding {
  const dir = join(opts.crashDir ?? join(FUZZ_DIR, 'crashes'), opts.target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}`);
  writeFileSync(file, input);
  writeFileSync(`${file}.txt`, `${opts.target}: ${kind}\n${message}\n`);
  return { kind, message, file };
}
