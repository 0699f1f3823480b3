/**
 * Durability: the switch killed with SIGKILL twice in the middle of a load run, each time
 * restarted at once on the same config, port and SQLite database. Once the terminals are
 * done and the reversal queue has drained, the issuer's ledger must hold exactly the
 * approvals the terminals kept: no stray hold, nothing reversed twice, and no kept
 * approval whose hold is gone.
 *
 * The switch runs as a child process (`revswitch start --config FILE`), the issuer
 * simulator and the terminals in this process. Like test/cli.test.ts, the child runs the
 * built dist/switch/cli/main.js when it is newer than the sources, else the TypeScript source
 * through tsx, so the test always exercises the current code without writing dist/.
 *
 * The rules are the default file (far past its velocity thresholds every reversal still
 * goes out). One thing is held constant so the check is about the switch:
 * - A terminal that hangs up (the disconnect fault) reverses the other sales it had in
 *   flight on that connection (reverseOnHangUp), as an acquirer host does. Otherwise an
 *   approval the switch wrote into the socket just before the hang-up counts as
 *   delivered (TCP cannot tell it otherwise) while the terminal threw it away: a stray
 *   hold that no switch could prevent, crash or not. Nothing sleeps blindly: readiness is a polled 0800
 * echo, the drain a polled store, each with a deadline; the two kill moments come from
 * a seeded PRNG.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { untilAnswering } from '../switch/sim/answering.js';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { createRng } from '../switch/sim/prng.js';
import { runTerminals } from '../switch/sim/terminals.js';
import { connectStore } from '../switch/store/index.js';
import type { Store } from '../switch/store/types.js';
import { freePort, nodeArgsFor } from './support/built.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));


const CLI_ARGS = nodeArgsFor('switch/cli/main');

const UPSTREAM_TIMEOUT_MS = 500;
const LATE_MS = 900;
const ISSUER_SEED = 20_251_205;
const TERMINAL_SEED = 5_005;
const KILL_SEED = 0x5eed;

/** A port free right now; the switch binds it at every (re)start. */

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Generation {
  n: number;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

t.test('SIGKILL twice under load: every approval kept holds its money, nothing else does', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-crash-'));
  const dbPath = join(dir, 'switch.db');
  const generations: Generation[] = [];
  let store: Store | null = null;

  const issuer = await startIssuer({
    seed: ISSUER_SEED, latencyMs: { min: 1, max: 10 }, dropRate: 0.01, lateRate: 0.01, lateMs: LATE_MS,
    // Some reversal answers lost: their rows stay `sent` until the queue's timeout, so a kill
    // finds one to resume (as a 0401 of the same message; a 0400 again counts as a second).
    reversalDropRate: 0.3,
  });
  // What the issuer did, by F37, for the evidence should the invariant fail.
  const seen = new Map<string, string[]>();
  const t0 = Date.now();
  issuer.onMessage((e) => {
    const rrn = e.msg.get(37);
    if (rrn === undefined) return;
    const line = `+${Date.now() - t0}ms ${e.msg.mti} stan ${e.msg.get(11) ?? '-'} -> ${e.answer?.get(39) ?? 'no answer'}`
      + `${e.delayMs > 0 ? ` after ${Math.round(e.delayMs)}ms` : ''}${e.reversal ? ` (${e.reversal})` : ''}`;
    const list = seen.get(rrn);
    if (list) list.push(line);
    else seen.set(rrn, [line]);
  });

  tt.teardown(async () => {
    for (const g of generations) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
    await Promise.all(generations.map((g) => g.exited));
    await store?.close().catch(() => undefined);
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const port = await freePort();
  const configFile = join(dir, 'switch.json');
  writeFileSync(configFile, JSON.stringify({
    listeners: [{ name: 'pos', host: '127.0.0.1', port }],
    upstreams: [{
      name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: UPSTREAM_TIMEOUT_MS, reconnectBackoffMs: [50, 100, 200],
    }],
    store: `sqlite:${dbPath}`,
    panHashKey: 'c4458c1d9b49ac418a7abcc69b034f72270838735415c1f9724755c0e2471c33',
    logLevel: 'warn',
    tickMs: 5,
    reversal: { responseTimeoutMs: 500, backoffMs: [100, 300, 1000], maxAttempts: 50 },
  }, null, 2));

  function spawnSwitch(): Generation {
    const child = spawn(process.execPath, [...CLI_ARGS, 'start', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const g: Generation = {
      n: generations.length + 1, child, stdout: '', stderr: '',
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    child.stdout?.setEncoding('utf8').on('data', (s: string) => { g.stdout += s; });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { g.stderr += s; });
    generations.push(g);
    return g;
  }

  /** Waits until generation `g` answers an 0800 echo; returns the wait in ms. */
  function ready(g: Generation, capMs = 20_000): Promise<number> {
    const gone = (): string | null => (g.child.exitCode !== null || g.child.signalCode !== null ? g.stderr : null);
    return untilAnswering({ port, capMs, gone, what: `switch #${g.n}` });
  }

  let current = spawnSwitch();
  const firstReadyMs = await ready(current);
  tt.comment(`switch #1 ready in ${firstReadyMs} ms (${CLI_ARGS.length === 1 ? 'dist/switch/cli/main.js' : 'tsx switch/cli/main.ts'}), port ${port}`);

  // Two kill moments between 1.5 s and 6 s into the load, at least 1.5 s apart.
  const rng = createRng(KILL_SEED);
  const kill1 = 1500 + Math.round(rng.next() * 2500);
  const kill2 = kill1 + 1500 + Math.round(rng.next() * (6000 - kill1 - 1500));
  const crashes: { at: number; orphanWindow: string; restartMs: number }[] = [];

  /** Waits (at most maxMs) until the store holds a reversal in state `sent`. */
  async function sentReversal(maxMs: number): Promise<void> {
    const end = Date.now() + maxMs;
    while (Date.now() < end) {
      try {
        const db = new Database(dbPath, { readonly: true });
        try {
          if ((db.prepare("SELECT COUNT(*) FROM reversals WHERE state = 'sent'").pluck().get() as number) > 0) return;
        } finally {
          db.close();
        }
      } catch {
        // Busy or mid-checkpoint: look again.
      }
      await delay(5);
    }
  }

  const loadStart = Date.now();
  const killer = (async () => {
    for (const at of [kill1, kill2]) {
      await delay(loadStart + at - Date.now());
      // The moment chosen, moved on until a reversal is `sent` (it waits for its answer):
      // every run then kills one in the middle, which must resume as a repeat.
      await sentReversal(2000);
      const victim = current;
      victim.child.kill('SIGKILL');
      const how = await victim.exited;
      if (how.signal !== 'SIGKILL') throw new Error(`switch #${victim.n} ended by ${how.signal ?? how.code}, not SIGKILL`);
      const killedAt = Date.now() - loadStart;
      current = spawnSwitch();
      const restartMs = await ready(current);
      crashes.push({ at: killedAt, orphanWindow: `${at} ms`, restartMs });
    }
  })();

  const summary = await runTerminals({
    port, mode: 'persistent', tps: 400, durationS: 8, connections: 8, seed: TERMINAL_SEED, progress: false,
    acquirerId: '123456', magicMix: { '99': 0.01, '68': 0.01 }, disconnectRate: 0.01, reverseOnHangUp: true, chipDeclineRate: 0.01,
    responseTimeoutMs: 5000, reversalAttempts: 15, reversalTimeoutMs: 1000, records: true,
    // One card for every sale, far past every per-card velocity threshold: no mandatory reversal may be held back.
    cards: 1,
  });
  await killer;
  tt.comment(formatTerminalSummary(summary));
  for (const c of crashes) tt.comment(`SIGKILL at +${c.at} ms (planned ${c.orphanWindow}); restarted and answering in ${c.restartMs} ms`);
  tt.equal(crashes.length, 2, 'killed and restarted twice');
  tt.equal(summary.sent, summary.planned, 'every planned sale was sent');
  tt.equal(summary.reversals.failed, 0, 'every reversal a terminal sent was answered, across the restarts');

  // Drain: no reversal left pending or sent in the store (read through the Store API
  // while the switch runs; WAL mode lets this reader in beside it).
  store = await connectStore(`sqlite:${dbPath}`);
  const drainStart = Date.now();
  for (;;) {
    const open = await store.reversals(['pending', 'sent']);
    if (open.length === 0) break;
    if (Date.now() - drainStart > 20_000) {
      tt.fail(`reversals still open after 20 s: ${open.map((r) => `${r.id} ${r.state} attempts ${r.attempts} ${r.lastError ?? ''}`).join('; ')}`);
      break;
    }
    await delay(100);
  }
  tt.comment(`reversal queue drained ${Date.now() - drainStart} ms after the terminals finished`);
  await store.close();
  store = null;

  // A clean stop: it drains what is left, flushes the journal, prints its counters.
  current.child.kill('SIGTERM');
  const end = await current.exited;
  tt.equal(end.code, 0, `the last switch stopped cleanly on SIGTERM${end.code === 0 ? '' : `:\n${current.stderr}`}`);
  let lastCounters: Record<string, number> = {};
  try {
    lastCounters = (JSON.parse(current.stdout) as { counters: Record<string, number> }).counters;
  } catch {
    tt.fail(`the last switch printed no counters: ${current.stdout}`);
  }

  // The store after the last stop.
  const db = new Database(dbPath, { readonly: true });
  let recoveredIds: string[];
  let reversalStates: Record<string, number>;
  let txnStates: Record<string, number>;
  let resumed: number;
  try {
    recoveredIds = (db.prepare("SELECT ref FROM history WHERE kind = 'txn' AND state = 'recovered'").pluck().all() as string[]);
    reversalStates = Object.fromEntries((db.prepare('SELECT state, COUNT(*) AS n FROM reversals GROUP BY state').all() as { state: string; n: number }[])
      .map((r) => [r.state, r.n]));
    txnStates = Object.fromEntries((db.prepare('SELECT state, COUNT(*) AS n FROM txns GROUP BY state').all() as { state: string; n: number }[])
      .map((r) => [r.state, r.n]));
    resumed = db.prepare("SELECT COUNT(*) FROM history WHERE kind = 'reversal' AND detail = 'resumed after restart'").pluck().get() as number;
  } finally {
    db.close();
  }
  tt.comment(`journal: ${JSON.stringify(txnStates)}; reversals: ${JSON.stringify(reversalStates)}; resumed 'sent' reversals: ${resumed}`);
  tt.ok(resumed > 0, `a reversal killed while sent was resumed after the restart (${resumed}), as a 0401: no second reversal below`);
  tt.equal(reversalStates.pending ?? 0, 0, 'no reversal pending');
  tt.equal(reversalStates.sent ?? 0, 0, 'no reversal unanswered');
  tt.equal(reversalStates.manual ?? 0, 0, 'no reversal went to manual handling');
  tt.equal(txnStates.forwarded ?? 0, 0, 'no transaction left in flight');

  // Recovery really happened, so the check below is not vacuous.
  const recoveryLogged = generations.slice(1).map((g) => {
    let n = 0;
    for (const line of g.stderr.split('\n')) {
      if (!line.includes('crash recovery')) continue;
      n += (JSON.parse(line) as { count: number }).count;
    }
    return n;
  });
  tt.comment(`crash recovery at restart: ${recoveryLogged.map((n, i) => `switch #${i + 2}: ${n} in flight`).join(', ')}; history rows 'recovered': ${recoveredIds.length}`);
  tt.ok(recoveredIds.length > 0, `transactions in flight at a SIGKILL were recovered: ${recoveredIds.length}`);
  tt.equal(recoveryLogged.reduce((a, b) => a + b, 0), recoveredIds.length, "each 'recovered' history row was logged as crash recovery");

  // The money invariant from both ends.
  const ledger = issuer.ledger();
  const money = checkMoneyInvariant(ledger, summary.approvedRrns);
  tt.comment(`issuer: ${ledger.counters.requests} sales, ${ledger.counters.approved} approved, ${ledger.counters.dropped} unanswered, `
    + `${ledger.counters.late} late; ${ledger.counters.reversals} reversals received (${ledger.counters.reversalsApplied} applied, `
    + `${ledger.counters.reversalRepeats} repeats, ${ledger.counters.unmatchedReversals} unmatched); holds left ${ledger.holds.length}; `
    + `terminals kept ${summary.approvedRrns.length} approvals`);
  tt.comment(`last switch's counters: ${JSON.stringify(lastCounters)}`);
  tt.ok(money.ok, formatMoneyCheck(money));
  tt.same(money.strayHolds.map((h) => h.rrn), [], 'no stray hold');
  tt.same(money.reversedTwice.map((h) => h.rrn), [], 'nothing reversed twice');
  tt.same(money.missingHolds, [], 'every approval a terminal kept still holds its money');
  tt.equal(ledger.holds.length, summary.approvedRrns.length, 'holds = approvals kept');
  tt.equal(ledger.counters.secondReversals, 0, 'no second reversal reached the issuer');

  // Evidence for anything that went wrong: the journal, its history and what the issuer did.
  const suspects = [...money.missingHolds, ...money.strayHolds.map((h) => h.rrn), ...money.reversedTwice.map((h) => h.rrn)];
  if (suspects.length > 0) {
    const ev = await connectStore(`sqlite:${dbPath}`);
    try {
      const byRrn = new Map<string, string[]>();
      for (const row of await ev.recentTxns(0)) if (row.rrn !== null) byRrn.set(row.rrn, [...(byRrn.get(row.rrn) ?? []), row.id]);
      const records = new Map((summary.sales ?? []).map((s) => [s.rrn, s]));
      for (const rrn of suspects.slice(0, 10)) {
        const lines = [`rrn ${rrn}: terminal ${JSON.stringify(records.get(rrn) ?? null)}`];
        for (const id of byRrn.get(rrn) ?? []) {
          const row = await ev.txn(id);
          lines.push(`  txn ${id} state ${row?.state} upstreamStan ${row?.upstreamStan} created +${(row?.createdAt ?? 0) - t0}ms reversal ${row?.reversalId}`);
          for (const h of await ev.history(id)) lines.push(`    +${h.at - t0}ms ${h.state} ${h.detail ?? ''}`);
          if (row?.reversalId) for (const h of await ev.history(row.reversalId)) lines.push(`    reversal +${h.at - t0}ms ${h.state} ${h.detail ?? ''}`);
        }
        for (const l of seen.get(rrn) ?? []) lines.push(`  issuer ${l}`);
        tt.comment(lines.join('\n'));
      }
    } finally {
      await ev.close();
    }
  }
});
