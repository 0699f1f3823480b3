/**
 * Waits for a condition, never for a time: polls `cond` (sync or async) every `everyMs`
 * until it holds and resolves with the milliseconds that took. After `capMs` without it,
 * rejects with `gave up waiting for <what> after <capMs> ms`, so `what` names the
 * condition ("every reversal acknowledged"). The condition is checked once before the
 * first pause, so one that already holds costs no wait.
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  capMs = 10_000,
  everyMs = 10,
): Promise<number> {
  // The monotonic clock: tests that step the wall clock (test/switch-clock-steps.test.ts) wait with this too.
  const start = performance.now();
  while (!(await cond())) {
    if (performance.now() - start > capMs) throw new Error(`gave up waiting for ${what} after ${capMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return Math.round(performance.now() - start);
}
