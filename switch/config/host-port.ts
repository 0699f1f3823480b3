/**
 * The one HOST:PORT parser: the config file, the command line and the admin address all
 * read addresses through it, so they accept the same forms:
 *
 *   HOST:PORT     a name or an IPv4 address
 *   [IPV6]:PORT   an IPv6 address, in brackets (a bare one is ambiguous: which colon ends it?)
 *   :PORT         the default host
 *   PORT          the default host, where the caller allows a bare port
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortRules {
  /** Host for ":PORT" and "PORT". Default 127.0.0.1. */
  defaultHost?: string;
  /** Port 0 (the system picks one) is allowed. Default true. */
  allowZero?: boolean;
  /** "8583" alone means the default host. Default true. */
  allowBarePort?: boolean;
}

/** Why a text is not an address; callers add where it came from (file and path, or flag). */
export class HostPortError extends Error {
  override readonly name = 'HostPortError';
}

function portOf(text: string, allowZero: boolean, whole: string): number {
  let port = 0;
  const ok = text.length >= 1 && text.length <= 5 && [...text].every((c) => c >= '0' && c <= '9');
  if (ok) port = Number(text);
  if (!ok || port > 65535 || (port === 0 && !allowZero)) {
    throw new HostPortError(`expected HOST:PORT with a port from ${allowZero ? 0 : 1} to 65535, got ${JSON.stringify(whole)}`);
  }
  return port;
}

export function parseHostPort(text: string, rules: HostPortRules = {}): HostPort {
  const defaultHost = rules.defaultHost ?? '127.0.0.1';
  const allowZero = rules.allowZero ?? true;
  if (text.startsWith('[')) {
    const end = text.indexOf(']:');
    const host = end < 0 ? '' : text.slice(1, end);
    if (host === '' || !host.includes(':')) throw new HostPortError(`expected [IPV6]:PORT, got ${JSON.stringify(text)}`);
    return { host, port: portOf(text.slice(end + 2), allowZero, text) };
  }
  const i = text.lastIndexOf(':');
  if (i < 0) {
    if (rules.allowBarePort === false) throw new HostPortError(`expected HOST:PORT, got ${JSON.stringify(text)}`);
    return { host: defaultHost, port: portOf(text, allowZero, text) };
  }
  const host = text.slice(0, i);
  if (host.includes(':')) throw new HostPortError(`an IPv6 address goes in brackets, e.g. [::1]:8583; got ${JSON.stringify(text)}`);
  if (/[\s[\]/]/.test(host)) throw new HostPortError(`expected a host name or address before the port, got ${JSON.stringify(text)}`);
  return { host: host || defaultHost, port: portOf(text.slice(i + 1), allowZero, text) };
}
