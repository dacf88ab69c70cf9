// EAL arguments from the config, validated here so EAL never gets arguments
// it would answer with its usage text.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Config } from '../config/schema';
import { parseDevice } from '../config/schema';

export class EalError extends Error {}

export interface EalOptions {
  /** CPUs that exist on this machine (defaults to os.cpus().length). */
  cpus?: number;
  /** Used when dpdk.file_prefix is null. */
  defaultPrefix?: string;
}

export function filePrefix(cfg: Config, opts: EalOptions = {}): string {
  return cfg.dpdk.file_prefix ?? opts.defaultPrefix ?? `fullnat-${process.pid}`;
}

/**
 * EAL keeps a runtime directory per file prefix even with --no-shconf, and
 * rte_eal_cleanup leaves it: remove it once EAL is gone (only if empty, so
 * another process's files are never touched).
 */
export function removeRuntimeDir(prefix: string): void {
  const base = process.getuid?.() === 0 ? '/var/run/dpdk' : `${process.env.XDG_RUNTIME_DIR ?? '/tmp'}/dpdk`;
  try {
    fs.rmdirSync(`${base}/${prefix}`);
  } catch {
    // not there, or not empty: leave it
  }
}

/**
 * Every worker needs its own queue pair on every port. af_packet and af_xdp
 * default to one; when the device string does not say, ask for one per worker.
 */
export function withQueues(device: string, workers: number): string {
  if (workers <= 1) return device;
  if (/^net_af_packet/.test(device) && !/,qpairs=/.test(device)) return `${device},qpairs=${workers}`;
  if (/^net_af_xdp/.test(device) && !/,queue_count=/.test(device)) return `${device},queue_count=${workers}`;
  return device;
}

export function ealArgs(cfg: Config, memoryNeededMb: number, opts: EalOptions = {}): string[] {
  const d = cfg.dpdk;
  const cpus = opts.cpus ?? os.cpus().length;
  const lcores = [d.lcores.main, ...d.lcores.workers];
  if (memoryNeededMb > d.memory_mb) {
    throw new EalError(
      `dpdk.memory_mb: ${d.memory_mb} MiB is too little: the mbuf pool and ${cfg.sessions.max} sessions need about ` +
        `${memoryNeededMb} MiB; raise dpdk.memory_mb or lower sessions.max / dpdk.mbufs`,
    );
  }
  const cpuOf = (l: number) => d.lcores.cpus?.[String(l)] ?? l;
  const missing = lcores.map(cpuOf).filter((c) => c >= cpus);
  if (missing.length) {
    throw new EalError(
      `dpdk.lcores: CPU ${[...new Set(missing)].join(', ')} does not exist on this machine (CPUs 0-${cpus - 1}); ` +
        `choose lcores among them or place lcores on CPUs with dpdk.lcores.cpus`,
    );
  }
  const placement = d.lcores.cpus ? ['--lcores', lcores.map((l) => `${l}@${cpuOf(l)}`).join(',')] : ['-l', lcores.join(',')];
  const args = [...placement, '--main-lcore', String(d.lcores.main), '-m', String(d.memory_mb)];
  args.push('--file-prefix', filePrefix(cfg, opts));
  if (!d.hugepages) args.push('--no-huge', '--no-shconf');
  let pci = 0;
  for (const p of cfg.ports) {
    const dev = parseDevice(p.device);
    if (dev?.kind === 'pci') {
      args.push('-a', dev.id);
      pci++;
    } else if (dev?.kind === 'vdev') {
      args.push('--vdev', withQueues(p.device, d.lcores.workers.length));
    }
  }
  if (pci === 0) args.push('--no-pci');
  // Telemetry would open a socket per process under the runtime directory.
  args.push('--no-telemetry', '--log-level', 'lib.eal:warning', ...d.extra_args);
  return args;
}
