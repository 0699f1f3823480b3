/**
 * Errors the rules engine throws. A bad rules file and a malformed case are input errors
 * with a precise location, not bugs: callers tell them apart with instanceof.
 */

export interface RulesIssue {
  /** Dotted path inside the file, e.g. `limits.perCardDaily.amount`; empty for the whole file. */
  readonly path: string;
  /** What was expected and what was found. */
  readonly message: string;
}

/** Every problem found in one rules file, one line each, each prefixed with the file name. */
export class RulesError extends Error {
  override readonly name = 'RulesError';
  readonly source: string;
  readonly issues: readonly RulesIssue[];
  constructor(source: string, issues: readonly RulesIssue[]) {
    super(issues.map((i) => `${source}: ${i.path ? i.path + ': ' : ''}${i.message}`).join('\n'));
    this.source = source;
    this.issues = issues;
  }
}

/** A case that decide() cannot judge. The message never echoes a value that could be card data. */
export class CaseError extends Error {
  override readonly name = 'CaseError';
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(path ? `${path}: ${reason}` : reason);
    this.path = path;
    this.reason = reason;
  }
}

export const PAN_REFUSED = 'a case never carries a PAN; pass panHash, a keyed hash of the PAN, instead';
