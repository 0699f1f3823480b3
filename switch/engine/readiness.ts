/**
 * The switch's readiness for /readyz (observe/admin.ts serves it): an upstream to send to
 * and a store that takes writes.
 */
import type { Readiness } from '../observe/admin.js';
import type { Switch } from './switch.js';

/** How long /readyz waits for the store to commit what is queued. */
const STORE_PROBE_MS = 1000;

/**
 * Ready when at least one upstream link is signed on and the store is writable: its last
 * batch committed (or none failed) and what is queued now commits within a second.
 */
export async function switchReadiness(sw: Pick<Switch, 'links' | 'journal' | 'metrics'>): Promise<Readiness> {
  const reasons: string[] = [];
  const links = [...sw.links.values()];
  const up = links.filter((l) => l.isUp).map((l) => l.name);
  if (up.length === 0) {
    reasons.push(links.length === 0 ? 'no upstream link is configured' : `no upstream link is signed on (${links.map((l) => `${l.name}: ${l.state}`).join(', ')})`);
  }
  const store = sw.journal.store;
  const status = sw.metrics.store();
  if (!status.ok) {
    reasons.push(`store not writable: the last batch did not commit: ${status.lastError ?? 'unknown error'}`);
  } else {
    let timer: NodeJS.Timeout | undefined;
    const probe = await Promise.race([
      store.flush().then(() => 'ok', (e: unknown) => `store not writable: ${e instanceof Error ? e.message : String(e)}`),
      new Promise<string>((r) => { timer = setTimeout(() => r(`store not writable: queued writes did not commit within ${STORE_PROBE_MS} ms`), STORE_PROBE_MS); }),
    ]);
    clearTimeout(timer);
    if (probe !== 'ok') reasons.push(probe);
  }
  if (reasons.length > 0) return { ready: false, reasons };
  return { ready: true, reasons: [`upstream signed on: ${up.join(', ')}`, `store writable: ${store.url}`] };
}
