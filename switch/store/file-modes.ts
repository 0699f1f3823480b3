/**
 * The journal's files must be the owner's alone (PCI DSS 7; they hold sealed card data).
 * The switch creates them 0600 in a 0700 directory; one that already exists wider (made by
 * an older version, or by hand) is named at start, with the chmod that fixes it. Nothing is
 * changed on its own: the operator may have a reason, and a chmod under a running backup
 * would surprise.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Each existing file of the SQLite journal at `path` (with -wal, -shm) or its directory that others may read or write. */
export function widerThanOwner(path: string): { path: string; mode: string; fix: string }[] {
  const out: { path: string; mode: string; fix: string }[] = [];
  const check = (p: string, want: number): void => {
    if (!existsSync(p)) return;
    const mode = statSync(p).mode & 0o777;
    if ((mode & 0o077) !== 0) out.push({ path: p, mode: mode.toString(8).padStart(4, '0'), fix: `chmod ${want.toString(8)} ${p}` });
  };
  check(dirname(path), 0o700);
  for (const p of [path, `${path}-wal`, `${path}-shm`]) check(p, 0o600);
  return out;
}
