/**
 * A host in any dialect: approves postings (with an approval code) and acknowledges
 * reversals and network management, in the dialect's own approval code; keeps every
 * message it took. `silent` names messages it never answers (a timeout upstream).
 */
import { createServer, type Server } from 'node:net';
import { profileOf, responseTo, type Dialect, type IsoMessage } from '../../codec/index.js';
import { FramedConn } from '../../switch/edge/framed-conn.js';

export interface FramedHost {
  server: Server;
  port: number;
  seen: IsoMessage[];
}

export function framedHost(d: Dialect, opts: { maxFrame?: number; silent?: (m: IsoMessage) => boolean } = {}): Promise<FramedHost> {
  const seen: IsoMessage[] = [];
  const ok = profileOf(d).localCodes.approved;
  const server = createServer((socket) => {
    const conn = new FramedConn(socket, { dialect: d, framing: 'len2', maxFrame: opts.maxFrame ?? 8192 });
    conn.onMessage = (msg) => {
      seen.push(msg);
      if (opts.silent?.(msg)) return;
      const res = responseTo(d, msg, ok);
      if (msg.mti[1] === '1' || msg.mti[1] === '2') res.set(38, 'A1B2C3');
      conn.send(res);
    };
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, port: typeof a === 'object' && a ? a.port : 0, seen });
  }));
}
