/**
 * Longer than 400 lines: the file format's validation, the encryption and the replacement
 * rules of working keys belong together, and each is a short function.
 *
 * The key store: the terminal, merchant and zone keys of the security module, kept in one
 * JSON file so they survive a restart. Each value is encrypted under the master key
 * (edge/master-key.ts), bound to its id, type, check value and owner: an entry moved or
 * relabelled no longer decrypts. Clear values live only inside the module.
 *
 * Working keys are replaced, not edited: the new one becomes active, the one it replaces
 * stays as `previous` (so messages MACed a moment before the change still verify) until
 * `prune` drops it, and at most one previous is kept per owner and type.
 *
 * Errors name the file, the key's id and check value and the reason, never a value.
 */
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { jsonErrorPlace } from '../config/json-error.js';
import { keyCheckValue } from './mac.js';
import { openUnderMaster, sealUnderMaster } from './master-key.js';
import { SecurityError, withOddParity, type KeyType, type SoftwareSecurityModule } from './security-module.js';

export interface KeyOwner { terminal?: string; merchant?: string; upstream?: string }

export interface KeyEntryInfo {
  id: string;
  type: KeyType;
  /** Key check value: 6 hex characters, upper case. */
  kcv: string;
  /** Bytes: 8, 16 or 24. */
  length: number;
  owner: KeyOwner;
  state: 'active' | 'previous';
  /** ISO 8601 (UTC). */
  created: string;
  /** When it stopped being active; null while it is. */
  retired: string | null;
}

export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
  /** The file changed under this store (another writer): reload, then try again. */
  constructor(message: string, readonly conflict = false) {
    super(message);
  }
}

// A Record so that a key type added to KeyType without being listed here fails to compile.
const TYPES: Record<KeyType, true> = { TMK: true, PIK: true, TPK: true, MAK: true, TAK: true, ZPK: true, ZAK: true, ZMK: true };
export const KEY_TYPES = Object.keys(TYPES) as readonly KeyType[];

const FORMAT = 'revswitch-keys/1';
const OWNER_KINDS = ['terminal', 'merchant', 'upstream'] as const;
type OwnerKind = (typeof OWNER_KINDS)[number];
/** Printable ASCII, no space at either end: ids and owners end up in logs and in other ids. */
const NAME = /^[!-~](?:[ -~]{0,62}[!-~])?$/;
const isTime = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(v) && !Number.isNaN(Date.parse(v));
const ENTRY_FIELDS = ['id', 'type', 'kcv', 'length', 'owner', 'state', 'created', 'retired', 'value'];

/** An entry with its value as in the file: base64 of iv || tag || ciphertext. */
interface Entry { info: KeyEntryInfo; sealed: string }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The owner's one kind and value, or why it is not an owner. */
function ownerParts(o: unknown): { kind: OwnerKind; value: string } | string {
  if (!isRecord(o)) return 'expected an object with one of terminal, merchant or upstream';
  const extra = Object.keys(o).filter((k) => !(OWNER_KINDS as readonly string[]).includes(k));
  if (extra.length > 0) return `unknown field ${JSON.stringify(extra[0])} (expected one of terminal, merchant or upstream)`;
  const set = OWNER_KINDS.filter((k) => o[k] !== undefined);
  if (set.length !== 1) return `expected exactly one of terminal, merchant or upstream, got ${set.length}`;
  const value = o[set[0]];
  if (typeof value !== 'string' || !NAME.test(value)) return `${set[0]}: expected 1 to 64 printable characters`;
  return { kind: set[0], value };
}

function ownerText(o: KeyOwner): string {
  const p = ownerParts(o);
  return typeof p === 'string' ? '?' : `${p.kind}:${p.value}`;
}

const copyInfo = (i: KeyEntryInfo): KeyEntryInfo => ({ ...i, owner: { ...i.owner } });

function slotsOf(entries: readonly Entry[]): Map<string, KeyEntryInfo[]> {
  const m = new Map<string, KeyEntryInfo[]>();
  for (const { info } of entries) {
    const k = ownerText(info.owner);
    const list = m.get(k);
    if (list) list.push(info);
    else m.set(k, [info]);
  }
  return m;
}

/** What a value's encryption is bound to: moving or relabelling the entry breaks its tag. */
function aad(i: KeyEntryInfo): string {
  return `${i.id}|${i.type}|${i.kcv}|${ownerText(i.owner)}`;
}

/** ECB decryption under a DES key, as the module does for a key given under a KEK. */
function desDecrypt(key: Buffer, data: Buffer): Buffer {
  const k = key.length === 8 ? Buffer.concat([key, key]) : key;
  const d = createDecipheriv(k.length === 16 ? 'des-ede' : 'des-ede3', k, null);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
}

const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The file's text (null: none yet), refused when group or others may open it. */
function readStoreFile(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyStoreError(`${path}: cannot read the key store: ${(e as Error).message}`);
  }
  const mode = statSync(path).mode & 0o777;
  // Its values are encrypted, but one who may write it may swap states or drop keys.
  if ((mode & 0o077) !== 0) throw new KeyStoreError(`${path}: the key store is open to group or others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${path}`);
  return text;
}

/** One entry of the file, checked field by field; `at` is its JSON path. */
function parseEntry(file: string, k: unknown, at: string): Entry {
  const bad = (field: string, why: string): KeyStoreError => new KeyStoreError(`${file}: ${at}${field === '' ? '' : `.${field}`}: ${why}`);
  if (!isRecord(k)) throw bad('', 'expected an object');
  const extra = Object.keys(k).find((f) => !ENTRY_FIELDS.includes(f));
  if (extra !== undefined) throw bad(extra, 'unknown field');
  const { id, type, kcv, length, owner, state, created, retired, value } = k;
  if (typeof id !== 'string' || !NAME.test(id)) throw bad('id', 'expected 1 to 64 printable characters');
  if (typeof type !== 'string' || !(type in TYPES)) throw bad('type', `expected one of ${KEY_TYPES.join(', ')}`);
  if (typeof kcv !== 'string' || !/^[0-9A-F]{6}$/.test(kcv)) throw bad('kcv', 'expected 6 upper-case hex digits');
  if (length !== 8 && length !== 16 && length !== 24) throw bad('length', 'expected 8, 16 or 24');
  const o = ownerParts(owner);
  if (typeof o === 'string') throw bad('owner', o);
  if (state !== 'active' && state !== 'previous') throw bad('state', 'expected "active" or "previous"');
  if (!isTime(created)) throw bad('created', 'expected an ISO 8601 UTC time');
  if (state === 'active' ? retired !== null : !isTime(retired)) throw bad('retired', `expected ${state === 'active' ? 'null for an active key' : 'the ISO 8601 UTC time it stopped being active'}`);
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw bad('value', 'expected base64');
  return { info: { id, type: type as KeyType, kcv, length, owner: { [o.kind]: o.value }, state, created, retired: retired as string | null }, sealed: value };
}

/** The file's entries, with the rules that span entries: unique ids, one active key per owner and type. */
function parseFile(file: string, text: string): Entry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text around the fault; the place is enough.
    const at = jsonErrorPlace(text);
    throw new KeyStoreError(`${file}: not valid JSON${at === null ? '' : `: line ${at.line}, column ${at.column}: expected ${at.expected}`}`);
  }
  if (!isRecord(data)) throw new KeyStoreError(`${file}: expected an object with "format" and "keys"`);
  const extra = Object.keys(data).find((f) => f !== 'format' && f !== 'keys');
  if (extra !== undefined) throw new KeyStoreError(`${file}: ${extra}: unknown field`);
  if (data.format !== FORMAT) throw new KeyStoreError(`${file}: format: expected "${FORMAT}"`);
  if (!Array.isArray(data.keys)) throw new KeyStoreError(`${file}: keys: expected an array`);
  const entries = data.keys.map((k: unknown, i) => parseEntry(file, k, `keys[${i}]`));
  const ids = new Map<string, number>();
  const active = new Map<string, number>();
  entries.forEach(({ info }, i) => {
    const dup = ids.get(info.id);
    if (dup !== undefined) throw new KeyStoreError(`${file}: keys[${i}].id: ${info.id} is already keys[${dup}]`);
    ids.set(info.id, i);
    if (info.state !== 'active') return;
    const slot = `${ownerText(info.owner)} ${info.type}`;
    const other = active.get(slot);
    if (other !== undefined) throw new KeyStoreError(`${file}: keys[${i}]: a second active ${info.type} of ${ownerText(info.owner)} (keys[${other}] is active)`);
    active.set(slot, i);
  });
  return entries;
}

export class KeyStore {
  /**
   * Reads the file (absent: an empty store, written on first save), decrypts every key
   * and loads it into `module`. Nothing is loaded unless every entry is sound.
   */
  static load(path: string, master: Buffer, module: SoftwareSecurityModule): KeyStore {
    if (master.length !== 32) throw new KeyStoreError(`${path}: the master key must be 32 bytes, got ${master.length}`);
    const text = readStoreFile(path);
    const entries = text === null ? [] : parseFile(path, text);
    const clears: Buffer[] = [];
    try {
      for (const [i, { info, sealed }] of entries.entries()) {
        const name = `${path}: keys[${i}] (${info.id}, KCV ${info.kcv})`;
        const clear = openUnderMaster(master, aad(info), sealed);
        if (clear === null) throw new KeyStoreError(`${name}: its value does not decrypt under this master key (the wrong master key, or the entry was changed)`);
        clears.push(clear);
        if (clear.length !== info.length) throw new KeyStoreError(`${name}: its value is ${clear.length} bytes, not the ${info.length} of its length field`);
        const kcv = keyCheckValue(clear);
        if (kcv !== info.kcv) throw new KeyStoreError(`${name}: its value's check value is ${kcv}, not its kcv field`);
      }
      entries.forEach(({ info }, i) => module.loadClearKey(info.id, info.type, clears[i]));
    } finally {
      for (const c of clears) c.fill(0);
    }
    return new KeyStore(path, Buffer.from(master), module, entries, text === null ? null : digestOf(text));
  }

  /** `digest`: of the file as last read or written (null: none yet), to notice another writer. */
  private constructor(readonly path: string, private readonly master: Buffer, private readonly module: SoftwareSecurityModule,
    private _entries: Entry[], private digest: string | null) {
    this.bySlot = slotsOf(_entries);
  }

  /** Entries by owner: a MAC check looks its terminal's keys up on every message, never by a scan. */
  private bySlot: Map<string, KeyEntryInfo[]>;

  private get entries(): Entry[] {
    return this._entries;
  }

  private set entries(next: Entry[]) {
    this._entries = next;
    this.bySlot = slotsOf(next);
  }

  list(): KeyEntryInfo[] {
    return this.entries.map((e) => copyInfo(e.info));
  }

  get(id: string): KeyEntryInfo | undefined {
    const e = this.entries.find((x) => x.info.id === id);
    return e === undefined ? undefined : copyInfo(e.info);
  }

  /** The active key of this owner among these types (the newest, should there be one of each). */
  find(owner: KeyOwner, types: readonly KeyType[]): KeyEntryInfo | undefined {
    return this.latest(owner, types, 'active', (i) => i.created);
  }

  /** The previous (retired) key of this owner and types, if one is kept. */
  previous(owner: KeyOwner, types: readonly KeyType[]): KeyEntryInfo | undefined {
    return this.latest(owner, types, 'previous', (i) => i.retired ?? '');
  }

  /**
   * A clear key entered by a person (key ceremony): refused unless its check value matches
   * `kcv`. Like every new key it becomes the active one of its owner and type. Saves.
   */
  importClear(id: string, type: KeyType, value: Buffer, kcv: string, owner: KeyOwner): KeyEntryInfo {
    const o = this.checkNew(id, type, owner);
    if (!/^[0-9A-Fa-f]{6,16}$/.test(kcv)) throw new KeyStoreError(`${this.path}: key ${id}: a check value is 6 to 16 hex digits`);
    const given = kcv.slice(0, 6).toUpperCase();
    if (![8, 16, 24].includes(value.length)) throw new KeyStoreError(`${this.path}: key ${id}: a DES key is 8, 16 or 24 bytes, got ${value.length}`);
    const got = keyCheckValue(value);
    if (got !== given) throw new KeyStoreError(`${this.path}: key ${id}: its check value is ${got}, not ${given}: refused (a mistyped key or check value)`);
    const info = this.newInfo(id, type, got, value.length, o);
    const sealed = sealUnderMaster(this.master, aad(info), value);
    this.module.loadClearKey(id, type, value);
    this.install({ info, sealed });
    return copyInfo(info);
  }

  /** A key given encrypted under a key-encrypting key (TMK, ZMK) of this store; the module checks its KCV. Saves. */
  importUnder(id: string, type: KeyType, cryptogram: Buffer, kek: string, kcv: string, owner: KeyOwner): KeyEntryInfo {
    const o = this.checkNew(id, type, owner);
    const under = this.entries.find((e) => e.info.id === kek);
    if (under === undefined) throw new KeyStoreError(`${this.path}: key ${id}: no key-encrypting key ${JSON.stringify(kek)} in the store`);
    try {
      this.module.importKey(id, type, cryptogram, kek, kcv);
    } catch (e) {
      if (e instanceof SecurityError) throw new KeyStoreError(`${this.path}: ${e.message}`);
      throw e;
    }
    // The module never hands out a clear value, and sealing needs one: the KEK is opened
    // from the store's own copy and the cryptogram decrypted the way the module did.
    const kekClear = openUnderMaster(this.master, aad(under.info), under.sealed);
    const clear = kekClear === null ? null : desDecrypt(kekClear, cryptogram);
    kekClear?.fill(0);
    try {
      const got = clear === null ? null : keyCheckValue(clear);
      if (clear === null || got === null || got !== this.module.info(id).kcv) {
        this.module.forget(id);
        throw new KeyStoreError(`${this.path}: key ${id}: the store's copy of ${kek} (KCV ${under.info.kcv}) is not the module's: refused`);
      }
      const info = this.newInfo(id, type, got, clear.length, o);
      this.install({ info, sealed: sealUnderMaster(this.master, aad(info), clear) });
      return copyInfo(info);
    } finally {
      clear?.fill(0);
    }
  }

  /**
   * A fresh random key (odd parity) for this owner and type, becoming the active one; the
   * active one before it becomes previous, and an older previous is dropped. Saved (and
   * synced) before it returns, so a key handed to a terminal is never lost to a crash.
   */
  replace(owner: KeyOwner, type: KeyType, length: 8 | 16 | 24): KeyEntryInfo {
    const o = this.checkOwner(owner);
    if (!(type in TYPES)) throw new KeyStoreError(`${this.path}: a key type is one of ${KEY_TYPES.join(', ')}`);
    if (![8, 16, 24].includes(length)) throw new KeyStoreError(`${this.path}: a DES key is 8, 16 or 24 bytes, got ${String(length)}`);
    const id = this.nextId(o, type);
    // The module's generateKey would keep the value from the store, which must seal it.
    const value = withOddParity(randomBytes(length));
    let entry: Entry;
    try {
      const info = this.newInfo(id, type, keyCheckValue(value), length, o);
      entry = { info, sealed: sealUnderMaster(this.master, aad(info), value) };
      this.module.loadClearKey(id, type, value);
    } finally {
      value.fill(0);
    }
    this.install(entry);
    return copyInfo(entry.info);
  }

  /** `replace` for the owner and type of an existing active key (`revswitch keys rotate`). */
  rotate(id: string): KeyEntryInfo {
    const e = this.get(id);
    if (e === undefined) throw new KeyStoreError(`${this.path}: no key ${JSON.stringify(id)}`);
    if (e.state !== 'active') {
      const now = this.find(e.owner, [e.type]);
      throw new KeyStoreError(`${this.path}: key ${id} (KCV ${e.kcv}) is a previous key${now === undefined ? '' : `: rotate the active one, ${now.id}`}`);
    }
    return this.replace(e.owner, e.type, e.length as 8 | 16 | 24);
  }

  /** Drops previous keys retired more than `overlapMs` before `nowMs`, from the file and the module. */
  prune(nowMs: number, overlapMs: number): number {
    const gone = this.entries
      .filter((e) => e.info.state === 'previous' && e.info.retired !== null && nowMs - Date.parse(e.info.retired) > overlapMs)
      .map((e) => e.info.id);
    if (gone.length === 0) return 0;
    this.commit(this.entries.filter((e) => !gone.includes(e.info.id)), [], gone);
    return gone.length;
  }

  /**
   * Reads the file again (another process's `keys import` or `rotate` since): its keys
   * replace these, in memory and in the module; nothing changes if it does not load.
   */
  reload(): void {
    const fresh = KeyStore.load(this.path, this.master, this.module);
    for (const e of this.entries) if (!fresh.entries.some((f) => f.info.id === e.info.id)) this.module.forget(e.info.id);
    this.entries = fresh.entries;
    this.digest = fresh.digest;
  }

  /**
   * Writes the whole file atomically (a synced temp file renamed over it, then the
   * directory synced). Refused when the file changed since this store read it: another
   * process wrote keys this one does not have, and writing would drop them.
   */
  save(): void {
    const current = readStoreFile(this.path);
    if ((current === null ? null : digestOf(current)) !== this.digest) {
      throw new KeyStoreError(`${this.path}: changed by another process since it was read (a \`revswitch keys\` command, or a switch replacing keys): nothing saved; load it again`, true);
    }
    const text = JSON.stringify({ format: FORMAT, keys: this.entries.map(({ info, sealed }) => ({ ...info, value: sealed })) }, null, 2) + '\n';
    const dir = dirname(this.path);
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.tmp`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        fchmodSync(fd, 0o600);
        writeFileSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new KeyStoreError(`${this.path}: cannot save the key store: ${(e as Error).message}`);
    }
    this.digest = digestOf(text);
    syncDir(dir);
  }

  /**
   * A new active key (already in the module) saved: the active key of its owner and type
   * before it becomes previous, retired at its creation, and an older previous is dropped.
   */
  private install(entry: Entry): void {
    const { type, owner, created } = entry.info;
    const slot = ownerText(owner);
    const dropped: string[] = [];
    const next = this.entries.flatMap((e): Entry[] => {
      if (e.info.type !== type || ownerText(e.info.owner) !== slot) return [e];
      if (e.info.state === 'previous') dropped.push(e.info.id);
      return e.info.state === 'previous' ? [] : [{ ...e, info: { ...e.info, state: 'previous', retired: created } }];
    });
    this.commit([...next, entry], [entry.info.id], dropped);
  }

  /** The new entries saved, then the dropped keys forgotten; a failed save undoes the change in memory and in the module. */
  private commit(next: Entry[], added: readonly string[], dropped: readonly string[]): void {
    const before = this.entries;
    this.entries = next;
    try {
      this.save();
    } catch (e) {
      this.entries = before;
      for (const id of added) this.module.forget(id);
      throw e;
    }
    for (const id of dropped) this.module.forget(id);
  }

  private latest(owner: KeyOwner, types: readonly KeyType[], state: KeyEntryInfo['state'], at: (i: KeyEntryInfo) => string): KeyEntryInfo | undefined {
    let best: KeyEntryInfo | undefined;
    for (const i of this.bySlot.get(ownerText(owner)) ?? []) {
      if (i.state === state && types.includes(i.type) && (best === undefined || at(i).localeCompare(at(best)) > 0)) best = i;
    }
    return best === undefined ? undefined : copyInfo(best);
  }

  private newInfo(id: string, type: KeyType, kcv: string, length: number, owner: KeyOwner): KeyEntryInfo {
    return { id, type, kcv, length, owner: { ...owner }, state: 'active', created: new Date().toISOString(), retired: null };
  }

  /** The owner with its one field, or a KeyStoreError saying what is wrong with it. */
  private checkOwner(owner: KeyOwner): KeyOwner {
    const p = ownerParts(owner);
    if (typeof p === 'string') throw new KeyStoreError(`${this.path}: owner: ${p}`);
    return { [p.kind]: p.value };
  }

  /** Checks an imported key's id, type and owner: a new id, not already held by the module either. */
  private checkNew(id: string, type: KeyType, owner: KeyOwner): KeyOwner {
    if (!NAME.test(id)) throw new KeyStoreError(`${this.path}: a key id is 1 to 64 printable characters`);
    if (!(type in TYPES)) throw new KeyStoreError(`${this.path}: key ${id}: a key type is one of ${KEY_TYPES.join(', ')}`);
    const there = this.get(id);
    if (there !== undefined) throw new KeyStoreError(`${this.path}: key ${id} is already in the store (${there.type}, KCV ${there.kcv}): refused`);
    if (this.module.has(id)) throw new KeyStoreError(`${this.path}: key ${id} is already held by the security module: refused`);
    return this.checkOwner(owner);
  }

  /** `${owner value}.${type}.${n}`, n one more than any such id in the file and free in the module. */
  private nextId(owner: KeyOwner, type: KeyType): string {
    const p = ownerParts(owner) as { kind: OwnerKind; value: string };
    const prefix = `${p.value}.${type}.`;
    let n = 0;
    for (const { info } of this.entries) {
      const rest = info.id.startsWith(prefix) ? info.id.slice(prefix.length) : '';
      if (/^[0-9]{1,9}$/.test(rest)) n = Math.max(n, Number(rest));
    }
    do n++; while (this.module.has(`${prefix}${n}`) || this.get(`${prefix}${n}`) !== undefined);
    return `${prefix}${n}`;
  }
}

/** Makes a rename durable: the directory entry is synced too. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
