/**
 * The worker thread that owns the SQLite connection, so no synchronous database call
 * (above all the fsync of a commit) ever runs on the switch's event loop. It opens the
 * database from workerData, answers request 0 with the schema version (or the reason it
 * could not open), then serves batches, reads and close, one message at a time.
 *
 * Protocol (./sqlite.ts is the other side): requests are { id, kind, ... }; every
 * request gets exactly one reply { id, ok: true, value } or { id, ok: false, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { StoreRead } from './backend.js';
import { SqliteEngine, type SqliteEngineOptions } from './sqlite-engine.js';
import type { StoreOp } from './types.js';

export type WorkerRequest =
  | { id: number; kind: 'batch'; ops: StoreOp[] }
  | { id: number; kind: 'read'; read: StoreRead }
  | { id: number; kind: 'close' };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts runs as a worker thread only');

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

let engine: SqliteEngine | null = null;
try {
  engine = new SqliteEngine(workerData as SqliteEngineOptions);
  port.postMessage({ id: 0, ok: true, value: engine.schemaVersion } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ id: 0, ok: false, error: errorText(e) } satisfies WorkerReply);
}

port.on('message', (m: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    if (engine === null) throw new Error('the database is not open');
    switch (m.kind) {
      case 'batch':
        reply = { id: m.id, ok: true, value: engine.runBatch(m.ops) };
        break;
      case 'read':
        reply = { id: m.id, ok: true, value: engine.read(m.read) };
        break;
      case 'close':
        engine.close();
        engine = null;
        reply = { id: m.id, ok: true, value: null };
        break;
    }
  } catch (e) {
    reply = { id: m.id, ok: false, error: errorText(e) };
  }
  port.postMessage(reply);
});
