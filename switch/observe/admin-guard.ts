/**
 * What keeps one admin HTTP client from costing the switch more than its share
 * (config admin.* limits, config/admin-limits.ts): the refusals and their metrics, a body
 * reader that stops at the limit, and the one way every admin answer is written.
 *
 * A slow reader is judged by progress, not by the time its answer takes: admin.ts arms
 * the socket's inactivity timeout once the handler is done, and Node holds that timeout
 * off while the socket's write queue keeps shrinking. A reader that keeps taking bytes,
 * however slowly, is served whole; one that takes none for admin.sendTimeoutMs is
 * dropped, and the answer it held goes with it.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a request was refused (a label of revswitch_admin_refusals_total). */
export const REFUSALS = ['busy', 'body_too_large', 'header_too_large', 'timeout', 'malformed'] as const;
export type Refusal = (typeof REFUSALS)[number];

/** The admin server's own figures, on the switch's registry. */
export interface AdminMetrics {
  refused(reason: Refusal): void;
  /** A response dropped because its client stopped reading it. */
  dropped(): void;
}

/** Registers the admin metrics (once per registry: a second server on it counts into the same counters; the gauge stays the first's). */
export function adminMetrics(registry: Registry, inProgress: () => number): AdminMetrics {
  const existing = registry.getSingleMetric('revswitch_admin_refusals_total');
  const refusals = existing instanceof Counter ? existing as Counter<'reason'> : new Counter({
    name: 'revswitch_admin_refusals_total',
    help: 'Admin HTTP requests refused: busy (admin.maxConcurrent reached; 503), body_too_large (413), header_too_large (431), timeout (headers or request too slow; 408), malformed (400).',
    labelNames: ['reason'], registers: [registry],
  });
  for (const r of REFUSALS) refusals.inc({ reason: r }, 0);
  const oldDrops = registry.getSingleMetric('revswitch_admin_slow_readers_dropped_total');
  const drops = oldDrops instanceof Counter ? oldDrops as Counter : new Counter({
    name: 'revswitch_admin_slow_readers_dropped_total',
    help: 'Admin HTTP answers dropped, and their connection closed, because the client took none of it for admin.sendTimeoutMs.',
    registers: [registry],
  });
  if (registry.getSingleMetric('revswitch_admin_requests_in_progress') === undefined) {
    new Gauge({
      name: 'revswitch_admin_requests_in_progress', help: 'Admin HTTP requests being answered or sent now (/healthz and /readyz not counted).', registers: [registry],
      collect() { this.set(inProgress()); },
    });
  }
  return { refused: (reason) => refusals.inc({ reason }), dropped: () => drops.inc() };
}

/**
 * Writes a whole answer with its Content-Length (no body for HEAD) in one write. Node
 * holds it until the client has taken it: one copy per answer, and at most
 * admin.maxConcurrent of them, each for as long as its client keeps taking bytes (admin.ts
 * drops one that takes none for admin.sendTimeoutMs).
 */
export function sendBody(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'content-length': buf.length });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}

/** An answer the server itself gives (a refusal), JSON like the API's errors. */
export function refuse(res: ServerResponse, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  sendBody(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, JSON.stringify({ error: message }) + '\n');
}

/** A body over the limit: thrown by readBody, answered 413 by whoever catches it. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is over ${limit} bytes (admin.maxBodyBytes)`);
  }
}

/**
 * The request's body, at most `limit` bytes: past it, reading stops and BodyTooLarge is
 * thrown, so a client streaming a chunked body without end costs no more than the limit.
 * (A Content-Length over the limit never gets here: admin.ts refuses it before any handler.)
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new BodyTooLarge(limit);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The parser's errors as refusals; null for a client that went away (nothing to count or answer). */
export function clientErrorReason(code: string | undefined): Refusal | null {
  if (code === 'HPE_HEADER_OVERFLOW') return 'header_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  if (code !== undefined && code.startsWith('HPE_')) return 'malformed';
  return null;
}

const RAW: Readonly<Record<Refusal, string>> = {
  busy: '503 Service Unavailable',
  body_too_large: '413 Payload Too Large',
  header_too_large: '431 Request Header Fields Too Large',
  timeout: '408 Request Timeout',
  malformed: '400 Bad Request',
};

/**
 * What Node's own clientError handler does (it is replaced to count): the status line on
 * a connection that has had nothing written to it yet, then close it.
 */
export function closeClient(socket: Duplex, reason: Refusal | null): void {
  const fresh = (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0;
  if (reason !== null && socket.writable && fresh) socket.write(`HTTP/1.1 ${RAW[reason]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}
