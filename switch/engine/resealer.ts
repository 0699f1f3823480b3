/**
 * Re-sealing: every sealed message at rest is moved to the current format and key, a
 * page at a time, off the hot path. It is how rows written before the allow-list (which
 * kept F48, a CVV2 with it, and free-text PANs) are rewritten without them, and how a
 * rotated key (`revswitch keys rotate-pan`) takes over the old rows until the old key
 * opens nothing and can be retired.
 *
 * Each value is rewritten only if it still holds what was read (a state change written
 * meanwhile wins; the next pass sees it). A value that does not open (another key, a
 * value moved between rows) or whose upstream is no longer configured is left as it is,
 * counted and named by row id in the log, never by content.
 */
import type { Dialect } from '../../codec/index.js';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/log.js';
import { isCurrentSealed, sealedKeyId, sealMessage, unsealMessage } from '../store/sealed.js';
import type { CardKeys } from '../store/secrets.js';
import type { SealedTable, SealedValue, Store } from '../store/types.js';

export interface ResealOptions {
  /** Rows read at a time. Default 200. */
  pageRows?: number;
  /** Pause between pages, so a large pass never crowds the journal's commits. Default 20 ms. */
  pauseMs?: number;
}

export interface ResealSummary {
  /** Sealed values read. */
  scanned: number;
  /** Rewritten to the current format and key. */
  resealed: number;
  /** Current already. */
  current: number;
  /** Changed by the switch between read and write: left for the next pass. */
  raced: number;
  /** Could not be opened or had no configured upstream: left as they are. */
  failed: number;
  /** Values still under each key id (after this pass), for `keys status`. */
  byKey: Record<string, number>;
}

const TABLES: readonly SealedTable[] = ['txns', 'reversals'];

export class Resealer {
  private readonly pageRows: number;
  private readonly pauseMs: number;
  private stopped = false;
  private running: Promise<ResealSummary> | null = null;

  constructor(
    private readonly store: Store,
    private readonly keys: CardKeys,
    /** The dialect of an upstream by name; undefined when it is not configured. */
    private readonly dialectOf: (upstream: string) => Dialect | undefined,
    private readonly log: Logger,
    private readonly counters: Counters,
    opts: ResealOptions = {},
  ) {
    this.pageRows = opts.pageRows ?? 200;
    this.pauseMs = opts.pauseMs ?? 20;
  }

  /** One pass over both tables; a second call while one runs joins it. */
  pass(dryRun = false): Promise<ResealSummary> {
    this.running ??= this.walk(dryRun).finally(() => { this.running = null; });
    return this.running;
  }

  /** Resolves once no pass runs. */
  async whenIdle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** Ends a running pass after its current page. */
  stop(): void {
    this.stopped = true;
  }

  private async walk(dryRun: boolean): Promise<ResealSummary> {
    const sum: ResealSummary = { scanned: 0, resealed: 0, current: 0, raced: 0, failed: 0, byKey: {} };
    for (const table of TABLES) {
      let after = '';
      for (;;) {
        if (this.stopped) return sum;
        const page = await this.store.sealedPage(table, after, this.pageRows);
        if (page.length === 0) break;
        for (const v of page) await this.one(v, sum, dryRun);
        after = page[page.length - 1].id;
        if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
      }
    }
    if (sum.resealed > 0) await this.store.checkpoint();
    return sum;
  }

  private async one(v: SealedValue, sum: ResealSummary, dryRun: boolean): Promise<void> {
    sum.scanned++;
    if (isCurrentSealed(v.value, this.keys)) {
      sum.current++;
      tally(sum, this.keys.currentKeyId);
      return;
    }
    const dialect = v.upstream === null ? undefined : this.dialectOf(v.upstream);
    // A transaction's own row is bound to its id; a reversal's to its transaction, else itself.
    const bind = v.table === 'txns' ? v.id : v.txnId ?? v.id;
    let next: string;
    try {
      if (dialect === undefined) throw new Error(`upstream ${JSON.stringify(v.upstream)} is not configured: its dialect decides what is kept`);
      next = sealMessage(dialect, unsealMessage(dialect, v.value, this.keys, bind), this.keys, bind);
    } catch (e) {
      sum.failed++;
      tally(sum, sealedKeyId(v.value));
      this.counters.inc('reseal_failed');
      this.log.warn('sealed message left as it is', { table: v.table, id: v.id, column: v.column, why: (e as Error).message });
      return;
    }
    if (dryRun) {
      sum.resealed++;
      tally(sum, sealedKeyId(v.value));
      return;
    }
    if (await this.store.reseal(v, next)) {
      sum.resealed++;
      tally(sum, this.keys.currentKeyId);
      this.counters.inc('resealed');
    } else {
      sum.raced++;
      tally(sum, sealedKeyId(v.value));
    }
  }
}

function tally(sum: ResealSummary, key: string): void {
  sum.byKey[key] = (sum.byKey[key] ?? 0) + 1;
}
