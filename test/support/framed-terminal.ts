/** A terminal in any dialect on one connection: request() waits for the answer with the same F11. */
import { connect } from 'node:net';
import type { Dialect, IsoMessage } from '../../codec/index.js';
import { FramedConn } from '../../switch/edge/framed-conn.js';

export interface FramedTerminal {
  request(m: IsoMessage): Promise<IsoMessage>;
  close(): void;
}

export async function framedTerminal(d: Dialect, port: number, maxFrame = 8192): Promise<FramedTerminal> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const conn = new FramedConn(socket, { dialect: d, framing: 'len2', maxFrame });
  const waiting = new Map<string, (m: IsoMessage) => void>();
  conn.onMessage = (m) => {
    const w = waiting.get(m.get(11) ?? '');
    waiting.delete(m.get(11) ?? '');
    w?.(m);
  };
  return {
    request: (m) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${m.mti} ${m.get(11)}`)), 10_000);
      waiting.set(m.get(11) ?? '', (res) => { clearTimeout(timer); resolve(res); });
      conn.send(m);
    }),
    close: () => conn.close(),
  };
}
