/** How the console writes numbers, amounts, times and ages. */

const EXPONENT: Readonly<Record<string, number>> = { '392': 0, '410': 0, '704': 0, '048': 3, '414': 3, '512': 3, '788': 3 };

/** n12 minor units ("000000001234") in major units with its currency: "12.34 840". */
export function money(amount: string | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return '-';
  const cur = currency ?? '';
  const exp = cur === '' ? 0 : EXPONENT[cur] ?? 2;
  const neg = amount.startsWith('-');
  const digits = (neg ? amount.slice(1) : amount).replace(/^0+(?=\d)/, '').padStart(exp + 1, '0');
  const major = exp === 0 ? digits : `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
  return `${neg ? '-' : ''}${major}${cur === '' ? '' : ` ${cur}`}`;
}

export function amounts(list: readonly { currency: string; minor: string }[] | undefined): string {
  if (list === undefined || list.length === 0) return '-';
  return list.map((a) => money(a.minor, a.currency)).join(', ');
}

/** "3 s", "4 min", "2 h 5 min", "3 d 4 h". */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function time(t: string | number | null | undefined): string {
  if (t === null || t === undefined) return '-';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A rate with one decimal below 10, whole above. */
export function rate(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  return n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US');
}

/** Seconds as milliseconds, two decimals. */
export function ms(seconds: number | null): string {
  return seconds === null ? '-' : `${(seconds * 1000).toFixed(2)} ms`;
}
