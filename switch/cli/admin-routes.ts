/**
 * The admin server's /api/ routes as `revswitch start` mounts them: the read-only report
 * and evidence (observe/admin-api.ts) and the review queue (./review-api.ts), both behind
 * a bearer token when admin.requireTokenForReads is set (observe/admin-auth.ts); and the
 * server's limits from the config (admin.maxBodyBytes and the rest, observe/admin.ts).
 */
import { CaseError, decide, parseCaseJson, type CompiledRules } from '../../rules/index.js';
import type { SwitchConfig } from '../config/index.js';
import { apiRoutes, HttpError, type ApiHandler } from '../observe/admin-api.js';
import { requireToken } from '../observe/admin-auth.js';
import type { AdminServer } from '../observe/admin.js';
import type { Logger } from '../observe/log.js';
import type { Store } from '../store/types.js';
import { reviewApi } from './review-api.js';

export type AdminApiConfig = Pick<SwitchConfig, 'adminTokens' | 'adminRequireTokenForReads' | 'adminReportMaxDays' | 'adminLimits'>;

export function mountApi(admin: AdminServer, c: AdminApiConfig, o: { store: Store; rules: () => CompiledRules; log: Logger }): void {
  // The limits are the server's, set here with its routes so `revswitch start` sets both
  // in one call; before start(), as Node takes some when the server is made.
  admin.limit(c.adminLimits);
  const guard = (h: ApiHandler): ApiHandler => (c.adminRequireTokenForReads ? requireToken(c.adminTokens, h) : h);
  const decideCase = (data: unknown): unknown => {
    const rules = o.rules();
    try {
      const { case: k, state } = parseCaseJson(data);
      return { rules: rules.identity(), decision: decide(rules, k, state) };
    } catch (e) {
      if (e instanceof CaseError) throw new HttpError(400, `case: ${e.message}`);
      throw e;
    }
  };
  admin.mount('/api/', guard(apiRoutes(o.store, { reportMaxDays: c.adminReportMaxDays, rules: () => o.rules().identity(), decide: decideCase })));
  admin.mount('/api/review', guard(reviewApi({ store: o.store, tokens: c.adminTokens, rules: o.rules, log: o.log, maxBodyBytes: c.adminLimits.maxBodyBytes })));
}
