/**
 * TLS and mutual TLS on listeners and upstream links (issue 18), over real sockets with
 * certificates made by `openssl` at test time (./support/certs.ts): a sale end to end over
 * a TLS listener; plain, certificate-less, wrong-CA, expired and unlisted clients refused
 * and counted; an upstream behind a TLS terminator, a host name mismatch, verification
 * turned off; SIGHUP's reload (new connections get the new certificate, open ones carry
 * on, a bad file keeps the old one); config errors naming the path.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { getDialect, type IsoMessage } from '../codec/index.js';
import { configFromJson, ConfigError, defaultConfig, TLS_DEFAULTS, UPSTREAM_DEFAULTS, type TlsConfig } from '../switch/config/index.js';
import { reloadTls, startSwitch } from '../switch/cli/start-command.js';
import { FramedConn } from '../switch/edge/framed-conn.js';
import { subjectAllowed } from '../switch/edge/tls.js';
import type { Switch } from '../switch/engine/switch.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerSim } from '../switch/sim/issuer.js';
import { makePki, opensslMissing, type TestPki } from './support/certs.js';
import { sale } from './support/switch-harness.js';
import { until } from './support/until.js';

const missing = opensslMissing();
if (missing && process.env.CI_REQUIRE_TOOLS) t.fail(`${missing}; CI_REQUIRE_TOOLS is set, so this fails`);
const pki: TestPki | null = missing ? null : makePki();
t.teardown(() => pki?.cleanup());

const METRIC = 'revswitch_tls_handshake_failures_total';

interface Running {
  sw: Switch;
  issuer: IssuerSim;
  port: number;
  /** Every log line, JSON. */
  lines: string[];
  log: ReturnType<typeof createLogger>;
}

/** A switch with one listener (`tls` on it) and one upstream, built like test/support/switch-harness.ts does. */
async function startTls(tt: Test, opts: { listenerTls?: TlsConfig; upstream?: { port: number; tls?: TlsConfig }; waitUp?: boolean }): Promise<Running> {
  const issuer = await startIssuer({ seed: 1, approveRate: 1 });
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  const cfg = defaultConfig();
  Object.assign(cfg.listeners[0], { name: 'tls', port: 0, ...(opts.listenerTls ? { tls: opts.listenerTls } : {}) });
  cfg.admin = 'off';
  cfg.store = 'memory:';
  cfg.panHashKey = 'dff2ad79c71e5c0eba568002bfd86ec05eb5c62dfd845c28ad5d7a34bbed0871';
  cfg.tickMs = 5;
  cfg.upstreams.push({
    name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: opts.upstream?.port ?? issuer.port, timeoutMs: 2000, reconnectBackoffMs: [50, 100],
    ...(opts.upstream?.tls ? { tls: opts.upstream.tls } : {}),
  });
  const running = await startSwitch(cfg, log);
  tt.teardown(async () => {
    await running.stop();
    await issuer.close();
  });
  if (opts.waitUp !== false && !(await running.sw.waitUntilUp(10_000))) throw new Error('the upstream link did not come up');
  return { sw: running.sw, issuer, port: running.sw.ports()[0], lines, log };
}

/** The failure count of one label, read from the switch's Prometheus registry. */
async function failures(sw: Switch, listener: string): Promise<number> {
  const m = sw.metrics.registry.getSingleMetric(METRIC);
  if (!m) throw new Error(`${METRIC} is not registered`);
  const got = await m.get();
  return got.values.filter((v) => v.labels.listener === listener).reduce((n, v) => n + v.value, 0);
}

interface Terminal {
  socket: Socket;
  /** Resolves once the handshake is done (at once for plain TCP). */
  ready: Promise<void>;
  closed: Promise<void>;
  /** The answer to `msg`, or null when the connection ended first. */
  sale(msg?: IsoMessage): Promise<IsoMessage | null>;
  peer(): PeerCertificate | null;
}

/** A terminal over TLS (`opts`) or plain TCP ('plain'), closed at teardown. */
function terminal(tt: Test, port: number, opts: ConnectionOptions | 'plain'): Terminal {
  const socket = opts === 'plain' ? netConnect({ host: '127.0.0.1', port }) : tlsConnect({ host: '127.0.0.1', port, ...opts });
  const conn = new FramedConn(socket, { dialect: getDialect('iso87a'), framing: 'len2', maxFrame: 8192 });
  const ready = new Promise<void>((resolve) => socket.once(opts === 'plain' ? 'connect' : 'secureConnect', () => resolve()));
  const closed = new Promise<void>((resolve) => { conn.onClose = () => resolve(); });
  const waiting = new Set<(m: IsoMessage | null) => void>();
  conn.onMessage = (m) => { for (const w of waiting) w(m); };
  void closed.then(() => { for (const w of waiting) w(null); });
  tt.teardown(() => conn.close());
  return {
    socket, ready, closed,
    async sale(msg = sale()) {
      // A server that refuses us mid-handshake may close before `ready`: either settles this.
      await Promise.race([ready, closed]);
      if (!conn.isOpen) return null;
      const stan = msg.get(11);
      const answer = new Promise<IsoMessage | null>((resolve) => {
        const w = (m: IsoMessage | null): void => {
          if (m !== null && m.get(11) !== stan) return;
          waiting.delete(w);
          resolve(m);
        };
        waiting.add(w);
      });
      conn.send(msg);
      return answer;
    },
    peer: () => (opts === 'plain' ? null : (socket as TLSSocket).getPeerCertificate()),
  };
}

function tlsOf(over: Partial<TlsConfig>): TlsConfig {
  return { ...TLS_DEFAULTS, ...over };
}

const skip = missing || false;

t.test('a TLS listener: a sale end to end; a plain TCP client refused and counted', { skip }, async (tt) => {
  const p = pki as TestPki;
  const r = await startTls(tt, { listenerTls: tlsOf({ cert: p.server.cert, key: p.server.key }) });
  tt.equal(await failures(r.sw, 'tls'), 0, 'the TLS listener shows in the metric at 0');
  const good = terminal(tt, r.port, { ca: readFileSync(p.ca) });
  const answer = await good.sale();
  tt.equal(answer?.get(39), '00', 'the sale over TLS is approved');

  const plain = terminal(tt, r.port, 'plain');
  tt.equal(await plain.sale(), null, 'a plain TCP client gets no answer: its connection is closed');
  await until(async () => (await failures(r.sw, 'tls')) >= 1, 'the plain client counted as a handshake failure');
  tt.ok(r.lines.some((l) => l.includes('TLS connection refused') && l.includes('"listener":"tls"')), 'the refusal is logged naming the listener');

  const untrusting = terminal(tt, r.port, { ca: readFileSync(p.wrongCa) });
  tt.equal(await untrusting.sale(), null, 'a client that does not trust the server certificate gets nowhere');
});

t.test('mutual TLS: no certificate, the wrong CA, expired, an unlisted subject refused; a listed one accepted', { skip }, async (tt) => {
  const p = pki as TestPki;
  const r = await startTls(tt, {
    listenerTls: tlsOf({ cert: p.server.cert, key: p.server.key, ca: p.ca, requestCert: true, allowedSubjects: ['DNS:acquirer-1.example'] }),
  });
  const ca = readFileSync(p.ca);
  const withCert = (pair: { cert: string; key: string }): ConnectionOptions => ({ ca, cert: readFileSync(pair.cert), key: readFileSync(pair.key) });
  // The unlisted subject first: only the first failure of a second is sure to be logged.
  const cases: [string, ConnectionOptions][] = [
    ['a valid certificate whose subject is not in allowedSubjects', withCert(p.clientUnlisted)],
    ['no client certificate', { ca }],
    ['a certificate from the wrong CA', withCert(p.clientWrongCa)],
    ['an expired certificate', withCert(p.clientExpired)],
  ];
  let expected = 0;
  const started = Date.now();
  for (const [what, opts] of cases) {
    const c = terminal(tt, r.port, opts);
    tt.equal(await c.sale(), null, `${what}: refused, no answer`);
    expected++;
    await until(async () => (await failures(r.sw, 'tls')) >= expected, `${what} counted`);
  }
  const refused = r.lines.filter((l) => l.includes('TLS connection refused'));
  tt.match(refused[0], /not in allowedSubjects/, 'the unlisted subject is logged as such');
  if (Date.now() - started < 1000) tt.equal(refused.length, 1, 'four failures within a second: one log line (the rest counted, not logged)');
  const ok = terminal(tt, r.port, withCert(p.client));
  tt.equal((await ok.sale())?.get(39), '00', 'a valid, listed client certificate: the sale is approved');
  tt.equal(await failures(r.sw, 'tls'), expected, 'and it counted no failure');
});

t.test('allowedSubjects matches a CN, a SAN entry as written, or its bare name', async (tt) => {
  const cert = { subject: { CN: 'acq-cn' }, subjectaltname: 'DNS:acquirer-1.example, IP Address:10.0.0.1' } as unknown as PeerCertificate;
  tt.ok(subjectAllowed(cert, ['acq-cn']), 'CN');
  tt.ok(subjectAllowed(cert, ['DNS:acquirer-1.example']), 'SAN as written');
  tt.ok(subjectAllowed(cert, ['acquirer-1.example']), 'SAN bare');
  tt.ok(subjectAllowed(cert, ['10.0.0.1']), 'an IP SAN bare');
  tt.notOk(subjectAllowed(cert, ['DNS:acq-cn', 'acquirer-2.example']), 'nothing else');
  tt.ok(subjectAllowed(cert, []), 'an empty list lets every verified certificate in');
});

/** A TLS terminator in front of the plain issuer simulator: what a host's TLS front end does. */
async function terminator(tt: Test, pair: { cert: string; key: string }, issuerPort: number): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createTlsServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (s) => {
    const up = netConnect({ host: '127.0.0.1', port: issuerPort });
    sockets.add(s).add(up);
    s.on('error', () => up.destroy());
    up.on('error', () => s.destroy());
    s.pipe(up).pipe(s);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tt.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

t.test('an upstream over TLS: up and a sale through; a host name mismatch never up, counted; verification off up and warned', { skip }, async (tt) => {
  const p = pki as TestPki;
  const issuer = await startIssuer({ seed: 2, approveRate: 1 });
  tt.teardown(() => issuer.close());

  await tt.test('the host certificate matches 127.0.0.1', async (t2) => {
    const port = await terminator(t2, p.server, issuer.port);
    const r = await startTls(t2, { upstream: { port, tls: tlsOf({ ca: p.ca }) } });
    const c = await connectClient({ port: r.port });
    t2.teardown(() => c.close());
    t2.equal((await c.request(sale(), 5000)).get(39), '00', 'the sale goes through the TLS link');
    t2.equal(await failures(r.sw, 'upstream issuer'), 0, 'no TLS failure on the link');
    t2.notOk(r.lines.some((l) => l.includes('verification is off')), 'no warning');
  });

  await tt.test('the host certificate names another host', async (t2) => {
    const port = await terminator(t2, p.otherName, issuer.port);
    const r = await startTls(t2, { upstream: { port, tls: tlsOf({ ca: p.ca }) }, waitUp: false });
    await until(async () => (await failures(r.sw, 'upstream issuer')) >= 2, 'two failed handshakes on the link');
    t2.notOk(r.sw.links.get('issuer')?.isUp, 'the link never came up');
    t2.ok(r.lines.some((l) => l.includes('TLS connection refused') && l.includes('"upstream":"issuer"')), 'the mismatch is logged naming the upstream');
  });

  await tt.test('the same, with rejectUnauthorized: false', async (t2) => {
    const port = await terminator(t2, p.otherName, issuer.port);
    const r = await startTls(t2, { upstream: { port, tls: tlsOf({ ca: p.ca, rejectUnauthorized: false }) } });
    t2.ok(r.sw.links.get('issuer')?.isUp, 'the link comes up');
    const warns = r.lines.filter((l) => l.includes('verification is off'));
    t2.equal(warns.length, 1, 'one warning at start');
    t2.match(warns[0], /"upstream":"issuer"/, 'naming the upstream');
  });
});

t.test('reload: new connections get the new certificate, open ones carry on; a bad file keeps the old one', { skip }, async (tt) => {
  const p = pki as TestPki;
  const live = { cert: join(p.dir, 'live.pem'), key: join(p.dir, 'live.key') };
  copyFileSync(p.server.cert, live.cert);
  copyFileSync(p.server.key, live.key);
  const r = await startTls(tt, { listenerTls: tlsOf({ cert: live.cert, key: live.key }) });
  const ca = readFileSync(p.ca);
  // The SHA-256 fingerprint of a PEM certificate file, as getPeerCertificate() writes it.
  const fingerprintOf = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;
  const before = terminal(tt, r.port, { ca });
  tt.equal((await before.sale())?.get(39), '00', 'a sale on the first connection');
  tt.equal(before.peer()?.fingerprint256, fingerprintOf(p.server.cert), 'it sees the first certificate');

  copyFileSync(p.server2.cert, live.cert);
  copyFileSync(p.server2.key, live.key);
  const ok = reloadTls(r.sw, r.log);
  tt.same(ok, { ok: ['tls'], failed: [] }, 'the listener reloaded');
  const after = terminal(tt, r.port, { ca });
  tt.equal((await after.sale())?.get(39), '00', 'a sale on a new connection');
  tt.equal(after.peer()?.fingerprint256, fingerprintOf(p.server2.cert), 'the new connection sees the new certificate');
  tt.equal((await before.sale())?.get(39), '00', 'the connection opened before the reload still works');

  writeFileSync(live.cert, 'not a certificate\n');
  const bad = reloadTls(r.sw, r.log);
  tt.same(bad.ok, [], 'nothing reloaded');
  tt.equal(bad.failed.length, 1, 'one failure');
  tt.match(bad.failed[0], { name: 'tls', error: new RegExp(`tls\\.cert ${live.cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected PEM certificates`) }, 'naming the file and why');
  const logged = r.lines.find((l) => l.includes('TLS reload failed'));
  tt.ok(logged?.includes(live.cert), 'an error line names the file');
  tt.notOk(r.lines.some((l) => l.includes('PRIVATE KEY')), 'no key content in any log line');
  const third = terminal(tt, r.port, { ca });
  tt.equal((await third.sale())?.get(39), '00', 'a sale after the failed reload');
  tt.equal(third.peer()?.fingerprint256, fingerprintOf(p.server2.cert), 'the last good certificate is still served');
});


t.test('config: files checked at load with their path; rejectUnauthorized false accepted; unknown keys refused', { skip }, async (tt) => {
  const p = pki as TestPki;
  const listener = (tls: Record<string, unknown>): unknown => ({ listeners: [{ port: 0, tls }] });
  tt.throws(() => configFromJson(listener({ cert: '/nonexistent/cert.pem', key: p.server.key }), 'cfg.json'),
    new ConfigError('cfg.json: listeners[0].tls.cert: /nonexistent/cert.pem: cannot read (ENOENT)'), 'a missing cert file: the file, the path, the reason');
  const garbage = join(p.dir, 'garbage.key');
  writeFileSync(garbage, 'SECRETSECRET\n');
  const e = (() => {
    try {
      configFromJson(listener({ cert: p.server.cert, key: garbage }), 'cfg.json');
    } catch (err) {
      return err as Error;
    }
    return null;
  })();
  tt.match(e?.message, /^cfg\.json: listeners\[0\]\.tls\.key: .*garbage\.key: expected an unencrypted PEM private key$/, 'a bad key file named');
  tt.notOk(e?.message.includes('SECRET'), 'its content is not');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert, key: p.server2.key }), 'cfg.json'), /listeners\[0\]\.tls\.key: .*: expected the private key of the certificate/, 'a key that is not the certificate\'s');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert }), 'cfg.json'), /listeners\[0\]\.tls\.key: expected the path of a PEM file/, 'a listener needs a key');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert, key: p.server.key, requestCert: true }), 'cfg.json'), /listeners\[0\]\.tls\.ca: expected/, 'requestCert needs a CA');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert, key: p.server.key, allowedSubjects: ['x'] }), 'cfg.json'), /allowedSubjects: expected requestCert: true/, 'allowedSubjects needs verified clients');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert, key: p.server.key, foo: 1 }), 'cfg.json'), /cfg\.json: listeners\[0\]\.tls\.foo: unknown key/, 'an unknown key under tls');
  tt.throws(() => configFromJson(listener({ cert: p.server.cert, key: p.server.key, minVersion: 'TLSv1.1' }), 'cfg.json'), /minVersion: expected "TLSv1.2" or "TLSv1.3"/, 'TLS 1.1 refused');
  const c = configFromJson({ upstreams: [{ name: 'up', host: 'h', port: 1, tls: { ca: p.ca, rejectUnauthorized: false, servername: 'issuer.example' } }] }, 'cfg.json');
  tt.match(c.upstreams[0].tls, { rejectUnauthorized: false, servername: 'issuer.example', minVersion: 'TLSv1.2', ca: p.ca }, 'rejectUnauthorized: false accepted, defaults filled');
  const d = configFromJson(listener({ cert: p.server.cert, key: p.server.key }), 'cfg.json');
  tt.match(d.listeners[0].tls, { requestCert: false, rejectUnauthorized: true, minVersion: 'TLSv1.2', allowedSubjects: [] }, 'listener defaults');
  tt.equal(defaultConfig().listeners[0].tls, undefined, 'no tls unless configured');
});
