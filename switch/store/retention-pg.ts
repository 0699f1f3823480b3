/** Retention on PostgreSQL (./retention-sql.ts holds the statements and why). */
import type pg from 'pg';
import { ERASED_STATE, HISTORY_KIND, pg as numbered, RETENTION_SQL as S, ROW_TEXT } from './retention-sql.js';
import type { PruneSummary, PurgeBatch, RetentionPlan } from './types.js';
import { inTransaction } from './postgres-migrate.js';

type Client = pg.PoolClient;

async function count(c: Client, sql: string, before: number): Promise<number> {
  return Number((await c.query<{ n: string }>(numbered(sql), [before])).rows[0].n);
}

export async function pgPlan(c: Client, sealedBefore: number, evidenceBefore: number): Promise<RetentionPlan> {
  return {
    sealedTxns: await count(c, S.planSealedTxns, sealedBefore),
    sealedReversals: await count(c, S.planSealedReversals, sealedBefore),
    txns: await count(c, S.planTxns, evidenceBefore),
    reversals: await count(c, S.planReversals, evidenceBefore),
    reviews: await count(c, S.planReviews, evidenceBefore),
    history: await count(c, S.planHistory, evidenceBefore),
  };
}

export function pgEraseSealed(c: Client, before: number, at: number, limit: number, detail: string): Promise<number> {
  return inTransaction(c, async () => {
    let n = 0;
    for (const [ids, erase] of [[S.sealedTxnIds, S.eraseTxn], [S.sealedReversalIds, S.eraseReversal]] as const) {
      for (const { id } of (await c.query<{ id: string }>(numbered(ids), [before, limit])).rows) {
        if ((await c.query(numbered(erase), [id])).rowCount === 1) {
          await c.query(numbered(S.history), [at, HISTORY_KIND, id, ERASED_STATE, detail]);
          n++;
        }
      }
    }
    return n;
  });
}

async function texts(c: Client, part: keyof typeof ROW_TEXT, keys: string[]): Promise<{ key: string; text: string }[]> {
  if (keys.length === 0) return [];
  const { table, key } = ROW_TEXT[part];
  const cast = part === 'history' ? 'bigint[]' : 'text[]';
  const r = await c.query<{ key: string; text: string }>(
    `SELECT x.${key}::text AS key, row_to_json(x)::text AS text FROM ${table} x WHERE x.${key} = ANY($1::${cast}) ORDER BY x.${key}`, [keys]);
  return r.rows;
}

async function ids(c: Client, sql: string, before: number, limit: number): Promise<string[]> {
  return (await c.query<Record<string, unknown>>(numbered(sql), [before, limit])).rows.map((r) => String(Object.values(r)[0]));
}

export function pgPurgeCandidates(c: Client, before: number, limit: number): Promise<PurgeBatch> {
  return inTransaction(c, async () => ({
    before,
    txns: await texts(c, 'txns', await ids(c, S.purgeTxnIds, before, limit)),
    reversals: await texts(c, 'reversals', await ids(c, S.purgeReversalIds, before, limit)),
    reviews: await texts(c, 'reviews', await ids(c, S.purgeReviewIds, before, limit)),
    history: await texts(c, 'history', await ids(c, S.purgeHistorySeqs, before, limit)),
  }));
}

export function pgPurge(c: Client, batch: PurgeBatch, s: PruneSummary): Promise<void> {
  return inTransaction(c, async () => {
    await c.query(numbered(S.openWindow), [s.run, s.at]);
    for (const part of ['txns', 'reversals', 'reviews', 'history'] as const) {
      const { table, key } = ROW_TEXT[part];
      const keys = batch[part].map((r) => r.key);
      if (keys.length > 0) await c.query(`DELETE FROM ${table} WHERE ${key} = ANY($1::${part === 'history' ? 'bigint[]' : 'text[]'})`, [keys]);
    }
    await c.query(numbered(S.deleteTxnKeys), [batch.before]);
    await c.query(numbered(S.closeWindow), [s.run]);
    await c.query(numbered(S.summary), [s.run, s.at, s.beforeMs, s.txns, s.reversals, s.reviews, s.history, s.firstSeq, s.lastSeq, s.digest, s.signature, s.keyCheck]);
  });
}

export async function pgPruned(c: Client): Promise<PruneSummary[]> {
  const rows = (await c.query<Record<string, unknown>>(S.summaries)).rows;
  // BIGINT columns arrive as strings.
  return rows.map((r) => ({
    run: String(r.run), at: Number(r.at), beforeMs: Number(r.beforeMs), txns: Number(r.txns), reversals: Number(r.reversals),
    reviews: Number(r.reviews), history: Number(r.history), firstSeq: r.firstSeq === null ? null : Number(r.firstSeq),
    lastSeq: r.lastSeq === null ? null : Number(r.lastSeq), digest: String(r.digest), signature: String(r.signature), keyCheck: String(r.keyCheck),
  }));
}
