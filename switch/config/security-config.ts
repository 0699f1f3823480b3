/**
 * The config's MAC, PIN and key store settings: a listener's or upstream's `mac`, a
 * listener's `translatePin`, an upstream's `keyChange`, and the top-level `security`.
 * A MAC or a PIN translation without a key store could only fail at the first message,
 * so it stops the start instead, naming the path.
 */
import type { Reader } from './reader.js';
import { MAC_ALGORITHM_NAMES, type MacAlgorithmName, type MacConfig, type SecurityConfig, type SwitchConfig } from './types.js';

type Json = Record<string, unknown>;

const MAC_KEYS = ['algorithm', 'key', 'required', 'fields'] as const;
const SECURITY_KEYS = ['keyStore', 'masterKeyFile', 'macOverlapMs'] as const;

export function macFromJson(r: Reader, v: unknown, p: string): MacConfig {
  const o = r.obj(v, p);
  r.keys(o, p, MAC_KEYS);
  if (typeof o.algorithm !== 'string' || !MAC_ALGORITHM_NAMES.includes(o.algorithm as MacAlgorithmName)) {
    r.fail(`${p}.algorithm`, MAC_ALGORITHM_NAMES.map((a) => `"${a}"`).join(' | '), o.algorithm);
  }
  let fields: number[] | null = null;
  if (o.fields !== undefined && o.fields !== null) {
    fields = r.ints(o.fields, `${p}.fields`, 2, 192);
    if (fields.includes(64) || fields.includes(128)) r.fail(`${p}.fields`, 'fields other than the MAC fields 64 and 128', fields);
  }
  return {
    algorithm: o.algorithm as MacAlgorithmName,
    // The key id is a name, not a value: it is shown in errors like any other string.
    key: o.key === undefined || o.key === null ? null : r.str(o.key, `${p}.key`),
    required: o.required === undefined ? true : r.bool(o.required, `${p}.required`),
    fields,
  };
}

export function securityFromJson(r: Reader, v: unknown): SecurityConfig {
  const o = r.obj(v, 'security');
  r.keys(o, 'security', SECURITY_KEYS);
  return {
    keyStore: o.keyStore === undefined || o.keyStore === null ? null : r.str(o.keyStore, 'security.keyStore'),
    masterKeyFile: o.masterKeyFile === undefined || o.masterKeyFile === null ? null : r.str(o.masterKeyFile, 'security.masterKeyFile'),
    macOverlapMs: o.macOverlapMs === undefined ? 60_000 : r.int(o.macOverlapMs, 'security.macOverlapMs', 0, 86_400_000),
  };
}

export function keyChangeFromJson(r: Reader, v: unknown, p: string): { field: 'F48' | 'F96' } {
  const o = r.obj(v, p);
  r.keys(o, p, ['field']);
  if (o.field !== 'F48' && o.field !== 'F96') r.fail(`${p}.field`, '"F48" or "F96"', o.field);
  return { field: o.field as 'F48' | 'F96' };
}

/** Every MAC and PIN translation needs the key store; checked once the whole file is read. */
export function checkKeysConfigured(r: Reader, c: SwitchConfig, o: Json): void {
  if (c.security.keyStore !== null) return;
  const needs = [
    ...c.listeners.flatMap((l, i) => [...(l.mac ? [`listeners[${i}].mac`] : []), ...(l.translatePin ? [`listeners[${i}].translatePin`] : [])]),
    ...c.upstreams.flatMap((u, i) => (u.mac ? [`upstreams[${i}].mac`] : [])),
  ];
  if (needs.length > 0) r.fail('security.keyStore', `the key store file its keys come from (${needs.join(', ')} need keys)`, o.security === undefined ? undefined : null);
}
