/**
 * Retention: what the store keeps, and for how long.
 *
 * - A sealed message (the PAN, encrypted, and what a reversal or refund is built from) is
 *   erased once its transaction can no longer need it: older than `sealedDays` (default
 *   7: past the reversal window and a business day's refund, with days to spare for a
 *   settlement file) and done (a final state, no reversal or refund pending, sent or
 *   waiting for a person, no review open). Each erasure writes a history row.
 * - Journal rows (masked PAN and hash only, once erased) stay for the evidence period,
 *   `evidenceDays` (default 395, 13 months: card-network chargeback windows), then are
 *   deleted with their history, a batch at a time. Each batch records a summary: counts,
 *   a SHA-256 digest of the rows' text, and its HMAC under a key derived from the PAN root
 *   secret (named by check value). History's triggers still refuse any other DELETE.
 *
 * Run by the switch once a day (retention.auto) and by `revswitch maintenance`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CardKeys } from './secrets.js';
import type { PruneSummary, PurgeBatch, RetentionPlan, Store } from './types.js';

export const DAY_MS = 86_400_000;

export interface RetentionConfig {
  sealedDays: number;
  evidenceDays: number;
  /** The switch runs maintenance itself, daily. */
  auto: boolean;
}

export const RETENTION_DEFAULTS: RetentionConfig = { sealedDays: 7, evidenceDays: 395, auto: true };

export interface MaintenanceResult {
  sealedBefore: number;
  evidenceBefore: number;
  /** What was there to do (a dry run stops here). */
  plan: RetentionPlan;
  /** Sealed messages erased. */
  erased: number;
  /** One signed summary per purge batch. */
  runs: PruneSummary[];
}

/** The canonical text a summary's signature covers. */
export function summaryText(s: Omit<PruneSummary, 'signature' | 'keyCheck'>): string {
  return JSON.stringify([s.run, s.at, s.beforeMs, s.txns, s.reversals, s.reviews, s.history, s.firstSeq, s.lastSeq, s.digest]);
}

/** Whether a stored summary is what this key signed. */
export function verifySummary(keys: CardKeys, s: PruneSummary): boolean {
  const { signature, keyCheck } = keys.signSummary(summaryText(s));
  return signature === s.signature && keyCheck === s.keyCheck;
}

function digestOf(b: PurgeBatch): string {
  const h = createHash('sha256');
  for (const part of ['txns', 'reversals', 'reviews', 'history'] as const) {
    for (const r of b[part]) h.update(`${part}\t${r.key}\t${r.text}\n`);
  }
  return h.digest('hex');
}

function size(b: PurgeBatch): number {
  return b.txns.length + b.reversals.length + b.reviews.length + b.history.length;
}

export interface MaintenanceOptions {
  /** Rows per batch (per table). Default 500. */
  batch?: number;
  /** Pause between batches, so the journal's own writes go first. Default 0. */
  pauseMs?: number;
  /** Names the runs: the node, or "cli". */
  by?: string;
}

export class Maintenance {
  private readonly batch: number;
  private readonly pauseMs: number;
  private readonly by: string;
  private stopped = false;

  constructor(private readonly store: Store, private readonly keys: CardKeys, private readonly cfg: RetentionConfig, opts: MaintenanceOptions = {}) {
    this.batch = opts.batch ?? 500;
    this.pauseMs = opts.pauseMs ?? 0;
    this.by = opts.by ?? 'cli';
  }

  /** Erases and purges what `now` allows; with dryRun, only says what it would. */
  async run(now: number, dryRun = false): Promise<MaintenanceResult> {
    const sealedBefore = now - this.cfg.sealedDays * DAY_MS;
    const evidenceBefore = now - this.cfg.evidenceDays * DAY_MS;
    const plan = await this.store.retentionPlan(sealedBefore, evidenceBefore);
    const out: MaintenanceResult = { sealedBefore, evidenceBefore, plan, erased: 0, runs: [] };
    if (dryRun) return out;
    const detail = `sealed message erased: older than ${this.cfg.sealedDays} days and done`;
    for (;;) {
      const n = await this.store.eraseSealed(sealedBefore, now, this.batch, detail);
      out.erased += n;
      if (n === 0 || this.stopped) break;
      await this.pause();
    }
    if (out.erased > 0) await this.store.checkpoint();
    let last = '';
    for (;;) {
      if (this.stopped) break;
      const b = await this.store.purgeCandidates(evidenceBefore, this.batch);
      if (size(b) === 0) break;
      const digest = digestOf(b);
      // The same rows twice: the delete did not take them; stop rather than loop.
      if (digest === last) throw new Error(`maintenance: the same ${size(b)} rows came back after their purge`);
      last = digest;
      const seqs = b.history.map((h) => Number(h.key));
      const base = {
        run: `${this.by}-${now}-${randomBytes(4).toString('hex')}`, at: now, beforeMs: evidenceBefore,
        txns: b.txns.length, reversals: b.reversals.length, reviews: b.reviews.length, history: b.history.length,
        firstSeq: seqs.length === 0 ? null : Math.min(...seqs), lastSeq: seqs.length === 0 ? null : Math.max(...seqs), digest,
      };
      const summary: PruneSummary = { ...base, ...this.keys.signSummary(summaryText(base)) };
      await this.store.purge(b, summary);
      out.runs.push(summary);
      await this.pause();
    }
    return out;
  }

  /** Ends a running pass after its current batch (each batch is whole: its rows and their summary). */
  stop(): void {
    this.stopped = true;
  }

  private async pause(): Promise<void> {
    if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
  }
}
