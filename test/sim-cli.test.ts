/**
 * `revswitch sim issuer` and `revswitch sim terminals` as child processes: the issuer
 * runs until SIGTERM and then prints its ledger; the terminals print their summary.
 * The CLI runs from source through tsx, so the test always exercises the current code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { LedgerSnapshot } from '../switch/sim/ledger.js';
import type { TerminalSummary } from '../switch/sim/terminals.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];
const FULL_PAN = /4761739001\d{6}/;

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<Exited> } {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out.stdout += c; });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { out.stderr += c; });
  const exited = new Promise<Exited>((resolve) => {
    child.on('close', (code) => resolve({ code, ...out }));
  });
  return { child, out, exited };
}

/** Waits until the child's stderr matches `re`, or fails at the deadline. */
function stderrMatch(child: ChildProcess, out: { stderr: string }, re: RegExp, timeoutMs = 20000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = re.exec(out.stderr);
      if (m) { cleanup(); resolve(m); }
      return m !== null;
    };
    const onData = (): void => { check(); };
    const onClose = (): void => { cleanup(); reject(new Error(`process exited before ${re}: ${out.stderr}`)); };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${re} on stderr within ${timeoutMs} ms: ${out.stderr}`)); }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('close', onClose);
    };
    // Registered after the collector in start(), so out.stderr already has the chunk.
    child.stderr?.on('data', onData);
    child.on('close', onClose);
    check();
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

t.test('issuer and terminals from the shell, ledger over HTTP and at exit', async (tt) => {
  const iss = start(['sim', 'issuer', '--listen', '127.0.0.1:0', '--ledger-http', '127.0.0.1:0', '--seed', '5',
    '--approve-rate', '0.8', '--latency-ms', '0-3']);
  tt.teardown(() => { if (iss.child.exitCode === null) iss.child.kill('SIGKILL'); });
  const port = Number((await stderrMatch(iss.child, iss.out, /listening on 127\.0\.0\.1:(\d+)/))[1]);
  const url = (await stderrMatch(iss.child, iss.out, /ledger at (http:\S+)/))[1];

  const term = start(['sim', 'terminals', '--target', `127.0.0.1:${port}`, '--tps', '20', '--duration', '1',
    '--connections', '2', '--chip-decline-rate', '0.2', '--magic-mix', '51=0.1', '--seed', '3', '--json']);
  const tr = await term.exited;
  tt.equal(tr.code, 0, tr.stderr);
  const summary = JSON.parse(tr.stdout) as TerminalSummary;
  tt.equal(summary.sent, 20);
  tt.equal(summary.terminals, 2);
  tt.equal(tr.stderr, '', 'no progress bar when stderr is not a TTY');

  const ledger = JSON.parse(await httpGet(url)) as LedgerSnapshot;
  tt.same(ledger.holds.map((h) => h.rrn).sort(), summary.approvedRrns);
  tt.equal(ledger.counters.requests, 20);

  const text = start(['sim', 'terminals', '--target', `127.0.0.1:${port}`, '--tps', '10', '--duration', '0.5', '--seed', '4']);
  const txt = await text.exited;
  tt.equal(txt.code, 0, txt.stderr);
  tt.match(txt.stdout, /sent 5 of 5 sales/);
  tt.match(txt.stdout, /latency from scheduled send \(ms, \d+ answered\): p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max/);

  iss.child.kill('SIGTERM');
  const ir = await iss.exited;
  tt.equal(ir.code, 0, ir.stderr);
  tt.match(ir.stdout, /issuer ledger at /);
  tt.match(ir.stdout, /requests 25: /);
  tt.match(ir.stdout, /holds: \d+ in place, [\d.]+ held; \d+ released/);
  for (const s of [ir.stdout, ir.stderr, tr.stdout, txt.stdout]) tt.notMatch(s, FULL_PAN, 'no full PAN printed');
});

for (const dialect of ['cup', 'iso93a']) {
  t.test(`sim issuer and sim terminals --dialect ${dialect} (issue 20: once refused)`, async (tt) => {
    const iss = start(['sim', 'issuer', '--listen', '127.0.0.1:0', '--ledger-http', '127.0.0.1:0', '--seed', '5', '--dialect', dialect,
      '--approve-rate', '0.8']);
    tt.teardown(() => { if (iss.child.exitCode === null) iss.child.kill('SIGKILL'); });
    const port = Number((await stderrMatch(iss.child, iss.out, new RegExp(`listening on 127\\.0\\.0\\.1:(\\d+) \\(dialect ${dialect},`)))[1]);
    const url = (await stderrMatch(iss.child, iss.out, /ledger at (http:\S+)/))[1];
    const term = start(['sim', 'terminals', '--target', `127.0.0.1:${port}`, '--tps', '20', '--duration', '1', '--dialect', dialect,
      '--connections', '2', '--chip-decline-rate', '0.3', '--magic-mix', '51=0.1', '--seed', '3', '--json']);
    const tr = await term.exited;
    tt.equal(tr.code, 0, tr.stderr);
    const summary = JSON.parse(tr.stdout) as TerminalSummary;
    tt.equal(summary.sent, 20);
    tt.equal(summary.outcomes.errors, 0);
    tt.ok(summary.outcomes.chipDeclined > 0, 'chip declines reversed');
    const ledger = JSON.parse(await httpGet(url)) as LedgerSnapshot;
    tt.same(ledger.holds.map((h) => h.rrn).sort(), summary.approvedRrns, 'holds = approvals kept');
    tt.equal(ledger.released.length, summary.outcomes.chipDeclined, 'every chip-declined sale released');
    iss.child.kill('SIGTERM');
    tt.equal((await iss.exited).code, 0);
  });
}

t.test('usage errors exit 2; a dialect the simulators cannot serve exits 1', async (tt) => {
  const run = (args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };
  let r = run(['sim']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /expected a subcommand: issuer or terminals/);
  r = run(['sim', 'terminals', '--tps', '5', '--duration', '1']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /--target is required/);
  r = run(['sim', 'terminals', '--target', '127.0.0.1:1', '--tps', 'x', '--duration', '1']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /--tps: expected a positive number/);
  r = run(['sim', 'terminals', '--target', '127.0.0.1:1', '--tps', '1', '--duration', '1', '--magic-mix', '42=0.1']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /--magic-mix/);
  r = run(['sim', 'issuer', '--listen', '127.0.0.1:0', '--approve-rate', '2']);
  tt.equal(r.status, 2);
  tt.match(r.stderr, /--approve-rate: expected a rate from 0 to 1/);
  r = run(['sim', 'issuer', '--listen', 'nohostport']);
  tt.equal(r.status, 2);
  r = run(['sim', 'issuer', '--listen', '127.0.0.1:0', '--latency-ms', '9-3']);
  tt.equal(r.status, 2);
  // Every built-in dialect is served; a derived one without what its standard needs is not.
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-sim-cli-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const no56 = join(dir, 'no56.json');
  writeFileSync(no56, JSON.stringify({ base: 'iso93a', fields: { 56: null } }));
  r = run(['sim', 'issuer', '--listen', '127.0.0.1:0', '--dialect', no56]);
  tt.equal(r.status, 1);
  tt.match(r.stderr, /the simulators cannot speak it: its standard \(ISO 8583:1993\) needs F56/);
  const help = spawnSync(process.execPath, [...CLI, 'help'], { cwd: ROOT, encoding: 'utf8' });
  tt.equal(help.status, 0);
  tt.match(help.stdout, /revswitch sim issuer --listen HOST:PORT/);
  tt.match(help.stdout, /revswitch sim terminals --target HOST:PORT --tps N --duration S/);
});
