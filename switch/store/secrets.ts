/**
 * The key behind every PAN at rest: the HMAC that lets per-card rules count a card
 * without storing it, and the AES-GCM key that seals the PAN inside a kept message so a
 * reversal can be rebuilt after a crash (PCI DSS 3.5.1: a stored PAN is unreadable).
 *
 * The secret comes from config, then REVSWITCH_PAN_KEY, then a key file next to the
 * database, created on first start readable by its owner only. Both keys are derived
 * from it (HKDF), so one secret never serves two purposes.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** AES-GCM's standard nonce and full tag: the only sizes open() accepts. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CardKeys {
  private readonly hmacKey: Buffer;
  private readonly sealKey: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 16) throw new Error('the PAN key must be at least 16 bytes');
    this.hmacKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'revswitch pan hmac v1', 32));
    this.sealKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'revswitch pan seal v1', 32));
  }

  /** A keyed hash of the PAN: equal for equal PANs, useless without the key. */
  panHash(pan: string): string {
    return createHmac('sha256', this.hmacKey).update(pan).digest('base64url');
  }

  /** AES-256-GCM: iv.tag.ciphertext, base64url. */
  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string): string {
    const [iv, tag, body] = sealed.split('.');
    if (iv === undefined || tag === undefined || body === undefined) throw new Error('sealed value: expected iv.tag.ciphertext');
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    // GCM accepts tags down to 4 bytes and IVs of any length: a forged value with a cut tag
    // would be far easier to make verify. Only what seal() writes opens.
    if (ivBytes.length !== IV_BYTES) throw new Error(`sealed value: expected a ${IV_BYTES}-byte IV, got ${ivBytes.length}`);
    if (tagBytes.length !== TAG_BYTES) throw new Error(`sealed value: expected a ${TAG_BYTES}-byte tag, got ${tagBytes.length}`);
    const d = createDecipheriv('aes-256-gcm', this.sealKey, ivBytes, { authTagLength: TAG_BYTES });
    d.setAuthTag(tagBytes);
    return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
  }
}

export interface KeySource {
  /** From config (panHashKey). */
  configured: string | null;
  /** Where a generated key is kept when neither config nor the environment gives one; null: keep none (memory store). */
  keyFile: string | null;
  env?: NodeJS.ProcessEnv;
}

/** The secret, from config, the environment, or the key file (created, mode 0600, on first start). */
export function loadCardKeys(src: KeySource): { keys: CardKeys; origin: string } {
  const env = src.env ?? process.env;
  if (src.configured) return { keys: new CardKeys(Buffer.from(src.configured, 'utf8')), origin: 'config panHashKey' };
  const fromEnv = env.REVSWITCH_PAN_KEY;
  if (fromEnv) return { keys: new CardKeys(Buffer.from(fromEnv, 'utf8')), origin: 'REVSWITCH_PAN_KEY' };
  if (src.keyFile === null) return { keys: new CardKeys(randomBytes(32)), origin: 'generated for this process only (memory store)' };
  const file = src.keyFile;
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new Error(`${file}: the PAN key file is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file}: expected 64 hex digits (a 32-byte key)`);
    return { keys: new CardKeys(Buffer.from(text, 'hex')), origin: file };
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { keys: new CardKeys(secret), origin: `${file} (generated)` };
}
