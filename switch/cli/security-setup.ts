/**
 * The key store and security module the switch starts with, from config `security`: none
 * without a key store; otherwise the store file opened under the master key and its keys
 * held by the software security module, which says at every start what it is.
 */
import { ConfigError, type SwitchConfig } from '../config/index.js';
import { KeyStore } from '../edge/key-store.js';
import { masterKeyFrom } from '../edge/master-key.js';
import { Security } from '../edge/security.js';
import { SoftwareSecurityModule } from '../edge/security-module.js';
import type { Logger } from '../observe/log.js';

export function loadSecurity(c: SwitchConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Security | null {
  const path = c.security.keyStore;
  if (path === null) return null;
  const module = new SoftwareSecurityModule();
  let store: KeyStore;
  try {
    store = KeyStore.load(path, masterKeyFrom({ env, file: c.security.masterKeyFile }), module);
  } catch (e) {
    throw new ConfigError(`security.keyStore: ${(e as Error).message}`);
  }
  log.warn('software security module in use: keys are held in this process\'s memory (development and tests, not production card data)', { keyStore: path });
  log.info('key store open', { keyStore: path, keys: store.list().length });
  return new Security(module, store, c.security.macOverlapMs);
}
