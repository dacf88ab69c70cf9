// Output: the Markdown table, results JSON, results.md and SVG line plots.
import type { Plot, ScenarioResult } from './scenarios';

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  return String(v).replace(/\|/g, '\\|');
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e5) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return String(v);
}

export function markdownTable(results: ScenarioResult[]): string {
  const out = ['| scenario | case | figure | value | unit | baseline (same run) | ratio |', '|---|---|---|---:|---|---|---:|'];
  for (const r of results)
    for (const row of r.rows)
      out.push(`| ${r.scenario} | ${cell(row.case)} | ${cell(row.metric)} | ${num(row.value)} | ${cell(row.unit)} | ${cell(row.baseline)} | ${row.ratio === undefined ? '' : num(row.ratio)} |`);
  return out.join('\n');
}

export function keyFigures(results: ScenarioResult[]): string {
  const out = ['| scenario | key figures |', '|---|---|'];
  for (const r of results) out.push(`| ${r.scenario} | ${Object.entries(r.figures).map(([k, v]) => `${k} = ${num(v)}`).join(', ')} |`);
  return out.join('\n');
}

export function markdownReport(results: ScenarioResult[], meta: Record<string, unknown>): string {
  const parts = [
    '# fullnat bench results',
    '',
    `Machine: ${JSON.stringify(meta.machine)}`,
    `Command: \`${String(meta.command)}\``,
    `Started: ${String(meta.started)}, ${String(meta.seconds)} s`,
    '',
    '## Key figures',
    '',
    keyFigures(results),
    '',
    '## All figures',
    '',
    markdownTable(results),
    '',
  ];
  for (const r of results) {
    if (!r.notes.length && !r.plots.length) continue;
    parts.push(`## ${r.scenario}`, '');
    for (const n of r.notes) parts.push(`- ${n}`);
    for (const p of r.plots) parts.push('', `![${p.title}](${p.file})`);
    parts.push('');
  }
  return parts.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A line chart, x optionally log10, y linear from 0. */
export function svgPlot(p: Plot): string {
  const W = 720;
  const H = 420;
  const L = 70;
  const R = 20;
  const T = 40;
  const B = 90;
  const pts = p.series.flatMap((s) => s.points);
  const xs = pts.map(([x]) => (p.logX ? Math.log10(x) : x));
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  const y1 = niceMax(Math.max(...pts.map(([, y]) => y)) * 1.1);
  const sx = (x: number) => L + (((p.logX ? Math.log10(x) : x) - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - (y / y1) * (H - T - B);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(p.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const y = (y1 * k) / 5;
    o.push(`<line x1="${L - 4}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#ddd"/>`);
    o.push(`<text x="${L - 8}" y="${sy(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`);
  }
  const ticks = [...new Set(pts.map(([x]) => x))].sort((a, b) => a - b);
  for (const x of ticks) {
    const label = x >= 1e6 ? `${x / 1e6}M` : x >= 1e3 ? `${+(x / 1e3).toPrecision(3)}k` : String(x);
    o.push(`<line x1="${sx(x)}" y1="${H - B}" x2="${sx(x)}" y2="${H - B + 4}" stroke="black"/>`);
    o.push(`<text x="${sx(x)}" y="${H - B + 18}" text-anchor="middle">${label}</text>`);
  }
  o.push(`<text x="${(L + W - R) / 2}" y="${H - B + 38}" text-anchor="middle">${esc(p.xLabel)}${p.logX ? ' (log scale)' : ''}</text>`);
  o.push(`<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const c = colors[i % colors.length]!;
    const path = s.points.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    o.push(`<path d="${path}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const [x, y] of s.points) o.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${c}"><title>${x}: ${y}</title></circle>`);
    const ly = H - B + 56 + i * 16;
    o.push(`<line x1="${L}" y1="${ly - 4}" x2="${L + 24}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/>`);
    o.push(`<text x="${L + 30}" y="${ly}">${esc(s.name)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
