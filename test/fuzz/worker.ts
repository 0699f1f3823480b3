/**
 * The thread a target runs in. The runner starts it with resource limits and watches the
 * input slot; the worker fuzzes (or replays given inputs once each) and reports stats,
 * new corpus entries and the outcome as messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineResult, type EngineStats } from './engine.js';
import { InputSlot } from './slot.js';
import { describeThrown } from './target.js';
import { loadTarget } from './targets/index.js';

export interface WorkerInput {
  target: string;
  /** fuzz: the engine's loop; replay: each seed once, no mutation. */
  mode: 'fuzz' | 'replay';
  seeds: Uint8Array[];
  seed: number;
  deadline: number;
  maxExecs: number;
  feedback: boolean;
  allocLimit: number;
  slot: SharedArrayBuffer;
  scratch: string;
}

export type WorkerMessage =
  | { type: 'stats'; stats: EngineStats }
  | { type: 'entry'; input: Uint8Array }
  | { type: 'done'; result: EngineResult };

const port = parentPort;
if (port === null) throw new Error('test/fuzz/worker.ts runs as a worker thread');
const data = workerData as WorkerInput;
const send = (m: WorkerMessage): void => port.postMessage(m);

const target = await loadTarget(data.target);
await target.setup?.(data.scratch);
const slot = new InputSlot(data.slot);
const seeds = data.seeds.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));

if (data.mode === 'replay') {
  const started = Date.now();
  let finding: EngineResult['finding'] = null;
  for (const input of seeds) {
    slot.begin(input);
    try {
      await target.run(input);
    } catch (e) {
      finding = { kind: 'crash', message: describeThrown(e), input };
      break;
    } finally {
      slot.end();
    }
  }
  send({ type: 'done', result: { stats: { execs: seeds.length, blocks: 0, corpus: 0, ms: Date.now() - started }, finding } });
} else {
  const engine = new Engine(target, data, {
    beforeRun: (input) => slot.begin(input),
    afterRun: () => slot.end(),
    onEntry: (input) => send({ type: 'entry', input: Uint8Array.from(input) }),
    onStats: (stats) => send({ type: 'stats', stats }),
  });
  send({ type: 'done', result: await engine.run(seeds) });
}
