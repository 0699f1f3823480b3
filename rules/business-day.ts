/**
 * Business dates: which settlement day (F15) a moment belongs to. Local wall time comes
 * from Intl.DateTimeFormat in the configured IANA zone, so daylight saving and historical
 * offsets are the platform's, not ours. Days are counted as integers since 1970-01-01 (the
 * proleptic Gregorian calendar), which makes "before" and "next" plain arithmetic.
 */

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface CalendarConfig {
  readonly timeZone: string;
  /**
   * "HH:MM" or "HH:MM:SS" local time. Activity at or after it belongs to the next business
   * date; "00:00" means the calendar date.
   */
  readonly cutover: string;
  readonly weekend: readonly Weekday[];
  /** "YYYY-MM-DD", already validated. */
  readonly holidays: readonly string[];
}

const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;
const SECONDS_PER_DAY = 86_400;
/** The largest |ms| a Date can hold. */
export const MAX_TIME_MS = 8.64e15;

// The cache is keyed by the UTC minute: within one minute of a whole-minute offset the
// local minute, and so the business date, cannot change, except in the minute that holds a
// cutover with seconds, which is never cached. Same-minute traffic is the norm (a failed
// posting is decided seconds after it was sent), so the hot path rarely calls Intl.
const CACHE_SIZE = 1024;
const CACHE_MASK = CACHE_SIZE - 1;

export interface WallTime {
  /** The local calendar date, as days since 1970-01-01. */
  readonly day: number;
  /** Minutes since local midnight. */
  readonly minutes: number;
  /** Seconds since local midnight. */
  readonly seconds: number;
  /** Local time minus UTC, in ms (includes seconds for historical offsets). */
  readonly offsetMs: number;
}

export class BusinessCalendar {
  readonly timeZone: string;
  readonly cutover: string;
  readonly weekend: readonly Weekday[];
  readonly holidayCount: number;
  private readonly cutoverSeconds: number;
  /** The local minute a cutover with seconds falls in (its business date changes inside it), else -1. */
  private readonly splitMinute: number;
  private readonly weekendMask: number;
  private readonly holidays: ReadonlySet<number>;
  private readonly fmt: Intl.DateTimeFormat;
  private readonly cacheMinute = new Float64Array(CACHE_SIZE).fill(Number.NaN);
  private readonly cacheDay = new Int32Array(CACHE_SIZE);

  /** Throws RangeError for an unknown time zone; schema.ts checks that first with a better message. */
  constructor(cfg: CalendarConfig) {
    this.timeZone = cfg.timeZone;
    this.cutover = cfg.cutover;
    this.weekend = Object.freeze([...cfg.weekend]);
    const sec = parseCutover(cfg.cutover);
    if (sec === null) throw new RangeError(`cutover: expected HH:MM or HH:MM:SS, got ${JSON.stringify(cfg.cutover)}`);
    this.cutoverSeconds = sec === 0 ? SECONDS_PER_DAY : sec;
    this.splitMinute = sec % 60 === 0 ? -1 : Math.floor(sec / 60);
    let mask = 0;
    for (const w of cfg.weekend) mask |= 1 << WEEKDAYS.indexOf(w);
    if (mask === 0x7f) throw new RangeError('weekend: at least one day of the week must be a working day');
    this.weekendMask = mask;
    const hol = new Set<number>();
    for (const h of cfg.holidays) {
      const d = isoToDay(h);
      if (d === null) throw new RangeError(`holidays: expected YYYY-MM-DD, got ${JSON.stringify(h)}`);
      hol.add(d);
    }
    this.holidays = hol;
    this.holidayCount = hol.size;
    this.fmt = makeFormatter(cfg.timeZone);
    Object.freeze(this);
  }

  /** The business date of instant `ms`, as days since 1970-01-01. */
  businessDay(ms: number): number {
    const minute = Math.floor(ms / MS_PER_MINUTE);
    const slot = minute & CACHE_MASK;
    if (this.cacheMinute[slot] === minute) return this.cacheDay[slot];
    const wall = this.wallTime(ms);
    let day = wall.seconds >= this.cutoverSeconds ? wall.day + 1 : wall.day;
    day = this.rollForward(day);
    // A historical offset with seconds would let the local minute change inside one UTC
    // minute; a cutover with seconds changes the date inside its minute.
    if (wall.offsetMs % MS_PER_MINUTE === 0 && wall.minutes !== this.splitMinute) {
      this.cacheMinute[slot] = minute;
      this.cacheDay[slot] = day;
    }
    return day;
  }

  /** The business date of `ms` as "YYYY-MM-DD" (the key a caller uses for per-day counters). */
  businessDate(ms: number): string {
    return dayToIso(this.businessDay(ms));
  }

  isWorkingDay(day: number): boolean {
    return (this.weekendMask & (1 << weekday(day))) === 0 && !this.holidays.has(day);
  }

  /** `day` itself if it is a working day, else the next one. */
  rollForward(day: number): number {
    // Terminates: at least one weekday is a working day, and the holiday list is finite.
    let d = day;
    while (!this.isWorkingDay(d)) d++;
    return d;
  }

  /** The working day `n` working days after working day `day`. */
  addWorkingDays(day: number, n: number): number {
    let d = day;
    for (let i = 0; i < n; i++) d = this.rollForward(d + 1);
    return d;
  }

  /** Local wall time at `ms` in the calendar's zone. Not cached: the hot path uses businessDay(). */
  wallTime(ms: number): WallTime {
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
    for (const p of this.fmt.formatToParts(ms)) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value); break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
        case 'era': bc = p.value === 'BC'; break;
        default: break;
      }
    }
    const day = civilToDay(bc ? 1 - y : y, mo, d);
    const localMs = day * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000;
    return { day, minutes: h * 60 + mi, seconds: (h * 60 + mi) * 60 + s, offsetMs: localMs - Math.floor(ms / 1000) * 1000 };
  }
}

function makeFormatter(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    calendar: 'gregory',
    numberingSystem: 'latn',
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
}

/** True if Intl knows the zone. */
export function isTimeZone(tz: string): boolean {
  try {
    makeFormatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Seconds since midnight for "HH:MM" or "HH:MM:SS" (00:00 to 23:59:59), or null. */
export function parseCutover(s: string): number | null {
  if ((s.length !== 5 && s.length !== 8) || s.charCodeAt(2) !== 58 /* : */) return null;
  const h = twoDigits(s, 0);
  const m = twoDigits(s, 3);
  let sec = 0;
  if (s.length === 8) {
    if (s.charCodeAt(5) !== 58) return null;
    sec = twoDigits(s, 6);
  }
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return null;
  return (h * 60 + m) * 60 + sec;
}

/** Days since 1970-01-01 for a real "YYYY-MM-DD" date, or null (2025-02-30 is not one). */
export function isoToDay(s: string): number | null {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return null;
  const hi = twoDigits(s, 0);
  const lo = twoDigits(s, 2);
  const m = twoDigits(s, 5);
  const d = twoDigits(s, 8);
  if (hi < 0 || lo < 0) return null;
  const y = hi * 100 + lo;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
  return civilToDay(y, m, d);
}

export function dayToIso(day: number): string {
  const [y, m, d] = dayToCivil(day);
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** 0 = Sunday. 1970-01-01 was a Thursday. */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1000;
  return a * 10 + b;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for every Gregorian date,
// including years before 100, where Date.UTC would silently add 1900.
function civilToDay(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function dayToCivil(day: number): [number, number, number] {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}
