/**
 * Longer than 400 lines: one host's whole behaviour (decisions, answers, ledger, settlement
 * hooks) in one class; its parts (ledger, magic, settlement, wire) are already files of their own.
 *
 * The issuer simulator: a TCP server that answers authorizations and financial requests
 * like an issuer host, with configurable approval, latency, drops and late answers, "magic
 * amounts" that script one sale's outcome (./magic.ts), a ledger of holds (./ledger.ts) that
 * proves what reached the issuer and what was undone, and settlement files (./settlement-writer.ts).
 *
 * Many connections, and many requests in flight on each: every request is decided when
 * it arrives (the hold, if any, is placed at once) and answered on its own timer, so
 * answers go out of order when their latencies differ.
 *
 * Every built-in dialect: decisions are taken in 1987's codes and answered in the
 * standard's (./standard-codes.ts: 1993 action codes); an answer is the codec's
 * responseTo, so a UnionPay one carries the TPDU swapped and the header; network
 * management is read and answered by the profile (F70, F24, F60.3).
 */
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import {
  isNetworkManagement, isPosting, isReversal, mtiFunction, MtiFunction, profileOf, responseTo, type Dialect, type Framing, type FramingName, type IsoMessage,
} from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import { formatLedger } from './format.js';
import { createLedgerServer } from './ledger-http.js';
import { Ledger, type LedgerCounters, type LedgerSnapshot } from './ledger.js';
import { magicOf, partOf } from './magic.js';
import { createRng, randomSeed, type Rng } from './prng.js';
import { SettlementWriter, type InjectedFault, type SettlementOptions } from './settlement-writer.js';
import { codesOf, type StandardCodes } from './standard-codes.js';
import { simConn, simDialect, simFraming } from './wire.js';

export type Latency = number | { min: number; max: number };

export interface IssuerOptions extends SettlementOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port; read it back from IssuerSim.port. */
  port?: number;
  /** Default iso87a. */
  dialect?: Dialect | string;
  /** Default len2. */
  framing?: Framing | FramingName;
  /** Share of non-magic sales approved; the rest decline 05 or 51 (1993: 100 or 116). Default 0.9. */
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
  /** Serve GET /ledger and GET /ledger/summary (JSON; ?format=text: the text printed at exit) here. Port 0 picks one. */
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
  /** Writes the settlement file of every business date with movements; returns the paths (each CSV, then its faults file). */
  writeSettlement(dir?: string): Promise<string[]>;
  /** The faults injected into the settlement files computed so far. */
  settlementFaults(): InjectedFault[];
  /** Every settlement file written so far, faults files included. */
  settlementFiles(): string[];
  /**
   * While true, reversals are lost on the way in: neither applied to the ledger nor
   * answered (the issuer's reversal processing is down). A test's lever for a sale the
   * switch undid and the issuer still settles.
   */
  loseReversals: boolean;
  /** Stops listening, drops every connection and pending answer, then writes the settlement files still due. */
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
  /** In the dialect's standard. */
  code: string;
  approved: boolean;
  /** No answer at all. */
  silent: boolean;
  /** Posted (or declined) but the answer is lost. */
  dropped: boolean;
  late: boolean;
}

export async function startIssuer(opts: IssuerOptions = {}): Promise<IssuerSim> {
  return new Issuer(opts).start();
}

/** One issuer host: its settings, its ledger, its connections and the answers it owes. */
class Issuer implements IssuerSim {
  readonly host: string;
  readonly seed: number;
  readonly dialect: Dialect;
  readonly framing: Framing;
  private readonly approveRate: number;
  private readonly dropRate: number;
  private readonly lateRate: number;
  loseReversals = false;
  private readonly reversalDropRate: number;
  private readonly lateMs: number;
  private readonly latency: { min: number; max: number };
  private readonly rng: Rng;
  private readonly log: (line: string) => void;
  private readonly codes: StandardCodes;
  private readonly book: Ledger;
  private readonly counters: LedgerCounters;
  private readonly conns = new Set<FramedConn>();
  /** Answers waiting for their latency; dropped at close. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listeners = new Set<(e: IssuerEvent) => void>();
  private readonly server: Server;
  private http: HttpServer | null = null;
  private boundPort = 0;
  private ledgerAt: string | null = null;
  private closing: Promise<void> | null = null;
  private readonly settlement: SettlementWriter;

  constructor(private readonly opts: IssuerOptions) {
    this.dialect = simDialect(opts.dialect);
    this.codes = codesOf(this.dialect);
    this.book = new Ledger(profileOf(this.dialect));
    this.counters = this.book.counters;
    this.framing = simFraming(opts.framing);
    this.approveRate = rate('approveRate', opts.approveRate, 0.9);
    this.dropRate = rate('dropRate', opts.dropRate, 0);
    this.lateRate = rate('lateRate', opts.lateRate, 0);
    this.reversalDropRate = rate('reversalDropRate', opts.reversalDropRate, 0);
    this.lateMs = millis('lateMs', opts.lateMs, 10000);
    this.latency = latencyRange(opts.latencyMs);
    this.seed = opts.seed ?? randomSeed();
    this.rng = createRng(this.seed);
    this.log = opts.log ?? (() => {});
    this.host = opts.host ?? '127.0.0.1';
    this.server = createServer((socket) => this.accept(socket));
    this.settlement = new SettlementWriter({ ...opts, seed: this.seed, snapshot: () => this.book.snapshot(), log: this.log });
  }

  get port(): number {
    return this.boundPort;
  }

  get ledgerUrl(): string | null {
    return this.ledgerAt;
  }

  async start(): Promise<this> {
    await listen(this.server, this.host, this.opts.port ?? 0);
    const addr = this.server.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
    const at = this.opts.ledgerHttp;
    if (at) {
      const http = createLedgerServer(this.book);
      try {
        await listen(http, at.host, at.port);
      } catch (e) {
        await new Promise<void>((r) => this.server.close(() => r()));
        throw e;
      }
      this.http = http;
      const ha = http.address();
      const hp = typeof ha === 'object' && ha !== null ? ha.port : at.port;
      const hh = at.host.includes(':') ? `[${at.host}]` : at.host;
      this.ledgerAt = `http://${hh}:${hp}/ledger`;
    }
    this.settlement.start();
    return this;
  }

  ledger(): LedgerSnapshot {
    return this.book.snapshot();
  }

  ledgerSummary(): string {
    return formatLedger(this.book.snapshot());
  }

  onMessage(fn: (e: IssuerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  waitFor(pred: (e: IssuerEvent) => boolean, timeoutMs = 10000): Promise<IssuerEvent> {
    return new Promise<IssuerEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(fn);
        reject(new Error(`issuer: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const fn = (e: IssuerEvent): void => {
        if (!pred(e)) return;
        clearTimeout(timer);
        this.listeners.delete(fn);
        resolve(e);
      };
      this.listeners.add(fn);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      for (const conn of this.conns) conn.close();
      const h = this.http;
      const httpClosed = h ? new Promise<void>((r) => { h.closeAllConnections(); h.close(() => r()); }) : Promise.resolve();
      await Promise.all([closed, httpClosed]);
      await this.settlement.close();
    })();
    return this.closing;
  }

  writeSettlement(dir?: string): Promise<string[]> {
    return this.settlement.writeAll(dir);
  }

  settlementFaults(): InjectedFault[] {
    return this.settlement.faults();
  }

  settlementFiles(): string[] {
    return this.settlement.files();
  }

  private accept(socket: Socket): void {
    this.counters.connections++;
    const conn = simConn(socket, this.dialect, this.framing, (err, from) => {
      this.counters.decodeErrors++;
      this.log(`issuer: undecodable message from ${from.remote}: ${err.message}`);
    }, this.opts.maxFrame);
    conn.onMessage = (msg) => this.handle(conn, msg);
    conn.onClose = (_conn, err) => {
      this.conns.delete(conn);
      if (err && 'site' in err) this.log(`issuer: closed a connection: ${err.message}`);
    };
    this.conns.add(conn);
  }

  private handle(conn: FramedConn, req: IsoMessage): void {
    const mti = req.mti;
    const fn = mtiFunction(mti);
    let e: IssuerEvent;
    if (fn !== MtiFunction.Request && fn !== MtiFunction.Advice && fn !== MtiFunction.Notification) {
      // A response or an acknowledgement: nothing the issuer waits for.
      this.counters.unsupported++;
      e = { msg: req, answer: null, delayMs: 0, reversal: null };
    } else if (isPosting(mti) && (fn === MtiFunction.Request || fn === MtiFunction.Advice) && req.get(3)?.startsWith('20') === true) {
      e = this.refund(conn, req);
    } else if (isPosting(mti) && fn === MtiFunction.Request) {
      e = this.sale(conn, req);
    } else if (isReversal(mti) && (fn === MtiFunction.Request || fn === MtiFunction.Advice)) {
      e = this.reversal(conn, req);
    } else if (isNetworkManagement(mti) && fn === MtiFunction.Request) {
      e = this.networkManagement(conn, req);
    } else {
      this.counters.unsupported++;
      const res = responseTo(this.dialect, req, this.codes.of('12'));
      this.answer(conn, res, 0);
      e = { msg: req, answer: res, delayMs: 0, reversal: null };
    }
    this.emit(e);
  }

  private emit(e: IssuerEvent): void {
    for (const fn of [...this.listeners]) fn(e);
  }

  private sale(conn: FramedConn, req: IsoMessage): IssuerEvent {
    const c = this.counters;
    c.requests++;
    const delay = this.drawLatency();
    if (!req.has(4) || !req.has(11)) {
      c.formatErrors++;
      const res = responseTo(this.dialect, req, this.codes.of('30'));
      this.answer(conn, res, delay);
      return { msg: req, answer: res, delayMs: delay, reversal: null };
    }
    const dup = this.book.findDuplicate(req);
    if (dup) {
      c.duplicateOriginals++;
      if (dup.silent) return { msg: req, answer: null, delayMs: 0, reversal: null };
      const res = responseTo(this.dialect, req, dup.code);
      if (dup.approvalCode !== null) res.set(38, dup.approvalCode);
      this.answer(conn, res, delay);
      return { msg: req, answer: res, delayMs: delay, reversal: null };
    }
    const d = this.decide(req);
    const approvalCode = d.approved ? String(this.rng.int(0, 999999)).padStart(6, '0') : null;
    this.book.recordOriginal(req, d.code, approvalCode, d.silent, Date.now());
    if (d.silent || d.dropped) {
      c.dropped++;
      return { msg: req, answer: null, delayMs: 0, reversal: null };
    }
    const res = responseTo(this.dialect, req, d.code);
    if (approvalCode !== null) res.set(38, approvalCode);
    if (d.code === this.codes.partial) res.set(4, partOf(req.get(4) ?? ''));
    const delayMs = d.late ? this.lateMs : delay;
    if (d.late) c.late++;
    this.answer(conn, res, delayMs);
    return { msg: req, answer: res, delayMs, reversal: null };
  }

  /** A refund (processing code 20): credited once against the sale it names (./refund-book.ts), answered at the normal latency. */
  private refund(conn: FramedConn, req: IsoMessage): IssuerEvent {
    const r = this.book.refund(req, Date.now());
    const res = responseTo(this.dialect, req, this.codes.of(r.code));
    const delay = this.drawLatency();
    this.answer(conn, res, delay);
    return { msg: req, answer: res, delayMs: delay, reversal: null };
  }

  private decide(req: IsoMessage): Decision {
    // Every draw is taken whatever the outcome, so one request's script never shifts
    // the random sequence of the next.
    const rApprove = this.rng.next();
    const rCode = this.rng.next();
    const rDrop = this.rng.next();
    const rLate = this.rng.next();
    const magic = magicOf(req.get(4));
    const { approved: ok, partial } = this.codes;
    if (magic) {
      const a = magic.action;
      switch (a.kind) {
        case 'decline': return { code: this.codes.of(a.code), approved: false, silent: false, dropped: false, late: false };
        case 'drop-unposted': return { code: this.codes.of('91'), approved: false, silent: true, dropped: true, late: false };
        case 'drop-posted': return { code: ok, approved: true, silent: false, dropped: true, late: false };
        case 'late': return { code: ok, approved: true, silent: false, dropped: false, late: true };
        case 'partial': return { code: partial, approved: true, silent: false, dropped: false, late: false };
      }
    }
    const approved = rApprove < this.approveRate;
    const dropped = rDrop < this.dropRate;
    const code = approved ? ok : this.codes.of(rCode < 0.5 ? '05' : '51');
    return { code, approved, silent: false, dropped, late: !dropped && rLate < this.lateRate };
  }

  private reversal(conn: FramedConn, req: IsoMessage): IssuerEvent {
    if (this.loseReversals) return { msg: req, answer: null, delayMs: 0, reversal: null };
    const result = this.book.reverse(req, Date.now());
    const delay = this.drawLatency();
    if (this.rng.chance(this.reversalDropRate)) {
      this.counters.reversalAnswersDropped++;
      return { msg: req, answer: null, delayMs: 0, reversal: result.kind };
    }
    const res = responseTo(this.dialect, req, this.codes.reversalAccepted);
    this.answer(conn, res, delay);
    return { msg: req, answer: res, delayMs: delay, reversal: result.kind };
  }

  /** Sign-on, echo and the rest, all approved; the function code (F70, 1993 F24) goes back as asked, UnionPay's F60 is echoed. */
  private networkManagement(conn: FramedConn, req: IsoMessage): IssuerEvent {
    this.counters.networkManagement++;
    const profile = profileOf(this.dialect);
    const net = profile.networkCode(req);
    if (net === 'sign_on') this.counters.signOns++;
    else if (net === 'echo') this.counters.echoes++;
    const res = responseTo(this.dialect, req, this.codes.approved);
    const field = profile.standard === 'iso93' ? 24 : 70;
    const code = req.get(field);
    if (code !== undefined) res.set(field, code);
    this.answer(conn, res, 0);
    return { msg: req, answer: res, delayMs: 0, reversal: null };
  }

  private drawLatency(): number {
    const { min, max } = this.latency;
    return max === min ? min : min + this.rng.next() * (max - min);
  }

  private answer(conn: FramedConn, res: IsoMessage, delayMs: number): void {
    if (delayMs <= 0) { this.send(conn, res); return; }
    const t = setTimeout(() => { this.timers.delete(t); this.send(conn, res); }, delayMs);
    this.timers.add(t);
  }

  private send(conn: FramedConn, res: IsoMessage): void {
    if (conn.send(res)) this.counters.answersSent++;
    else this.counters.answersLost++;
  }
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
