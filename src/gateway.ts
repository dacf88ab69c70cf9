// The gateway's lifecycle: EAL, ports and workers up from a config; live
// reloads and health verdicts republished as plans; stats; a clean stop.
// Signals and the control socket are wired by the CLI.
import { ConfigError } from './config/errors';
import { formatIPv4, parseIPv4 } from './config/net';
import { loadConfig } from './config/load';
import type { Config } from './config/schema';
import * as fs from 'node:fs';
import { checkDevices, vdevArgs } from './dpdk/devices';
import { ealArgs, filePrefix, removeRuntimeDir } from './dpdk/eal';
import { setupKernelInterfaces } from './dpdk/kernel';
import { sessionRow, type SessionRow } from './control/views';
import { HealthMonitor, type HealthState } from './health';
import { healthTargets } from './health/targets';
import type { Logger } from './log';
import type { Native, NativePortInfo } from './native';
import { serviceKey, type IdRegistry } from './plan/ids';
import { RunningPlan, type ReloadResult, type ServiceListing } from './reload/running-plan';
import { nonZero, readStats, type StatsSnapshot } from './stats';

export type { ReloadResult, ServiceListing };

export class Gateway {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** The running config, ids and listing; every plan change goes through it. */
  private readonly plan: RunningPlan;
  private readonly health: HealthMonitor;
  private readonly isUp = (key: string) => this.health.isUp(key);

  constructor(
    cfg: Config,
    private readonly native: Native,
    private readonly log: Logger,
  ) {
    this.plan = new RunningPlan(cfg, native);
    this.health = new HealthMonitor(log.child({ component: 'health' }));
    this.health.on('change', (s: HealthState) => {
      if (this.running) this.publish(`health: ${s.key} ${s.up ? 'up' : 'down'}`);
    });
  }

  /** The config the running plan was built from: a reload changes both or neither. */
  private get cfg(): Config {
    return this.plan.config();
  }

  private get ids(): IdRegistry {
    return this.plan.ids;
  }

  config(): Config {
    return this.cfg;
  }

  /** Throws with a message naming the cause (config, EAL, device, memory). */
  start(): void {
    const built = this.plan.start(this.isUp, (b) => {
      const args = ealArgs(this.cfg, b.memoryNeededMb);
      const bad = checkDevices(this.cfg);
      if (bad.length) throw new Error(bad.join('; '));
      this.log.debug({ eal: args }, 'EAL arguments');
      this.native.ealInit(args);
      this.native.start(b.start, b.plan);
    });
    this.running = true;
    setupKernelInterfaces(this.cfg, this.log);
    this.cfg.ports.forEach((p, i) => {
      const info = this.native.portInfo(i);
      this.log.info({ port: p.name, device: p.device, ...info, addresses: p.addresses }, 'port up');
      if (info?.spreading.startsWith('none:') && !info.spreading.includes('ring port')) {
        this.log.warn({ port: p.name, spreading: info.spreading }, 'client flows cannot be spread over the workers on this port');
      }
    });
    this.logPlacement();
    this.health.update(healthTargets(this.cfg));
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
    this.watchExhaustion();
    this.watchLinks();
    this.startStatsTimer();
  }

  /**
   * LIP port exhaustion is a counted drop in the data plane; here it becomes
   * one log line per pool at most every 10 s, naming the pool, its LIPs and
   * range, the services hit and how many new flows were refused.
   */
  private watchExhaustion(): void {
    const seen = new Map<number, number>();
    const lastLog = new Map<string, number>();
    const pending = new Map<string, { dropped: number; services: Set<string> }>();
    const tick = () => {
      if (!this.running) return;
      const { lportExhausted } = this.native.readServices(this.ids.serviceIdLimit());
      for (const s of this.cfg.services) {
        const id = this.ids.serviceId(serviceKey(s));
        const now = lportExhausted[id] ?? 0;
        const delta = now - (seen.get(id) ?? 0);
        seen.set(id, now);
        if (delta <= 0) continue;
        const p = pending.get(s.local_addresses) ?? { dropped: 0, services: new Set<string>() };
        p.dropped += delta;
        p.services.add(s.name);
        pending.set(s.local_addresses, p);
      }
      for (const [pool, p] of pending) {
        if (Date.now() - (lastLog.get(pool) ?? 0) < 10_000) continue;
        const cfg = this.cfg.local_addresses[pool];
        this.log.warn(
          { pool, lips: cfg?.addresses, ports: cfg?.ports, services: [...p.services], dropped: p.dropped },
          `local ports exhausted in pool ${pool}: new flows dropped (existing sessions unaffected); add LIPs or widen the port range`,
        );
        lastLog.set(pool, Date.now());
        pending.delete(pool);
      }
      setTimeout(tick, 1000).unref();
    };
    tick();
  }

  /**
   * Link state per port, logged on every change. af_packet/af_xdp ports
   * report a fixed link, so for them the kernel interface's operstate is
   * what tells (a veth set down, a cable pulled on the host NIC).
   */
  private watchLinks(): void {
    const state = new Map<string, boolean>();
    const tick = () => {
      if (!this.running) return;
      this.cfg.ports.forEach((p, i) => {
        const iface = vdevArgs(p.device).iface;
        let up: boolean | undefined;
        if (iface && /^net_af_(packet|xdp)/.test(p.device)) {
          try {
            up = fs.readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim() !== 'down';
          } catch {
            up = false; // the interface is gone
          }
        } else {
          up = this.native.portInfo(i)?.linkUp;
        }
        if (up === undefined) return;
        const was = state.get(p.name);
        state.set(p.name, up);
        if (was === undefined || was === up) return;
        this.linkChanges++;
        if (up) this.log.info({ port: p.name, device: p.device }, 'link up: port forwarding again');
        else this.log.warn({ port: p.name, device: p.device }, 'link down: frames for this port are lost until it returns');
      });
      setTimeout(tick, 1000).unref();
    };
    tick();
  }

  /** Link up/down transitions seen since start (all ports). */
  linkChanges = 0;

  /** Where memory and workers ended up, and a warning where they are apart. */
  private logPlacement(): void {
    const nodes = this.native.workerNodes();
    const ports = this.cfg.ports.map((p, i) => {
      const info = this.native.portInfo(i);
      return { port: p.name, device_node: info?.numaNode ?? -1, mbuf_node: info?.memNode ?? -1 };
    });
    const workers = this.cfg.dpdk.lcores.workers.map((lcore, i) => ({ lcore, node: nodes[i] ?? -1 }));
    this.log.info({ ports, workers }, 'NUMA placement: mbufs on each port\'s node, session tables on each worker\'s node');
    for (const w of workers) {
      const far = ports.filter((p) => p.device_node >= 0 && p.device_node !== w.node).map((p) => p.port);
      if (far.length) this.log.warn({ lcore: w.lcore, node: w.node, ports: far }, 'worker on another NUMA node than some of its ports: every packet crosses the interconnect');
    }
  }

  private startStatsTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.cfg.stats.interval_s > 0) {
      this.timer = setInterval(() => this.log.info({ stats: nonZero(this.stats().total) }, 'stats'), this.cfg.stats.interval_s * 1000);
      this.timer.unref();
    }
  }

  /**
   * Build and publish a plan for the current config after a health verdict.
   * Runs in an event handler, so it never throws: a plan the data plane
   * refuses is logged and the running one stays; the verdict is kept and
   * goes out with the next publish.
   */
  private publish(reason: string): void {
    try {
      const r = this.plan.publish(this.cfg, { isUp: this.isUp });
      if (r.ok) this.log.info({ reason, generation: r.generation }, 'plan published');
      else this.log.error({ reason, err: r.error }, 'plan not published: the running plan stays');
    } catch (e) {
      this.log.error({ reason, err: e }, 'plan not published: the running plan stays');
    }
  }

  /**
   * Apply a new config live. Nothing changes unless everything validates:
   * a setting that needs a restart, or a plan the data plane refuses, leaves
   * the running config serving.
   */
  reload(next: Config): ReloadResult {
    if (!this.running) return { ok: false, errors: ['the gateway is not running'] };
    const old = this.cfg;
    const r = this.plan.reload(next, { isUp: this.isUp });
    if (!r.ok) return r;
    if (!isSameRoutes(old, next)) setupKernelInterfaces(next, this.log);
    this.health.update(healthTargets(next));
    if (old.stats.interval_s !== next.stats.interval_s) this.startStatsTimer();
    this.log.level = next.log.level;
    this.log.info({ changes: r.changes, generation: this.plan.generation() }, 'config reloaded');
    return r;
  }

  /** Reload from a file: its errors (FILE:LINE:COL) come back, the running config stays. */
  reloadFile(file: string): ReloadResult {
    let next: Config;
    try {
      next = loadConfig(file);
    } catch (e) {
      const errors = e instanceof ConfigError ? e.format().split('\n') : [(e as Error).message];
      this.log.error({ file, errors }, 'reload rejected: the running config stays');
      return { ok: false, errors };
    }
    const r = this.reload(next);
    if (!r.ok) this.log.error({ file, errors: r.errors }, 'reload rejected: the running config stays');
    return r;
  }

  stats(): StatsSnapshot {
    return readStats(this.native);
  }

  /** Ports as running: driver, MAC, link and the reply steering in effect. */
  ports(): ({ name: string } & Partial<NativePortInfo>)[] {
    return this.cfg.ports.map((p, i) => ({ name: p.name, ...(this.native.portInfo(i) ?? {}) }));
  }

  /** Services and their servers as `ipvsadm -Ln` shows them, plus health. */
  list(): ServiceListing[] {
    return this.plan.list(this.health.states());
  }

  healthStates(): HealthState[] {
    return this.health.states();
  }

  /** Up to `limit` sessions, filtered by VIP, real server or client address. */
  sessions(filter: { vip?: string; server?: string; client?: string }, limit: number): SessionRow[] {
    const ip = (s?: string) => (s ? parseIPv4(s) : undefined);
    return this.native.sessions({ vip: ip(filter.vip), rip: ip(filter.server), cip: ip(filter.client) }, limit).map(sessionRow);
  }

  /** Log each next hop once it resolves, so an operator sees when forwarding can start. */
  private watchNeighbours(): void {
    // MAC last seen per neighbour: the data plane changes a resolved one only
    // on the answer to its own ARP request (arp_mac_changed), which is worth
    // a warning: a server that moved, or someone winning that race.
    const seen = new Map<string, string>();
    const tick = () => {
      if (!this.running) return;
      for (const n of this.native.neighbours()) {
        if (!n.resolved || n.mac === null) continue;
        const key = `${n.portIdx}/${n.ip}`;
        const was = seen.get(key);
        if (was === n.mac) continue;
        seen.set(key, n.mac);
        const where = { ip: formatIPv4(n.ip), port: this.cfg.ports[n.portIdx]?.name };
        if (was === undefined) this.log.info({ ...where, mac: n.mac }, 'neighbour resolved');
        else this.log.warn({ ...where, mac: n.mac, oldMac: was }, `neighbour MAC changed from ${was} to ${n.mac}`);
      }
      setTimeout(tick, 500).unref();
    };
    tick();
  }

  /** Stops health checks, workers and ports; returns the final counters. Idempotent. */
  stop(): StatsSnapshot {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.health.stop();
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

function isSameRoutes(a: Config, b: Config): boolean {
  return JSON.stringify(a.routes) === JSON.stringify(b.routes);
}
