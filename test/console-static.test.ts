/**
 * The console's files on the admin server (switch/observe/console-static.ts): the page
 * and its assets with the security headers; nothing outside the built folder whatever
 * the path says (.., encoded, backslashes, a symlink, a dot file); 404 with a clear
 * message when the console is not built; and /api/overview's figures from a registry.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AdminServer } from '../switch/observe/admin.js';
import { NOT_BUILT, SECURITY_HEADERS } from '../switch/observe/console-static.js';
import { createLogger } from '../switch/observe/log.js';
import { Metrics } from '../switch/observe/metrics.js';
import { bucketQuantile } from '../switch/observe/bucket-quantile.js';
import type { Overview } from '../switch/observe/overview.js';

interface Got { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** A request with the path sent exactly as written (fetch would resolve the dots first). */
function raw(port: number, path: string, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serve(tt: Test, dirs: readonly string[] | false, registry = new Metrics().registry): Promise<number> {
  const admin = new AdminServer({
    host: '127.0.0.1', port: 0, registry, ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'), console: dirs,
  });
  await admin.start();
  tt.teardown(() => admin.stop());
  return admin.port;
}

/** A built console in a temporary folder, with a secret beside it that must never be served. */
function built(tt: Test): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'revswitch-console-'));
  tt.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'static');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(dir, 'assets', '.hidden.js'), 'hidden');
  writeFileSync(join(dir, 'assets', 'notes.txt'), 'not a served type');
  writeFileSync(join(root, 'secret.js'), 'SECRET');
  writeFileSync(join(dir, 'secret.js'), 'SECRET');
  symlinkSync(join(root, 'secret.js'), join(dir, 'assets', 'link.js'));
  return { root, dir };
}

function hasSecurityHeaders(tt: Test, g: Got, what: string): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) tt.equal(g.headers[k], v, `${what}: ${k}`);
}

t.test('the page and its assets, with the security headers', async (tt) => {
  const { dir } = built(tt);
  const port = await serve(tt, [join(dir, '..', 'absent'), dir]);
  const page = await raw(port, '/');
  tt.equal(page.status, 200);
  tt.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  tt.match(page.body, /<title>console<\/title>/);
  hasSecurityHeaders(tt, page, '/');
  const csp = String(page.headers['content-security-policy']);
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"]) {
    tt.ok(csp.includes(d), `CSP has ${d}`);
  }
  tt.notOk(/unsafe-inline|unsafe-eval/.test(csp), 'no inline script or style, no eval');
  tt.equal((await raw(port, '/index.html')).status, 200, '/index.html is the page too');
  const js = await raw(port, '/assets/app.js');
  tt.same([js.status, js.headers['content-type'], js.body], [200, 'text/javascript; charset=utf-8', 'console.log(1)']);
  hasSecurityHeaders(tt, js, '/assets/app.js');
  tt.equal((await raw(port, '/assets/app.css')).headers['content-type'], 'text/css; charset=utf-8');
  const head = await raw(port, '/', 'HEAD');
  tt.same([head.status, head.body], [200, ''], 'HEAD: headers only');
  const post = await raw(port, '/', 'POST');
  tt.same([post.status, post.headers.allow], [405, 'GET, HEAD'], 'read-only');
  tt.equal((await raw(port, '/other')).status, 404, 'other paths are not the console');
  tt.equal((await raw(port, '/healthz')).status, 200, 'the built-in routes still answer');
});

t.test('nothing outside the folder, whatever the path says', async (tt) => {
  const { dir } = built(tt);
  const port = await serve(tt, [dir]);
  const tries = [
    '/assets/../secret.js', '/assets/../../secret.js', '/assets/%2e%2e/secret.js', '/assets/%2e%2e%2fsecret.js', '/assets/..%2F..%2Fsecret.js',
    '/assets/%2e%2e%5csecret.js', '/assets/..\\secret.js', '/assets/%252e%252e%252fsecret.js', '/assets//etc/passwd', '/assets/%2fetc%2fpasswd',
    '/assets/link.js', '/assets/.hidden.js', '/assets/notes.txt', '/assets/app.js%00.css', '/assets/', '/assets/%E0%A4%A', '/../secret.js', '/%2e%2e/secret.js',
  ];
  for (const path of tries) {
    const g = await raw(port, path);
    tt.not(g.status, 200, `${path}: refused (${g.status})`);
    tt.notOk(g.body.includes('SECRET') || g.body.includes('root:'), `${path}: nothing of the file`);
  }
});

t.test('not built: 404 with a message saying how to build; the console can be turned off', async (tt) => {
  const empty = mkdtempSync(join(tmpdir(), 'revswitch-console-none-'));
  tt.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const port = await serve(tt, [join(empty, 'static')]);
  const page = await raw(port, '/');
  tt.same([page.status, page.body], [404, NOT_BUILT]);
  tt.match(page.body, /npm run build/);
  hasSecurityHeaders(tt, page, 'the 404');
  tt.equal((await raw(port, '/assets/app.js')).status, 404);
  tt.equal((await raw(port, '/metrics')).status, 200, 'the rest of the admin server is unaffected');

  const off = await serve(tt, false);
  tt.equal((await raw(off, '/')).status, 404, 'console: false serves nothing');
  tt.equal((await raw(off, '/api/overview')).status, 404, 'nor the overview');
});

t.test('/api/overview: the figures of the registry', async (tt) => {
  const metrics = new Metrics();
  const port = await serve(tt, [], metrics.registry);
  // Three sales' added latency: 0.3 ms, 0.7 ms, 20 ms; the median's rank (1.5) falls halfway into the 0.5-1 ms bucket.
  for (const v of [0.0003, 0.0007, 0.02]) metrics.addedLatency.observe(v);
  const g = await raw(port, '/api/overview');
  tt.equal(g.status, 200);
  tt.equal(g.headers['content-type'], 'application/json; charset=utf-8');
  const o = JSON.parse(g.body) as Overview;
  tt.equal(o.addedLatency.count, 3);
  tt.equal(o.sales, 0);
  tt.equal(o.approvals, null, 'no approvals counter: null, not 0');
  tt.ok(Math.abs((o.addedLatency.p50 ?? 0) - 0.00075) < 1e-12, `p50 interpolated in its bucket (${o.addedLatency.p50})`);
  tt.equal((await raw(port, '/api/overview', 'POST')).status, 405);
});

t.test('bucketQuantile is Prometheus histogram_quantile', async (tt) => {
  tt.equal(bucketQuantile(0.5, []), null);
  tt.equal(bucketQuantile(0.5, [[1, 0], [Infinity, 0]]), null, 'no observations');
  tt.equal(bucketQuantile(0.5, [[1, 10], [2, 20], [Infinity, 20]]), 1, 'the rank at a bucket edge');
  tt.equal(bucketQuantile(0.75, [[1, 10], [2, 20], [Infinity, 20]]), 1.5, 'linear inside the bucket');
  tt.equal(bucketQuantile(0.99, [[1, 10], [2, 10], [Infinity, 20]]), 2, 'in +Inf: the highest finite bound');
});
