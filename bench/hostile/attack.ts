/**
 * Child process of the hostile-clients bench (../hostile.ts): the hostile clients, all at
 * once, on loopback only, bounded in count (`AttackPlan`) and in time (the parent stops
 * them). Each kind comes from addresses of its own in 127.0.0.0/8, so the listener's
 * per-address limits meet each as they would meet separate machines:
 *
 * - slow: `slow` connections kept open over 127.0.1.x (at most 200 an address, under
 *   the 256 cap). Half dribble: a length prefix at once, then one byte a second, never
 *   a whole frame (the frame timeout closes them); half never send a byte (the
 *   first-frame timeout closes them). Each one closed is opened again.
 * - flood: connection attempts from 127.0.2.x at `floodPerSecondPerIp` each, holding
 *   whatever is let in; past the per-address cap and the accept rate they are refused.
 * - duplicates: one connection from 127.0.3.1 writing one 0200 over and over as fast as
 *   the switch takes it, and reading (and counting) the answers.
 * - garbage: `garbagePerSecond` connections from 127.0.4.1, each writing 64 KB of random
 *   bytes.
 *
 * Commands: start (the plan), stats, stop.
 */
import { connect, type Socket } from 'node:net';
import { encode, frame, FrameReader, getDialect, IsoMessage } from '../../codec/index.js';
import { createRng } from '../../switch/sim/prng.js';
import { serve } from '../e2e/ipc.js';

export interface AttackPlan {
  port: number;
  slow: number;
  floodIps: number;
  floodPerSecondPerIp: number;
  garbagePerSecond: number;
}

export interface AttackStats {
  slowOpened: number;
  slowOpenNow: number;
  slowMaxOpen: number;
  slowClosedByServer: number;
  floodAttempts: number;
  floodOpenNow: number;
  dupFramesSent: number;
  dupAnswers: number;
  dupConnections: number;
  garbageConnections: number;
  /** Socket errors by code (resets of sockets the switch closed are expected). */
  errors: Record<string, number>;
}

const SLOW_PER_IP = 200;
const FLOOD_PENDING_MAX = 1500;

const stats: AttackStats = {
  slowOpened: 0, slowOpenNow: 0, slowMaxOpen: 0, slowClosedByServer: 0, floodAttempts: 0, floodOpenNow: 0,
  dupFramesSent: 0, dupAnswers: 0, dupConnections: 0, garbageConnections: 0, errors: {},
};
const sockets = new Set<Socket>();
const timers: NodeJS.Timeout[] = [];
let running = false;

function open(port: number, localAddress: string): Socket {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  sockets.add(s);
  s.on('error', (e: NodeJS.ErrnoException) => { stats.errors[e.code ?? 'other'] = (stats.errors[e.code ?? 'other'] ?? 0) + 1; });
  s.once('close', () => sockets.delete(s));
  return s;
}

function every(ms: number, fn: () => void): void {
  timers.push(setInterval(fn, ms));
}

/** Slow connections: slots that reopen once the switch closes them. */
function slow(plan: AttackPlan): void {
  const ips = Math.ceil(plan.slow / SLOW_PER_IP);
  const dribblers = new Set<Socket>();
  const slot = (i: number): void => {
    if (!running) return;
    const s = open(plan.port, `127.0.1.${1 + (i % ips)}`);
    const dribble = i % 2 === 0;
    let connected = false;
    s.once('connect', () => {
      connected = true;
      stats.slowOpened++;
      stats.slowMaxOpen = Math.max(stats.slowMaxOpen, ++stats.slowOpenNow);
      // A len2 prefix declaring 200 bytes: the frame has begun.
      if (dribble) { s.write(Buffer.from([0, 200])); dribblers.add(s); }
    });
    s.once('close', () => {
      dribblers.delete(s);
      if (connected) { stats.slowOpenNow--; stats.slowClosedByServer++; }
      // Reopened after a pause, so a refused slot does not spin.
      if (running) setTimeout(() => slot(i), 200 + (i % 100)).unref();
    });
  };
  // Ramp at 2,500 a second: under every address's accept burst, and the kernel's backlog.
  let next = 0;
  every(20, () => {
    for (let k = 0; k < 50 && next < plan.slow; k++) slot(next++);
  });
  // One byte a second per dribbler, a tenth of them every 100 ms.
  let turn = 0;
  every(100, () => {
    let i = 0;
    for (const s of dribblers) if (i++ % 10 === turn) s.write(Buffer.from([0x30]));
    turn = (turn + 1) % 10;
  });
}

/** Connection attempts at a fixed rate per address, each held until the switch lets go. */
function flood(plan: AttackPlan): void {
  const perTick = Math.max(1, Math.round(plan.floodPerSecondPerIp / 100));
  const pending = new Array<number>(plan.floodIps).fill(0);
  every(10, () => {
    for (let ip = 0; ip < plan.floodIps; ip++) {
      for (let k = 0; k < perTick && pending[ip] < FLOOD_PENDING_MAX; k++) {
        stats.floodAttempts++;
        pending[ip]++;
        const s = open(plan.port, `127.0.2.${1 + ip}`);
        let connected = false;
        s.once('connect', () => { connected = true; stats.floodOpenNow++; });
        s.once('close', () => { pending[ip]--; if (connected) stats.floodOpenNow--; });
      }
    }
  });
}

/** One 0200, over and over, on one connection; answers counted by frame. */
function duplicates(plan: AttackPlan): void {
  const d = getDialect('iso87a');
  const m = new IsoMessage('0200', {
    2: '4761739001010119', 3: '000000', 4: '000000001000', 7: '1203101010', 11: '777777', 12: '101010', 13: '1203',
    22: '051', 25: '00', 32: '123456', 37: 'DUPE00000001', 41: 'DUPE0001', 42: 'MERCHANT0000001', 49: '840',
  });
  const one = frame('len2', encode(d, m));
  const perBatch = Math.floor(65_536 / one.length);
  const batch = Buffer.concat(Array.from({ length: perBatch }, () => one));
  const go = (): void => {
    if (!running) return;
    const s = open(plan.port, '127.0.3.1');
    stats.dupConnections++;
    const reader = new FrameReader('len2', { maxFrame: 8192, onFrame: () => { stats.dupAnswers++; } });
    s.on('data', (chunk: Buffer) => reader.push(chunk));
    const pump = (): void => {
      for (let n = 0; n < 8; n++) {
        if (s.destroyed || !running) return;
        stats.dupFramesSent += perBatch;
        if (!s.write(batch)) { s.once('drain', pump); return; }
      }
      setImmediate(pump);
    };
    s.once('connect', pump);
    s.once('close', () => { if (running) setTimeout(go, 100).unref(); });
  };
  go();
}

/** Connections that write random bytes. */
function garbage(plan: AttackPlan): void {
  const rng = createRng(21);
  every(Math.max(1, Math.round(1000 / plan.garbagePerSecond)), () => {
    const junk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = rng.int(0, 255);
    const s = open(plan.port, '127.0.4.1');
    stats.garbageConnections++;
    s.once('connect', () => s.write(junk));
  });
}

serve({
  start(plan: AttackPlan) {
    running = true;
    slow(plan);
    flood(plan);
    duplicates(plan);
    garbage(plan);
    return null;
  },
  stats(): AttackStats {
    return stats;
  },
  stop(): AttackStats {
    running = false;
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    setTimeout(() => process.exit(0), 100);
    return stats;
  },
});
