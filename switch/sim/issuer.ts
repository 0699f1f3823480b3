/**
 * The issuer simulator: a TCP server that answers authorizations and financial requests
 * like an issuer host, with configurable approval, latency, drops and late answers,
 * "magic amounts" that script one sale's outcome (./magic.ts), and a ledger of holds
 * (./ledger.ts) that proves what reached the issuer and what was undone.
 *
 * Many connections, and many requests in flight on each: every request is decided when
 * it arrives (the hold, if any, is placed at once) and answered on its own timer, so
 * answers go out of order when their latencies differ.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { responseTo, type Dialect, type Framing, type FramingName, type IsoError, type IsoMessage } from '../../codec/index.js';
import { formatLedger } from './format.js';
import { Ledger, type LedgerSnapshot } from './ledger.js';
import { magicOf } from './magic.js';
import { createRng, randomSeed, type Rng } from './prng.js';
import { Link, simDialect, simFraming } from './wire.js';

export type Latency = number | { min: number; max: number };

export interface IssuerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port; read it back from IssuerSim.port. */
  port?: number;
  /** Default iso87a. */
  dialect?: Dialect | string;
  /** Default len2. */
  framing?: Framing | FramingName;
  /** Share of non-magic sales approved; the rest decline 05 or 51. Default 0.9. */
  approveRate?: number;
  /** Answer delay of every request: fixed, or uniform in [min, max]. Default 0. */
  latencyMs?: Latency;
  /** Share of non-magic sales never answered. An approval among them keeps its hold (the answer was lost). Default 0. */
  dropRate?: number;
  /** Share of non-magic sales answered after lateMs instead of the latency. Default 0. */
  lateRate?: number;
  /** The delay of a late answer: set it above the switch's upstream timeout. Default 10000. */
  lateMs?: number;
  /** Share of reversals processed (the hold released) whose 0410/0430 is never sent. Default 0. */
  reversalDropRate?: number;
  /** PRNG seed; decisions repeat for the same seed and arrival order. Default random (see IssuerSim.seed). */
  seed?: number;
  /** Serve GET /ledger (JSON) and GET /ledger/summary (text) here. Port 0 picks one. */
  ledgerHttp?: { host: string; port: number };
  /** Max frame body. Default 8192. */
  maxFrame?: number;
  /** One line per notable event (decode errors); never carries card data. */
  log?: (line: string) => void;
}

/** What the issuer did with one message, delivered after the ledger was updated. */
export interface IssuerEvent {
  msg: IsoMessage;
  /** The answer, or null when none will be sent. */
  answer: IsoMessage | null;
  /** When the answer goes out, from now. */
  delayMs: number;
  /** For reversals: what it did to the ledger. */
  reversal: 'applied' | 'repeat' | 'second' | 'unmatched' | null;
}

export interface IssuerSim {
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  readonly dialect: Dialect;
  readonly framing: Framing;
  /** http://HOST:PORT/ledger when ledgerHttp was given, else null. */
  readonly ledgerUrl: string | null;
  /** A snapshot: later changes do not show in it. */
  ledger(): LedgerSnapshot;
  /** The ledger as text, as printed at exit. */
  ledgerSummary(): string;
  /** Subscribes to every handled message; returns the unsubscribe function. */
  onMessage(fn: (e: IssuerEvent) => void): () => void;
  /** The first handled message (from now on) that satisfies pred; rejects after timeoutMs. */
  waitFor(pred: (e: IssuerEvent) => boolean, timeoutMs?: number): Promise<IssuerEvent>;
  /** Stops listening, drops every connection and pending answer. */
  close(): Promise<void>;
}

function rate(name: string, v: number | undefined, dflt: number): number {
  const r = v ?? dflt;
  if (!(r >= 0 && r <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${String(v)}`);
  return r;
}

function millis(name: string, v: number | undefined, dflt: number): number {
  const r = v ?? dflt;
  if (!(r >= 0) || !Number.isFinite(r)) throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${String(v)}`);
  return r;
}

function latencyRange(v: Latency | undefined): { min: number; max: number } {
  if (v === undefined || typeof v === 'number') {
    const n = millis('latencyMs', v, 0);
    return { min: n, max: n };
  }
  const min = millis('latencyMs.min', v.min, 0);
  const max = millis('latencyMs.max', v.max, 0);
  if (max < min) throw new RangeError(`latencyMs: max ${max} is below min ${min}`);
  return { min, max };
}

interface Decision {
  code: string;
  approved: boolean;
  /** No answer at all. */
  silent: boolean;
  /** Posted (or declined) but the answer is lost. */
  dropped: boolean;
  late: boolean;
}

export async function startIssuer(opts: IssuerOptions = {}): Promise<IssuerSim> {
  const dialect = simDialect(opts.dialect);
  const framing = simFraming(opts.framing);
  const approveRate = rate('approveRate', opts.approveRate, 0.9);
  const dropRate = rate('dropRate', opts.dropRate, 0);
  const lateRate = rate('lateRate', opts.lateRate, 0);
  const reversalDropRate = rate('reversalDropRate', opts.reversalDropRate, 0);
  const lateMs = millis('lateMs', opts.lateMs, 10000);
  const latency = latencyRange(opts.latencyMs);
  const seed = opts.seed ?? randomSeed();
  const rng: Rng = createRng(seed);
  const log = opts.log ?? (() => {});
  const ledger = new Ledger();
  const c = ledger.counters;
  const links = new Set<Link>();
  const timers = new Set<NodeJS.Timeout>();
  const listeners = new Set<(e: IssuerEvent) => void>();

  const drawLatency = (): number => (latency.max === latency.min ? latency.min : latency.min + rng.next() * (latency.max - latency.min));

  function emit(e: IssuerEvent): void {
    for (const fn of [...listeners]) fn(e);
  }

  function answer(link: Link, res: IsoMessage, delayMs: number): void {
    const send = (): void => {
      if (link.send(res)) c.answersSent++;
      else c.answersLost++;
    };
    if (delayMs <= 0) { send(); return; }
    const t = setTimeout(() => { timers.delete(t); send(); }, delayMs);
    timers.add(t);
  }

  function decide(req: IsoMessage): Decision {
    // Every draw is taken whatever the outcome, so one request's script never shifts
    // the random sequence of the next.
    const rApprove = rng.next();
    const rCode = rng.next();
    const rDrop = rng.next();
    const rLate = rng.next();
    const magic = magicOf(req.get(4));
    if (magic) {
      const a = magic.action;
      switch (a.kind) {
        case 'decline': return { code: a.code, approved: false, silent: false, dropped: false, late: false };
        case 'drop-unposted': return { code: '91', approved: false, silent: true, dropped: true, late: false };
        case 'drop-posted': return { code: '00', approved: true, silent: false, dropped: true, late: false };
        case 'late': return { code: '00', approved: true, silent: false, dropped: false, late: true };
      }
    }
    const approved = rApprove < approveRate;
    const dropped = rDrop < dropRate;
    return { code: approved ? '00' : rCode < 0.5 ? '05' : '51', approved, silent: false, dropped, late: !dropped && rLate < lateRate };
  }

  function onSale(link: Link, req: IsoMessage): IssuerEvent {
    c.requests++;
    const delay = drawLatency();
    if (!req.has(4) || !req.has(11)) {
      c.formatErrors++;
      const res = responseTo(dialect, req, '30');
      answer(link, res, delay);
      return { msg: req, answer: res, delayMs: delay, reversal: null };
    }
    const dup = ledger.findDuplicate(req);
    if (dup) {
      c.duplicateOriginals++;
      if (dup.silent) return { msg: req, answer: null, delayMs: 0, reversal: null };
      const res = responseTo(dialect, req, dup.code);
      if (dup.approvalCode !== null) res.set(38, dup.approvalCode);
      answer(link, res, delay);
      return { msg: req, answer: res, delayMs: delay, reversal: null };
    }
    const d = decide(req);
    const approvalCode = d.approved ? String(rng.int(0, 999999)).padStart(6, '0') : null;
    ledger.recordOriginal(req, d.code, approvalCode, d.silent, Date.now());
    if (d.silent || d.dropped) {
      c.dropped++;
      return { msg: req, answer: null, delayMs: 0, reversal: null };
    }
    const res = responseTo(dialect, req, d.code);
    if (approvalCode !== null) res.set(38, approvalCode);
    const delayMs = d.late ? lateMs : delay;
    if (d.late) c.late++;
    answer(link, res, delayMs);
    return { msg: req, answer: res, delayMs, reversal: null };
  }

  function onReversal(link: Link, req: IsoMessage): IssuerEvent {
    const result = ledger.reverse(req, Date.now());
    const delay = drawLatency();
    if (rng.chance(reversalDropRate)) {
      c.reversalAnswersDropped++;
      return { msg: req, answer: null, delayMs: 0, reversal: result.kind };
    }
    const res = responseTo(dialect, req, '00');
    answer(link, res, delay);
    return { msg: req, answer: res, delayMs: delay, reversal: result.kind };
  }

  function onNetworkManagement(link: Link, req: IsoMessage): IssuerEvent {
    c.networkManagement++;
    const code = req.get(70);
    if (code === '001') c.signOns++;
    else if (code === '301') c.echoes++;
    const res = responseTo(dialect, req, '00');
    if (code !== undefined) res.set(70, code);
    answer(link, res, 0);
    return { msg: req, answer: res, delayMs: 0, reversal: null };
  }

  function onMessage(link: Link, req: IsoMessage): void {
    const mti = req.mti;
    const cls = mti[1];
    const fn = mti[2];
    let e: IssuerEvent;
    if (fn !== '0' && fn !== '2' && fn !== '4') {
      // A response or an acknowledgement: nothing the issuer waits for.
      c.unsupported++;
      e = { msg: req, answer: null, delayMs: 0, reversal: null };
    } else if ((cls === '1' || cls === '2') && fn === '0') {
      e = onSale(link, req);
    } else if (cls === '4' && (fn === '0' || fn === '2')) {
      e = onReversal(link, req);
    } else if (cls === '8' && fn === '0') {
      e = onNetworkManagement(link, req);
    } else {
      c.unsupported++;
      const res = responseTo(dialect, req, '12');
      answer(link, res, 0);
      e = { msg: req, answer: res, delayMs: 0, reversal: null };
    }
    emit(e);
  }

  const server: Server = createServer((socket: Socket) => {
    c.connections++;
    const link: Link = new Link(socket, dialect, framing, {
      onMessage: (msg) => onMessage(link, msg),
      onBadMessage: (err: IsoError) => {
        c.decodeErrors++;
        log(`issuer: undecodable message from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${err.message}`);
      },
      onClose: (err) => {
        links.delete(link);
        if (err && 'site' in err) log(`issuer: closed a connection: ${err.message}`);
      },
    }, opts.maxFrame);
    links.add(link);
  });

  await listen(server, opts.host ?? '127.0.0.1', opts.port ?? 0);
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const host = opts.host ?? '127.0.0.1';

  let http: HttpServer | null = null;
  let ledgerUrl: string | null = null;
  if (opts.ledgerHttp) {
    http = createHttpServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('method not allowed\n');
      } else if (path === '/ledger') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ledger.snapshot()));
      } else if (path === '/ledger/summary') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(formatLedger(ledger.snapshot()) + '\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /ledger or /ledger/summary\n');
      }
    });
    try {
      await listen(http, opts.ledgerHttp.host, opts.ledgerHttp.port);
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      throw e;
    }
    const ha = http.address();
    const hp = typeof ha === 'object' && ha !== null ? ha.port : opts.ledgerHttp.port;
    const hh = opts.ledgerHttp.host.includes(':') ? `[${opts.ledgerHttp.host}]` : opts.ledgerHttp.host;
    ledgerUrl = `http://${hh}:${hp}/ledger`;
  }

  let closing: Promise<void> | null = null;
  return {
    host, port, seed, dialect, framing, ledgerUrl,
    ledger: () => ledger.snapshot(),
    ledgerSummary: () => formatLedger(ledger.snapshot()),
    onMessage(fn) {
      listeners.add(fn);
      return () => { listeners.delete(fn); };
    },
    waitFor(pred, timeoutMs = 10000) {
      return new Promise<IssuerEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(fn);
          reject(new Error(`issuer: no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
        const fn = (e: IssuerEvent): void => {
          if (!pred(e)) return;
          clearTimeout(timer);
          listeners.delete(fn);
          resolve(e);
        };
        listeners.add(fn);
      });
    },
    close() {
      closing ??= (async () => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const l of links) l.destroy();
        const h = http;
        const httpClosed = h ? new Promise<void>((r) => { h.closeAllConnections(); h.close(() => r()); }) : Promise.resolve();
        await Promise.all([closed, httpClosed]);
      })();
      return closing;
    },
  };
}

function listen(server: Server | HttpServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
