/**
 * A wall clock a test can step, as a bad NTP step would: Date.now() reads the real time
 * plus an offset the test sets. Only Date.now is replaced: timers and performance.now()
 * run on as before (Node's timers are monotonic, as they are in a stepped process), and
 * nothing else of Node's is faked. Installed before the code under test starts, so
 * what captured Date.now (a default clock) steps too; restored at teardown.
 */
import type { Test } from 'tap';

export interface WallClock {
  /** Moves the wall clock by `ms` (negative: back) from where it is. */
  step(ms: number): void;
  /** How far it is from the real time now, ms. */
  readonly offset: number;
}

export function steppedWallClock(tt: Test): WallClock {
  const real = Date.now;
  let offset = 0;
  Date.now = () => real() + offset;
  tt.teardown(() => {
    Date.now = real;
  });
  return {
    step(ms) {
      offset += ms;
    },
    get offset() {
      return offset;
    },
  };
}
