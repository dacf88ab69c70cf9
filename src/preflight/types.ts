// What preflight reports: a list of checks, each ok / warning / error (info:
// a note that does not count), with the fix to apply.
import type { NativePortInfo } from '../native';

export type Status = 'ok' | 'warning' | 'error' | 'info';

export type Group = 'config' | 'memory' | 'hugepages' | 'devices' | 'cpus' | 'ports';

export const GROUP_TITLES: Record<Group, string> = {
  config: 'Config',
  memory: 'Memory sizing',
  hugepages: 'Hugepages',
  devices: 'Devices',
  cpus: 'CPUs',
  ports: 'Ports (probed through DPDK)',
};

export interface Check {
  group: Group;
  /** Stable machine-readable kind, e.g. "hugepages.free", "pci.driver". */
  id: string;
  /** What was checked: "hugepages", "port wan", "worker lcores". */
  subject: string;
  status: Status;
  /** One sentence: what was found. */
  message: string;
  /** Further lines worth reading (per-node numbers, capabilities). */
  details?: string[];
  /** What to do about a warning or an error. */
  fix?: string;
  /** Numbers behind the message, for --json. */
  data?: Record<string, unknown>;
}

/** One port as the DPDK probe saw it. */
export interface PortProbe {
  name: string;
  device: string;
  /** The steering configured for the port (the probe always asks for auto). */
  configuredSteering: 'auto' | 'flow' | 'redirect';
  info: NativePortInfo;
}

export interface Report {
  config: string;
  /** Worst status over all checks (info counts as ok). */
  verdict: 'ok' | 'warning' | 'error';
  exitCode: 0 | 1 | 2;
  counts: { ok: number; warning: number; error: number; info: number };
  /** True when the ports were opened through DPDK. */
  probed: boolean;
  checks: Check[];
  ports: PortProbe[];
}

export function summarize(config: string, checks: Check[], ports: PortProbe[], probed: boolean): Report {
  const counts = { ok: 0, warning: 0, error: 0, info: 0 };
  for (const c of checks) counts[c.status]++;
  const verdict = counts.error ? 'error' : counts.warning ? 'warning' : 'ok';
  return { config, verdict, exitCode: counts.error ? 2 : counts.warning ? 1 : 0, counts, probed, checks, ports };
}
