/**
 * Business dates, cutover, weekends and holidays, and what they do to the undo: a
 * reversal while the original's business date is open, a refund (or review) after.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  BusinessCalendar, compileRules, decide, defaultRulesPath, loadDefaultRules, type DecisionCase, type DecisionState,
} from '../rules/index.js';

const ZERO: DecisionState = { terminalUndos: 0, merchantUndos: 0, cardUndos: 0, cardRefundsToday: 0, cardRefundAmountToday: 0 };
const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`bad time in test: ${iso}`);
  return ms;
};

type Data = Record<string, Record<string, unknown>>;
const DEFAULT_TEXT = readFileSync(defaultRulesPath(), 'utf8');
function rulesWith(change: (d: Data) => void) {
  const d = parse(DEFAULT_TEXT) as Data;
  change(d);
  return compileRules(d, 'test rules');
}

const rules = loadDefaultRules(); // Europe/Berlin, cutover 23:00, Saturday and Sunday off, TARGET2 holidays

function timeout(originalTime: number, now: number, extra: Partial<DecisionCase> = {}): DecisionCase {
  return { mti: '0200', amount: 10000, currency: '978', event: 'timeout', originalTime, now, panHash: 'h:card-1', ...extra };
}

t.test('cutover: at or after 23:00 local belongs to the next business date', async (tt) => {
  tt.equal(rules.businessDate(at('2025-03-05T22:59:59+01:00')), '2025-03-05', '22:59:59 Wednesday');
  tt.equal(rules.businessDate(at('2025-03-05T23:00:00+01:00')), '2025-03-06', '23:00:00 exactly is after the cutover');
  tt.equal(rules.businessDate(at('2025-03-05T23:55:00+01:00')), '2025-03-06', 'a sale at 23:55 belongs to Thursday');
  tt.equal(rules.businessDate(at('2025-03-06T00:05:00+01:00')), '2025-03-06', 'after midnight, still Thursday');
});

t.test('a sale at 23:55 is reversible the whole next day; one at 22:55 is not', async (tt) => {
  const late = at('2025-03-05T23:55:00+01:00');
  const d1 = decide(rules, timeout(late, at('2025-03-06T22:00:00+01:00')), ZERO);
  tt.equal(d1.action, 'reverse', 'same business date (Thursday): reverse');
  tt.equal(d1.rule, 'automatic-undo');
  const d2 = decide(rules, timeout(late, at('2025-03-06T23:10:00+01:00')), ZERO);
  tt.equal(d2.action, 'refund', 'after Thursday\'s cutover the original\'s business date is closed');
  tt.equal(d2.rule, 'business-day.settled');
  const early = at('2025-03-05T22:55:00+01:00');
  const d3 = decide(rules, timeout(early, at('2025-03-06T10:00:00+01:00')), ZERO);
  tt.equal(d3.action, 'refund', 'a 22:55 sale belonged to Wednesday, closed at 23:00');
  tt.equal(d3.amount, 10000);
  tt.equal(d3.reason, null, 'a refund carries no reversal reason');
  tt.equal(
    d3.explanation,
    'event timeout (no response from upstream before the deadline) is timeout: no response in time, so the outcome is unknown; ' +
      "the original's business date 2025-03-05 closed before now's business date 2025-03-06 (cutover 23:00 Europe/Berlin), " +
      'so a reversal is no longer possible; the undo is a refund (0220, processing code 20); refund the full 10000',
  );
});

t.test('weekends and holidays roll forward to the next working day', async (tt) => {
  tt.equal(rules.businessDate(at('2025-03-07T23:30:00+01:00')), '2025-03-10', 'Friday after cutover: Monday');
  tt.equal(rules.businessDate(at('2025-03-08T12:00:00+01:00')), '2025-03-10', 'Saturday: Monday');
  tt.equal(rules.businessDate(at('2025-03-09T23:30:00+01:00')), '2025-03-10', 'Sunday after cutover: Monday');
  tt.equal(rules.businessDate(at('2025-04-17T23:30:00+02:00')), '2025-04-22', 'Thursday before Easter: past Good Friday, the weekend and Easter Monday');
  tt.equal(rules.businessDate(at('2025-12-24T23:00:00+01:00')), '2025-12-29', 'Christmas Eve after cutover: past 25th, 26th and the weekend');
  tt.equal(rules.businessDate(at('2025-12-31T12:00:00+01:00')), '2025-12-31', 'New Year\'s Eve is a working day');
  tt.equal(rules.businessDate(at('2025-12-31T23:00:00+01:00')), '2026-01-02', 'past New Year\'s Day');
});

t.test('a reversal three days after a Friday sale across a holiday becomes a refund', async (tt) => {
  const monday = rulesWith((d) => { d.businessDay.holidays = ['2025-03-10']; });
  const friday = at('2025-03-07T14:00:00+01:00');
  const mondayAfternoon = at('2025-03-10T14:00:00+01:00');
  tt.equal(monday.businessDate(friday), '2025-03-07');
  tt.equal(monday.businessDate(mondayAfternoon), '2025-03-11', 'Monday is a holiday: Tuesday\'s business date');
  for (const cardPresent of [true, false]) {
    const d = decide(monday, timeout(friday, mondayAfternoon, { cardPresent }), ZERO);
    tt.equal(d.action, 'refund', `card-present ${cardPresent}: refund`);
    tt.equal(d.rule, 'business-day.settled', 'the business day rule decides, before the age window');
    tt.match(d.explanation, /business date 2025-03-07 closed before now's business date 2025-03-11/);
  }
});

t.test('the holiday keeps a late-Friday sale reversible on Monday evening', async (tt) => {
  const monday = rulesWith((d) => { d.businessDay.holidays = ['2025-03-10']; });
  const fridayLate = at('2025-03-07T23:30:00+01:00'); // business date: Saturday -> Sunday -> Monday (holiday) -> Tuesday
  const mondayEvening = at('2025-03-10T22:00:00+01:00'); // 70.5 h later, business date Tuesday
  tt.equal(monday.businessDate(fridayLate), '2025-03-11');
  const cnp = decide(monday, timeout(fridayLate, mondayEvening, { cardPresent: false }), ZERO);
  tt.equal(cnp.action, 'reverse', 'same business date and within 72 h: a reversal');
  const cp = decide(monday, timeout(fridayLate, mondayEvening, { cardPresent: true }), ZERO);
  tt.equal(cp.action, 'refund', 'card-present: past the 24 h window, a refund');
  tt.equal(cp.rule, 'max-age');
  tt.match(cp.explanation, /the original is 70\.5 h old, beyond the 24 h card-present reversal window; the undo is a refund/);
  const noHoliday = rulesWith((d) => { d.businessDay.holidays = []; });
  tt.equal(noHoliday.businessDate(fridayLate), '2025-03-10', 'without the holiday: Monday');
  tt.equal(decide(noHoliday, timeout(fridayLate, at('2025-03-10T23:30:00+01:00'), { cardPresent: false }), ZERO).action, 'refund',
    'and Monday\'s cutover closes it');
});

t.test('daylight saving: the cutover is local wall time, whatever the offset', async (tt) => {
  tt.equal(rules.businessDate(at('2025-03-28T22:59:59+01:00')), '2025-03-28', 'winter time, just before');
  tt.equal(rules.businessDate(at('2025-03-28T22:00:00Z')), '2025-03-31', 'winter time 23:00 is 22:00 UTC');
  tt.equal(rules.businessDate(at('2025-04-04T21:00:00Z')), '2025-04-07', 'summer time 23:00 is 21:00 UTC');
  tt.equal(rules.businessDate(at('2025-04-04T20:59:59Z')), '2025-04-04', 'summer time 22:59:59');
  tt.equal(rules.businessDate(at('2025-10-27T21:59:59Z')), '2025-10-27', 'the day after the autumn change, 22:59:59 local');
  tt.equal(rules.businessDate(at('2025-10-27T22:00:00Z')), '2025-10-28', 'and 23:00 local');
});

t.test('zones with half- and quarter-hour offsets, and a historical offset with seconds', async (tt) => {
  const kathmandu = new BusinessCalendar({ timeZone: 'Asia/Kathmandu', cutover: '18:00', weekend: ['saturday'], holidays: [] });
  tt.equal(kathmandu.businessDate(at('2025-03-05T17:59:59+05:45')), '2025-03-05');
  tt.equal(kathmandu.businessDate(at('2025-03-05T18:00:00+05:45')), '2025-03-06');
  tt.equal(kathmandu.businessDate(at('2025-03-07T18:00:00+05:45')), '2025-03-09', 'Friday evening: past Saturday to Sunday');
  const kolkata = new BusinessCalendar({ timeZone: 'Asia/Kolkata', cutover: '20:30', weekend: ['sunday'], holidays: ['2025-03-06'] });
  tt.equal(kolkata.businessDate(at('2025-03-05T20:29:00+05:30')), '2025-03-05');
  tt.equal(kolkata.businessDate(at('2025-03-05T20:30:00+05:30')), '2025-03-07', 'the next day is a holiday');
  // Monrovia kept -0:44:30 until 1972: the local minute changes in the middle of a UTC minute.
  const monrovia = new BusinessCalendar({ timeZone: 'Africa/Monrovia', cutover: '12:00', weekend: [], holidays: [] });
  tt.equal(monrovia.businessDate(at('1970-01-05T12:44:20Z')), '1970-01-05', '11:59:50 local');
  tt.equal(monrovia.businessDate(at('1970-01-05T12:44:40Z')), '1970-01-06', '12:00:10 local, same UTC minute');
  tt.equal(monrovia.businessDate(at('1970-01-05T12:44:20Z')), '1970-01-05', 'and back: nothing was cached across it');
});

t.test('cutover 00:00 means the business date is the calendar date', async (tt) => {
  const midnight = new BusinessCalendar({ timeZone: 'UTC', cutover: '00:00', weekend: [], holidays: [] });
  tt.equal(midnight.businessDate(at('2025-03-05T00:00:00Z')), '2025-03-05');
  tt.equal(midnight.businessDate(at('2025-03-05T23:59:59Z')), '2025-03-05');
});

t.test('grace business days keep a reversal possible after the original\'s date closes', async (tt) => {
  const grace1 = rulesWith((d) => { d.settlement.reversalGraceBusinessDays = 1; });
  const friday = at('2025-03-07T14:00:00+01:00');
  tt.equal(decide(grace1, timeout(friday, at('2025-03-10T14:00:00+01:00'), { cardPresent: false }), ZERO).action, 'reverse',
    'Monday is the one grace business day (weekend skipped), within 72 h');
  const d = decide(grace1, timeout(friday, at('2025-03-10T23:30:00+01:00'), { cardPresent: false }), ZERO);
  tt.equal(d.action, 'refund', 'after Monday\'s cutover');
  tt.match(d.explanation, /business date 2025-03-07 and its 1 grace business day\(s\) have closed/);
});

t.test('after settlement: an authorization goes to review; the file can send refunds to review', async (tt) => {
  const wed = at('2025-03-05T10:00:00+01:00');
  const thu = at('2025-03-06T10:00:00+01:00');
  const auth = decide(rules, timeout(wed, thu, { mti: '0100' }), ZERO);
  tt.equal(auth.action, 'review', 'a refund would credit money never debited');
  tt.equal(auth.proposed, 'reverse');
  tt.equal(auth.reason, '68', 'a reviewer sees the reversal it would have been');
  tt.match(auth.explanation, /an authorization was never cleared/);
  const rev = decide(rules, timeout(wed, thu, { mti: '0400', originalMti: '0100', event: undefined, responseCode: '98', dialect: 'cup' }), ZERO);
  tt.equal(rev.action, 'review', 'a terminal reversal of an old authorization too');
  const reviewing = rulesWith((d) => { d.settlement.afterSettlement = 'review'; d.settlement.afterMaxAge = 'review'; });
  const r1 = decide(reviewing, timeout(wed, thu), ZERO);
  tt.equal(r1.action, 'review');
  tt.equal(r1.proposed, 'refund');
  tt.equal(r1.amount, 10000);
  tt.match(r1.explanation, /settlement\.afterSettlement sends the refund to review/);
  const longWeekend = at('2025-03-07T23:30:00+01:00');
  const r2 = decide(reviewing, timeout(longWeekend, at('2025-03-10T22:00:00+01:00')), ZERO);
  tt.equal(r2.rule, 'max-age');
  tt.equal(r2.action, 'review');
  tt.match(r2.explanation, /settlement\.afterMaxAge sends the refund to review/);
});

t.test('the minute cache never changes an answer', async (tt) => {
  const lo = at('2024-12-20T00:00:00Z');
  const hi = at('2026-01-10T00:00:00Z');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: lo, max: hi }), { minLength: 1, maxLength: 40 }), (times) => {
      const warm = new BusinessCalendar({ timeZone: 'Europe/Berlin', cutover: '23:00', weekend: ['saturday', 'sunday'], holidays: ['2025-12-25'] });
      for (const ms of times) {
        const cold = new BusinessCalendar({ timeZone: 'Europe/Berlin', cutover: '23:00', weekend: ['saturday', 'sunday'], holidays: ['2025-12-25'] });
        // Same minute, other second: a cache hit must agree with a fresh computation.
        const near = ms - (ms % 60_000) + 59_999;
        if (warm.businessDay(ms) !== cold.businessDay(ms) || warm.businessDay(near) !== cold.businessDay(near)) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  tt.pass('a warmed calendar agrees with a fresh one on every instant');
});

t.test('a cutover with seconds splits its minute, and the cache never spans the split', async (tt) => {
  const cal = () => new BusinessCalendar({ timeZone: 'UTC', cutover: '12:00:30', weekend: [], holidays: [] });
  const warm = cal();
  tt.equal(warm.businessDate(at('2025-03-05T12:00:10Z')), '2025-03-05', 'before the seconds: the day still open');
  tt.equal(warm.businessDate(at('2025-03-05T12:00:30Z')), '2025-03-06', 'at the cutover second: the next date');
  tt.equal(warm.businessDate(at('2025-03-05T12:00:29.999Z')), '2025-03-05', 'a warmed minute still answers by the second');
  tt.equal(warm.businessDate(at('2025-03-05T12:01:00Z')), '2025-03-06');
  tt.equal(warm.businessDate(at('2025-03-05T11:59:59Z')), '2025-03-05');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: at('2025-03-05T11:58:00Z'), max: at('2025-03-05T12:03:00Z') }), { minLength: 1, maxLength: 40 }), (times) => {
      const w = cal();
      return times.every((ms) => w.businessDay(ms) === cal().businessDay(ms));
    }),
    { numRuns: 300 },
  );
  for (const bad of ['12:00:60', '12:00:', '12:00:5', '12-00-30', '24:00:00']) {
    tt.throws(() => new BusinessCalendar({ timeZone: 'UTC', cutover: bad, weekend: [], holidays: [] }), /HH:MM or HH:MM:SS/, `refuses ${bad}`);
  }
});

t.test('a business date is always a working day at or after the calendar date', async (tt) => {
  const cal = new BusinessCalendar({ timeZone: 'Europe/Berlin', cutover: '23:00', weekend: ['friday', 'saturday'], holidays: ['2025-06-01', '2025-06-02'] });
  fc.assert(
    fc.property(fc.integer({ min: at('2025-01-01T00:00:00Z'), max: at('2025-12-31T00:00:00Z') }), (ms) => {
      const day = cal.businessDay(ms);
      const wall = cal.wallTime(ms);
      return cal.isWorkingDay(day) && day >= wall.day && day <= wall.day + 6;
    }),
    { numRuns: 500 },
  );
  tt.pass('holds for 500 random instants');
});
