/**
 * Certificates made at run time with the `openssl` CLI (nothing checked in that could
 * expire or leak): a CA and leaf certificates signed by it, EC P-256, as PEM files in a
 * directory the caller owns. Shared by the e2e suite's TLS steps (bench/e2e/secure.ts)
 * and the TLS tests (test/support/certs.ts).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pair {
  cert: string;
  key: string;
}

/** Why no certificates can be made here (`consequence` says what is lost), or false when they can. */
export function opensslMissing(consequence: string): string | false {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? false : `openssl is not installed (apt-get install openssl): ${consequence}`;
}

export function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/** A new EC P-256 key, unencrypted. */
export const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA, `name`.pem and `name`.key in `dir`. */
export function makeCa(dir: string, name: string, cn: string, days: number): void {
  openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', String(days), '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

/** A leaf certificate for `san` (e.g. "IP:127.0.0.1,DNS:localhost") signed by the CA `ca` in `dir`. */
export function makeLeaf(dir: string, o: { name: string; cn: string; san: string; ca: string; serial: number; days: number }): Pair {
  const { name } = o;
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${o.cn}`], dir);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${o.san}\nbasicConstraints=CA:FALSE\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${o.ca}.pem`, '-CAkey', `${o.ca}.key`, '-set_serial', String(o.serial),
    '-days', String(o.days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}
