/**
 * The console's screenshots for the docs: starts a switch (the tests' harness: an issuer
 * simulator, memory store, admin server) with mixed traffic for about 40 s, some
 * reversals left unanswered so the manual queue has entries and a review item open, then
 * writes docs/images/console-<page>.png for each page through Debian's chromium.
 *
 *   node --import tsx scripts/console-screenshots.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Test } from 'tap';
import { ROOT } from '../test/support/built.js';
import { chromiumPath, ensureConsoleBuilt } from '../test/support/console-build.js';
import { mixedTraffic, reviewable } from '../test/support/console-scene.js';
import { startHarness } from '../test/support/switch-harness.js';
import { until } from '../test/support/until.js';

const TRAFFIC_MS = 40_000;
const OUT = join(ROOT, 'docs/images');

const exe = chromiumPath();
if (exe === null) {
  console.error('console-screenshots: chromium not found (command -v chromium)');
  process.exit(1);
}
ensureConsoleBuilt();
mkdirSync(OUT, { recursive: true });

// The harness tears down through a tap Test; here, at the end of the script.
const teardowns: (() => unknown)[] = [];
const owner = { teardown: (fn: () => unknown) => teardowns.push(fn) } as unknown as Test;
const token = 'screenshot-token';
const h = await startHarness(owner, {
  admin: true, adminTokens: { 'ops-desk': `sha256:${createHash('sha256').update(token).digest('hex')}` },
  issuer: { seed: 7, approveRate: 0.93, latencyMs: { min: 2, max: 12 }, reversalDropRate: 0.4 },
  reversal: { maxAttempts: 2, responseTimeoutMs: 200, backoffMs: [100] },
});
const base = `http://127.0.0.1:${h.admin?.port ?? 0}`;
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${base}/#/overview`);
  const clients = await Promise.all([h.client(), h.client(), h.client()]);
  const start = Date.now();
  const traffic = mixedTraffic(clients, () => Date.now() - start > TRAFFIC_MS, ['TERM0001', 'TERM0002', 'TERM0417']);
  const side = await h.client();
  await reviewable(h, side, '4200');
  await reviewable(h, side, '2500');
  // The overview while the traffic runs (a refresh after the review items, and the review gauge's 10 s cache, are in).
  const shotAt = start + TRAFFIC_MS - 4000;
  await until(async () => Number(await page.getAttribute('[data-testid="overview-at"]', 'data-value')) > shotAt, 'an overview refresh late in the traffic', TRAFFIC_MS + 10_000, 250);
  await page.screenshot({ path: join(OUT, 'console-overview.png'), fullPage: true });
  const sold = await traffic;
  await until(() => h.sw.reversals.outstanding === 0, 'the reversals settled (acked or manual)', 30_000, 100);

  await page.goto(`${base}/#/exceptions`);
  await page.selectOption('select[name="window"]', '1h');
  await page.click('[data-testid="report-form"] button[type="submit"]');
  await page.waitForSelector('[data-testid="report"]', { timeout: 30_000 });
  await page.screenshot({ path: join(OUT, 'console-exceptions.png'), fullPage: true });

  const lost = (await h.store.findTxns({ terminal: 'TERM0001' })).find((x) => x.reversalId !== null && x.amount?.endsWith('99'));
  await page.goto(`${base}/#/txn`);
  if (lost?.rrn) {
    await page.fill('input[name="rrn"]', lost.rrn);
    await page.click('[data-testid="txn-search"] button[type="submit"]');
    await page.waitForSelector('[data-testid="evidence"], [data-testid="txn-error"]', { timeout: 10_000 });
  }
  await page.screenshot({ path: join(OUT, 'console-transaction.png'), fullPage: true });

  await page.goto(`${base}/#/manual`);
  await page.waitForSelector('[data-testid="manual-empty"], [data-testid="manual-table"]', { timeout: 10_000 });
  await page.screenshot({ path: join(OUT, 'console-manual.png'), fullPage: true });

  await page.goto(`${base}/#/review`);
  await page.waitForSelector('[data-testid="review-item"]', { timeout: 10_000 });
  await page.screenshot({ path: join(OUT, 'console-review.png'), fullPage: true });
  console.log(`console-screenshots: ${sold} sales; wrote docs/images/console-{overview,exceptions,transaction,manual,review}.png`);
} finally {
  await browser.close();
  for (const fn of teardowns.reverse()) await fn();
}
