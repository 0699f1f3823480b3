// Copies the non-TypeScript files the compiled code loads at run time into dist/, next to
// the .js that loads them: the lifecycle event schema (switch/observe/events/events.proto).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const assets = ['switch/observe/events/events.proto'];

for (const rel of assets) {
  const to = join(root, 'dist', rel);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(root, rel), to);
}
