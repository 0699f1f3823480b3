/**
 * The simulators: an issuer host with a ledger of holds, and a terminal load generator.
 * Used by `revswitch sim`, `revswitch demo` and the end-to-end tests.
 */
export { startIssuer, type IssuerOptions, type IssuerSim, type IssuerEvent, type Latency } from './issuer.js';
export {
  runTerminals, type TerminalOptions, type TerminalSummary, type TerminalMode, type SaleRecord, type SaleOutcome,
} from './terminals.js';
export {
  Ledger, originalKey, type LedgerSnapshot, type LedgerSummary, type LedgerCounters, type HoldRecord, type HoldStatus, type UnmatchedReversal,
} from './ledger.js';
export { MAGIC_AMOUNTS, magicOf, magicTable, type MagicAmount, type MagicAction } from './magic.js';
export { codesOf, type StandardCodes } from './standard-codes.js';
export { checkMoneyInvariant, type MoneyCheck } from './invariant.js';
export { formatLedger, formatTerminalSummary, formatMoneyCheck, money } from './format.js';
export { createRng, type Rng } from './prng.js';
export { connectClient, type ClientOptions, type SimClient } from './client.js';
