/**
 * Files that hold card data (sealed) or card-related events are the owner's alone: the
 * SQLite journal, its -wal and -shm, and its directory; the event files; the NATS spool's
 * segments. Created 0600 (directories 0700), whatever the umask allows beyond; one that
 * exists wider is named with the chmod that fixes it (widerThanOwner, warned at start).
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FileSink } from '../switch/observe/events/emitter.js';
import { Spool } from '../switch/observe/events/spool.js';
import { widerThanOwner } from '../switch/store/file-modes.js';
import { SqliteStore } from '../switch/store/index.js';
import { txnRow } from './support/store-contract.js';

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

t.test('the journal, its WAL and its directory are created owner-only', async (tt) => {
  const base = mkdtempSync(join(tmpdir(), 'revswitch-modes-'));
  tt.teardown(() => rmSync(base, { recursive: true, force: true }));
  const old = process.umask(0o022); // the usual umask, which would leave them 0644
  tt.teardown(() => { process.umask(old); });
  const db = join(base, 'data', 'revswitch.db');
  const store = new SqliteStore(`sqlite:${db}`, { inline: true });
  await store.open();
  await store.insertTxn(txnRow('m1'));
  await store.flush();
  tt.equal(mode(join(base, 'data')), '700', 'the directory');
  tt.equal(mode(db), '600', 'the database');
  tt.equal(mode(`${db}-wal`), '600', 'its WAL, as SQLite gives it the database file\'s mode');
  tt.equal(mode(`${db}-shm`), '600', 'its shared memory');
  tt.same(widerThanOwner(db), [], 'nothing to warn about');
  await store.close();
  chmodSync(db, 0o644);
  tt.same(widerThanOwner(db), [{ path: db, mode: '0644', fix: `chmod 600 ${db}` }], 'one made wider is named, with its fix');
});

t.test('event files and spool segments are created owner-only', async (tt) => {
  const base = mkdtempSync(join(tmpdir(), 'revswitch-modes-'));
  tt.teardown(() => rmSync(base, { recursive: true, force: true }));
  const old = process.umask(0o022);
  tt.teardown(() => { process.umask(old); });
  const sink = new FileSink({ dir: join(base, 'events'), fsync: false });
  await sink.write([new Uint8Array([1, 2, 3])]);
  tt.equal(mode(join(base, 'events')), '700');
  tt.equal(mode(sink.currentFile()), '600');
  await sink.close();
  const spool = await Spool.open(join(base, 'spool'));
  await spool.append([new Uint8Array([4, 5, 6])]);
  const seg = (await import('node:fs')).readdirSync(join(base, 'spool')).find((f) => f.startsWith('segment-'));
  tt.ok(seg, 'a segment was written');
  tt.equal(mode(join(base, 'spool', seg as string)), '600');
  await spool.close();
});
