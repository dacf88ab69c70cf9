// From slices (one benchPump call each) to figures.
//
// Each slice gives two upper bounds of what the worker spent on its packets:
// busy_cycles (loop passes with packets, but a preemption inside a pass is
// counted too) and the worker thread's on-CPU time (exact under preemption,
// but includes idle polling). min(busy, on-CPU) per packet is therefore also
// an upper bound, and the best slice of a phase is the tightest estimate; the
// median is reported next to it. On a quiet machine the two agree.
import type { JobResult, Phase, Slice } from './jobs';

export function sliceCost(s: Slice): number {
  return Math.min(s.busy, s.oncpu) / s.packets;
}

export interface Cost {
  /** Cycles per packet, best slice. */
  best: number;
  /** Cycles per packet, median slice. */
  median: number;
  packets: number;
  slices: number;
  /** Share of the worker's time spent waiting for its CPU (another task ran there). */
  contention: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length & 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function phaseCost(p: Phase | undefined): Cost {
  if (!p) throw new Error('phase missing from the job result');
  const sl = p.slices.filter((s) => s.packets > 0);
  const costs = sl.map(sliceCost);
  const wait = sl.reduce((a, s) => a + s.wait, 0);
  const run = sl.reduce((a, s) => a + (s.oncpu < Number.MAX_SAFE_INTEGER ? s.oncpu : 0), 0);
  return {
    best: Math.min(...costs),
    median: median(costs),
    packets: sl.reduce((a, s) => a + s.packets, 0),
    slices: sl.length,
    contention: wait + run > 0 ? wait / (wait + run) : 0,
  };
}

/** Both directions with equal packet counts: the mean of the two per-packet costs. */
export function bothWays(r: JobResult): Cost {
  const a = phaseCost(r.phases.to_server);
  const b = phaseCost(r.phases.to_client);
  return {
    best: (a.best + b.best) / 2,
    median: (a.median + b.median) / 2,
    packets: a.packets + b.packets,
    slices: a.slices + b.slices,
    contention: (a.contention + b.contention) / 2,
  };
}

export function mpps(cyclesPerPacket: number, tscHz: number): number {
  return tscHz / cyclesPerPacket / 1e6;
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(x) + 1e-12)));
  return Math.round(x * f) / f;
}
