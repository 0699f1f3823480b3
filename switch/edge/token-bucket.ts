/**
 * A token bucket on the monotonic clock: `burst` tokens, refilled at `perSecond`. Shared by
 * the accept gate (connections per address) and a connection's duplicate allowance.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly perSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Whether it is full again (nothing to remember it for). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Milliseconds from `now` until `n` tokens are there (0 if they are). */
  msUntil(n: number, now: number): number {
    this.refill(now);
    return this.tokens >= n ? 0 : ((n - this.tokens) * 1000) / this.perSecond;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
  }
}
