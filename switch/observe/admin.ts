/**
 * The admin HTTP server (`--admin HOST:PORT`, default 127.0.0.1:9464; `off` for none):
 *
 * - GET /metrics: the Prometheus text format, from the switch's own registry;
 * - GET /healthz: 200 "ok" while the process is alive;
 * - GET /readyz: 200 once the store is writable and at least one upstream link is signed
 *   on, else 503; the body says what is missing, one reason a line.
 *
 * - GET / and /assets/...: the operations console (./console-static.ts), and
 *   GET /api/overview, the figures its overview shows (./overview.ts): mounted here, so
 *   every admin server has them.
 *
 * Other routes are mounted by prefix (`mount('/api/', handler)`, for the reports); a
 * handler answers true when it wrote the response. Anything else is 404.
 *
 * One client must not cost the switch more than its share (config admin.*, issue 21):
 * headers over admin.maxHeaderBytes get 431, a body declared over admin.maxBodyBytes 413
 * before a byte of it is read, headers or a request slower than their timeouts 408 and
 * the connection closed (a slow-loris client holds a socket that long and no longer),
 * more than admin.maxConcurrent requests at once 503 with Retry-After (the probes
 * /healthz and /readyz excepted: a balancer must not take the node out because the
 * console is busy), and an answer its client stops reading is dropped after
 * admin.sendTimeoutMs (./admin-guard.ts), so what it holds is bounded by maxConcurrent
 * bodies for that long.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { ADMIN_LIMIT_DEFAULTS, ADMIN_LIMIT_RANGES, type AdminLimits } from '../config/admin-limits.js';
import { parseHostPort, type HostPort } from '../config/host-port.js';
import { adminMetrics, clientErrorReason, closeClient, refuse, sendBody, type AdminMetrics } from './admin-guard.js';
import { consoleStatic } from './console-static.js';
import type { Logger } from './log.js';
import { overviewRoute } from './overview.js';

export interface Readiness {
  ready: boolean;
  /** What is missing (empty when ready), or what is fine. */
  reasons: string[];
  /** What a person should see but readiness never depends on (the event sinks). */
  notes?: string[];
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface AdminOptions {
  host: string;
  /** 0 picks a free port: read it back from `port` after start(). */
  port: number;
  registry: Registry;
  ready: () => Promise<Readiness>;
  log: Logger;
  /** Host names answered besides localhost, 127.0.0.1, ::1 and the bound address (config admin.hosts). */
  hosts?: readonly string[];
  /** The built console's folders, first found served (default: ./console-static.ts's); false for no console. */
  console?: readonly string[] | false;
  /** Over config/admin-limits.ts's defaults; also settable with limit() until start(). */
  limits?: Partial<AdminLimits>;
}

/** "off", or an address as config/host-port.ts reads it; null for off. */
export function parseAdminAddress(v: string): HostPort | null {
  return v === 'off' ? null : parseHostPort(v);
}

export class AdminServer {
  private server: Server | null = null;
  private readonly mounts: { prefix: string; handler: AdminHandler }[] = [];
  private stopping = false;
  private limits: AdminLimits = { ...ADMIN_LIMIT_DEFAULTS };
  /** Requests in progress, probes aside: at limits.maxConcurrent the next is refused. */
  private active = 0;
  private readonly metrics: AdminMetrics;

  constructor(private readonly opts: AdminOptions) {
    this.metrics = adminMetrics(opts.registry, () => this.active);
    this.limit(opts.limits ?? {});
    if (opts.console !== false) {
      this.mount('/', consoleStatic(opts.console));
      this.mount('/api/overview', overviewRoute(opts.registry));
    }
  }

  /** Sets limits (over those already set); before start() only, since Node reads some when the server is made. */
  limit(l: Partial<AdminLimits>): void {
    if (this.server) throw new Error('admin: limits are set before start()');
    const next = { ...this.limits, ...l };
    for (const [k, [min, max]] of Object.entries(ADMIN_LIMIT_RANGES)) {
      const v = next[k as keyof AdminLimits];
      if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`admin: ${k} must be a whole number from ${min} to ${max}, got ${v}`);
    }
    if (next.requestTimeoutMs < next.headersTimeoutMs) throw new RangeError('admin: requestTimeoutMs must be at least headersTimeoutMs');
    this.limits = next;
  }

  /** Adds routes under `prefix` (e.g. "/api/"); the longest matching prefix is asked first. */
  mount(prefix: string, handler: AdminHandler): void {
    if (!prefix.startsWith('/')) throw new Error(`admin: a mount prefix starts with "/", got ${JSON.stringify(prefix)}`);
    this.mounts.push({ prefix, handler });
    this.mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  start(): Promise<void> {
    const l = this.limits;
    const server = createServer({
      maxHeaderSize: l.maxHeaderBytes,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      // Node looks for overdue headers and requests this often (30 s by default): a
      // timeout is kept to within a quarter of itself, or a second.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(l.headersTimeoutMs / 4))),
    }, (req, res) => this.handle(req, res));
    server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
      const reason = clientErrorReason(e.code);
      if (reason !== null) this.metrics.refused(reason);
      closeClient(socket, reason);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.opts.log.error('admin server error', { error: e.message }));
        resolve();
      });
    });
  }

  /** The bound port (an ephemeral one when configured with 0). */
  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  get host(): string {
    return this.opts.host;
  }

  private hostAllowed(header: string | undefined): boolean {
    const name = hostName(header);
    if (name === null) return false;
    const bound = this.opts.host.toLowerCase();
    const own = [bound, bound.includes(':') ? `[${bound}]` : bound, 'localhost', '127.0.0.1', '[::1]'];
    return own.includes(name) || (this.opts.hosts ?? []).includes(name);
  }

  /** /readyz answers 503 "stopping" from now on; the rest still answers until stop(). */
  draining(): void {
    this.stopping = true;
  }

  stop(): Promise<void> {
    this.stopping = true;
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    const probe = path === '/healthz' || path === '/readyz';
    if (!probe) {
      if (this.active >= this.limits.maxConcurrent) {
        this.metrics.refused('busy');
        refuse(res, 503, `busy: ${this.limits.maxConcurrent} admin requests in progress (admin.maxConcurrent); retry shortly`, { 'retry-after': '1' });
        return;
      }
      this.active++;
      res.once('close', () => this.active--);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.limits.maxBodyBytes) {
      // Answered before a byte of the body is read, and the connection closed after, so
      // the rest of it is never read either.
      this.metrics.refused('body_too_large');
      refuse(res, 413, `the request body is over ${this.limits.maxBodyBytes} bytes (admin.maxBodyBytes)`, { connection: 'close' });
      return;
    }
    this.route(req, res).then(
      () => this.watchSend(res),
      (e: unknown) => {
        this.opts.log.error('admin request failed', { path, error: e instanceof Error ? e.message : String(e) });
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      },
    );
  }

  /**
   * The handler is done; its answer may still be on its way out. A client that takes none
   * of it for sendTimeoutMs is dropped: Node's socket timeout does not fire while the
   * write queue shrinks, so a slow but steady reader is not (./admin-guard.ts).
   */
  private watchSend(res: ServerResponse): void {
    if (res.writableFinished || res.destroyed) return;
    res.setTimeout(this.limits.sendTimeoutMs, () => {
      this.metrics.dropped();
      this.opts.log.warn('admin answer dropped: the client stopped reading it', { path: pathOf(res.req), timeoutMs: this.limits.sendTimeoutMs });
      res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.hostAllowed(req.headers.host)) {
      // A page elsewhere that resolves its own name to this address (DNS rebinding) sends
      // its own name as Host: it is not this server's to answer.
      send(res, 421, 'misdirected request: this admin server answers to localhost, its address and admin.hosts only\n');
      return;
    }
    const path = pathOf(req);
    const builtin = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (builtin && req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.opts.registry.metrics();
      send(res, 200, body, this.opts.registry.contentType);
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      const r: Readiness = this.stopping ? { ready: false, reasons: ['stopping'] } : await this.opts.ready();
      const notes = (r.notes ?? []).map((x) => `  (${x})\n`).join('');
      send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : 'not ready'}\n${r.reasons.map((x) => `- ${x}\n`).join('')}${notes}`);
      return;
    }
    for (const m of this.mounts) {
      if (path.startsWith(m.prefix) && (await m.handler(req, res))) return;
    }
    send(res, 404, 'not found\n');
  }
}

/** The host name of a Host header ("name:port", "[::1]:port"), lower case; null when absent. */
function hostName(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  sendBody(res, status, { 'content-type': type, 'cache-control': 'no-store' }, body);
}
