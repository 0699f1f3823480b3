/**
 * The timer wheel on its own: intrusive entries, O(1) schedule and cancel, the due
 * queue, far deadlines, past deadlines and clock jumps.
 */
import t from 'tap';
import { DETACHED, TimerWheel, type TimerEntry } from '../switch/matcher/index.js';

class Node implements TimerEntry<Node> {
  prev: Node | null = null;
  next: Node | null = null;
  slot = DETACHED;
  deadline = 0;
  constructor(readonly name: string) {}
}

function drainAll(w: TimerWheel<Node>): string[] {
  const out: string[] = [];
  for (let e = w.shift(); e !== null; e = w.shift()) {
    t.equal(e.slot, DETACHED, `${e.name} is detached once shifted`);
    out.push(e.name);
  }
  return out;
}

t.test('schedule, advance, shift', async (t) => {
  const w = new TimerWheel<Node>({ startMs: 100, tickMs: 10, slots: 16 });
  const a = new Node('a');
  const b = new Node('b');
  const c = new Node('c');
  w.schedule(a, 130);
  w.schedule(b, 125);
  w.schedule(c, 500);
  t.equal(w.scheduled, 3);
  t.equal(a.deadline, 130);
  t.equal(w.advance(124.9), 0);
  t.equal(w.advance(130), 2);
  t.equal(w.scheduled, 1);
  t.equal(w.due, 2);
  t.same(drainAll(w), ['b', 'a'], 'tick order: b (tick 2) before a (tick 3)');
  t.equal(w.due, 0);
  t.equal(w.advance(499), 0);
  t.equal(w.advance(10_000), 1);
  t.same(drainAll(w), ['c']);
  t.equal(w.shift(), null);
});

t.test('cancel from a slot and from the due queue, reschedule', async (t) => {
  const w = new TimerWheel<Node>({ startMs: 0, tickMs: 10, slots: 4 });
  const ns = ['a', 'b', 'c', 'd', 'e'].map((n) => new Node(n));
  for (const n of ns) w.schedule(n, 15);
  t.equal(w.cancel(ns[0]), true, 'head');
  t.equal(w.cancel(ns[2]), true, 'middle');
  t.equal(w.cancel(ns[4]), true, 'tail');
  t.equal(w.cancel(ns[4]), false, 'twice');
  t.equal(ns[4].slot, DETACHED);
  t.equal(w.scheduled, 2);
  w.schedule(ns[0], 15);
  t.equal(w.advance(20), 3);
  t.equal(w.cancel(ns[3]), true, 'cancel while due');
  t.equal(w.due, 2);
  t.same(drainAll(w), ['b', 'a']);

  const x = new Node('x');
  w.schedule(x, 30);
  w.schedule(x, 100); // moves it
  t.equal(w.scheduled, 1);
  t.equal(w.advance(40), 0);
  t.equal(w.advance(100), 1);
  w.schedule(x, 200); // moves it out of the due queue
  t.equal(w.due, 0);
  t.equal(w.scheduled, 1);
  t.equal(w.advance(199), 0);
  t.equal(w.advance(200), 1);
  t.same(drainAll(w), ['x']);
});

t.test('deadlines in the past go to the current tick', async (t) => {
  const w = new TimerWheel<Node>({ startMs: 0, tickMs: 10, slots: 8 });
  w.advance(1000);
  const old = new Node('old');
  w.schedule(old, 3); // long past: tick 0, the wheel is at tick 100
  t.equal(w.due, 0, 'not due until the next advance');
  t.equal(w.advance(1000), 1, 'due at the next advance, even with the same clock');
  t.same(drainAll(w), ['old']);
  const neg = new Node('neg');
  w.schedule(neg, -5);
  t.equal(w.advance(999), 1, 'a clock reading behind the wheel still sweeps the current tick');
  t.same(drainAll(w), ['neg']);
});

t.test('far deadlines wait their revolution; a long jump sweeps each slot once', async (t) => {
  const w = new TimerWheel<Node>({ startMs: 0, tickMs: 1, slots: 4 });
  const near = new Node('near');
  const far = new Node('far');
  const farther = new Node('farther');
  w.schedule(near, 1);
  w.schedule(far, 5); // same slot as 1
  w.schedule(farther, 4 * 1000 + 1); // same slot, 1000 revolutions on
  t.equal(w.advance(1), 1);
  t.same(drainAll(w), ['near']);
  for (let now = 2; now < 5; now++) t.equal(w.advance(now), 0);
  t.equal(w.advance(5), 1);
  t.same(drainAll(w), ['far']);
  t.equal(w.advance(4000), 0);
  t.equal(w.advance(1e9), 1, 'a jump of millions of ticks');
  t.same(drainAll(w), ['farther']);
});

t.test('one slot, ticks beyond 2^31', async (t) => {
  const w = new TimerWheel<Node>({ startMs: 0, tickMs: 1, slots: 1 });
  const ns = Array.from({ length: 10 }, (_, i) => new Node(`n${i}`));
  ns.forEach((n, i) => w.schedule(n, 2 ** 33 + 10 - i));
  t.equal(w.advance(2 ** 33 + 5), 5);
  t.same(drainAll(w), ['n5', 'n6', 'n7', 'n8', 'n9'], 'due entries in scheduling order');
  t.equal(w.advance(2 ** 33 + 10), 5);
  t.same(drainAll(w), ['n0', 'n1', 'n2', 'n3', 'n4']);

  const w8 = new TimerWheel<Node>({ startMs: 0, tickMs: 1, slots: 8 });
  const base = 2 ** 32 + 2 ** 31; // ticks whose int32 view is negative
  w8.advance(base);
  const ms = Array.from({ length: 20 }, (_, i) => new Node(`m${i}`));
  ms.forEach((n, i) => w8.schedule(n, base + i + 0.5));
  const fired: string[] = [];
  for (let now = base; now <= base + 20; now++) {
    w8.advance(now);
    fired.push(...drainAll(w8));
    t.equal(fired.length, now - base, `at tick ${now - base}`);
  }
});

t.test('a wheel that starts at a large clock reading', async (t) => {
  const start = 1.7e12; // Date.now()-sized
  const w = new TimerWheel<Node>({ startMs: start, tickMs: 10, slots: 4096 });
  const a = new Node('a');
  w.schedule(a, start + 30_000);
  t.equal(w.advance(start + 29_999.9), 0);
  t.equal(w.advance(start + 30_000), 1);
});

t.test('options are validated', async (t) => {
  t.throws(() => new TimerWheel<Node>({ startMs: 0, slots: 3 }), RangeError);
  t.throws(() => new TimerWheel<Node>({ startMs: 0, slots: 2 ** 31 }), RangeError);
  t.throws(() => new TimerWheel<Node>({ startMs: 0, tickMs: -1 }), RangeError);
  t.throws(() => new TimerWheel<Node>({ startMs: NaN }), RangeError);
  const w = new TimerWheel<Node>({ startMs: 0 });
  t.equal(w.tickMs, 10, 'default tick');
  t.equal(w.slots, 4096, 'default slots');
});
