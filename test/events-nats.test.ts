/**
 * The NATS JetStream sink against a real nats-server: every event of a scenario arrives
 * exactly once, although the server is killed (SIGKILL) in the middle of it and started
 * again later on the same port and store directory. The switch runs with both sinks, so
 * the stream is compared event id by event id with the daily file of the same run.
 *
 * The server is this test's own child process (its own port and store directory, and a
 * unique stream and subject), so the machine's nats-server on 4222 that other tests may
 * use is never disturbed. Without /usr/sbin/nats-server the test is skipped, visibly;
 * with CI_REQUIRE_TOOLS set it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import t from 'tap';
import { NATS_EVENTS_DEFAULTS } from '../switch/config/index.js';
import { eventSchema, NatsSink, splitDelimited } from '../switch/observe/events/index.js';
import { createLogger } from '../switch/observe/log.js';
import { sale, startHarness } from './support/switch-harness.js';
import { freePort, nodeArgsFor, ROOT } from './support/built.js';
import { until } from './support/until.js';

const NATS_SERVER = '/usr/sbin/nats-server';


/** Starts nats-server with JetStream; resolves once it says it is ready. */
function startNats(port: number, storeDir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`nats-server did not become ready: ${log}`));
    }, 15_000);
    p.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}): ${log}`));
    });
  });
}

function killNats(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

/** Every message of the stream: event id (decoded from the body) and its Nats-Msg-Id header. */
async function readStream(nc: NatsConnection, stream: string): Promise<{ id: string; msgId: string | undefined; kind: string }[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    const e = eventSchema().decode(m.data);
    out.push({ id: e.eventId, msgId: m.header?.get('Nats-Msg-Id'), kind: e.kind });
  }
  return out;
}

const missing = existsSync(NATS_SERVER) ? false : `${NATS_SERVER} not installed: the NATS sink is not tested against a server`;
if (missing && process.env.CI_REQUIRE_TOOLS) t.fail(`${missing}; CI_REQUIRE_TOOLS is set, so this fails`);

t.test('NATS JetStream: every event exactly once across a SIGKILL and restart of the server', { skip: missing }, async (tt) => {
  const work = mkdtempSync(join(tmpdir(), 'revswitch-nats-'));
  const storeDir = join(work, 'jetstream');
  const port = await freePort();
  let server = await startNats(port, storeDir);
  tt.teardown(async () => {
    await killNats(server);
    rmSync(work, { recursive: true, force: true });
  });
  const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const nats = {
    ...NATS_EVENTS_DEFAULTS, url: `nats://127.0.0.1:${port}`, subject: `revswitch.test.${tag}`, stream: `REVSWITCH_TEST_${tag}`,
    spoolDir: join(work, 'spool'),
  };
  const fileDir = join(work, 'files');
  const h = await startHarness(tt, { events: { file: { dir: fileDir, fsync: false }, nats }, admin: true });
  const adminGet = async (path: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`http://127.0.0.1:${h.admin?.port ?? 0}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const gauge = (text: string, name: string): number => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').filter((l) => l.startsWith(`${name} `)).join('\n'))?.[2] ?? NaN);
  const bus = h.bus;
  if (!bus) throw new Error('no event bus');
  const sink = bus.sinks.find((s) => s.name === 'nats') as NatsSink;
  const c = await h.client();
  const sales = async (n: number, phase: string): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const res = await c.request(sale({ amount: String(1000 + i * 100) }), 5000);
      tt.equal(res.get(39), '00', `${phase}: sale ${i + 1} answered 00`);
    }
  };

  // Phase 1: NATS up. A timeout too, so reversal events are in the stream.
  await sales(4, 'NATS up');
  tt.equal((await c.request(sale({ amount: '1099' }))).get(39), '91', 'NATS up: the ..99 sale times out');
  await h.until(() => sink.stats().published > 0, 'the first events published');

  // Phase 2: the server is killed while the switch keeps working, maybe mid-publish.
  await killNats(server);
  await sales(5, 'NATS down');
  tt.equal((await c.request(sale({ amount: '3099' }))).get(39), '91', 'NATS down: a timeout is answered too');
  await h.until(() => h.sw.reversals.outstanding === 0, 'reversals acknowledged while NATS is down');
  await bus.flush();
  tt.ok(sink.stats().pendingBytes > 0, `NATS down: events wait on disk (${sink.stats().pendingBytes} bytes spooled)`);
  await h.until(() => sink.stats().publishFailures > 0, 'the pump to find NATS down and back off', 15_000);
  // An outage is visible, and the switch stays ready: events are evidence, not the payment path.
  const down = await adminGet('/metrics');
  tt.ok(gauge(down.text, 'revswitch_events_spool_bytes') > 0, 'revswitch_events_spool_bytes shows what waits');
  tt.equal(gauge(down.text, 'revswitch_events_nats_connected'), 0, 'revswitch_events_nats_connected 0');
  await until(async () => gauge((await adminGet('/metrics')).text, 'revswitch_events_oldest_unpublished_age_seconds') >= 1,
    'the oldest unpublished event to age', 10_000);
  tt.ok(gauge(down.text, 'revswitch_events_emitted_total') >= 10, 'revswitch_events_emitted_total counts what was emitted');
  const readyDown = await adminGet('/readyz');
  tt.equal(readyDown.status, 200, '/readyz still ready with NATS down');
  tt.match(readyDown.text, /\(events to nats: \d+ written, .*NATS NOT connected, \d+ published, \d+ bytes spooled, the oldest unpublished \d+ s old\)/, `and says so: ${readyDown.text}`);

  // Phase 3: the same server again (same port and store), and more traffic.
  server = await startNats(port, storeDir);
  await sales(3, 'NATS back');
  await bus.flush();
  await h.until(() => sink.stats().pendingBytes === 0, 'the spool caught up after the restart', 30_000);
  const st = sink.stats();
  tt.pass(`publishing failed ${st.publishFailures} time(s) while NATS was down, then caught up`);
  tt.equal(st.dropped, 0, 'no event dropped');
  const up = await adminGet('/metrics');
  tt.equal(gauge(up.text, 'revswitch_events_oldest_unpublished_age_seconds'), 0, 'caught up: nothing waits');
  tt.equal(gauge(up.text, 'revswitch_events_nats_connected'), 1, 'connected again');
  tt.equal(gauge(up.text, 'revswitch_events_published_total'), st.published, 'revswitch_events_published_total is what JetStream acknowledged');

  // The daily file of the same run: what the switch emitted.
  const fileIds = readdirSync(fileDir).sort().flatMap((f) => splitDelimited(readFileSync(join(fileDir, f))).records.map((r) => eventSchema().decode(r).eventId));
  tt.ok(fileIds.length >= 40, `${fileIds.length} events in the file`);

  const nc = await connect({ servers: nats.url });
  tt.teardown(() => nc.close());
  const msgs = await readStream(nc, nats.stream);
  const streamIds = msgs.map((m) => m.id);
  tt.equal(new Set(streamIds).size, streamIds.length, 'no event twice in the stream');
  const tail = spawnSync(process.execPath, [...nodeArgsFor('switch/cli/main'), 'events', 'tail', '--nats', nats.url, '--stream', nats.stream, '-n', '5', '--json'],
    { cwd: ROOT, encoding: 'utf8' });
  tt.equal(tail.status, 0, tail.stderr);
  tt.same(tail.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { eventId: string }).eventId), streamIds.slice(-5),
    'revswitch events tail --nats: the stream\'s last 5, in order');
  tt.equal(streamIds.length, fileIds.length, `as many events in the stream as in the file (${streamIds.length})`);
  tt.same([...streamIds].sort(), [...fileIds].sort(), 'the same events, by id');
  tt.notOk(msgs.some((m) => m.msgId !== m.id), 'each message\'s Nats-Msg-Id is its event id');
  tt.ok(msgs.filter((m) => m.kind === 'REVERSAL_ACKED').length === 2, 'both reversals\' acks arrived (one from the outage)');

  // Redelivery is de-duplicated: the same records published again through a second spool.
  const again = await NatsSink.open({ ...nats, spoolDir: join(work, 'spool-again') }, { log: createLogger('silent') });
  await again.write(readdirSync(fileDir).sort().flatMap((f) => splitDelimited(readFileSync(join(fileDir, f))).records));
  tt.ok(await again.drained(20_000), 'the repeat is acknowledged');
  tt.equal(again.stats().duplicates, fileIds.length, 'JetStream saw every repeat as a duplicate');
  await again.close();
  const info = await (await nc.jetstreamManager()).streams.info(nats.stream);
  tt.equal(info.state.messages, fileIds.length, 'and stored none of them again');
});

t.test('NATS JetStream: a SIGKILL in the middle of a burst loses nothing and stores nothing twice', { skip: missing }, async (tt) => {
  const work = mkdtempSync(join(tmpdir(), 'revswitch-nats-'));
  const storeDir = join(work, 'jetstream');
  const port = await freePort();
  let server = await startNats(port, storeDir);
  tt.teardown(async () => {
    await killNats(server);
    rmSync(work, { recursive: true, force: true });
  });
  const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const cfg = {
    ...NATS_EVENTS_DEFAULTS, url: `nats://127.0.0.1:${port}`, subject: `revswitch.burst.${tag}`, stream: `REVSWITCH_BURST_${tag}`,
    spoolDir: join(work, 'spool'),
  };
  const sink = await NatsSink.open(cfg, { log: createLogger('silent'), backoffMs: [50, 100, 200] });
  tt.teardown(() => sink.close());
  const N = 3000;
  const s = eventSchema();
  for (let b = 0; b < N / 100; b++) {
    const batch = [];
    for (let i = 0; i < 100; i++) batch.push(s.encode({ kind: 'FORWARDED', eventId: `burst-${b * 100 + i}`, timeMs: Date.now(), node: 'n', txnId: `t${b * 100 + i}` }));
    await sink.write(batch);
  }
  await until(() => sink.stats().published >= 300, 'the burst under way', 30_000, 5);
  await killNats(server);
  const atKill = sink.stats().published;
  tt.ok(atKill < N, `killed mid-burst (${atKill} of ${N} acknowledged)`);
  server = await startNats(port, storeDir);
  tt.ok(await sink.drained(30_000), 'caught up after the restart');
  const nc = await connect({ servers: cfg.url });
  tt.teardown(() => nc.close());
  const msgs = await readStream(nc, cfg.stream);
  tt.equal(msgs.length, N, 'every event in the stream');
  tt.equal(new Set(msgs.map((m) => m.id)).size, N, 'each once');
  tt.comment(`publishes repeated after the kill and dropped by JetStream as duplicates: ${sink.stats().duplicates}`);
});
