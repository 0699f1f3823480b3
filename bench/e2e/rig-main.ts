/**
 * Child process of the e2e suite: the rig. The issuer simulator (startIssuer: latency 0,
 * approveRate 1, no faults) and the load generator (./loadgen.ts) share this process and
 * its event loop, so both read one clock: that is what lets the deadline -> 0400 figure
 * compare the generator's send time of a sale with the issuer's arrival time of its
 * reversal. A fresh issuer (and so an empty ledger) serves every step of the suite,
 * with a full GC before it (the suite starts this process with --expose-gc).
 *
 * TLS steps (`secure` in issuer-start): the issuer gets a TLS front (./issuer-front.ts)
 * that, given a ZAK, also checks the switch's MACs and signs the answers; the port given
 * back is the front's. The generator is then a TLS client, signing its requests when
 * given a MAK (plan.secure).
 */
import { performance } from 'node:perf_hooks';
import { startIssuer, type IssuerSim } from '../../switch/sim/issuer.js';
import { serve } from './ipc.js';
import { startIssuerFront, type IssuerFront } from './issuer-front.js';
import { runLoad, type LoadPlan, type LoadResult } from './loadgen.js';

export interface DeadlineFigures {
  /** Magic sales sent in the window. */
  sales: number;
  /** Of those, reversals (0400) that reached the issuer. */
  reversals: number;
  /** 0210s the terminals got for them. */
  answers: number;
  /** 0400 arrival at the issuer - (generator's send of the 0200 + timeout): an upper bound of the switch's lateness, ms. */
  upper: number[];
  /** 0400 arrival - (0200 arrival at the issuer + timeout): a lower bound, ms. */
  lower: number[];
  /** 0210 arrival at the terminal - (send + timeout), ms. */
  terminal: number[];
  codes: Record<string, number>;
}

let issuer: IssuerSim | null = null;
let front: IssuerFront | null = null;

async function closeFront(): Promise<ReturnType<IssuerFront['counters']> | null> {
  if (!front) return null;
  const counters = front.counters();
  await front.close();
  front = null;
  return counters;
}

serve({
  async 'issuer-start'(a: { secure?: { cert: string; key: string; zak: string | null } }) {
    await closeFront();
    if (issuer) await issuer.close();
    // The last step's issuer (its whole ledger) and generator state are garbage now:
    // collect them here, between steps, rather than in a long pause during the next one
    // (pinned to one CPU, V8's "concurrent" GC threads take their time from this loop).
    (globalThis as { gc?: () => void }).gc?.();
    issuer = await startIssuer({ host: '127.0.0.1', port: 0, approveRate: 1, latencyMs: 0, seed: 8583 });
    if (a.secure) {
      front = await startIssuerFront({ issuerPort: issuer.port, ...a.secure });
      return { port: front.port };
    }
    return { port: issuer.port };
  },
  async 'issuer-stop'() {
    const frontCounters = await closeFront();
    if (!issuer) return {};
    const counters = issuer.ledger().counters;
    await issuer.close();
    issuer = null;
    return frontCounters ? { counters, front: frontCounters } : { counters };
  },
  async run(a: { plan: LoadPlan; deadlineTimeoutMs?: number }): Promise<{ load: LoadResult; deadline: DeadlineFigures | null }> {
    const timeoutMs = a.deadlineTimeoutMs;
    if (timeoutMs === undefined || !issuer) return { load: await runLoad(a.plan), deadline: null };
    const saleAt = new Map<string, number>();
    const revAt = new Map<string, number>();
    const off = issuer.onMessage((e) => {
      const mti = e.msg.mti;
      if (mti === '0400' || mti === '0401') {
        const rrn = e.msg.get(37);
        if (rrn !== undefined && !revAt.has(rrn)) revAt.set(rrn, performance.now());
      } else if (mti === '0200' && e.msg.get(4)?.endsWith('91')) {
        const rrn = e.msg.get(37);
        if (rrn !== undefined) saleAt.set(rrn, performance.now());
      }
    });
    let load: LoadResult;
    try {
      load = await runLoad(a.plan);
      // The last 0400s leave the switch with the last 0210 91s: give them time to land.
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      off();
    }
    const d: DeadlineFigures = { sales: 0, reversals: 0, answers: 0, upper: [], lower: [], terminal: [], codes: {} };
    for (const m of load.magic) {
      if (!m.inWindow) continue;
      d.sales++;
      if (m.answeredAt !== null) {
        d.answers++;
        d.terminal.push(m.answeredAt - (m.sentAt + timeoutMs));
        d.codes[m.code ?? '--'] = (d.codes[m.code ?? '--'] ?? 0) + 1;
      }
      const r = revAt.get(m.rrn);
      if (r === undefined) continue;
      d.reversals++;
      d.upper.push(r - (m.sentAt + timeoutMs));
      const s = saleAt.get(m.rrn);
      if (s !== undefined) d.lower.push(r - (s + timeoutMs));
    }
    load.magic = [];
    return { load, deadline: d };
  },
});
