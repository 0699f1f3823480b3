/**
 * The config loader (`revswitch start --config FILE`, switch/config/load.ts): the input is
 * the file's text.
 *
 * Property: loadConfigFile gives a config or throws a ConfigError with a message. (Values
 * are echoed in config errors on purpose, except under secret-looking keys, so the
 * card-number check does not apply here.)
 *
 * One edit before loading: a `scrypt:` passphrase is cut to 15 characters. A 16-character
 * one is stretched with scrypt (N 2^15, about 100 ms by design, once at start); every
 * mutant of such an input would cost that, and the short refusal branch is still fuzzed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../switch/config/types.js';
import { loadConfigFile } from '../../../switch/config/load.js';
import { ownErrors, type FuzzTarget } from '../target.js';

let file = '';

const KEYS = [
  'listeners', 'upstreams', 'routes', 'rules', 'store', 'admin', 'logLevel', 'tickMs', 'retentionMs', 'maxRetained', 'panHashKey',
  'panSealKeys', 'node', 'reversal', 'events', 'cluster', 'unknownOriginals', 'retention', 'security', 'maxStoreBacklog', 'name', 'host',
  'port', 'dialect', 'framing', 'maxFrame', 'maxConnections', 'idleTimeoutMs', 'tls', 'mac', 'translatePin', 'timeoutMs', 'echoIdleMs',
  'netTimeoutMs', 'signOn', 'reconnectBackoffMs', 'refund', 'keyChange', 'pan', 'processingCode', 'acquirer', 'forwarder', 'listen',
  'tokens', 'hosts', 'reportMaxDays', 'requireTokenForReads', 'window', 'responseTimeoutMs', 'backoffMs', 'maxAttempts', 'maxAgeMs',
  'file', 'nats', 'dir', 'fsync', 'url', 'subject', 'stream', 'spoolDir', 'duplicateWindowMs', 'maxSpoolBytes', 'heartbeatMs', 'leaseMs',
  'nodeDeadMs', 'recordPerMinute', 'alertPerMinute', 'sealedDays', 'evidenceDays', 'auto', 'keyStore', 'masterKeyFile', 'macOverlapMs',
  'algorithm', 'key', 'required', 'fields', 'field', 'cert', 'ca', 'requestCert', 'rejectUnauthorized', 'minVersion', 'ciphers',
  'allowedSubjects', 'servername',
];

export const target: FuzzTarget = {
  name: 'config',
  about: 'the config file loader',
  maxLen: 16384,
  nests: true,
  dictionary: [
    ...KEYS.map((k) => `"${k}"`), '"127.0.0.1:8583"', '"[::1]:0"', '":9464"', '"off"', '"iso87a"', '"cup"', '"len2"', '"vap"', '"0220"',
    '"0200"', '"F48"', '"F96"', '"TLSv1.2"', '"nats://127.0.0.1:4222"', '"revswitch.events"', '"k1"', '"scrypt:"', '"sha256:"', '"debug"',
    '"x9.19"', '"iso9797-1-alg3-pad2"', '"cup-ecb"', '"cmac-aes"', `"${'ab'.repeat(32)}"`, '0', '1', '65535', '65536', '-1', '1e3', '0.5', 'true', 'false', 'null', '[]', '{}',
  ],
  setup(scratch: string): void {
    file = join(scratch, 'config.json');
  },
  run(input: Buffer): void {
    writeFileSync(file, input.toString('latin1').replace(/scrypt:([^"\\]{15})[^"\\]+/g, 'scrypt:$1'), 'latin1');
    ownErrors([ConfigError], () => loadConfigFile(file));
  },
};
