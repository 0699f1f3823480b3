/**
 * Slow clients (slowloris): a frame that has begun must be whole within
 * `frameTimeoutMs`, and a connection's first whole message must come within
 * `firstFrameTimeoutMs` of its accept. One sweep per listener looks at every connection's
 * plain fields (./framed-conn.ts) a few times per shorter limit, instead of a timer per
 * connection per frame: at 5,000 connections that is a loop over numbers, where timers
 * would be armed and cancelled for every frame of every connection.
 *
 * A connection whose reads we paused (backpressure, admission, the in-flight cap) is
 * never judged: its bytes wait in its socket because of us. Its deadlines count again
 * from when reads resume (`readFrom`).
 */
import type { FramedConn } from './framed-conn.js';

export type SlowReason = 'first_frame_timeout' | 'frame_timeout';

export interface SlowLimits {
  /** 0: no limit. */
  frameTimeoutMs: number;
  /** 0: no limit. */
  firstFrameTimeoutMs: number;
}

/** What the sweep reads of a connection. */
export type Judged = Pick<FramedConn, 'readsStopped' | 'framesRead' | 'readFrom' | 'frameStartedAt'>;

/** Why a connection is overdue at `now` (performance.now()), or null. */
export function overdue(conn: Judged, now: number, limits: SlowLimits): SlowReason | null {
  if (conn.readsStopped) return null;
  if (limits.firstFrameTimeoutMs > 0 && conn.framesRead === 0 && now - conn.readFrom >= limits.firstFrameTimeoutMs) return 'first_frame_timeout';
  if (limits.frameTimeoutMs > 0 && conn.frameStartedAt !== 0 && now - Math.max(conn.frameStartedAt, conn.readFrom) >= limits.frameTimeoutMs) return 'frame_timeout';
  return null;
}

/**
 * The sweep period: a tenth of the shorter limit, between 20 ms and 1 s, so a deadline is
 * acted on at most 10% (or 1 s) late; 0 when neither limit is set.
 */
export function sweepEveryMs(limits: SlowLimits): number {
  const set = [limits.frameTimeoutMs, limits.firstFrameTimeoutMs].filter((ms) => ms > 0);
  if (set.length === 0) return 0;
  return Math.min(1000, Math.max(20, Math.floor(Math.min(...set) / 10)));
}

/** Runs `check` every sweepEveryMs (or the given period) until stopped; the timer never keeps the process alive. */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number, private readonly check: (now: number) => void) {}

  start(): void {
    if (this.timer !== null || this.everyMs <= 0) return;
    this.timer = setInterval(() => this.check(performance.now()), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
