/**
 * What the console's browser test and screenshot script need before they start: the
 * built bundle (scripts/build-console.js, run here when dist/ lacks it or any source in
 * switch/console/web is newer), and the chromium to drive (`command -v chromium`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './built.js';

export const CONSOLE_STATIC = join(ROOT, 'dist/switch/console/static');
const WEB = join(ROOT, 'switch/console/web');

function newest(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n = Math.max(n, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return n;
}

/** Builds the console unless dist/ holds a build newer than every source; throws with esbuild's output when the build fails. */
export function ensureConsoleBuilt(): void {
  const index = join(CONSOLE_STATIC, 'index.html');
  const app = join(CONSOLE_STATIC, 'assets/app.js');
  if (existsSync(index) && existsSync(app) && statSync(app).mtimeMs >= newest(WEB)) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-console.js')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-console.js failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/** The chromium on PATH, or null. */
export function chromiumPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p !== '' && existsSync(p) ? p : null;
}
