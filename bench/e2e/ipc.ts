/**
 * The e2e suite runs its pieces in child processes (see ../suites/e2e.ts for what runs
 * where). This is the little request/response protocol between the suite and them, over
 * Node's IPC channel: the parent sends { id, cmd, args }, the child answers { id, ok,
 * result | error }. A child may also send unsolicited { event, ... } messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The child scripts, next to this module (compiled: .js beside .js). */
export const TARGET_SCRIPT = join(HERE, 'target-main.js');
export const RIG_SCRIPT = join(HERE, 'rig-main.js');

export interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

export interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ChildEvent {
  event: string;
  [k: string]: unknown;
}

export type Handler = (args: never) => unknown;

/** Child side: serves commands until the parent disconnects (then exits). */
export function serve(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('this module is a child process of the e2e bench suite; run `npm run bench -- e2e`');
  process.on('message', (raw: Request) => {
    const h = handlers[raw.cmd];
    const reply = (r: Omit<Reply, 'id'>): void => { process.send?.({ id: raw.id, ...r }); };
    if (!h) { reply({ ok: false, error: `unknown command ${raw.cmd}` }); return; }
    Promise.resolve()
      .then(() => h(raw.args as never))
      .then(
        (result) => reply({ ok: true, result }),
        (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Sends an unsolicited event to the parent. */
export function emitEvent(e: ChildEvent): void {
  process.send?.(e);
}

let tasksetOk: boolean | null = null;

/** Whether `taskset` exists and this machine has at least 2 CPUs to give out. */
export function canPin(cpuCount: number): boolean {
  if (tasksetOk === null) {
    try {
      execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore', timeout: 5000 });
      tasksetOk = true;
    } catch {
      tasksetOk = false;
    }
  }
  return tasksetOk && cpuCount >= 2;
}

export interface ChildOptions {
  /** Pin the process (every thread it starts) to this CPU with taskset. */
  cpu?: number;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  execArgv?: string[];
  name: string;
}

/** A child process serving commands. */
export class Child {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; cmd: string }>();
  private readonly exited: Promise<number | null>;
  onEvent: (e: ChildEvent) => void = () => {};

  constructor(script: string, readonly opts: ChildOptions) {
    const nodeArgs = [...(opts.execArgv ?? []), script];
    const [cmd, args] = opts.cpu === undefined
      ? [process.execPath, nodeArgs]
      : ['taskset', ['-c', String(opts.cpu), process.execPath, ...nodeArgs]];
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.proc.on('message', (m: Reply | ChildEvent) => {
      if ('event' in m) { this.onEvent(m); return; }
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${opts.name}: ${w.cmd} failed: ${m.error}`));
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code) => {
        for (const w of this.waiting.values()) w.reject(new Error(`${opts.name}: exited (code ${code}) during ${w.cmd}`));
        this.waiting.clear();
        resolve(code);
      });
    });
  }

  call<T>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, cmd });
      this.proc.send({ id, cmd, args } satisfies Request, (err) => {
        if (err) {
          this.waiting.delete(id);
          reject(new Error(`${this.opts.name}: cannot send ${cmd}: ${err.message}`));
        }
      });
    });
  }

  /** Disconnects (the child exits on its own) and waits; kills it after graceMs. */
  async close(graceMs = 10_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
