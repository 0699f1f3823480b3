/**
 * The fuzzing loop: mutate a corpus entry, run the target, keep the input when it ran a
 * block no input had run before. Taking V8's coverage costs about 0.3 ms, far more than
 * most targets spend on an input, so inputs run in batches with one coverage take each;
 * a batch that reached something new is run again one input at a time to find the inputs
 * that did. Batches grow while nothing new turns up and shrink when something does.
 *
 * Runs in the thread that owns the target (a worker under the runner); the runner's
 * watchdog sees each input through the hooks, so a hang or a crash of the thread still
 * leaves the input behind.
 */
import { Coverage } from './coverage.js';
import { Corpus } from './corpus.js';
import { Mutator } from './mutator.js';
import { Rng } from './rng.js';
import { describeThrown, type FuzzTarget } from './target.js';

export interface EngineOptions {
  seed: number;
  /** Stop at this time (Date.now() ms) ... */
  deadline: number;
  /** ... or after this many executions, whichever comes first. */
  maxExecs: number;
  /** False: the corpus never grows (blind mutation of the seeds), for comparison. */
  feedback: boolean;
  /** ArrayBuffer memory one input may leave allocated, in bytes. */
  allocLimit: number;
  maxBatch?: number;
}

export interface EngineHooks {
  beforeRun?(input: Buffer): void;
  afterRun?(): void;
  onEntry?(input: Buffer): void;
  onStats?(stats: EngineStats): void;
}

export interface EngineStats {
  execs: number;
  /** Distinct functions and blocks of the covered code that have run. */
  blocks: number;
  corpus: number;
  ms: number;
}

export interface EngineFinding {
  kind: 'crash' | 'allocation';
  message: string;
  input: Buffer;
}

export interface EngineResult {
  stats: EngineStats;
  finding: EngineFinding | null;
}

const STATS_EVERY_MS = 1000;

export class Engine {
  private readonly rng: Rng;
  private readonly corpus = new Corpus();
  private readonly mutator: Mutator;
  private readonly coverage: Coverage;
  private readonly seen = new Set<number>();
  private readonly features: number[] = [];
  private execs = 0;
  private readonly started = Date.now();

  constructor(private readonly target: FuzzTarget, private readonly opts: EngineOptions, private readonly hooks: EngineHooks = {}) {
    this.rng = new Rng(opts.seed);
    this.mutator = new Mutator(this.rng, target.maxLen, target.dictionary, { nests: target.nests, custom: target.mutate?.bind(target) });
    this.coverage = new Coverage(target.covers);
  }

  async run(seeds: readonly Buffer[]): Promise<EngineResult> {
    this.coverage.start();
    return this.loop(seeds);
  }

  private stats(): EngineStats {
    return { execs: this.execs, blocks: this.seen.size, corpus: this.corpus.size, ms: Date.now() - this.started };
  }

  private done(): boolean {
    return this.execs >= this.opts.maxExecs || Date.now() >= this.opts.deadline;
  }

  private async loop(seeds: readonly Buffer[]): Promise<EngineResult> {
    for (const s of seeds) {
      const input = s.length > this.target.maxLen ? s.subarray(0, this.target.maxLen) : s;
      const f = await this.exec(input);
      if (f !== null) return { stats: this.stats(), finding: f };
      if (this.novel() || this.corpus.size === 0) this.keep(input, true);
    }
    if (this.corpus.size === 0) this.keep(Buffer.alloc(0), true);
    let batch = 1;
    const max = this.opts.maxBatch ?? 64;
    let nextStats = Date.now() + STATS_EVERY_MS;
    const inputs: Buffer[] = [];
    while (!this.done()) {
      inputs.length = 0;
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < batch; i++) {
        const input = this.mutator.mutate(this.corpus.pick(this.rng), () => this.corpus.pick(this.rng));
        inputs.push(input);
        const f = await this.exec(input);
        if (f !== null) return { stats: this.stats(), finding: f };
      }
      if (process.memoryUsage().arrayBuffers - before > this.opts.allocLimit) {
        const f = await this.allocation(inputs);
        if (f !== null) return { stats: this.stats(), finding: f };
      }
      this.features.length = 0;
      this.coverage.collect(this.features);
      if (this.hasNovel()) {
        const ran = [...this.features];
        if (batch === 1) this.keep(inputs[0]);
        else if (this.opts.feedback) {
          // Which inputs of the batch ran the new blocks: each alone, in order.
          for (const input of inputs) {
            const f = await this.exec(input);
            if (f !== null) return { stats: this.stats(), finding: f };
            if (this.novel()) this.keep(input);
          }
        }
        // Blocks no single input ran again (a first-use path, say) still count as seen.
        for (const id of ran) this.seen.add(id);
        batch = Math.max(1, batch >> 2);
      } else batch = Math.min(max, batch * 2);
      if (Date.now() >= nextStats) {
        this.hooks.onStats?.(this.stats());
        nextStats = Date.now() + STATS_EVERY_MS;
      }
    }
    return { stats: this.stats(), finding: null };
  }

  /** Takes the coverage since the last take; true (and marks them seen) when it ran new blocks. */
  private novel(): boolean {
    this.features.length = 0;
    this.coverage.collect(this.features);
    const fresh = this.hasNovel();
    for (const id of this.features) this.seen.add(id);
    return fresh;
  }

  private hasNovel(): boolean {
    for (const id of this.features) if (!this.seen.has(id)) return true;
    return false;
  }

  /** Adds to the corpus; without feedback only the seeds go in. */
  private keep(input: Buffer, seed = false): void {
    if (!seed && !this.opts.feedback) return;
    this.corpus.add(input);
    this.hooks.onEntry?.(input);
  }

  private async exec(input: Buffer): Promise<EngineFinding | null> {
    this.execs++;
    this.hooks.beforeRun?.(input);
    try {
      const r = this.target.run(input);
      if (r !== undefined) await r;
      return null;
    } catch (e) {
      return { kind: 'crash', message: describeThrown(e) + stackOf(e), input };
    } finally {
      this.hooks.afterRun?.();
    }
  }

  /** A batch that left too much ArrayBuffer memory: the input that does it alone, if one does. */
  private async allocation(inputs: readonly Buffer[]): Promise<EngineFinding | null> {
    for (const input of inputs) {
      const before = process.memoryUsage().arrayBuffers;
      const f = await this.exec(input);
      if (f !== null) return f;
      const grew = process.memoryUsage().arrayBuffers - before;
      if (grew > this.opts.allocLimit) {
        return { kind: 'allocation', message: `one input of ${input.length} bytes left ${Math.round(grew / 1048576)} MiB of ArrayBuffer memory allocated`, input };
      }
    }
    return null;
  }
}

function stackOf(e: unknown): string {
  const stack = e instanceof Error ? e.stack : undefined;
  const cause = e instanceof Error && e.cause instanceof Error ? `\ncaused by ${describeThrown(e.cause)}\n${e.cause.stack ?? ''}` : '';
  return `\n${stack ?? ''}${cause}`;
}
