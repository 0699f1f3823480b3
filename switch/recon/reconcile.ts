/**
 * One reconciliation: a settlement file for one business date (and upstream) against the
 * journal. The file is read in full into the scratch database before anything else, so a
 * malformed file stops the run with nothing applied; then the journal's side of the date,
 * a page at a time; then SQLite matches the two (./scratch.ts) and every journal row and
 * every record is classified (./classify.ts). Differences are spilled to a file beside the
 * scratch database and read back by the report and by --apply: memory stays bounded
 * whatever the day's size. Changes nothing in the store (./apply.ts does).
 */
import { createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BusinessCalendar } from '../../rules/index.js';
import { refundIdOf, reversalIdOfRow } from '../undo/undo-ids.js';
import { parseSqliteUrl } from '../store/index.js';
import type { Store, TxnRow } from '../store/types.js';
import { RECON_CLASSES, type ReconClass, type ReconLine } from './classes.js';
import { classifyRefund, classifySale, unknownRecord, type FileEntry } from './classify.js';
import { minor } from './journal-side.js';
import { Scratch } from './scratch.js';
import { readSettlementFile, SettlementFileError, type SettlementFileInfo } from './settlement-file.js';
import type { SettlementRecord } from './settlement-record.js';

export interface ReconcileOptions {
  file: string;
  /** csv, json, or the path of a mapping file. */
  format: string;
  /** Every record must carry it; absent: the first record's, and every other must agree. */
  businessDate?: string;
  /** Only this upstream's transactions; a file naming another upstream is refused. Absent: the upstream the file names, else all. */
  upstream?: string | null;
  store: Store;
  /** The settlement calendar (rules/): which business date a refund's acknowledgement fell in. */
  calendar: BusinessCalendar;
  /** Where the scratch database goes (default: the OS temp directory). */
  scratchDir?: string;
  now?: () => number;
}

export interface ClassTotal {
  cls: ReconClass;
  currency: string;
  /** Journal rows and file records in the class. */
  journalRows: number;
  fileRecords: number;
  /** Sums of what the journal expected and what the file settles, minor units (exact). */
  journalAmount: bigint;
  fileAmount: bigint;
}

export interface ReconResult {
  /** recon|DATE|SHA-256 prefix|time: named in the history of everything --apply queues. */
  runId: string;
  at: number;
  file: SettlementFileInfo;
  format: string;
  businessDate: string;
  upstream: string | null;
  journalRows: number;
  records: number;
  /** Per class and currency, in RECON_CLASSES order. */
  totals: ClassTotal[];
  /** The differences (every class but matched), in journal order then file order. */
  lines(): AsyncIterable<ReconLine>;
  differences: number;
  elapsedMs: number;
  /** Where the time went, ms: reading the file, the journal, matching, classifying. */
  phases: { file: number; journal: number; match: number; classify: number };
  /** Removes the scratch files. */
  close(): void;
}

const PAGE = 5000;
/** How a reconciliation's refunds and review items begin their explanation: `reconciliation RUN-ID: ...`. */
export const EXPLANATION_PREFIX = 'reconciliation ';
const CHUNK = 20_000;
const DAY = 86_400_000;

/** The reader allows 12 digits at most, so the amount is a safe integer. */
function fileEntry(r: SettlementRecord): FileEntry {
  return { line: r.line, type: r.type, amount: Number(r.amountMinor), currency: r.currency, rrn: r.rrn, terminal: r.terminal, stan: r.stan, f7: r.f7 };
}

/** The file of a SQLite store, which the scratch database reads directly; null for other stores. */
function sqlitePathOf(store: Store): string | null {
  if (!store.url.startsWith('sqlite:')) return null;
  const { path } = parseSqliteUrl(store.url);
  return path === ':memory:' ? null : path;
}

/** Differences, one JSON line each, written in blocks. */
class Spill {
  private fd: number;
  private buf: string[] = [];
  count = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w', 0o600);
  }
  add(l: ReconLine): void {
    this.buf.push(JSON.stringify(l));
    this.count++;
    if (this.buf.length >= 1000) this.drain();
  }
  close(): void {
    this.drain();
    closeSync(this.fd);
  }
  private drain(): void {
    if (this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
  }
}

class Totals {
  private readonly m = new Map<string, ClassTotal>();
  add(cls: ReconClass, currency: string, journalRows: number, fileRecords: number, journalAmount: number | null, fileAmount: number | null): void {
    this.addSums(cls, currency, journalRows, fileRecords, BigInt(journalAmount ?? 0), BigInt(fileAmount ?? 0));
  }
  addSums(cls: ReconClass, currency: string, journalRows: number, fileRecords: number, journalAmount: bigint, fileAmount: bigint): void {
    const k = `${cls}|${currency}`;
    let t = this.m.get(k);
    if (t === undefined) {
      t = { cls, currency, journalRows: 0, fileRecords: 0, journalAmount: 0n, fileAmount: 0n };
      this.m.set(k, t);
    }
    t.journalRows += journalRows;
    t.fileRecords += fileRecords;
    t.journalAmount += journalAmount;
    t.fileAmount += fileAmount;
  }
  list(): ClassTotal[] {
    return [...this.m.values()].sort((a, b) => RECON_CLASSES.indexOf(a.cls) - RECON_CLASSES.indexOf(b.cls) || (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
  }
}

export async function reconcile(o: ReconcileOptions): Promise<ReconResult> {
  const now = o.now ?? Date.now;
  const t0 = performance.now();
  const scratch = new Scratch(o.scratchDir);
  try {
    return await run(o, scratch, now, t0);
  } catch (e) {
    scratch.close();
    throw e;
  }
}

async function run(o: ReconcileOptions, scratch: Scratch, now: () => number, t0: number): Promise<ReconResult> {
  const reading = readSettlementFile(o.file, { format: o.format, businessDate: o.businessDate, upstream: o.upstream ?? undefined });
  let date = o.businessDate ?? null;
  let chunk: FileEntry[] = [];
  let records = 0;
  for await (const r of reading.records) {
    if (date === null) date = r.businessDate;
    else if (r.businessDate !== date) {
      throw new SettlementFileError(`${basename(o.file)} line ${r.line}, column business_date: ${r.businessDate} is not the file's business date (${date}, from its first record)`, r.line, 'business_date');
    }
    chunk.push(fileEntry(r));
    records++;
    if (chunk.length >= CHUNK) {
      scratch.addRecords(chunk);
      chunk = [];
    }
  }
  scratch.addRecords(chunk);
  const info = await reading.info;
  const tFile = performance.now();
  // A file that names its upstream reconciles that upstream's journal only.
  const upstream = o.upstream ?? info.upstream ?? null;
  if (date === null) {
    if (o.businessDate === undefined) throw new SettlementFileError(`${basename(o.file)}: no records, and no --date to say which business date it closes`, null, null);
    date = o.businessDate;
  }

  let journalRows = 0;
  const sqlite = sqlitePathOf(o.store);
  if (sqlite !== null) journalRows = scratch.copyJournalFrom(sqlite, date, upstream);
  else {
    for (let after = ''; ;) {
      const page = await o.store.reconJournal({ businessDate: date, upstream, after, limit: PAGE });
      if (page.length === 0) break;
      scratch.addJournalRows(page);
      journalRows += page.length;
      after = page[page.length - 1].id;
    }
  }
  // A refund belongs to the business date its acknowledgement fell in: look a fortnight
  // either side of the date's midnight and keep those the calendar puts on it. A refund a
  // reconciliation of this date queued (itself, or through a review it raised) is the fix
  // for this file, never in it.
  const midnight = Date.parse(`${date}T00:00:00Z`);
  const ownFix = `${EXPLANATION_PREFIX}recon|${date}|`;
  const refunds = (await o.store.reconRefunds(midnight - 14 * DAY, midnight + 2 * DAY))
    .filter((r) => r.state === 'acked' && (upstream === null || r.upstream === upstream) && o.calendar.businessDate(r.updatedAt) === date &&
      !r.explanation.includes(ownFix));
  scratch.addRefunds(refunds);
  journalRows += refunds.length;

  const tJournal = performance.now();
  scratch.match();
  const tMatch = performance.now();
  const at = now();
  const runId = `recon|${date}|${info.sha256.slice(0, 12)}|${at}`;
  const spillPath = join(scratch.dirPath, 'differences.jsonl');
  const spill = new Spill(spillPath);
  const totals = new Totals();
  try {
    for (const a of scratch.agreed()) totals.addSums('matched', a.currency, a.journalRows, a.fileRecords, a.journalAmount, a.fileAmount);
    for (const { journal, records: recs } of scratch.groups()) {
      const c = journal.kind === 'sale' ? classifySale(journal, recs) : classifyRefund(journal, recs);
      totals.add(c.main.cls, c.main.currency, 1, c.main.fileLines.length, c.main.journalAmount, c.main.fileAmount);
      if (c.main.cls !== 'matched') spill.add(c.main);
      for (const d of c.duplicates) {
        totals.add(d.cls, d.currency, 0, 1, null, d.fileAmount);
        spill.add(d);
      }
    }
    for (const r of scratch.unmatched()) {
      const l = await outsideTheDate(o.store, r);
      totals.add(l.cls, l.currency, 0, 1, null, l.fileAmount);
      if (l.cls !== 'matched') spill.add(l);
    }
  } finally {
    spill.close();
  }
  const differences = spill.count;
  return {
    runId, at, file: info, format: o.format, businessDate: date, upstream, journalRows, records, totals: totals.list(), differences,
    elapsedMs: performance.now() - t0,
    phases: { file: tFile - t0, journal: tJournal - tFile, match: tMatch - tJournal, classify: performance.now() - tMatch },
    lines: () => readSpill(spillPath),
    close: () => scratch.close(),
  };
}

async function* readSpill(path: string): AsyncGenerator<ReconLine> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const text of rl) if (text !== '') yield JSON.parse(text) as ReconLine;
}

/**
 * A record no row of the date keys to. A sale is unknown to the switch. A reversal or a
 * refund may move a sale of another business date: found by F37 + F41, it agrees when the
 * journal's reversal (or a refund of that amount) was acknowledged.
 */
async function outsideTheDate(store: Store, r: FileEntry): Promise<ReconLine> {
  if (r.type === 'sale' || r.rrn === '') return unknownRecord(r, `${r.type} not in the journal of this business date: raise it with the issuer`);
  for (const t of await store.findTxns({ rrn: r.rrn, terminal: r.terminal })) {
    const ids = undoIds(t);
    if (ids === null) continue;
    const undo = await store.reversal(r.type === 'reversal' ? ids.reversal : ids.refund);
    if (undo?.state === 'acked' && (r.type === 'reversal' || minor(undo.amount ?? null) === r.amount)) {
      return {
        cls: 'matched', currency: r.currency, txnId: t.id, undoId: undo.id, undoState: undo.state, state: t.state, rrn: r.rrn, terminal: r.terminal, stan: r.stan,
        f7: r.f7, journalAmount: null, fileAmount: -r.amount, fileLines: [r.line], action: 'none', actionAmount: null, why: `moves ${t.id} of business date ${t.businessDate ?? '?'}`,
      };
    }
  }
  return unknownRecord(r, `${r.type} of a sale the journal has no acknowledged ${r.type} for: raise it with the issuer`);
}

function undoIds(t: TxnRow): { reversal: string; refund: string } | null {
  let reversal: string | null;
  try {
    reversal = reversalIdOfRow(t);
  } catch {
    return null; // an unreadable sealed message: no undo of it can be named
  }
  return reversal === null ? null : { reversal, refund: refundIdOf(reversal) };
}
