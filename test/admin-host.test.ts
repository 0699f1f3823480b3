/**
 * The admin server answers only to its own names (DNS rebinding: a web page on the host
 * that resolves its own name to 127.0.0.1 sends that name as Host): localhost, 127.0.0.1,
 * [::1], the address it is bound to, and admin.hosts. Anything else, or no Host, is refused (421).
 */
import { request } from 'node:http';
import t from 'tap';
import { Registry } from 'prom-client';
import { AdminServer } from '../switch/observe/admin.js';
import { createLogger } from '../switch/observe/log.js';

function get(port: number, host: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === null ? {} : { host };
    const req = request({ host: '127.0.0.1', port, path: '/healthz', headers, setHost: host !== null }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('Host: its own names and admin.hosts are answered; any other name, or none, gets 421', async (tt) => {
  const admin = new AdminServer({
    host: '127.0.0.1', port: 0, registry: new Registry(), ready: async () => ({ ready: true, reasons: [] }), log: createLogger('silent'),
    hosts: ['switch-1.ops.example'],
  });
  await admin.start();
  tt.teardown(() => admin.stop());
  const p = admin.port;
  tt.equal(await get(p, `127.0.0.1:${p}`), 200, 'the bound address');
  tt.equal(await get(p, `localhost:${p}`), 200, 'localhost');
  tt.equal(await get(p, `LOCALHOST:${p}`), 200, 'in any case');
  tt.equal(await get(p, `[::1]:${p}`), 200, 'the IPv6 loopback');
  tt.equal(await get(p, `switch-1.ops.example:${p}`), 200, 'a name in admin.hosts');
  tt.equal(await get(p, `attacker.example:${p}`), 421, 'a name the page came from');
  tt.equal(await get(p, 'attacker.example'), 421, 'without a port too');
  tt.equal(await get(p, `127.0.0.1.attacker.example:${p}`), 421, 'a name that only begins like one of its own');
  const none = await get(p, null);
  tt.ok(none === 400 || none === 421, `no Host at all is refused (${none}: Node answers an HTTP/1.1 request without one 400 itself)`);
});
