/**
 * One record of an issuer's or network's settlement (clearing) file, as every reader
 * (./settlement-file.ts: csv, json, a mapping file) gives it to the reconciler. The file
 * says what was really posted for one business date; the journal says what the switch
 * answered. Amounts are integers in minor units, never floats.
 */

/** sale: a financial posting; refund: a credit (x220 processing code 20); reversal: an undo of a sale (x400/x420). */
export type SettlementType = 'sale' | 'refund' | 'reversal';

export const SETTLEMENT_TYPES: readonly SettlementType[] = ['sale', 'refund', 'reversal'];

export interface SettlementRecord {
  /** 1-based line of the file the record starts on (a JSON record: the line of its opening brace). */
  line: number;
  /** YYYY-MM-DD. */
  businessDate: string;
  /** F37 as the issuer saw it; '' for hosts that do not echo the RRN. */
  rrn: string;
  /** F41. */
  terminal: string;
  /**
   * The STAN the issuer received (the switch's upstream STAN), 6 digits. A reversal or
   * refund record names its original here (F90 positions 5-10), so every record keys to
   * the sale it moves.
   */
  stan: string;
  /** F7 of that message (MMDDhhmmss), 10 digits; '' when the host does not give it. */
  f7: string;
  /** Minor units, a non-negative integer (what the record moves; a reversal's is what it released). */
  amountMinor: bigint;
  /** ISO 4217 numeric, 3 digits. */
  currency: string;
  type: SettlementType;
  approvalCode: string | null;
  merchant: string | null;
  /** Masked at most 6 + 4; a reader refuses a full PAN. */
  panMasked: string | null;
}
