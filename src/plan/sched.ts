// Scheduling tables: the per-packet choice is "next entry of a precomputed
// array", so the data plane stays O(1) whatever the algorithm.

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

export type SchedulerName = 'rr' | 'wrr';

export function schedTable(name: SchedulerName, weights: readonly number[]): number[] {
  return name === 'wrr' ? wrrTable(weights) : rrTable(weights);
}
