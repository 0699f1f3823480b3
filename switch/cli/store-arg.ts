/**
 * The store a command reads: `--store URL`, or the `store` of `--config FILE`, or the
 * default; never both flags. Shared by manual, report, txn, migrate and nodes; migrate
 * and nodes open the store themselves (commandStore), so a bad URL (exit 2) and an
 * unreachable store (exit 1) stay apart.
 */
import { defaultConfig, loadConfigFile, type SwitchConfig } from '../config/index.js';
import { connectStore, openStore, type Store } from '../store/index.js';
import { UsageError } from './args.js';
import { flag, type Parsed } from './kit.js';

/** The config the flags name (the default when --config is absent) and the store URL to use. */
export function storeOf(p: Parsed): { url: string; config: SwitchConfig } {
  const url = flag(p, 'store');
  const file = flag(p, 'config');
  if (url && file) throw new UsageError('give --store or --config, not both');
  const config = file ? loadConfigFile(file) : defaultConfig();
  return { url: url ?? config.store, config };
}

/** Opens the store on this thread (a command, not the switch), runs f, closes it. */
export async function withStore<T>(p: Parsed, f: (s: Store) => Promise<T>): Promise<T> {
  let store: Store;
  try {
    store = await connectStore(storeOf(p).url, { inline: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

/** The store at `url` for a command, on this thread, not open yet: a URL it cannot take is a usage error. */
export function commandStore(url: string): Store {
  try {
    return openStore(url, { inline: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An error's message naming the store (`shown`: its URL without the password) once. */
export function namingStore(shown: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.includes(shown) ? msg : `${shown}: ${msg}`;
}
