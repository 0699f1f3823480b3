/**
 * Loading the configuration: a JSON file validated over the defaults (config/types.ts);
 * the command line puts flags on top (flags win). Everything is validated before anything
 * starts; an error names the file, the path inside it and what was expected, and
 * `revswitch start` exits 2.
 */
import { jsonErrorPlace } from './json-error.js';
import { Reader } from './reader.js';
import { checkKeysConfigured, keyChangeFromJson, macFromJson, securityFromJson } from './security-config.js';
import { parseKeyText } from './key-text.js';
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { HostPortError, parseHostPort as parseAddress, type HostPort } from './host-port.js';
import {
  ADMIN_LIMIT_KEYS, adminLimitsFromJson, ConfigError, defaultConfig, LISTENER_DEFAULTS, NATS_EVENTS_DEFAULTS, UPSTREAM_DEFAULTS,
  TLS_DEFAULTS, type EventsConfig, type ListenerConfig, type RouteConfig, type SwitchConfig, type TlsConfig,
} from './types.js';

/** An address from the config file or a flag; an error names where it came from. */
export function addressOf(v: string, what: string, source = 'command line'): HostPort {
  try {
    return parseAddress(v);
  } catch (e) {
    if (e instanceof HostPortError) throw new ConfigError(`${source}: ${what}: ${e.message}`);
    throw e;
  }
}

/** A listener's limits against slow and flooding clients (docs/security.md, "Hostile clients"). */
const HOSTILE_KEYS = [
  'frameTimeoutMs', 'firstFrameTimeoutMs', 'maxConnectionsPerIp', 'acceptPerSecondPerIp', 'acceptBurstPerIp', 'maxInFlightPerConnection', 'duplicatesPerSecondPerConnection',
] as const;
const LISTENER_KEYS = ['name', 'host', 'port', 'dialect', 'framing', 'maxFrame', 'maxConnections', 'idleTimeoutMs', 'tls', 'mac', 'translatePin', ...HOSTILE_KEYS] as const;
const UPSTREAM_KEYS = ['name', 'host', 'port', 'dialect', 'framing', 'maxFrame', 'timeoutMs', 'echoIdleMs', 'netTimeoutMs', 'signOn', 'reconnectBackoffMs', 'refund', 'tls', 'mac', 'keyChange'] as const;
const ROUTE_KEYS = ['name', 'pan', 'processingCode', 'acquirer', 'forwarder', 'upstreams'] as const;
const TOP_KEYS = ['listeners', 'upstreams', 'routes', 'rules', 'store', 'admin', 'logLevel', 'tickMs', 'retentionMs', 'maxRetained', 'panHashKey', 'panSealKeys', 'node', 'reversal', 'events', 'cluster', 'unknownOriginals', 'retention', 'security', 'maxStoreBacklog'] as const;

/** A key as config text (./key-text.ts), refused by path and rule: never the value. */
function checkKeyText(r: Reader, text: string, path: string): void {
  try {
    parseKeyText(text, path);
  } catch (e) {
    r.fail(path, (e as Error).message.slice(path.length + 2).replace(/^expected /, ''), '(hidden)');
  }
}

/** HOSTILE_KEYS over their defaults. */
function hostileLimits(r: Reader, l: Record<string, unknown>, p: string): Pick<ListenerConfig, (typeof HOSTILE_KEYS)[number]> {
  const d = LISTENER_DEFAULTS;
  const int = (k: (typeof HOSTILE_KEYS)[number], min: number, max: number): number => (l[k] === undefined ? d[k] : r.int(l[k], `${p}.${k}`, min, max));
  return {
    frameTimeoutMs: int('frameTimeoutMs', 0, 600_000),
    firstFrameTimeoutMs: int('firstFrameTimeoutMs', 0, 3_600_000),
    maxConnectionsPerIp: int('maxConnectionsPerIp', 1, 1_000_000),
    acceptPerSecondPerIp: int('acceptPerSecondPerIp', 1, 1_000_000),
    acceptBurstPerIp: int('acceptBurstPerIp', 1, 1_000_000),
    maxInFlightPerConnection: int('maxInFlightPerConnection', 1, 1_000_000),
    duplicatesPerSecondPerConnection: int('duplicatesPerSecondPerConnection', 1, 1_000_000),
  };
}

/** Validates parsed JSON over the defaults. `source` names the file in every error. */
export function configFromJson(data: unknown, source: string): SwitchConfig {
  const r = new Reader(source);
  const o = r.obj(data, '(top level)');
  r.keys(o, '', TOP_KEYS);
  const c = defaultConfig();
  if (o.listeners !== undefined) {
    if (!Array.isArray(o.listeners) || o.listeners.length === 0) r.fail('listeners', 'a non-empty array', o.listeners);
    c.listeners = (o.listeners as unknown[]).map((x, i) => {
      const p = `listeners[${i}]`;
      const l = r.obj(x, p);
      r.keys(l, p, LISTENER_KEYS);
      return {
        name: l.name === undefined ? `listener${i}` : r.str(l.name, `${p}.name`),
        host: l.host === undefined ? LISTENER_DEFAULTS.host : r.str(l.host, `${p}.host`),
        port: r.int(l.port, `${p}.port`, 0, 65535),
        dialect: l.dialect === undefined ? LISTENER_DEFAULTS.dialect : r.str(l.dialect, `${p}.dialect`),
        framing: l.framing === undefined ? LISTENER_DEFAULTS.framing : r.str(l.framing, `${p}.framing`),
        maxFrame: l.maxFrame === undefined ? LISTENER_DEFAULTS.maxFrame : r.int(l.maxFrame, `${p}.maxFrame`, 64, 1 << 20),
        maxConnections: l.maxConnections === undefined ? LISTENER_DEFAULTS.maxConnections : r.int(l.maxConnections, `${p}.maxConnections`, 1, 1_000_000),
        idleTimeoutMs: l.idleTimeoutMs === undefined ? LISTENER_DEFAULTS.idleTimeoutMs : r.int(l.idleTimeoutMs, `${p}.idleTimeoutMs`, 0, 86_400_000),
        ...(l.tls === undefined ? {} : { tls: tlsFromJson(r, source, l.tls, `${p}.tls`, 'listener') }),
        ...(l.mac === undefined ? {} : { mac: macFromJson(r, l.mac, `${p}.mac`) }),
        translatePin: l.translatePin === undefined ? LISTENER_DEFAULTS.translatePin : r.bool(l.translatePin, `${p}.translatePin`),
        ...hostileLimits(r, l, p),
      };
    });
  }
  if (o.upstreams !== undefined) {
    if (!Array.isArray(o.upstreams)) r.fail('upstreams', 'an array', o.upstreams);
    c.upstreams = (o.upstreams as unknown[]).map((x, i) => {
      const p = `upstreams[${i}]`;
      const u = r.obj(x, p);
      r.keys(u, p, UPSTREAM_KEYS);
      const d = UPSTREAM_DEFAULTS;
      return {
        name: u.name === undefined ? `upstream${i}` : r.str(u.name, `${p}.name`),
        host: r.str(u.host, `${p}.host`),
        port: r.int(u.port, `${p}.port`, 1, 65535),
        dialect: u.dialect === undefined ? d.dialect : r.str(u.dialect, `${p}.dialect`),
        framing: u.framing === undefined ? d.framing : r.str(u.framing, `${p}.framing`),
        maxFrame: u.maxFrame === undefined ? d.maxFrame : r.int(u.maxFrame, `${p}.maxFrame`, 64, 1 << 20),
        timeoutMs: u.timeoutMs === undefined ? d.timeoutMs : r.int(u.timeoutMs, `${p}.timeoutMs`, 10, 600_000),
        echoIdleMs: u.echoIdleMs === undefined ? d.echoIdleMs : r.int(u.echoIdleMs, `${p}.echoIdleMs`, 0, 86_400_000),
        netTimeoutMs: u.netTimeoutMs === undefined ? d.netTimeoutMs : r.int(u.netTimeoutMs, `${p}.netTimeoutMs`, 10, 600_000),
        signOn: u.signOn === undefined ? d.signOn : r.bool(u.signOn, `${p}.signOn`),
        reconnectBackoffMs: u.reconnectBackoffMs === undefined ? d.reconnectBackoffMs : r.ints(u.reconnectBackoffMs, `${p}.reconnectBackoffMs`, 0, 3_600_000),
        refund: u.refund === undefined ? { ...d.refund } : refundFromJson(r, u.refund, `${p}.refund`),
        ...(u.tls === undefined ? {} : { tls: tlsFromJson(r, source, u.tls, `${p}.tls`, 'upstream') }),
        ...(u.mac === undefined ? {} : { mac: macFromJson(r, u.mac, `${p}.mac`) }),
        keyChange: u.keyChange === undefined ? { ...d.keyChange } : keyChangeFromJson(r, u.keyChange, `${p}.keyChange`),
      };
    });
  }
  if (o.routes !== undefined) c.routes = routesFromJson(r, o.routes, c.upstreams.map((u) => u.name));
  if (o.rules !== undefined) c.rules = r.str(o.rules, 'rules');
  if (o.store !== undefined) c.store = r.str(o.store, 'store');
  if (o.admin !== undefined) {
    // "HOST:PORT" or "off", or {listen, tokens, hosts, reportMaxDays, requireTokenForReads, and the limits}.
    const a = typeof o.admin === 'object' && o.admin !== null && !Array.isArray(o.admin) ? r.obj(o.admin, 'admin') : null;
    if (a !== null) {
      r.keys(a, 'admin', ['listen', 'tokens', 'hosts', 'reportMaxDays', 'requireTokenForReads', ...ADMIN_LIMIT_KEYS]);
      c.adminLimits = adminLimitsFromJson(r, a);
      if (a.reportMaxDays !== undefined) c.adminReportMaxDays = r.int(a.reportMaxDays, 'admin.reportMaxDays', 1, 366);
      if (a.requireTokenForReads !== undefined) c.adminRequireTokenForReads = r.bool(a.requireTokenForReads, 'admin.requireTokenForReads');
      c.adminTokens = a.tokens === undefined ? {} : tokensFromJson(r, a.tokens);
      if (a.hosts !== undefined) {
        if (!Array.isArray(a.hosts)) r.fail('admin.hosts', 'a list of host names the admin server answers to', a.hosts);
        c.adminHosts = (a.hosts as unknown[]).map((h, i) => r.str(h, `admin.hosts[${i}]`).toLowerCase());
      }
      if (c.adminRequireTokenForReads && Object.keys(c.adminTokens).length === 0) {
        r.fail('admin.requireTokenForReads', 'admin.tokens to go with it (reads would need a token nobody has)', true);
      }
    }
    c.admin = a === null ? r.str(o.admin, 'admin') : a.listen === undefined ? c.admin : r.str(a.listen, 'admin.listen');
    if (c.admin !== 'off') addressOf(c.admin, a === null ? 'admin' : 'admin.listen', source);
  }
  if (o.logLevel !== undefined) {
    const levels = ['debug', 'info', 'warn', 'error', 'silent'];
    if (typeof o.logLevel !== 'string' || !levels.includes(o.logLevel)) r.fail('logLevel', levels.join(' | '), o.logLevel);
    c.logLevel = o.logLevel as SwitchConfig['logLevel'];
  }
  if (o.tickMs !== undefined) c.tickMs = r.int(o.tickMs, 'tickMs', 1, 1000);
  if (o.retentionMs !== undefined) c.retentionMs = r.int(o.retentionMs, 'retentionMs', 1000, 7 * 86_400_000);
  if (o.maxRetained !== undefined) c.maxRetained = r.int(o.maxRetained, 'maxRetained', 1000, 100_000_000);
  if (o.panHashKey !== undefined) {
    const text = o.panHashKey;
    if (typeof text !== 'string') return r.fail('panHashKey', 'a string', '(hidden)');
    checkKeyText(r, text, 'panHashKey');
    c.panHashKey = text;
  }
  if (o.panSealKeys !== undefined) {
    const v = r.obj(o.panSealKeys, 'panSealKeys');
    c.panSealKeys = {};
    for (const [id, text] of Object.entries(v)) {
      if (!/^k[0-9]{1,6}$/.test(id) || id === 'k0') r.fail(`panSealKeys.${id}`, 'a key id k1, k2, ... (k0 is panHashKey\'s)', id);
      if (typeof text !== 'string') return r.fail(`panSealKeys.${id}`, 'a string', '(hidden)');
      checkKeyText(r, text, `panSealKeys.${id}`);
      c.panSealKeys[id] = text;
    }
  }
  if (o.node !== undefined) c.node = r.str(o.node, 'node');
  if (o.reversal !== undefined) {
    const v = r.obj(o.reversal, 'reversal');
    r.keys(v, 'reversal', ['window', 'responseTimeoutMs', 'backoffMs', 'maxAttempts', 'maxAgeMs', 'maxInMemory']);
    if (v.window !== undefined) c.reversal.window = r.int(v.window, 'reversal.window', 1, 10_000);
    if (v.responseTimeoutMs !== undefined) c.reversal.responseTimeoutMs = r.int(v.responseTimeoutMs, 'reversal.responseTimeoutMs', 10, 600_000);
    if (v.backoffMs !== undefined) c.reversal.backoffMs = r.ints(v.backoffMs, 'reversal.backoffMs', 0, 86_400_000);
    if (v.maxAttempts !== undefined) c.reversal.maxAttempts = r.int(v.maxAttempts, 'reversal.maxAttempts', 1, 1000);
    if (v.maxAgeMs !== undefined) c.reversal.maxAgeMs = r.int(v.maxAgeMs, 'reversal.maxAgeMs', 1000, 90 * 86_400_000);
    if (v.maxInMemory !== undefined) c.reversal.maxInMemory = r.int(v.maxInMemory, 'reversal.maxInMemory', 1, 10_000_000);
  }
  if (o.events !== undefined) c.events = eventsFromJson(r, o.events);
  if (o.retention !== undefined) {
    const v = r.obj(o.retention, 'retention');
    r.keys(v, 'retention', ['sealedDays', 'evidenceDays', 'auto']);
    if (v.sealedDays !== undefined) c.retention.sealedDays = r.int(v.sealedDays, 'retention.sealedDays', 1, 3650);
    if (v.evidenceDays !== undefined) c.retention.evidenceDays = r.int(v.evidenceDays, 'retention.evidenceDays', 30, 36_500);
    if (v.auto !== undefined) c.retention.auto = r.bool(v.auto, 'retention.auto');
    // A journal row outliving its sealed message is the point; the reverse would erase evidence first.
    if (c.retention.evidenceDays < c.retention.sealedDays) r.fail('retention.evidenceDays', `at least retention.sealedDays (${c.retention.sealedDays})`, c.retention.evidenceDays);
  }
  if (o.unknownOriginals !== undefined) {
    const v = r.obj(o.unknownOriginals, 'unknownOriginals');
    r.keys(v, 'unknownOriginals', ['recordPerMinute', 'alertPerMinute']);
    if (v.recordPerMinute !== undefined) c.unknownOriginals.recordPerMinute = r.int(v.recordPerMinute, 'unknownOriginals.recordPerMinute', 0, 1_000_000);
    if (v.alertPerMinute !== undefined) c.unknownOriginals.alertPerMinute = r.int(v.alertPerMinute, 'unknownOriginals.alertPerMinute', 1, 100_000_000);
  }
  if (o.cluster !== undefined) {
    const v = r.obj(o.cluster, 'cluster');
    r.keys(v, 'cluster', ['heartbeatMs', 'leaseMs', 'nodeDeadMs']);
    if (v.heartbeatMs !== undefined) c.cluster.heartbeatMs = r.int(v.heartbeatMs, 'cluster.heartbeatMs', 50, 60_000);
    if (v.leaseMs !== undefined) c.cluster.leaseMs = r.int(v.leaseMs, 'cluster.leaseMs', 300, 600_000);
    if (v.nodeDeadMs !== undefined) c.cluster.nodeDeadMs = r.int(v.nodeDeadMs, 'cluster.nodeDeadMs', 100, 3_600_000);
    if (c.cluster.nodeDeadMs < 2 * c.cluster.heartbeatMs) {
      r.fail('cluster.nodeDeadMs', `at least twice cluster.heartbeatMs (${c.cluster.heartbeatMs}): one late heartbeat must not make a node dead`, c.cluster.nodeDeadMs);
    }
  }
  if (o.security !== undefined) c.security = securityFromJson(r, o.security);
  if (o.maxStoreBacklog !== undefined) c.maxStoreBacklog = r.int(o.maxStoreBacklog, 'maxStoreBacklog', 0, 10_000_000);
  checkKeysConfigured(r, c, o);
  return c;
}

/** A list of digit strings of `min`-`max` digits each (an absent list is empty: any). */
function digitList(r: Reader, v: unknown, path: string, min: number, max: number, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) r.fail(path, `an array of ${what}`, v);
  return (v as unknown[]).map((x, i) => {
    const ok = typeof x === 'string' && x.length >= min && x.length <= max && [...x].every((ch) => ch >= '0' && ch <= '9');
    if (!ok) r.fail(`${path}[${i}]`, `${what}: ${min === max ? min : `${min} to ${max}`} digits as a string`, x);
    return x as string;
  });
}

/** admin.tokens: names to "sha256:<64 hex>" of each bearer token. A token itself is refused: it must never sit in a file. */
function tokensFromJson(r: Reader, v: unknown): Record<string, string> {
  const o = r.obj(v, 'admin.tokens');
  const out: Record<string, string> = {};
  for (const [name, hash] of Object.entries(o)) {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) r.fail(`admin.tokens.${name}`, "a name of 1 to 64 letters, digits, '.', '_', '@' or '-'", name);
    const h = r.str(hash, `admin.tokens.${name}`);
    if (!/^sha256:[0-9a-f]{64}$/.test(h)) r.fail(`admin.tokens.${name}`, '"sha256:" and the 64 lowercase hex digits of the SHA-256 of the token (never the token itself)', '(not shown)');
    out[name] = h;
  }
  return out;
}

/** An upstream's refund message: an advice (x220, the default) or a financial request (x200). */
function refundFromJson(r: Reader, v: unknown, p: string): { mti: string } {
  const o = r.obj(v, p);
  r.keys(o, p, ['mti']);
  const mti = o.mti === undefined ? UPSTREAM_DEFAULTS.refund.mti : r.str(o.mti, `${p}.mti`);
  if (!/^[012](220|200)$/.test(mti)) r.fail(`${p}.mti`, '"0220" (an advice, repeated as 0221) or "0200" (a financial request); 1220/1200 on 1993', mti);
  return { mti };
}

/**
 * The routing table, checked against the upstreams it names. A rule with no criteria
 * takes every sale, so a rule after it could never be reached: that is refused too.
 */
function routesFromJson(r: Reader, v: unknown, upstreams: readonly string[]): RouteConfig[] {
  if (!Array.isArray(v)) r.fail('routes', 'an array of route rules', v);
  const names = new Set<string>();
  let catchAll: string | null = null;
  return (v as unknown[]).map((x, i) => {
    const p = `routes[${i}]`;
    const o = r.obj(x, p);
    r.keys(o, p, ROUTE_KEYS);
    const name = o.name === undefined ? `route${i}` : r.str(o.name, `${p}.name`);
    if (names.has(name)) r.fail(`${p}.name`, 'a name no other route has', name);
    names.add(name);
    if (catchAll !== null) r.fail(p, `a reachable rule, but ${catchAll} before it has no criteria and takes every sale`, name);
    if (!Array.isArray(o.upstreams) || o.upstreams.length === 0) r.fail(`${p}.upstreams`, 'a non-empty array of upstream names (the primary first, then fallbacks)', o.upstreams);
    const seen = new Set<string>();
    const via = (o.upstreams as unknown[]).map((u, j) => {
      const up = r.str(u, `${p}.upstreams[${j}]`);
      if (!upstreams.includes(up)) {
        r.fail(`${p}.upstreams[${j}]`, upstreams.length === 0 ? 'an upstream, but the config lists none (upstreams)' : `one of the upstreams (${upstreams.join(', ')})`, up);
      }
      if (seen.has(up)) r.fail(`${p}.upstreams[${j}]`, 'each upstream once', up);
      seen.add(up);
      return up;
    });
    const route: RouteConfig = {
      name,
      pan: digitList(r, o.pan, `${p}.pan`, 1, 19, 'PAN prefixes'),
      processingCode: digitList(r, o.processingCode, `${p}.processingCode`, 1, 6, 'processing code prefixes'),
      acquirer: digitList(r, o.acquirer, `${p}.acquirer`, 1, 11, 'acquirer ids (F32)'),
      forwarder: digitList(r, o.forwarder, `${p}.forwarder`, 1, 11, 'forwarder ids (F33)'),
      upstreams: via,
    };
    if (route.pan.length + route.processingCode.length + route.acquirer.length + route.forwarder.length === 0) catchAll = `${p} (${name})`;
    return route;
  });
}

const TLS_KEYS = { listener: ['cert', 'key', 'ca', 'requestCert', 'rejectUnauthorized', 'minVersion', 'ciphers', 'allowedSubjects'],
  upstream: ['cert', 'key', 'ca', 'rejectUnauthorized', 'minVersion', 'ciphers', 'servername'] } as const;

/**
 * A listener's or upstream's `tls`, its PEM files read and parsed now so that a missing
 * file or a bad PEM stops the start naming the path in the config. Messages name the
 * file, never what is in it.
 */
function tlsFromJson(r: Reader, source: string, v: unknown, p: string, side: 'listener' | 'upstream'): TlsConfig {
  const o = r.obj(v, p);
  r.keys(o, p, TLS_KEYS[side]);
  const d = TLS_DEFAULTS;
  const opt = (k: 'cert' | 'key' | 'ca' | 'ciphers' | 'servername'): string | null => (o[k] === undefined ? null : r.str(o[k], `${p}.${k}`));
  const t: TlsConfig = {
    cert: opt('cert'), key: opt('key'), ca: opt('ca'), ciphers: opt('ciphers'), servername: opt('servername'),
    requestCert: o.requestCert === undefined ? d.requestCert : r.bool(o.requestCert, `${p}.requestCert`),
    rejectUnauthorized: o.rejectUnauthorized === undefined ? d.rejectUnauthorized : r.bool(o.rejectUnauthorized, `${p}.rejectUnauthorized`),
    minVersion: (o.minVersion as TlsConfig['minVersion'] | undefined) ?? d.minVersion, allowedSubjects: [],
  };
  if (o.minVersion !== undefined && o.minVersion !== 'TLSv1.2' && o.minVersion !== 'TLSv1.3') r.fail(`${p}.minVersion`, '"TLSv1.2" or "TLSv1.3"', o.minVersion);
  if (o.allowedSubjects !== undefined) {
    if (!Array.isArray(o.allowedSubjects)) r.fail(`${p}.allowedSubjects`, 'an array of certificate subjects (a CN, "DNS:name" or a name)', o.allowedSubjects);
    t.allowedSubjects = (o.allowedSubjects as unknown[]).map((x, i) => r.str(x, `${p}.allowedSubjects[${i}]`));
  }
  if (side === 'listener' && (t.cert === null || t.key === null)) r.fail(`${p}.${t.cert === null ? 'cert' : 'key'}`, 'the path of a PEM file (a TLS listener needs cert and key)', undefined);
  if ((t.cert === null) !== (t.key === null)) r.fail(`${p}.${t.cert === null ? 'cert' : 'key'}`, 'the path of a PEM file (cert and key go together)', undefined);
  if (t.requestCert && t.ca === null) r.fail(`${p}.ca`, 'the path of the PEM CA file client certificates are checked against (requestCert is true)', undefined);
  // An unverified certificate's subject proves nothing: the list needs verified clients.
  if (t.allowedSubjects.length > 0 && !(t.requestCert && t.rejectUnauthorized)) r.fail(`${p}.allowedSubjects`, 'requestCert: true and rejectUnauthorized: true beside it', t.allowedSubjects);
  const bad = tlsFileProblem(t);
  if (bad) throw new ConfigError(`${source}: ${p}.${bad.key}: ${bad.file}: ${bad.reason}`);
  return t;
}

export interface TlsFileProblem { key: 'cert' | 'key' | 'ca'; file: string; reason: string }

/**
 * What is wrong with a TLS config's PEM files, read now, or null. Used at load and at
 * every reload (edge/tls.ts); the reason names the file, never what is in it.
 */
export function tlsFileProblem(t: TlsConfig): TlsFileProblem | null {
  class Bad extends Error { constructor(readonly problem: TlsFileProblem) { super(problem.reason); } }
  const bad = (key: TlsFileProblem['key'], file: string, reason: string): never => { throw new Bad({ key, file, reason }); };
  const read = (k: TlsFileProblem['key'], file: string): string => {
    try { return readFileSync(file, 'utf8'); } catch (e) { return bad(k, file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  };
  const certs = (k: 'cert' | 'ca', file: string): X509Certificate[] => {
    const blocks = read(k, file).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) bad(k, file, 'expected PEM certificates (-----BEGIN CERTIFICATE-----), found none');
    return blocks.map((b) => {
      try { return new X509Certificate(b); } catch { return bad(k, file, 'expected PEM certificates, but one does not parse'); }
    });
  };
  try {
    if (t.ca !== null) certs('ca', t.ca);
    if (t.cert !== null && t.key !== null) {
      const leaf = certs('cert', t.cert)[0];
      const text = read('key', t.key);
      let key: KeyObject;
      try { key = createPrivateKey(text); } catch { return bad('key', t.key, 'expected an unencrypted PEM private key'); }
      if (!leaf.checkPrivateKey(key)) bad('key', t.key, `expected the private key of the certificate in ${t.cert}`);
    }
    return null;
  } catch (e) {
    if (e instanceof Bad) return e.problem;
    throw e;
  }
}

/** NATS subject tokens: no spaces, no wildcards (events are published, not subscribed). */
function natsSubject(r: Reader, v: unknown, path: string): string {
  const s = r.str(v, path);
  const tokens = s.split('.');
  if (tokens.some((t) => t === '' || t === '*' || t === '>' || /[\s*>]/.test(t))) r.fail(path, 'a NATS subject like "revswitch.events" (dot-separated tokens, no spaces or wildcards)', v);
  return s;
}

function eventsFromJson(r: Reader, v: unknown): EventsConfig {
  const o = r.obj(v, 'events');
  r.keys(o, 'events', ['file', 'nats']);
  const out: EventsConfig = {};
  if (o.file !== undefined) {
    const f = r.obj(o.file, 'events.file');
    r.keys(f, 'events.file', ['dir', 'fsync']);
    out.file = { dir: r.str(f.dir, 'events.file.dir'), fsync: f.fsync === undefined ? false : r.bool(f.fsync, 'events.file.fsync') };
  }
  if (o.nats !== undefined) {
    const n = r.obj(o.nats, 'events.nats');
    r.keys(n, 'events.nats', ['url', 'subject', 'stream', 'spoolDir', 'fsync', 'duplicateWindowMs', 'maxSpoolBytes']);
    const d = NATS_EVENTS_DEFAULTS;
    const url = n.url === undefined ? d.url : r.str(n.url, 'events.nats.url');
    if (!/^(nats|tls):\/\/[^\s/]+(:\d+)?\/?$/.test(url)) r.fail('events.nats.url', 'a URL like "nats://127.0.0.1:4222"', n.url);
    const stream = n.stream === undefined ? d.stream : r.str(n.stream, 'events.nats.stream');
    if (!/^[A-Za-z0-9_-]+$/.test(stream)) r.fail('events.nats.stream', 'a stream name of letters, digits, "_" and "-"', n.stream);
    out.nats = {
      url, stream,
      subject: n.subject === undefined ? d.subject : natsSubject(r, n.subject, 'events.nats.subject'),
      spoolDir: n.spoolDir === undefined ? d.spoolDir : r.str(n.spoolDir, 'events.nats.spoolDir'),
      fsync: n.fsync === undefined ? d.fsync : r.bool(n.fsync, 'events.nats.fsync'),
      duplicateWindowMs: n.duplicateWindowMs === undefined ? d.duplicateWindowMs : r.int(n.duplicateWindowMs, 'events.nats.duplicateWindowMs', 1000, 7 * 86_400_000),
      maxSpoolBytes: n.maxSpoolBytes === undefined ? d.maxSpoolBytes : r.int(n.maxSpoolBytes, 'events.nats.maxSpoolBytes', 1 << 20, Number.MAX_SAFE_INTEGER),
    };
  }
  return out;
}

export function loadConfigFile(path: string): SwitchConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, and this file holds secrets:
    // the place and what was expected only.
    const at = jsonErrorPlace(text);
    throw new ConfigError(`${path}: not valid JSON${at === null ? '' : `: line ${at.line}, column ${at.column}: expected ${at.expected}`}`);
  }
  return configFromJson(data, path);
}
