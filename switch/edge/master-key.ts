/**
 * The master key of the key store (edge/key-store.ts): 32 bytes that encrypt every key
 * value in that file, from REVSWITCH_MASTER_KEY or a file of its own. It stands where an
 * HSM's local master key would: whoever has it and the key store has every terminal and
 * zone key, so its file is the owner's alone. Errors name the file, never the key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseKeyText } from '../config/key-text.js';

const MASTER_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The master key: REVSWITCH_MASTER_KEY, else the text of `file` (mode 0600). */
export function masterKeyFrom(opts: { env: NodeJS.ProcessEnv; file: string | null }): Buffer {
  const fromEnv = opts.env.REVSWITCH_MASTER_KEY;
  if (fromEnv) return parseKeyText(fromEnv, 'REVSWITCH_MASTER_KEY');
  const file = opts.file;
  if (file === null) {
    throw new Error('the key store needs a master key: set REVSWITCH_MASTER_KEY or security.masterKeyFile ' +
      '(`revswitch keys init` creates a master key file)');
  }
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT'
      ? `${file}: no such master key file (\`revswitch keys init\` creates one)`
      : `${file}: cannot read the master key file (${code ?? 'error'})`);
  }
  // Readable by others gives the key away; writable by others lets one swap it for theirs.
  if ((mode & 0o077) !== 0) {
    throw new Error(`${file}: the master key file is open to group or others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`);
  }
  return parseKeyText(readFileSync(file, 'utf8'), `master key file ${file}`);
}

/**
 * A new master key file: 32 random bytes as hex, mode 0600, never over an existing file
 * (that would orphan the key store sealed under it), synced before it is relied upon.
 */
export function createMasterKeyFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(MASTER_KEY_BYTES).toString('hex') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A value encrypted under the master key (AES-256-GCM, a random IV), bound to `aad`:
 * base64 of iv || tag || ciphertext.
 */
export function sealUnderMaster(master: Buffer, aad: string, clear: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', master, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(clear), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

/** The value sealed, or null when it does not open (another master key, another `aad`, a changed byte). */
export function openUnderMaster(master: Buffer, aad: string, sealed: string): Buffer | null {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length <= IV_BYTES + TAG_BYTES) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', master, raw.subarray(0, IV_BYTES));
    d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    d.setAAD(Buffer.from(aad, 'utf8'));
    return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
  } catch {
    return null;
  }
}
