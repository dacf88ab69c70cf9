// `fullnat stats` as a person reads it: one row per counter that moved, a
// column per worker, the control thread and the total.
import type { Counters, StatsSnapshot } from '../stats';

export interface PortSteering {
  name: string;
  steering: string;
  steeringReason: string;
}

export function statsTable(s: StatsSnapshot, ports: PortSteering[] = []): string {
  const cols: [string, Counters][] = [...s.workers.map((w, i): [string, Counters] => [`worker${i}`, w]), ['control', s.control], ['total', s.total]];
  const rows = Object.keys(s.total).filter((k) => s.total[k] !== 0);
  const width = Math.max(8, ...rows.map((r) => r.length));
  const cw = cols.map(([name, c]) => Math.max(name.length, ...rows.map((r) => String(c[r] ?? 0).length)));
  const line = (label: string, cells: string[]) => label.padEnd(width) + '  ' + cells.map((c, i) => c.padStart(cw[i]!)).join('  ');
  const out = [line('counter', cols.map(([n]) => n)), line('-'.repeat(width), cw.map((w) => '-'.repeat(w)))];
  for (const r of rows) out.push(line(r, cols.map(([, c]) => String(c[r] ?? 0))));
  if (rows.length === 0) out.push('(all counters are zero)');
  if (ports.length) {
    out.push('', 'reply steering:');
    for (const p of ports) out.push(`  ${p.name}: ${p.steering} (${p.steeringReason})`);
  }
  return out.join('\n') + '\n';
}
