/**
 * What each terminal listener's limits against hostile clients did: connections refused
 * at accept and closed afterwards, by reason, and reads paused, by reason. Plain
 * numbers bumped by the listener (edge/listener.ts), turned into prom-client counters at
 * scrape time like the wire counts (./wire-metrics.ts). Reasons are fixed lists and
 * listeners come from the config, so every label set is bounded.
 */
import { Counter, type Registry } from 'prom-client';

export const REFUSAL_REASONS = ['max_connections', 'per_ip_cap', 'accept_rate', 'stopping'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];
export const CLOSE_REASONS = ['first_frame_timeout', 'frame_timeout', 'bad_frame'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];
export const PAUSE_REASONS = ['in_flight_cap', 'duplicate_rate'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/** One listener's counts. */
export class GuardCounts {
  readonly refused = new Float64Array(REFUSAL_REASONS.length);
  readonly closed = new Float64Array(CLOSE_REASONS.length);
  readonly paused = new Float64Array(PAUSE_REASONS.length);

  refuse(reason: RefusalReason): void {
    this.refused[REFUSAL_REASONS.indexOf(reason)]++;
  }

  close(reason: CloseReason): void {
    this.closed[CLOSE_REASONS.indexOf(reason)]++;
  }

  pause(reason: PauseReason): void {
    this.paused[PAUSE_REASONS.indexOf(reason)]++;
  }

  pausedFor(reason: PauseReason): number {
    return this.paused[PAUSE_REASONS.indexOf(reason)];
  }

  refusedFor(reason: RefusalReason): number {
    return this.refused[REFUSAL_REASONS.indexOf(reason)];
  }

  closedFor(reason: CloseReason): number {
    return this.closed[CLOSE_REASONS.indexOf(reason)];
  }
}

/** The counters over every listener's counts, read at scrape time. */
export function registerGuardMetrics(registry: Registry, guards: ReadonlyMap<string, GuardCounts>): void {
  const registers = [registry];
  new Counter({
    name: 'revswitch_connections_refused_total',
    help: 'Terminal connections refused at accept, by listener and reason: max_connections (the listener is full), per_ip_cap (maxConnectionsPerIp open from that address), accept_rate (acceptPerSecondPerIp exceeded), stopping (shutdown).',
    labelNames: ['listener', 'reason'], registers,
    collect() {
      this.reset();
      for (const [listener, g] of guards) for (let i = 0; i < REFUSAL_REASONS.length; i++) this.inc({ listener, reason: REFUSAL_REASONS[i] }, g.refused[i]);
    },
  });
  new Counter({
    name: 'revswitch_connections_closed_total',
    help: 'Terminal connections the switch closed on a client\'s account, by listener and reason: first_frame_timeout (no whole message within firstFrameTimeoutMs of connecting), frame_timeout (a frame begun and not finished within frameTimeoutMs), bad_frame (a length prefix out of sync, or a message that could not even be addressed).',
    labelNames: ['listener', 'reason'], registers,
    collect() {
      this.reset();
      for (const [listener, g] of guards) for (let i = 0; i < CLOSE_REASONS.length; i++) this.inc({ listener, reason: CLOSE_REASONS[i] }, g.closed[i]);
    },
  });
  new Counter({
    name: 'revswitch_reads_paused_total',
    help: 'Times a terminal connection\'s reads paused on the client\'s account, nothing dropped, by listener and reason: in_flight_cap (maxInFlightPerConnection requests awaiting answers; reads resume at 90%), duplicate_rate (duplicatesPerSecondPerConnection spent; reads resume as it refills).',
    labelNames: ['listener', 'reason'], registers,
    collect() {
      this.reset();
      for (const [listener, g] of guards) for (let i = 0; i < PAUSE_REASONS.length; i++) this.inc({ listener, reason: PAUSE_REASONS[i] }, g.paused[i]);
    },
  });
}
