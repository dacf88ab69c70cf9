// Counters: the data plane keeps one block per thread; here they are named,
// summed and reduced to what a person wants to read.
import type { Native } from './native';

export type Counters = Record<string, number>;

export interface StatsSnapshot {
  total: Counters;
  workers: Counters[];
  control: Counters;
}

export function readStats(native: Native): StatsSnapshot {
  const names = native.counterNames();
  const flat = native.readCounters();
  const threads = names.length ? flat.length / names.length : 0;
  const blocks: Counters[] = [];
  for (let t = 0; t < threads; t++) {
    const c: Counters = {};
    names.forEach((n, i) => (c[n] = flat[t * names.length + i]!));
    blocks.push(c);
  }
  const total: Counters = {};
  for (const n of names) total[n] = blocks.reduce((s, b) => s + b[n]!, 0);
  return { total, workers: blocks.slice(0, -1), control: blocks[blocks.length - 1] ?? {} };
}

/** Only the counters that moved, for log lines a person reads. */
export function nonZero(c: Counters): Counters {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));
}

/** Drops by reason: every counter named drop_*. */
export function drops(c: Counters): Counters {
  return Object.fromEntries(Object.entries(c).filter(([k, v]) => k.startsWith('drop_') && v !== 0));
}
