/**
 * A toy for the engine's own test (test/fuzz-engine.test.ts): a branch behind four nested
 * magic bytes. Blind mutation needs about 2^32 tries to pass all four at once; coverage
 * guidance passes them one at a time, keeping each input that gets one level deeper.
 */
import { PropertyFailure, type FuzzTarget } from '../target.js';

export const MAGIC = 'FUZZ';

export const target: FuzzTarget = {
  name: 'toy-magic',
  about: 'four nested magic bytes in front of a failure (the engine test)',
  maxLen: 64,
  dictionary: [],
  covers: /\/test\/fuzz\/targets\/toy-magic\.[jt]s$/,
  run(input: Buffer): void {
    if (input[0] === 0x46) {
      if (input[1] === 0x55) {
        if (input[2] === 0x5a) {
          if (input[3] === 0x5a) throw new PropertyFailure(`reached the ${MAGIC} branch`);
        }
      }
    }
  },
};
