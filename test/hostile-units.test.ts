/**
 * The parts of the listener's limits against hostile clients, alone and on a fake clock:
 * the accept gate (per-address cap and token bucket), the rate-limited log, the sweep's
 * judgement, where a frame starts in every framing in use, the in-flight count of a
 * connection, and the config keys with their defaults and errors.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import t from 'tap';
import { encode, frame, getDialect, IsoMessage, profileOf, responseTo, type FramingName } from '../codec/index.js';
import { configFromJson, ConfigError, defaultConfig } from '../switch/config/index.js';
import { AcceptGate, sourceOf } from '../switch/edge/accept-gate.js';
import { FramedConn } from '../switch/edge/framed-conn.js';
import { overdue, sweepEveryMs } from '../switch/edge/slow-clients.js';
import { SecurityDesk } from '../switch/engine/security-desk.js';
import { Counters } from '../switch/observe/counters.js';
import { createLogger, type Logger } from '../switch/observe/log.js';
import { RateLimitedLog } from '../switch/observe/rate-log.js';

t.test('accept gate: a token per attempt, refilled at the rate up to the burst; a cap on open connections per address', async (tt) => {
  let now = 0;
  const gate = new AcceptGate({ maxConnectionsPerIp: 2, acceptPerSecondPerIp: 10, acceptBurstPerIp: 3 }, () => now);
  tt.equal(gate.admit('10.0.0.1'), null);
  tt.equal(gate.admit('10.0.0.1'), null);
  tt.equal(gate.admit('10.0.0.1'), 'per_ip_cap', 'the third open one from that address');
  tt.equal(gate.admit('10.0.0.1'), 'accept_rate', 'the burst of 3 is spent (a refused attempt took a token too)');
  tt.equal(gate.admit('10.0.0.2'), null, 'another address has its own bucket and cap');
  gate.release('10.0.0.1');
  tt.equal(gate.admit('10.0.0.1'), 'accept_rate', 'a place is free, but no token yet');
  now += 100; // 10 a second: one token
  tt.equal(gate.admit('10.0.0.1'), null, 'a token after 100 ms, and a place');
  tt.equal(gate.openFrom('10.0.0.1'), 2);
  now += 10_000;
  tt.equal(gate.admit('10.0.0.1'), 'per_ip_cap', 'refill never lifts the cap');
  gate.release('10.0.0.1');
  gate.release('10.0.0.1');
  gate.release('10.0.0.2');
  tt.equal(gate.size, 2);
  gate.sweep();
  tt.equal(gate.size, 1, 'an address with nothing open and a full bucket is forgotten; one still refilling is kept');
  now += 1000;
  gate.sweep();
  tt.equal(gate.size, 0);
  tt.equal(sourceOf('::ffff:127.0.0.9'), '127.0.0.9', 'IPv4 on a dual-stack socket counts as IPv4');
  tt.equal(sourceOf('::1'), '::1');
  tt.equal(sourceOf(undefined), null);
});

function captureLog(lines: { level: string; event: string; fields: Record<string, unknown> }[]): Logger {
  const at = (level: string) => (event: string, fields?: Record<string, unknown>): void => void lines.push({ level, event, fields: fields ?? {} });
  return { level: 'info', debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

t.test('rate-limited log: one line a second per key, with what was held back', async (tt) => {
  let now = 0;
  const lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const log = new RateLimitedLog(captureLog(lines), 1000, () => now);
  for (let i = 0; i < 100; i++) log.line('warn', 'frame_timeout', 'slow client closed', { i });
  log.line('warn', 'per_ip_cap', 'connection refused');
  tt.equal(lines.length, 2, 'one line per key in the first second');
  tt.same(lines[0].fields, { i: 0 }, 'no suppressed count on a first line');
  now = 999;
  tt.notOk(log.line('warn', 'frame_timeout', 'slow client closed'), 'still inside the second');
  now = 1000;
  tt.ok(log.line('warn', 'frame_timeout', 'slow client closed', { i: 100 }));
  tt.same(lines[2].fields, { i: 100, suppressed: 100 }, 'the next line says how many were held back');
  const as = log.asLogger();
  now = 5000;
  as.warn('bad frame, closing connection', { conn: 1 });
  as.warn('bad frame, closing connection', { conn: 2 });
  as.debug('socket error', {});
  as.debug('socket error', {});
  tt.equal(lines.filter((l) => l.event === 'bad frame, closing connection').length, 1, 'as a logger: limited per event name');
  tt.equal(lines.filter((l) => l.level === 'debug').length, 2, 'debug passes');
});

t.test('the sweep: first-frame and frame deadlines, never while we hold reads', async (tt) => {
  const limits = { frameTimeoutMs: 100, firstFrameTimeoutMs: 300 };
  const conn = { readsStopped: false, framesRead: 0, readFrom: 1000, frameStartedAt: 0 };
  tt.equal(overdue(conn, 1299, limits), null);
  tt.equal(overdue(conn, 1300, limits), 'first_frame_timeout');
  conn.frameStartedAt = 1250;
  tt.equal(overdue(conn, 1300, limits), 'first_frame_timeout', 'a frame under way does not excuse the first-frame deadline');
  conn.framesRead = 1;
  tt.equal(overdue(conn, 1349, limits), null);
  tt.equal(overdue(conn, 1350, limits), 'frame_timeout');
  conn.readsStopped = true;
  tt.equal(overdue(conn, 9999, limits), null, 'reads paused by us: not the client\'s slowness');
  conn.readsStopped = false;
  conn.readFrom = 9990;
  tt.equal(overdue(conn, 9999, limits), null, 'deadlines count again from the resume');
  tt.equal(overdue(conn, 10_090, limits), 'frame_timeout');
  tt.equal(overdue(conn, 1e9, { frameTimeoutMs: 0, firstFrameTimeoutMs: 0 }), null, '0: no limit');
  tt.equal(sweepEveryMs({ frameTimeoutMs: 5000, firstFrameTimeoutMs: 10_000 }), 500);
  tt.equal(sweepEveryMs({ frameTimeoutMs: 0, firstFrameTimeoutMs: 60 }), 20);
  tt.equal(sweepEveryMs({ frameTimeoutMs: 600_000, firstFrameTimeoutMs: 0 }), 1000);
  tt.equal(sweepEveryMs({ frameTimeoutMs: 0, firstFrameTimeoutMs: 0 }), 0);
});

/** Just enough of a net.Socket for a FramedConn: chunks are pushed in by hand, writes kept. */
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  destroyed = false;
  writable = true;
  paused = false;
  readonly written: Buffer[] = [];
  setNoDelay(): void {}
  setTimeout(): void {}
  cork(): void {}
  uncork(): void {}
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }
  write(b: Buffer): boolean { this.written.push(b); return true; }
  destroy(): void { this.destroyed = true; this.writable = false; this.emit('close'); }
}

const SALE = new IsoMessage('0200', { 3: '000000', 4: '000000001000', 11: '000001', 41: 'TERM0001' });

t.test('a frame has started from its first prefix byte to its last byte, in every framing', async (tt) => {
  const cases: [string, FramingName][] = [['iso87a', 'len2'], ['iso87a', 'len4'], ['iso87a', 'len4a'], ['iso87a', 'len2bcd'], ['iso87a', 'len2incl'], ['iso87a', 'vap'], ['iso87b', 'len2'], ['cup', 'len2']];
  for (const [dialectName, framing] of cases) {
    const d = getDialect(dialectName);
    const m = SALE.clone();
    if (d.tpdu) m.tpdu = Uint8Array.of(0x60, 0, 1, 0, 0);
    if (d.headerLength > 0) m.header = new Uint8Array(d.headerLength);
    const bytes = frame(framing, encode(d, m));
    const sock = new FakeSocket();
    const conn = new FramedConn(sock as unknown as Socket, { dialect: d, framing, maxFrame: 8192 });
    let got = 0;
    conn.onMessage = () => got++;
    const at = `${dialectName}/${framing}`;
    tt.equal(conn.frameStartedAt, 0, `${at}: nothing yet`);
    sock.emit('data', bytes.subarray(0, 1));
    const first = conn.frameStartedAt;
    tt.not(first, 0, `${at}: one prefix byte starts a frame`);
    sock.emit('data', bytes.subarray(1, bytes.length - 1));
    tt.equal(conn.frameStartedAt, first, `${at}: still the same frame until its last byte`);
    sock.emit('data', Buffer.concat([bytes.subarray(bytes.length - 1), bytes.subarray(0, 3)]));
    tt.equal(got, 1, `${at}: decoded (TPDU and header inside the frame)`);
    tt.equal(conn.framesRead, 1);
    tt.ok(conn.frameStartedAt > first, `${at}: the next frame started in the same chunk`);
    sock.emit('data', bytes.subarray(3));
    tt.equal(conn.frameStartedAt, 0, `${at}: between frames`);
    tt.equal(got, 2);
  }
  const sock = new FakeSocket();
  const conn = new FramedConn(sock as unknown as Socket, { dialect: getDialect('iso87a'), framing: 'len2', maxFrame: 8192 });
  sock.emit('data', Buffer.from([0, 0, 0, 0]));
  tt.equal(conn.framesRead, 0, 'zero-length keep-alives are no frame');
  tt.equal(conn.frameStartedAt, 0);
});

t.test('in flight on one connection: reads pause at the cap, frames read meanwhile wait in order, resume at 90%', async (tt) => {
  const d = getDialect('iso87a');
  const sock = new FakeSocket();
  let pauses = 0;
  const conn = new FramedConn(sock as unknown as Socket, { dialect: d, framing: 'len2', maxFrame: 8192, maxInFlight: 20, onInFlightCap: () => pauses++ });
  const seen: IsoMessage[] = [];
  conn.onMessage = (m) => seen.push(m);
  const frames = Array.from({ length: 45 }, (_, i) => frame('len2', encode(d, SALE.clone().set(11, String(i + 1).padStart(6, '0')))));
  sock.emit('data', Buffer.concat(frames));
  tt.equal(seen.length, 20, 'twenty handed on');
  tt.ok(sock.paused && conn.readsStopped, 'reads paused');
  tt.equal(pauses, 1);
  tt.equal(conn.inFlight, 20);
  const answer = (m: IsoMessage): boolean => conn.send(new IsoMessage('0210', { 11: m.get(11) as string, 39: '00' }));
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  answer(seen[0]);
  await turn();
  tt.equal(seen.length, 20, 'one answer is not enough: resume at 18');
  answer(seen[1]);
  await turn();
  tt.equal(seen.length, 22, 'at 18: the waiting frames go on until the cap again');
  tt.ok(sock.paused, 'still paused: frames still wait');
  conn.settle(); // seen[2] and seen[3] will get no answer
  conn.settle();
  await turn();
  tt.equal(seen.length, 24, 'settle() (no answer will come) frees places too');
  let answered = 4;
  while (seen.length < 45) {
    const upTo = seen.length;
    for (; answered < upTo; answered++) answer(seen[answered]);
    await turn();
    if (seen.length === upTo) break;
  }
  tt.equal(seen.length, 45, 'every frame handed on');
  tt.same(seen.map((m) => m.get(11)), frames.map((_, i) => String(i + 1).padStart(6, '0')), 'in arrival order, none dropped');
  for (; answered < 45; answered++) answer(seen[answered]);
  await turn();
  tt.notOk(sock.paused, 'reads resumed');
  tt.equal(conn.inFlight, 0, 'every request answered or settled');
  tt.ok(pauses >= 3, 'paused again each time the cap was met');
});

t.test('fairness: at most framesPerTurn frames of one read, the rest a turn at a time, in order, reads paused meanwhile', async (tt) => {
  const d = getDialect('iso87a');
  const sock = new FakeSocket();
  const conn = new FramedConn(sock as unknown as Socket, { dialect: d, framing: 'len2', maxFrame: 8192, framesPerTurn: 64 });
  const seen: string[] = [];
  conn.onMessage = (m) => void seen.push(m.get(11) as string);
  const stans = Array.from({ length: 200 }, (_, i) => String(i + 1).padStart(6, '0'));
  sock.emit('data', Buffer.concat(stans.map((st) => frame('len2', encode(d, SALE.clone().set(11, st))))));
  tt.equal(seen.length, 64, 'the read hands on 64');
  tt.ok(sock.paused && conn.readsStopped, 'and stops reading');
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  await turn();
  tt.equal(seen.length, 128, '64 more the next turn');
  await turn();
  await turn();
  tt.same(seen, stans, 'all, in order');
  tt.notOk(sock.paused, 'reads resumed once none is left');
  sock.emit('data', frame('len2', encode(d, SALE)));
  tt.equal(seen.length, 201, 'a small read goes straight through');
});

t.test('a request the engine will not answer gives its place back: a MAC failure with no STAN to answer under', async (tt) => {
  const d = getDialect('iso87a');
  const sock = new FakeSocket();
  const conn = new FramedConn(sock as unknown as Socket, { dialect: d, framing: 'len2', maxFrame: 8192, maxInFlight: 5 });
  const desk = new SecurityDesk(null, createLogger('silent'), new Counters(), (c, res) => void c.send(res), (_l, req, code) => responseTo(d, req, profileOf(d).localCodes[code]));
  conn.onMessage = (m) => desk.macRefused('pos', m, 'bad', conn, () => {});
  sock.emit('data', frame('len2', encode(d, SALE.clone().delete(11))));
  tt.equal(conn.inFlight, 0, 'no STAN: no answer, and no place held');
  tt.equal(sock.written.length, 0);
  sock.emit('data', frame('len2', encode(d, SALE)));
  tt.equal(sock.written.length, 1, 'with a STAN: answered');
  tt.equal(conn.inFlight, 0);
});

t.test('config: the keys, their defaults, errors naming the file and the path', async (tt) => {
  const l = defaultConfig().listeners[0];
  tt.same(
    [l.frameTimeoutMs, l.firstFrameTimeoutMs, l.maxConnectionsPerIp, l.acceptPerSecondPerIp, l.acceptBurstPerIp, l.maxInFlightPerConnection, l.duplicatesPerSecondPerConnection],
    [5000, 10_000, 256, 1000, 1000, 1000, 100],
  );
  const c = configFromJson({ listeners: [{ port: 1, frameTimeoutMs: 0, maxConnectionsPerIp: 4, maxInFlightPerConnection: 32 }] }, 'c.json');
  tt.equal(c.listeners[0].frameTimeoutMs, 0, '0: off');
  tt.equal(c.listeners[0].maxConnectionsPerIp, 4);
  tt.equal(c.listeners[0].maxInFlightPerConnection, 32);
  tt.equal(c.listeners[0].firstFrameTimeoutMs, 10_000, 'the rest default');
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ frameTimeoutMs: -1 }, /^c\.json: listeners\[0\]\.frameTimeoutMs: expected an integer from 0 to 600000, got -1$/],
    [{ firstFrameTimeoutMs: 'soon' }, /listeners\[0\]\.firstFrameTimeoutMs: expected an integer/],
    [{ maxConnectionsPerIp: 0 }, /listeners\[0\]\.maxConnectionsPerIp: expected an integer from 1/],
    [{ acceptPerSecondPerIp: 1.5 }, /listeners\[0\]\.acceptPerSecondPerIp: expected an integer/],
    [{ acceptBurstPerIp: 0 }, /listeners\[0\]\.acceptBurstPerIp: expected an integer from 1/],
    [{ maxInFlightPerConnection: 0 }, /listeners\[0\]\.maxInFlightPerConnection: expected an integer from 1/],
    [{ duplicatesPerSecondPerConnection: 0 }, /listeners\[0\]\.duplicatesPerSecondPerConnection: expected an integer from 1/],
    [{ frameTimeout: 5 }, /listeners\[0\]\.frameTimeout: unknown key/],
  ];
  for (const [over, re] of bad) {
    let message = '(nothing thrown)';
    try {
      configFromJson({ listeners: [{ port: 1, ...over }] }, 'c.json');
    } catch (e) {
      message = e instanceof ConfigError ? e.message : `not a ConfigError: ${String(e)}`;
    }
    tt.match(message, re);
  }
});
