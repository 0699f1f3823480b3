/**
 * Metrics, health and readiness over the admin HTTP of a running switch (issue 7): a
 * scripted scenario through the switch and the issuer simulator over real TCP, then a
 * scrape of /metrics checked by Prometheus's own `promtool check metrics` and against
 * what the scenario implies; /readyz as the upstream goes down and comes back. No fixed
 * sleeps: every wait polls a condition with a cap.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { encode, frame, getDialect } from '../codec/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { createLogger } from '../switch/observe/log.js';
import { decodeReason, mtiClassOf, mtiSlot } from '../switch/observe/metrics.js';
import { startIssuer, type IssuerSim } from '../switch/sim/issuer.js';
import { IsoError } from '../codec/index.js';
import { sale, startHarness } from './support/switch-harness.js';
import { freePort } from './support/built.js';
import { until } from './support/until.js';

const D87 = getDialect('iso87a');

interface Sample { name: string; labels: Record<string, string>; value: number }

/** The Prometheus text format, samples only (HELP and TYPE lines are promtool's business). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const labels: Record<string, string> = {};
    if (brace >= 0 && brace < space) {
      for (const m of line.slice(brace + 1, line.lastIndexOf('}')).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    }
    out.push({ name, labels, value: Number(line.slice(space + 1)) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels include `want` (0 when none). */
function value(samples: Sample[], name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(want).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

function has(samples: Sample[], name: string): boolean {
  return samples.some((s) => s.name === name);
}

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** promtool from Debian's prometheus package; null (with why) when it is not installed. */
function promtool(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error ? null : 'promtool';
}


t.test('MTI class and decode-error reason: bounded label values', async (tt) => {
  tt.equal(mtiClassOf(mtiSlot('0200')), '0200');
  tt.equal(mtiClassOf(mtiSlot('0210')), '0210');
  tt.equal(mtiClassOf(mtiSlot('0401')), '0400', 'a repeat counts with its first send');
  tt.equal(mtiClassOf(mtiSlot('0421')), '0420');
  tt.equal(mtiClassOf(mtiSlot('1200')), '1200');
  tt.equal(mtiClassOf(mtiSlot('')), 'other');
  tt.equal(mtiClassOf(mtiSlot('02x0')), 'other');
  tt.equal(decodeReason(new IsoError('frame', 0, 'frame length 9000 exceeds max 8192')), 'frame_too_long');
  tt.equal(decodeReason(new IsoError('mti', 0, 'non-digit')), 'mti');
  tt.equal(decodeReason(new IsoError(3, 20, 'expected 6 digits, got 4 bytes')), 'truncated');
  tt.equal(decodeReason(new IsoError(49, 80, 'non-alphanumeric character')), 'bad_character');
  tt.equal(decodeReason(new IsoError(2, 20, 'length 25 exceeds max 19')), 'too_long');
  tt.equal(decodeReason(new IsoError(130, 20, 'bitmap announces field 130, which dialect iso87a does not define')), 'undefined_field');
  tt.equal(decodeReason(new Error('not a codec error')), 'other');
});

t.test('a scripted scenario, scraped: promtool accepts the exposition and the counters moved as the scenario implies', async (tt) => {
  const h = await startHarness(tt, { admin: true });
  const admin = h.admin;
  if (!admin) throw new Error('the harness did not start the admin server');
  const port = admin.port;
  tt.ok(port > 0, `admin on an ephemeral port (${port})`);

  const c = await h.client();
  const APPROVED = 5;
  for (let i = 0; i < APPROVED; i++) {
    const res = await c.request(sale({ amount: '1000' }));
    tt.equal(res.get(39), '00', `sale ${i + 1} approved`);
  }
  const declined = await c.request(sale({ amount: '1005' }));
  tt.equal(declined.get(39), '05', 'a decline (..05): no reversal');
  // ..99: approved and held at the issuer, never answered: one timeout, one reversal.
  const lost = await c.request(sale({ amount: '1099' }));
  tt.equal(lost.get(39), '91', 'the switch answers 91 at its deadline');
  // A sale whose last field does not decode: rejected with 30, never forwarded.
  const bad = sale({ amount: '1300' });
  const body = encode(D87, bad);
  body[body.length - 1] = 0x7e;
  const rejected = c.waitFor((m) => m.get(11) === bad.get(11));
  c.sendRaw(frame('len2', body));
  tt.equal((await rejected).get(39), '30', 'a malformed sale: format error');
  await h.until(() => h.sw.counters.get('reversals_acked') === 1, 'the reversal acknowledged');

  const scrape = await get(port, '/metrics');
  tt.equal(scrape.status, 200);
  tt.match(scrape.type, /^text\/plain; version=0\.0\.4/, 'the Prometheus text format content type');

  // (a) The real Prometheus tool.
  const tool = promtool();
  if (tool === null) {
    if (process.env.CI_REQUIRE_TOOLS) tt.fail('promtool is not installed (Debian package prometheus) and CI_REQUIRE_TOOLS is set');
    else tt.pass('promtool check metrics', { skip: 'promtool is not installed (apt-get install prometheus); set CI_REQUIRE_TOOLS to make this a failure' });
  } else {
    const r = spawnSync(tool, ['check', 'metrics'], { input: scrape.body, encoding: 'utf8' });
    tt.equal(r.status, 0, `promtool check metrics exits 0${r.status === 0 ? '' : `:\n${r.stdout}${r.stderr}`}`);
    tt.equal(`${r.stdout}${r.stderr}`.trim(), '', 'and finds nothing to lint');
  }

  // (b) The numbers.
  const m = parse(scrape.body);
  const SALES = APPROVED + 3; // + the decline, the lost approval, the malformed one
  tt.equal(value(m, 'revswitch_reversals_total', { reason: 'timeout' }), 1, 'reversals_total{reason="timeout"} 1');
  tt.equal(value(m, 'revswitch_reversals_total'), 1, 'and no other reversal');
  tt.ok(has(m, 'revswitch_reversals_total') && m.filter((s) => s.name === 'revswitch_reversals_total').length >= 14, 'every failure class is exposed, at 0 until it happens');
  tt.equal(value(m, 'revswitch_reversals_finished_total', { state: 'acked' }), 1, 'acknowledged by the issuer');
  tt.equal(value(m, 'revswitch_reversals_finished_total', { state: 'manual' }), 0);
  tt.equal(value(m, 'revswitch_reversal_sends_total', { attempt: 'first' }), 1);
  tt.equal(value(m, 'revswitch_upstream_timeouts_total'), 1, 'one timeout');
  tt.equal(value(m, 'revswitch_late_responses_total'), 0);
  tt.equal(value(m, 'revswitch_undeliverable_responses_total'), 0);

  tt.equal(value(m, 'revswitch_messages_total', { side: 'terminal', direction: 'in', mti_class: '0200' }), SALES, 'terminal: every sale read');
  tt.equal(value(m, 'revswitch_messages_total', { side: 'terminal', direction: 'out', mti_class: '0210' }), SALES, 'terminal: every sale answered');
  tt.equal(value(m, 'revswitch_messages_total', { side: 'upstream', direction: 'out', mti_class: '0200' }), SALES - 1, 'upstream: all but the malformed one forwarded');
  tt.equal(value(m, 'revswitch_messages_total', { side: 'upstream', direction: 'in', mti_class: '0210' }), SALES - 2, 'upstream: all but the lost one answered');
  tt.equal(value(m, 'revswitch_messages_total', { side: 'upstream', direction: 'out', mti_class: '0400' }), 1, 'one reversal sent');
  tt.equal(value(m, 'revswitch_messages_total', { side: 'upstream', direction: 'in', mti_class: '0410' }), 1, 'its answer');
  tt.ok(value(m, 'revswitch_messages_total', { side: 'upstream', direction: 'out', mti_class: '0800' }) >= 1, 'the sign-on');
  tt.equal(value(m, 'revswitch_decode_errors_total', { side: 'terminal', dialect: 'iso87a', reason: 'bad_character' }), 1, 'the malformed sale, by dialect and reason');
  tt.equal(value(m, 'revswitch_decode_errors_total'), 1, 'and no other decode error');

  tt.equal(value(m, 'revswitch_upstream_round_trip_seconds_count', { upstream: 'issuer' }), SALES - 2, 'a round trip per answered sale');
  tt.ok(value(m, 'revswitch_upstream_round_trip_seconds_bucket', { upstream: 'issuer', le: '+Inf' }) === SALES - 2, 'the +Inf bucket is the count');
  tt.equal(value(m, 'revswitch_added_latency_seconds_count'), SALES - 2, 'added latency per sale answered from upstream');
  tt.ok(value(m, 'revswitch_added_latency_seconds_sum') >= 0, 'added latency is not negative');

  tt.equal(value(m, 'revswitch_requests_in_flight'), 0, 'nothing in flight');
  tt.equal(value(m, 'revswitch_upstream_up', { upstream: 'issuer' }), 1, 'the link is up');
  tt.equal(value(m, 'revswitch_saf_depth'), 0, 'the SAF queue is empty');
  tt.equal(value(m, 'revswitch_saf_oldest_entry_age_seconds'), 0);
  tt.equal(value(m, 'revswitch_manual_queue_size'), 0, 'nothing waits for a person');
  tt.ok(value(m, 'revswitch_connections_opened_total') >= 1, 'connections opened');
  tt.equal(value(m, 'revswitch_connections_rejected_total'), 0);
  tt.ok(value(m, 'revswitch_connections_open', { listener: 'pos' }) >= 1, 'our connection is open');
  tt.ok(value(m, 'revswitch_store_commit_duration_seconds_count') >= 1, 'store commits timed');
  tt.ok(value(m, 'revswitch_store_committed_ops_total') >= SALES - 1, 'store writes committed');
  tt.equal(value(m, 'revswitch_switch_events_total', { event: 'timeouts' }), 1, 'the internal counters, by name');
  tt.ok(has(m, 'process_cpu_user_seconds_total') && has(m, 'nodejs_eventloop_lag_seconds'), 'the default Node process metrics');
  for (const s of m) {
    for (const [k, v] of Object.entries(s.labels)) {
      tt.notOk(/^\d{6,}$/.test(v), `no PAN, STAN or id as a label value (${s.name}{${k}="${v}"})`);
    }
  }

  // The other endpoints.
  tt.same(await get(port, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
  const ready = await get(port, '/readyz');
  tt.equal(ready.status, 200, 'ready: the link is up and the store writable');
  tt.match(ready.body, /upstream signed on: issuer/);
  tt.equal((await get(port, '/nope')).status, 404);
  tt.equal((await get(port, '/metrics', 'POST')).status, 405);
  admin.mount('/test/', async (req, res) => {
    if (req.url !== '/test/ping') return false;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"pong":true}');
    return true;
  });
  tt.same(await get(port, '/test/ping'), { status: 200, type: 'application/json', body: '{"pong":true}' }, 'a mounted route');
  tt.equal((await get(port, '/test/other')).status, 404, 'a mounted handler that declines: 404');
});

t.test('/readyz: 503 before the upstream is signed on, 200 after, 503 when it goes down, 200 when it comes back', async (tt) => {
  const upstreamPort = await freePort();
  const cfg = defaultConfig();
  cfg.listeners[0].port = 0;
  cfg.store = 'memory:';
  cfg.panHashKey = '9f281624f4b57360b7ce461dcf4eac11a28dffa74517e206fb5e9c724839000f';
  cfg.logLevel = 'silent';
  cfg.admin = '127.0.0.1:0';
  cfg.upstreams.push({ name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: upstreamPort, timeoutMs: 300, reconnectBackoffMs: [50, 100] });
  const running = await startSwitch(cfg, createLogger('silent'));
  let issuer: IssuerSim | null = null;
  tt.teardown(async () => {
    await running.stop();
    await issuer?.close();
  });
  const admin = running.admin;
  if (!admin) throw new Error('no admin server');
  const readyz = (): Promise<{ status: number; body: string }> => get(admin.port, '/readyz');

  const before = await readyz();
  tt.equal(before.status, 503, 'not ready: nothing listens on the upstream port yet');
  tt.match(before.body, /no upstream link is signed on \(issuer: (down|connecting)\)/, 'and the body says why');
  tt.equal((await get(admin.port, '/healthz')).status, 200, 'but alive');

  issuer = await startIssuer({ port: upstreamPort, seed: 1, approveRate: 1 });
  await until(async () => (await readyz()).status === 200, 'ready once the issuer is up', 15_000, 20);
  tt.pass('200 once the link signed on');

  await issuer.close();
  issuer = null;
  await until(async () => (await readyz()).status === 503, 'not ready once the issuer is gone', 15_000, 20);
  tt.match((await readyz()).body, /no upstream link is signed on/, '503 when the link went down');
  const metrics = parse((await get(admin.port, '/metrics')).body);
  tt.equal(value(metrics, 'revswitch_upstream_up', { upstream: 'issuer' }), 0, 'revswitch_upstream_up 0');

  issuer = await startIssuer({ port: upstreamPort, seed: 2, approveRate: 1 });
  await until(async () => (await readyz()).status === 200, 'ready again once a new issuer listens on the same port', 15_000, 20);
  tt.pass('200 again: the link reconnected with backoff and signed on');
});

t.test('admin off, and an admin port already taken: the switch runs without it and says so', async (tt) => {
  const issuer = await startIssuer({ seed: 1, approveRate: 1 });
  tt.teardown(() => issuer.close());
  const base = (admin: string) => {
    const cfg = defaultConfig();
    cfg.listeners[0].port = 0;
    cfg.store = 'memory:';
    cfg.panHashKey = '9f281624f4b57360b7ce461dcf4eac11a28dffa74517e206fb5e9c724839000f';
    cfg.admin = admin;
    cfg.upstreams.push({ name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, timeoutMs: 300 });
    return cfg;
  };
  const off = await startSwitch(base('off'), createLogger('silent'));
  tt.equal(off.admin, null, 'admin off: no server');
  await off.stop();

  const first = await startSwitch(base('127.0.0.1:0'), createLogger('silent'));
  tt.teardown(() => first.stop());
  const taken = first.admin?.port ?? 0;
  const lines: string[] = [];
  const second = await startSwitch(base(`127.0.0.1:${taken}`), createLogger('info', (l) => { lines.push(l); }));
  tt.teardown(() => second.stop());
  tt.equal(second.admin, null, 'no admin server on a port in use');
  tt.ok(lines.some((l) => l.includes('admin server not started')), 'an error line says so');
  tt.ok(second.sw.ports()[0] > 0, 'and the switch still listens for terminals');
});
