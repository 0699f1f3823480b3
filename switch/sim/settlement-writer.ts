/**
 * Writes the issuer simulator's settlement files (./settlement.ts) into a directory: each
 * business date's file once that date has closed (its cutover passed on the simulator's
 * clock), and at close every date not written yet, the open one included, so a test can
 * stop the simulator and read the file. A closed date is computed once and kept: writing it
 * again gives the same rows and the same faults, whatever reached the ledger since.
 * Each file is written whole (a temp file, then a rename), mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadDefaultRules, type BusinessCalendar } from '../../rules/index.js';
import type { LedgerSnapshot } from './ledger.js';
import {
  checkSettlementFaults, faultsFileName, settlementCsv, settlementDays, settlementFileName,
  type InjectedFault, type SettlementDay, type SettlementFaults,
} from './settlement.js';

export type { InjectedFault, SettlementFaults } from './settlement.js';

/** The issuer's settlement options (IssuerOptions extends these). */
export interface SettlementOptions {
  /** Write settlement files here: a business date's when it closes, the rest at close(). Default: none written. */
  settlementDir?: string;
  /** The upstream column. Default demo-issuer, the switch quick start's name for the demo issuer. */
  settlementUpstream?: string;
  /** Movements to corrupt per file, by kind; when given, each file gets a .faults.json beside it. */
  settlementFaults?: SettlementFaults;
  /** The settlement calendar. Default: the switch's, the businessDay section of rules/default.yaml. */
  calendar?: BusinessCalendar;
}

export interface SettlementWriterOptions extends SettlementOptions {
  seed: number;
  snapshot: () => LedgerSnapshot;
  /** The simulator's clock. Default Date.now. */
  now?: () => number;
  log?: (line: string) => void;
  /** How often the clock is checked for a cutover. Default 1000 ms. */
  checkMs?: number;
}

export const DEFAULT_SETTLEMENT_UPSTREAM = 'demo-issuer';

/** A settlement file that could not be written; `path` is the file (or directory) concerned. */
export class SettlementWriteError extends Error {
  override readonly name = 'SettlementWriteError';
  constructor(readonly path: string, cause: unknown) {
    super(`cannot write settlement file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Replaces `path` with `text` in one step: readers see the old file or the new one, never half of it. */
async function writeWhole(path: string, text: string): Promise<void> {
  // A dot name, so a reader listing settlement-*.csv never picks up a file being written.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new SettlementWriteError(path, e);
  }
}

export class SettlementWriter {
  private readonly dir: string | null;
  private readonly upstream: string;
  private readonly faultCounts: SettlementFaults | null;
  private cal: BusinessCalendar | null;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  /** Dates that had closed when computed: their rows and faults never change. */
  private readonly frozen = new Map<string, SettlementDay>();
  /** The last computation of every date, for faults(). */
  private readonly latest = new Map<string, SettlementDay>();
  /** Dates whose final file is in `dir`. */
  private readonly written = new Set<string>();
  private readonly paths = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private lastDate = '';
  private closed = false;
  /** One write at a time: the timer's and an explicit one never interleave. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SettlementWriterOptions) {
    if (opts.settlementDir === '') throw new RangeError('settlementDir must not be empty');
    this.dir = opts.settlementDir ?? null;
    this.upstream = opts.settlementUpstream ?? DEFAULT_SETTLEMENT_UPSTREAM;
    if (this.upstream.trim() === '') throw new RangeError('settlementUpstream must not be empty');
    this.faultCounts = opts.settlementFaults === undefined ? null : checkSettlementFaults(opts.settlementFaults);
    this.cal = opts.calendar ?? null;
    // Read the default rules only where a file will be written, but then at once: a broken file fails the start.
    if (this.dir !== null) this.calendar();
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  private calendar(): BusinessCalendar {
    this.cal ??= loadDefaultRules().calendar;
    return this.cal;
  }

  /** Starts watching the clock for cutovers (only with a directory). */
  start(): void {
    if (this.dir === null || this.timer !== null || this.closed) return;
    this.lastDate = this.calendar().businessDate(this.now());
    this.timer = setInterval(() => this.tick(), this.opts.checkMs ?? 1000);
    this.timer.unref();
  }

  private tick(): void {
    const today = this.calendar().businessDate(this.now());
    if (today === this.lastDate) return;
    this.lastDate = today;
    // A failure is retried at close, which reports it.
    this.writeClosed().then(
      (paths) => { for (const p of paths) this.log(`issuer: business date closed, settlement file ${p}`); },
      (e: unknown) => this.log(`issuer: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  /** Writes every date that has closed and is not in the directory yet; returns the paths written. */
  writeClosed(): Promise<string[]> {
    return this.serial(async () => {
      if (this.dir === null) return [];
      const today = this.calendar().businessDate(this.now());
      const days = this.days(false).filter((d) => d.businessDate < today && !this.written.has(d.businessDate));
      return this.writeDays(days, this.dir);
    });
  }

  /** Writes every date with movements, the open one as it stands, to `dir` (default: the configured one). */
  writeAll(dir?: string): Promise<string[]> {
    return this.serial(async () => {
      const to = dir ?? this.dir;
      if (to === null) throw new RangeError('writeSettlement: no directory: pass one, or start the issuer with settlementDir');
      return this.writeDays(this.days(false), to);
    });
  }

  /** Stops the clock and writes every date not written yet, the open one included; nothing changes after it. */
  close(): Promise<string[]> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.closed = true;
    return this.serial(async () => {
      const days = this.days(true);
      return this.dir === null ? [] : this.writeDays(days.filter((d) => !this.written.has(d.businessDate)), this.dir);
    });
  }

  /** Every fault injected into the files computed so far, by date. */
  faults(): InjectedFault[] {
    return [...this.latest.keys()].sort().flatMap((d) => this.latest.get(d)?.faults ?? []);
  }

  /** Every path written, each once, in the order first written. */
  files(): string[] {
    return [...this.paths];
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Every date with movements; a closed one (or all, at close) computed once and kept. */
  private days(final: boolean): SettlementDay[] {
    const today = this.calendar().businessDate(this.now());
    const computed = settlementDays({
      snapshot: this.opts.snapshot(), calendar: this.calendar(), upstream: this.upstream, seed: this.opts.seed,
      faults: this.faultCounts ?? undefined,
    });
    return computed.map((d) => {
      const day = this.frozen.get(d.businessDate) ?? d;
      if (final || this.closed || d.businessDate < today) this.frozen.set(d.businessDate, day);
      this.latest.set(d.businessDate, day);
      return day;
    });
  }

  private async writeDays(days: SettlementDay[], dir: string): Promise<string[]> {
    if (days.length === 0) return [];
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new SettlementWriteError(dir, e);
    }
    const out: string[] = [];
    for (const day of days) {
      const date = day.businessDate;
      const csv = join(dir, settlementFileName(date));
      const written = [csv];
      // The faults first: whoever sees the CSV appear finds its faults beside it.
      if (this.faultCounts !== null) {
        const faults = join(dir, faultsFileName(date));
        await writeWhole(faults, JSON.stringify({
          businessDate: date, file: settlementFileName(date), upstream: this.upstream, seed: this.opts.seed,
          requested: this.faultCounts, faults: day.faults, shortfalls: day.shortfalls,
        }, null, 2) + '\n');
        written.push(faults);
        for (const s of day.shortfalls) this.log(`issuer: settlement ${date}: ${s.requested} ${s.kind} fault(s) asked for, ${s.injected} eligible`);
      }
      await writeWhole(csv, settlementCsv(day.rows));
      if (dir === this.dir && this.frozen.get(date) === day) this.written.add(date);
      for (const p of written) this.paths.add(p);
      out.push(...written);
    }
    return out;
  }
}
