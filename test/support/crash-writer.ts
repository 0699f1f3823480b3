/**
 * Runs test/fixtures/store-crash-writer.ts on a store URL until it reported `want`
 * resolved writes, then SIGKILLs it, and returns the ids it reported: the contract's
 * crashWriter hook, for any store a URL names (SQLite, PostgreSQL).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function crashWriter(url: string, want = 300): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'store-crash-writer.ts'), url], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ids: string[] = [];
    let buf = '';
    let err = '';
    let killed = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`crash writer: ${ids.length} ids after 60 s; stderr: ${err}`)); }, 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (killed) return;
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      ids.push(...lines);
      if (ids.length >= want) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(ids);
      else reject(new Error(`crash writer exited on its own (code ${code}, signal ${signal}): ${err}`));
    });
  });
}
