/**
 * Times for reports and the admin API: parsing what an operator types (an ISO 8601 point,
 * "today", an age like "24h") and printing ages and instants back. No clock here: the
 * caller passes "now".
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "1h", "7d", "2w" (or bare milliseconds) to milliseconds; null when it is not one. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(s.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms'];
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** Midnight UTC of the day `now` falls in. */
export function startOfDayUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/**
 * A point in time: ISO 8601 (a date alone is midnight UTC; a time without a zone is
 * taken as UTC), "now", "today", "yesterday", or an age before now ("24h", "7d").
 */
export function parseTime(s: string, now: number): number {
  const v = s.trim();
  if (v === 'now') return now;
  if (v === 'today') return startOfDayUtc(now);
  if (v === 'yesterday') return startOfDayUtc(now) - UNITS.d;
  const age = parseDuration(v);
  if (age !== null && /[a-z]$/.test(v)) return now - age;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const withZone = v.length > 10 && !/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T');
    const ms = Date.parse(withZone);
    if (Number.isFinite(ms)) return ms;
  }
  throw new RangeError(`expected ISO 8601 (2025-11-25, 2025-11-25T08:00:00Z), now, today, yesterday, or an age like 24h or 7d; got ${JSON.stringify(s)}`);
}

/** "1h", "2h 05m", "3d 4h", "12m", "40s". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return h % 24 === 0 ? `${h / 24}d` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Epoch milliseconds as ISO 8601 UTC, the form every report and evidence field uses. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();

/** "2025-11-25T08:00:00.000Z" -> "2025-11-25T08:00:00Z", for text where the milliseconds are noise. */
export const shortIso = (s: string): string => s.replace(/\.\d{3}Z$/, 'Z');
