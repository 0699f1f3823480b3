/** Where a result came from: the machine, the runtime and the exact code measured. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  availableParallelism: number;
  cpuSpeedMHz: number;
  totalMemoryBytes: number;
  platform: string;
  arch: string;
  kernel: string;
  osVersion: string;
  /** 1, 5 and 15 minute load averages when the run started: a busy box explains noise. */
  loadAverage: number[];
}

export interface RuntimeInfo {
  node: string;
  v8: string;
  execArgv: string[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuSpeedMHz: cpus[0]?.speed ?? 0,
    totalMemoryBytes: os.totalmem(),
    platform: os.platform(),
    arch: os.arch(),
    kernel: os.release(),
    osVersion: os.version(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function runtimeInfo(): RuntimeInfo {
  return { node: process.version, v8: process.versions.v8, execArgv: [...process.execArgv] };
}

/**
 * The repository root: the nearest directory above this file whose package.json is
 * revswitch's. Works from bench/lib (tsx) and dist/bench/lib (compiled) alike.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'revswitch') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

/**
 * `git rev-parse HEAD`, plus "+dirty" when the working tree differs from it, or
 * "unknown" outside a repository. bench/results is left out of the dirty check: the
 * result files this harness writes must not mark the code they measured as modified.
 */
export function gitCommit(cwd = repoRoot()): string {
  const head = git(['rev-parse', 'HEAD'], cwd);
  if (!head) return 'unknown';
  const status = git(['status', '--porcelain', '--', '.', ':(exclude)bench/results'], cwd);
  return status === null || status !== '' ? `${head}+dirty` : head;
}
