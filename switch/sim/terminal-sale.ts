/**
 * A simulated terminal's sale as each standard has it (bench/fixtures/messages.ts shows
 * one of each). ISO 8583:1987: F7, F12 hhmmss, F13 MMDD, F22 051, F25 00. ISO 8583:1993:
 * the 1xxx MTI, F12 YYMMDDhhmmss (which F56 of its reversal names it by), F22 the 12
 * character point-of-service code, F24 the function code, and no F25 (a message reason
 * there). UnionPay POS: the TPDU and header, F60 (type 22, a sale, and the batch), no F7,
 * F12 or F13 (the host gives them in its answer): its reversal carries the sale's trace
 * and batch, and the switch finds the original by trace near the day the sale carried.
 * Every standard gets F37, which the generator makes unique and matches answers by.
 */
import { formatCup60, formatTpdu, fromHex, IsoMessage, profileOf, type Dialect } from '../../codec/index.js';
import { luhnComplete } from '../observe/redact.js';
import { f4, localDate, localDateTime93, localTime, transmissionDateTime } from './wire.js';

/** 1993 POS data code: chip read, PIN capable, attended, on premises (as the fixtures). */
const POS_DATA_93 = '510101513344';
/** 1993 function codes: original authorization (amount accurate), original financial request. */
const FUNCTION_93: Readonly<Record<string, string>> = { '0100': '100', '0200': '200' };
/** UnionPay 60.1: 01 pre-authorization, 22 sale (消费). */
const CUP_TYPE: Readonly<Record<string, string>> = { '0100': '01', '0200': '22' };
/** The batch every simulated UnionPay terminal files its sales under: the run is one batch. */
export const CUP_BATCH = '000001';
/** TPDU id of a transaction, and the NII of the host the terminals address. */
const TPDU_ID = 0x60;
const HOST_NII = 0x0003;
/** UnionPay's header: application type 60, version 31, terminal status and processing requirement 0, software version 311301. */
const CUP_HEADER = '603100311301';

export interface SaleFields {
  /** 0100 or 0200, in 1987's numbering: the dialect's version digit replaces the first. */
  mti: '0100' | '0200';
  /** 1-based terminal number: the TPDU's source address. */
  terminal: number;
  terminalId: string;
  merchant: string;
  stan: string;
  rrn: string;
  minor: number;
  /** Three digits that pick one of 1000 cards. */
  panDigits: string;
  acquirerId: string | undefined;
  currency: string;
  now: Date;
}

/** The MTI of a sale in the dialect: 0200, or 1200 on 1993. */
export function saleMti(dialect: Dialect, mti: '0100' | '0200'): string {
  return String(dialect.versionDigit) + mti.slice(1);
}

export function saleMessage(dialect: Dialect, f: SaleFields): IsoMessage {
  const standard = profileOf(dialect).standard;
  const msg = new IsoMessage(saleMti(dialect, f.mti));
  if (dialect.tpdu) msg.tpdu = formatTpdu({ id: TPDU_ID, destination: HOST_NII, source: f.terminal });
  if (dialect.headerLength > 0) msg.header = dialect.headerLength === CUP_HEADER.length / 2 ? fromHex(CUP_HEADER) : new Uint8Array(dialect.headerLength);
  msg.set(2, luhnComplete('476173900101' + f.panDigits));
  msg.set(3, '000000');
  msg.set(4, f4(f.minor));
  if (standard !== 'cup') msg.set(7, transmissionDateTime(f.now));
  msg.set(11, f.stan);
  if (standard === 'iso93') {
    msg.set(12, localDateTime93(f.now));
    msg.set(22, POS_DATA_93);
    msg.set(24, FUNCTION_93[f.mti]);
  } else {
    if (standard === 'iso87') {
      msg.set(12, localTime(f.now));
      msg.set(13, localDate(f.now));
    }
    msg.set(22, '051');
    msg.set(25, '00');
  }
  // A UnionPay terminal sends no F32 (nor does its reversal, which the switch matches by sender): the host adds the acquirer.
  if (f.acquirerId !== undefined && standard !== 'cup') msg.set(32, f.acquirerId);
  msg.set(37, f.rrn);
  msg.set(41, f.terminalId);
  msg.set(42, f.merchant);
  msg.set(49, f.currency);
  if (standard === 'cup') msg.set(60, formatCup60({ type: CUP_TYPE[f.mti], batch: CUP_BATCH, networkCode: '000' }));
  return msg;
}
