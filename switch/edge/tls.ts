/**
 * TLS for listeners and upstream links: the PEM files of one config as Node TLS options,
 * reloaded on SIGHUP keeping the last good ones when a file is bad, the client-subject
 * check of a listener's allowedSubjects, and the failure log that counts every failed
 * handshake but writes at most a line a second (a scanner or a misconfigured terminal
 * retrying in a loop would otherwise flood the log).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsConfig } from '../config/index.js';
import { tlsFileProblem } from '../config/load.js';
import type { Logger } from '../observe/log.js';

/** What a TLS reload did, by listener or upstream name. */
export interface TlsReloadOutcome {
  ok: string[];
  failed: { name: string; error: string }[];
}

export class TlsFilesError extends Error {
  override readonly name = 'TlsFilesError';
}

/** The files as context options; throws TlsFilesError naming the file, never its content. */
function readOptions(cfg: TlsConfig): SecureContextOptions {
  const problem = tlsFileProblem(cfg);
  if (problem) throw new TlsFilesError(`tls.${problem.key} ${problem.file}: ${problem.reason}`);
  const o: SecureContextOptions = { minVersion: cfg.minVersion };
  if (cfg.cert !== null) o.cert = readFileSync(cfg.cert);
  if (cfg.key !== null) o.key = readFileSync(cfg.key);
  if (cfg.ca !== null) o.ca = readFileSync(cfg.ca);
  if (cfg.ciphers !== null) o.ciphers = cfg.ciphers;
  return o;
}

/**
 * The certificates and keys of one listener or link as last loaded well. A connection
 * takes them when it starts, so a reload changes new connections only.
 */
export class TlsMaterial {
  private opts: SecureContextOptions;
  private ctx: SecureContext;

  /** Throws TlsFilesError when a file is missing or bad (the config was checked at load: the files changed since). */
  constructor(readonly cfg: TlsConfig) {
    this.opts = readOptions(cfg);
    this.ctx = this.build(this.opts);
  }

  /** For tls.createServer and Server.setSecureContext. */
  get options(): SecureContextOptions {
    return this.opts;
  }

  /** For tls.connect: built once per load, not per dial. */
  get context(): SecureContext {
    return this.ctx;
  }

  /** Reads the files again; on any error the previous ones stay and the error says why. */
  reload(): { ok: true } | { ok: false; error: string } {
    try {
      const opts = readOptions(this.cfg);
      const ctx = this.build(opts);
      this.opts = opts;
      this.ctx = ctx;
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  private build(opts: SecureContextOptions): SecureContext {
    try {
      return createSecureContext(opts);
    } catch (e) {
      // OpenSSL's reason (a bad cipher list, a key the cert does not match); never the PEM.
      throw new TlsFilesError(`tls (cert ${this.cfg.cert ?? '-'}, key ${this.cfg.key ?? '-'}, ca ${this.cfg.ca ?? '-'}): ${(e as Error).message}`);
    }
  }
}

/** Every name a certificate's subject goes by: its CN, and each SAN entry both as written ("DNS:x") and bare ("x"). */
export function subjectNames(cert: PeerCertificate): Set<string> {
  const names = new Set<string>();
  const cn = cert.subject?.CN;
  for (const c of Array.isArray(cn) ? cn : cn ? [cn] : []) names.add(c);
  for (const entry of (cert.subjectaltname ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    names.add(entry);
    const i = entry.indexOf(':');
    if (i > 0) names.add(entry.slice(i + 1));
  }
  return names;
}

/** Whether a verified client certificate may use this listener; an empty list lets every one in. */
export function subjectAllowed(cert: PeerCertificate, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const names = subjectNames(cert);
  return allowed.some((a) => names.has(a));
}

/** Logs a warning for rejectUnauthorized: false, once per start: it turns verification off. */
export function warnIfUnverified(cfg: TlsConfig, log: Logger, fields: Record<string, string>): void {
  if (!cfg.rejectUnauthorized) log.warn('TLS certificate verification is off (tls.rejectUnauthorized: false)', fields);
}

const LOG_EVERY_MS = 1000;

/**
 * Failed handshakes of one listener or link: every one counted, one log line a second at
 * most, with how many were not logged since the last line.
 */
export class TlsFailureLog {
  private lastLogAt = -Infinity;
  private suppressed = 0;

  constructor(private readonly log: Logger, private readonly fields: Record<string, string>, private readonly count: () => void) {}

  failed(reason: string, remote: string | undefined): void {
    this.count();
    // Monotonic: a wall clock stepped back must not silence these for an hour.
    const now = performance.now();
    if (now - this.lastLogAt < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    this.log.warn('TLS connection refused', { ...this.fields, reason, remote, suppressed: this.suppressed });
    this.lastLogAt = now;
    this.suppressed = 0;
  }
}
