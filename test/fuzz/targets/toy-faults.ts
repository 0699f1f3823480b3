/**
 * Toys for the runner's own test (test/fuzz-engine.test.ts): on an input starting with
 * their letter, one hangs, one fills the heap, one allocates ArrayBuffer memory it keeps.
 * The runner must catch each as a finding with the input.
 */
import type { FuzzTarget } from '../target.js';

const kept: unknown[] = [];

function toy(name: string, about: string, run: (input: Buffer) => void): FuzzTarget {
  return { name, about, maxLen: 16, dictionary: [], covers: /\/test\/fuzz\/targets\/toy-faults\.[jt]s$/, run };
}

export const hang = toy('toy-hang', 'loops forever on "H"', (input) => {
  if (input[0] !== 0x48) return;
  for (let i = 0; ; i++) if (i < 0) return;
});

export const oom = toy('toy-oom', 'fills the heap on "M"', (input) => {
  if (input[0] !== 0x4d) return;
  for (;;) kept.push(new Array<number>(100_000).fill(1));
});

export const alloc = toy('toy-alloc', 'keeps 64 MiB of buffers on "A"', (input) => {
  if (input[0] !== 0x41) return;
  // 64 MiB, twice the test's limit: enough to be a finding, small enough to be written well inside its 500 ms on a busy machine.
  for (let i = 0; i < 4; i++) kept.push(Buffer.alloc(16 << 20, 1));
});
