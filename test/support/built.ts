/**
 * How tests run a program of ours as a child process: the built file in dist/ when it is
 * newer than every source it comes from, else the TypeScript source through tsx, so a
 * test always exercises the current code without building in the middle of a run.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'results') newest = Math.max(newest, newestSource(p));
    } else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** node arguments for `entry` (e.g. 'switch/cli/main'), built from the source folders `from`. */
export function nodeArgsFor(entry: string, from: readonly string[] = ['codec', 'rules', 'switch']): string[] {
  const dist = join(ROOT, 'dist', `${entry}.js`);
  const fresh = existsSync(dist) && statSync(dist).mtimeMs >= Math.max(...from.map((d) => newestSource(join(ROOT, d))));
  return fresh ? [dist] : ['--import=tsx', join(ROOT, `${entry}.ts`)];
}

/** A TCP port free on 127.0.0.1 a moment ago (for a child that must reuse it after a restart). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
