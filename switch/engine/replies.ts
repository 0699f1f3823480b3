/**
 * Answers to terminals: the answer to a transaction goes to its connection and to every
 * duplicate waiting on it, and the switch's own answers carry its listener's standard's
 * codes (codec profiles).
 */
import { profileOf, responseTo, type Dialect, type IsoMessage, type LocalCode } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import type { Counters } from '../observe/counters.js';
import type { Txn } from './txn.js';

export class Replies {
  constructor(
    private readonly counters: Counters,
    private readonly dialectOf: (listener: string) => Dialect,
    /** Told of every transaction answered: the table packs what it keeps (./txn-table.ts). */
    private readonly ended: (txn: Txn) => void = () => {},
  ) {}

  /**
   * Answers the terminal and any duplicates; true when the answer reached a socket (the
   * first request's or a duplicate's: a terminal that reconnected and resent has it).
   */
  finish(txn: Txn, res: IsoMessage): boolean {
    txn.answer = res;
    let delivered = txn.conn !== null && this.send(txn.conn, res);
    txn.conn = null;
    if (txn.waiters !== null) {
      for (const w of txn.waiters) if (this.send(w, res)) delivered = true;
      txn.waiters = null;
    }
    this.ended(txn);
    return delivered;
  }

  send(conn: FramedConn, res: IsoMessage): boolean {
    const ok = conn.send(res);
    if (!ok) this.counters.inc('answers_undeliverable');
    return ok;
  }

  /** The answer to relay the issuer's into: the request's echo fields, no F39 yet. */
  relay(listener: string, req: IsoMessage): IsoMessage {
    return responseTo(this.dialectOf(listener), req);
  }

  /** The switch's own answer to a request, in the code its listener's standard uses. */
  local(listener: string, req: IsoMessage, code: LocalCode): IsoMessage {
    const d = this.dialectOf(listener);
    return responseTo(d, req, profileOf(d).localCodes[code]);
  }
}
