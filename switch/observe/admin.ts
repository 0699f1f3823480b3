/**
 * The admin HTTP server (`--admin HOST:PORT`, default 127.0.0.1:9464; `off` for none):
 *
 * - GET /metrics: the Prometheus text format, from the switch's own registry;
 * - GET /healthz: 200 "ok" while the process is alive;
 * - GET /readyz: 200 once the store is writable and at least one upstream link is signed
 *   on, else 503; the body says what is missing, one reason a line.
 *
 * Other routes are mounted by prefix (`mount('/api/', handler)`, for the reports); a
 * handler answers true when it wrote the response. Anything else is 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Switch } from '../engine/switch.js';
import type { Logger } from './log.js';

export interface Readiness {
  ready: boolean;
  /** What is missing (empty when ready), or what is fine. */
  reasons: string[];
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface AdminOptions {
  host: string;
  /** 0 picks a free port: read it back from `port` after start(). */
  port: number;
  registry: Registry;
  ready: () => Promise<Readiness>;
  log: Logger;
}

/** "off", or HOST:PORT / :PORT / PORT as elsewhere; null for off. */
export function parseAdminAddress(v: string): { host: string; port: number } | null {
  if (v === 'off') return null;
  const i = v.lastIndexOf(':');
  const host = i < 0 ? '127.0.0.1' : v.slice(0, i) || '127.0.0.1';
  const portText = i < 0 ? v : v.slice(i + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new Error(`expected HOST:PORT or off, got ${JSON.stringify(v)}`);
  return { host, port };
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
      send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : 'not ready'}\n${r.reasons.map((x) => `- ${x}\n`).join('')}`);
      return;
    }
    for (const m of this.mounts) {
      if (path.startsWith(m.prefix) && (await m.handler(req, res))) return;
    }
    send(res, 404, 'not found\n');
  }
}

/** How long /readyz waits for the store to commit what is queued. */
const STORE_PROBE_MS = 1000;

/**
 * Ready when at least one upstream link is signed on and the store is writable: its last
 * batch committed (or none failed) and what is queued now commits within a second.
 */
export async function switchReadiness(sw: Switch): Promise<Readiness> {
  const reasons: string[] = [];
  const links = [...sw.links.values()];
  const up = links.filter((l) => l.isUp).map((l) => l.opts.name);
  if (up.length === 0) {
    reasons.push(links.length === 0 ? 'no upstream link is configured' : `no upstream link is signed on (${links.map((l) => `${l.opts.name}: ${l.state}`).join(', ')})`);
  }
  const store = sw.journal.store;
  const status = sw.metrics.store();
  if (!status.ok) {
    reasons.push(`store not writable: the last batch did not commit: ${status.lastError ?? 'unknown error'}`);
  } else {
    let timer: NodeJS.Timeout | undefined;
    const probe = await Promise.race([
      store.flush().then(() => 'ok', (e: unknown) => `store not writable: ${e instanceof Error ? e.message : String(e)}`),
      new Promise<string>((r) => { timer = setTimeout(() => r(`store not writable: queued writes did not commit within ${STORE_PROBE_MS} ms`), STORE_PROBE_MS); }),
    ]);
    clearTimeout(timer);
    if (probe !== 'ok') reasons.push(probe);
  }
  if (reasons.length > 0) return { ready: false, reasons };
  return { ready: true, reasons: [`upstream signed on: ${up.join(', ')}`, `store writable: ${store.url}`] };
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
