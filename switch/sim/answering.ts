/**
 * Waits until a switch answers on its terminal port: an 0800 echo (F70 301) answered 00.
 * What a test or the soak does after starting a switch as a child process, and after
 * each restart. `gone()` says why to stop waiting (the process exited), or null.
 */
import { IsoMessage, transmissionTime } from '../../codec/index.js';
import { connectClient } from './client.js';

export interface AnsweringOptions {
  host?: string;
  port: number;
  /** Give up after this long (ms). */
  capMs: number;
  /** Why the switch can no longer answer (it exited), or null while it may. */
  gone?: () => string | null;
  /** Names the switch in errors. */
  what?: string;
}

/** Resolves with the wait in ms once an echo is answered 00; throws when gone or after capMs. */
export async function untilAnswering(o: AnsweringOptions): Promise<number> {
  const start = Date.now();
  const what = o.what ?? `the switch on port ${o.port}`;
  let stan = 0;
  for (;;) {
    const why = o.gone?.() ?? null;
    if (why !== null) throw new Error(`${what} exited before it answered: ${why}`);
    try {
      const c = await connectClient({ host: o.host, port: o.port });
      try {
        const echo = new IsoMessage('0800').set(7, transmissionTime(Date.now())).set(11, String(++stan).padStart(6, '0')).set(70, '301');
        if ((await c.request(echo, 1000)).get(39) === '00') return Date.now() - start;
      } finally {
        await c.close();
      }
    } catch {
      // Not listening yet, or not answering yet.
    }
    if (Date.now() - start > o.capMs) throw new Error(`${what} not answering after ${o.capMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
