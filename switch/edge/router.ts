/**
 * Picks the upstream for a sale: the routing table's first matching rule, then the first
 * of that rule's upstreams that is up (primary, then fallbacks in order). Reversals and
 * refunds never come here: they go to the upstream their original went to.
 */
import type { IsoMessage } from '../../codec/index.js';
import type { RouteConfig } from '../config/index.js';
import { RouteTable } from './route-table.js';
import type { UpstreamLink } from './upstream-link.js';

/** Where a sale goes: its rule, and the link to use (null: none of the rule's upstreams is up). */
export interface Routing {
  rule: RouteConfig;
  link: UpstreamLink | null;
  /** The link is a fallback: the rule's primary was down. */
  fallback: boolean;
}

export class Router {
  private readonly table: RouteTable;
  /** Per rule, its links in order, resolved once. */
  private readonly linksOf: UpstreamLink[][];

  constructor(routes: readonly RouteConfig[], links: ReadonlyMap<string, UpstreamLink>) {
    this.table = new RouteTable(routes, [...links.keys()]);
    this.linksOf = this.table.rules.map((r) => r.upstreams.map((name) => {
      const link = links.get(name);
      if (!link) throw new Error(`route ${r.name}: upstream ${JSON.stringify(name)} is not configured`);
      return link;
    }));
  }

  /** Null when no rule takes the sale (the switch declines it with the no-route code). */
  route(msg: IsoMessage): Routing | null {
    const index = this.table.indexOf(msg.get(2), msg.get(3), msg.get(32), msg.get(33));
    if (index < 0) return null;
    const rule = this.table.rules[index];
    const links = this.linksOf[index];
    for (let i = 0; i < links.length; i++) if (links[i].isUp) return { rule, link: links[i], fallback: i > 0 };
    return { rule, link: null, fallback: false };
  }
}
