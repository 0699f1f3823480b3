/**
 * Two switch nodes on one PostgreSQL schema (issue 8). Each node is a child process
 * (`revswitch start --config FILE`, as in test/switch-crash.test.ts) with its own node id,
 * listen port and upstream link to ONE issuer simulator in this process; they share the
 * panHashKey and the rules.
 *
 * 1. Under load, terminals spread over both nodes through two tiny "load balancers" (one
 *    preferring A, one preferring B, each falling back to the other when its first choice
 *    refuses the connection). Node A is killed with SIGKILL mid-run and NOT restarted. B
 *    must take over A's transactions left in flight (heartbeat stale after nodeDeadMs) and
 *    A's leased reversals (after leaseMs), and the money invariant must hold: the issuer's
 *    ledger holds exactly the approvals the terminals kept, nothing reversed twice.
 * 2. A terminal's reversal that arrives at B for a sale A forwarded and approved is
 *    matched through the shared journal and reverses the sale, once.
 *
 * Needs PostgreSQL (test/support/pg.ts): skipped, saying why, when none answers, unless
 * REVSWITCH_REQUIRE_PG is set (CI).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { getDialect, reversalOf } from '../codec/index.js';
import { transmissionTime } from '../codec/index.js';
import { untilAnswering } from '../switch/sim/answering.js';
import { connectClient } from '../switch/sim/client.js';
import { formatMoneyCheck, formatTerminalSummary } from '../switch/sim/format.js';
import { checkMoneyInvariant } from '../switch/sim/invariant.js';
import { startIssuer, type IssuerSim } from '../switch/sim/issuer.js';
import { runTerminals } from '../switch/sim/terminals.js';
import { balancer } from '../switch/sim/balancer.js';
import { openStore } from '../switch/store/index.js';
import type { Store } from '../switch/store/types.js';
import { PgSchemas, pgReady } from './support/pg.js';
import { nextStan, sale } from './support/switch-harness.js';
import { freePort, nodeArgsFor } from './support/built.js';
import { until } from './support/until.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));


const CLI_ARGS = nodeArgsFor('switch/cli/main');

const LEASE_MS = 1500;
const NODE_DEAD_MS = 1500;
const HEARTBEAT_MS = 200;
const D87 = getDialect('iso87a');

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));


interface Node {
  name: string;
  port: number;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Cluster {
  dir: string;
  storeUrl: string;
  issuer: IssuerSim;
  nodes: Node[];
  start(name: string): Promise<Node>;
}

async function cluster(tt: Test, schemas: PgSchemas, issuerOpts: Parameters<typeof startIssuer>[0]): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-cluster-'));
  const storeUrl = schemas.url(schemas.next());
  const issuer = await startIssuer(issuerOpts);
  const nodes: Node[] = [];
  tt.teardown(async () => {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir, storeUrl, issuer, nodes,
    async start(name: string): Promise<Node> {
      const port = await freePort();
      const configFile = join(dir, `${name}.json`);
      writeFileSync(configFile, JSON.stringify({
        node: name,
        listeners: [{ name: 'pos', host: '127.0.0.1', port }],
        upstreams: [{ name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 500, reconnectBackoffMs: [50, 100, 200] }],
        store: storeUrl,
        admin: '127.0.0.1:0',
        panHashKey: 'b90c2527b69eddd8f032391ab97d79f19a0a9ca42cb2ef4e884bc455f87468f9',
        logLevel: 'warn',
        tickMs: 5,
        reversal: { responseTimeoutMs: 500, backoffMs: [100, 300, 1000], maxAttempts: 50 },
        cluster: { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS, nodeDeadMs: NODE_DEAD_MS },
      }, null, 2));
      const child = spawn(process.execPath, [...CLI_ARGS, 'start', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const n: Node = {
        name, port, child, stdout: '', stderr: '',
        exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      };
      child.stdout?.setEncoding('utf8').on('data', (s: string) => { n.stdout += s; });
      child.stderr?.setEncoding('utf8').on('data', (s: string) => { n.stderr += s; });
      nodes.push(n);
      await ready(n);
      return n;
    },
  };
}

/** Waits until node `n` answers an 0800 echo. */
async function ready(n: Node, capMs = 20_000): Promise<void> {
  const gone = (): string | null => (n.child.exitCode !== null || n.child.signalCode !== null ? n.stderr : null);
  await untilAnswering({ port: n.port, capMs, gone, what: `node ${n.name}` });
}

if (await pgReady(t)) {
  const schemas = new PgSchemas();
  t.teardown(() => schemas.dropAll());

  t.test('two nodes, A killed with SIGKILL and not restarted: B finishes its work; the money invariant holds', async (tt) => {
    const c = await cluster(tt, schemas, { seed: 20_251_126, latencyMs: { min: 1, max: 10 }, dropRate: 0.01, lateRate: 0.01, lateMs: 900 });
    const [a, b] = await Promise.all([c.start('node-a'), c.start('node-b')]);
    const lbA = await balancer([a.port, b.port]);
    const lbB = await balancer([b.port, a.port]);
    // Like a balancer whose health check takes a while to notice a dead node: A only until
    // 2.5 s after the kill, then B. Sales in flight on A at the kill are the orphan
    // takeover's to reverse; an approval A journaled but could not deliver is reversed
    // when the terminal's own reversal finally reaches B.
    let failoverAt = Number.POSITIVE_INFINITY;
    const lbSlow = await balancer(() => (Date.now() < failoverAt ? [a.port] : [b.port]));
    let store: Store | null = null;
    tt.teardown(async () => {
      await lbA.close();
      await lbB.close();
      await lbSlow.close();
      await store?.close().catch(() => undefined);
    });
    store = openStore(c.storeUrl);
    await store.open();
    const st = store;

    const common = {
      mode: 'persistent' as const, tps: 250, durationS: 6, connections: 6, progress: false, magicMix: { '99': 0.01, '68': 0.01 },
      disconnectRate: 0.01, reverseOnHangUp: true, chipDeclineRate: 0.01, responseTimeoutMs: 3000, reversalAttempts: 15,
      reversalTimeoutMs: 1000, records: true,
      // One card for every sale, far past every per-card velocity threshold: no mandatory reversal may be held back.
      cards: 1,
    };
    const killAt = 2500;
    const loadStart = Date.now();
    const killer = (async () => {
      await delay(loadStart + killAt - Date.now());
      a.child.kill('SIGKILL');
      const how = await a.exited;
      if (how.signal !== 'SIGKILL') throw new Error(`node A ended by ${how.signal ?? how.code}, not SIGKILL`);
      const killedAt = Date.now();
      failoverAt = killedAt + 2500;
      // A's unfinished transactions are B's once A's heartbeat is older than nodeDeadMs.
      const leftAtKill = (await st.unfinishedTxns()).filter((r) => r.node === 'node-a').map((r) => r.id);
      await until(async () => (await st.unfinishedTxns()).every((r) => r.node !== 'node-a'), 'A\'s orphans taken over', 10_000, 50);
      const takeoverMs = Date.now() - killedAt;
      await until(async () => ((await st.nodes()).find((n) => n.node === 'node-a')?.leases ?? 0) === 0, 'A\'s leases moved', 10_000, 50);
      return { leftAtKill, takeoverMs, total: Date.now() - killedAt };
    })();

    const [s1, s2, s3] = await Promise.all([
      runTerminals({ ...common, port: lbA.port, seed: 7_001, acquirerId: '111111', terminalIdPrefix: 'TA', rrnPrefix: '71' }),
      runTerminals({ ...common, port: lbB.port, seed: 7_002, acquirerId: '222222', terminalIdPrefix: 'TB', rrnPrefix: '72' }),
      // Terminals behind the slow balancer; a fifth of their sales are never answered, so
      // in flight until the 500 ms deadline: some are in flight when A dies.
      runTerminals({
        ...common, port: lbSlow.port, tps: 60, connections: 2, seed: 7_003, acquirerId: '333333', terminalIdPrefix: 'TP', rrnPrefix: '73',
        magicMix: { '99': 0.2 }, disconnectRate: 0, chipDeclineRate: 0, reversalAttempts: 20, reversalTimeoutMs: 500, responseTimeoutMs: 1000,
      }),
    ]);
    const k = await killer;
    tt.comment(`via A first: ${formatTerminalSummary(s1)}`);
    tt.comment(`via B first: ${formatTerminalSummary(s2)}`);
    tt.comment(`A, then B after a slow failover: ${formatTerminalSummary(s3)}`);
    tt.comment(`A killed at +${killAt} ms with ${k.leftAtKill.length} transactions in flight; orphans taken over within ${k.takeoverMs} ms, leases moved within ${k.total} ms`);
    tt.ok(k.takeoverMs <= NODE_DEAD_MS + 2000, `A's orphans were taken over within nodeDeadMs (${NODE_DEAD_MS} ms) + 2 s: ${k.takeoverMs} ms`);
    tt.ok(k.total <= LEASE_MS + NODE_DEAD_MS + 3000, `A's reversal leases moved in time: ${k.total} ms`);

    const drainMs = await until(async () => (await st.reversals(['pending', 'sent'])).length === 0, 'the reversal queue drained', 20_000, 50).catch(async (e: unknown) => {
      tt.fail(`${(e as Error).message}: ${(await st.reversals(['pending', 'sent'])).map((r) => `${r.id} ${r.state} ${r.lastError ?? ''}`).join('; ')}`);
      return -1;
    });
    tt.comment(`reversal queue drained ${drainMs} ms after the terminals finished`);
    // B's own last sales finish by their deadline (500 ms) at the latest.
    const settled = await until(async () => (await st.unfinishedTxns()).length === 0, 'no transaction in flight', 5000, 50).then(() => true, () => false);
    tt.ok(settled, `no transaction left in flight: ${(await st.unfinishedTxns()).map((r) => `${r.id} (${r.node})`).join(', ')}`);
    await until(async () => (await st.reversals(['pending', 'sent'])).length === 0, 'the reversal queue drained again', 10_000, 50).catch(() => -1);
    tt.equal((await st.reversals(['manual'])).length, 0, 'no reversal went to manual handling');
    const nodes = await st.nodes();
    tt.same(nodes.map((n) => n.node), ['node-a', 'node-b'], 'both nodes have heartbeat rows');
    tt.ok(Date.now() - (nodes[0]?.heartbeatAt ?? 0) > NODE_DEAD_MS, 'A is stale');

    b.child.kill('SIGTERM');
    const end = await b.exited;
    tt.equal(end.code, 0, `B stopped cleanly on SIGTERM${end.code === 0 ? '' : `:\n${b.stderr}`}`);
    const taken = b.stderr.split('\n').filter((l) => l.includes('took over transactions')).reduce((n, l) => n + (JSON.parse(l) as { count: number }).count, 0);
    tt.comment(`B logged taking over ${taken} transactions of A; the others were reversed by their terminals through B first`);
    tt.ok(k.leftAtKill.length > 0, 'A died with transactions in flight (the check is not vacuous)');
    tt.ok(taken > 0, `some were taken over by B as orphans: ${taken}`);
    const fates: string[] = [];
    for (const id of k.leftAtKill) {
      const row = await st.txn(id);
      const rev = row?.reversalId ? await st.reversal(row.reversalId) : undefined;
      fates.push(`${id}: ${row?.state} by ${row?.node}, reversal ${rev?.state ?? 'none'}`);
    }
    tt.same(fates.filter((f) => !/, reversal acked$/.test(f)), [], `each was finished (by B, or by its terminal's reversal through B) and reversed: ${fates.join('; ')}`);

    const ledger = c.issuer.ledger();
    const kept = [...s1.approvedRrns, ...s2.approvedRrns, ...s3.approvedRrns];
    const money = checkMoneyInvariant(ledger, kept);
    tt.comment(`issuer: ${ledger.counters.requests} sales, ${ledger.counters.approved} approved; ${ledger.counters.reversals} reversals received `
      + `(${ledger.counters.reversalsApplied} applied, ${ledger.counters.reversalRepeats} repeats); holds ${ledger.holds.length}; kept ${kept.length}`);
    tt.ok(money.ok, formatMoneyCheck(money));
    tt.same(money.strayHolds.map((h) => h.rrn), [], 'no stray hold');
    tt.same(money.reversedTwice.map((h) => h.rrn), [], 'nothing reversed twice');
    tt.same(money.missingHolds, [], 'every approval a terminal kept still holds its money');
    tt.equal(ledger.counters.secondReversals, 0, 'no second reversal reached the issuer');
  });

  t.test('a terminal reversal arriving at B for a sale A forwarded is matched through the shared journal', async (tt) => {
    const c = await cluster(tt, schemas, { seed: 3, approveRate: 1 });
    const [a, b] = await Promise.all([c.start('node-a'), c.start('node-b')]);
    const ca = await connectClient({ port: a.port });
    const cb = await connectClient({ port: b.port });
    tt.teardown(async () => {
      await ca.close();
      await cb.close();
    });
    const s = sale({ terminal: 'TERMX001', rrn: 'XN0000000001', stan: nextStan() });
    const res = await ca.request(s, 3000);
    tt.equal(res.get(39), '00', 'A approved the sale');
    tt.equal(c.issuer.ledger().holds.filter((h) => h.rrn === 'XN0000000001').length, 1, 'the issuer holds it');
    // Duplicates across nodes: the same sale again, at B, is answered with A's outcome and
    // never forwarded; and two copies at once, one per node, reach the issuer once.
    const dup = await cb.request(s.clone(), 3000);
    tt.equal(dup.get(39), '00', 'a duplicate at B gets A\'s answer');
    tt.match(res.get(38), /^\d{6}$/, 'A\'s approval carries the issuer\'s approval code');
    tt.equal(dup.get(38), res.get(38), 'and the duplicate at B carries the same approval code (F38 is in the journal)');
    const twin = sale({ terminal: 'TERMX001', rrn: 'XN0000000002', stan: nextStan() });
    const [r1, r2] = await Promise.all([ca.request(twin, 3000), cb.request(twin.clone(), 3000)]);
    tt.same([r1.get(39), r2.get(39)], ['00', '00'], 'two copies at once, one per node: both answered with the one outcome');
    tt.equal(r1.get(38), r2.get(38), 'and the one approval code');
    const salesOf = (rrn: string) => c.issuer.ledger().holds.filter((h) => h.rrn === rrn).length + c.issuer.ledger().released.filter((h) => h.rrn === rrn).length;
    tt.same([salesOf('XN0000000001'), salesOf('XN0000000002')], [1, 1], 'the issuer saw each sale once');
    const rev = reversalOf(D87, s, { reason: '17', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()) });
    const rres = await cb.request(rev, 3000);
    tt.equal(rres.get(39), '00', 'B answered the reversal');
    await until(() => c.issuer.ledger().holds.every((h) => h.rrn !== 'XN0000000001'), 'the hold released', 5000, 50);
    const again = await cb.request(reversalOf(D87, s, { reason: '17', stan: rev.get(11) as string, transmissionDateTime: rev.get(7) as string }), 3000);
    tt.equal(again.get(39), '00', 'a repeat is answered too');
    await delay(500);
    const ledger = c.issuer.ledger();
    tt.same(checkMoneyInvariant(ledger, []).reversedTwice, [], 'reversed once');
    tt.equal(ledger.counters.secondReversals, 0, 'no second reversal reached the issuer');
    const st = openStore(c.storeUrl);
    await st.open();
    try {
      const rows = await st.findTxns({ terminal: 'TERMX001' });
      tt.same(rows.filter((r) => r.stan === s.get(11) || r.mti === '0400').map((r) => [r.node, r.mti, r.state]), [['node-a', '0200', 'reversed_by_terminal'], ['node-b', '0400', 'terminal_reversal']],
        'the sale (A\'s) reversed by the terminal; the reversal recorded by B');
    } finally {
      await st.close();
    }
    // revswitch nodes: both alive, as a table and as JSON.
    const cli = (args: string[]) => spawnSync(process.execPath, [...CLI_ARGS, 'nodes', '--store', c.storeUrl, ...args], { cwd: ROOT, encoding: 'utf8' });
    const table = cli([]);
    tt.equal(table.status, 0, `revswitch nodes exits 0${table.stderr ? `: ${table.stderr}` : ''}`);
    tt.match(table.stdout, /^NODE\s+STATUS\s+HEARTBEAT\s+STARTED\s+LEASES\s+LEASE\s+INFO\nnode-a\s+alive\s+[\d.]+s ago .*\d+\s+[\d.]+s left .*\nnode-b\s+alive\s/, 'a table of both nodes, alive');
    const json = JSON.parse(cli(['--json', '--dead-ms', '1']).stdout) as { node: string; alive: boolean; leases: number }[];
    tt.same(json.map((n) => [n.node, n.alive, n.leases]), [['node-a', false, 0], ['node-b', false, 0]], '--json; with --dead-ms 1 both count as stale');
    const bad = spawnSync(process.execPath, [...CLI_ARGS, 'nodes', '--dead-ms', 'x', '--store', c.storeUrl], { cwd: ROOT, encoding: 'utf8' });
    tt.equal(bad.status, 2, 'a bad --dead-ms is a usage error');
  });
}
