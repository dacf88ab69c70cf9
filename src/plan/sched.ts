// Scheduling tables: the per-packet choice is "next entry of a precomputed
// array", so the data plane stays O(1) whatever the algorithm.

import { MAGLEV_DEFAULT_SIZE, maglevTable } from './maglev';

/** Greatest common divisor of positive integers. */
function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Cap on one service's table (entries are 4 bytes each). */
export const MAX_SCHED_ENTRIES = 1 << 20;

/** rr: every server with a non-zero weight once, in config order. */
export function rrTable(weights: readonly number[]): number[] {
  return weights.flatMap((w, i) => (w > 0 ? [i] : []));
}

/**
 * Smooth weighted round-robin (the nginx algorithm): each step every server
 * gains its weight, the richest is picked and pays the total. Over one cycle
 * of sum(weights)/gcd picks each server appears exactly weight/gcd times, and
 * picks are interleaved instead of bursting to the heaviest server.
 */
export function wrrTable(weights: readonly number[]): number[] {
  const live = weights.map((w, i) => ({ i, w })).filter((x) => x.w > 0);
  if (live.length === 0) return [];
  const g = live.reduce((acc, x) => gcd(acc, x.w), 0);
  const w = live.map((x) => x.w / g);
  const total = w.reduce((a, b) => a + b, 0);
  if (total > MAX_SCHED_ENTRIES) {
    throw new Error(`weights too fine-grained: one wrr cycle would take ${total} entries (max ${MAX_SCHED_ENTRIES}); use smaller weights`);
  }
  const current = new Array<number>(w.length).fill(0);
  const out: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let j = 0; j < w.length; j++) {
      current[j]! += w[j]!;
      if (current[j]! > current[best]!) best = j;
    }
    current[best]! -= total;
    out.push(live[best]!.i);
  }
  return out;
}

export type SchedulerName = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh';

export interface TableOptions {
  /** Server names (address:port), for hashing schedulers. */
  names?: readonly string[];
  seed?: number;
  /** Maglev table size (prime). */
  size?: number;
}

/**
 * The table the data plane indexes for a new flow (entries are positions in
 * `weights`): rr/wrr walk it, sh and mh index it by a hash of the client, lc
 * and wlc scan it for the least loaded live server. Weight 0 (drained or
 * down) keeps a server out of every table.
 */
export function schedTable(name: SchedulerName, weights: readonly number[], opts: TableOptions = {}): number[] {
  switch (name) {
    case 'wrr':
      return wrrTable(weights);
    case 'sh':
      // Every configured server keeps its slots (weight 0 or down counts as
      // 1 here): the data plane passes over unavailable ones, so a drained
      // server's clients move and nobody else's do.
      return wrrTable(weights.map((w) => Math.max(w, 1)));
    case 'mh': {
      if (!weights.some((w) => w > 0)) return [];
      const names = opts.names ?? weights.map((_, i) => String(i));
      return Array.from(maglevTable(weights.map((w, i) => ({ name: names[i]!, weight: w })), opts.size ?? MAGLEV_DEFAULT_SIZE, { seed: opts.seed ?? 0 }));
    }
    default:
      return rrTable(weights);
  }
}
