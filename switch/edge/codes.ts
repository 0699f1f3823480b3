/**
 * The few response codes the switch itself puts in F39, per standard. ISO 8583:1993
 * carries a 3-digit action code where 1987 has a 2-character response code.
 */
import type { Dialect } from '../../codec/index.js';

export type LocalCode = 'approved' | 'format_error' | 'invalid_transaction' | 'issuer_unavailable' | 'system_error';

const CODES_87: Record<LocalCode, string> = {
  approved: '00',
  format_error: '30',
  invalid_transaction: '12',
  issuer_unavailable: '91',
  system_error: '96',
};

const CODES_93: Record<LocalCode, string> = {
  approved: '000',
  format_error: '904',
  invalid_transaction: '902',
  issuer_unavailable: '907',
  system_error: '909',
};

export function responseCode(dialect: Dialect, code: LocalCode): string {
  return (dialect.spec.version === '1993' ? CODES_93 : CODES_87)[code];
}
