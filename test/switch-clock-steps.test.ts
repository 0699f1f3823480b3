/**
 * The wall clock stepped an hour, as a bad NTP step would, under a running switch (issue
 * 21; docs/operations.md, "Clock steps"): Date.now() jumps, timers and performance.now()
 * run on (test/support/wall-clock.ts). Deadlines are on the monotonic clock, so:
 *
 * - sales in flight at a +1 h step do not all time out at the step, and do time out at
 *   their deadline; at a -1 h step they time out at their deadline, not an hour later;
 * - reversals waiting for their answer are not all timed out by a +1 h step, and a -1 h
 *   step does not hold their repeats back;
 * - an upstream link's echo timer is idle time: a -1 h step does not silence it;
 * - a duplicate of a sale another node still has in flight waits for that sale's outcome
 *   until the upstream deadline, not an hour longer;
 * - a terminal's own reversal (no F90) of a sale approved just before a -1 h step finds
 *   that sale, which now looks an hour in the future, and reverses it;
 * - the velocity window (undos per terminal, merchant, card) neither forgets the undos
 *   before a +1 h step nor counts them an hour longer after a -1 h one;
 * - a shutdown's drain of reversals still awaiting their answer ends when it should, not
 *   an hour later.
 *
 * No time is measured: "not at the step" is checked after a barrier sale the issuer
 * answers after 100 ms (twenty wheel ticks), far inside the deadlines in play; "not an
 * hour later" by the outcome arriving while the test still waits.
 */
import t from 'tap';
import { getDialect } from '../codec/index.js';
import { IsoMessage } from '../codec/index.js';
import { UpstreamLink } from '../switch/edge/upstream-link.js';
import type { EngineContext } from '../switch/engine/context.js';
import type { Replies } from '../switch/engine/replies.js';
import { StoredDuplicates } from '../switch/engine/stored-duplicates.js';
import { Velocity } from '../switch/engine/velocity.js';
import type { Txn } from '../switch/engine/txn.js';
import type { TxnRow } from '../switch/store/types.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { startIssuer } from '../switch/sim/issuer.js';
import type { SimClient } from '../switch/sim/client.js';
import { sale, startHarness, type Harness } from './support/switch-harness.js';
import { until } from './support/until.js';
import { steppedWallClock } from './support/wall-clock.js';

const HOUR = 3_600_000;

/** `n` sales the issuer never answers (amount ..99: approved and held, the answer lost), each on its own terminal connection. */
async function unanswered(h: Harness, n: number, amount = '1099'): Promise<{ settled: () => number; all: Promise<unknown[]> }> {
  let settled = 0;
  const answers: Promise<unknown>[] = [];
  const rrns: string[] = [];
  for (let i = 0; i < n; i++) {
    const c: SimClient = await h.client();
    const m = sale({ amount, terminal: `CLOCK00${i}` });
    rrns.push(m.get(37) as string);
    // The client gives up after 60 s: an answer held an hour fails the test there.
    answers.push(c.request(m, 60_000).finally(() => { settled++; }));
  }
  await h.until(() => rrns.every((r) => h.salesSeen(r).length === 1), 'the issuer holding every sale');
  return { settled: () => settled, all: Promise.all(answers) };
}

t.test('+1 h mid-flight: sales in flight do not all time out at the step; they time out at their deadline', async (tt) => {
  const wall = steppedWallClock(tt);
  const h = await startHarness(tt, { upstreamTimeoutMs: 4000, issuer: { latencyMs: 100 } });
  const inFlight = await unanswered(h, 4);
  wall.step(+HOUR);
  await h.barrier(await h.client());
  tt.equal(h.sw.counters.get('timeouts'), 0, 'no sale timed out at the step');
  tt.equal(inFlight.settled(), 0, 'no terminal answered yet');
  await inFlight.all;
  tt.equal(h.sw.counters.get('timeouts'), 4, 'each timed out at its own deadline');
});

t.test('-1 h mid-flight: sales in flight time out at their deadline, not an hour later', async (tt) => {
  const wall = steppedWallClock(tt);
  const h = await startHarness(tt, { upstreamTimeoutMs: 1000 });
  const inFlight = await unanswered(h, 4);
  wall.step(-HOUR);
  await inFlight.all;
  tt.equal(h.sw.counters.get('timeouts'), 4, 'every one timed out, the terminals answered');
});

t.test('reversals awaiting their answer: +1 h does not time them all out, -1 h does not hold their repeats back', async (tt) => {
  const wall = steppedWallClock(tt);
  const h = await startHarness(tt, {
    upstreamTimeoutMs: 500,
    reversal: { responseTimeoutMs: 3000, backoffMs: [2000] },
    // Reversals are processed and never answered: each waits out its answer deadline, then repeats.
    issuer: { latencyMs: 100, reversalDropRate: 1 },
  });
  const sales = await unanswered(h, 3);
  await sales.all;
  const sent = (mti: string): number => h.reversalsSeen().filter((e) => e.msg.mti === mti).length;
  await h.until(() => sent('0400') === 3, 'the three reversals sent');
  tt.equal(sent('0401'), 0);
  wall.step(+HOUR);
  await h.barrier(await h.client());
  tt.same(h.sw.reversals.records().map((r) => r.state), ['sent', 'sent', 'sent'], 'still awaiting their answers: no deadline fired at the step');
  wall.step(-2 * HOUR);
  await until(() => sent('0401') === 3, 'the three repeats (0401) after the answer deadline and the backoff', 30_000);
  tt.pass('repeated on time, an hour behind the clock they were sent by');
});

t.test('-1 h on an idle upstream link: its echoes go on', async (tt) => {
  const wall = steppedWallClock(tt);
  const issuer = await startIssuer({ seed: 1 });
  tt.teardown(() => issuer.close());
  let echoes = 0;
  issuer.onMessage((e) => { if (e.msg.mti === '0800' && e.msg.get(70) === '301') echoes++; });
  const link = new UpstreamLink({
    name: 'issuer', host: '127.0.0.1', port: issuer.port, dialect: getDialect('iso87a'), framing: 'len2', maxFrame: 8192,
    backoffMs: [50], echoIdleMs: 200, netTimeoutMs: 2000, signOn: true, tickMs: 5, log: createLogger('silent'), counters: new Counters(),
  });
  link.start();
  tt.teardown(() => link.stop());
  await until(() => link.isUp && echoes > 0, 'the link up and echoing');
  wall.step(-HOUR);
  const before = echoes;
  await until(() => echoes >= before + 2, 'two more echoes after the step', 20_000);
  tt.pass('the idle time is measured on the monotonic clock');
});

t.test('-1 h while a duplicate waits for the outcome of its original on another node: it is answered at the deadline', async (tt) => {
  const wall = steppedWallClock(tt);
  // The original stays forwarded in the shared journal: the duplicate waits it out.
  const forwarded = { id: 'other-node-1', sender: 'S', f7: '0304100000', mti: '0200', state: 'forwarded' } as unknown as TxnRow;
  let looked = 0;
  const ctx = {
    counters: new Counters(),
    log: createLogger('silent'),
    stopping: () => false,
    listenerDialect: () => getDialect('iso87a'),
    journal: { store: { findTxns: async () => { looked++; return [forwarded]; } } },
  } as unknown as EngineContext;
  let answered: string | null = null;
  const replies = {
    local: (_l: string, _r: IsoMessage, code: string) => new IsoMessage('0210').set(39, code === 'issuer_unavailable' ? '91' : '96'),
    finish: (_t: Txn, res: IsoMessage) => { answered = res.get(39) ?? ''; return true; },
  } as unknown as Replies;
  const request = new IsoMessage('0200').set(41, 'TERM0001').set(11, '000777').set(7, '0304100000').set(32, '123456');
  const txn = { id: 'dup-1', listener: 'pos', request, answer: null } as unknown as Txn;
  new StoredDuplicates(ctx, replies).answer(txn, 200);
  await until(() => looked > 0, 'the first look-up');
  wall.step(-HOUR);
  await until(() => answered !== null, 'the duplicate answered at the deadline (200 ms + 1 s)', 20_000);
  tt.equal(answered, '91', 'with the switch\'s own non-approval: the original never ended');
});

t.test('-1 h between a sale and the terminal\'s own reversal of it (no F90): the sale is found and reversed', async (tt) => {
  const wall = steppedWallClock(tt);
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ terminal: 'CLOCKREV' });
  tt.equal((await c.request(s, 10_000)).get(39), '00', 'approved');
  wall.step(-HOUR);
  const rev = s.clone();
  rev.mti = '0400';
  rev.set(39, '17');
  tt.equal((await c.request(rev, 10_000)).get(39), '00', 'the terminal gets its 0410');
  await h.until(() => h.reversalsSeen().length === 1, 'the reversal at the issuer');
  tt.equal(h.reversalsSeen()[0].msg.get(37), s.get(37), 'of that sale');
  tt.equal(h.sw.counters.get('terminal_reversals_unknown_original'), 0, 'never taken for a reversal of an unknown sale');
});

t.test('the velocity window is elapsed time: +1 h forgets nothing, -1 h keeps nothing counted longer', async (tt) => {
  const wall = steppedWallClock(tt);
  const req = sale({ terminal: 'CLOCKVEL' });
  const minute = new Velocity(60_000);
  for (let i = 0; i < 3; i++) minute.record(req, 'h:card');
  wall.step(+HOUR);
  tt.match(minute.state(req, 'h:card', 0), { terminalUndos: 3, merchantUndos: 3, cardUndos: 3 }, '+1 h: the last minute\'s undos still count');
  const short = new Velocity(50);
  for (let i = 0; i < 3; i++) short.record(req, 'h:card');
  wall.step(-2 * HOUR);
  await until(() => short.state(req, 'h:card', 0).terminalUndos === 0, 'the undos out of a 50 ms window');
  tt.pass('-1 h: they leave the window when it has passed');
});

t.test('-1 h during a shutdown: the drain of reversals awaiting their answer ends on time', async (tt) => {
  const wall = steppedWallClock(tt);
  const h = await startHarness(tt, { upstreamTimeoutMs: 300, reversal: { responseTimeoutMs: 60_000 }, issuer: { reversalDropRate: 1 } });
  const sales = await unanswered(h, 1);
  await sales.all;
  await h.until(() => h.reversalsSeen().length === 1 && h.sw.reversals.outstanding === 1, 'a reversal sent and awaiting its answer');
  let stopped = false;
  void h.sw.stop(500).then(() => { stopped = true; });
  wall.step(-HOUR);
  await until(() => stopped, 'the shutdown after its 500 ms drain', 20_000);
  tt.equal(h.sw.reversals.outstanding, 1, 'it stopped with the reversal still outstanding (its lease released for another node)');
});
