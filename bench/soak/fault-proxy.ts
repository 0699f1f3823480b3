/**
 * A TCP proxy between a switch node and PostgreSQL that breaks the store the ways a real
 * network and server do, so the soak sees them without a hook in the switch:
 * - a lost commit reply: a COMMIT goes through to the server, then the connection dies
 *   before its answer comes back (the write landed, the switch does not know it);
 * - a failed batch: a connection killed at a random moment, statements in flight with it;
 * - a stall: the server's answers held back for a while, as behind a lock or a slow disk.
 * Every fault is counted.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultRates {
  /** Chance that a chunk carrying COMMIT loses its reply. */
  lostCommitReply: number;
  /** Chance per connection per second of being killed. */
  killPerSecond: number;
  /** Chance per connection per second of a stall of `stallMs`. */
  stallPerSecond: number;
  stallMs: number;
}

export interface FaultCounts {
  connections: number;
  lostCommitReplies: number;
  killed: number;
  stalls: number;
}

interface Pair {
  client: Socket;
  server: Socket;
  stalledUntil: number;
  held: Buffer[];
}

const COMMIT = Buffer.from('COMMIT');

export class FaultProxy {
  readonly counts: FaultCounts = { connections: 0, lostCommitReplies: 0, killed: 0, stalls: 0 };
  private readonly pairs = new Set<Pair>();
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private enabled = true;
  port = 0;

  constructor(private readonly target: { host: string; port: number }, private readonly rates: FaultRates, private readonly random: () => number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((r) => (this.server as Server).listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** Faults off (the settle at the end of a run): the proxy only forwards. */
  quiet(): void {
    this.enabled = false;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pairs) this.kill(p, false);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private accept(client: Socket): void {
    this.counts.connections++;
    const server = connect(this.target);
    const p: Pair = { client, server, stalledUntil: 0, held: [] };
    this.pairs.add(p);
    client.on('error', () => this.kill(p, false));
    server.on('error', () => this.kill(p, false));
    client.on('close', () => this.kill(p, false));
    server.on('close', () => this.kill(p, false));
    client.on('data', (chunk: Buffer) => {
      server.write(chunk);
      if (this.enabled && chunk.includes(COMMIT) && this.random() < this.rates.lostCommitReply) {
        // The COMMIT is on its way to the server; its answer never comes back.
        this.counts.lostCommitReplies++;
        client.pause();
        server.pause();
        setTimeout(() => this.kill(p, false), 20);
      }
    });
    server.on('data', (chunk: Buffer) => {
      if (Date.now() < p.stalledUntil) p.held.push(chunk);
      else client.write(chunk);
    });
  }

  private tick(): void {
    if (!this.enabled) return;
    const now = Date.now();
    for (const p of this.pairs) {
      if (p.stalledUntil > 0 && now >= p.stalledUntil) {
        p.stalledUntil = 0;
        for (const b of p.held.splice(0)) p.client.write(b);
      }
      if (this.random() < this.rates.killPerSecond) this.kill(p, true);
      else if (p.stalledUntil === 0 && this.random() < this.rates.stallPerSecond) {
        this.counts.stalls++;
        p.stalledUntil = now + this.rates.stallMs;
      }
    }
  }

  private kill(p: Pair, count: boolean): void {
    if (!this.pairs.delete(p)) return;
    if (count) this.counts.killed++;
    p.client.destroy();
    p.server.destroy();
  }
}
