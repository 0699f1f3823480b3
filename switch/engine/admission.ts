/**
 * Admission control: when the journal falls behind (more writes queued than
 * `maxStoreBacklog`), the switch stops reading new requests from terminals until it has
 * caught up to half of that. Nothing already read is dropped or refused; the requests wait
 * in the terminals' sockets (TCP backpressure) instead of in the switch's memory.
 *
 * Without it, an offered load above what the journal can commit queues every new sale's
 * write-ahead ahead of the approvals already answered, in one FIFO: answers stop coming
 * out, memory and GC grow, and every sale ends in a timeout and a reversal. With it the
 * switch answers at what it can sustain.
 *
 * Reversals and refunds are never held back by it: they come from the store-and-forward
 * queue, not from a terminal's socket (a terminal's own 0400 waits in its socket like
 * any request while reads are held, and is read as soon as they resume).
 */
import type { FramedConn } from '../edge/framed-conn.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';

/** While held, how often the backlog is looked at again. */
const POLL_MS = 2;

export class Admission {
  private held = false;
  private timer: NodeJS.Timeout | null = null;
  private heldAt = 0;

  constructor(
    private readonly backlog: () => number,
    private readonly conns: () => Iterable<FramedConn>,
    private readonly high: number,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {}

  get holding(): boolean {
    return this.held;
  }

  /** Called for each request read: holds every terminal connection once the journal is too far behind. */
  check(conn: FramedConn): void {
    if (this.high <= 0) return;
    if (this.held) {
      conn.hold(true);
      return;
    }
    if (this.backlog() < this.high) return;
    this.held = true;
    this.heldAt = performance.now();
    this.counters.inc('admission_holds');
    for (const c of this.conns()) c.hold(true);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  private poll(): void {
    if (this.backlog() > this.high / 2) return;
    this.release();
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const ms = Math.round(performance.now() - this.heldAt);
    if (ms >= 1000) this.log.warn('terminal reads were held while the journal caught up', { ms });
    for (const c of this.conns()) c.hold(false);
  }
}
