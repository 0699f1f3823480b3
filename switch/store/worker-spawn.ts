/**
 * Starting one of the store's worker threads (./sqlite-worker.ts, ./sqlite-report-worker.ts).
 * Compiled, a worker is its .js beside this file. From the TypeScript sources (tests and
 * tools run under tsx), tsx's loader does not carry over into worker threads on Node 20,
 * so a one-line bootstrap registers it there first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` without extension, e.g. "sqlite-worker". */
export function spawnWorker(name: string, workerData: unknown, opts: Omit<WorkerOptions, 'workerData' | 'eval'> = {}): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { ...opts, workerData });
  const entry = new URL(`./${name}.ts`, import.meta.url);
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    return new Worker(entry, { ...opts, workerData }); // another loader: hope it reaches workers
  }
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { ...opts, eval: true, workerData });
}
