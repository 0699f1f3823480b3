/**
 * Certificates made at test time with the `openssl` CLI (nothing checked in that could
 * expire or leak): a CA, a second "wrong" CA, server certificates and client certificates
 * of every kind the TLS tests need, as PEM files in a temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA every good certificate here is signed by. */
  ca: string;
  /** A CA nothing trusts. */
  wrongCa: string;
  /** For 127.0.0.1 and localhost (SAN IP and DNS). */
  server: Pair;
  /** Another key and certificate for the same names, same CA: what a reload swaps in. */
  server2: Pair;
  /** For other.example only: a host name mismatch on 127.0.0.1. */
  otherName: Pair;
  /** CN and SAN DNS acquirer-1.example. */
  client: Pair;
  /** CN acquirer-2.example: valid, but not in the tests' allowedSubjects. */
  clientUnlisted: Pair;
  /** Valid only in January 2020. */
  clientExpired: Pair;
  /** Signed by wrongCa. */
  clientWrongCa: Pair;
  cleanup(): void;
}

/** Why the TLS tests cannot run here, or false when they can. */
export function opensslMissing(): string | false {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? false : 'openssl is not installed (apt-get install openssl): test certificates cannot be made';
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-tls-'));
  const p = (name: string): string => join(dir, name);

  const makeCa = (name: string, cn: string): void => {
    openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  makeCa('ca', 'revswitch test CA');
  makeCa('wrong-ca', 'revswitch wrong CA');

  let serial = 1;
  const leaf = (name: string, cn: string, san: string, ca = 'ca'): Pair => {
    openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    writeFileSync(p(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', String(serial++),
      '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
    return { cert: p(`${name}.pem`), key: p(`${name}.key`) };
  };

  // `openssl x509` of OpenSSL 3.0 cannot set a past notBefore; `openssl ca` can.
  const expired = (name: string, cn: string): Pair => {
    openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    writeFileSync(p('index.txt'), '');
    writeFileSync(p('serial'), '1000\n');
    writeFileSync(p('ca.cnf'), [
      '[ca]', 'default_ca = tca', '[tca]', `database = ${p('index.txt')}`, `new_certs_dir = ${dir}`, `serial = ${p('serial')}`,
      'default_md = sha256', 'policy = pol', 'unique_subject = no', '[pol]', 'commonName = supplied', '',
    ].join('\n'));
    openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`,
      '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-notext'], dir);
    return { cert: p(`${name}.pem`), key: p(`${name}.key`) };
  };

  return {
    dir,
    ca: p('ca.pem'),
    wrongCa: p('wrong-ca.pem'),
    server: leaf('server', 'localhost', 'IP:127.0.0.1,DNS:localhost'),
    server2: leaf('server2', 'localhost', 'IP:127.0.0.1,DNS:localhost'),
    otherName: leaf('other', 'other.example', 'DNS:other.example'),
    client: leaf('client', 'acquirer-1.example', 'DNS:acquirer-1.example'),
    clientUnlisted: leaf('client-unlisted', 'acquirer-2.example', 'DNS:acquirer-2.example'),
    clientExpired: expired('client-expired', 'acquirer-1.example'),
    clientWrongCa: leaf('client-wrong', 'acquirer-1.example', 'DNS:acquirer-1.example', 'wrong-ca'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
