// `fullnat preflight -c FILE`: is this host ready to run this config? Checks
// memory sizing, hugepages, PCI devices and IOMMU, vdev interfaces, CPUs, and
// (as root, unless --offline) opens the ports through DPDK to report their
// capabilities and the reply steering `auto` will choose. Exit 0 / 1 / 2 for
// ok / warnings / errors. Nothing reaches EAL while a static check fails.
import { ConfigError } from '../config/errors';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { loadNative, type Native } from '../native';
import { buildPlan, type BuiltPlan } from '../plan/build';
import { checkCpus, checkHugepages, checkMemory, checkPciPorts, checkVdevPorts } from './checks';
import { probePorts } from './probe';
import { formatReport } from './report';
import { SYS, type SysRoots } from './sys';
import { summarize, type Check, type PortProbe, type Report } from './types';

export type { Check, PortProbe, Report, Status } from './types';
export type { SysRoots } from './sys';
export { SYS, sysRootsUnder } from './sys';
export { formatReport } from './report';

export interface PreflightOptions {
  /** Print the report as JSON instead of text. */
  json?: boolean;
  /** Skip the DPDK probe of the ports (no EAL, no root needed). */
  offline?: boolean;
  /** sysfs / procfs locations (default: the real ones). */
  sys?: SysRoots;
  /** The data plane to probe with (default: the native addon, loaded only when probing). */
  native?: Native;
  /** Whether the probe may run (default: running as root). */
  isRoot?: boolean;
  /** How long the probe waits for links that are down (default 3000 ms). */
  linkWaitMs?: number;
  /** EAL file prefix for the probe. */
  filePrefix?: string;
  /** Where the report goes (default stdout). */
  write?: (text: string) => void;
}

/** Runs every check and returns the report (prints nothing). */
export async function runPreflight(file: string, opts: PreflightOptions = {}): Promise<Report> {
  const sys = opts.sys ?? SYS;
  const checks: Check[] = [];
  let ports: PortProbe[] = [];
  let probed = false;

  let cfg: Config;
  try {
    cfg = loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    checks.push({
      group: 'config',
      id: 'config.valid',
      subject: 'config',
      status: 'error',
      message: `${file} has ${e.total} problem${e.total === 1 ? '' : 's'}`,
      details: e.format().split('\n'),
      fix: 'correct the lines named above (`fullnat check -c FILE` shows the same)',
    });
    return summarize(file, checks, ports, probed);
  }
  const workers = cfg.dpdk.lcores.workers.length;
  checks.push({
    group: 'config',
    id: 'config.valid',
    subject: 'config',
    status: 'ok',
    message: `valid: ${cfg.ports.length} port${cfg.ports.length === 1 ? '' : 's'}, ${cfg.services.length} service${cfg.services.length === 1 ? '' : 's'}, ${workers} worker${workers === 1 ? '' : 's'}`,
  });

  let built: BuiltPlan | null = null;
  try {
    built = buildPlan(cfg);
  } catch (e) {
    checks.push({ group: 'config', id: 'config.plan', subject: 'plan', status: 'error', message: (e as Error).message, fix: 'correct the config' });
  }
  if (built) checks.push(checkMemory(cfg, built));

  const pci = checkPciPorts(cfg, sys);
  checks.push(...checkHugepages(cfg, { memoryMb: cfg.dpdk.memory_mb, neededMb: built?.memoryNeededMb ?? null }, sys, pci.nodes));
  checks.push(...pci.checks, ...checkVdevPorts(cfg, sys));
  checks.push(...checkCpus(cfg, sys, pci.nodes));

  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  const skip = (status: 'info' | 'warning', message: string, fix?: string) =>
    checks.push({ group: 'ports', id: 'probe.skipped', subject: 'probe', status, message, fix });
  if (opts.offline) {
    skip('info', 'ports not probed (--offline): driver, link, queues, RSS and steering unknown');
  } else if (checks.some((c) => c.status === 'error') || !built) {
    skip('info', 'ports not probed: EAL would fail on the errors above, fix them first');
  } else if (!isRoot) {
    skip('warning', 'ports not probed: opening them through DPDK needs root', 'run it as root (sudo fullnat preflight -c FILE), or pass --offline to skip the probe');
  } else {
    let native: Native | null = opts.native ?? null;
    if (!native) {
      try {
        native = loadNative();
      } catch (e) {
        checks.push({ group: 'ports', id: 'probe.native', subject: 'probe', status: 'error', message: (e as Error).message, fix: 'npm run build' });
      }
    }
    if (native) {
      const r = await probePorts(cfg, built, { native, linkWaitMs: opts.linkWaitMs, filePrefix: opts.filePrefix });
      checks.push(...r.checks);
      ports = r.ports;
      probed = r.ports.length > 0;
    }
  }
  return summarize(file, checks, ports, probed);
}

/** Prints the report (text, or JSON with json: true) and returns the exit code: 0 ok, 1 warnings, 2 errors. */
export async function preflight(file: string, opts: PreflightOptions = {}): Promise<number> {
  const report = await runPreflight(file, opts);
  const write = opts.write ?? ((s: string) => void process.stdout.write(s));
  write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.exitCode;
}
