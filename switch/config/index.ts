/** The configuration: its types and defaults, loading and validation, addresses, dialect files. */
export * from './types.js';
export { addressOf, configFromJson, loadConfigFile } from './load.js';
export { HostPortError, parseHostPort, type HostPort, type HostPortRules } from './host-port.js';
export { resolveDialect } from './dialect-file.js';
