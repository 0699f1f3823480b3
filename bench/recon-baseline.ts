/**
 * The baseline of bench/recon-load.ts: reconciliation as one writes it first, every row of
 * both sides in a Map (same reader, same journal pages, same classifier as revswitch).
 * `node dist/bench/recon-baseline.js FILE STORE_URL DATE`: prints the totals as JSON.
 */
import { classifyRefund, classifySale, unknownRecord, type FileEntry, type JournalEntry } from '../switch/recon/classify.js';
import { expectationOf } from '../switch/recon/journal-side.js';
import { readSettlementFile } from '../switch/recon/settlement-file.js';
import { connectStore } from '../switch/store/index.js';

const [file, url, date] = process.argv.slice(2);
const store = await connectStore(url, { inline: true });
const byRrn = new Map<string, FileEntry[]>();
let records = 0;
const read = readSettlementFile(file, { format: 'csv', businessDate: date });
for await (const r of read.records) {
  const e: FileEntry = { line: r.line, type: r.type, amount: Number(r.amountMinor), currency: r.currency, rrn: r.rrn, terminal: r.terminal, stan: r.stan, f7: r.f7 };
  const k = `${r.rrn}|${r.terminal}`;
  const list = byRrn.get(k);
  if (list === undefined) byRrn.set(k, [e]);
  else list.push(e);
  records++;
}
const journal: JournalEntry[] = [];
for (let after = ''; ;) {
  const page = await store.reconJournal({ businessDate: date, upstream: null, after, limit: 5000 });
  if (page.length === 0) break;
  for (const row of page) {
    journal.push({
      ...expectationOf(row), kind: 'sale', txnId: row.id, undoId: row.reversalId, undoState: row.reversalState, state: row.state, rrn: row.rrn ?? '',
      terminal: row.terminal ?? '', stan: row.upstreamStan ?? '', f7: row.f7 ?? '', currency: row.currency ?? '',
    });
  }
  after = page[page.length - 1].id;
}
const totals = new Map<string, { cls: string; journalRows: number; fileRecords: number }>();
const add = (cls: string, j: number, f: number): void => {
  const t = totals.get(cls) ?? { cls, journalRows: 0, fileRecords: 0 };
  t.journalRows += j;
  t.fileRecords += f;
  totals.set(cls, t);
};
for (const j of journal) {
  const k = `${j.rrn}|${j.terminal}`;
  const recs = byRrn.get(k) ?? [];
  byRrn.delete(k);
  const c = j.kind === 'sale' ? classifySale(j, recs) : classifyRefund(j, recs);
  add(c.main.cls, 1, c.main.fileLines.length);
  for (const d of c.duplicates) add(d.cls, 0, 1);
}
for (const recs of byRrn.values()) for (const r of recs) add(unknownRecord(r, '').cls, 0, 1);
await store.close();
process.stdout.write(JSON.stringify({ records, totals: [...totals.values()] }) + '\n');
