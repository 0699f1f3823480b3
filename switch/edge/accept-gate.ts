/**
 * Who may connect to a listener, by source address, before anything is read: at most
 * `maxConnectionsPerIp` open at once, and new connections at most `acceptPerSecondPerIp`
 * a second with `acceptBurstPerIp` at once (a token bucket; every attempt takes a token,
 * so an address hammering at its cap runs dry too). Per address, not per listener as a
 * whole: one flooding address must not keep the others out.
 *
 * An IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) counts as a.b.c.d. IPv6
 * addresses count one by one; a client holding a whole prefix can spread over it, which
 * the listener's `maxConnections` still bounds. The clock is the monotonic one.
 */
import { TokenBucket } from './token-bucket.js';

export type AcceptRefusal = 'per_ip_cap' | 'accept_rate';

export interface AcceptLimits {
  maxConnectionsPerIp: number;
  acceptPerSecondPerIp: number;
  acceptBurstPerIp: number;
}

interface Source {
  open: number;
  bucket: TokenBucket;
}

export class AcceptGate {
  private readonly sources = new Map<string, Source>();

  constructor(private readonly limits: AcceptLimits, private readonly now: () => number = () => performance.now()) {}

  /** null: let in, and counted open until release(); otherwise why not. */
  admit(address: string): AcceptRefusal | null {
    const { maxConnectionsPerIp, acceptPerSecondPerIp, acceptBurstPerIp } = this.limits;
    const t = this.now();
    let s = this.sources.get(address);
    if (s === undefined) this.sources.set(address, (s = { open: 0, bucket: new TokenBucket(acceptPerSecondPerIp, acceptBurstPerIp, t) }));
    if (!s.bucket.take(t)) return 'accept_rate';
    if (s.open >= maxConnectionsPerIp) return 'per_ip_cap';
    s.open++;
    return null;
  }

  release(address: string): void {
    const s = this.sources.get(address);
    if (s !== undefined && s.open > 0) s.open--;
  }

  /** Open connections from one address (tests, logs). */
  openFrom(address: string): number {
    return this.sources.get(address)?.open ?? 0;
  }

  /** Addresses remembered: those with a connection open or a bucket not yet full again. */
  get size(): number {
    return this.sources.size;
  }

  /** Forgets addresses with nothing open whose bucket is full again, so the map holds only recent ones. */
  sweep(): void {
    const t = this.now();
    for (const [address, s] of this.sources) {
      if (s.open === 0 && s.bucket.full(t)) this.sources.delete(address);
    }
  }
}

/** The address a socket's limits are counted under: its remote address, IPv4-mapped IPv6 as IPv4; null when the socket is already gone. */
export function sourceOf(remoteAddress: string | undefined): string | null {
  if (remoteAddress === undefined || remoteAddress === '') return null;
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}
