/**
 * Rules files for tests that drive many sales through a few terminals and cards: the
 * default rules with the velocity thresholds out of reach, so a reversal is never sent
 * to review for being one too many.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultRulesPath } from '../../rules/index.js';

/** Writes rules/default.yaml with the velocity thresholds at 1,000,000 to DIR/rules.yaml; returns its path. */
export function writeRulesWithoutVelocityLimits(dir: string): string {
  const file = join(dir, 'rules.yaml');
  const text = readFileSync(defaultRulesPath(), 'utf8')
    .replace(/maxPerTerminal: \d+/, 'maxPerTerminal: 1000000')
    .replace(/maxPerMerchant: \d+/, 'maxPerMerchant: 1000000')
    .replace(/maxPerCard: \d+/, 'maxPerCard: 1000000');
  if (!/maxPerTerminal: 1000000[\s\S]*maxPerMerchant: 1000000[\s\S]*maxPerCard: 1000000/.test(text)) {
    throw new Error(`${defaultRulesPath()}: velocity thresholds not found`);
  }
  writeFileSync(file, text);
  return file;
}
