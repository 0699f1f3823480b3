/**
 * The bench guard's proof that it can fail (test/bench-guard.test.ts): with
 * REVSWITCH_BENCH_SLOWDOWN_US=N in the environment when this module loads, `slowedDown(fn)`
 * returns fn wrapped to busy-wait N microseconds before each call. The codec suite wraps
 * the revswitch decode it measures, so the decode figures fall out of budget. Decided
 * once, here: without the variable `slowedDown(fn)` IS fn, so the measured call is the
 * plain function. Production code (codec/, switch/) carries no hook.
 */

/** N from REVSWITCH_BENCH_SLOWDOWN_US, or 0 when it is unset, empty, not a number or not positive. */
function slowdownUsFromEnv(): number {
  const raw = process.env.REVSWITCH_BENCH_SLOWDOWN_US;
  const us = raw === undefined || raw === '' ? 0 : Number(raw);
  return Number.isFinite(us) && us > 0 ? us : 0;
}

/** The injected slowdown per call, in microseconds (0: none). */
export const SLOWDOWN_US = slowdownUsFromEnv();

/** fn itself, or (REVSWITCH_BENCH_SLOWDOWN_US set) fn after a busy-wait of that many µs per call. */
export function slowedDown<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  if (SLOWDOWN_US <= 0) return fn;
  const ns = BigInt(Math.round(SLOWDOWN_US * 1000));
  return (...args: A): R => {
    const until = process.hrtime.bigint() + ns;
    while (process.hrtime.bigint() < until) { /* busy-wait: the injected slowdown */ }
    return fn(...args);
  };
}
