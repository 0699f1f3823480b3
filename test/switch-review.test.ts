/**
 * The review queue, end to end on SQLite with the switch running: a decision rules/ leaves
 * to a person (a terminal's partial reversal whose F95 is above the original) becomes a
 * durable item; a person approves it from the CLI, another process, and the running
 * switch sends the reversal; a second approval answers who already decided. A crash
 * between the approval and the queue row still ends in exactly one reversal (the switch's
 * sweep finishes it). The admin API: reads open, writes 403 without configured tokens,
 * 401 with a wrong one, and a decision with the right one, by the token's name.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatF95, getDialect, reversalOf, transmissionTime, type IsoMessage } from '../codec/index.js';
import type { SimClient } from '../switch/sim/client.js';
import { ROOT, nodeArgsFor } from './support/built.js';
import { nextStan, sale, startHarness, type Harness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
const TOKEN = 'a-long-random-admin-token-for-tests';
const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function cli(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...nodeArgsFor('switch/cli/main'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A sale approved, then the terminal's partial reversal with F95 above the original: rules/ sends it to review. */
async function reviewable(h: Harness, c: SimClient): Promise<{ s: IsoMessage; itemId: string }> {
  const s = sale({ amount: '3000' });
  const res = await c.request(s, 10_000);
  if (res.get(39) !== '00') throw new Error('not approved');
  const rev = reversalOf(D87, s, { reason: '32', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) });
  rev.set(95, formatF95({ transaction: '000000009999' }));
  const answered = await c.request(rev, 10_000);
  if (answered.get(39) !== '00') throw new Error('the terminal reversal was not answered 00');
  let itemId = '';
  await h.until(() => {
    void h.store.reviews(['open']).then((items) => {
      itemId = items.find((i) => i.why.includes('F95'))?.id ?? itemId;
    });
    return itemId !== '';
  }, 'the review item', 10_000);
  return { s, itemId };
}

async function open(tt: Test, tokens?: Record<string, string>): Promise<{ h: Harness; c: SimClient; db: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-review-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = `sqlite:${join(dir, 'journal.db')}`;
  const h = await startHarness(tt, { store: db, admin: true, adminTokens: tokens });
  return { h, c: await h.client(), db };
}

t.test('approved from the CLI while the switch runs: the reversal goes out once; decided once', async (tt) => {
  const { h, c, db } = await open(tt);
  const { s, itemId } = await reviewable(h, c);
  const item = await h.store.review(itemId);
  tt.same([item?.state, item?.proposed], ['open', 'reverse'], 'an open item proposing the reversal');
  tt.same(h.reversalsSeen(), [], 'nothing sent before a person decides');
  const listed = cli(['review', 'list', '--store', db]);
  tt.equal(listed.code, 0, listed.err);
  tt.match(listed.out, /1 open review item:/);
  tt.match(listed.out, new RegExp(itemId.replace(/[|]/g, '\\|')));

  const approved = cli(['review', 'approve', itemId, '--by', 'alice', '--note', 'the terminal dispensed nothing: reverse all', '--store', db]);
  tt.equal(approved.code, 0, approved.err);
  tt.match(approved.out, /approved .* by alice: reversal .* queued; the running switch sends it/);
  await h.until(() => h.reversalsSeen().some((e) => e.msg.get(37) === s.get(37)), 'the reversal at the issuer', 15_000);
  await h.until(() => h.sw.reversals.outstanding === 0, 'acknowledged', 10_000);
  tt.equal(h.reversalsSeen().filter((e) => e.msg.get(37) === s.get(37) && e.msg.mti === '0400').length, 1, 'one reversal');
  tt.equal(h.reversalsSeen()[0].msg.has(95), false, 'a full reversal, as approved');

  const again = cli(['review', 'approve', itemId, '--by', 'bob', '--note', 'me too', '--store', db]);
  tt.equal(again.code, 1);
  tt.match(again.err, /was already approved by alice at .* \(reverse\): the terminal dispensed nothing/, 'decided once, and by whom');
  const shown = cli(['review', 'show', itemId, '--store', db]);
  tt.match(shown.out, /decided +approved by alice/);
  tt.match(shown.out, /history:\n.*open[\s\S]*approved[\s\S]*queued/);
  const refused = cli(['review', 'reject', itemId, '--by', 'bob', '--note', 'x', '--store', db]);
  tt.equal(refused.code, 1, 'a decided item cannot be rejected');
  tt.match(cli(['review', 'approve', itemId, '--store', db]).err, /--by is required/);
});

t.test('a crash between the approval and the queue row: the running switch finishes it, one reversal', async (tt) => {
  const { h, c } = await open(tt);
  const { s, itemId } = await reviewable(h, c);
  // What a CLI that died right after its decision leaves: approved, no undo queued.
  tt.ok(await h.store.decideReview({ id: itemId, state: 'approved', at: Date.now(), by: 'carol', note: 'reverse it', action: 'reverse' }));
  await h.until(() => h.reversalsSeen().some((e) => e.msg.get(37) === s.get(37)), "the sweep's reversal at the issuer", 15_000);
  await h.until(() => h.sw.reversals.outstanding === 0, 'acknowledged', 10_000);
  await h.barrier(c);
  tt.equal(h.reversalsSeen().filter((e) => e.msg.get(37) === s.get(37)).length, 1, 'exactly one');
  const item = await h.store.review(itemId);
  tt.ok(item?.undoId, 'the item names its reversal');
});

t.test('the admin API: reads open; writes 403 without tokens, 401 with a wrong one; a decision by the token name', async (tt) => {
  const withTokens = await open(tt, { 'ops-desk': sha(TOKEN) });
  const bare = await open(tt);
  const url = (h: Harness, path: string): string => `http://127.0.0.1:${h.admin?.port ?? 0}${path}`;
  const post = (h: Harness, path: string, token: string | null, body: unknown) => fetch(url(h, path), {
    method: 'POST', headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body),
  });

  const { itemId: bareItem } = await reviewable(bare.h, bare.c);
  const list = await (await fetch(url(bare.h, '/api/review'))).json() as { count: number; items: { id: string }[] };
  tt.equal(list.count, 1, 'GET /api/review needs no token');
  tt.equal((await post(bare.h, `/api/review/${encodeURIComponent(bareItem)}/approve`, TOKEN, { note: 'x' })).status, 403, 'no tokens configured: 403');

  const { s, itemId } = await reviewable(withTokens.h, withTokens.c);
  const path = `/api/review/${encodeURIComponent(itemId)}`;
  tt.equal((await post(withTokens.h, `${path}/approve`, null, { note: 'x' })).status, 401, 'no token: 401');
  const wrong = await post(withTokens.h, `${path}/approve`, 'not-the-token', { note: 'x' });
  tt.equal(wrong.status, 401, 'a wrong token: 401');
  tt.notOk((await wrong.text()).includes('not-the-token'), 'the token is never echoed');
  tt.equal((await post(withTokens.h, `${path}/approve`, TOKEN, {})).status, 400, 'a note is required');
  tt.equal((await post(withTokens.h, `${path}/approve`, TOKEN, { note: 'x', action: 'pay-everyone' })).status, 400, 'an unknown action: 400');
  const ok = await post(withTokens.h, `${path}/reject`, TOKEN, { note: 'the customer kept the goods' });
  tt.equal(ok.status, 200);
  tt.match(await ok.json(), { state: 'rejected', by: 'ops-desk' }, 'decided by the token name');
  tt.equal((await post(withTokens.h, `${path}/approve`, TOKEN, { note: 'x' })).status, 409, 'decided once: 409');
  await withTokens.h.barrier(withTokens.c);
  tt.same(withTokens.h.reversalsSeen().filter((e) => e.msg.get(37) === s.get(37)), [], 'rejected: nothing sent');
});
