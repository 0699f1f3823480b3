/**
 * Child process of the e2e suite: the system under test, alone in its process (and, when
 * the suite can pin, alone on its CPU). Either the switch, started exactly as
 * `revswitch start` starts it (startSwitch with a real config: one listener on port 0,
 * one upstream link to the issuer simulator, logs silent), or the bare relay baseline.
 *
 * With `secure` (the suite's TLS steps) the listener is a TLS server and the upstream
 * link a TLS client that trusts the run's CA; with `secure.mac` too, the listener checks
 * and makes X9.19 MACs under one fixed key for every terminal (mac.key bench.MAK) and
 * the link under bench.ZAK, both keys in a key store of its own (a temporary directory,
 * with its master key file), opened as `revswitch start` opens one.
 *
 * Commands: start-switch, start-relay, cpu (process CPU time so far, for the suite's
 * measuring window), prof-start / prof-stop (the V8 sampling profiler through the
 * inspector, so a profile covers the measuring window and nothing else: no start-up,
 * no warmup), stats, stop (exits).
 *
 * The suite starts this process with --expose-gc, so `stats` can say what the switch
 * keeps: the heap after a full collection, against the same right after start-up, per
 * transaction the switch still holds (`retainedBytesPerTxn`). Taken after the drain, it
 * is what the retained transactions cost (with the memory store, its rows too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSwitch, type Running } from '../../switch/cli/start-command.js';
import { defaultConfig, TLS_DEFAULTS, UPSTREAM_DEFAULTS, type MacConfig } from '../../switch/config/index.js';
import { KeyStore } from '../../switch/edge/key-store.js';
import { keyCheckValue } from '../../switch/edge/mac.js';
import { createMasterKeyFile, masterKeyFrom } from '../../switch/edge/master-key.js';
import { SoftwareSecurityModule } from '../../switch/edge/security-module.js';
import { createLogger } from '../../switch/observe/log.js';
import { serve } from './ipc.js';
import { startRelay, type Relay } from './relay.js';
import type { SecureSpec } from './secure.js';

export interface SwitchStart {
  /**
   * 'sqlite': a fresh SQLite journal in a temporary directory, removed at stop; 'memory':
   * memory:; 'postgres': storeUrl (the suite owns the schema: it creates it per step and
   * drops it after, since several nodes share it).
   */
  store: 'sqlite' | 'memory' | 'postgres';
  /** The postgres:// URL, with its schema, for store 'postgres'. */
  storeUrl?: string;
  /** The node id (config `node`): distinct per node on a shared store. */
  node?: string;
  upstreamPort: number;
  /** The upstream link's timeout (ms). */
  timeoutMs: number;
  tickMs: number;
  /** TLS on the listener and the upstream link; with `mac`, X9.19 MACs on both (the suite's TLS steps). */
  secure?: SecureSpec & { mac: boolean };
}

export interface CpuMark {
  /** performance.timeOrigin + performance.now(), ms. */
  at: number;
  userUs: number;
  systemUs: number;
}

let running: Running | null = null;
let relay: Relay | null = null;
let session: Session | null = null;
let storeDir: string | null = null;
let keysDir: string | null = null;
/** The heap after a full collection once the switch was up, before any sale. */
let baseHeap: number | null = null;

/** heapUsed after two full collections (the second takes what the first's finalizers freed); null without --expose-gc. */
function heapAfterGc(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// However this process ends (stop, or the suite disconnecting), its store goes with it.
process.on('exit', () => {
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  if (keysDir) rmSync(keysDir, { recursive: true, force: true });
});

export const LISTENER_MAC_KEY = 'bench.MAK';
export const UPSTREAM_MAC_KEY = 'bench.ZAK';

/** A key store with the step's two MAC keys, under a master key file of its own; the config's `security`. */
function benchKeyStore(s: SecureSpec): { keyStore: string; masterKeyFile: string } {
  keysDir = mkdtempSync(join(tmpdir(), 'revswitch-bench-keys-'));
  const masterKeyFile = join(keysDir, 'master.key');
  const keyStore = join(keysDir, 'keys.json');
  createMasterKeyFile(masterKeyFile);
  // The switch must open it with this file, not with a master key from the environment.
  delete process.env.REVSWITCH_MASTER_KEY;
  const ks = KeyStore.load(keyStore, masterKeyFrom({ env: {}, file: masterKeyFile }), new SoftwareSecurityModule());
  const mak = Buffer.from(s.mak, 'hex');
  const zak = Buffer.from(s.zak, 'hex');
  ks.importClear(LISTENER_MAC_KEY, 'MAK', mak, keyCheckValue(mak), { terminal: 'E2EBENCH' });
  ks.importClear(UPSTREAM_MAC_KEY, 'ZAK', zak, keyCheckValue(zak), { upstream: 'issuer' });
  return { keyStore, masterKeyFile };
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

serve({
  async 'start-switch'(a: SwitchStart) {
    const cfg = defaultConfig();
    cfg.listeners[0].port = 0;
    cfg.logLevel = 'silent';
    // Never the repository's ./data: every target gets a store of its own (and a fixed
    // PAN key, so no key file is written), and no admin HTTP port to collide on.
    if (a.store === 'sqlite') {
      storeDir = mkdtempSync(join(tmpdir(), 'revswitch-bench-e2e-'));
      cfg.store = `sqlite:${join(storeDir, 'revswitch.db')}`;
    } else if (a.store === 'postgres') {
      if (!a.storeUrl) throw new Error('start-switch: store postgres needs storeUrl');
      cfg.store = a.storeUrl;
    } else {
      cfg.store = 'memory:';
    }
    if (a.node !== undefined) cfg.node = a.node;
    cfg.panHashKey = '311d0a20f6a7775ef32176e165a366d92fb6e2dc90159984fa64e260bc4ac2fc';
    cfg.admin = 'off';
    cfg.tickMs = a.tickMs;
    cfg.upstreamTimeoutMs = a.timeoutMs;
    cfg.upstreams.push({ name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: a.upstreamPort, dialect: 'iso87a', timeoutMs: a.timeoutMs });
    if (a.secure) {
      const s = a.secure;
      cfg.listeners[0].tls = { ...TLS_DEFAULTS, cert: s.cert, key: s.key };
      cfg.upstreams[0].tls = { ...TLS_DEFAULTS, ca: s.ca };
      if (s.mac) {
        const mac = (key: string): MacConfig => ({ algorithm: 'x9.19', key, required: true, fields: null });
        cfg.security = { ...benchKeyStore(s), macOverlapMs: 60_000 };
        cfg.listeners[0].mac = mac(LISTENER_MAC_KEY);
        cfg.upstreams[0].mac = mac(UPSTREAM_MAC_KEY);
      }
    }
    running = await startSwitch(cfg, createLogger('silent'));
    const up = await running.sw.waitUntilUp(5000);
    if (!up) throw new Error('the switch did not sign on to the issuer within 5 s');
    baseHeap = heapAfterGc();
    return { port: running.sw.ports()[0], storeDir };
  },
  async 'start-relay'(a: { upstreamPort: number }) {
    relay = await startRelay({ host: '127.0.0.1', port: a.upstreamPort });
    return { port: relay.port };
  },
  cpu(): CpuMark {
    const u = process.cpuUsage();
    return { at: performance.timeOrigin + performance.now(), userUs: u.user, systemUs: u.system };
  },
  async 'prof-start'(a: { intervalUs: number }) {
    session = new Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: a.intervalUs });
    await post(session, 'Profiler.start');
    return {};
  },
  async 'prof-stop'(a: { file: string }) {
    if (!session) return { file: null };
    const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
    session.disconnect();
    session = null;
    writeFileSync(a.file, JSON.stringify(profile));
    return { file: a.file };
  },
  stats() {
    if (running) {
      const sw = running.sw;
      const macFailures = sw.metrics.macFailureCount('terminal', 'pos') + sw.metrics.macFailureCount('upstream', 'upstream issuer');
      const heapUsed = process.memoryUsage().heapUsed;
      const gcHeap = heapAfterGc();
      const txns = sw.txns.size;
      const retainedBytesPerTxn = gcHeap !== null && baseHeap !== null && txns > 0 ? Math.round((gcHeap - baseHeap) / txns) : null;
      return { counters: sw.counters.snapshot(), txns, heapUsed, heapAfterGc: gcHeap, heapAtStartAfterGc: baseHeap, retainedBytesPerTxn, macFailures };
    }
    if (relay) return { counters: relay.stats(), heapUsed: process.memoryUsage().heapUsed };
    return {};
  },
  stop() {
    // No graceful Switch.stop(): it waits for every in-flight request to finish or expire
    // (up to the upstream timeout), which an overloaded run would turn into seconds of
    // nothing. The process exits instead, after the reply is out; --cpu-prof writes its
    // profile on a normal exit.
    setTimeout(() => process.exit(0), 50);
    return { stopped: true };
  },
});
