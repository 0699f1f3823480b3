/**
 * The admin HTTP server's limits (config `admin: {...}`): what one client may cost it.
 * The admin port serves people and scrapers, never payments, so its defaults are tight:
 * a client that dribbles its headers, sends a body nobody asked for, opens requests
 * faster than they are answered or stops reading a big answer is cut off, not waited for.
 */

/** What the check needs of config/reader.ts's Reader (not imported: config/types.ts imports this file, and the reader imports types). */
interface LimitReader {
  int(v: unknown, path: string, min: number, max: number): number;
  fail(path: string, what: string, got: unknown): never;
}

export interface AdminLimits {
  /** A request body longer than this is refused 413 without being read (the review API's decisions are a note and an action). */
  maxBodyBytes: number;
  /** Request line and headers together (Node's maxHeaderSize, for this server only); past it: 431. */
  maxHeaderBytes: number;
  /** The headers must be in within this of the request's first byte; else 408 and the connection closes. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must be in within this; at least headersTimeoutMs. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection closes after this. */
  keepAliveTimeoutMs: number;
  /** Requests in progress at once (answering, or their answer still being sent); past it: 503 with Retry-After. /healthz and /readyz are exempt. */
  maxConcurrent: number;
  /** A response the client takes nothing of for this long is dropped (the connection closed), freeing its memory and its place. */
  sendTimeoutMs: number;
}

export const ADMIN_LIMIT_DEFAULTS: Readonly<AdminLimits> = {
  maxBodyBytes: 64 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5000,
  maxConcurrent: 32,
  sendTimeoutMs: 10_000,
};

/** Each key's bounds: whole numbers, checked by the config loader and by AdminServer.limit() alike. */
export const ADMIN_LIMIT_RANGES: Readonly<Record<keyof AdminLimits, readonly [number, number]>> = {
  maxBodyBytes: [256, 16 * 1024 * 1024],
  maxHeaderBytes: [1024, 1024 * 1024],
  headersTimeoutMs: [100, 600_000],
  requestTimeoutMs: [100, 3_600_000],
  keepAliveTimeoutMs: [100, 600_000],
  maxConcurrent: [1, 10_000],
  sendTimeoutMs: [100, 600_000],
};

export const ADMIN_LIMIT_KEYS = Object.keys(ADMIN_LIMIT_DEFAULTS) as (keyof AdminLimits)[];

/** The limit keys of an `admin` object over the defaults; errors name admin.KEY. */
export function adminLimitsFromJson(r: LimitReader, a: Record<string, unknown>): AdminLimits {
  const out = { ...ADMIN_LIMIT_DEFAULTS };
  for (const k of ADMIN_LIMIT_KEYS) {
    const [min, max] = ADMIN_LIMIT_RANGES[k];
    if (a[k] !== undefined) out[k] = r.int(a[k], `admin.${k}`, min, max);
  }
  // Node refuses a headers timeout longer than the request's: said here, with the path.
  if (out.requestTimeoutMs < out.headersTimeoutMs) {
    r.fail('admin.requestTimeoutMs', `at least admin.headersTimeoutMs (${out.headersTimeoutMs}): the headers are part of the request`, out.requestTimeoutMs);
  }
  return out;
}
