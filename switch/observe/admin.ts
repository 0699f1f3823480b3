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
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { parseHostPort, type HostPort } from '../config/host-port.js';
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
}

/** "off", or an address as config/host-port.ts reads it; null for off. */
export function parseAdminAddress(v: string): HostPort | null {
  return v === 'off' ? null : parseHostPort(v);
}

export class AdminServer {
  private readonly server: Server;
  private readonly mounts: { prefix: string; handler: AdminHandler }[] = [];
  private stopping = false;

  constructor(private readonly opts: AdminOptions) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((e: unknown) => {
        opts.log.error('admin request failed', { path: pathOf(req), error: e instanceof Error ? e.message : String(e) });
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    // A scraper that keeps its connection open must not hold shutdown.
    this.server.keepAliveTimeout = 5000;
    if (opts.console !== false) {
      this.mount('/', consoleStatic(opts.console));
      this.mount('/api/overview', overviewRoute(opts.registry));
    }
  }

  /** Adds routes under `prefix` (e.g. "/api/"); the longest matching prefix is asked first. */
  mount(prefix: string, handler: AdminHandler): void {
    if (!prefix.startsWith('/')) throw new Error(`admin: a mount prefix starts with "/", got ${JSON.stringify(prefix)}`);
    this.mounts.push({ prefix, handler });
    this.mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        this.server.on('error', (e) => this.opts.log.error('admin server error', { error: e.message }));
        resolve();
      });
    });
  }

  /** The bound port (an ephemeral one when configured with 0). */
  get port(): number {
    const a = this.server.address();
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
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
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
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
