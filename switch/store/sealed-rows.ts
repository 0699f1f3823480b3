/**
 * The SQL behind re-sealing (./resealer.ts), for SQLite and PostgreSQL: a page of sealed
 * values by id (the primary key index, so a page costs the same at row 10 and row 10M),
 * and a compare-and-set of one value, so a state change written meanwhile always wins.
 * Never on the hot path.
 */
import type Database from 'better-sqlite3';
import type { SealedTable, SealedValue } from './types.js';

interface PageRow {
  id: string;
  txnId: string | null;
  upstream: string | null;
  a: string | null;
  b: string | null;
}

const PAGE_SQL: Record<SealedTable, { sqlite: string; pg: string; columns: readonly ('sealed' | 'original' | 'message')[] }> = {
  txns: {
    sqlite: 'SELECT id, NULL AS txnId, upstream, sealed AS a, NULL AS b FROM txns WHERE id > ? AND sealed IS NOT NULL ORDER BY id LIMIT ?',
    pg: 'SELECT id, NULL AS "txnId", upstream, sealed AS a, NULL AS b FROM txns WHERE id > $1 AND sealed IS NOT NULL ORDER BY id LIMIT $2',
    columns: ['sealed'],
  },
  reversals: {
    sqlite: 'SELECT id, txn_id AS txnId, upstream, original AS a, message AS b FROM reversals WHERE id > ? ORDER BY id LIMIT ?',
    pg: 'SELECT id, txn_id AS "txnId", upstream, original AS a, message AS b FROM reversals WHERE id > $1 ORDER BY id LIMIT $2',
    columns: ['original', 'message'],
  },
};

/** Only these (table, column) pairs are ever written: the names go into SQL text. */
const WRITABLE = new Set(['txns.sealed', 'reversals.original', 'reversals.message']);

function values(table: SealedTable, rows: PageRow[]): SealedValue[] {
  const [ca, cb] = PAGE_SQL[table].columns;
  const out: SealedValue[] = [];
  for (const r of rows) {
    // An empty original is a manual entry with nothing kept: nothing to re-seal.
    if (r.a !== null && r.a !== '') out.push({ table, id: r.id, txnId: r.txnId, upstream: r.upstream, column: ca, value: r.a });
    if (r.b !== null && r.b !== '' && cb !== undefined) out.push({ table, id: r.id, txnId: r.txnId, upstream: r.upstream, column: cb, value: r.b });
  }
  return out;
}

function target(v: SealedValue): string {
  const name = `${v.table}.${v.column}`;
  if (!WRITABLE.has(name)) throw new Error(`reseal: ${name} holds no sealed message`);
  return name;
}

export function sqliteSealedPage(db: Database.Database, table: SealedTable, after: string, limit: number): SealedValue[] {
  return values(table, db.prepare(PAGE_SQL[table].sqlite).all(after, limit) as PageRow[]);
}

export function sqliteReseal(db: Database.Database, v: SealedValue, to: string): boolean {
  target(v);
  return db.prepare(`UPDATE ${v.table} SET ${v.column} = ? WHERE id = ? AND ${v.column} = ?`).run(to, v.id, v.value).changes === 1;
}

/** What PostgreSQL runs: the text and its parameters. */
export function pgSealedPage(table: SealedTable, after: string, limit: number): { text: string; values: unknown[] } {
  return { text: PAGE_SQL[table].pg, values: [after, limit] };
}

export function pgReseal(v: SealedValue, to: string): { text: string; values: unknown[] } {
  target(v);
  return { text: `UPDATE ${v.table} SET ${v.column} = $1 WHERE id = $2 AND ${v.column} = $3`, values: [to, v.id, v.value] };
}

export function pgSealedValues(table: SealedTable, rows: PageRow[]): SealedValue[] {
  return values(table, rows);
}

export type { PageRow };
