/**
 * The in-memory corpus: every input that reached a block no earlier input had, plus the
 * seeds that did. And the seed files on disk (test/fuzz/corpus/TARGET/), which
 * test/fuzz/make-corpus.ts writes from the test vectors and fixtures.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from './rng.js';

export class Corpus {
  private readonly entries: Buffer[] = [];

  get size(): number {
    return this.entries.length;
  }

  add(input: Buffer): void {
    this.entries.push(input);
  }

  /**
   * An entry to mutate: half the time one of the newest eighth, where the frontier of
   * new coverage is, otherwise any.
   */
  pick(rng: Rng): Buffer {
    const n = this.entries.length;
    if (n === 0) return Buffer.alloc(0);
    const recent = Math.max(1, n >> 3);
    return rng.oneIn(2) ? this.entries[n - 1 - rng.below(recent)] : this.entries[rng.below(n)];
  }

  all(): readonly Buffer[] {
    return this.entries;
  }
}

/** The seed files of a target, in name order; none when the folder does not exist. */
export function readSeeds(dir: string): Buffer[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => readFileSync(join(dir, name)));
}
