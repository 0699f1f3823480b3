/**
 * The simulators' codes in each standard a dialect follows (codec/profiles/). The
 * simulators decide in ISO 8583:1987's two-digit codes (magic.ts scripts "..05 declines
 * 05"), which is what UnionPay POS answers with too; ISO 8583:1993 answers with 3-digit
 * action codes, so each decision is translated on its way to the wire. The translations
 * are the ones rules/default.yaml classifies under iso93a, so the switch reads a 1993
 * answer as it reads the 1987 one it stands for.
 */
import { profileOf, type Dialect, type Standard } from '../../codec/index.js';

/** A 1987 code the simulators use -> its 1993 action code (ISO 8583:1993 table of F39). */
const ACTION_CODES_93: Readonly<Record<string, string>> = {
  '00': '000', // approved
  '08': '001', // honour with identification
  '10': '002', // approved for partial amount
  '11': '003', // approved (VIP)
  '05': '100', // do not honour
  '51': '116', // not sufficient funds
  '59': '102', // suspected fraud
  '94': '913', // duplicate transmission
  '96': '909', // system malfunction
  '91': '907', // card issuer or switch inoperative
  '30': '904', // format error
  '12': '902', // invalid transaction
  '13': '110', // invalid amount
  '25': '480', // original transaction not found (a refund's)
};

export interface StandardCodes {
  readonly standard: Standard;
  /** The answer code standing for a 1987 one (itself on 1987 and UnionPay). */
  of(code87: string): string;
  readonly approved: string;
  /** A partial approval: F4 of the answer is what was granted. */
  readonly partial: string;
  /** The answer codes a terminal keeps as approvals. */
  readonly approvals: ReadonlySet<string>;
  /** The answer to a reversal the issuer applied (1993: 400, "accepted", the reversal range). */
  readonly reversalAccepted: string;
  /** A terminal's reason for reversing a sale it got no answer to (the profile's reasonField carries it). */
  readonly timeoutReason: string;
  /** A terminal's reason for reversing an approval its chip card then declined. */
  readonly chipDeclineReason: string;
}

const same = (code: string): string => code;

const CODES_87: StandardCodes = {
  standard: 'iso87', of: same, approved: '00', partial: '10', approvals: new Set(['00', '08', '10', '11']),
  reversalAccepted: '00', timeoutReason: '68', chipDeclineReason: '06',
};

const CODES_93: StandardCodes = {
  standard: 'iso93',
  of(code87) {
    const c = ACTION_CODES_93[code87];
    if (c === undefined) throw new RangeError(`no ISO 8583:1993 action code for the simulators' ${code87}`);
    return c;
  },
  approved: '000', partial: '002', approvals: new Set(['000', '001', '002', '003']),
  // F25 message reasons: 4021 timeout waiting for response; 4007 card acceptor device unable to complete.
  reversalAccepted: '400', timeoutReason: '4021', chipDeclineReason: '4007',
};

// UnionPay: 98, "no answer before the terminal's timeout", where 1987 says 68.
const CODES_CUP: StandardCodes = { ...CODES_87, standard: 'cup', timeoutReason: '98' };

const BY_STANDARD: Readonly<Record<Standard, StandardCodes>> = { iso87: CODES_87, iso93: CODES_93, cup: CODES_CUP };

export function codesOf(d: Dialect | Standard): StandardCodes {
  return BY_STANDARD[typeof d === 'string' ? d : profileOf(d).standard];
}
