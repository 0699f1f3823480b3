/**
 * The matcher driven by start(): one unref'd interval, expiry bursts delivered in slices
 * with the event loop free between them, stop() mid-burst. The clock is manual; the
 * tests wait for what the matcher did (polled, with a deadline), never for a time.
 */
import t from 'tap';
import { Matcher } from '../switch/matcher/index.js';
import { until } from './support/until.js';

t.test('start() drives ticks from one unref\'d interval; stop() ends it', async (t) => {
  let now = 0;
  const fired: number[] = [];
  const m = new Matcher<number, string>({ now: () => now, tickMs: 1, onExpire: (k) => fired.push(k) });
  m.track(1, 'a', 100);
  m.track(2, 'b', 200);
  t.equal(m.running, false);
  m.start();
  m.start(); // idempotent: still one interval
  t.equal(m.running, true);
  const interval = (m as unknown as { interval: NodeJS.Timeout }).interval;
  t.equal(interval.hasRef(), false, 'the interval does not keep the process alive');

  now = 150;
  await until(() => fired.length === 1, 'the first expiry');
  t.same(fired, [1]);
  t.equal(m.has(2), true);
  m.stop();
  t.equal(m.running, false);
  now = 1000;
  t.equal(m.has(2), true, 'stopped: nothing fires');
  t.equal(m.tick(), 1, 'tick() still works after stop');
  t.same(fired, [1, 2]);
});

t.test('a burst of 100,000 in one tick is delivered in slices, with the event loop turning between them', async (t) => {
  const N = 100_000;
  const batchSize = 5_000;
  let now = 0;
  let count = 0;
  const m = new Matcher<number, number>({ now: () => now, tickMs: 1, batchSize, onExpire: () => { count++; } });
  for (let i = 0; i < N; i++) m.track(i, i, 50);

  // A probe that runs once per event-loop turn and records how far the burst had got.
  const seen: number[] = [];
  let probing = true;
  const probe = () => {
    seen.push(count);
    if (probing) setImmediate(probe);
  };
  m.start();
  now = 60;
  setImmediate(probe);
  await until(() => count === N, 'every expiry of the burst');
  probing = false;
  m.stop();

  t.equal(count, N, 'every expiry delivered');
  t.equal(m.size, 0);
  const s = m.stats();
  t.equal(s.maxSlice, batchSize, 'no slice longer than batchSize');
  t.equal(s.slices, N / batchSize);
  const partial = seen.filter((c) => c > 0 && c < N);
  t.ok(partial.length >= N / batchSize - 2, `other callbacks ran between slices (${partial.length} turns saw a partial burst)`);
  let biggestStep = 0;
  for (let i = 1; i < seen.length; i++) biggestStep = Math.max(biggestStep, seen[i] - seen[i - 1]);
  t.ok(biggestStep <= batchSize, `at most one slice between two turns of the loop (saw ${biggestStep})`);
  t.equal(s.lastLateMs, 10, 'lateness from the clock at delivery');
});

t.test('stop() in the middle of a burst leaves the rest in flight', async (t) => {
  let now = 0;
  let count = 0;
  const m = new Matcher<number, number>({
    now: () => now, tickMs: 1, batchSize: 100,
    onExpire: () => { if (++count === 250) m.stop(); }, // in the third slice (of 100)
  });
  for (let i = 0; i < 1000; i++) m.track(i, i, 5);
  m.start();
  now = 5;
  await until(() => count >= 250, 'the expiry that calls stop()');
  await new Promise((resolve) => setImmediate(resolve)); // one more turn: no slice follows a stop
  t.equal(count, 300, 'the slice that called stop() finishes; no other follows');
  t.equal(m.size, 700, 'the rest are still in flight');
  t.equal(m.pending, 700);
  t.equal(m.resolve(999), 999, 'and can still be resolved');
  t.equal(m.tick(), 699);
});

t.test('the default clock is monotonic performance.now()', async (t) => {
  const m = new Matcher<string, number>({ onExpire: () => {} });
  const before = performance.now();
  m.track('k', 1, 1000);
  const d = m.deadlineOf('k');
  t.ok(d !== undefined && d >= before + 1000 && d <= performance.now() + 1000, 'deadline = performance.now() + timeout');
  t.equal(m.tick(), 0);
  t.equal(m.resolve('k'), 1);
});
