/**
 * Network management messages per dialect: 1987 uses 0800 with F70, 1993 uses 1804 with
 * the F24 function code, UnionPay POS carries the code in F60.3.
 */
import { IsoMessage, type Dialect } from '../../codec/index.js';

export type NetCode = 'sign_on' | 'sign_off' | 'echo' | 'cutover' | 'key_change';

const F70: Record<NetCode, string> = { sign_on: '001', sign_off: '002', key_change: '161', cutover: '201', echo: '301' };
const F24_93: Record<NetCode, string> = { sign_on: '801', sign_off: '802', key_change: '811', cutover: '821', echo: '831' };

/** MMDDhhmmss in UTC, the form of F7. */
export function transmissionTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds());
}

export function stanString(stan: number): string {
  return String(stan).padStart(6, '0');
}

export function networkRequest(dialect: Dialect, code: NetCode, stan: number, nowMs: number): IsoMessage {
  const v93 = dialect.spec.version === '1993';
  const m = new IsoMessage(v93 ? '1804' : '0800');
  if (dialect.fields[7]) m.set(7, transmissionTime(nowMs));
  m.set(11, stanString(stan));
  if (v93) m.set(24, F24_93[code]);
  else if (dialect.field(60)?.parts === 'cup60') m.set(60, '00000000' + F70[code].slice(0, 3));
  else m.set(70, F70[code]);
  return m;
}

/** Which network management function a request asks for, or undefined. */
export function networkCode(dialect: Dialect, msg: IsoMessage): NetCode | undefined {
  const raw = dialect.spec.version === '1993' ? msg.get(24) : dialect.field(60)?.parts === 'cup60' ? msg.get(60)?.slice(8, 11) : msg.get(70);
  const table = dialect.spec.version === '1993' ? F24_93 : F70;
  for (const [k, v] of Object.entries(table)) if (v === raw) return k as NetCode;
  return undefined;
}

export function isNetworkMti(mti: string): boolean {
  return mti[1] === '8';
}
