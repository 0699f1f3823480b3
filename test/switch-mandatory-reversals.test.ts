/**
 * The promise, end to end with the default rules file: one card, one terminal and one
 * merchant, many failures of every mandatory kind (timeout with and without a hold, a late
 * approval, an unknown outcome, an undeliverable approval, a chip decline and a
 * customer's cancel sent by the terminal). Every one of them reaches the issuer as a
 * reversal: velocity and limits guard refunds, and may only raise an alert on a
 * reversal, which pays nobody and releases a hold.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { getDialect, maskPan, reversalOf, transmissionTime, type IsoMessage } from '../codec/index.js';
import { eventSchema, splitDelimited } from '../switch/observe/events/schema.js';
import { formatText } from '../switch/reports/format-report.js';
import { gatherReport } from '../switch/reports/report.js';
import { PAN, nextStan, sale, startHarness, type Harness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
/** Of each kind, on the one card: well past every velocity threshold of rules/default.yaml (3 per card). */
const EACH = 4;

async function hangUpBeforeTheAnswer(h: Harness, s: IsoMessage): Promise<void> {
  const c = await h.client();
  const seen = h.issuer.waitFor((e) => e.msg.mti === '0200' && e.msg.get(37) === s.get(37));
  c.send(s);
  await seen;
  await c.close();
}

// Also with admission control holding terminal reads at almost every request (a journal
// backlog cap of 1): holding reads may delay a terminal's own 0400, never lose one.
for (const maxStoreBacklog of [4096, 1]) t.test(`one card, one terminal, one merchant, many failures: every mandatory reversal reaches the issuer (maxStoreBacklog ${maxStoreBacklog})`, async (tt) => {
  // The issuer answers after 150 ms (so a terminal can hang up first), a late approval
  // after 1.5 s; the switch's deadline is 800 ms.
  // On the real store (SQLite in a temporary directory), with events to a file and /metrics.
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-mandatory-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const started = Date.now();
  const h = await startHarness(tt, {
    issuer: { latencyMs: 150, lateMs: 1500 }, upstreamTimeoutMs: 800, reversal: { responseTimeoutMs: 3000 },
    store: `sqlite:${join(dir, 'journal.db')}`, admin: true, events: { file: { dir: join(dir, 'events'), fsync: false } }, maxStoreBacklog,
  });
  const c = await h.client();
  const mustReverse: string[] = [];
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < EACH; i++) {
    for (const ending of ['99', '91', '68', '96']) {
      // ..99 approved and held, never answered; ..91 never answered; ..68 approved late; ..96 unknown outcome.
      const s = sale({ amount: `${20 + i}${ending}` });
      mustReverse.push(s.get(37) as string);
      work.push(c.request(s, 10_000));
    }
    const lost = sale({ amount: `${30 + i}00` });
    mustReverse.push(lost.get(37) as string);
    work.push(hangUpBeforeTheAnswer(h, lost));
    for (const reason of ['06', '17']) {
      // Approved, then the terminal's own reversal: a chip decline (06), a customer's cancel (17).
      const s = sale({ amount: `${40 + i}00` });
      mustReverse.push(s.get(37) as string);
      work.push(c.request(s, 10_000).then((res) => {
        tt.equal(res.get(39), '00', 'approved before the terminal reverses it');
        return c.request(reversalOf(D87, s, { reason, stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) }), 10_000);
      }));
    }
  }
  await Promise.all(work);
  const reversed = (): Set<string> => new Set(h.reversalsSeen().map((e) => e.msg.get(37) as string));
  await h.until(() => mustReverse.every((rrn) => reversed().has(rrn)), `reversals of all ${mustReverse.length} failures at the issuer`, 20_000)
    .catch(() => undefined);
  const missing = mustReverse.filter((rrn) => !reversed().has(rrn));
  tt.same(missing, [], `every one of the ${mustReverse.length} mandatory reversals reached the issuer`);
  tt.equal(h.sw.counters.get('manual_reviews'), 0, 'none was held back for review');
  tt.ok(h.sw.counters.get('velocity_alerts') > 0, `the card's velocity was passed, and that raised alerts (${h.sw.counters.get('velocity_alerts')})`);
  await h.until(() => h.sw.reversals.outstanding === 0, 'every reversal acknowledged', 20_000);
  const held = h.issuer.ledger().holds.filter((x) => mustReverse.includes(x.rrn));
  tt.same(held.map((x) => x.rrn), [], 'no hold left for any of them at the issuer');

  // The alerts, where an operator looks: the metric by scope, an event each, the report.
  const alerts = h.sw.counters.get('velocity_alerts');
  const metrics = await (await fetch(`http://127.0.0.1:${h.admin?.port ?? 0}/metrics`)).text();
  const scrape = (scope: string): number => Number(new RegExp(`^revswitch_velocity_alerts_total\\{scope="${scope}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  tt.equal(scrape('card'), alerts, 'revswitch_velocity_alerts_total{scope="card"}: every alert passed the card threshold');
  tt.equal(scrape('terminal'), h.sw.counters.get('velocity_alerts_terminal'), '... and the terminal figure is scraped as counted');
  await h.bus?.flush();
  const eventsDir = join(dir, 'events');
  const records = readdirSync(eventsDir).flatMap((f) => splitDelimited(readFileSync(join(eventsDir, f))).records);
  const alertEvents = records.map((r) => eventSchema().decode(r)).filter((e) => e.kind === 'VELOCITY_ALERT');
  tt.equal(alertEvents.length, alerts, 'a VELOCITY_ALERT lifecycle event for each');
  tt.ok(alertEvents.every((e) => e.decisionAction === 'reverse' && (e.note ?? '').startsWith('velocity alert (')), '... each on a reversal that went out, naming its scopes');
  await h.store.flush();
  const report = await gatherReport(h.store, { since: started - 1000, until: Date.now() + 1000, now: Date.now() });
  const card = report.velocityAlerts.find((a) => a.scope === 'card');
  tt.equal(card?.key, maskPan(PAN), 'the report names the card, masked');
  tt.equal(card?.alerts, alerts, '... with the count of alerts');
  tt.notOk(JSON.stringify(report).includes(PAN), 'and never the full PAN');
  tt.match(formatText(report), new RegExp(`Velocity alerts .*\\n.*\\n {2}card +${maskPan(PAN).replace(/\*/g, '\\*')} +${alerts} `), 'the text report has the section, the card in it');
  if (maxStoreBacklog === 1) tt.ok(h.sw.counters.get('admission_holds') >= 1, 'admission control did hold terminal reads in this run');
});
