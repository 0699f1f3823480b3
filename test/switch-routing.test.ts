/**
 * Routing over real TCP: a sale takes the first rule of the routing table it meets, then
 * the first of the rule's upstreams that is up (a fallback when the primary is down); a
 * card no rule takes is declined with the standard's no-route code and counted, and never
 * forwarded. A reversal goes to the upstream its original went to. The table is
 * validated at load, each error naming the file and the path; `revswitch route` explains
 * a rule with the PAN masked.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, configFromJson, defaultConfig, UPSTREAM_DEFAULTS, type SwitchConfig } from '../switch/config/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { createLogger } from '../switch/observe/log.js';
import { connectClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerEvent, type IssuerSim } from '../switch/sim/issuer.js';
import { nodeArgsFor, ROOT } from './support/built.js';
import { sale } from './support/switch-harness.js';
import { until } from './support/until.js';

const VISA = '4761739001010119';
const MASTERCARD = '5500000000000004';
const AMEX = '378282246310005';

async function issuerRecording(): Promise<{ issuer: IssuerSim; seen: IssuerEvent[] }> {
  const issuer = await startIssuer({ seed: 7, approveRate: 1 });
  const seen: IssuerEvent[] = [];
  issuer.onMessage((e) => seen.push(e));
  return { issuer, seen };
}

const postings = (seen: IssuerEvent[]): IssuerEvent[] => seen.filter((e) => e.msg.mti === '0200');

t.test('primary, fallback when the primary is down, no route, and the reversal to the original\'s upstream', async (tt) => {
  const primary = await issuerRecording();
  const fallback = await issuerRecording();
  const mc = await issuerRecording();
  const cfg: SwitchConfig = defaultConfig();
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.logLevel = 'silent';
  cfg.admin = 'off';
  cfg.store = 'memory:';
  cfg.panHashKey = 'acf5ba5a5092fda6708c280a381c5051ae833bfb77db807e17eac5808929eb0a';
  cfg.tickMs = 5;
  const up = (name: string, port: number) => ({ ...UPSTREAM_DEFAULTS, name, host: '127.0.0.1', port, timeoutMs: 2000, reconnectBackoffMs: [50, 100] });
  cfg.upstreams = [up('visa-a', primary.issuer.port), up('visa-b', fallback.issuer.port), up('mc', mc.issuer.port)];
  cfg.routes = [
    { name: 'visa', pan: ['4'], processingCode: [], acquirer: [], forwarder: [], upstreams: ['visa-a', 'visa-b'] },
    { name: 'mastercard', pan: ['51', '52', '53', '54', '55'], processingCode: ['00'], acquirer: [], forwarder: [], upstreams: ['mc'] },
  ];
  const running = await startSwitch(cfg, createLogger('silent'));
  const sw = running.sw;
  const client = await connectClient({ port: sw.ports()[0] });
  tt.teardown(async () => {
    await client.close();
    await sw.stop(200);
    await running.store.close();
    for (const i of [primary, fallback, mc]) await i.issuer.close();
  });
  await until(() => [...sw.links.values()].every((l) => l.isUp), 'every link signed on');

  const v1 = sale({ over: { 2: VISA } });
  tt.equal((await client.request(v1, 5000)).get(39), '00', 'a Visa card is approved');
  tt.equal(postings(primary.seen).length, 1, 'through its primary');
  tt.equal(postings(fallback.seen).length, 0, 'not the fallback');

  const m1 = sale({ over: { 2: MASTERCARD } });
  tt.equal((await client.request(m1, 5000)).get(39), '00', 'a Mastercard purchase is approved');
  tt.equal(postings(mc.seen).length, 1, 'through the Mastercard upstream');

  const amex = sale({ over: { 2: AMEX, 35: `${AMEX}=2812101`, 52: '0123456789ABCDEF' } });
  const declined = await client.request(amex, 5000);
  tt.equal(declined.get(39), '92', 'a card no rule takes: 92 (cannot be found for routing) on 1987');
  const unrouted = sw.txns.get(`${amex.get(32) ?? ''}/${amex.get(41)}|${amex.get(11)}|${amex.get(7)}`);
  tt.ok(unrouted, 'the unrouted sale is kept for its duplicates');
  tt.same([35, 36, 45, 52, 55].filter((n) => unrouted?.request.has(n)), [], 'without its track or PIN block: sensitive data is not kept for a sale that never left either');
  await until(() => unrouted?.packed === true, 'the unrouted sale (never sent upstream) packed like any other');
  const cashback = sale({ over: { 2: MASTERCARD, 3: '090000' } });
  tt.equal((await client.request(cashback, 5000)).get(39), '92', 'a processing code the rule does not list: no route either');
  tt.equal(sw.counters.get('no_route'), 2, 'both counted');
  tt.equal([primary, fallback, mc].reduce((n, i) => n + postings(i.seen).length, 0), 2, 'and neither was forwarded');

  // The primary goes away: its link drops, and the rule's fallback takes the next Visa sale.
  await primary.issuer.close();
  const visaA = sw.links.get('visa-a');
  await until(() => visaA?.isUp === false, 'the primary link to go down');
  const v2 = sale({ over: { 2: VISA } });
  tt.equal((await client.request(v2, 5000)).get(39), '00', 'approved with the primary down');
  tt.equal(postings(fallback.seen).length, 1, 'through the fallback');
  tt.equal(sw.counters.get('routed_to_fallback'), 1, 'counted as a fallback');

  // The terminal reverses the sale the fallback approved: the reversal goes where the
  // sale went, whatever the routing table would pick now.
  const rev = sale({ over: { 2: VISA, 39: '17' }, stan: v2.get(11), f7: v2.get(7), rrn: v2.get(37) });
  rev.mti = '0400';
  tt.equal((await client.request(rev, 5000)).get(39), '00', 'the terminal reversal is answered');
  await until(() => fallback.seen.some((e) => e.msg.mti[1] === '4'), 'the reversal at the fallback');
  tt.equal(mc.seen.filter((e) => e.msg.mti[1] === '4').length, 0, 'never at another upstream');

  // Every upstream of a rule down: the issuer is unavailable (91), not "no route".
  await fallback.issuer.close();
  await until(() => sw.links.get('visa-b')?.isUp === false, 'the fallback link to go down');
  tt.equal((await client.request(sale({ over: { 2: VISA } }), 5000)).get(39), '91', 'all of the rule\'s upstreams down: 91');
  tt.equal(sw.counters.get('no_upstream'), 1);
});

t.test('the routing table is validated at load: file, path and reason', async (tt) => {
  const base = { upstreams: [{ name: 'a', host: '127.0.0.1', port: 1 }, { name: 'b', host: '127.0.0.1', port: 2 }] };
  const bad = (routes: unknown, pattern: RegExp, what: string): void => {
    tt.throws(() => configFromJson({ ...base, routes }, 'switch.json'), ConfigError, what);
    try {
      configFromJson({ ...base, routes }, 'switch.json');
    } catch (e) {
      tt.match((e as Error).message, pattern, what);
    }
  };
  bad([{ name: 'x', upstreams: ['a', 'nope'] }], /^switch\.json: routes\[0\]\.upstreams\[1\]: expected one of the upstreams \(a, b\), got "nope"/, 'an unknown upstream');
  bad([{ name: 'x', upstreams: [] }], /routes\[0\]\.upstreams: expected a non-empty array/, 'no upstream');
  bad([{ name: 'x', pan: ['4x'], upstreams: ['a'] }], /routes\[0\]\.pan\[0\]: expected PAN prefixes: 1 to 19 digits/, 'a PAN prefix with a letter');
  bad([{ name: 'x', processingCode: ['0000000'], upstreams: ['a'] }], /routes\[0\]\.processingCode\[0\]/, 'a processing code of 7 digits');
  bad([{ name: 'x', upstreams: ['a', 'a'] }], /routes\[0\]\.upstreams\[1\]: expected each upstream once/, 'an upstream twice');
  bad([{ name: 'all', upstreams: ['a'] }, { name: 'visa', pan: ['4'], upstreams: ['b'] }], /routes\[1\]: expected a reachable rule, but routes\[0\] \(all\) before it/, 'a rule after a catch-all');
  bad([{ name: 'x', upstreams: ['a'] }, { name: 'x', pan: ['4'], upstreams: ['a'] }], /routes\[1\]\.name: expected a name no other route has/, 'two rules with one name');
  bad([{ name: 'x', upstreams: ['a'], bin: ['4'] }], /routes\[0\]\.bin: unknown key/, 'an unknown key');
  const ok = configFromJson({ ...base, routes: [{ name: 'visa', pan: ['4'], upstreams: ['a', 'b'] }, { name: 'rest', upstreams: ['b'] }] }, 'switch.json');
  tt.same(ok.routes.map((r) => [r.name, r.upstreams]), [['visa', ['a', 'b']], ['rest', ['b']]], 'a good table loads');
});

t.test('revswitch route explains the rule a sale takes, the PAN masked', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-route-cli-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'switch.json');
  writeFileSync(file, JSON.stringify({
    upstreams: [{ name: 'visa-a', host: '127.0.0.1', port: 1 }, { name: 'visa-b', host: '127.0.0.1', port: 2 }],
    routes: [{ name: 'visa', pan: ['4'], upstreams: ['visa-a', 'visa-b'] }],
  }));
  const cli = (...args: string[]) => spawnSync(process.execPath, [...nodeArgsFor('switch/cli/main'), 'route', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  const hit = cli('--pan', VISA, '--config', file);
  tt.equal(hit.status, 0, hit.stderr);
  tt.match(hit.stdout, /rule: visa \(routes\[0\]\)/);
  tt.match(hit.stdout, /primary: visa-a/);
  tt.match(hit.stdout, /fallbacks: visa-b/);
  tt.match(hit.stdout, /476173\*+0119/, 'the PAN masked to 6 + 4');
  tt.notMatch(hit.stdout + hit.stderr, VISA, 'never in full');
  const miss = cli('--pan', MASTERCARD, '--config', file, '--json');
  tt.equal(miss.status, 1, 'no rule: exit 1');
  tt.same(JSON.parse(miss.stdout).rule, null);
  tt.notMatch(miss.stdout + miss.stderr, MASTERCARD);
  const usage = cli('--config', file);
  tt.equal(usage.status, 2, 'no --pan: usage error');
  writeFileSync(file, JSON.stringify({ upstreams: [{ name: 'a', host: 'h', port: 1 }], routes: [{ upstreams: ['z'] }] }));
  const broken = cli('--pan', VISA, '--config', file);
  tt.equal(broken.status, 2, 'a bad table: exit 2');
  tt.match(broken.stderr, `${file}: routes[0].upstreams[0]`, 'naming the file and the path');
});
