/**
 * A simulated terminal, a connection it opened, and what waits on that connection for an
 * answer, by STAN. An answer is matched here: the STAN, the response MTI, F41 and, for a
 * sale, F37 must all agree, so another sale's answer is counted as a mismatch and never
 * taken for this one's. What an answer or a lost connection means is the fleet's business
 * (./terminals.ts).
 */
import { connect } from 'node:net';
import type { Dialect, Framing, IsoMessage } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import type { SaleRecord } from './terminal-summary.js';
import { simConn } from './wire.js';

/** One terminal (or acquirer host): its identity and its counters. */
export interface Term {
  /** 1-based; part of every RRN it makes. */
  index: number;
  /** F41. */
  id: string;
  /** F42. */
  merchant: string;
  /** The last STAN used, 1..999999. */
  stan: number;
  /** The last RRN sequence number used. */
  seq: number;
  /** Persistent mode: the connection in use, if open. */
  conn: TerminalConn | null;
}

export interface Sale {
  readonly kind: 'sale';
  readonly term: Term;
  readonly msg: IsoMessage;
  readonly rec: SaleRecord;
  readonly responseMti: string;
  /** The open-loop due time (performance.now()): latency counts from here. */
  readonly scheduledAt: number;
  /** The chip will decline it after an approval. */
  readonly chip: boolean;
  done: boolean;
  /** The response timeout. */
  timer: NodeJS.Timeout | null;
  /** F38 of the approval, carried into the reversal. */
  approvalCode: string | null;
}

/** One send of a terminal's reversal: the 0400 (1993: 1420... as reversalOf builds it; n = 1) or a 0401 repeat. */
export interface ReversalTry {
  readonly kind: 'reversal';
  readonly sale: Sale;
  /** The 0400 every try is made from. */
  readonly rev: IsoMessage;
  readonly n: number;
  readonly stan: string;
  readonly conn: TerminalConn;
  readonly responseMti: string;
  /** Answered, timed out or lost: whichever came first decided, the others do nothing. */
  settled: boolean;
  timer: NodeJS.Timeout | null;
}

export type Pending = Sale | ReversalTry;

export interface ConnEvents {
  /** The answer to `p`, already taken off the connection. */
  answered(conn: TerminalConn, p: Pending, res: IsoMessage): void;
  /** An answer nothing waits for any more (given up on, or never asked). */
  late(): void;
  /** `mismatch` or `undecodable`: the connection stays up. */
  error(kind: string): void;
  /** The socket is gone, whoever closed it; `lost` waited on it and gets no answer there. */
  closed(conn: TerminalConn, lost: Pending[]): void;
}

export class TerminalConn {
  /** Waiting for an answer, by the STAN they were sent with. */
  readonly pending = new Map<string, Pending>();
  /** The TCP connect completed: a sale lost before that was never sent. */
  connected = false;
  /** Closed by the terminal on purpose (the disconnect fault). */
  dropped = false;
  private readonly framed: FramedConn;

  constructor(readonly term: Term, host: string, port: number, dialect: Dialect, framing: Framing, private readonly events: ConnEvents) {
    const socket = connect({ host, port });
    this.framed = simConn(socket, dialect, framing, () => events.error('undecodable'));
    this.framed.onMessage = (res) => this.answerIn(res);
    this.framed.onClose = () => this.socketClosed();
    socket.once('connect', () => { this.connected = true; });
  }

  get isOpen(): boolean {
    return this.framed.isOpen;
  }

  /** `onWritten` runs once the bytes are handed to the kernel. */
  send(msg: IsoMessage, onWritten?: () => void): void {
    this.framed.send(msg, onWritten);
  }

  /** Per-sale connections end once their one exchange is over. */
  end(): void {
    this.framed.socket.end();
  }

  close(): void {
    this.framed.close();
  }

  private answerIn(res: IsoMessage): void {
    const stan = res.get(11);
    const p = stan === undefined ? undefined : this.pending.get(stan);
    if (stan === undefined || !p) { this.events.late(); return; }
    // A UnionPay reversal goes under its sale's STAN: the sale's answer, come after the
    // terminal gave up on it, is late, not someone else's.
    if (p.kind === 'reversal' && res.mti === p.sale.responseMti && res.get(37) === p.sale.rec.rrn) { this.events.late(); return; }
    if (res.mti !== p.responseMti || (res.has(41) && res.get(41) !== this.term.id) || (p.kind === 'sale' && res.get(37) !== p.rec.rrn)) {
      // Someone else's answer: the request stays pending and times out.
      this.events.error('mismatch');
      return;
    }
    this.pending.delete(stan);
    this.events.answered(this, p, res);
  }

  private socketClosed(): void {
    const lost = [...this.pending.values()];
    this.pending.clear();
    this.events.closed(this, lost);
  }
}
