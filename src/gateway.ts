// The gateway's lifecycle: EAL, ports and workers up from a config; stats
// pulled periodically; a clean stop. Signals are wired by the CLI.
import type { Config } from './config/schema';
import { formatIPv4 } from './config/net';
import { checkDevices } from './dpdk/devices';
import { ealArgs, filePrefix, removeRuntimeDir } from './dpdk/eal';
import { setupKernelInterfaces } from './dpdk/kernel';
import type { Logger } from './log';
import type { Native, NativePortInfo } from './native';
import { buildPlan } from './plan/build';
import { nonZero, readStats, type StatsSnapshot } from './stats';

export class Gateway {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly cfg: Config,
    private readonly native: Native,
    private readonly log: Logger,
  ) {}

  /** Throws with a message naming the cause (config, EAL, device, memory). */
  start(): void {
    const built = buildPlan(this.cfg);
    const args = ealArgs(this.cfg, built.memoryNeededMb);
    const bad = checkDevices(this.cfg);
    if (bad.length) throw new Error(bad.join('; '));
    this.log.debug({ eal: args }, 'EAL arguments');
    this.native.ealInit(args);
    this.native.start(built.start, built.plan);
    this.running = true;
    setupKernelInterfaces(this.cfg, this.log);
    this.cfg.ports.forEach((p, i) => {
      const info = this.native.portInfo(i);
      this.log.info({ port: p.name, device: p.device, ...info, addresses: p.addresses }, 'port up');
      if (info?.spreading.startsWith('none:') && !info.spreading.includes('ring port')) {
        this.log.warn({ port: p.name, spreading: info.spreading }, 'client flows cannot be spread over the workers on this port');
      }
    });
    this.log.info(
      {
        workers: this.cfg.dpdk.lcores.workers,
        services: this.cfg.services.map((s) => `${s.name} ${s.vip}:${s.port}/${s.protocol} -> ${s.real_servers.length} servers (${s.scheduler})`),
        sessions_per_worker: built.start.sessionsMax,
        memory_mb: { configured: this.cfg.dpdk.memory_mb, needed: built.memoryNeededMb },
      },
      'gateway ready',
    );
    this.watchNeighbours();
    if (this.cfg.stats.interval_s > 0) {
      this.timer = setInterval(() => this.log.info({ stats: nonZero(this.stats().total) }, 'stats'), this.cfg.stats.interval_s * 1000);
      this.timer.unref();
    }
  }

  stats(): StatsSnapshot {
    return readStats(this.native);
  }

  /** Ports as running: driver, MAC, link and the reply steering in effect. */
  ports(): ({ name: string } & Partial<NativePortInfo>)[] {
    return this.cfg.ports.map((p, i) => ({ name: p.name, ...(this.native.portInfo(i) ?? {}) }));
  }

  /** Log each next hop once it resolves, so an operator sees when forwarding can start. */
  private watchNeighbours(): void {
    const seen = new Set<string>();
    const tick = () => {
      if (!this.running) return;
      let pending = 0;
      for (const n of this.native.neighbours()) {
        const key = `${n.portIdx}/${n.ip}`;
        if (n.resolved && !seen.has(key)) {
          seen.add(key);
          this.log.info({ ip: formatIPv4(n.ip), port: this.cfg.ports[n.portIdx]?.name, mac: n.mac }, 'neighbour resolved');
        }
        if (!n.resolved) pending++;
      }
      if (pending > 0 || seen.size === 0) setTimeout(tick, 200).unref();
    };
    tick();
  }

  /** Stops workers and ports; returns the final counters. Idempotent. */
  stop(): StatsSnapshot {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) this.native.stop();
    this.running = false;
    return this.stats();
  }

  /** Release EAL (hugepage files included); the process must exit afterwards. */
  release(): void {
    this.native.ealCleanup();
    removeRuntimeDir(filePrefix(this.cfg));
  }
}
