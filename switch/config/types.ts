/**
 * The switch's configuration as the code sees it: every key with its type and default.
 * config/load.ts fills it from a JSON file, the command line puts flags on top, and
 * nothing else decides a default.
 */
import { ADMIN_LIMIT_DEFAULTS, type AdminLimits } from './admin-limits.js';

export { ADMIN_LIMIT_DEFAULTS, ADMIN_LIMIT_KEYS, ADMIN_LIMIT_RANGES, adminLimitsFromJson, type AdminLimits } from './admin-limits.js';

export interface ListenerConfig {
  name: string;
  host: string;
  port: number;
  dialect: string;
  framing: string;
  maxFrame: number;
  maxConnections: number;
  idleTimeoutMs: number;
  /** Absent: plain TCP. */
  tls?: TlsConfig;
  /** Absent: MACs are neither checked nor made. */
  mac?: MacConfig;
  /** Translate F52 from the terminal's PIN key (its PIK in the key store) to the upstream's ZPK before forwarding. */
  translatePin: boolean;
  /** A frame whose first byte has arrived must be whole within this, or the connection closes (slow clients); 0: no limit. */
  frameTimeoutMs: number;
  /**
   * A connection's first whole message must arrive within this of its accept (TLS: of its
   * handshake, which itself must finish within it); 0: no limit.
   */
  firstFrameTimeoutMs: number;
  /** Connections open at once from one address; past it a new one is refused. */
  maxConnectionsPerIp: number;
  /** New connections from one address: a token bucket refilled at this many a second, holding acceptBurstPerIp. */
  acceptPerSecondPerIp: number;
  acceptBurstPerIp: number;
  /** Requests read from one connection and not yet answered; at this many its reads pause (nothing is dropped). */
  maxInFlightPerConnection: number;
  /**
   * Duplicates a connection may have answered from memory a second (at once: the larger of
   * this and maxInFlightPerConnection); past it its reads pause until the allowance refills.
   */
  duplicatesPerSecondPerConnection: number;
}

export type MacAlgorithmName = 'x9.19' | 'iso9797-1-alg3-pad2' | 'cup-ecb' | 'cmac-aes';
export const MAC_ALGORITHM_NAMES: readonly MacAlgorithmName[] = ['x9.19', 'iso9797-1-alg3-pad2', 'cup-ecb', 'cmac-aes'];

/**
 * MACs on a listener or an upstream link: checked on what comes in, made on what goes out
 * (network management excepted: a sign-on is how a terminal gets its MAC key).
 */
export interface MacConfig {
  algorithm: MacAlgorithmName;
  /**
   * A key id in the key store. null: on a listener, each terminal's own MAK/TAK (by F41);
   * on an upstream, that upstream's ZAK.
   */
  key: string | null;
  /** A message without a valid MAC is refused (a request) or not trusted (an answer). Default true. */
  required: boolean;
  /** The fields the MAC covers, their values in this order; null: the message from its MTI to the field before the MAC (UnionPay: MTI to F63). */
  fields: number[] | null;
}

/** Where the keys of MACs, PINs and sign-ons live (edge/key-store.ts). */
export interface SecurityConfig {
  /** The key store file; null: no keys, so no MAC, no PIN translation, no key delivery at sign-on. */
  keyStore: string | null;
  /** The master key file (mode 0600) the key store is encrypted under; else REVSWITCH_MASTER_KEY. */
  masterKeyFile: string | null;
  /** After a terminal's sign-on, its previous MAC key still verifies for this long (messages in flight). */
  macOverlapMs: number;
}

/**
 * TLS on a listener or an upstream link; files are PEM paths. On a listener `cert` and
 * `key` are required and `ca` is what client certificates are checked against; on an
 * upstream `ca` checks the host (absent: Node's bundled roots) and `cert`/`key` are the
 * client certificate a mutual-TLS host asks for.
 */
export interface TlsConfig {
  cert: string | null;
  key: string | null;
  ca: string | null;
  /** Listener: ask every client for a certificate (mutual TLS). */
  requestCert: boolean;
  /** false only when written in the config, and warned about at every start. */
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** An OpenSSL cipher list; null: Node's default. */
  ciphers: string | null;
  /** Upstream: the name the host's certificate must carry (SNI too); null: the host. */
  servername: string | null;
  /**
   * Listener: client certificate subjects let in (a CN, a SAN entry such as
   * "DNS:acquirer-1.example", or just the name); empty: any certificate from `ca`.
   */
  allowedSubjects: string[];
}

export const TLS_DEFAULTS: TlsConfig = {
  cert: null, key: null, ca: null, requestCert: false, rejectUnauthorized: true, minVersion: 'TLSv1.2',
  ciphers: null, servername: null, allowedSubjects: [],
};

export interface UpstreamConfig {
  name: string;
  host: string;
  port: number;
  dialect: string;
  framing: string;
  maxFrame: number;
  /** Shorter than the terminals' own timeout, so the switch can still answer them. */
  timeoutMs: number;
  echoIdleMs: number;
  netTimeoutMs: number;
  signOn: boolean;
  reconnectBackoffMs: number[];
  /**
   * How this host takes a refund: `mti` "0220" (an advice, repeated as 0221: the default)
   * or "0200" (a financial request). Only the last three digits count; the version digit
   * is the dialect's (1220/1200 on 1993).
   */
  refund: { mti: string };
  /** Absent: plain TCP. */
  tls?: TlsConfig;
  /** Absent: MACs are neither checked nor made. */
  mac?: MacConfig;
  /** How the network sends this link a new working key: the cryptogram and check value in F48, or the cryptogram in F96 with its type in F53. */
  keyChange: { field: 'F48' | 'F96' };
}

/**
 * One rule of the routing table. A sale takes the first rule whose every listed criterion
 * it meets (an empty list is "any"), then the first of the rule's upstreams that is up.
 */
export interface RouteConfig {
  name: string;
  /** PAN prefixes (BIN ranges written as prefixes), 1-19 digits. */
  pan: string[];
  /** Processing code (F3) prefixes, 1-6 digits: "00" is every purchase, "000000" one exactly. */
  processingCode: string[];
  /** Acquiring institution ids (F32), whole. */
  acquirer: string[];
  /** Forwarding institution ids (F33), whole. */
  forwarder: string[];
  /** Upstream names: the primary first, then the fallbacks in order. */
  upstreams: string[];
}

export interface SwitchConfig {
  listeners: ListenerConfig[];
  /** Empty means: start the demo issuer in-process. */
  upstreams: UpstreamConfig[];
  /**
   * The routing table. Empty: one rule for every sale over every upstream in the order
   * they are listed (the first one up takes it). Reversals never route: they go to the
   * upstream their original went to.
   */
  routes: RouteConfig[];
  rules: string | null;
  store: string;
  admin: string;
  /**
   * Who may use the admin API's write endpoints (review approve and reject): a name for
   * each, and the SHA-256 of its bearer token as "sha256:<64 hex>" (never the token itself).
   * Empty: every write endpoint answers 403. From `admin: {listen, tokens}` in the file.
   */
  adminTokens: Record<string, string>;
  /**
   * Host names the admin server answers to besides localhost and the address it is bound
   * to: a request naming any other Host (a web page reaching it by DNS rebinding) gets 421.
   */
  adminHosts: string[];
  /** The longest window GET /api/report and `revswitch report` answer, days (admin.reportMaxDays; default 31). */
  adminReportMaxDays: number;
  /** Every /api/* read needs a bearer token of adminTokens too (admin.requireTokenForReads; default false). */
  adminRequireTokenForReads: boolean;
  /** What one admin HTTP client may cost: body and header sizes, timeouts, requests at once (./admin-limits.ts). */
  adminLimits: AdminLimits;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  tickMs: number;
  /** How long ended transactions stay for duplicates, terminal reversals and late answers. */
  retentionMs: number;
  maxRetained: number;
  /** The key behind PAN hashes and sealed PANs; else REVSWITCH_PAN_KEY, else a key file next to the store. */
  panHashKey: string | null;
  /** Later PAN sealing keys by id (k1, k2...), the last one sealing: for stores whose key is not in a key file. */
  panSealKeys: Record<string, string>;
  /** This switch's id in a shared store. Default: the host name. */
  node: string | null;
  /** Timeout for an upstream the config does not describe (the demo issuer), from the flag. */
  upstreamTimeoutMs: number | null;
  reversal: { window: number; responseTimeoutMs: number; backoffMs: number[]; maxAttempts: number; maxAgeMs: number; maxInMemory: number };
  /** Lifecycle event sinks (switch/observe/events/); none configured: events are off and cost nothing. */
  events: EventsConfig;
  /**
   * Several nodes on one store (docs/deployment.md): a heartbeat every heartbeatMs; a
   * reversal leased to a node is taken by another leaseMs after the node stops renewing;
   * a node whose heartbeat is older than nodeDeadMs is dead, and its unfinished
   * transactions are taken over and reversed.
   */
  cluster: { heartbeatMs: number; leaseMs: number; nodeDeadMs: number };
  /**
   * Terminal reversals of sales the switch never saw, per sender and minute: how many get a
   * journal row of their own (the rest one aggregate row), and above how many it is an alert.
   */
  unknownOriginals: { recordPerMinute: number; alertPerMinute: number };
  /** How long sealed messages and journal rows are kept (switch/store/maintenance.ts). */
  retention: { sealedDays: number; evidenceDays: number; auto: boolean };
  security: SecurityConfig;
  /**
   * Admission control: past this many journal writes queued, terminal reads pause until
   * the backlog halves (engine/admission.ts). 0: off.
   */
  maxStoreBacklog: number;
}

export interface NatsEventsConfig {
  /** nats://HOST:PORT */
  url: string;
  subject: string;
  /** The JetStream stream; created on `subject` when missing. */
  stream: string;
  /** The disk buffer events go through before NATS; one process owns it at a time. */
  spoolDir: string;
  /** fdatasync each spool append. */
  fsync: boolean;
  /** The duplicate window of a stream the switch creates: redelivery within it is de-duplicated. */
  duplicateWindowMs: number;
  /** Past this much unpublished data in the spool, new events are dropped (and counted, logged). */
  maxSpoolBytes: number;
}

export interface EventsConfig {
  /** Length-delimited protobuf files, one per UTC day, in `dir`. */
  file?: { dir: string; fsync: boolean };
  nats?: NatsEventsConfig;
}

export const NATS_EVENTS_DEFAULTS: NatsEventsConfig = {
  url: 'nats://127.0.0.1:4222', subject: 'revswitch.events', stream: 'REVSWITCH_EVENTS', spoolDir: './data/events-spool',
  fsync: false, duplicateWindowMs: 10 * 60_000, maxSpoolBytes: 1024 * 1024 * 1024,
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const LISTENER_DEFAULTS: Omit<ListenerConfig, 'name' | 'port'> = {
  host: '127.0.0.1', dialect: 'iso87a', framing: 'len2', maxFrame: 8192, maxConnections: 10_000, idleTimeoutMs: 60_000, translatePin: false,
  // A terminal sends its request, an acquirer host its sign-on, as soon as it connects: 10 s
  // is ample over a slow line, while a client that connects and says nothing ties up a
  // socket for 1/6 of the idle timeout. A host that opens lanes and waits for its echo
  // timer needs it raised above that timer. The accept limits leave a host room to reopen
  // all its lanes (up to maxConnectionsPerIp) several times over at once.
  frameTimeoutMs: 5000, firstFrameTimeoutMs: 10_000, maxConnectionsPerIp: 256, acceptPerSecondPerIp: 1000, acceptBurstPerIp: 1000,
  maxInFlightPerConnection: 1000, duplicatesPerSecondPerConnection: 100,
};

export const UPSTREAM_DEFAULTS: Omit<UpstreamConfig, 'name' | 'host' | 'port'> = {
  dialect: 'iso87a', framing: 'len2', maxFrame: 8192, timeoutMs: 8000, echoIdleMs: 30_000, netTimeoutMs: 5000,
  signOn: true, reconnectBackoffMs: [100, 500, 1000, 2000, 5000], refund: { mti: '0220' }, keyChange: { field: 'F48' },
};

export function defaultConfig(): SwitchConfig {
  return {
    listeners: [{ name: 'pos', port: 8583, ...LISTENER_DEFAULTS }],
    upstreams: [],
    routes: [],
    rules: null,
    store: 'sqlite:./data/revswitch.db',
    admin: '127.0.0.1:9464',
    adminTokens: {},
    adminHosts: [],
    adminReportMaxDays: 31,
    adminRequireTokenForReads: false,
    adminLimits: { ...ADMIN_LIMIT_DEFAULTS },
    logLevel: 'info',
    tickMs: 10,
    retentionMs: 15 * 60_000,
    // Under 1 KB of heap each, packed (measured by the e2e bench): ~250 MB at the cap. Beyond it the
    // journal answers duplicates and terminal reversals of the older ones.
    maxRetained: 250_000,
    panHashKey: null,
    panSealKeys: {},
    node: null,
    upstreamTimeoutMs: null,
    reversal: { window: 16, responseTimeoutMs: 5000, backoffMs: [1000, 5000, 30_000, 60_000, 300_000], maxAttempts: 20, maxAgeMs: 24 * 3_600_000, maxInMemory: 100_000 },
    events: {},
    cluster: { heartbeatMs: 1000, leaseMs: 10_000, nodeDeadMs: 15_000 },
    unknownOriginals: { recordPerMinute: 10, alertPerMinute: 100 },
    retention: { sealedDays: 7, evidenceDays: 395, auto: true },
    security: { keyStore: null, masterKeyFile: null, macOverlapMs: 60_000 },
    maxStoreBacklog: 4096,
  };
}
