/**
 * What the engine's parts share: configuration, records, links and queues, built once by
 * the Switch (./switch.ts) and handed to each part, so no part reaches into another's
 * fields and each says in its constructor what it uses.
 */
import type { Dialect } from '../../codec/index.js';
import type { RulesHolder } from '../../rules/index.js';
import type { SwitchConfig } from '../config/index.js';
import type { Security } from '../edge/security.js';
import type { UpstreamLink } from '../edge/upstream-link.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { SafQueue } from '../undo/reversal-queue.js';
import type { Journal } from './journal.js';
import type { TxnTable } from './txn-table.js';

export interface EngineContext {
  readonly cfg: SwitchConfig;
  readonly log: Logger;
  readonly counters: Counters;
  readonly metrics: Metrics;
  /** This node's id in the store. */
  readonly node: string;
  readonly rules: RulesHolder;
  readonly txns: TxnTable;
  readonly journal: Journal;
  readonly links: ReadonlyMap<string, UpstreamLink>;
  readonly reversals: SafQueue;
  /** Keys for MACs, PIN translation and sign-on key delivery; null without a key store. */
  readonly security: Security | null;
  /** A listener's dialect by its name (a transaction is answered in its listener's). */
  listenerDialect(name: string): Dialect;
  /** True once shutdown began. */
  stopping(): boolean;
}
