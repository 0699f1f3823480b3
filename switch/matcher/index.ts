/** The in-flight matcher and its timer wheel. */
export { DEFAULT_BATCH_SIZE, Matcher, type MatcherOptions, type MatcherStats } from './matcher.js';
export { DEFAULT_SLOTS, DEFAULT_TICK_MS, DETACHED, TimerWheel, type TimerEntry, type TimerWheelOptions } from './timer-wheel.js';
