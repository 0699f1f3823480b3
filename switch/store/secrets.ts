/**
 * The keys behind every PAN at rest: the HMAC that lets per-card rules count a card
 * without storing it, and the AES-256-GCM keys that seal the PAN inside a kept message so
 * a reversal can be rebuilt after a crash (PCI DSS 3.5.1: a stored PAN is unreadable).
 *
 * The root secret (32 random bytes) comes from config (panHashKey), then REVSWITCH_PAN_KEY,
 * then a key file next to the database, created on first start readable by its owner
 * only (switch/cli/card-keys.ts). The HMAC key and the first sealing key, k0, are derived from it (HKDF), so one
 * secret never serves two purposes. The hash key never rotates (a card must hash the same
 * across years for its rules and lookups); the sealing key does: later keys (k1, k2...)
 * come from the key file's further lines or config panSealKeys, the last one seals, every
 * one still opens (./resealer.ts moves old rows to the newest).
 *
 * Random 96-bit GCM nonces under one key are safe to about 2^32 messages (NIST SP 800-38D
 * 8.3), 6 days at 8k TPS. So no key seals for more than an hour: each value is sealed
 * with a subkey of its key for the UTC hour, derived by HKDF and named in the value.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

/** AES-GCM's standard nonce and full tag: the only sizes open() accepts. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const HOUR_MS = 3_600_000;
/** Derived hourly subkeys kept for opening: a day of them, per key, comfortably. */
const SUBKEY_CACHE = 256;
/**
 * IVs are taken from a pool filled by the CSPRNG 1,024 at a time, each used once: one
 * randomBytes(12) call cost 4.4 µs, a third of a seal (the pool: 0.07 µs an IV).
 */
const IV_POOL_IVS = 1024;
/** A key id: short, and safe inside a sealed value and a SQL LIKE prefix. */
const KEY_ID = /^k[0-9]{1,6}$/;

/** One sealing key by id: k0 is derived from the root secret, later ones are random 32 bytes. */
export interface SealKey {
  id: string;
  key: Buffer;
}

export class CardKeys {
  private readonly hmacKey: Buffer;
  /** Signs what maintenance removed (./maintenance.ts): derived apart, never a PAN key. */
  private readonly maintenanceKey: Buffer;
  /** Key id -> the key its hourly subkeys come from. */
  private readonly masters = new Map<string, Buffer>();
  /** The v1 format's key: k0's master, used directly, without AAD. */
  private readonly legacyKey: Buffer;
  readonly currentKeyId: string;
  private readonly subkeys = new Map<string, Buffer>();
  // The hot path seals under one subkey for an hour: skip the map for it.
  private lastEpoch = -1;
  private lastSubkey: Buffer = Buffer.alloc(0);
  private readonly ivPool = Buffer.alloc(IV_BYTES * IV_POOL_IVS);
  private ivOffset = this.ivPool.length;

  constructor(root: Buffer, sealKeys: readonly SealKey[] = []) {
    if (root.length !== KEY_BYTES) throw new Error(`the PAN key must be ${KEY_BYTES} bytes, got ${root.length}`);
    this.hmacKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'revswitch pan hmac v1', KEY_BYTES));
    this.legacyKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'revswitch pan seal v1', KEY_BYTES));
    this.maintenanceKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'revswitch maintenance summary v1', KEY_BYTES));
    this.masters.set('k0', this.legacyKey);
    for (const k of sealKeys) {
      if (!KEY_ID.test(k.id) || k.id === 'k0') throw new Error(`sealing key id ${JSON.stringify(k.id)}: expected k1, k2, ... (k0 is the root's)`);
      if (k.key.length !== KEY_BYTES) throw new Error(`sealing key ${k.id}: expected ${KEY_BYTES} bytes, got ${k.key.length}`);
      if (this.masters.has(k.id)) throw new Error(`sealing key ${k.id}: given twice`);
      this.masters.set(k.id, Buffer.from(hkdfSync('sha256', k.key, Buffer.alloc(0), 'revswitch pan seal v2', KEY_BYTES)));
    }
    this.currentKeyId = sealKeys.length === 0 ? 'k0' : sealKeys[sealKeys.length - 1].id;
  }

  /** The key ids that open values, oldest first. */
  keyIds(): string[] {
    return [...this.masters.keys()];
  }

  /** HMAC-SHA256 (hex) of a maintenance summary, and the signing key's check value. */
  signSummary(text: string): { signature: string; keyCheck: string } {
    return { signature: createHmac('sha256', this.maintenanceKey).update(text).digest('hex'), keyCheck: checkValue(this.maintenanceKey) };
  }

  /** A keyed hash of the PAN: equal for equal PANs, useless without the key. */
  panHash(pan: string): string {
    return createHmac('sha256', this.hmacKey).update(pan).digest('base64url');
  }

  private subkey(id: string, epoch: number): Buffer {
    const name = `${id}.${epoch}`;
    let k = this.subkeys.get(name);
    if (k === undefined) {
      const master = this.masters.get(id);
      if (master === undefined) throw new Error(`sealed value: key ${id} is not configured (was it removed before its rows were re-sealed?)`);
      k = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `revswitch pan seal hour ${epoch}`, KEY_BYTES));
      if (this.subkeys.size >= SUBKEY_CACHE) this.subkeys.clear();
      this.subkeys.set(name, k);
    }
    return k;
  }

  /**
   * AES-256-GCM under the current key's subkey for this hour, bound to `aad` (the row and
   * field it belongs to): `2.KEYID.HOUR.iv.tag.ciphertext`, base64url parts.
   */
  seal(plain: string, aad: string, now = Date.now()): string {
    const epoch = Math.floor(now / HOUR_MS);
    if (epoch !== this.lastEpoch) {
      this.lastSubkey = this.subkey(this.currentKeyId, epoch);
      this.lastEpoch = epoch;
    }
    const iv = this.nextIv();
    const c = createCipheriv('aes-256-gcm', this.lastSubkey, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const body = c.update(plain, 'utf8');
    c.final(); // GCM is a stream mode: final() only computes the tag, it returns no bytes
    return `2.${this.currentKeyId}.${epoch.toString(36)}.${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  /** A fresh random IV, never handed out twice (a view into the pool, read before the pool refills). */
  private nextIv(): Buffer {
    if (this.ivOffset === this.ivPool.length) {
      randomFillSync(this.ivPool);
      this.ivOffset = 0;
    }
    const iv = this.ivPool.subarray(this.ivOffset, this.ivOffset + IV_BYTES);
    this.ivOffset += IV_BYTES;
    return iv;
  }

  /** The key id a value was sealed with ('k0' for the first format). */
  static keyIdOf(sealed: string): string {
    return sealed.startsWith('2.') ? sealed.slice(2, sealed.indexOf('.', 2)) : 'k0';
  }

  /** Opens what seal() wrote (with the same `aad`), or the first format (iv.tag.ciphertext, no AAD). */
  open(sealed: string, aad: string): string {
    const parts = sealed.split('.');
    if (parts.length === 3) return this.decrypt(this.legacyKey, parts[0], parts[1], parts[2], null);
    if (parts.length !== 6 || parts[0] !== '2') throw new Error('sealed value: expected 2.key.hour.iv.tag.ciphertext');
    const epoch = parseInt(parts[2], 36);
    if (!KEY_ID.test(parts[1]) || !Number.isSafeInteger(epoch) || epoch < 0) throw new Error('sealed value: malformed key id or hour');
    return this.decrypt(this.subkey(parts[1], epoch), parts[3], parts[4], parts[5], aad);
  }

  private decrypt(key: Buffer, iv: string, tag: string, body: string, aad: string | null): string {
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    // GCM accepts tags down to 4 bytes and IVs of any length: a forged value with a cut tag
    // would be far easier to make verify. Only what seal() writes opens.
    if (ivBytes.length !== IV_BYTES) throw new Error(`sealed value: expected a ${IV_BYTES}-byte IV, got ${ivBytes.length}`);
    if (tagBytes.length !== TAG_BYTES) throw new Error(`sealed value: expected a ${TAG_BYTES}-byte tag, got ${tagBytes.length}`);
    const d = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
    if (aad !== null) d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tagBytes);
    try {
      return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
    } catch {
      // Never the value: only that it does not verify here.
      throw new Error('sealed value: does not verify (another key, or a value moved from another row)');
    }
  }
}

/** A key check value: the first 3 bytes of AES-256-ECB of a zero block, as payment HSMs name keys. */
export function checkValue(key: Buffer): string {
  const c = createCipheriv('aes-256-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).toString('hex').toUpperCase();
}

/**
 * The key file: the root secret (64 hex digits) on its first line, then one later sealing
 * key a line, "k1 <64 hex>", the last one current. Its mode must be 0600.
 */
export function readKeyFile(file: string): { root: Buffer; sealKeys: SealKey[] } {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new Error(`${file}: the PAN key file is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0 || !/^[0-9a-f]{64}$/.test(lines[0])) throw new Error(`${file}: line 1: expected 64 hex digits (a 32-byte key)`);
  const sealKeys = lines.slice(1).map((l, i) => {
    const m = /^(k[0-9]{1,6}) ([0-9a-f]{64})$/.exec(l);
    if (!m) throw new Error(`${file}: line ${i + 2}: expected "kN" and 64 hex digits (a sealing key)`);
    return { id: m[1], key: Buffer.from(m[2], 'hex') };
  });
  return { root: Buffer.from(lines[0], 'hex'), sealKeys };
}

/** Adds a new random sealing key to the key file (written aside, then renamed: never half a file). */
export function addSealKey(file: string): { id: string; checkValue: string } {
  const { sealKeys } = readKeyFile(file);
  const last = sealKeys.length === 0 ? 0 : Number(sealKeys[sealKeys.length - 1].id.slice(1));
  const id = `k${last + 1}`;
  const key = randomBytes(KEY_BYTES);
  const text = readFileSync(file, 'utf8').replace(/\n*$/, '\n') + `${id} ${key.toString('hex')}\n`;
  const tmp = `${file}.new`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { id, checkValue: checkValue(key) };
}
