/**
 * The console restates the admin API's answers (switch/console/web/types.ts: the browser
 * build takes nothing from the server's Node-typed sources). This file makes tsc hold the
 * two together: each server type must be assignable to the console's reading of it, so
 * a field the console reads that the server renames, drops or retypes fails the build
 * (npm run build and npm run lint type-check it; tap runs it through tsx, which does
 * not). The run-time test only says it compiled.
 */
import t from 'tap';
import type * as Web from '../switch/console/web/types.js';
import type { Overview } from '../switch/observe/overview.js';
import type { Evidence, EvidenceEntry, EvidenceReversal } from '../switch/reports/evidence.js';
import type { Report, ManualLine } from '../switch/reports/report-types.js';
import type { ReviewRow } from '../switch/store/types.js';

/** true when A can stand where B is read; a compile error otherwise. */
type Assignable<A extends B, B> = A extends B ? true : never;

/**
 * The server type as an object literal, all the way down: the console reads some tables
 * as generic rows (Record<string, unknown>), which an interface, lacking an index
 * signature, cannot stand for, though its JSON can.
 */
type Plain<T> = T extends object ? { [K in keyof T]: Plain<T[K]> } : T;

const checks: true[] = [
  true as Assignable<Plain<Overview>, Web.Overview>,
  true as Assignable<Plain<EvidenceReversal>, Web.EvidenceReversal>,
  true as Assignable<Plain<EvidenceEntry>, Web.EvidenceEntry>,
  true as Assignable<Plain<Evidence>, Web.Evidence>,
  true as Assignable<Plain<ManualLine>, Web.ManualLine>,
  true as Assignable<Plain<Report>, Web.Report>,
  true as Assignable<Plain<ReviewRow>, Web.ReviewItem>,
];

t.equal(checks.length, 7, 'the server\'s answer types fit the console\'s reading of them');
