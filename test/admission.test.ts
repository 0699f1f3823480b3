/**
 * Admission control: past maxStoreBacklog journal writes, terminal reads pause until the
 * backlog halves. Nothing read is dropped: a burst far above the cap, on a SQLite journal,
 * is answered in full, each sale once, and the holds are counted. Unit part: the hold and
 * release thresholds, new connections held while the switch is behind, release at stop.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FramedConn } from '../switch/edge/framed-conn.js';
import { Admission } from '../switch/engine/admission.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger } from '../switch/observe/log.js';
import { nextRrn, sale, startHarness } from './support/switch-harness.js';

class FakeConn {
  held = false;
  hold(on: boolean): void {
    this.held = on;
  }
}

t.test('holds every connection past the cap, releases below half of it', async (tt) => {
  let backlog = 0;
  const a1 = new FakeConn();
  const a2 = new FakeConn();
  const conns = [a1, a2] as unknown as FramedConn[];
  const counters = new Counters();
  const adm = new Admission(() => backlog, () => conns, 100, createLogger('silent'), counters);
  adm.check(conns[0]);
  tt.notOk(a1.held || a2.held, 'below the cap: nothing held');
  backlog = 100;
  adm.check(conns[0]);
  tt.ok(a1.held && a2.held, 'at the cap: every terminal connection held');
  const late = new FakeConn();
  adm.check(late as unknown as FramedConn);
  tt.ok(late.held, 'a connection that sends while held is held too');
  backlog = 60;
  await new Promise((r) => setTimeout(r, 20));
  tt.ok(a1.held, 'above half the cap: still held');
  backlog = 50;
  await new Promise((r) => setTimeout(r, 20));
  tt.notOk(a1.held || a2.held, 'at half the cap: released');
  tt.equal(counters.snapshot().admission_holds, 1, 'one hold counted');
  backlog = 1000;
  adm.check(conns[0]);
  adm.release();
  tt.notOk(a1.held, 'release() (at stop) lets go whatever the backlog');
  const off = new Admission(() => 1_000_000, () => conns, 0, createLogger('silent'), counters);
  off.check(conns[0]);
  tt.notOk(a1.held, 'maxStoreBacklog 0: off');
});

t.test('a burst far above the cap on a SQLite journal: every sale answered once, nothing dropped', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-adm-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = await startHarness(tt, { store: `sqlite:${join(dir, 'j.db')}`, maxStoreBacklog: 8, upstreamTimeoutMs: 5000 });
  const clients = await Promise.all([h.client(), h.client(), h.client(), h.client()]);
  const rrns: string[] = [];
  const answers = await Promise.all(Array.from({ length: 600 }, (_, i) => {
    const rrn = nextRrn('AD');
    rrns.push(rrn);
    return clients[i % clients.length].request(sale({ rrn, terminal: `TERM000${i % 4}` }), 20_000);
  }));
  tt.equal(answers.filter((m) => m.get(39) === '00').length, 600, 'all 600 approved');
  tt.ok((h.sw.counters.snapshot().admission_holds ?? 0) >= 1, 'reads were held at least once');
  tt.equal(rrns.filter((r) => h.salesSeen(r).length !== 1).length, 0, 'each sale reached the issuer exactly once');
  tt.equal(h.reversalsSeen().length, 0, 'no reversal: nothing timed out');
});
