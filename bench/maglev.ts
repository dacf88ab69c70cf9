// Control-plane micro benchmark: Maglev table builds against an rr table
// build of the same backends, measured in the same run so the ratio is
// meaningful on any machine. Run: node dist/bench/maglev.js
//   BENCH_MAX_TIME=seconds per benchmark (default 2)
import Benchmark from 'benchmark';
import { MAGLEV_DEFAULT_SIZE, maglevTable, type MaglevBackend } from '../src/plan/maglev';
import { rrTable } from '../src/plan/sched';

const maxTime = Number(process.env.BENCH_MAX_TIME ?? 2);

function backends(n: number, weight: (i: number) => number): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ name: `198.19.${i >> 8}.${i & 255}:8080`, weight: weight(i) }));
}

interface Case {
  label: string;
  M: number;
  bs: MaglevBackend[];
}

const cases: Case[] = [];
for (const M of [MAGLEV_DEFAULT_SIZE, 655373]) {
  for (const n of [100, 1000]) cases.push({ label: `M=${M} N=${n}`, M, bs: backends(n, () => 1) });
  cases.push({ label: `M=${M} N=1000 weights 1..4`, M, bs: backends(1000, (i) => (i % 4) + 1) });
  cases.push({ label: `M=${M} N=1000 one 65535, rest 1`, M, bs: backends(1000, (i) => (i === 0 ? 65535 : 1)) });
}

let sink = 0; // keeps the builds observable

function measure(name: string, fn: () => void): Benchmark {
  const b = new Benchmark(name, fn, { maxTime });
  b.run(); // synchronous
  if (b.error) throw b.error;
  return b;
}

function run(c: Case): { maglev: Benchmark; rr: Benchmark } {
  const weights = c.bs.map((b) => b.weight);
  const rr = measure(`rr ${c.label}`, () => {
    sink ^= rrTable(weights).length;
  });
  const maglev = measure(`maglev ${c.label}`, () => {
    sink ^= maglevTable(c.bs, c.M)[0]!;
  });
  return { rr, maglev };
}

function fmt(b: Benchmark): string {
  const ms = b.stats.mean * 1000;
  return `${b.hz.toFixed(b.hz < 100 ? 2 : 0)} ops/s, ${ms < 0.01 ? ms.toExponential(2) : ms.toFixed(2)} ms/build ±${b.stats.rme.toFixed(1)}%`;
}

function main(): void {
  console.log(`maglev table builds vs rr table build of the same backends (node ${process.version}, maxTime ${maxTime}s)`);
  for (const c of cases) {
    const { rr, maglev } = run(c);
    console.log(
      `${c.label.padEnd(34)} maglev ${fmt(maglev)} | rr ${fmt(rr)} | maglev/rr time ratio ${(rr.hz / maglev.hz).toFixed(0)}x`,
    );
  }
  if (sink === 0.5) console.log(sink);
}

main();
