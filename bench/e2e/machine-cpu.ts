/**
 * CPU accounting for the multi-process suites (e2e, scale), from Linux's /proc: the whole
 * machine's busy time, a database server's processes, and waiting for a quiet machine.
 * Everything returns null where /proc is missing, and the suites then leave the figure out.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux this runs on. */
const TICK_MS = 10;

/** Machine-wide CPU time so far, ms: busy (user, nice, system, irq, softirq) and steal. */
export interface MachineCpu {
  busyMs: number;
  stealMs: number;
}

export function machineCpu(): MachineCpu | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busyMs: (f[0] + f[1] + f[2] + f[5] + f[6]) * TICK_MS, stealMs: (f[7] ?? 0) * TICK_MS };
  } catch {
    return null;
  }
}

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** Waits (at most maxMs) until less than idlePct of a core is busy over 0.5 s. Null where /proc/stat is missing. */
export async function settle(maxMs: number, idlePct: number): Promise<boolean | null> {
  const until = Date.now() + maxMs;
  for (;;) {
    const a = machineCpu();
    await sleep(500);
    const b = machineCpu();
    if (!a || !b) return null;
    if (((b.busyMs - a.busyMs) / 500) * 100 < idlePct) return true;
    if (Date.now() >= until) return false;
  }
}

/**
 * CPU time (user + system, ms) of every process whose command name is `comm` (e.g.
 * "postgres": the postmaster, its backends and background workers), keyed by pid. Read
 * twice and diffed with cpuSince(), so a backend that started in between counts whole.
 */
export function processCpu(comm: string): Map<number, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== comm) continue;
      const f = stat.slice(close + 2).split(' ');
      // Fields 14 and 15 of the whole line (utime, stime) are 11 and 12 after "state".
      out.set(Number(pid), (Number(f[11]) + Number(f[12])) * TICK_MS);
    } catch {
      // The process exited between the listing and the read.
    }
  }
  return out;
}

/** CPU ms used between two processCpu() readings by the processes alive at the second. */
export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}
