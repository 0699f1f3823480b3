/**
 * What the switch does when keys are at stake, beside the sale path: a terminal's message
 * that fails its MAC check, the working keys a UnionPay terminal gets at sign-on, and a
 * working key the network sends. Only key ids and check values reach the log.
 */
import { profileOf, isResponse, type Dialect, type IsoMessage, type LocalCode } from '../../codec/index.js';
import type { FramedConn } from '../edge/framed-conn.js';
import { keyChangeOf } from '../edge/key-change.js';
import type { MacVerdict } from '../edge/mac-guard.js';
import type { Security } from '../edge/security.js';
import type { Counters } from '../observe/counters.js';
import { summarize, type Logger } from '../observe/log.js';

export class SecurityDesk {
  constructor(
    private readonly security: Security | null,
    private readonly log: Logger,
    private readonly counters: Counters,
    private readonly send: (conn: FramedConn, res: IsoMessage) => void,
    private readonly local: (listener: string, req: IsoMessage, code: LocalCode) => IsoMessage,
  ) {}

  /**
   * A terminal's message without a valid MAC: never forwarded, never acted on. A request
   * is answered A0 (UnionPay) or 63 (916 on 1993); anything else is only counted.
   */
  macRefused(listener: string, msg: IsoMessage, verdict: MacVerdict, conn: FramedConn, failed: () => void): void {
    this.counters.inc('mac_failures');
    failed();
    this.log.warn('MAC check failed: refused', { listener, verdict, ...summarize(msg) });
    if (isResponse(msg.mti)) return;
    if (msg.get(11) === undefined) {
      // No STAN to answer under: nothing will go back, so it no longer holds a place in flight.
      conn.settle();
      return;
    }
    this.send(conn, this.local(listener, msg, 'mac_error'));
  }

  /**
   * A UnionPay terminal with a master key in the key store gets fresh working keys in
   * F62 of its sign-on answer; one without signs on as before (no keys, no MAC). A key
   * store that cannot be written answers 96: the terminal must not hold keys the switch
   * could lose.
   */
  deliverKeys(listener: string, dialect: Dialect, msg: IsoMessage, res: IsoMessage): void {
    const terminal = msg.get(41)?.trimEnd();
    if (!this.security || terminal === undefined || !this.security.hasTmk(terminal)) return;
    try {
      const k = this.security.signOnKeys(terminal);
      res.set(62, k.f62);
      this.counters.inc('working_keys_delivered');
      this.log.info('working keys delivered at sign-on', { listener, terminal, pik: k.pik, mak: k.mak });
    } catch (e) {
      this.counters.inc('key_delivery_failures');
      this.log.error('working keys not delivered at sign-on', { listener, terminal, error: (e as Error).message });
      res.set(39, profileOf(dialect).localCodes.system_error);
    }
  }

  /**
   * A working key from the network: kept when it decrypts under the upstream's ZMK to the
   * check value sent with it; refused and alarmed otherwise (a wrong ZMK, or tampering).
   */
  keyChange(upstream: string, field: 'F48' | 'F96', msg: IsoMessage): boolean {
    const k = keyChangeOf(msg, field);
    const outcome = 'error' in k ? { ok: false as const, reason: k.error }
      : this.security ? this.security.acceptKeyChange(upstream, k.type, k.cryptogram, k.kcv)
        : { ok: false as const, reason: 'no key store is configured' };
    if (outcome.ok) {
      this.counters.inc('key_changes');
      this.log.info('working key from the network accepted', { upstream, key: outcome.id, kcv: outcome.kcv });
      return true;
    }
    this.counters.inc('key_changes_refused');
    this.log.error('ALARM: working key from the network refused', { upstream, reason: outcome.reason });
    return false;
  }
}
