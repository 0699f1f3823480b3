/**
 * The live rules. A reload builds a complete new CompiledRules first and only then
 * replaces the reference, so every decision sees one whole rules file: the old one or
 * the new one, never a mix, and never a half-validated file.
 */
import { CompiledRules } from './compile.js';
import { decide } from './decide.js';
import type { Decision, DecisionCase, DecisionState } from './types.js';

export type ReloadResult =
  | { readonly ok: true; readonly rules: CompiledRules; readonly previous: CompiledRules }
  | { readonly ok: false; readonly error: unknown; readonly rules: CompiledRules };

export class RulesHolder {
  #current: CompiledRules;

  constructor(initial: CompiledRules) {
    this.#current = checked(initial);
  }

  get current(): CompiledRules {
    return this.#current;
  }

  decide(c: DecisionCase, s: DecisionState): Decision {
    return decide(this.#current, c, s);
  }

  /** Replaces the rules and returns the previous ones. Anything but compiled rules is refused, and nothing changes. */
  swap(next: CompiledRules): CompiledRules {
    const previous = this.#current;
    this.#current = checked(next);
    return previous;
  }

  /**
   * For SIGHUP: `holder.reload(() => loadRulesFile(path))`. A load that throws leaves the
   * current rules in place and hands the error back for logging; it never propagates.
   */
  reload(load: () => CompiledRules): ReloadResult {
    let next: CompiledRules;
    try {
      next = checked(load());
    } catch (error) {
      return { ok: false, error, rules: this.#current };
    }
    const previous = this.swap(next);
    return { ok: true, rules: next, previous };
  }
}

function checked(r: unknown): CompiledRules {
  if (!(r instanceof CompiledRules)) throw new TypeError('RulesHolder takes CompiledRules (from loadRulesFile, parseRules or compileRules)');
  return r;
}
