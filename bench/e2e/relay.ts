/**
 * The baseline: a bare len2 relay. Frames in from a client connection go out unchanged
 * on an upstream connection, and frames from upstream go back to that client. No decode,
 * no matching, no transaction table, no timers.
 *
 * Routing: one upstream socket per client connection, opened when the client connects.
 * Answers then route back by connection, whatever order the issuer answers in, without
 * the relay looking inside a message (a FIFO per connection would be wrong as soon as
 * the issuer answers out of order, and keying on F11 bytes at a fixed offset would be
 * parsing, which is the switch's job). The cost of this choice: the issuer sees as many
 * connections as the relay has clients (8 in the suite) where the switch uses one link.
 *
 * Each frame is written with its own socket.write, as the switch writes each message:
 * a relay that forwarded whole chunks would be measuring a different thing (fewer
 * syscalls per message). Backpressure: a full socket pauses the other side until it
 * drains.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Len2Splitter } from './frames.js';

export interface Relay {
  readonly port: number;
  stats(): { connections: number; framesIn: number; framesOut: number };
  close(): Promise<void>;
}

function pipeFrames(from: Socket, to: Socket, count: () => void): void {
  const splitter = new Len2Splitter((frame) => {
    count();
    if (!to.write(frame)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('data', (chunk: Buffer) => splitter.push(chunk));
}

export async function startRelay(upstream: { host: string; port: number }, port = 0): Promise<Relay> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let framesIn = 0;
  let framesOut = 0;
  const server: Server = createServer((client) => {
    connections++;
    const up = connect({ host: upstream.host, port: upstream.port });
    client.setNoDelay(true);
    up.setNoDelay(true);
    sockets.add(client);
    sockets.add(up);
    pipeFrames(client, up, () => { framesIn++; });
    pipeFrames(up, client, () => { framesOut++; });
    const done = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    for (const s of [client, up]) {
      s.on('error', done);
      s.on('close', done);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    stats: () => ({ connections, framesIn, framesOut }),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
