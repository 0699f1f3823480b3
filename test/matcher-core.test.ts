/**
 * The in-flight matcher under a manual clock: track, resolve and expire; tick
 * boundaries; duplicates; long timeouts; crowded slots; re-tracking; callbacks that
 * track and resolve re-entrantly; a 100,000-deadline burst delivered in slices. No
 * sleeps: time is a variable the test moves.
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Matcher, type MatcherOptions } from '../switch/matcher/index.js';

interface Fired<K, V> {
  key: K;
  value: V;
  late: number;
}

/** A matcher on a manual clock starting at `start`, recording every expiry. */
function setup<K = number, V = string>(opts: Partial<MatcherOptions<K, V>> = {}, start = 1000) {
  const clock = { now: start };
  const fired: Fired<K, V>[] = [];
  const m = new Matcher<K, V>({
    now: () => clock.now,
    onExpire: (key, value, late) => fired.push({ key, value, late }),
    ...opts,
  });
  return { m, clock, fired, keys: () => fired.map((f) => f.key) };
}

t.test('track, resolve, expire', async (t) => {
  const { m, clock, fired, keys } = setup();
  t.equal(m.track(1, 'a', 100), true);
  t.equal(m.track(2, 'b', 100), true);
  t.equal(m.track(3, 'c', 200), true);
  t.equal(m.size, 3);
  t.equal(m.peek(2), 'b');
  t.equal(m.has(2), true);
  t.equal(m.deadlineOf(3), 1200);

  t.equal(m.resolve(2), 'b', 'resolve hands back the value');
  t.equal(m.resolve(2), undefined, 'a second resolve finds nothing');
  t.equal(m.peek(2), undefined);
  t.equal(m.size, 2);

  clock.now = 1100;
  t.equal(m.tick(), 1);
  t.same(fired, [{ key: 1, value: 'a', late: 0 }]);
  t.equal(m.resolve(1), undefined, 'an expired key is no longer in flight');
  t.equal(m.size, 1);

  clock.now = 1250;
  t.equal(m.tick(), 1);
  t.same(keys(), [1, 3]);
  t.equal(fired[1].late, 50, 'lateness is now minus the deadline');
  t.equal(m.size, 0);
  t.equal(m.resolve(99), undefined, 'unknown key');

  const s = m.stats();
  t.match(s, { inFlight: 0, pending: 0, tracked: 3, resolved: 1, expired: 2, duplicates: 0, lastLateMs: 50, maxLateMs: 50, slices: 2, maxSlice: 1 });
});

t.test('a deadline expires at the first tick at or after it, never early', async (t) => {
  const { m, clock, keys } = setup({ tickMs: 10 }, 0);
  m.track(1, 'on a tick boundary', 10);
  m.track(2, 'inside a tick', 15);
  m.track(3, 'zero timeout', 0);
  m.track(4, 'fraction', 20.25);

  clock.now = 0;
  t.same(keys(), []);
  t.equal(m.tick(), 1);
  t.same(keys(), [3], 'timeout 0 is due at once, on the next tick');

  clock.now = 9.999;
  m.tick();
  t.same(keys(), [3], 'nothing before its deadline');
  clock.now = 10;
  m.tick();
  t.same(keys(), [3, 1], 'a deadline on a tick boundary expires on that tick');
  clock.now = 14.999;
  m.tick();
  t.same(keys(), [3, 1], 'not early inside the tick either');
  clock.now = 15;
  m.tick();
  t.same(keys(), [3, 1, 2], 'expires at the first tick at or after its deadline, even mid-tick');
  clock.now = 20.2499;
  m.tick();
  t.same(keys(), [3, 1, 2]);
  clock.now = 20.25;
  m.tick();
  t.same(keys(), [3, 1, 2, 4]);
});

t.test('late ticks: everything overdue fires, in deadline-tick order', async (t) => {
  const { m, clock, fired } = setup({ tickMs: 10 }, 0);
  for (let i = 0; i < 50; i++) m.track(i, `v${i}`, 500 - i * 10); // deadlines 500, 490, ..., 10
  clock.now = 495;
  t.equal(m.tick(), 49);
  t.same(fired.map((f) => f.key), Array.from({ length: 49 }, (_, i) => 49 - i), 'earliest tick first');
  t.ok(fired.every((f) => f.late >= 0), 'never early');
  t.equal(fired[0].late, 485, 'lateness measured from each deadline');
  t.equal(m.size, 1);
});

t.test('resolve cancels the deadline', async (t) => {
  const { m, clock, fired } = setup();
  for (let i = 0; i < 100; i++) m.track(i, 'x', 50);
  for (let i = 0; i < 100; i += 2) t.equal(m.resolve(i), 'x');
  clock.now += 10_000;
  t.equal(m.tick(), 50);
  t.same(fired.map((f) => f.key), Array.from({ length: 50 }, (_, i) => i * 2 + 1), 'only the unresolved expire');
  clock.now += 100_000;
  t.equal(m.tick(), 0, 'nothing left to fire');
});

t.test('a duplicate track returns false and changes nothing', async (t) => {
  const { m, clock, fired } = setup();
  t.equal(m.track(7, 'first', 100), true);
  clock.now += 50;
  t.equal(m.track(7, 'second', 1000), false);
  t.equal(m.track(7, 'third', 0), false);
  t.equal(m.peek(7), 'first');
  t.equal(m.deadlineOf(7), 1100, 'the deadline is the first one');
  t.equal(m.size, 1);
  t.equal(m.stats().duplicates, 2);
  clock.now = 1100;
  m.tick();
  t.same(fired, [{ key: 7, value: 'first', late: 0 }]);
});

t.test('timeouts beyond one revolution of the wheel', async (t) => {
  // 8 slots x 10 ms: one revolution is 80 ms.
  const { m, clock, keys } = setup({ tickMs: 10, slots: 8 }, 0);
  const deadline = new Map([[1, 1000], [2, 85], [3, 5], [4, 80 * 7 + 3]]); // 85 shares 5's slot, a revolution later
  for (const [k, d] of deadline) m.track(k, String(k), d);
  let early = 0;
  let missed = 0;
  for (clock.now = 0; clock.now < 1000; clock.now += 2.5) {
    m.tick();
    for (const [k, d] of deadline) {
      if (keys().includes(k) && d > clock.now) early++;
      if (!keys().includes(k) && d <= clock.now) missed++;
    }
  }
  t.equal(early, 0, 'nothing fired before its deadline');
  t.equal(missed, 0, 'everything due fired on that tick');
  t.same(keys(), [3, 2, 4], 'each fired in its own revolution');
  t.equal(m.has(1), true, 'the 1000 ms timeout survived 12 revolutions');
  clock.now = 999.99;
  m.tick();
  t.equal(m.has(1), true);
  clock.now = 1000;
  m.tick();
  t.same(keys(), [3, 2, 4, 1]);
});

t.test('a clock jump of many revolutions sweeps each slot once and fires what is due', async (t) => {
  const { m, clock, keys } = setup({ tickMs: 10, slots: 8 }, 0);
  for (let i = 0; i < 40; i++) m.track(i, 'x', i * 37 + 1);
  clock.now = 700; // 70 ticks, almost 9 revolutions, in one step
  m.tick();
  const due = Array.from({ length: 40 }, (_, i) => i).filter((i) => i * 37 + 1 <= 700);
  t.same([...keys()].sort((a, b) => a - b), due);
  t.equal(m.size, 40 - due.length);
  clock.now = 10_000;
  m.tick();
  t.equal(keys().length, 40);
});

t.test('many entries in one slot', async (t) => {
  const { m, clock, fired } = setup({ tickMs: 10, slots: 4 }, 0);
  const N = 10_000;
  // All in slot 1: deadlines 10..19 (this revolution) and 50..59, 90..99 (later ones).
  for (let i = 0; i < N; i++) m.track(i, `v${i}`, [10, 50, 90][i % 3] + (i % 10));
  for (let i = 0; i < N; i += 5) m.resolve(i); // remove from the middle, the head and the tail
  clock.now = 19.5;
  m.tick();
  const want1 = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 !== 0 && i % 3 === 0);
  t.same(fired.map((f) => f.key), want1, 'this revolution only, in order of tracking');
  clock.now = 59.5;
  m.tick();
  clock.now = 100;
  m.tick();
  t.equal(fired.length, N - N / 5, 'every unresolved entry fired exactly once');
  t.equal(new Set(fired.map((f) => f.key)).size, fired.length);
  t.ok(fired.every((f) => f.value === `v${f.key}`));
  t.equal(m.size, 0);
});

t.test('re-tracking a key after it expired or was resolved', async (t) => {
  const { m, clock, fired } = setup();
  m.track(1, 'a', 10);
  t.equal(m.resolve(1), 'a');
  t.equal(m.track(1, 'b', 10), true, 'free again after resolve');
  clock.now += 10;
  m.tick();
  t.same(fired.map((f) => f.value), ['b']);
  t.equal(m.track(1, 'c', 10), true, 'free again after expiry');
  t.equal(m.peek(1), 'c');
  clock.now += 5;
  m.tick();
  t.equal(fired.length, 1, 'the new deadline counts, not the old one');
  clock.now += 5;
  m.tick();
  t.same(fired.map((f) => f.value), ['b', 'c']);
});

t.test('an expiry callback may track, resolve and tick re-entrantly', async (t) => {
  const clock = { now: 0 };
  const seen: string[] = [];
  const m: Matcher<string, number> = new Matcher<string, number>({
    now: () => clock.now,
    tickMs: 10,
    onExpire: (key, value) => {
      seen.push(key);
      if (key === 'a' && value === 1) {
        t.equal(m.has('a'), false, 'the key is gone before its callback');
        t.equal(m.track('a', value + 1, 0), true, 'the same key can be tracked again at once');
        t.equal(m.resolve('b'), 2, 'an entry due in the same tick can still be resolved');
        t.equal(m.track('x', 9, 5), true);
        t.equal(m.tick(), 0, 'a nested tick delivers nothing');
        t.equal(m.drain(), 0, 'a nested drain delivers nothing');
      }
    },
  });
  m.track('a', 1, 10);
  m.track('b', 2, 10);
  m.track('c', 3, 10);
  clock.now = 10;
  t.equal(m.tick(), 2, 'a and c; b was resolved by the callback');
  t.same(seen, ['a', 'c'], 'b never fires');
  t.equal(m.peek('a'), 2, 'a re-tracked with timeout 0 waits for the next tick');
  clock.now = 14;
  t.equal(m.tick(), 1);
  t.same(seen, ['a', 'c', 'a']);
  clock.now = 15;
  m.tick();
  t.same(seen, ['a', 'c', 'a', 'x']);
  t.equal(m.size, 0);
  const s = m.stats();
  t.match(s, { tracked: 5, resolved: 1, expired: 4 });
});

t.test('a burst of 100,000 deadlines in one tick is delivered completely, in bounded slices', async (t) => {
  const N = 100_000;
  const batchSize = 5_000;
  const { m, clock, fired } = setup<number, number>({ batchSize }, 0);
  for (let i = 0; i < N; i++) m.track(i, i, 1000 + (i % 7) / 10); // all in one tick
  clock.now = 1001;
  t.equal(m.advance(), N, 'advance only queues them');
  t.equal(fired.length, 0, 'no callback yet');
  t.equal(m.pending, N);
  t.equal(m.size, N, 'still in flight until delivered');

  const slices: number[] = [];
  for (;;) {
    const n = m.drain();
    if (n === 0) break;
    slices.push(n);
    t.equal(m.pending, N - fired.length);
  }
  t.equal(slices.length, N / batchSize);
  t.ok(slices.every((n) => n === batchSize), 'every slice is at most batchSize');
  t.equal(fired.length, N);
  t.ok(fired.every((f, i) => f.key === i && f.value === i), 'in order, each once');
  t.equal(m.size, 0);
  t.match(m.stats(), { slices: N / batchSize, maxSlice: batchSize, expired: N });
  t.equal(m.drain(10, 2000), 0);
});

t.test('tick() delivers a burst synchronously, slice by slice; resolve still wins while due', async (t) => {
  const { m, clock, fired } = setup<number, number>({ batchSize: 1000 }, 0);
  for (let i = 0; i < 10_500; i++) m.track(i, i, 10);
  clock.now = 10;
  m.advance();
  t.equal(m.resolve(10_499), 10_499, 'due but not delivered: the response wins');
  t.equal(m.drain(2500), 2500, 'drain(limit) delivers up to limit');
  t.equal(m.tick(), 10_499 - 2500);
  t.equal(fired.length, 10_499);
  t.match(m.stats(), { maxSlice: 1000, slices: 3 + 8 });
});

t.test('keys of every kind', async (t) => {
  const { m, clock, fired } = setup<unknown, string>();
  const keys: unknown[] = ['s1', '1', 1, 1.5, -1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, NaN, 'a:123456:0101', 0];
  for (const k of keys) t.equal(m.track(k, String(k), 10), true, `track ${String(k)}`);
  t.equal(m.track(-0, 'minus zero', 10), false, '-0 and 0 are one key, as in a Map');
  t.equal(m.track('1', 'again', 10), false);
  t.equal(m.track(NaN, 'again', 10), false, 'NaN is one key, as in a Map');
  t.equal(m.size, keys.length);
  t.equal(m.peek(1), '1');
  t.equal(m.peek('1'), '1');
  t.equal(m.resolve(1.5), '1.5');
  t.equal(m.resolve(2 ** 31), String(2 ** 31));
  t.equal(m.resolve(-0), '0');
  clock.now += 10;
  m.tick();
  t.equal(fired.length, keys.length - 3);
  t.equal(m.size, 0);
});

t.test('the int table grows and shrinks back', async (t) => {
  const { m, clock, fired } = setup<number, number>({}, 0);
  const table = (m as unknown as { table: { capacity: number } }).table;
  const initial = table.capacity;
  const N = 50_000;
  for (let i = 0; i < N; i++) m.track(i * 3 - N, i, 100);
  t.ok(table.capacity >= N, `grew to ${table.capacity}`);
  let wrong = 0;
  for (let i = 0; i < N; i++) if (m.peek(i * 3 - N) !== i) wrong++;
  t.equal(wrong, 0, 'every key found after the resizes');
  for (let i = 0; i < N; i += 2) m.resolve(i * 3 - N);
  clock.now = 100;
  m.tick();
  t.equal(fired.length, N / 2);
  t.equal(m.size, 0);
  t.equal(table.capacity, initial, 'back to the minimum once empty');
});

t.test('bad arguments are refused', async (t) => {
  const { m } = setup();
  t.throws(() => m.track(1, 'x', NaN), RangeError);
  t.throws(() => m.track(1, 'x', -1), RangeError);
  t.throws(() => m.track(1, 'x', Infinity), RangeError);
  t.equal(m.size, 0, 'nothing tracked by a refused call');
  const onExpire = () => {};
  t.throws(() => new Matcher({ onExpire, slots: 1000 }), RangeError);
  t.throws(() => new Matcher({ onExpire, slots: 0 }), RangeError);
  t.throws(() => new Matcher({ onExpire, tickMs: 0 }), RangeError);
  t.throws(() => new Matcher({ onExpire, batchSize: 0 }), RangeError);
  t.throws(() => new Matcher({ onExpire, batchSize: 1.5 }), RangeError);
  t.doesNotThrow(() => new Matcher({ onExpire, slots: 1, tickMs: 0.5, batchSize: 1 }));
});

t.test('a callback that throws leaves the matcher consistent', async (t) => {
  const { m, clock } = setup<number, number>({ onExpire: (k) => { if (k === 2) throw new Error('boom'); } }, 0);
  for (let i = 1; i <= 3; i++) m.track(i, i, 10);
  clock.now = 10;
  t.throws(() => m.tick(), /boom/);
  t.equal(m.has(2), false, 'the failed one was delivered');
  t.equal(m.pending, 1, 'the rest wait');
  t.equal(m.tick(), 1);
  t.equal(m.size, 0);
});

t.test('track with an explicit clock reading', async (t) => {
  const { m, clock, keys } = setup({ tickMs: 10 }, 0);
  clock.now = 1000;
  m.tick();
  t.equal(m.track(1, 'arrived earlier', 50, 990), true);
  t.equal(m.deadlineOf(1), 1040, 'the deadline counts from the reading given');
  t.equal(m.track(2, 'already overdue', 5, 900), true);
  t.equal(m.tick(), 1, 'a deadline already past fires at the next tick');
  t.same(keys(), [2]);
  t.equal(m.stats().lastLateMs, 95);
  clock.now = 1039.9;
  m.tick();
  t.same(keys(), [2]);
  clock.now = 1040;
  m.tick();
  t.same(keys(), [2, 1]);
});

t.test('freed entries are reused without holding on to their values', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { m, clock, fired } = setup<number, { big: number[] }>({}, 0);
  // In a function of its own: a suspended async test would keep its last `v` in a register.
  const refs = ((): WeakRef<object>[] => {
    const out: WeakRef<object>[] = [];
    for (let i = 0; i < 100; i++) {
      const v = { big: [i] };
      out.push(new WeakRef(v));
      m.track(i, v, 10);
    }
    return out;
  })();
  for (let i = 0; i < 50; i++) m.resolve(i);
  clock.now = 10;
  m.tick();
  t.equal(fired.length, 50);
  fired.length = 0;
  // The 100 entries are now free; reuse some of them.
  for (let i = 0; i < 30; i++) m.track(1000 + i, { big: [] }, 10);
  t.equal(m.peek(0), undefined, 'old keys are gone');
  t.equal(m.peek(99), undefined);
  t.equal(m.size, 30);
  t.same(m.peek(1029), { big: [] });
  await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets are kept until the turn ends
  gc();
  t.same(refs.map((r, i) => (r.deref() === undefined ? -1 : i)).filter((i) => i >= 0), [], 'no resolved or expired value is retained');
  clock.now = 20;
  t.equal(m.tick(), 30);
  t.equal(m.size, 0);
});

t.test('expectedInFlight sizes the int table up front and keeps it', async (t) => {
  const { m, clock } = setup<number, number>({ expectedInFlight: 100_000 }, 0);
  const table = (m as unknown as { table: { capacity: number } }).table;
  const initial = table.capacity;
  t.ok(initial >= 200_000, `starts with ${initial} buckets`);
  for (let i = 0; i < 100_000; i++) m.track(i, i, 10);
  t.equal(table.capacity, initial, 'no growth up to the expected peak');
  clock.now = 10;
  t.equal(m.tick(), 100_000);
  t.equal(table.capacity, initial, 'no shrinking below it');
});
