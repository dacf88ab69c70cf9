// Control-plane micro benchmarks (npm `benchmark`): config parse + validate,
// plan build, Maglev table builds, stats aggregation. Each has a baseline
// measured in the same run (or, for Maglev, the paper's published figure).
import Benchmark from 'benchmark';
import { parseConfig } from '../src/config/load';
import { buildPlan } from '../src/plan/build';
import { maglevTable, type MaglevBackend } from '../src/plan/maglev';
import { rrTable } from '../src/plan/sched';
import type { Native } from '../src/native';
import { readStats } from '../src/stats';
import { round } from './figures';
import type { Ctx, Row, ScenarioResult } from './scenarios';

let sink = 0;

function measure(name: string, fn: () => void, maxTime: number): Benchmark {
  const b = new Benchmark(name, fn, { maxTime, minSamples: 3, initCount: 1 });
  b.run();
  if (b.error) throw b.error as Error;
  return b;
}

const ms = (b: Benchmark) => b.stats.mean * 1000;

/** A config with `n` services of `rs` real servers each, as YAML and as the same data in JSON. */
export function configText(n: number, rs: number): { yaml: string; json: string } {
  const lines = [
    'dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 512 }',
    'ports:',
    '  - { name: wan, device: "ring:cw", addresses: [198.18.0.254/16] }',
    '  - { name: lan, device: "ring:cl", addresses: [198.19.0.254/16] }',
    'local_addresses: { pool: { port: lan, addresses: [198.19.1.1, 198.19.1.2] } }',
    'services:',
  ];
  const obj: Record<string, unknown> = {
    dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 512 },
    ports: [
      { name: 'wan', device: 'ring:cw', addresses: ['198.18.0.254/16'] },
      { name: 'lan', device: 'ring:cl', addresses: ['198.19.0.254/16'] },
    ],
    local_addresses: { pool: { port: 'lan', addresses: ['198.19.1.1', '198.19.1.2'] } },
    services: [] as unknown[],
  };
  for (let s = 0; s < n; s++) {
    const vip = `198.18.${2 + Math.floor(s / 1000)}.${(s % 250) + 1}`;
    const port = 1000 + (s % 1000);
    const servers = Array.from({ length: rs }, (_, k) => ({ address: `198.19.${2 + (k >> 8)}.${(k & 255) + 1}`, port: 8080 }));
    lines.push(`  - name: s${s}`, `    vip: ${vip}`, `    port: ${port}`, '    protocol: tcp', '    scheduler: wrr', '    local_addresses: pool', '    real_servers:');
    for (const r of servers) lines.push(`      - { address: ${r.address}, port: ${r.port} }`);
    (obj.services as unknown[]).push({ name: `s${s}`, vip, port, protocol: 'tcp', scheduler: 'wrr', local_addresses: 'pool', real_servers: servers });
  }
  return { yaml: lines.join('\n') + '\n', json: JSON.stringify(obj) };
}

function backends(n: number): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ name: `198.19.${i >> 8}.${i & 255}:8080`, weight: 1 }));
}

/** A Native stand-in whose counters look like `workers` busy workers. */
function fakeNative(workers: number): Native {
  const names = ['rx_packets', 'tx_packets', 'tx_dropped', 'fwd_to_server', 'fwd_to_client', 'sessions_created', 'sessions_expired', 'sessions_active'];
  for (let i = names.length; i < 36; i++) names.push(`drop_${i}`);
  const flat = Float64Array.from({ length: (workers + 1) * names.length }, (_, i) => i * 7919);
  return { counterNames: () => names, readCounters: () => flat.slice() } as unknown as Native;
}

export async function control(ctx: Ctx): Promise<ScenarioResult> {
  const maxTime = ctx.smoke ? 0.05 : 1;
  const rows: Row[] = [];
  const figures: Record<string, number> = {};

  // YAML parse + validate, against JSON.parse of the same document (the parse floor).
  const sizes = ctx.smoke ? [10] : [10, 1000];
  for (const n of sizes) {
    ctx.progress(`config parse + validate, ${n} services × 4 real servers`);
    const t = configText(n, 4);
    const y = measure(`parse ${n}`, () => {
      sink ^= parseConfig(t.yaml, 'bench.yaml').services.length;
    }, maxTime);
    const j = measure(`json ${n}`, () => {
      sink ^= (JSON.parse(t.json) as { services: unknown[] }).services.length;
    }, maxTime);
    figures[`config_parse_ms_${n}_services`] = round(ms(y));
    rows.push({ case: `YAML parse + validate, ${n} services`, metric: 'ms', value: round(ms(y)), unit: 'ms', baseline: `JSON.parse of the same data ${round(ms(j))} ms`, ratio: round(ms(y) / ms(j)) });
  }

  // Plan build, against parsing the same config.
  for (const n of sizes) {
    ctx.progress(`plan build, ${n} services`);
    const text = configText(n, 4).yaml;
    const cfg = parseConfig(text, 'bench.yaml');
    const p = measure(`plan ${n}`, () => {
      sink ^= buildPlan(cfg).plan.services.length;
    }, maxTime);
    const q = measure(`parse ${n}`, () => {
      sink ^= parseConfig(text, 'bench.yaml').services.length;
    }, maxTime);
    figures[`plan_build_ms_${n}_services`] = round(ms(p));
    rows.push({ case: `plan build, ${n} services × 4 real servers (wrr)`, metric: 'ms', value: round(ms(p)), unit: 'ms', baseline: `parse + validate of the same config ${round(ms(q))} ms`, ratio: round(ms(p) / ms(q)) });
  }

  // Maglev: the paper (Eisenbud et al., NSDI 2016) reports 1.8 ms (M=65537) and 22.9 ms (M=655373).
  const bs = backends(1000);
  const rrB = measure('rr 1000', () => {
    sink ^= rrTable(bs.map((b) => b.weight)).length;
  }, maxTime);
  for (const [M, paper] of [
    [65537, 1.8],
    [655373, 22.9],
  ] as const) {
    ctx.progress(`Maglev table, M=${M}, 1000 backends`);
    const b = measure(`maglev ${M}`, () => {
      sink ^= maglevTable(bs, M)[0]!;
    }, maxTime);
    figures[`maglev_ms_${M}`] = round(ms(b));
    figures[`maglev_ratio_vs_paper_${M}`] = round(paper / ms(b));
    rows.push({ case: `Maglev table M=${M}, 1000 backends`, metric: 'ms', value: round(ms(b)), unit: 'ms', baseline: `paper ${paper} ms (published, other hardware); rr table ${round(ms(rrB), 4)} ms (same run)`, ratio: round(paper / ms(b)) });
  }

  // Stats aggregation: readStats over 16 workers, against summing the same Float64Array.
  ctx.progress('stats aggregation, 16 workers');
  const nat = fakeNative(16);
  const s = measure('readStats', () => {
    sink ^= readStats(nat).total.rx_packets!;
  }, maxTime);
  const names = nat.counterNames();
  const raw = measure('raw sum', () => {
    const f = nat.readCounters();
    const t = new Float64Array(names.length);
    for (let i = 0; i < f.length; i++) t[i % names.length] += f[i]!;
    sink ^= t[0]!;
  }, maxTime);
  figures.stats_aggregation_us = round(ms(s) * 1000);
  rows.push({ case: 'stats aggregation, 16 workers × 36 counters', metric: 'µs', value: round(ms(s) * 1000), unit: 'µs', baseline: `plain sum of the same array ${round(ms(raw) * 1000)} µs`, ratio: round(ms(s) / ms(raw)) });
  if (sink === 0.5) rows.push({ case: 'sink', metric: '', value: sink, unit: '' });

  return {
    scenario: 'control',
    figures,
    rows,
    plots: [],
    notes: [
      'Times are means from the benchmark package (ms per operation). Ratio columns: ours / baseline, except Maglev: paper / ours (> 1: faster than the paper).',
    ],
    details: {},
  };
}
