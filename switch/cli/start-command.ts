/**
 * `revswitch start`: the switch itself. Config file first, flags on top. Without an
 * upstream it starts the demo issuer in-process, so a fresh checkout runs end to end.
 */
import { loadSecurity } from './security-setup.js';
import { widerThanOwner } from '../store/file-modes.js';
import { getDialect, type Dialect } from '../../codec/index.js';
import { describeRulesChange, loadDefaultRules, loadRulesFile, type CompiledRules } from '../../rules/index.js';
import {
  addressOf, ConfigError, defaultConfig, loadConfigFile, NATS_EVENTS_DEFAULTS, UPSTREAM_DEFAULTS, type SwitchConfig,
} from '../config/index.js';
import { Switch } from '../engine/switch.js';
import type { TlsReloadOutcome } from '../edge/tls.js';
import { createEventBus, type EventBus } from '../observe/events/index.js';
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { resolveDialect } from '../config/dialect-file.js';
import { AdminServer, parseAdminAddress, type Readiness } from '../observe/admin.js';
import { registerEventMetrics } from '../observe/events-metrics.js';
import { describeSinks, sinkStatus } from '../observe/events/status.js';
import { defaultConsoleDirs } from '../observe/console-static.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { switchReadiness } from '../engine/readiness.js';
import { createLogger, type Level, type Logger } from '../observe/log.js';
import { startIssuer, type IssuerSim } from '../sim/issuer.js';
import { connectStore, parseSqliteUrl, PostgresStore, redactUrl, type Store } from '../store/index.js';
import { keyFileOf, loadCardKeys } from './card-keys.js';
import type { Command } from 'commander';
import { UsageError } from './args.js';
import { examples, flag, runs, type Parsed } from './kit.js';
import { mountApi } from './admin-routes.js';
import { checkQueueUpstreams, parseReassign } from './queue-upstreams.js';

export const START_USAGE =
  'revswitch start [--config FILE] [--listen HOST:PORT] [--upstream HOST:PORT] [--dialect NAME] [--framing NAME]\n' +
  '                [--upstream-timeout-ms N] [--rules FILE] [--store URL] [--node ID] [--events-dir DIR] [--nats URL]\n' +
  '                [--admin HOST:PORT|off] [--log-level LEVEL] [--reassign-upstream OLD=NEW] [--pretty]';

/** Config from --config, then every flag over it. Exported for tests. */
export function buildConfig(p: Parsed): SwitchConfig {
  const file = flag(p, 'config');
  const c = file ? loadConfigFile(file) : defaultConfig();
  const listen = flag(p, 'listen');
  if (listen) Object.assign(c.listeners[0], addressOf(listen, '--listen'));
  const dialect = flag(p, 'dialect');
  if (dialect) c.listeners[0].dialect = dialect;
  const framing = flag(p, 'framing');
  if (framing) c.listeners[0].framing = framing;
  const upstream = flag(p, 'upstream');
  if (upstream) {
    // [NAME=]HOST:PORT. NAME picks the config's upstream of that name; without a config's
    // upstreams, the one made here is named NAME, else "issuer", as the docs' examples are.
    const eq = upstream.indexOf('=');
    const name = eq > 0 ? upstream.slice(0, eq) : null;
    const hp = addressOf(eq > 0 ? upstream.slice(eq + 1) : upstream, '--upstream');
    if (name !== null && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new ConfigError(`command line: --upstream: the name ${JSON.stringify(name)} is not a name (letters, digits, ".", "_", "-")`);
    }
    if (c.upstreams.length === 0) c.upstreams.push({ name: name ?? DEFAULT_UPSTREAM_NAME, ...UPSTREAM_DEFAULTS, ...hp, dialect: c.listeners[0].dialect });
    else {
      const target = name === null ? c.upstreams[0] : c.upstreams.find((u) => u.name === name);
      if (!target) throw new ConfigError(`command line: --upstream ${name}=...: the config has no upstream named ${JSON.stringify(name)} (it has ${c.upstreams.map((u) => u.name).join(', ')})`);
      Object.assign(target, hp);
    }
  }
  const t = flag(p, 'upstream-timeout-ms');
  if (t !== undefined) {
    const n = Number(t);
    if (!/^\d+$/.test(t) || n < 10 || n > 600_000) throw new ConfigError(`command line: --upstream-timeout-ms: expected an integer from 10 to 600000, got ${JSON.stringify(t)}`);
    c.upstreamTimeoutMs = n;
    for (const u of c.upstreams) u.timeoutMs = n;
  }
  const rules = flag(p, 'rules');
  if (rules) c.rules = rules;
  const store = flag(p, 'store');
  if (store) c.store = store;
  const node = flag(p, 'node');
  if (node !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(node)) throw new ConfigError(`command line: --node: expected 1 to 64 letters, digits, '.', '_' or '-', got ${JSON.stringify(node)}`);
    c.node = node;
  }
  const eventsDir = flag(p, 'events-dir');
  if (eventsDir !== undefined) {
    if (eventsDir === '') throw new ConfigError('command line: --events-dir: expected a directory');
    c.events = { ...c.events, file: { fsync: c.events.file?.fsync ?? false, dir: eventsDir } };
  }
  const nats = flag(p, 'nats');
  if (nats !== undefined) {
    // The same check as events.nats.url in a config file (config/load.ts).
    if (!/^(nats|tls):\/\/[^\s/]+(:\d+)?\/?$/.test(nats)) throw new ConfigError(`command line: --nats: expected a URL like "nats://127.0.0.1:4222", got ${JSON.stringify(nats)}`);
    c.events = { ...c.events, nats: { ...NATS_EVENTS_DEFAULTS, ...c.events.nats, url: nats } };
  }
  const admin = flag(p, 'admin');
  if (admin) {
    if (admin !== 'off') addressOf(admin, '--admin');
    c.admin = admin;
  }
  const level = flag(p, 'log-level');
  if (level) {
    if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new ConfigError(`command line: --log-level: expected debug, info, warn, error or silent, got ${JSON.stringify(level)}`);
    c.logLevel = level as SwitchConfig['logLevel'];
  }
  return c;
}

/** Dialect names used by the config, resolved (and so validated) before anything starts. */
export function dialectsOf(c: SwitchConfig): (name: string) => Dialect {
  const cache = new Map<string, Dialect>();
  for (const name of [...c.listeners.map((l) => l.dialect), ...c.upstreams.map((u) => u.dialect)]) {
    if (!cache.has(name)) cache.set(name, resolveDialect(name));
  }
  return (name) => cache.get(name) ?? getDialect(name);
}

function loadRules(c: SwitchConfig): CompiledRules {
  return c.rules ? loadRulesFile(c.rules) : loadDefaultRules();
}

export interface Running {
  sw: Switch;
  issuer: IssuerSim | null;
  store: Store;
  /** The admin HTTP server (/metrics, /healthz, /readyz); null when `admin` is off or its port could not be bound. */
  admin: AdminServer | null;
  /** Lifecycle events; null when no sink is configured (`events` in the config). */
  events: EventBus | null;
  stop(): Promise<void>;
}

/**
 * Heap one retained transaction takes, packed (engine/txn.ts): 700-940 bytes measured
 * after a full GC (the e2e bench's saturation step), with a little margin.
 */
const RETAINED_TXN_BYTES = 1000;

/** Says so at start when maxRetained could fill most of this process's heap. */
function checkRetainedHeap(c: SwitchConfig, log: Logger): void {
  const limit = getHeapStatistics().heap_size_limit;
  const need = c.maxRetained * RETAINED_TXN_BYTES;
  if (need > limit / 2) {
    log.warn('maxRetained may fill the heap: the transaction table alone can take most of it; lower maxRetained or raise the heap (node --max-old-space-size)', {
      maxRetained: c.maxRetained, tableMb: Math.round(need / 1e6), heapLimitMb: Math.round(limit / 1e6),
    });
  }
}

export interface StartOptions {
  /** `--reassign-upstream OLD=NEW[,...]`: queued reversals of a renamed or removed upstream go to a configured one. */
  reassignUpstream?: string;
}

/** Starts the switch (and the demo issuer when no upstream is configured). */
export async function startSwitch(c: SwitchConfig, log: Logger, opts: StartOptions = {}): Promise<Running> {
  const dialects = dialectsOf(c);
  const rules = loadRules(c);
  checkRetainedHeap(c, log);
  const security = loadSecurity(c, log);
  let issuer: IssuerSim | null = null;
  if (c.upstreams.length === 0) {
    const dialect = c.listeners[0].dialect;
    issuer = await startIssuer({ host: '127.0.0.1', port: 0, dialect: dialects(dialect), framing: 'len2' });
    c.upstreams.push({
      name: 'demo-issuer', host: '127.0.0.1', port: issuer.port, ...UPSTREAM_DEFAULTS, dialect,
      timeoutMs: c.upstreamTimeoutMs ?? UPSTREAM_DEFAULTS.timeoutMs,
    });
    log.info('no upstream configured: started the demo issuer', { port: issuer.port });
  }
  let store: Store;
  try {
    store = await connectStore(c.store);
  } catch (e) {
    await issuer?.close();
    throw new ConfigError(`store ${redactUrl(c.store)}: ${(e as Error).message}`);
  }
  // The PAN key lives next to the database unless config or the environment gives one.
  const keyFile = keyFileOf(c.store);
  let loaded: ReturnType<typeof loadCardKeys>;
  try {
    // A PostgreSQL store is shared by nodes and outlives each of them: a key generated for
    // one process could not open the sealed messages after a restart or on another node.
    if (store instanceof PostgresStore && !c.panHashKey && !process.env.REVSWITCH_PAN_KEY) {
      throw new Error(`store ${store.url}: a PostgreSQL store needs the PAN key from config (panHashKey) or REVSWITCH_PAN_KEY, ` +
        'the same on every node: sealed messages must open after a restart and on the other nodes');
    }
    loaded = loadCardKeys({ configured: c.panHashKey, sealKeys: c.panSealKeys, keyFile });
  } catch (e) {
    await store.close().catch(() => undefined);
    await issuer?.close();
    throw new ConfigError((e as Error).message);
  }
  const { keys, origin } = loaded;
  log.info('store open', { store: store.url, panKey: origin });
  try {
    const names = c.upstreams.map((u) => u.name);
    await checkQueueUpstreams(store, names, parseReassign(opts.reassignUpstream, names), log, c.node ?? hostname());
  } catch (e) {
    await store.close().catch(() => undefined);
    await issuer?.close();
    throw e instanceof ConfigError ? e : new ConfigError(`store ${store.url}: ${(e as Error).message}`);
  }
  if (c.store.startsWith('sqlite:')) {
    for (const w of widerThanOwner(parseSqliteUrl(c.store).path)) {
      log.warn('journal file readable or writable by others: it holds sealed card data', { path: w.path, mode: w.mode, fix: w.fix });
    }
  }
  let events: EventBus | null;
  try {
    // Never waits for NATS: the sink connects in the background and spools meanwhile.
    events = await createEventBus(c.events, { node: c.node ?? hostname(), log, role: 'switch' });
  } catch (e) {
    await store.close().catch(() => undefined);
    await issuer?.close();
    throw new ConfigError((e as Error).message);
  }
  log.info(`events: ${describeSinks(c.events)}`);
  const sw = new Switch(c, rules, log, dialects, { store, keys, events, security });
  if (events) registerEventMetrics(sw.metrics.registry, events);
  try {
    await sw.start();
  } catch (e) {
    await events?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await issuer?.close();
    throw e;
  }
  const admin = await startAdmin(c, sw, log, events);
  return {
    sw,
    issuer,
    store,
    admin,
    events,
    async stop() {
      // /readyz says "stopping" while in-flight requests and reversals drain; /metrics and /healthz still answer.
      admin?.draining();
      await sw.stop();
      // After the switch: its last events (reversals drained at shutdown) go out too.
      await events?.close();
      await admin?.stop();
      await store.close();
      await issuer?.close();
    },
  };
}

/**
 * The admin server on `c.admin`. A port that cannot be bound is logged and the switch runs
 * on without it: the payment path never depends on the observability port (a scraper or
 * a readiness probe then reports the target down).
 */
async function startAdmin(c: SwitchConfig, sw: Switch, log: Logger, events: EventBus | null): Promise<AdminServer | null> {
  const at = parseAdminAddress(c.admin);
  if (!at) return null;
  sw.metrics.collectProcessMetrics();
  sw.metrics.readiness(async () => (await switchReadiness(sw)).ready);
  // The sinks' state is shown, never weighed: events are evidence, not the payment path.
  const ready = async (): Promise<Readiness> => ({ ...(await switchReadiness(sw)), ...(events ? { notes: sinkStatus(events) } : {}) });
  const admin = new AdminServer({ ...at, registry: sw.metrics.registry, ready, log, hosts: c.adminHosts });
  mountApi(admin, c, { store: sw.journal.store, rules: () => sw.rules.current, log });
  try {
    await admin.start();
  } catch (e) {
    log.error('admin server not started: no /metrics, /healthz or /readyz', { admin: c.admin, error: (e as Error).message });
    return null;
  }
  log.info('admin listening', { host: at.host, port: admin.port });
  return admin;
}

/**
 * What SIGHUP does for TLS: every TLS listener and link reads its certificate files again,
 * for new connections; a bad file keeps the old ones and is logged (the file, never its content).
 */
export function reloadTls(sw: Switch, log: Logger): TlsReloadOutcome {
  const r = sw.reloadTls();
  if (r.ok.length > 0) log.info('TLS certificates reloaded', { for: r.ok });
  for (const f of r.failed) log.error('TLS reload failed; keeping the previous certificates', { for: f.name, error: f.error });
  return r;
}

/** What SIGHUP does for keys: the key store read again (keys a `revswitch keys` command added); a file that does not load keeps the keys in use. */
export function reloadKeyStore(sw: Switch, log: Logger): void {
  if (!sw.security) return;
  try {
    sw.security.reloadKeys();
    log.info('key store reloaded', { keys: sw.security.keys.list().length });
  } catch (e) {
    log.error('key store reload failed; keeping the keys in use', { error: (e as Error).message });
  }
}

/**
 * The one line a person reads to know the switch is up and where to reach it: listeners,
 * upstreams, the store (its password hidden), the admin server and its console.
 */
/** The name of an upstream made by `--upstream HOST:PORT` alone (the docs' examples use it). */
export const DEFAULT_UPSTREAM_NAME = 'issuer';

export function readyLine(c: SwitchConfig, r: Running): string {
  const ports = r.sw.ports();
  const listeners = c.listeners.map((l, i) => `${l.host}:${ports[i] ?? l.port} (${l.dialect}, ${l.framing}${l.tls ? ', TLS' : ''})`);
  // With no upstream configured, startSwitch has added the demo issuer's ("demo-issuer").
  const upstreams = c.upstreams.map((u) => `${u.name} ${u.host}:${u.port}`);
  const admin = r.admin ? `http://${r.admin.host.includes(':') ? `[${r.admin.host}]` : r.admin.host}:${r.admin.port}` : null;
  const consoleBuilt = defaultConsoleDirs().some((d) => existsSync(join(d, 'index.html')));
  return `revswitch ready: listening on ${listeners.join(', ')}; upstream ${upstreams.join(', ') || 'none'}; store ${redactUrl(c.store)}; ` +
    (admin === null ? 'admin off' : `admin ${admin}/metrics; console ${consoleBuilt ? `${admin}/` : 'not built (npm run build)'}`);
}

export function registerStart(parent: Command): Command {
  // Each flag is a config key and wins over the config file; without a default here, an
  // absent flag leaves the file's value (or the built-in default, named in the help).
  const cmd = parent.command('start')
    .description('run the switch: config file first, flags on top; with no upstream it starts the demo issuer in-process')
    .option('--config <file>', 'the config file (JSON); every flag below overrides its key')
    .option('--listen <host:port>', 'the first listener\'s address (config: listeners[0].host/port; default: 127.0.0.1:8583)')
    .option('--upstream <[name=]host:port>', 'an upstream\'s address: NAME picks the config\'s upstream of that name, else the first; without upstreams in the config, one named NAME (default: issuer) is made (config: upstreams[].host/port; default: the demo issuer, in-process)')
    .option('--dialect <name>', 'the first listener\'s dialect (config: listeners[0].dialect; default: iso87a)')
    .option('--framing <name>', 'the first listener\'s framing (config: listeners[0].framing; default: len2)')
    .option('--upstream-timeout-ms <n>', 'the upstream deadline, 10 to 600000 (config: upstreamTimeoutMs and each upstream\'s timeoutMs; default: 8000)')
    .option('--rules <file>', 'the rules file (config: rules; default: rules/default.yaml)')
    .option('--store <url>', 'the journal (config: store; default: sqlite:./data/revswitch.db)')
    .option('--node <id>', 'this node\'s name among nodes sharing a store (config: node; default: the host name)')
    .option('--events-dir <dir>', 'write lifecycle events to daily files here (config: events.file.dir; default: no file sink)')
    .option('--nats <url>', 'publish lifecycle events to NATS JetStream here (config: events.nats.url; default: no NATS sink)')
    .option('--admin <host:port|off>', 'the admin HTTP server: /metrics, /healthz, /readyz, /api/ (config: admin; default: 127.0.0.1:9464)')
    .option('--log-level <level>', 'debug, info, warn, error or silent (config: logLevel; default: info)')
    .option('--reassign-upstream <old=new>', 'send the queued reversals and refunds of an upstream the config no longer has (renamed) on a configured one; comma-separated pairs (a one-off start action, not a config key)')
    .option('--pretty', 'human-readable log lines instead of JSON');
  examples(cmd,
    'revswitch start',
    'revswitch start --config revswitch.json --node sw-a --events-dir ./data/events',
    'revswitch start --listen 0.0.0.0:8583 --upstream 10.0.0.5:9583 --store "postgres://rev@db/revswitch" --nats nats://127.0.0.1:4222');
  return runs(cmd, startCommand);
}

async function startCommand(p: Parsed): Promise<string> {
  if (p.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.positional[0])}`);
  let c: SwitchConfig;
  try {
    c = buildConfig(p);
    dialectsOf(c);
    loadRules(c);
  } catch (e) {
    // A bad flag or config file is a usage problem: exit 2 with what and where.
    throw new UsageError((e as Error).message);
  }
  const log = createLogger(c.logLevel as Level, undefined, { pretty: p.flags.has('pretty') });
  let running: Running;
  try {
    running = await startSwitch(c, log, { reassignUpstream: flag(p, 'reassign-upstream') });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  log.info(readyLine(c, running), { ready: true });
  process.on('SIGHUP', () => {
    const r = running.sw.rules.reload(() => loadRules(c));
    // The change in one line: whoever sent the signal reads that the cutover moved, not just "reloaded".
    if (r.ok) log.info(`rules reloaded: ${describeRulesChange(r.previous, r.rules)}`, { source: c.rules ?? 'rules/default.yaml', hash: r.rules.hash });
    else log.error('rules reload failed; keeping the previous rules', { error: r.error instanceof Error ? r.error.message : String(r.error) });
    reloadTls(running.sw, log);
    reloadKeyStore(running.sw, log);
  });
  await new Promise<void>((resolve) => {
    const onStop = (sig: string) => {
      log.info('stopping', { signal: sig });
      resolve();
    };
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
  await running.stop();
  const counters = running.sw.counters.snapshot();
  return JSON.stringify({ stopped: true, counters, ledger: running.issuer?.ledger().summary ?? undefined }, null, 2);
}
