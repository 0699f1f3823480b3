/**
 * Certificates made at test time with the `openssl` CLI (nothing checked in that could
 * expire or leak): a CA, a second "wrong" CA, server certificates and client certificates
 * of every kind the TLS tests need, as PEM files in a temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC, makeCa, makeLeaf, openssl, opensslMissing as pkiMissing, type Pair } from '../../bench/lib/pki.js';

export type { Pair };

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
  return pkiMissing('test certificates cannot be made');
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-tls-'));
  const p = (name: string): string => join(dir, name);

  makeCa(dir, 'ca', 'revswitch test CA', 30);
  makeCa(dir, 'wrong-ca', 'revswitch wrong CA', 30);

  let serial = 1;
  const leaf = (name: string, cn: string, san: string, ca = 'ca'): Pair => makeLeaf(dir, { name, cn, san, ca, serial: serial++, days: 30 });

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
