/**
 * The lifecycle events of the reversal queue (./reversal-queue.ts). The queue emits only
 * once a transition is durable, so a consumer never sees a state the store could still
 * refuse. The queue makes one only with events on; without it, no message is described.
 */
import type { IsoMessage } from '../../codec/index.js';
import { describeMessage, minorUnits, type EventBase } from '../observe/events/describe.js';
import type { EventBus } from '../observe/events/emitter.js';
import type { EventKind, LifecycleEventInput } from '../observe/events/schema.js';
import type { CardKeys } from '../store/secrets.js';
import type { ReversalState, ReversalUpdate, UndoKind } from '../store/types.js';
import type { Entry } from './reversal-entry.js';

/** The lifecycle event of a durable transition to each state, per kind of undo. */
const EVENT_OF_STATE: Record<UndoKind, Partial<Record<ReversalState, EventKind>>> = {
  reversal: {
    pending: 'REVERSAL_RETRY', sent: 'REVERSAL_SENT', acked: 'REVERSAL_ACKED', manual: 'REVERSAL_MANUAL',
    cancelled: 'REVERSAL_CANCELLED', resolved: 'MANUAL_RESOLVED',
  },
  refund: { pending: 'REFUND_RETRY', sent: 'REFUND_SENT', acked: 'REFUND_ACKED', manual: 'REFUND_MANUAL', resolved: 'MANUAL_RESOLVED' },
};

export class ReversalEvents {
  constructor(private readonly bus: EventBus, private readonly keys: CardKeys) {}

  /** The card and amount fields an entry's events carry: masked PAN and keyed hash only. */
  describe(msg: IsoMessage): EventBase {
    return describeMessage(msg, (pan) => this.keys.panHash(pan), false);
  }

  /** The event of a transition the store has taken; `ev` adds or overrides fields. */
  transitioned(u: ReversalUpdate, undo: UndoKind, e: Entry | undefined, ev?: Partial<LifecycleEventInput>): void {
    const kind = EVENT_OF_STATE[undo][u.state];
    if (kind) this.emit(kind, e, { reversalState: u.state, note: u.lastError ?? u.detail, timeMs: u.at, ...ev });
  }

  /** One event about a reversal: the entry's fields, then the change's own. */
  emit(kind: EventKind, e: Entry | undefined, fields: Partial<LifecycleEventInput>): void {
    this.bus.emit(e
      ? {
        ...e.ev, kind, txnId: e.txnId ?? '', reversalId: e.id, upstream: e.upstream, reversalAttempt: e.attempts,
        reversalReason: e.reason, finalAmountMinor: minorUnits(e.finalAmount), upstreamStan: e.sentStan ?? undefined, ...fields,
      }
      : { kind, txnId: '', ...fields });
  }
}
