/**
 * A key as text in config or the environment: 32 random bytes as hex or base64, or a
 * passphrase stretched with scrypt. HKDF (which derives the PAN keys) does not stretch,
 * so a short secret is refused rather than used. Errors name the key, never its value.
 */
import { scryptSync } from 'node:crypto';

const KEY_BYTES = 32;
/**
 * A passphrase instead of random bytes (`scrypt:...`): stretched with scrypt at this cost
 * (N 2^15, r 8, p 1: about 100 ms and 32 MiB once at start). The salt is fixed so every
 * node derives the same key; a random 32-byte key is the better choice.
 */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const SCRYPT_SALT = 'revswitch panHashKey scrypt v1';

/**
 * A configured secret as key bytes: 64 hex digits or base64 of 32 bytes, or `scrypt:` and
 * a passphrase. Errors name `what` and the rule, never the value.
 */
export function parseKeyText(text: string, what: string): Buffer {
  const t = text.trim();
  if (t.startsWith('scrypt:')) {
    const pass = t.slice('scrypt:'.length);
    if (pass.length < 16) throw new Error(`${what}: a scrypt passphrase must be at least 16 characters`);
    return scryptSync(pass, SCRYPT_SALT, KEY_BYTES, SCRYPT);
  }
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length === KEY_BYTES) return b;
  }
  throw new Error(`${what}: expected ${KEY_BYTES} random bytes as 64 hex digits or base64 (openssl rand -hex 32), ` +
    'or "scrypt:" and a passphrase of 16 characters or more; HKDF does not stretch a short secret');
}
