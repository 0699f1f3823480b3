/**
 * The fuzz targets by name. Loaded on demand: a worker imports only the target it runs.
 */
import type { FuzzTarget } from '../target.js';

type Loader = () => Promise<{ target: FuzzTarget }>;

const TARGETS: Record<string, Loader> = {
  decode: () => import('./decode.js'),
  framing: () => import('./framing.js'),
  tlv: () => import('./tlv.js'),
  subfields: () => import('./subfields.js'),
  'dialect-file': () => import('./dialect-file.js'),
  config: () => import('./config.js'),
  rules: () => import('./rules.js'),
  settlement: () => import('./settlement.js'),
};

/** For the engine's own tests; `all` leaves them out. */
const TEST_TARGETS: Record<string, Loader> = {
  'toy-magic': () => import('./toy-magic.js'),
  'toy-hang': async () => ({ target: (await import('./toy-faults.js')).hang }),
  'toy-oom': async () => ({ target: (await import('./toy-faults.js')).oom }),
  'toy-alloc': async () => ({ target: (await import('./toy-faults.js')).alloc }),
};

/** Every target `npm run fuzz -- all` runs, in order. */
export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

export function isTarget(name: string): boolean {
  return Object.hasOwn(TARGETS, name) || Object.hasOwn(TEST_TARGETS, name);
}

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = Object.hasOwn(TARGETS, name) ? TARGETS[name] : Object.hasOwn(TEST_TARGETS, name) ? TEST_TARGETS[name] : undefined;
  if (load === undefined) throw new Error(`no fuzz target "${name}"; targets: ${TARGET_NAMES.join(', ')}`);
  return (await load()).target;
}
