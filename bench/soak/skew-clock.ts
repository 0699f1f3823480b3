/**
 * Preloaded into a switch node by the soak (`node --import .../skew-clock.js`): moves the
 * process's wall clock by REVSWITCH_SOAK_SKEW_MS, as a host whose clock is off would.
 * Date.now() and `new Date()` move; the monotonic clock (performance.now) does not, as on
 * a real host. Bench only: nothing in the switch loads it.
 */
const skew = Number(process.env.REVSWITCH_SOAK_SKEW_MS ?? '0');
if (Number.isFinite(skew) && skew !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + skew);
      else super(...(args as [string | number | Date]));
    }

    static override now(): number {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
export {};
