/**
 * The issuer side of the TLS + MAC steps. The issuer simulator (switch/sim/issuer.ts)
 * speaks plain TCP and knows no MAC, so the rig puts this front before it: a TLS server
 * whose every connection is relayed to the simulator over loopback, checking the X9.19
 * MAC of each request from the switch (MTI to the byte before F64, under the upstream's
 * ZAK) and adding a signed F64 to each answer, as an issuer host with MACs would.
 * Network management (the sign-on, echoes) passes unsigned, as the switch expects.
 *
 * It runs in the rig process, so its cost (TLS, MACs, one more loopback hop) is the rig's,
 * never the switch's. Frames that arrive in one chunk leave in one write.
 */
import { connect, type Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { Len2Splitter } from './frames.js';
import { frameMacOk, hasMacField, macExempt, signFrameAt, withMac, X919 } from './secure.js';

export interface FrontCounters {
  connections: number;
  /** Requests (not network management) whose MAC was right. */
  macOk: number;
  /** Requests with a MAC field whose MAC was wrong. */
  macBad: number;
  /** Requests without a MAC field. */
  macMissing: number;
  /** Answers signed on their way to the switch. */
  signed: number;
  /** The negotiated TLS version and cipher of the last connection. */
  protocol: string | null;
  cipher: string | null;
}

export interface IssuerFront {
  readonly port: number;
  counters(): FrontCounters;
  close(): Promise<void>;
}

/** `zak` null: TLS only, frames pass as they are (requests then count as macMissing). */
export async function startIssuerFront(opts: { issuerPort: number; cert: string; key: string; zak: string | null }): Promise<IssuerFront> {
  const mac = opts.zak === null ? null : X919.fromHex(opts.zak);
  const c: FrontCounters = { connections: 0, macOk: 0, macBad: 0, macMissing: 0, signed: 0, protocol: null, cipher: null };
  const sockets = new Set<Socket>();

  const server: Server = createServer({ cert: readFileSync(opts.cert), key: readFileSync(opts.key) }, (tls: TLSSocket) => {
    c.connections++;
    c.protocol = tls.getProtocol();
    c.cipher = tls.getCipher()?.name ?? null;
    tls.setNoDelay(true);
    const plain = connect({ host: '127.0.0.1', port: opts.issuerPort });
    plain.setNoDelay(true);
    sockets.add(tls);
    sockets.add(plain);

    const toIssuer: Buffer[] = [];
    const fromSwitch = new Len2Splitter((f) => {
      const body = f.subarray(2);
      if (!macExempt(body)) {
        if (!hasMacField(body)) c.macMissing++;
        else if (mac !== null && frameMacOk(mac, f)) c.macOk++;
        else c.macBad++;
      }
      toIssuer.push(f);
    });
    const toSwitch: Buffer[] = [];
    const fromIssuer = new Len2Splitter((f) => {
      const body = f.subarray(2);
      if (mac === null || macExempt(body)) {
        toSwitch.push(f);
        return;
      }
      c.signed++;
      if (!hasMacField(body)) {
        toSwitch.push(withMac(mac, f));
      } else {
        const own = Buffer.from(f);
        signFrameAt(mac, own, 0, own.length);
        toSwitch.push(own);
      }
    });
    const drain = (out: Buffer[], to: Socket): void => {
      if (out.length === 0) return;
      to.write(out.length === 1 ? out[0] : Buffer.concat(out));
      out.length = 0;
    };
    tls.on('data', (chunk: Buffer) => { fromSwitch.push(chunk); drain(toIssuer, plain); });
    plain.on('data', (chunk: Buffer) => { fromIssuer.push(chunk); drain(toSwitch, tls); });
    const end = (): void => {
      tls.destroy();
      plain.destroy();
      sockets.delete(tls);
      sockets.delete(plain);
    };
    tls.on('close', end);
    plain.on('close', end);
    tls.on('error', end);
    plain.on('error', end);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('issuer front: no port');
  return {
    port: addr.port,
    counters: () => ({ ...c }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
