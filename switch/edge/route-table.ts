/**
 * The routing table as data: which rule a sale meets, from its PAN, processing code (F3)
 * and institution ids (F32, F33). It knows nothing of links being up or down (./router.ts
 * adds that), so `revswitch route` can explain a rule without a running switch.
 */
import type { RouteConfig } from '../config/index.js';

/** What a rule looks at in a sale. */
export interface RouteFields {
  pan?: string;
  processingCode?: string;
  acquirer?: string;
  forwarder?: string;
}

/** The implicit table when the config has none: every sale, every upstream in config order. */
export function defaultRoutes(upstreams: readonly string[]): RouteConfig[] {
  return [{ name: 'default', pan: [], processingCode: [], acquirer: [], forwarder: [], upstreams: [...upstreams] }];
}

function anyPrefix(prefixes: readonly string[], v: string | undefined): boolean {
  if (prefixes.length === 0) return true;
  if (v === undefined) return false;
  for (const p of prefixes) if (v.startsWith(p)) return true;
  return false;
}

function anyOf(values: readonly string[], v: string | undefined): boolean {
  return values.length === 0 || (v !== undefined && values.includes(v));
}

export class RouteTable {
  readonly rules: readonly RouteConfig[];

  /** `routes` as validated by config/load.ts; empty: the default table over `upstreams`. */
  constructor(routes: readonly RouteConfig[], upstreams: readonly string[]) {
    this.rules = routes.length > 0 ? routes : defaultRoutes(upstreams);
  }

  /** The first rule the sale meets, with its index; null when none does (no route). */
  match(f: RouteFields): { index: number; rule: RouteConfig } | null {
    const i = this.indexOf(f.pan, f.processingCode, f.acquirer, f.forwarder);
    return i < 0 ? null : { index: i, rule: this.rules[i] };
  }

  /** The index of the first rule the sale meets, -1 for none: the hot path's form, nothing allocated. */
  indexOf(pan: string | undefined, processingCode: string | undefined, acquirer: string | undefined, forwarder: string | undefined): number {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (anyPrefix(r.pan, pan) && anyPrefix(r.processingCode, processingCode) && anyOf(r.acquirer, acquirer) && anyOf(r.forwarder, forwarder)) return i;
    }
    return -1;
  }
}
