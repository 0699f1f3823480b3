/**
 * Result files. Each suite run writes <dir>/<suite>-<timestamp>.json (kept as history)
 * and overwrites <dir>/<suite>-latest.json (what a guard reads). Both are written to a
 * .tmp.json first and renamed, so a reader never sees half a file.
 *
 * <dir> is bench/out/ (ignored by git) unless the run is recorded (`--record`): then
 * bench/results/, the files that are committed and that the README quotes. A bench run
 * to look at a figure thus leaves the work tree clean. BENCH_RESULTS_DIR overrides both.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './machine.js';

export function resultsDir(record = false): string {
  const fromEnv = process.env.BENCH_RESULTS_DIR;
  return fromEnv ? fromEnv : join(repoRoot(), 'bench', record ? 'results' : 'out');
}

/** ISO 8601 with ':' replaced by '-', so the name is valid on every file system. */
export function fileStamp(iso: string): string {
  return iso.replace(/:/g, '-');
}

function writeAtomic(path: string, text: string): void {
  const tmp = path.replace(/\.json$/, '') + `.${process.pid}.tmp.json`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export interface WrittenFiles {
  file: string;
  latest: string;
}

export function writeResult(suite: string, timestamp: string, result: unknown, dir = resultsDir()): WrittenFiles {
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(result, null, 2) + '\n';
  const file = join(dir, `${suite}-${fileStamp(timestamp)}.json`);
  const latest = join(dir, `${suite}-latest.json`);
  writeAtomic(file, text);
  writeAtomic(latest, text);
  return { file, latest };
}
