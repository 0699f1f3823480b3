/**
 * Velocity guard: a storm of automatic undos from one terminal, merchant or card is a
 * fraud or fault signal. Past the threshold a refund goes to a person; a reversal goes out
 * and raises an alert (rules/decide.ts). The caller keeps the counters over
 * rules.velocityWindowMs; rules/ has no clock or store.
 */

export interface VelocityConfig {
  readonly windowMinutes: number;
  readonly maxPerTerminal: number;
  readonly maxPerMerchant: number;
  readonly maxPerCard: number;
}

/** What a velocity threshold counts: undos per terminal (F41), merchant (F42) or card (PAN hash). */
export const VELOCITY_SCOPES = ['terminal', 'merchant', 'card'] as const;
export type VelocityScope = (typeof VELOCITY_SCOPES)[number];

/** The thresholds one more undo passes: which scopes, and the text with every count. */
export interface VelocityBreach {
  readonly scopes: readonly VelocityScope[];
  readonly text: string;
}

/**
 * Counts exclude the undo being decided: with a threshold of N, the Nth undo in the window
 * is automatic and the (N+1)th breaches it. Returns null, or the breach.
 */
export function checkVelocity(v: VelocityConfig, terminal: number, merchant: number, card: number): VelocityBreach | null {
  if (terminal < v.maxPerTerminal && merchant < v.maxPerMerchant && card < v.maxPerCard) return null;
  const scopes: VelocityScope[] = [];
  if (terminal >= v.maxPerTerminal) scopes.push('terminal');
  if (merchant >= v.maxPerMerchant) scopes.push('merchant');
  if (card >= v.maxPerCard) scopes.push('card');
  const text =
    `one more automatic undo exceeds the velocity threshold for the ${scopes.join(', ')}; ` +
    `undos already in the last ${v.windowMinutes} min: terminal ${terminal} (max ${v.maxPerTerminal}), ` +
    `merchant ${merchant} (max ${v.maxPerMerchant}), card ${card} (max ${v.maxPerCard})`;
  return { scopes, text };
}
