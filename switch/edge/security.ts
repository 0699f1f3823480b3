/**
 * What the switch does with keys, in one place: MAC guards for listeners and links, the
 * working keys a UnionPay terminal gets at sign-on, PIN blocks translated from a
 * terminal's key to an upstream's, and a key sent by the network. Keys live in the key
 * store (./key-store.ts) and are used inside the security module (./security-module.ts);
 * here only ids and check values are seen, and only those reach logs and errors.
 */
import type { Dialect, IsoMessage } from '../../codec/index.js';
import type { MacConfig } from '../config/index.js';
import type { KeyOwner } from './key-store.js';
import { MacGuard, type KeyDirectory } from './mac-guard.js';
import { SecurityError, type KeyType, type SecurityModule } from './security-module.js';

/** The key store as this module uses it. */
export interface KeyBook extends KeyDirectory {
  find(owner: KeyOwner, types: readonly KeyType[]): { id: string; kcv: string } | undefined;
  /** A fresh key for this owner and type, the active one kept as previous; durable when it returns. */
  replace(owner: KeyOwner, type: KeyType, length: 8 | 16 | 24): { id: string; kcv: string };
  /** A key given encrypted under a key-encrypting key, refused unless its check value matches; durable when it returns. */
  importUnder(id: string, type: KeyType, cryptogram: Buffer, kek: string, kcv: string, owner: KeyOwner): { id: string; kcv: string };
  list(): { id: string; type: KeyType; owner: KeyOwner; state: 'active' | 'previous' }[];
  prune(nowMs: number, overlapMs: number): number;
  /** Reads the file again: keys another process (a `revswitch keys` command) wrote since. */
  reload(): void;
}

/** A write refused because the file changed under the store: reloaded and tried once more. */
function isConflict(e: unknown): boolean {
  return e instanceof Error && (e as { conflict?: unknown }).conflict === true;
}

/** A UnionPay check value: the first 4 bytes of the key's encryption of a zero block. */
const CUP_CV_BYTES = 4;

/** F52 could not be translated: the terminal is declined 55/A7, the request never leaves. */
export class PinTranslationError extends Error {
  override readonly name = 'PinTranslationError';
}

export type KeyChangeOutcome = { ok: true; id: string; kcv: string } | { ok: false; reason: string };

export class Security {
  constructor(readonly module: SecurityModule, readonly keys: KeyBook, readonly overlapMs: number) {}

  /** SIGHUP, or a write that found the file changed: the key store read again. */
  reloadKeys(): void {
    this.keys.reload();
  }

  private writing<T>(write: () => T): T {
    try {
      return write();
    } catch (e) {
      if (!isConflict(e)) throw e;
      this.keys.reload();
      return write();
    }
  }

  listenerGuard(dialect: Dialect, cfg: MacConfig): MacGuard {
    return new MacGuard(dialect, cfg, this.module, this.keys, { side: { terminal: true }, overlapMs: this.overlapMs });
  }

  upstreamGuard(dialect: Dialect, cfg: MacConfig, upstream: string): MacGuard {
    return new MacGuard(dialect, cfg, this.module, this.keys, { side: { upstream }, overlapMs: this.overlapMs });
  }

  /** Whether this terminal has a master key, so a sign-on can carry it working keys. */
  hasTmk(terminal: string): boolean {
    return this.keys.find({ terminal }, ['TMK']) !== undefined;
  }

  /**
   * A UnionPay terminal's sign-on: a new PIK (double length) and MAK (single length),
   * stored before this returns (the terminal must never hold keys the switch could lose),
   * laid out for F62 as the terminals expect: PIK under the TMK (16) + its check value (4)
   * + MAK under the TMK (8, zero-padded to 16) + its check value (4). The replaced MAK
   * still verifies for the overlap, for messages already on their way.
   */
  signOnKeys(terminal: string): { f62: Uint8Array; pik: string; mak: string } {
    const tmk = this.keys.find({ terminal }, ['TMK']);
    if (tmk === undefined) throw new SecurityError(`terminal ${terminal} has no TMK in the key store`, 'no_key');
    const pik = this.writing(() => this.keys.replace({ terminal }, 'PIK', 16));
    const mak = this.writing(() => this.keys.replace({ terminal }, 'MAK', 8));
    const pikOut = this.module.exportKey(pik.id, tmk.id).cryptogram;
    const makOut = this.module.exportKey(mak.id, tmk.id).cryptogram;
    const f62 = Buffer.alloc(40);
    pikOut.copy(f62, 0);
    this.module.checkValue(pik.id, CUP_CV_BYTES).copy(f62, 16);
    makOut.copy(f62, 20);
    this.module.checkValue(mak.id, CUP_CV_BYTES).copy(f62, 36);
    this.writing(() => this.keys.prune(Date.now(), this.overlapMs));
    return { f62: new Uint8Array(f62), pik: `${pik.id} KCV ${pik.kcv}`, mak: `${mak.id} KCV ${mak.kcv}` };
  }

  /**
   * F52 of `out` (the request as it goes upstream) from the terminal's PIN key to the
   * upstream's ZPK. The PAN binds the block (ISO 9564 format 0): F2, else track 2.
   */
  translatePin(out: IsoMessage, terminal: string, upstream: string): void {
    const block = out.getBytes(52);
    if (block === undefined) return;
    const from = this.keys.find({ terminal }, ['PIK', 'TPK']);
    if (from === undefined) throw new PinTranslationError(`terminal ${terminal} has no PIN key (PIK/TPK) in the key store`);
    const to = this.keys.find({ upstream }, ['ZPK']);
    if (to === undefined) throw new PinTranslationError(`upstream ${upstream} has no ZPK in the key store`);
    const pan = panOf(out);
    if (pan === undefined) throw new PinTranslationError('a PIN block without a PAN (F2 or track 2) to bind it');
    try {
      out.set(52, new Uint8Array(this.module.translatePin(Buffer.from(block), pan, from.id, to.id)));
    } catch (e) {
      if (e instanceof SecurityError) throw new PinTranslationError(e.message);
      throw e;
    }
  }

  /**
   * A working key sent by the network (an 0800/0820 key change): kept only when it
   * decrypts under the upstream's ZMK to the check value sent with it.
   */
  acceptKeyChange(upstream: string, type: 'ZPK' | 'ZAK', cryptogram: Buffer, kcv: string): KeyChangeOutcome {
    const zmk = this.keys.find({ upstream }, ['ZMK']);
    if (zmk === undefined) return { ok: false, reason: `upstream ${upstream} has no ZMK in the key store` };
    const n = this.keys.list().filter((k) => k.owner.upstream === upstream && k.type === type).length;
    const id = `${upstream}.${type}.net${Date.now().toString(36)}${n}`;
    try {
      const k = this.writing(() => this.keys.importUnder(id, type, cryptogram, zmk.id, kcv, { upstream }));
      this.writing(() => this.keys.prune(Date.now(), this.overlapMs));
      return { ok: true, id: k.id, kcv: k.kcv };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  }
}

/** The PAN a PIN block is bound to: F2, else track 2 up to its separator. */
function panOf(msg: IsoMessage): string | undefined {
  const f2 = msg.get(2);
  if (f2 !== undefined) return f2;
  const t2 = msg.get(35);
  if (t2 === undefined) return undefined;
  const m = /^([0-9]{12,19})[=D]/i.exec(t2);
  return m ? m[1] : undefined;
}
