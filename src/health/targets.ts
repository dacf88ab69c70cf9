// Config -> health targets: a service's check, merged with each server's own
// override, with the defaults filled in. One target per real server key.
import type { Config, HealthConfig } from '../config/schema';
import { realServerKey, serviceKey } from '../plan/ids';
import { HEALTH_CHECK_DEFAULTS, type HealthCheckConfig, type HealthTarget } from './check';

function merge(base: HealthConfig | null, over: HealthConfig | null): (HealthCheckConfig & { port: number | null }) | null {
  if (!base && !over) return null;
  const b = base ?? {};
  const o = over ?? {};
  const d = HEALTH_CHECK_DEFAULTS;
  return {
    type: o.type ?? b.type ?? d.type,
    interval_s: o.interval_s ?? b.interval_s ?? d.interval_s,
    timeout_ms: o.timeout_ms ?? b.timeout_ms ?? d.timeout_ms,
    rise: o.rise ?? b.rise ?? d.rise,
    fall: o.fall ?? b.fall ?? d.fall,
    port: o.port ?? b.port ?? null,
    http: { ...d.http, ...stripNullish(b.http), ...stripNullish(o.http) },
  };
}

function stripNullish<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function healthTargets(cfg: Config): HealthTarget[] {
  const out: HealthTarget[] = [];
  const seen = new Set<string>();
  for (const s of cfg.services) {
    for (const rs of s.real_servers) {
      if (rs.health === false) continue;
      const check = merge(s.health, rs.health);
      const key = realServerKey(serviceKey(s), rs);
      if (!check || seen.has(key)) continue;
      seen.add(key);
      const { port, ...rest } = check;
      out.push({ key, address: rs.address, port: port ?? rs.port, check: rest });
    }
  }
  return out;
}
