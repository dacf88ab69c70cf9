// What a reload may change, and what it did change: compares the running
// config with the new one. Ports, EAL and memory are fixed for the life of
// the process; everything that lives in the plan can change live.
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema';
import { realServerKey, serviceKey } from '../plan/ids';

/** One line per setting that needs a restart, naming it. Empty: reload is possible. */
export function liveChangeErrors(old: Config, next: Config): string[] {
  const out: string[] = [];
  const restart = '(restart the gateway to change it)';
  for (const k of Object.keys(old.dpdk) as (keyof Config['dpdk'])[]) {
    if (!isDeepStrictEqual(old.dpdk[k], next.dpdk[k])) out.push(`dpdk.${k} cannot change while running ${restart}`);
  }
  if (old.ports.length !== next.ports.length) {
    out.push(`ports: the number of ports cannot change while running ${restart}`);
  } else {
    old.ports.forEach((p, i) => {
      const n = next.ports[i]!;
      for (const k of Object.keys(p) as (keyof typeof p)[]) {
        if (!isDeepStrictEqual(p[k], n[k])) out.push(`ports[${i}].${k} (port ${p.name}) cannot change while running ${restart}`);
      }
    });
  }
  if (old.sessions.max !== next.sessions.max) out.push(`sessions.max cannot change while running ${restart}`);
  if (old.control.socket !== next.control.socket) out.push(`control.socket cannot change while running ${restart}`);
  return out;
}

export interface ConfigChanges {
  services_added: string[];
  services_removed: string[];
  services_changed: string[];
  servers_added: string[];
  servers_removed: string[];
  weights_changed: string[];
  other: string[];
}

function rsMap(cfg: Config): Map<string, { weight: number; service: string }> {
  return new Map(
    cfg.services.flatMap((s) => s.real_servers.map((r) => [realServerKey(serviceKey(s), r), { weight: r.weight, service: s.name }] as const)),
  );
}

/** What changed, for the log line and the reload answer. */
export function describeChanges(old: Config, next: Config): ConfigChanges {
  const oldSvc = new Map(old.services.map((s) => [serviceKey(s), s]));
  const newSvc = new Map(next.services.map((s) => [serviceKey(s), s]));
  const oldRs = rsMap(old);
  const newRs = rsMap(next);
  const strip = (s: Config['services'][number]) => ({ ...s, real_servers: undefined });
  const other: string[] = [];
  for (const k of ['routes', 'local_addresses', 'sessions', 'stats', 'log'] as const) {
    if (!isDeepStrictEqual(old[k], next[k])) other.push(k);
  }
  return {
    services_added: [...newSvc.keys()].filter((k) => !oldSvc.has(k)),
    services_removed: [...oldSvc.keys()].filter((k) => !newSvc.has(k)),
    services_changed: [...newSvc.keys()].filter((k) => oldSvc.has(k) && !isDeepStrictEqual(strip(oldSvc.get(k)!), strip(newSvc.get(k)!))),
    servers_added: [...newRs.keys()].filter((k) => !oldRs.has(k)),
    servers_removed: [...oldRs.keys()].filter((k) => !newRs.has(k)),
    weights_changed: [...newRs.keys()].filter((k) => oldRs.has(k) && oldRs.get(k)!.weight !== newRs.get(k)!.weight),
    other,
  };
}

/** Real servers that leave with this reload from services that reset their sessions. */
export function serversToReset(old: Config, next: Config): string[] {
  const newRs = rsMap(next);
  return old.services.flatMap((s) =>
    s.removed_servers === 'reset' ? s.real_servers.map((r) => realServerKey(serviceKey(s), r)).filter((k) => !newRs.has(k)) : [],
  );
}
