/**
 * The line `revswitch start` logs once it is up (issue 20): where it listens, its
 * upstreams, its store (password hidden), the admin server and the console's address.
 */
import t from 'tap';
import { readyLine, startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig } from '../switch/config/index.js';
import { createLogger } from '../switch/observe/log.js';
import { ensureConsoleBuilt } from './support/console-build.js';

t.test('the ready line names the listener, upstream, store, admin and console', async (tt) => {
  ensureConsoleBuilt();
  const cfg = defaultConfig();
  cfg.listeners[0].port = 0;
  cfg.store = 'memory:';
  cfg.admin = '127.0.0.1:0';
  cfg.logLevel = 'silent';
  cfg.panHashKey = 'ac406efdb04f5ee1dea5032d349c3167eb2a78bf4f5be19d354c185a34d4969f';
  const running = await startSwitch(cfg, createLogger('silent'));
  tt.teardown(() => running.stop());
  const line = readyLine(cfg, running);
  const admin = `http://127.0.0.1:${running.admin?.port}`;
  tt.match(line, `listening on 127.0.0.1:${running.sw.ports()[0]} (iso87a, len2)`);
  tt.match(line, /upstream demo-issuer 127\.0\.0\.1:\d+/);
  tt.match(line, 'store memory:');
  tt.match(line, `admin ${admin}/metrics; console ${admin}/`);
});

t.test('a password in the store URL is not in it', async (tt) => {
  const cfg = defaultConfig();
  cfg.store = 'postgres://rev:s3cret@db.example/revswitch';
  cfg.upstreams = [];
  const fake = { sw: { ports: () => [8583] }, admin: null, issuer: null } as unknown as Parameters<typeof readyLine>[1];
  const line = readyLine(cfg, fake);
  tt.notMatch(line, 's3cret');
  tt.match(line, 'upstream none');
  tt.match(line, 'admin off');
});
