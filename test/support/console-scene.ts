/**
 * Scenes for the console's browser test and screenshots (scripts/console-screenshots.ts):
 * a review item made through the switch, and a stream of mixed sales.
 */
import { formatF95, getDialect, reversalOf, transmissionTime, type IsoMessage } from '../../codec/index.js';
import type { SimClient } from '../../switch/sim/client.js';
import { nextStan, sale, type Harness } from './switch-harness.js';
import { until } from './until.js';

const D87 = getDialect('iso87a');

/** An approved sale (amount below 99.99) the terminal then reverses in part with F95 (99.99) above the original: rules/ sends it to review. */
export async function reviewable(h: Harness, c: SimClient, amount = '3000'): Promise<{ s: IsoMessage; itemId: string }> {
  const before = new Set((await h.store.reviews(['open'])).map((i) => i.id));
  const s = sale({ amount });
  const res = await c.request(s, 10_000);
  if (res.get(39) !== '00') throw new Error('not approved');
  const rev = reversalOf(D87, s, { reason: '32', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()), approvalCode: res.get(38) });
  rev.set(95, formatF95({ transaction: '000000009999' }));
  if ((await c.request(rev, 10_000)).get(39) !== '00') throw new Error('the terminal reversal was not answered 00');
  let itemId = '';
  await until(async () => {
    itemId = (await h.store.reviews(['open'])).find((i) => !before.has(i.id) && i.why.includes('F95'))?.id ?? '';
    return itemId !== '';
  }, 'the review item', 10_000);
  return { s, itemId };
}

/**
 * Sales on `clients` until `stop()` says so: mostly approved amounts, some declined
 * (..51) and now and then one the issuer never answers (..99, so a timeout and a reversal).
 */
export async function mixedTraffic(clients: readonly SimClient[], stop: () => boolean, terminals: readonly string[]): Promise<number> {
  let n = 0;
  await Promise.all(clients.map(async (c, i) => {
    while (!stop()) {
      n++;
      const ending = n % 23 === 0 ? '99' : n % 7 === 0 ? '51' : '00';
      const amount = `${1 + ((n * 37) % 90)}${ending}`;
      await c.request(sale({ amount, terminal: terminals[i % terminals.length] }), 10_000).catch(() => undefined);
    }
  }));
  return n;
}
