/**
 * From a store URL and options to node-postgres's settings, without connecting:
 * `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&pool=N&lock_timeout=MS&connect_timeout=S]`
 * (`postgresql://` too). Each pooled connection starts with its search_path set to
 * `schema`, so several stores share one database without seeing each other's rows.
 *
 * BIGINT (int8) comes back from node-postgres as a string; this store's pool parses it to
 * a number (epoch ms, sequence numbers), refusing a value beyond 2^53 rather than
 * rounding it. The parser is the pool's own: the process-wide pg.types are left alone.
 */
import pg from 'pg';
import type { CustomTypesConfig } from 'pg';
import type { GroupCommitOptions } from './group-commit.js';
import { redactUrl } from './url.js';

export interface PostgresUrl {
  /** What node-postgres gets: the URL without this store's own parameters. */
  connectionString: string;
  /** Where the tables live. */
  schema: string;
  /** Pooled connections (one carries the batches, the others reads). */
  pool: number;
  /** How long a statement waits for a lock (another node's, an operator's) before the batch fails, ms; 0 waits forever. */
  lockTimeoutMs: number;
  /** How long connecting may take, ms; 0 waits forever. */
  connectTimeoutMs: number;
}

export interface PostgresStoreOptions extends Partial<GroupCommitOptions> {
  /** Default: the URL's, else `public`. */
  schema?: string;
  /** Default: the URL's `pool`, else 4. */
  pool?: number;
  /** Default: the URL's `lock_timeout`, else 5000 (SQLite's busy_timeout). */
  lockTimeoutMs?: number;
  /** Default: the URL's `connect_timeout` (seconds), else 10 s. */
  connectTimeoutMs?: number;
  /**
   * node-postgres pipeline mode (default true): a batch's statements go out together.
   * false waits for each answer before sending the next statement (for measuring).
   */
  pipeline?: boolean;
  /**
   * Several operations of one kind on distinct rows as one multi-row statement (default
   * true). false: one statement per operation (for measuring).
   */
  multiRow?: boolean;
}

const EXPECTED = 'expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&pool=N&lock_timeout=MS&connect_timeout=S]';
/** Query parameters node-postgres understands and this store passes on untouched. */
const PASS_THROUGH = new Set(['host', 'port', 'user', 'password', 'sslmode', 'ssl', 'sslcert', 'sslkey', 'sslrootcert', 'application_name']);
/** Lower case: search_path folds an unquoted name to lower case, and this one goes unquoted into a startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function wholeNumber(url: string, k: string, v: string, min: number, max: number, unit: string): number {
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`store URL ${JSON.stringify(redactUrl(url))}: ${k} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function checkSchemaName(url: string, schema: string): string {
  if (!SCHEMA_NAME.test(schema) || schema.startsWith('pg_')) {
    throw new Error(`store URL ${JSON.stringify(redactUrl(url))}: schema must be a lower-case name of letters, digits and _ ` +
      `(at most 63, not starting with a digit or pg_), got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** Parses a postgres:// URL; throws an error naming the URL (without its password) and what was expected. */
export function parsePostgresUrl(url: string): PostgresUrl {
  const shown = JSON.stringify(redactUrl(url));
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`store URL ${shown}: not a valid URL; ${EXPECTED}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`store URL ${shown}: ${EXPECTED}`);
  if (u.hostname === '' && !u.searchParams.has('host')) throw new Error(`store URL ${shown}: no host; ${EXPECTED}`);
  if (u.pathname === '' || u.pathname === '/') throw new Error(`store URL ${shown}: no database name; ${EXPECTED}`);
  const out: PostgresUrl = { connectionString: '', schema: 'public', pool: 4, lockTimeoutMs: 5000, connectTimeoutMs: 10_000 };
  const seen = new Set<string>();
  for (const [k, v] of u.searchParams) {
    if (seen.has(k)) throw new Error(`store URL ${shown}: ${k} is given twice`);
    seen.add(k);
    if (k === 'schema') out.schema = checkSchemaName(url, v);
    else if (k === 'pool') out.pool = wholeNumber(url, k, v, 1, 1000, 'connections');
    else if (k === 'lock_timeout') out.lockTimeoutMs = wholeNumber(url, k, v, 0, 2_147_483_647, 'ms');
    else if (k === 'connect_timeout') out.connectTimeoutMs = wholeNumber(url, k, v, 0, 86_400, 'seconds') * 1000;
    else if (!PASS_THROUGH.has(k)) {
      throw new Error(`store URL ${shown}: unknown parameter ${JSON.stringify(k)}; expected schema, pool, lock_timeout, connect_timeout or one of ${[...PASS_THROUGH].join(', ')}`);
    }
  }
  for (const k of ['schema', 'pool', 'lock_timeout', 'connect_timeout']) u.searchParams.delete(k);
  out.connectionString = u.toString();
  return out;
}

/** int8 to a JS number, never rounded. */
function parseInt8(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`the database returned the BIGINT ${s}, beyond JavaScript's safe integers`);
  return n;
}
const INT8_OID = 20;
const builtinParser = pg.types.getTypeParser;
/** The pool's type parsers: node-postgres's, except int8 (a string there) parsed to a number. */
export const PG_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : builtinParser(oid, format as 'text')) as CustomTypesConfig['getTypeParser'],
};

export interface PostgresConfig extends PostgresUrl {
  /** How errors name this store (its URL without a password). */
  label: string;
  pipeline: boolean;
  /** Several operations of a kind in one statement (default true). */
  multiRow: boolean;
}

/** node-postgres's pool settings for a store. */
export function poolConfig(c: PostgresConfig, pipeline = c.pipeline): pg.PoolConfig {
  return {
    connectionString: c.connectionString,
    max: c.pool,
    options: `-c search_path=${c.schema}`,
    lock_timeout: c.lockTimeoutMs,
    connectionTimeoutMillis: c.connectTimeoutMs,
    types: PG_TYPES,
    pipeline,
    // An idle open store does not hold the process open (as the SQLite worker does not).
    allowExitOnIdle: true,
    application_name: 'revswitch',
  };
}

/** The store's settings from its URL and options; throws on a bad URL, naming it without its password. */
export function postgresConfig(url: string, opts: PostgresStoreOptions = {}): PostgresConfig {
  const parsed = parsePostgresUrl(url);
  const c: PostgresConfig = {
    ...parsed,
    label: redactUrl(url),
    pipeline: opts.pipeline ?? true,
    multiRow: opts.multiRow ?? true,
  };
  if (opts.schema !== undefined) c.schema = checkSchemaName(url, opts.schema);
  if (opts.pool !== undefined) c.pool = opts.pool;
  if (opts.lockTimeoutMs !== undefined) c.lockTimeoutMs = opts.lockTimeoutMs;
  if (opts.connectTimeoutMs !== undefined) c.connectTimeoutMs = opts.connectTimeoutMs;
  return c;
}
