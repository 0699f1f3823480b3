/**
 * Field values the switch writes itself, formatted as the standards require. The codec
 * keeps no clock: the caller passes the instant.
 */

const p2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** F7, transmission date and time: MMDDhhmmss in UTC. */
export function transmissionTime(ms: number): string {
  const d = new Date(ms);
  return p2(d.getUTCMonth() + 1) + p2(d.getUTCDate()) + p2(d.getUTCHours()) + p2(d.getUTCMinutes()) + p2(d.getUTCSeconds());
}

/**
 * F12 of a 1993 message, local transaction date and time: YYMMDDhhmmss in the switch's
 * local time zone, the acceptor's clock as the standard means it.
 */
export function localDateTime(ms: number): string {
  const d = new Date(ms);
  return p2(d.getFullYear() % 100) + p2(d.getMonth() + 1) + p2(d.getDate()) + p2(d.getHours()) + p2(d.getMinutes()) + p2(d.getSeconds());
}

/** F11, a system trace audit number: six digits, zero-filled. */
export function stanString(stan: number): string {
  return String(stan).padStart(6, '0');
}
