/** Retention on SQLite (./retention-sql.ts holds the statements and why). */
import type Database from 'better-sqlite3';
import { ERASED_STATE, HISTORY_KIND, RETENTION_SQL as S, ROW_TEXT } from './retention-sql.js';
import type { PruneSummary, PurgeBatch, RetentionPlan } from './types.js';

function count(db: Database.Database, sql: string, before: number): number {
  return (db.prepare(sql).get(before) as { n: number }).n;
}

export function sqlitePlan(db: Database.Database, sealedBefore: number, evidenceBefore: number): RetentionPlan {
  return {
    sealedTxns: count(db, S.planSealedTxns, sealedBefore),
    sealedReversals: count(db, S.planSealedReversals, sealedBefore),
    txns: count(db, S.planTxns, evidenceBefore),
    reversals: count(db, S.planReversals, evidenceBefore),
    reviews: count(db, S.planReviews, evidenceBefore),
    history: count(db, S.planHistory, evidenceBefore),
  };
}

export function sqliteEraseSealed(db: Database.Database, before: number, at: number, limit: number, detail: string): number {
  return db.transaction(() => {
    const history = db.prepare(S.history);
    let n = 0;
    for (const { id } of db.prepare(S.sealedTxnIds).all(before, limit) as { id: string }[]) {
      if (db.prepare(S.eraseTxn).run(id).changes === 1) {
        history.run(at, HISTORY_KIND, id, ERASED_STATE, detail);
        n++;
      }
    }
    for (const { id } of db.prepare(S.sealedReversalIds).all(before, limit) as { id: string }[]) {
      if (db.prepare(S.eraseReversal).run(id).changes === 1) {
        history.run(at, HISTORY_KIND, id, ERASED_STATE, detail);
        n++;
      }
    }
    return n;
  }).immediate();
}

function texts(db: Database.Database, part: keyof typeof ROW_TEXT, keys: (string | number)[]): { key: string; text: string }[] {
  if (keys.length === 0) return [];
  const { table, key } = ROW_TEXT[part];
  const rows = db.prepare(`SELECT * FROM ${table} WHERE ${key} IN (SELECT value FROM json_each(?)) ORDER BY ${key}`).all(JSON.stringify(keys)) as Record<string, unknown>[];
  return rows.map((r) => ({ key: String(r[key]), text: JSON.stringify(r) }));
}

export function sqlitePurgeCandidates(db: Database.Database, before: number, limit: number): PurgeBatch {
  return db.transaction(() => ({
    before,
    txns: texts(db, 'txns', (db.prepare(S.purgeTxnIds).all(before, limit) as { id: string }[]).map((r) => r.id)),
    reversals: texts(db, 'reversals', (db.prepare(S.purgeReversalIds).all(before, limit) as { id: string }[]).map((r) => r.id)),
    reviews: texts(db, 'reviews', (db.prepare(S.purgeReviewIds).all(before, limit) as { id: string }[]).map((r) => r.id)),
    history: texts(db, 'history', (db.prepare(S.purgeHistorySeqs).all(before, limit) as { seq: number }[]).map((r) => r.seq)),
  }))();
}

export function sqlitePurge(db: Database.Database, batch: PurgeBatch, s: PruneSummary): void {
  db.transaction(() => {
    db.prepare(S.openWindow).run(s.run, s.at);
    for (const part of ['txns', 'reversals', 'reviews', 'history'] as const) {
      const { table, key } = ROW_TEXT[part];
      const keys = batch[part].map((r) => (part === 'history' ? Number(r.key) : r.key));
      if (keys.length > 0) db.prepare(`DELETE FROM ${table} WHERE ${key} IN (SELECT value FROM json_each(?))`).run(JSON.stringify(keys));
    }
    db.prepare(S.deleteTxnKeys).run(batch.before);
    db.prepare(S.closeWindow).run(s.run);
    db.prepare(S.summary).run(s.run, s.at, s.beforeMs, s.txns, s.reversals, s.reviews, s.history, s.firstSeq, s.lastSeq, s.digest, s.signature, s.keyCheck);
  }).immediate();
}

export function sqlitePruned(db: Database.Database): PruneSummary[] {
  return db.prepare(S.summaries).all() as PruneSummary[];
}
