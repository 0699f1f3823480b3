/**
 * Where the PAN keys come from at start: config panHashKey, then REVSWITCH_PAN_KEY, then
 * the key file next to a SQLite database (created, mode 0600, on first start); later
 * sealing keys from the key file's further lines and config panSealKeys.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseSqliteUrl } from '../store/sqlite.js';
import { parseKeyText } from '../config/key-text.js';
import { CardKeys, KEY_BYTES, readKeyFile, type SealKey } from '../store/secrets.js';

export interface KeySource {
  /** From config (panHashKey). */
  configured: string | null;
  /** From config (panSealKeys): later sealing keys by id, the last one current. */
  sealKeys?: Readonly<Record<string, string>>;
  /** Where a generated key is kept when neither config nor the environment gives one; null: keep none (memory store). */
  keyFile: string | null;
  env?: NodeJS.ProcessEnv;
}

/** The sealing keys of config panSealKeys, in order. */
function configuredSealKeys(keys: Readonly<Record<string, string>> | undefined): SealKey[] {
  return Object.entries(keys ?? {}).map(([id, text]) => ({ id, key: parseKeyText(text, `panSealKeys.${id}`) }));
}

/** The keys, from config, the environment, or the key file (created, mode 0600, on first start). */
export function loadCardKeys(src: KeySource): { keys: CardKeys; origin: string } {
  const env = src.env ?? process.env;
  const extra = configuredSealKeys(src.sealKeys);
  if (src.configured) return { keys: new CardKeys(parseKeyText(src.configured, 'panHashKey'), extra), origin: 'config panHashKey' };
  const fromEnv = env.REVSWITCH_PAN_KEY;
  if (fromEnv) return { keys: new CardKeys(parseKeyText(fromEnv, 'REVSWITCH_PAN_KEY'), extra), origin: 'REVSWITCH_PAN_KEY' };
  if (src.keyFile === null) return { keys: new CardKeys(randomBytes(KEY_BYTES), extra), origin: 'generated for this process only (memory store)' };
  const file = src.keyFile;
  if (existsSync(file)) {
    const { root, sealKeys } = readKeyFile(file);
    return { keys: new CardKeys(root, [...sealKeys, ...extra]), origin: file };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(KEY_BYTES);
  writeFileSync(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { keys: new CardKeys(secret, extra), origin: `${file} (generated)` };
}

/** Where a SQLite store's generated PAN key lives: `revswitch.key` beside the database; null for other stores. */
export function keyFileOf(storeUrl: string): string | null {
  return storeUrl.startsWith('sqlite:') ? join(dirname(parseSqliteUrl(storeUrl).path), 'revswitch.key') : null;
}
