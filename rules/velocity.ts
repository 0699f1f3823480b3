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

/**
 * Counts exclude the undo being decided: with a threshold of N, the Nth undo in the window
 * is automatic and the (N+1)th breaches it. Returns null, or the text with every count.
 */
export function checkVelocity(v: VelocityConfig, terminal: number, merchant: number, card: number): string | null {
  if (terminal < v.maxPerTerminal && merchant < v.maxPerMerchant && card < v.maxPerCard) return null;
  const over: string[] = [];
  if (terminal >= v.maxPerTerminal) over.push('terminal');
  if (merchant >= v.maxPerMerchant) over.push('merchant');
  if (card >= v.maxPerCard) over.push('card');
  return (
    `one more automatic undo exceeds the velocity threshold for the ${over.join(', ')}; ` +
    `undos already in the last ${v.windowMinutes} min: terminal ${terminal} (max ${v.maxPerTerminal}), ` +
    `merchant ${merchant} (max ${v.maxPerMerchant}), card ${card} (max ${v.maxPerCard})`
  );
}
