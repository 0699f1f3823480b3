/** The one HOST:PORT parser (switch/config/host-port.ts) and the places that use it. */
import t from 'tap';
import { addressOf, ConfigError, configFromJson, HostPortError, parseHostPort } from '../switch/config/index.js';
import { parseAdminAddress } from '../switch/observe/admin.js';

t.test('the forms it takes', async (tt) => {
  tt.same(parseHostPort('10.0.0.1:8583'), { host: '10.0.0.1', port: 8583 });
  tt.same(parseHostPort('issuer.example:8583'), { host: 'issuer.example', port: 8583 });
  tt.same(parseHostPort('[::1]:8583'), { host: '::1', port: 8583 }, 'IPv6 in brackets');
  tt.same(parseHostPort('[2001:db8::7]:0'), { host: '2001:db8::7', port: 0 });
  tt.same(parseHostPort(':9464'), { host: '127.0.0.1', port: 9464 }, 'the default host');
  tt.same(parseHostPort('9464'), { host: '127.0.0.1', port: 9464 }, 'a bare port');
  tt.same(parseHostPort(':1', { defaultHost: '0.0.0.0' }), { host: '0.0.0.0', port: 1 });
});

t.test('what it refuses, saying why', async (tt) => {
  const bad = (text: string, rules: Parameters<typeof parseHostPort>[1], pattern: RegExp): void => {
    tt.throws(() => parseHostPort(text, rules), HostPortError);
    try { parseHostPort(text, rules); } catch (e) { tt.match((e as Error).message, pattern, text); }
  };
  bad('::1:8583', {}, /IPv6 address goes in brackets/);
  bad('[::1]8583', {}, /expected \[IPV6\]:PORT/);
  bad('[]:8583', {}, /expected \[IPV6\]:PORT/);
  bad('host:65536', {}, /port from 0 to 65535/);
  bad('host:0', { allowZero: false }, /port from 1 to 65535/);
  bad('host:', {}, /port from 0/);
  bad('host:12a', {}, /port from 0/);
  bad('8583', { allowBarePort: false }, /expected HOST:PORT/);
  bad('my host:8583', {}, /a host name or address/);
});

t.test('the config file, the flags and the admin address read addresses alike', async (tt) => {
  tt.same(addressOf('[::1]:1', '--listen'), { host: '::1', port: 1 });
  tt.throws(() => addressOf('x:99999', '--listen'), ConfigError);
  try { addressOf('x:99999', '--listen'); } catch (e) { tt.match((e as Error).message, /^command line: --listen: expected HOST:PORT/); }
  tt.throws(() => configFromJson({ admin: '::1:9464' }, 'switch.json'), /switch\.json: admin: an IPv6 address goes in brackets/);
  tt.same(configFromJson({ admin: '[::1]:9464' }, 'switch.json').admin, '[::1]:9464');
  tt.same(parseAdminAddress('[::1]:9464'), { host: '::1', port: 9464 });
  tt.equal(parseAdminAddress('off'), null);
});
