/**
 * `revswitch reconcile` from the shell, on a SQLite store: the text report (totals per
 * class and currency, each difference with its evidence and fix), --out CSV, a dry run
 * that changes nothing, --apply and --list; a malformed file exits 1 naming the line and
 * column with nothing applied; bad flags exit 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { connectStore } from '../switch/store/index.js';
import { txnRow } from './support/store-contract.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import=tsx', join(ROOT, 'switch', 'cli', 'main.ts')];
const DATE = '2026-12-03';
const AT = Date.UTC(2026, 11, 3, 10);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, 'reconcile', ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HEADER = 'business_date,rrn,terminal,stan,f7,amount_minor,currency,type';

t.test('reconcile from the shell', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-recon-cli-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `sqlite:${join(dir, 'journal.db')}`;
  const store = await connectStore(url, { inline: true });
  const sealed = JSON.stringify({ mti: '0200', 7: '1203100000', 11: '000701' });
  await store.insertTxn(txnRow('t-kept', { state: 'approved', rrn: '337100000001', upstreamStan: '000701', f7: '1203100000', amount: '000000001000', businessDate: DATE, createdAt: AT, sealed }));
  await store.insertTxn(txnRow('t-missing', { state: 'approved', rrn: '337100000002', upstreamStan: '000702', f7: '1203100001', amount: '000000002000', businessDate: DATE, createdAt: AT + 1, sealed }));
  await store.flush();
  await store.close();

  const good = join(dir, 'good.csv');
  writeFileSync(good, [HEADER, `${DATE},337100000001,TERM0001,000701,1203100000,1000,978,sale`, `${DATE},337199999999,TERM0009,000999,1203100009,777,978,sale`].join('\n') + '\n');
  const out = join(dir, 'differences.csv');
  const dry = cli(['--file', good, '--store', url, '--upstream', 'issuer', '--out', out]);
  tt.equal(dry.status, 0, dry.stderr);
  tt.match(dry.stdout, /business date 2026-12-03, upstream issuer/, 'the report names the date and upstream');
  tt.match(dry.stdout, /matched\s+978\s+1\s+1\s+1000\s+1000/, 'totals per class and currency, in minor units');
  tt.match(dry.stdout, /missing_at_issuer\s+978\s+1\s+0\s+2000\s+0/);
  tt.match(dry.stdout, /unknown_to_switch\s+978\s+0\s+1\s+0\s+777/);
  tt.match(dry.stdout, /missing_at_issuer .*rrn 337100000002.*\[txn t-missing\]\n\s+-> review: the journal kept an approval of 2000/, 'each difference with its evidence and its fix');
  tt.match(dry.stdout, /nothing applied \(dry run\)/);
  const csv = readFileSync(out, 'utf8').trim().split('\n');
  tt.equal(csv.length, 3, 'the CSV has a header and both differences');
  tt.match(csv[1], /^missing_at_issuer,978,t-missing,/);
  tt.same(JSON.parse(cli(['--list', '--store', url, '--json']).stdout), [], 'a dry run records nothing');

  const applied = cli(['--file', good, '--store', url, '--upstream', 'issuer', '--apply', '--by', 'ops-anna']);
  tt.equal(applied.status, 0, applied.stderr);
  tt.match(applied.stdout, /applied: 0 refund\(s\) queued \(0 already in the queue\), 2 review item\(s\) raised/);
  const list = cli(['--list', '--store', url]);
  tt.match(list.stdout, /recon\|2026-12-03\|[0-9a-f]{12}\|\d+ .* 2026-12-03 {2}issuer {2}good\.csv \(csv, 2 records, sha256 [0-9a-f]{16}…\) {2}queued 0 refund\(s\), 2 review\(s\) {2}by ops-anna/, '--list shows the run');

  // A malformed file: exit 1, the line and column named, nothing applied.
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, [HEADER, `${DATE},337100000001,TERM0001,000701,1203100000,1000,978,sale`, `${DATE},337100000002,TERM0001,000702,1203100001,12.50,978,sale`].join('\n') + '\n');
  const r = cli(['--file', bad, '--store', url, '--apply']);
  tt.equal(r.status, 1, 'exit 1');
  tt.match(r.stderr, /line 3, column amount_minor: .*integer.*\(nothing applied\)/, r.stderr);
  tt.equal((JSON.parse(cli(['--list', '--store', url, '--json']).stdout) as unknown[]).length, 1, 'no run recorded for it');
  const other = cli(['--file', good, '--store', url, '--date', '2026-12-04']);
  tt.equal(other.status, 1, 'a file of another date than asked is refused');
  tt.match(other.stderr, /line 2, column business_date: 2026-12-03 is not the business date asked \(2026-12-04\)/);

  tt.equal(cli(['--store', url]).status, 2, '--file is required');
  tt.equal(cli(['--file', good, '--date', '3.12.2026']).status, 2, 'a bad --date is a usage error');
  tt.equal(cli(['--file', good, '--bogus']).status, 2, 'an unknown flag too');
});
