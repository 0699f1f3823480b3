/**
 * The e2e load generator: C persistent connections (acquirer-host style, many requests
 * in flight on each), 0200 sales in iso87a, len2 framing.
 *
 * Open loop, coordinated-omission corrected: sale k is due at t0 + k / R, whatever
 * happened to earlier sales, and its latency is answer time - DUE time. A target that
 * stalls therefore shows its stall in every sale that was due meanwhile, instead of
 * quietly lowering the offered load. Sales due in the measuring window and still
 * unanswered when the run ends are recorded at (end - due), a lower bound, and counted.
 * Closed loop (for saturation): each connection keeps `window` sales in flight and sends
 * a new one per answer; latency is then from the actual send.
 *
 * Cheap by construction: one 0200 per connection is encoded with the codec up front;
 * each sale is that frame copied with its F11 and F37 digits patched at their byte
 * offsets (found by encoding twice and diffing, and checked by decoding a patched copy).
 * Sales due together on one connection go out in one write. Answers are matched on F11,
 * read by walking the bitmap over fields 2-10, not by decoding; every `verifyEvery`-th
 * answer (and the first 64) is fully decoded and checked (MTI, F11, F37, F41, F39).
 * STANs are unique within a run across all connections (sale k has STAN k mod 999,999
 * + 1), so the issuer's ledger sees distinct keys through the switch and the relay alike.
 *
 * Pacing: 'spin' re-arms with setImmediate when the next sale is due within 1.5 ms (a
 * busy loop that still serves I/O every turn), so sales leave within a few µs of their
 * due time; it costs the rig process a whole core, which is why the suite uses it only
 * when it can pin the rig to its own CPU. 'timer' uses setTimeout only (libuv's timers
 * have 1 ms granularity, so sales leave in ~1 ms bursts and up to ~1 ms late; the lag
 * is in the latency, as it must be in an open-loop figure, and reported separately).
 *
 * `secure` (the suite's TLS steps): every connection is a TLS client trusting the run's
 * CA; with a MAC key, each 0200 carries F64 and is signed (X9.19, ./secure.ts) after its
 * F11 and F37 are patched, and every answer that is fully checked must carry a right MAC
 * too. That TLS and MAC work is the rig's CPU, never the target's.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type TLSSocket } from 'node:tls';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { build as buildHistogram } from 'hdr-histogram-js';
import { decode, encode, frame, getDialect, IsoMessage } from '../../codec/index.js';
import { transmissionTime } from '../../codec/index.js';
import { FIXTURES } from '../fixtures/messages.js';
import { Len2Splitter } from './frames.js';
import { emitEvent } from './ipc.js';
import { frameMacOk, signFrameAt, X919 } from './secure.js';
import { luhnComplete } from '../../switch/observe/redact.js';
import { median } from '../lib/timing.js';

export interface LoadPlan {
  port: number;
  /** Several targets (switch nodes behind no balancer): connection c goes to ports[c % ports.length]; else all to port. */
  ports?: number[];
  connections: number;
  mode: 'open' | 'closed';
  /** Open loop: sales per second offered, all connections together. */
  rate: number;
  /** Closed loop: sales in flight per connection. */
  window: number;
  warmupMs: number;
  measureMs: number;
  /** After the last send, how long to wait for outstanding answers. */
  drainMs: number;
  /** Every Nth sale (open loop) is a magic-amount ..91 sale the issuer never answers; 0 for none. */
  magicEvery: number;
  pace: 'spin' | 'timer';
  /** Two digits that start every F37 of the run. */
  runId: number;
  /** Fully decode and check every Nth answer. */
  verifyEvery: number;
  /** TLS to the target (trusting `ca`, a PEM path); with `mak` (hex, else null) X9.19 MACs on requests and checked answers. */
  secure?: { ca: string; mak: string | null };
}

/** Milliseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  mean: number;
}

export interface MagicSale {
  rrn: string;
  /** performance.now() in the rig process: when the frame was handed to the socket. */
  sentAt: number;
  /** When the switch's answer (0210 91) arrived, or null. */
  answeredAt: number | null;
  code: string | null;
  /** Due in the measuring window (the rest were warmup). */
  inWindow: boolean;
}

export interface LoadResult {
  sent: number;
  /** Answers received in the measuring window (by arrival time). */
  answeredInWindow: number;
  /** Sales of the window (by due time, or send time in closed loop). */
  windowSales: number;
  /** Sales of the window still unanswered at the end (recorded at end - due, counted here). */
  unanswered: number;
  /** Answers that matched no outstanding sale. */
  unknownAnswers: number;
  /** Answers per second of the window. */
  achievedTps: number;
  /** Answers in each whole second of the window. */
  perSecondTps: number[];
  windowMs: number;
  /** Open loop: from the due time (coordinated-omission corrected). Closed loop: from the send. */
  latency: Percentiles;
  /** From the actual send, both modes. */
  service: Percentiles;
  /** Actual send - due time (open loop). */
  sendLag: Percentiles;
  /** [log10(1 / (1 - p)), ms] from p = 50% up to the last percentile the count supports (<= 99.99%). */
  curve: [number, number][];
  /** `macChecked`: answers whose MAC was checked (secure runs; a wrong one counts in `bad`). */
  verify: { checked: number; bad: number; codes: Record<string, number>; firstBad: string | null; macChecked: number };
  magic: MagicSale[];
  /** The rig process's CPU time over the window. */
  rigCpu: { userUs: number; systemUs: number; wallMs: number };
  /** How late the rig's own event loop ran over the window (ms): its stalls are in every latency it measures. */
  rigLoopDelayMs: { p99: number; max: number };
  messageBytes: number;
  /** Secure runs: the TLS version and cipher the first connection negotiated. */
  tls: { protocol: string | null; cipher: string | null } | null;
}

const DIALECT = getDialect('iso87a');
const STAN_SPACE = 999_999;
const NOT_PENDING = 0;
const PENDING = 1;
const IN_WINDOW = 2;
const MAGIC = 4;

type Histogram = ReturnType<typeof buildHistogram>;

function newHistogram(): Histogram {
  return buildHistogram({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** µs histogram -> ms percentiles. A percentile is its bucket's top, which can pass the true max. */
export function percentiles(h: Histogram): Percentiles {
  const n = h.totalCount;
  const ms = (us: number): number => Math.round(Math.min(us, h.maxValue)) / 1000;
  return {
    count: n,
    p50: n ? ms(h.getValueAtPercentile(50)) : 0,
    p90: n ? ms(h.getValueAtPercentile(90)) : 0,
    p99: n ? ms(h.getValueAtPercentile(99)) : 0,
    p999: n ? ms(h.getValueAtPercentile(99.9)) : 0,
    p9999: n ? ms(h.getValueAtPercentile(99.99)) : 0,
    max: n ? ms(h.maxValue) : 0,
    mean: n ? Math.round(h.mean) / 1000 : 0,
  };
}

function curveOf(h: Histogram): [number, number][] {
  const n = h.totalCount;
  if (n === 0) return [];
  const xMax = Math.min(4, Math.log10(n));
  const out: [number, number][] = [];
  for (let x = Math.log10(2); x <= xMax + 1e-9; x += 0.025) {
    const p = 1 - 10 ** -x;
    out.push([x, Math.round(Math.min(h.getValueAtPercentile(p * 100), h.maxValue)) / 1000]);
  }
  return out;
}


function writeDigits(buf: Buffer, off: number, width: number, v: number): void {
  for (let i = off + width - 1; i >= off; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/** F11 of an iso87a message inside a len2 frame (body at off), read by skipping fields 2-10; -1 when absent. */
export function stanOf(buf: Buffer, off: number): number {
  const bm = off + 4;
  const b0 = buf[bm];
  const b1 = buf[bm + 1];
  if ((b1 & 0x20) === 0) return -1;
  let p = bm + ((b0 & 0x80) !== 0 ? 16 : 8);
  if (b0 & 0x40) p += 2 + (buf[p] - 48) * 10 + (buf[p + 1] - 48);
  if (b0 & 0x20) p += 6;
  if (b0 & 0x10) p += 12;
  if (b0 & 0x08) p += 12;
  if (b0 & 0x04) p += 12;
  if (b0 & 0x02) p += 10;
  if (b0 & 0x01) p += 8;
  if (b1 & 0x80) p += 8;
  if (b1 & 0x40) p += 8;
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 10 + (buf[p + i] - 48);
  return v;
}

const termId = (c: number): string => 'E2E' + String(c + 1).padStart(5, '0');
const merchantId = (c: number): string => 'E2EMERCHANT' + String(c + 1).padStart(4, '0');
const rrnOf = (runId: number, k: number): string => String(runId).padStart(2, '0') + String(k).padStart(10, '0');
const stanFor = (k: number): number => (k % STAN_SPACE) + 1;

interface Template {
  frame: Buffer;
  stanAt: number;
  rrnAt: number;
}

/** The fixture 0200 for connection c, encoded once, with the byte offsets of F11 and F37 in its frame. */
function template(c: number, f7: string, withMac: boolean): Template {
  const base = FIXTURES.get('iso87a')?.find((f) => f.msg.mti === '0200')?.msg;
  if (!base) throw new Error('no iso87a 0200 fixture');
  const make = (stan: string, rrn: string): Buffer => {
    const m = base.clone();
    m.set(7, f7).set(11, stan).set(37, rrn).set(41, termId(c)).set(42, merchantId(c));
    // The MAC field last, zeros until each sale is signed.
    if (withMac) m.set(64, new Uint8Array(8));
    return frame('len2', encode(DIALECT, m));
  };
  const a = make('000000', '000000000000');
  const b = make('999999', '999999999999');
  const diff: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
  if (a.length !== b.length || diff.length !== 18) throw new Error(`template: expected 18 differing bytes (F11 + F37), got ${diff.length}`);
  const t: Template = { frame: a, stanAt: diff[0], rrnAt: diff[6] };
  // A patched copy must decode to exactly the fields it claims.
  const probe = Buffer.from(a);
  writeDigits(probe, t.stanAt, 6, 123456);
  writeDigits(probe, t.rrnAt, 12, 987654321012);
  const d = decode(DIALECT, probe.subarray(2));
  if (d.get(11) !== '123456' || d.get(37) !== '987654321012' || d.get(41) !== termId(c)) throw new Error('template: patched frame does not decode as expected');
  return t;
}

/** A sale the issuer never answers (F4 ends in 91), with its own terminal, merchant and card so no velocity limit is reached. */
function magicFrame(k: number, runId: number, f7: string, mac: X919 | null): Buffer {
  const base = FIXTURES.get('iso87a')?.find((f) => f.msg.mti === '0200')?.msg;
  if (!base) throw new Error('no iso87a 0200 fixture');
  const m: IsoMessage = base.clone();
  const pan = luhnComplete('476173' + String(k % 1e9).padStart(9, '0'));
  m.set(2, pan).set(4, '000000010091').set(7, f7).set(11, String(stanFor(k)).padStart(6, '0')).set(37, rrnOf(runId, k))
    .set(41, 'M' + String(k % 1e7).padStart(7, '0')).set(42, 'E2EMAGIC' + String(k % 1e7).padStart(7, '0'));
  m.delete(35); // track 2 would carry the fixture's PAN
  if (mac) m.set(64, new Uint8Array(8));
  const f = frame('len2', encode(DIALECT, m));
  if (mac) signFrameAt(mac, f, 0, f.length);
  return f;
}

interface Conn {
  index: number;
  socket: Socket;
  tpl: Template;
  /** Sale numbers to send on the next flush. */
  batch: number[];
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const f7 = transmissionTime(Date.now());
  const C = plan.connections;
  const open = plan.mode === 'open';
  const interval = open ? 1000 / plan.rate : 0;
  const totalOpen = open ? Math.ceil((plan.rate * (plan.warmupMs + plan.measureMs)) / 1000) : 0;
  const mac = plan.secure?.mak ? X919.fromHex(plan.secure.mak) : null;
  const magicFrames = new Map<number, Buffer>();
  if (open && plan.magicEvery > 0) {
    for (let k = plan.magicEvery - 1; k < totalOpen; k += plan.magicEvery) magicFrames.set(k, magicFrame(k, plan.runId, f7, mac));
  }

  // Per STAN: due time, send time, sale number, flags.
  const due = new Float64Array(STAN_SPACE + 1);
  const sentAt = new Float64Array(STAN_SPACE + 1);
  const seqOf = new Float64Array(STAN_SPACE + 1);
  const flags = new Uint8Array(STAN_SPACE + 1);

  const hist = newHistogram();
  const service = newHistogram();
  const lag = newHistogram();
  const magic = new Map<number, MagicSale>();
  const verify = { checked: 0, bad: 0, codes: {} as Record<string, number>, firstBad: null as string | null, macChecked: 0 };
  let sent = 0;
  let outstanding = 0;
  let answeredTotal = 0;
  let unknownAnswers = 0;
  let answeredInWindow = 0;
  let windowSales = 0;
  let stanReuse = 0;
  let next = 0;
  let sending = true;
  let t0 = 0;
  let tw0 = 0;
  let tw1 = 0;
  const perSecond: number[] = [];
  let onIdle: (() => void) | null = null;

  function badAnswer(what: string): void {
    verify.bad++;
    verify.firstBad ??= what;
  }

  /** Full decode and check of one answer; returns its F39. */
  function check(frameBuf: Buffer, stan: number, k: number, isMagic: boolean, conn: Conn): string | null {
    verify.checked++;
    let m: IsoMessage;
    try {
      m = decode(DIALECT, frameBuf.subarray(2));
    } catch (e) {
      badAnswer(`undecodable answer: ${(e as Error).message}`);
      return null;
    }
    const code = m.get(39) ?? '--';
    verify.codes[code] = (verify.codes[code] ?? 0) + 1;
    if (mac) {
      verify.macChecked++;
      if (!frameMacOk(mac, frameBuf)) { badAnswer(`answer to sale ${k} (F39 ${code}): MAC missing or wrong`); return m.get(39) ?? null; }
    }
    const wantCode = !isMagic;
    if (m.mti !== '0210') badAnswer(`MTI ${m.mti}`);
    else if (m.get(11) !== String(stan).padStart(6, '0')) badAnswer(`F11 ${m.get(11)} for ${stan}`);
    else if (m.get(37) !== rrnOf(plan.runId, k)) badAnswer(`F37 ${m.get(37)} for sale ${k}`);
    else if (!isMagic && m.get(41) !== termId(conn.index)) badAnswer(`F41 ${m.get(41)} on connection ${conn.index}`);
    else if (wantCode && code !== '00') badAnswer(`F39 ${code} for a plain sale`);
    return m.get(39) ?? null;
  }

  function onAnswer(conn: Conn, f: Buffer): void {
    const t = performance.now();
    const stan = stanOf(f, 2);
    const fl = stan > 0 ? flags[stan] : NOT_PENDING;
    if ((fl & PENDING) === 0) { unknownAnswers++; return; }
    flags[stan] = NOT_PENDING;
    outstanding--;
    answeredTotal++;
    const k = seqOf[stan];
    const isMagic = (fl & MAGIC) !== 0;
    if (isMagic) {
      const ms = magic.get(k);
      const code = check(f, stan, k, isMagic, conn);
      if (ms) { ms.answeredAt = t; ms.code = code; }
    } else if (answeredTotal <= 64 || answeredTotal % plan.verifyEvery === 0) {
      check(f, stan, k, isMagic, conn);
    }
    if (isMagic) {
      // Its latency is the switch's timeout: it has its own figures (deadline -> 0400).
    } else if ((fl & IN_WINDOW) !== 0) {
      hist.recordValue(Math.max(1, Math.round((t - due[stan]) * 1000)));
      service.recordValue(Math.max(1, Math.round((t - sentAt[stan]) * 1000)));
    }
    if (t >= tw0 && t < tw1) {
      answeredInWindow++;
      const s = Math.floor((t - tw0) / 1000);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
    if (!open && sending) {
      if (t < tw1) conn.batch.push(next++);
      else sending = false;
    }
    if (outstanding === 0 && !sending) onIdle?.();
  }

  /** Writes the connection's batch as one buffer. dueOf(k) gives each sale's due time. */
  function flush(conn: Conn, dueOf: (k: number) => number): void {
    const ks = conn.batch;
    if (ks.length === 0) return;
    const L = conn.tpl.frame.length;
    let bytes = 0;
    for (const k of ks) bytes += magicFrames.get(k)?.length ?? L;
    const out = Buffer.allocUnsafe(bytes);
    const now = performance.now();
    let pos = 0;
    for (const k of ks) {
      const stan = stanFor(k);
      if ((flags[stan] & PENDING) !== 0) { stanReuse++; outstanding--; }
      const mf = magicFrames.get(k);
      if (mf) {
        mf.copy(out, pos);
        pos += mf.length;
      } else {
        conn.tpl.frame.copy(out, pos);
        writeDigits(out, pos + conn.tpl.stanAt, 6, stan);
        writeDigits(out, pos + conn.tpl.rrnAt, 12, plan.runId * 1e10 + k);
        if (mac) signFrameAt(mac, out, pos, L);
        pos += L;
      }
      const d = dueOf(k);
      const inWindow = d >= tw0 && d < tw1;
      due[stan] = d;
      sentAt[stan] = now;
      seqOf[stan] = k;
      flags[stan] = PENDING | (inWindow ? IN_WINDOW : 0) | (mf ? MAGIC : 0);
      if (mf) magic.set(k, { rrn: rrnOf(plan.runId, k), sentAt: now, answeredAt: null, code: null, inWindow });
      if (inWindow) {
        windowSales++;
        if (open && !mf) lag.recordValue(Math.max(1, Math.round((now - d) * 1000)));
      }
      outstanding++;
      sent++;
    }
    ks.length = 0;
    conn.socket.write(out);
  }

  // ---- connections
  const conns: Conn[] = [];
  const secureContext = plan.secure ? createSecureContext({ ca: readFileSync(plan.secure.ca) }) : null;
  let tls: LoadResult['tls'] = null;
  await Promise.all(Array.from({ length: C }, (_, c) => new Promise<void>((resolve, reject) => {
    const ports = plan.ports && plan.ports.length > 0 ? plan.ports : [plan.port];
    const port = ports[c % ports.length];
    // TLS: the certificate is checked against the CA and 127.0.0.1 (its SAN), as a terminal would.
    const socket: Socket = secureContext ? tlsConnect({ host: '127.0.0.1', port, secureContext }) : connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const conn: Conn = { index: c, socket, tpl: template(c, f7, mac !== null), batch: [] };
    const splitter = new Len2Splitter((f) => onAnswer(conn, f));
    socket.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      if (conn.batch.length > 0) flush(conn, () => performance.now());
    });
    if (secureContext) {
      socket.once('secureConnect', () => {
        const t = socket as TLSSocket;
        tls ??= { protocol: t.getProtocol(), cipher: t.getCipher()?.name ?? null };
        resolve();
      });
    } else {
      socket.once('connect', () => resolve());
    }
    socket.once('error', reject);
    socket.on('close', () => {
      if (sending) badAnswer(`connection ${c} closed by the target during the run`);
      sending = false;
    });
    conns.push(conn);
  })));
  conns.sort((a, b) => a.index - b.index);

  // ---- the run
  let cpu0 = process.cpuUsage();
  let cpuWindow = { userUs: 0, systemUs: 0, wallMs: 0 };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  await new Promise((r) => setTimeout(r, 20));
  t0 = performance.now() + 1;
  tw0 = t0 + plan.warmupMs;
  tw1 = tw0 + plan.measureMs;
  const windowTimers = [
    setTimeout(() => { cpu0 = process.cpuUsage(); loopDelay.enable(); emitEvent({ event: 'window', phase: 'start' }); }, Math.max(0, tw0 - performance.now())),
    setTimeout(() => {
      loopDelay.disable();
      const u = process.cpuUsage(cpu0);
      cpuWindow = { userUs: u.user, systemUs: u.system, wallMs: plan.measureMs };
      emitEvent({ event: 'window', phase: 'end' });
    }, Math.max(0, tw1 - performance.now())),
  ];

  const sendingDone = new Promise<void>((resolve) => {
    if (open) {
      const dueOf = (k: number): number => t0 + k * interval;
      const pump = (): void => {
        if (!sending) { resolve(); return; }
        const now = performance.now();
        let upTo = Math.floor((now - t0) / interval) + 1;
        if (upTo > totalOpen) upTo = totalOpen;
        for (; next < upTo; next++) conns[next % C].batch.push(next);
        for (const c of conns) flush(c, dueOf);
        if (next >= totalOpen) { sending = false; resolve(); return; }
        const wait = t0 + next * interval - performance.now();
        if (plan.pace === 'spin' && wait < 1.5) setImmediate(pump);
        else setTimeout(pump, plan.pace === 'spin' ? Math.floor(wait - 1) : Math.max(0, wait));
      };
      setTimeout(pump, Math.max(0, t0 - performance.now()));
    } else {
      setTimeout(() => {
        for (const c of conns) {
          for (let i = 0; i < plan.window; i++) c.batch.push(next++);
          flush(c, () => performance.now());
        }
      }, Math.max(0, t0 - performance.now()));
      setTimeout(() => { sending = false; resolve(); }, Math.max(0, tw1 - performance.now()) + 1);
    }
  });
  await sendingDone;
  await new Promise<void>((resolve) => {
    const limit = setTimeout(resolve, plan.drainMs);
    onIdle = () => { clearTimeout(limit); resolve(); };
    if (outstanding === 0) onIdle();
  });
  onIdle = null;
  for (const t of windowTimers) clearTimeout(t);
  if (cpuWindow.wallMs === 0) {
    // The window closed before its timer could fire (never expected); measure to now.
    const u = process.cpuUsage(cpu0);
    cpuWindow = { userUs: u.user, systemUs: u.system, wallMs: performance.now() - tw0 };
    emitEvent({ event: 'window', phase: 'end' });
  }
  const end = performance.now();
  let unanswered = 0;
  for (let s = 1; s <= STAN_SPACE; s++) {
    const fl = flags[s];
    if ((fl & PENDING) === 0) continue;
    if ((fl & IN_WINDOW) !== 0 && (fl & MAGIC) === 0) {
      unanswered++;
      hist.recordValue(Math.max(1, Math.round((end - due[s]) * 1000)));
    }
  }
  for (const c of conns) c.socket.destroy();
  if (stanReuse > 0) badAnswer(`${stanReuse} STANs reused while still outstanding`);

  const windowMs = plan.measureMs;
  const whole = Math.floor(windowMs / 1000);
  return {
    sent, answeredInWindow, windowSales, unanswered, unknownAnswers,
    achievedTps: answeredInWindow / (windowMs / 1000),
    perSecondTps: Array.from({ length: whole }, (_, i) => perSecond[i] ?? 0),
    windowMs,
    latency: percentiles(hist),
    service: percentiles(service),
    sendLag: percentiles(lag),
    curve: curveOf(hist),
    verify,
    magic: [...magic.values()],
    rigCpu: cpuWindow,
    rigLoopDelayMs: {
      p99: loopDelay.count > 0 ? Math.round(loopDelay.percentile(99) / 1e3) / 1e3 : 0,
      max: loopDelay.count > 0 ? Math.round(loopDelay.max / 1e3) / 1e3 : 0,
    },
    messageBytes: conns[0].tpl.frame.length,
    tls,
  };
}

/**
 * The harness's common figures (CaseResult's) for a load run: ops/s is answers per
 * second of the window, its samples are `samples` (default: the window's whole seconds).
 */
export function caseFigures(l: LoadResult, samples: number[] = l.perSecondTps.length > 0 ? l.perSecondTps : [l.achievedTps]) {
  const med = median(samples);
  return {
    messageBytes: l.messageBytes,
    opsPerSec: l.achievedTps,
    usPerOp: l.achievedTps > 0 ? 1e6 / l.achievedTps : 0,
    sampleOpsPerSec: samples,
    minOpsPerSec: Math.min(...samples),
    maxOpsPerSec: Math.max(...samples),
    spreadPct: med > 0 ? ((Math.max(...samples) - Math.min(...samples)) / med) * 100 : 0,
    iterations: l.answeredInWindow,
    batch: 1,
    sampledMs: l.windowMs,
  };
}
