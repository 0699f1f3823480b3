/**
 * Hostile clients against a running switch, over real TCP on loopback (issue 21, section
 * 2, the terminal side): slow frames and silent connections closed by the listener's
 * sweep, a swarm of them a slice a turn; a cap per source address and an accept rate per
 * address; a connection flooding requests paused at its in-flight cap with nothing
 * dropped, and never judged slow while we hold its reads; a flood of one duplicate
 * answered from memory and forwarded once, and paced by its allowance; a garbage stream
 * closed and counted; on TLS, the gate before the handshake and the handshake bounded;
 * requests the engine will not answer giving their place back. Each time a well-behaved
 * terminal keeps being served. Small limits in the config keep it fast; no assertion is
 * on a duration.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import t, { type Test } from 'tap';
import { encode, frame, getDialect, IsoMessage } from '../codec/index.js';
import { loadDefaultRules } from '../rules/index.js';
import { defaultConfig, LISTENER_DEFAULTS, TLS_DEFAULTS, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { FramedConn } from '../switch/edge/framed-conn.js';
import { Listener } from '../switch/edge/listener.js';
import { Counters } from '../switch/observe/counters.js';
import { GuardCounts } from '../switch/observe/guard-metrics.js';
import { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { MemoryStore } from '../switch/store/memory.js';
import { CardKeys } from '../switch/store/secrets.js';
import { connectClient, type SimClient } from '../switch/sim/client.js';
import { createRng } from '../switch/sim/prng.js';
import { makePki, opensslMissing } from './support/certs.js';
import { sale, startHarness, type Harness } from './support/switch-harness.js';
import { until } from './support/until.js';

const D87 = getDialect('iso87a');
const bytesOf = (m: IsoMessage): Buffer => frame('len2', encode(D87, m));

interface Raw {
  socket: Socket;
  /** Resolves when the connection is gone, whoever closed it. */
  closed: Promise<void>;
  isClosed(): boolean;
}

/** A bare TCP client (from `localAddress`, a 127.x.y.z standing for another machine), connected; destroyed at teardown. */
async function raw(tt: Test, port: number, localAddress?: string): Promise<Raw> {
  const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  // The switch closes these while they write: a reset on our side is expected.
  socket.on('error', () => {});
  let gone = false;
  const closed = new Promise<void>((r) => socket.once('close', () => { gone = true; r(); }));
  tt.teardown(() => { socket.destroy(); });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return { socket, closed, isClosed: () => gone };
}

/** `p`, or a failure naming `what` after capMs: a broken limit fails here, not at tap's timeout. */
function within<T>(p: Promise<T>, what: string, capMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${capMs} ms`)), capMs); });
  return Promise.race([p, cap]).finally(() => clearTimeout(timer));
}

async function approved(c: SimClient, m: IsoMessage = sale()): Promise<boolean> {
  return (await c.request(m, 10_000)).get(39) === '00';
}

/** Open terminal connections of the listener, as the metrics gauge reads them. */
async function openConns(h: Harness): Promise<number> {
  const got = await h.sw.metrics.registry.getSingleMetric('revswitch_connections_open')?.get();
  return got?.values.find((v) => v.labels.listener === 'pos')?.value ?? -1;
}

t.test('slow frames: a frame begun must be whole within frameTimeoutMs, or the connection closes; counted, logged at most once a second', async (tt) => {
  const lines: string[] = [];
  const h = await startHarness(tt, { listener: { frameTimeoutMs: 300, firstFrameTimeoutMs: 0 }, logLines: (l) => lines.push(l) });
  const g = h.sw.metrics.guard('pos');
  const steady = await h.client();
  tt.ok(await approved(steady));
  // Ten slowloris clients: a byte every 40 ms keeps the socket busy (no idle timeout would
  // fire), but the frame's first byte started its clock.
  const bytes = bytesOf(sale());
  const slow = await Promise.all(Array.from({ length: 10 }, () => raw(tt, h.port)));
  const timers = slow.map((s) => {
    let i = 0;
    return setInterval(() => { if (i < bytes.length - 1 && !s.isClosed()) s.socket.write(bytes.subarray(i, ++i)); }, 40);
  });
  tt.teardown(() => timers.forEach(clearInterval));
  await within(Promise.all(slow.map((s) => s.closed)), 'every slow client closed');
  timers.forEach(clearInterval);
  tt.equal(g.closedFor('frame_timeout'), 10, 'every slow client closed as frame_timeout');
  tt.equal(h.sw.counters.get('frame_timeouts'), 10);
  const logged = lines.filter((l) => l.includes('slow client closed'));
  tt.ok(logged.length >= 1 && logged.length <= 2, `ten closes within moments: ${logged.length} log line(s), not ten`);
  tt.ok(logged.every((l) => l.includes('"reason":"frame_timeout"') && l.includes('"listener":"pos"')));

  // A frame sent in two parts inside the limit is a frame like any other.
  const halves = await h.client();
  const m = sale();
  const b = bytesOf(m);
  const answer = halves.waitFor((x) => x.get(11) === m.get(11), 10_000);
  halves.sendRaw(b.subarray(0, 10));
  await new Promise((r) => setTimeout(r, 20));
  halves.sendRaw(b.subarray(10));
  tt.equal((await answer).get(39), '00', 'a frame in two parts within frameTimeoutMs is answered');
  tt.ok(await approved(steady), 'the steady terminal is served throughout');
});

t.test('a swarm of slow clients running out together is closed 64 a turn of the event loop, not all in one go', async (tt) => {
  const guard = new GuardCounts();
  const l = new Listener({ ...LISTENER_DEFAULTS, name: 'swarm', port: 0, firstFrameTimeoutMs: 1000, frameTimeoutMs: 0 }, D87, { log: createLogger('silent'), counters: new Counters(), guard });
  await l.listen();
  tt.teardown(() => { l.stopAccepting(); l.closeConnections(); });
  const N = 300;
  await Promise.all(Array.from({ length: N }, (_, i) => raw(tt, l.port, i % 2 === 0 ? '127.0.0.5' : '127.0.0.6')));
  // One reading a turn, in the check phase, where the slices run too.
  let last = 0;
  let most = 0;
  await within(new Promise<void>((resolve) => {
    const look = (): void => {
      const now = guard.closedFor('first_frame_timeout');
      most = Math.max(most, now - last);
      last = now;
      if (now >= N) resolve();
      else setImmediate(look);
    };
    look();
  }), `all ${N} closed`);
  tt.ok(most <= 64, `at most 64 closed between two turns (saw ${most})`);
});

t.test('silent clients: no whole message within firstFrameTimeoutMs of connecting closes the connection; keep-alives are no message', async (tt) => {
  const h = await startHarness(tt, { listener: { firstFrameTimeoutMs: 200, frameTimeoutMs: 0 } });
  const g = h.sw.metrics.guard('pos');
  const talker = await h.client();
  const silent = await raw(tt, h.port);
  const keepAlive = await raw(tt, h.port);
  const ka = setInterval(() => { if (!keepAlive.isClosed()) keepAlive.socket.write(Buffer.from([0, 0])); }, 30);
  tt.teardown(() => clearInterval(ka));
  tt.ok(await approved(talker), 'a terminal that speaks at once is answered');
  await within(Promise.all([silent.closed, keepAlive.closed]), 'the silent and the keep-alive connections closed');
  clearInterval(ka);
  tt.equal(g.closedFor('first_frame_timeout'), 2, 'the silent one and the one sending only keep-alives');
  tt.equal(h.sw.counters.get('first_frame_timeouts'), 2);
  tt.ok(await approved(talker), 'the talker, connected with them, is still open and served');
});

t.test('a cap per source address: the connection past maxConnectionsPerIp is refused, others are not; counted by reason', async (tt) => {
  const h = await startHarness(tt, { listener: { maxConnectionsPerIp: 3 } });
  const g = h.sw.metrics.guard('pos');
  const three = [await h.client(), await h.client(), await h.client()];
  const fourth = await connectClient({ port: h.port });
  tt.teardown(() => fourth.close());
  await within(fourth.closed, 'the fourth connection refused');
  tt.equal(g.refusedFor('per_ip_cap'), 1, 'the fourth from 127.0.0.1 refused');
  const elsewhere = await connectClient({ port: h.port, localAddress: '127.0.0.2' });
  tt.teardown(() => elsewhere.close());
  tt.ok(await approved(elsewhere), 'another address is let in');
  for (const c of three) tt.ok(await approved(c), 'the three within the cap are served');
  await three[0].close();
  await until(async () => (await openConns(h)) === 3, 'the switch saw one of the three go');
  const again = await h.client();
  tt.ok(await approved(again), 'a place freed is a place to take');
  const text = await h.sw.metrics.registry.metrics();
  tt.match(text, /revswitch_connections_refused_total\{listener="pos",reason="per_ip_cap"\} 1\n/);
  tt.match(text, /revswitch_connections_refused_total\{listener="pos",reason="accept_rate"\} 0\n/);
  tt.match(text, /revswitch_connections_rejected_total 1\n/, 'and in the total of refusals');
  tt.match(text, /revswitch_connections_closed_total\{listener="pos",reason="frame_timeout"\} 0\n/);
  tt.match(text, /revswitch_reads_paused_total\{listener="pos",reason="in_flight_cap"\} 0\n/);
  tt.match(text, /revswitch_reads_paused_total\{listener="pos",reason="duplicate_rate"\} 0\n/);
});

t.test('an accept rate per source address: past the burst, refused until tokens come back; other addresses unaffected', async (tt) => {
  const h = await startHarness(tt, { listener: { acceptPerSecondPerIp: 1, acceptBurstPerIp: 3 } });
  const g = h.sw.metrics.guard('pos');
  for (let i = 0; i < 3; i++) {
    const c = await connectClient({ port: h.port, localAddress: '127.0.0.3' });
    tt.ok(await approved(c), `connection ${i + 1} of the burst is served`);
    await c.close();
  }
  const past = await connectClient({ port: h.port, localAddress: '127.0.0.3' });
  tt.teardown(() => past.close());
  await within(past.closed, 'the connection past the burst refused');
  tt.equal(g.refusedFor('accept_rate'), 1, 'the fourth at once is refused for its rate');
  tt.equal(g.refusedFor('per_ip_cap'), 0);
  const other = await h.client();
  tt.ok(await approved(other), '127.0.0.1 has its own bucket');
});

t.test('in flight per connection: past the cap its reads pause and nothing is dropped', async (tt) => {
  const CAP = 10;
  const N = 60;
  const h = await startHarness(tt, { issuer: { latencyMs: 30 }, upstreamTimeoutMs: 5000, listener: { maxInFlightPerConnection: CAP } });
  const g = h.sw.metrics.guard('pos');
  const c = await h.client();
  const base = h.issuer.ledger().counters.answersSent;
  let arrived = 0;
  let worst = 0;
  const rrns = new Set<string>();
  const sales = Array.from({ length: N }, () => sale({ terminal: 'FLOOD001' }));
  for (const m of sales) rrns.add(m.get(37) as string);
  // At each flood sale's arrival at the issuer: how many of them it holds unanswered. The
  // switch reads a request only after an answer went out, so this never passes the cap.
  h.issuer.onMessage((e) => {
    if (!rrns.has(e.msg.get(37) ?? '')) return;
    arrived++;
    worst = Math.max(worst, arrived - (h.issuer.ledger().counters.answersSent - base));
  });
  c.sendRaw(Buffer.concat(sales.map(bytesOf)));
  await h.until(() => c.received.length === N, `all ${N} answers`, 20_000);
  tt.ok(c.received.every((m) => m.get(39) === '00'), 'every one approved: none dropped');
  tt.same(new Set(c.received.map((m) => m.get(37))), rrns, 'one answer for each sale');
  tt.equal(arrived, N, 'each forwarded once');
  tt.ok(worst <= CAP, `at most ${CAP} of them at the issuer at once (saw ${worst})`);
  tt.ok(g.pausedFor('in_flight_cap') >= 1, 'the pause is counted');
});

t.test('a connection whose reads we paused is not judged slow: a frame split across the pause is answered', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 400 }, upstreamTimeoutMs: 5000, listener: { maxInFlightPerConnection: 5, frameTimeoutMs: 100 } });
  const g = h.sw.metrics.guard('pos');
  const c = await h.client();
  const sales = Array.from({ length: 6 }, () => sale({ terminal: 'PAUSE001' }));
  const b = Buffer.concat(sales.map(bytesOf));
  const cut = b.length - 20;
  // Five whole requests (the cap) and the start of a sixth: the switch pauses with part of
  // a frame read, for longer than frameTimeoutMs, while the issuer takes 400 ms.
  c.sendRaw(b.subarray(0, cut));
  await new Promise((r) => setTimeout(r, 30));
  c.sendRaw(b.subarray(cut));
  await h.until(() => c.received.length === 6, 'all six answers', 10_000);
  tt.ok(c.received.every((m) => m.get(39) === '00'));
  tt.equal(g.closedFor('frame_timeout'), 0, 'never closed as slow');
});

t.test('a flood of one duplicate on one connection: answered from memory, forwarded once, while in flight and after', async (tt) => {
  const h = await startHarness(tt, { issuer: { latencyMs: 300 }, upstreamTimeoutMs: 5000, listener: { maxInFlightPerConnection: 50, duplicatesPerSecondPerConnection: 10_000 } });
  const g = h.sw.metrics.guard('pos');
  const c = await h.client();
  const m = sale({ terminal: 'DUPE0001' });
  const rrn = m.get(37) as string;
  const once = bytesOf(m);
  c.sendRaw(Buffer.concat(Array.from({ length: 400 }, () => once)));
  await h.until(() => c.received.length === 400, '400 answers while the original was in flight', 20_000);
  c.sendRaw(Buffer.concat(Array.from({ length: 400 }, () => once)));
  await h.until(() => c.received.length === 800, '400 more after it was answered', 20_000);
  const other = await h.client();
  await h.barrier(other);
  tt.equal(h.salesSeen(rrn).length, 1, 'the issuer saw it once');
  tt.ok(c.received.every((x) => x.get(39) === '00' && x.get(37) === rrn && x.get(38) === c.received[0].get(38)), 'every copy got the one answer');
  tt.equal(h.sw.counters.get('duplicates'), 799);
  tt.equal(h.sw.counters.get('duplicates_across_nodes'), 0, 'all from memory: none needed the journal\'s unique key');
  tt.equal(h.sw.counters.get('forwarded'), 2, 'the sale and the barrier');
  tt.ok(g.pausedFor('in_flight_cap') >= 1, 'the copies waiting on the original filled the cap: reads paused, none dropped');
});

t.test('duplicates past their rate on one connection: reads pause, every copy is still answered', async (tt) => {
  // An allowance of 50 a second, 50 at once (the larger of it and the in-flight cap).
  const h = await startHarness(tt, { listener: { maxInFlightPerConnection: 20, duplicatesPerSecondPerConnection: 50 } });
  const g = h.sw.metrics.guard('pos');
  const c = await h.client();
  const m = sale({ terminal: 'DUPE0002' });
  tt.ok(await approved(c, m));
  const once = bytesOf(m);
  c.sendRaw(Buffer.concat(Array.from({ length: 150 }, () => once)));
  await h.until(() => c.received.length === 151, '150 copies answered', 20_000);
  tt.ok(g.pausedFor('duplicate_rate') >= 1, 'reads paused for the rate');
  tt.equal(h.sw.counters.get('duplicates'), 150);
  tt.ok(c.received.every((x) => x.get(39) === '00'), 'nothing dropped: every copy got the answer');
  const other = await h.client();
  tt.ok(await approved(other), 'another terminal is served');
  await h.barrier(other);
  tt.equal(h.salesSeen(m.get(37) as string).length, 1, 'forwarded once');
});

t.test('a garbage stream: each connection closed as bad_frame and counted, logged at most once a second; another terminal unaffected', async (tt) => {
  const lines: string[] = [];
  const h = await startHarness(tt, { logLines: (l) => lines.push(l) });
  const g = h.sw.metrics.guard('pos');
  const steady = await h.client();
  const rng = createRng(2112);
  const before = h.sw.counters.get('frame_errors') + h.sw.counters.get('decode_errors');
  for (let i = 0; i < 20; i++) {
    const junk = Buffer.alloc(64 * 1024);
    for (let j = 0; j < junk.length; j++) junk[j] = rng.int(0, 255);
    const r = await raw(tt, h.port);
    r.socket.write(junk);
    const answer = approved(steady);
    await within(r.closed, `garbage connection ${i + 1} closed`);
    tt.ok(await answer, `a sale between garbage connections ${i + 1} is approved`);
  }
  // One more: a whole frame whose body has no readable MTI, so no reject can be addressed.
  const unaddressable = await raw(tt, h.port);
  const body = Buffer.from('\x00\xffHELLO, SWITCH \x01\x02\x03', 'latin1');
  unaddressable.socket.write(Buffer.concat([Buffer.from([0, body.length]), body]));
  await within(unaddressable.closed, 'the unaddressable frame\'s connection closed');
  tt.equal(g.closedFor('bad_frame'), 21, 'every garbage connection closed as bad_frame');
  // A frame that decodes far enough to be answered with a reject leaves the stream in sync:
  // such a connection goes on to a later frame that ends it, so errors may outnumber closes.
  tt.ok(h.sw.counters.get('frame_errors') + h.sw.counters.get('decode_errors') - before >= 20, 'each counted as a frame or decode error');
  const logged = lines.filter((l) => l.includes('bad frame, closing connection') || l.includes('malformed message'));
  tt.ok(logged.length >= 1 && logged.length < 20, `21 garbage connections, ${logged.length} log lines`);
});

const noOpenssl = opensslMissing();
t.test('TLS: the address gate runs before the handshake, and a handshake is bounded by firstFrameTimeoutMs', { skip: noOpenssl || false }, async (tt) => {
  const pki = makePki();
  tt.teardown(() => pki.cleanup());
  const h = await startHarness(tt, {
    listener: { tls: { ...TLS_DEFAULTS, cert: pki.server.cert, key: pki.server.key }, maxConnectionsPerIp: 1, firstFrameTimeoutMs: 1500 },
  });
  const g = h.sw.metrics.guard('pos');
  const mute = await raw(tt, h.port, '127.0.0.4');
  const second = await raw(tt, h.port, '127.0.0.4');
  await within(second.closed, 'the second connection from 127.0.0.4 refused');
  tt.equal(g.refusedFor('per_ip_cap'), 1, 'the second from that address refused at once');
  tt.equal(h.sw.metrics.tlsFailureCount('pos'), 0, 'refused before any TLS: no handshake failure');
  await within(mute.closed, 'the handshake that never began timed out');
  tt.equal(h.sw.metrics.tlsFailureCount('pos'), 1, 'the one that never began its handshake timed out');
  const tcp = connect({ host: '127.0.0.1', port: h.port, localAddress: '127.0.0.4' });
  const socket = tlsConnect({ socket: tcp, ca: readFileSync(pki.ca) });
  const conn = new FramedConn(socket, { dialect: D87, framing: 'len2', maxFrame: 8192 });
  tt.teardown(() => conn.close());
  const m = sale();
  const answer = new Promise<IsoMessage>((r) => { conn.onMessage = (x) => r(x); });
  socket.once('secureConnect', () => conn.send(m));
  tt.equal((await answer).get(39), '00', 'once the address has its place back, a TLS terminal is served');
});

/** The memory store, whose flush (a terminal reversal's durability) fails on demand. */
class FlushFails extends MemoryStore {
  failFlush = false;

  override flush(): Promise<void> {
    return this.failFlush ? Promise.reject(new Error('injected: disk full')) : super.flush();
  }
}

t.test('a request the engine will not answer gives its place back: a terminal reversal the journal could not keep', async (tt) => {
  const issuer = await startIssuer({ seed: 3, approveRate: 1 });
  const store = new FlushFails();
  await store.open();
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0, maxInFlightPerConnection: 2 });
  cfg.upstreams = [{ ...UPSTREAM_DEFAULTS, name: 'issuer', host: '127.0.0.1', port: issuer.port, timeoutMs: 1000, reconnectBackoffMs: [50] }];
  const sw = new Switch(cfg, loadDefaultRules(), createLogger('silent'), (name) => getDialect(name), { store, keys: new CardKeys(Buffer.alloc(32, 5)) });
  await sw.start();
  const c = await connectClient({ port: sw.ports()[0] });
  tt.teardown(async () => {
    await c.close();
    await sw.stop(200);
    await store.close();
    await issuer.close();
  });
  store.failFlush = true;
  for (const stan of ['000901', '000902']) {
    // Reversals of sales never seen: recorded, and answered once durable, which they never are.
    c.send(new IsoMessage('0400', { 3: '000000', 4: '000000001000', 7: '1203101010', 11: stan, 41: 'REVERSE1', 42: 'MERCHANT0000001', 49: '840' }));
  }
  await until(() => sw.counters.get('terminal_reversals') === 2, 'both reversals read');
  await store.flush().catch(() => undefined);
  store.failFlush = false;
  // Two places held by requests that will never be answered would leave a cap of 2 full for good.
  const echo = await within(c.request(new IsoMessage('0800', { 7: '1203101011', 11: '000903', 70: '301' }), 10_000), 'the echo answered');
  tt.equal(echo.get(39), '00', 'the connection reads on');
});
