// The readable preflight report: checks grouped by topic, one line each with
// its verdict, further lines and the fix indented beneath; the steering each
// port will use; the verdict and exit code last.
import { GROUP_TITLES, type Group, type Report } from './types';

const LABEL: Record<string, string> = { ok: 'ok', warning: 'WARNING', error: 'ERROR', info: 'note' };

export function formatReport(r: Report): string {
  const lines: string[] = [`fullnat preflight: ${r.config}`];
  const width = Math.min(20, Math.max(8, ...r.checks.map((c) => c.subject.length)));
  const indent = ' '.repeat(2 + 8 + 1 + width + 2);
  for (const g of Object.keys(GROUP_TITLES) as Group[]) {
    const checks = r.checks.filter((c) => c.group === g);
    if (!checks.length) continue;
    lines.push('', GROUP_TITLES[g]);
    for (const c of checks) {
      const subject = c.subject.length > width ? c.subject : c.subject.padEnd(width);
      lines.push(`  ${LABEL[c.status]!.padEnd(8)} ${subject}  ${c.message}`);
      for (const d of c.details ?? []) lines.push(`${indent}${d}`);
      if (c.fix) lines.push(`${indent}fix: ${c.fix}`);
    }
  }
  if (r.ports.length) {
    lines.push('', 'Reply steering the gateway will use');
    const w = Math.max(...r.ports.map((p) => p.name.length));
    for (const p of r.ports) lines.push(`  ${p.name.padEnd(w)}  ${p.info.steering.padEnd(8)}  ${p.info.steeringReason}`);
  }
  const n = r.counts;
  const plural = (k: number, s: string) => `${k} ${s}${k === 1 ? '' : 's'}`;
  const verdict = r.verdict === 'ok' ? 'ready' : r.verdict === 'warning' ? 'will run, with warnings' : 'will not run as configured';
  lines.push(
    '',
    `Verdict: ${verdict} (${n.ok} ok, ${plural(n.warning, 'warning')}, ${plural(n.error, 'error')}${n.info ? `, ${plural(n.info, 'note')}` : ''}): exit ${r.exitCode}`,
  );
  return lines.join('\n') + '\n';
}
