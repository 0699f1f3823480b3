/**
 * A TCP load balancer in miniature, for the simulators: each terminal connection goes to
 * the first switch node (of the list, or of what the function answers now) that accepts
 * it. Used where several nodes serve one terminal population (the two-node test, the
 * soak in bench/).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP load balancer in miniature: each connection goes to the first port (of `ports()` now) that accepts it. */
export async function balancer(list: number[] | (() => number[])): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const ports = typeof list === 'function' ? list() : list;
    const attempt = (i: number): void => {
      if (i >= ports.length) {
        client.destroy();
        return;
      }
      const up = connect({ host: '127.0.0.1', port: ports[i] });
      sockets.add(up);
      // Only errors before the connection is made land here: the next backend is tried.
      up.once('error', () => {
        sockets.delete(up);
        attempt(i + 1);
      });
      up.once('connect', () => {
        up.removeAllListeners('error');
        up.on('error', () => client.destroy());
        up.on('close', () => { sockets.delete(up); client.destroy(); });
        client.on('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
