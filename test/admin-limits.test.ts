/**
 * The admin HTTP server's limits (issue 21; switch/observe/admin.ts, admin-guard.ts): a
 * body declared or streamed past admin.maxBodyBytes is refused 413 without being read to
 * its end, headers past admin.maxHeaderBytes 431, a client dribbling its headers is cut
 * off by admin.headersTimeoutMs, requests past admin.maxConcurrent get 503 with
 * Retry-After and are served once others finish, and a /metrics reader that never reads
 * neither stops other requests nor keeps its place: it is dropped after
 * admin.sendTimeoutMs, while one that reads slowly but steadily gets every byte. Each
 * refusal is counted. The keys are validated like every other config key.
 */
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Registry } from 'prom-client';
import { configFromJson, type AdminLimits } from '../switch/config/index.js';
import { mountApi } from '../switch/cli/admin-routes.js';
import { AdminServer } from '../switch/observe/admin.js';
import { createLogger } from '../switch/observe/log.js';
import { openStore } from '../switch/store/index.js';
import { until } from './support/until.js';

interface Got { status: number; headers: IncomingHttpHeaders; body: string }

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
  return v?.value ?? 0;
}

const refusals = (registry: Registry, reason: string): Promise<number> => counter(registry, 'revswitch_admin_refusals_total', { reason });
const inProgress = (registry: Registry): Promise<number> => counter(registry, 'revswitch_admin_requests_in_progress');

async function serve(tt: Test, limits: Partial<AdminLimits>, registry = new Registry()): Promise<{ admin: AdminServer; port: number; registry: Registry }> {
  const admin = new AdminServer({
    host: '127.0.0.1', port: 0, registry, ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'), console: false, limits,
  });
  admin.mount('/small', async (_req, res) => {
    res.end('small\n');
    return true;
  });
  await admin.start();
  tt.teardown(() => admin.stop());
  return { admin, port: admin.port, registry };
}

/** A raw connection to the admin port; everything it receives is collected. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, received: () => Buffer.concat(chunks).toString('latin1'), closed }));
    socket.once('error', reject);
  });
}

t.test('a body over admin.maxBodyBytes is refused 413 before the client has finished sending it', async (tt) => {
  const { port, registry } = await serve(tt, { maxBodyBytes: 4096 });
  const got = await new Promise<Got>((resolve, reject) => {
    // Declares 10 MB and sends 64 KB of it: the answer must come without the rest.
    const req = request({ host: '127.0.0.1', port, path: '/small', method: 'POST', agent: false, headers: { 'content-length': String(10 * 1024 * 1024) } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
      req.destroy();
    });
    req.on('error', (e) => { if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e); });
    req.write(Buffer.alloc(64 * 1024, 0x61));
  });
  tt.equal(got.status, 413, 'refused: payload too large');
  tt.equal(got.headers.connection, 'close', 'and the connection closes, so the rest is never read');
  tt.equal(await refusals(registry, 'body_too_large'), 1, 'counted');
  tt.equal((await get(port, '/small')).status, 200, 'the server carries on');
});

t.test('a chunked body streamed past admin.maxBodyBytes to the review API is refused 413; a small one is read', async (tt) => {
  const store = openStore('memory:');
  await store.open();
  tt.teardown(() => store.close());
  const token = 'a-long-test-token-for-the-review-api';
  const cfg = configFromJson({ admin: { listen: '127.0.0.1:0', tokens: { ops: `sha256:${createHash('sha256').update(token).digest('hex')}` }, maxBodyBytes: 1024 } }, 'c.json');
  const registry = new Registry();
  const admin = new AdminServer({ host: '127.0.0.1', port: 0, registry, ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'), console: false });
  mountApi(admin, cfg, { store, rules: () => { throw new Error('no rules here'); }, log: createLogger('silent') });
  await admin.start();
  tt.teardown(() => admin.stop());
  const post = (chunks: string[]): Promise<Got> => new Promise((resolve, reject) => {
    // No Content-Length: the size is only known as it arrives.
    const req = request({
      host: '127.0.0.1', port: admin.port, path: '/api/review/no-such-item/reject', method: 'POST', agent: false,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(got).toString('utf8') }));
    });
    req.on('error', (e) => { if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET' && (e as NodeJS.ErrnoException).code !== 'EPIPE') reject(e); });
    for (const c of chunks) req.write(c);
    req.end();
  });
  const big = await post([`{"note": "${'x'.repeat(600)}`, `${'y'.repeat(600)}"}`]);
  tt.equal(big.status, 413, 'over the limit while streaming');
  tt.match(big.body, /admin\.maxBodyBytes/);
  const small = await post(['{"note": "not this one"}']);
  tt.equal(small.status, 404, 'a body within the limit is read and the request goes on (no such item)');
});

t.test('headers over admin.maxHeaderBytes are refused (431) and counted', async (tt) => {
  const { port, registry } = await serve(tt, { maxHeaderBytes: 2048 });
  tt.equal((await get(port, '/small', { 'x-fill': 'a'.repeat(1000) })).status, 200, 'within the limit');
  const c = await rawClient(port);
  c.socket.write(`GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: ${'a'.repeat(8000)}\r\n\r\n`);
  await c.closed;
  tt.match(c.received(), /^(HTTP\/1\.1 431 |$)/, 'the status line, when it arrives before the close');
  tt.equal(await refusals(registry, 'header_too_large'), 1, 'counted');
  tt.equal((await get(port, '/small')).status, 200, 'the server carries on');
});

t.test('the limits come from the config through mountApi, as revswitch start sets them', async (tt) => {
  const store = openStore('memory:');
  await store.open();
  tt.teardown(() => store.close());
  const cfg = configFromJson({ admin: { listen: '127.0.0.1:0', maxHeaderBytes: 1024 } }, 'c.json');
  const registry = new Registry();
  const admin = new AdminServer({ host: '127.0.0.1', port: 0, registry, ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'), console: false });
  mountApi(admin, cfg, { store, rules: () => { throw new Error('no rules here'); }, log: createLogger('silent') });
  await admin.start();
  tt.teardown(() => admin.stop());
  const c = await rawClient(admin.port);
  c.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: ${'a'.repeat(3000)}\r\n\r\n`);
  await c.closed;
  tt.equal(await refusals(registry, 'header_too_large'), 1, '3 KB of headers refused under admin.maxHeaderBytes 1024');
});

t.test('a slow-loris client (headers dribbled) is closed by admin.headersTimeoutMs', async (tt) => {
  const { port, registry } = await serve(tt, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
  const c = await rawClient(port);
  c.socket.write('GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // A header line every 20 ms, for as long as the connection lasts: never a whole request.
  let lines = 0;
  const drip = setInterval(() => { if (!c.socket.destroyed) c.socket.write(`X-Drip-${lines++}: 1\r\n`); }, 20);
  tt.teardown(() => clearInterval(drip));
  let closed = false;
  void c.closed.then(() => { closed = true; });
  await until(() => closed, 'the server closing the dribbling connection', 20_000);
  clearInterval(drip);
  tt.match(c.received(), /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  tt.ok(lines > 0, 'it was still sending when it was cut off');
  tt.equal(await refusals(registry, 'timeout'), 1, 'counted');
  tt.equal((await get(port, '/small')).status, 200, 'others are served');
});

t.test('past admin.maxConcurrent requests get 503 with Retry-After, and are served once the others finish', async (tt) => {
  const { admin, port, registry } = await serve(tt, { maxConcurrent: 2 });
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => { open = r; });
  admin.mount('/slow', async (_req, res) => {
    await gate;
    res.end('slow\n');
    return true;
  });
  const slow = [get(port, '/slow'), get(port, '/slow')];
  await until(async () => (await inProgress(registry)) === 2, 'two slow requests in progress');
  const third = await get(port, '/small');
  tt.equal(third.status, 503, 'the third is refused');
  tt.equal(third.headers['retry-after'], '1', 'with Retry-After');
  tt.equal(await refusals(registry, 'busy'), 1, 'counted');
  tt.equal((await get(port, '/healthz')).status, 200, 'the probes are answered whatever the load');
  tt.equal((await get(port, '/readyz')).status, 200);
  open();
  tt.same((await Promise.all(slow)).map((g) => g.status), [200, 200], 'the two in progress finish');
  tt.equal((await get(port, '/small')).status, 200, 'then a new one is served');
  tt.equal(await refusals(registry, 'busy'), 1);
});

/** A registry whose /metrics text is `mb` megabytes (its own figures, then comment lines). */
class BigRegistry extends Registry {
  constructor(private readonly mb: number) {
    super();
  }

  override async metrics(): Promise<string> {
    return (await super.metrics()) + `# ${'padding '.repeat(127)}\n`.repeat(this.mb * 1024);
  }
}

t.test('a /metrics reader that never reads neither stops other requests nor keeps its place: it is dropped', async (tt) => {
  // 32 MB: more than the socket buffers of both ends can take, so the answer stalls.
  const registry = new BigRegistry(32);
  const { port } = await serve(tt, { maxConcurrent: 2, sendTimeoutMs: 300 }, registry);
  const stalled = async (): Promise<{ closed: () => boolean }> => {
    const c = await rawClient(port);
    c.socket.pause();
    c.socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let closed = false;
    void c.closed.then(() => { closed = true; });
    return { closed: () => closed || c.socket.destroyed };
  };
  await stalled();
  await until(async () => (await inProgress(registry)) === 1, 'the stalled /metrics answer in progress');
  tt.equal((await get(port, '/small')).status, 200, 'another request is served while it stalls');
  await until(async () => (await counter(registry, 'revswitch_admin_slow_readers_dropped_total')) === 1, 'the stalled reader dropped', 20_000);
  await until(async () => (await inProgress(registry)) === 0, 'its place free again');

  // Two at once take both places: others are refused until the two are dropped.
  await stalled();
  await stalled();
  await until(async () => (await inProgress(registry)) === 2, 'two stalled /metrics answers');
  tt.equal((await get(port, '/small')).status, 503, 'both places held');
  await until(async () => (await counter(registry, 'revswitch_admin_slow_readers_dropped_total')) === 3, 'both dropped', 20_000);
  await until(async () => (await inProgress(registry)) === 0, 'both places free again');
  tt.equal((await get(port, '/small')).status, 200, 'served again once they are dropped');
});

t.test('a reader that takes the answer slowly but steadily gets all of it', async (tt) => {
  const registry = new BigRegistry(8);
  const { port } = await serve(tt, { sendTimeoutMs: 1000 }, registry);
  const c = await rawClient(port);
  c.socket.removeAllListeners('data');
  let got = 0;
  let header = '';
  c.socket.pause();
  c.socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  // One read every 20 ms, far inside the 1 s send timeout; the whole takes seconds, longer
  // than the timeout: judged by the time the answer takes, it would be cut short.
  c.socket.on('data', (b: Buffer) => {
    if (header.length < 512) header += b.subarray(0, 512).toString('latin1');
    got += b.length;
    c.socket.pause();
    setTimeout(() => c.socket.resume(), 20);
  });
  c.socket.resume();
  await c.closed;
  const length = Number(/content-length: (\d+)/i.exec(header)?.[1] ?? -1);
  tt.ok(length > 8_000_000, `an answer of ${length} bytes`);
  tt.ok(got > length, `every byte arrived (${got} with the headers)`);
  tt.equal(await counter(registry, 'revswitch_admin_slow_readers_dropped_total'), 0, 'nothing dropped');
});

t.test('the limit keys: defaults, validation naming the file and the path', async (tt) => {
  const d = configFromJson({}, 'c.json').adminLimits;
  tt.same(d, { maxBodyBytes: 65536, maxHeaderBytes: 16384, headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 5000, maxConcurrent: 32, sendTimeoutMs: 10000 });
  tt.match(configFromJson({ admin: { maxConcurrent: 4, sendTimeoutMs: 2000 } }, 'c.json').adminLimits, { maxConcurrent: 4, sendTimeoutMs: 2000, maxBodyBytes: 65536 });
  tt.throws(() => configFromJson({ admin: { maxConcurrent: 0 } }, 'c.json'), /^c\.json: admin\.maxConcurrent: expected an integer from 1 to 10000, got 0$/);
  tt.throws(() => configFromJson({ admin: { maxHeaderBytes: '16k' } }, 'c.json'), /c\.json: admin\.maxHeaderBytes: expected an integer/);
  tt.throws(() => configFromJson({ admin: { headersTimeoutMs: 20000, requestTimeoutMs: 10000 } }, 'c.json'),
    /c\.json: admin\.requestTimeoutMs: expected at least admin\.headersTimeoutMs \(20000\)/);
  tt.throws(() => configFromJson({ admin: { maxBodyByte: 1 } }, 'c.json'), /admin\.maxBodyByte: unknown key; expected one of .*maxBodyBytes/);
  tt.throws(() => new AdminServer({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'), limits: { maxConcurrent: 0 } }),
    /maxConcurrent must be a whole number from 1/);
});
