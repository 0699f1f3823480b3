/**
 * The matcher against a reference model (a Map of key -> value and deadline, expired by
 * sorting the deadlines) over random sequences of track, resolve, peek, tick, advance
 * and drain, on small wheels (so timeouts span many revolutions) and keys that collide
 * in the int table. After every step the two agree on what is in flight, and every
 * expiry fired exactly when the model says: not before its deadline, and at the first
 * tick at or after it.
 */
import t from 'tap';
import fc from 'fast-check';
import { Matcher } from '../switch/matcher/index.js';

type Key = number | string;
// 0, 1024, 2048 and -1024 share a bucket of the smallest int table; 2^31 and 1.5 are
// not int32 and take the Map path; -0 is 0.
const KEYS: Key[] = [0, 1, 2, 3, 1024, 2048, -1024, 2 ** 31, 1.5, -0, 'a', 'b', 'T1:000123:0101'];

type Op =
  | { op: 'track'; key: Key; timeout: number }
  | { op: 'resolve'; key: Key }
  | { op: 'peek'; key: Key }
  | { op: 'tick'; dt: number }
  | { op: 'advance'; dt: number }
  | { op: 'drain'; limit: number };

const keyArb = fc.constantFrom(...KEYS);
const timeArb = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 400 }), fc.double({ min: 0, max: 400, noNaN: true }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('track' as const), key: keyArb, timeout: timeArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('resolve' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('peek' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: timeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), dt: timeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const), limit: fc.integer({ min: 1, max: 4 }) }) },
);
const configArb = fc.record({
  tickMs: fc.constantFrom(1, 10, 7.5),
  slots: fc.constantFrom(1, 8, 64),
  batchSize: fc.constantFrom(1, 2, 1000),
  start: fc.constantFrom(0, 1_000_000.3),
});

interface ModelEntry {
  value: number;
  deadline: number;
  /** Seen due by an advance, not delivered yet. */
  due: boolean;
}

/** The reference: a Map, with expiry by sorting the deadlines. */
class Model {
  readonly inFlight = new Map<Key, ModelEntry>();

  track(key: Key, value: number, deadline: number): boolean {
    if (this.inFlight.has(key)) return false;
    this.inFlight.set(key, { value, deadline, due: false });
    return true;
  }

  resolve(key: Key): number | undefined {
    const e = this.inFlight.get(key);
    this.inFlight.delete(key);
    return e?.value;
  }

  /** Marks every entry whose deadline is <= now as due; returns the newly due keys, earliest first. */
  advance(now: number): Key[] {
    return [...this.inFlight]
      .filter(([, e]) => !e.due && e.deadline <= now)
      .sort((a, b) => a[1].deadline - b[1].deadline)
      .map(([k, e]) => { e.due = true; return k; });
  }

  dueKeys(): Key[] {
    return [...this.inFlight].filter(([, e]) => e.due).map(([k]) => k);
  }
}

const show = (k: Key) => (Object.is(k, -0) ? '-0' : typeof k === 'string' ? JSON.stringify(k) : String(k));
const norm = (k: Key) => (Object.is(k, -0) ? 0 : k);
const sortKeys = (ks: Key[]) => ks.map(norm).map(show).sort();

t.test('matcher agrees with a Map-and-sorted-deadlines model', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(configArb, fc.array(opArb, { maxLength: 80 }), (cfg, ops) => {
      runs++;
      let now: number = cfg.start;
      let nextValue = 0;
      const fired: { key: Key; value: number; late: number }[] = [];
      const m = new Matcher<Key, number>({
        now: () => now, tickMs: cfg.tickMs, slots: cfg.slots, batchSize: cfg.batchSize,
        onExpire: (key, value, late) => fired.push({ key, value, late }),
      });
      const model = new Model();

      /** Checks a batch of deliveries: each was due in the model, with its value and exact lateness. */
      const delivered = (from: number) => {
        for (const f of fired.slice(from)) {
          const e = model.inFlight.get(f.key);
          if (e === undefined) throw new Error(`fired ${show(f.key)}, which the model does not have in flight`);
          if (!e.due) throw new Error(`fired ${show(f.key)} early: deadline ${e.deadline}, now ${now}`);
          if (e.value !== f.value) throw new Error(`fired ${show(f.key)} with value ${f.value}, model has ${e.value}`);
          if (f.late !== now - e.deadline) throw new Error(`lateness ${f.late}, expected ${now - e.deadline}`);
          model.inFlight.delete(f.key);
        }
      };

      for (const op of ops) {
        switch (op.op) {
          case 'track': {
            const v = nextValue++;
            const got = m.track(op.key, v, op.timeout);
            const want = model.track(op.key, v, now + op.timeout);
            if (got !== want) throw new Error(`track ${show(op.key)}: got ${got}, model ${want}`);
            break;
          }
          case 'resolve': {
            const got = m.resolve(op.key);
            const want = model.resolve(op.key);
            if (got !== want) throw new Error(`resolve ${show(op.key)}: got ${got}, model ${want}`);
            break;
          }
          case 'peek': {
            const got = m.peek(op.key);
            const want = model.inFlight.get(op.key)?.value;
            if (got !== want) throw new Error(`peek ${show(op.key)}: got ${got}, model ${want}`);
            break;
          }
          case 'tick':
          case 'advance': {
            now += op.dt;
            const before = fired.length;
            const newlyDue = model.advance(now);
            if (op.op === 'tick') {
              const n = m.tick();
              if (n !== model.dueKeys().length) throw new Error(`tick delivered ${n}, model has ${model.dueKeys().length} due`);
              delivered(before);
              if (model.dueKeys().length !== 0) throw new Error('tick left due entries undelivered');
            } else {
              const n = m.advance();
              if (n !== newlyDue.length) throw new Error(`advance queued ${n}, model ${newlyDue.length}`);
            }
            break;
          }
          case 'drain': {
            const before = fired.length;
            const due = model.dueKeys().length;
            const n = m.drain(op.limit);
            if (n !== Math.min(op.limit, due)) throw new Error(`drain(${op.limit}) delivered ${n} of ${due} due`);
            delivered(before);
            break;
          }
        }
        if (m.size !== model.inFlight.size) throw new Error(`size ${m.size}, model ${model.inFlight.size}`);
        if (m.pending !== model.dueKeys().length) throw new Error(`pending ${m.pending}, model ${model.dueKeys().length}`);
      }

      // In the end, everything still in flight fires exactly once, at its deadline.
      const rest = sortKeys([...model.inFlight.keys()]);
      const before = fired.length;
      const maxDeadline = Math.max(now, ...[...model.inFlight.values()].map((e) => e.deadline));
      now = maxDeadline;
      model.advance(now);
      m.tick();
      const last = sortKeys(fired.slice(before).map((f) => f.key));
      if (JSON.stringify(last) !== JSON.stringify(rest)) throw new Error(`final tick fired ${last}, expected ${rest}`);
      if (m.size !== 0) throw new Error(`size ${m.size} after the final tick`);
      const s = m.stats();
      if (s.expired !== fired.length) throw new Error('stats.expired disagrees');
      if (s.tracked !== s.resolved + s.expired) throw new Error('tracked != resolved + expired');
      if (fired.some((f) => f.late < 0)) throw new Error('negative lateness');
      if (s.maxSlice > cfg.batchSize) throw new Error(`slice of ${s.maxSlice} > batchSize ${cfg.batchSize}`);
    }),
    { numRuns: 400 },
  );
  t.equal(runs, 400, 'every generated sequence agreed with the model');
});

t.test('ticks at every step never fire early and never skip a due deadline', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 10, 3.3),
      fc.constantFrom(2, 16, 4096),
      fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 50 }),
      fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 1, maxLength: 200 }),
      (tickMs, slots, timeouts, steps) => {
        let now = 0;
        const deadlines = new Map<number, number>();
        const m = new Matcher<number, number>({
          now: () => now, tickMs, slots,
          onExpire: (k) => {
            const d = deadlines.get(k);
            if (d === undefined || d > now) throw new Error(`key ${k} fired at ${now}, deadline ${d}`);
            deadlines.delete(k);
          },
        });
        timeouts.forEach((to, i) => { m.track(i, i, to); deadlines.set(i, to); });
        for (const dt of steps) {
          now += dt;
          m.tick();
          for (const [k, d] of deadlines) if (d <= now) throw new Error(`key ${k} due at ${d} still in flight at ${now}`);
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('no expiry before its deadline, none after the first tick at or past it');
});
