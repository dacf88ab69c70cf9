// How `fullnat list` and `fullnat sessions` print for a person (JSON with --json),
// and the session rows both are made of, formatted from the data plane's numbers.
import { formatIPv4 } from '../config/net';
import { CONSTANTS } from '../generated/consts';
import type { ServiceListing } from '../gateway';
import type { NativeSession } from '../native';

/** One session as `fullnat sessions` shows it (and serves it as JSON). */
export interface SessionRow {
  proto: 'tcp' | 'udp';
  client: string; // ip:port
  vip: string;
  local: string; // LIP:lport
  server: string;
  state: string;
  worker: number;
  serviceId: number;
  realServerId: number;
  expiresMs: number;
}

const IPPROTO_TCP = 6;

export function sessionRow(s: NativeSession): SessionRow {
  const tcp = s.proto === IPPROTO_TCP;
  const at = (ip: number, port: number) => `${formatIPv4(ip)}:${port}`;
  return {
    proto: tcp ? 'tcp' : 'udp',
    client: at(s.cip, s.cport),
    vip: at(s.vip, s.vport),
    local: at(s.lip, s.lport),
    server: at(s.rip, s.rport),
    state: tcp ? (CONSTANTS.tcpStates[s.state] ?? 'UDP') : 'UDP',
    worker: s.worker,
    serviceId: s.serviceId,
    realServerId: s.realServerId,
    expiresMs: s.expiresMs,
  };
}

function table(header: string[], rows: string[][], right: Set<number> = new Set()): string[] {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

/** ipvsadm -Ln, with health: a service line, then its servers. */
export function listView(services: ServiceListing[]): string {
  if (services.length === 0) return 'no services configured\n';
  const out: string[] = [];
  for (const s of services) {
    out.push(`${s.protocol.toUpperCase()}  ${s.vip}:${s.port} ${s.scheduler}  (${s.name})`);
    const rows = s.real_servers.map((r) => [
      `  -> ${r.address}:${r.port}`,
      String(r.weight),
      r.health,
      String(r.active),
      String(r.created),
      r.health === 'down' && r.last_error ? r.last_error : '',
    ]);
    out.push(...table(['  -> RemoteAddress:Port', 'Weight', 'Health', 'Sessions', 'Created', 'Last error'], rows, new Set([1, 3, 4])));
  }
  return out.join('\n') + '\n';
}

export function sessionsView(list: SessionRow[], limit: number): string {
  if (list.length === 0) return 'no sessions match\n';
  const rows = list.map((s) => [s.proto, s.client, s.vip, s.local, s.server, s.state, String(s.worker), String(Math.round(s.expiresMs / 1000))]);
  const lines = table(['Proto', 'Client', 'VIP', 'Local (LIP)', 'Server', 'State', 'Worker', 'Expires(s)'], rows, new Set([6, 7]));
  if (list.length >= limit) lines.push(`(first ${limit} shown; raise --limit or filter with --vip, --server, --client)`);
  return lines.join('\n') + '\n';
}
