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
import { HealthMonitor, normalizeTarget, type HealthState } from './health';
import { healthTargets } from './health/targets';
import type { Logger } from './log';
import type { Native, NativePortInfo } from './native';
import { buildPlan, type PlannedRealServer } from './plan/build';
import { IdRegistry, serviceKey } from './plan/ids';
import { describeChanges, liveChangeErrors, serversToReset, type ConfigChanges } from './reload';
import { nonZero, readStats, type StatsSnapshot } from './stats';

export type ReloadResult = { ok: true; changes: ConfigChanges } | { ok: false; errors: string[] };

export interface ServiceListing {
  name: string;
  vip: string;
  port: number;
  protocol: string;
  scheduler: string;
  real_servers: (PlannedRealServer & { health: 'up' | 'down' | 'unchecked' | 'removed'; active: number; created: number; last_error: string | null })[];
}

export class Gateway {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private cfg: Config;
  private readonly ids = new IdRegistry();
  /** Ids of removed servers whose sessions are to be reset (see removed_servers). */
  private readonly resetIds = new Set<number>();
  /** Sessions-created counts of recycled ids at the time they were recycled. */
  private readonly createdBase = new Map<number, number>();
  private planned: PlannedRealServer[] = [];
  private readonly health: HealthMonitor;
  private generation = 0;

  constructor(
    cfg: Config,
    private readonly native: Native,
    private readonly log: Logger,
  ) {
    this.cfg = cfg;
    this.health = new HealthMonitor(log.child({ component: 'health' }));
    this.health.on('change', (s: HealthState) => {
      if (this.running) this.publish(`health: ${s.key} ${s.up ? 'up' : 'down'}`);
    });
  }

  config(): Config {
    return this.cfg;
  }

  private build(cfg: Config) {
    const built = buildPlan(cfg, { ids: this.ids, isUp: (key) => this.health.isUp(key), reset: [...this.resetIds] });
    const reused = this.ids.takeReused();
    if (reused.length) {
      const { created } = this.native.readRealServers(this.ids.realServerIdLimit());
      for (const id of reused) this.createdBase.set(id, created[id] ?? 0);
    }
    return built;
  }

  /** Throws with a message naming the cause (config, EAL, device, memory). */
  start(): void {
    const built = this.build(this.cfg);
    const args = ealArgs(this.cfg, built.memoryNeededMb);
    const bad = checkDevices(this.cfg);
    if (bad.length) throw new Error(bad.join('; '));
    this.log.debug({ eal: args }, 'EAL arguments');
    this.native.ealInit(args);
    this.native.start(built.start, built.plan);
    this.planned = built.realServers;
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

  /** Build and publish a plan for the current config (after health changes). */
  private publish(reason: string): void {
    const built = this.build(this.cfg);
    this.native.apply(built.plan);
    this.planned = built.realServers;
    this.generation++;
    this.releaseIds();
    this.log.info({ reason, generation: this.generation }, 'plan published');
  }

  /** Ids of servers that are gone and hold no session can serve new servers. */
  private releaseIds(): void {
    const { active } = this.native.readRealServers(this.ids.realServerIdLimit());
    for (const id of this.ids.release((id) => active[id] ?? 0)) this.resetIds.delete(id);
  }

  /**
   * Apply a new config live. Nothing changes unless everything validates:
   * a setting that needs a restart, or a plan the data plane refuses, leaves
   * the running config serving.
   */
  reload(next: Config): ReloadResult {
    if (!this.running) return { ok: false, errors: ['the gateway is not running'] };
    const errors = liveChangeErrors(this.cfg, next);
    if (errors.length) return { ok: false, errors };
    const changes = describeChanges(this.cfg, next);
    const resetNow = serversToReset(this.cfg, next)
      .map((k) => this.ids.realServers().get(k))
      .filter((id): id is number => id !== undefined && !this.resetIds.has(id));
    try {
      healthTargets(next).forEach(normalizeTarget); // refuse before anything changes
      resetNow.forEach((id) => this.resetIds.add(id));
      this.ids.retire(next); // removed servers drain under their old ids; re-added ones get new ids
      const built = this.build(next);
      this.native.apply(built.plan);
      this.planned = built.realServers;
    } catch (e) {
      resetNow.forEach((id) => this.resetIds.delete(id));
      return { ok: false, errors: [(e as Error).message] };
    }
    const old = this.cfg;
    this.cfg = next;
    this.generation++;
    this.releaseIds();
    if (!isSameRoutes(old, next)) setupKernelInterfaces(next, this.log);
    this.health.update(healthTargets(next));
    if (old.stats.interval_s !== next.stats.interval_s) this.startStatsTimer();
    this.log.level = next.log.level;
    this.log.info({ changes, generation: this.generation }, 'config reloaded');
    return { ok: true, changes };
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
    const { active, created } = this.native.readRealServers(this.ids.realServerIdLimit());
    const health = new Map(this.health.states().map((s) => [s.key, s]));
    const createdOf = (id: number) => (created[id] ?? 0) - (this.createdBase.get(id) ?? 0);
    return this.cfg.services.map((s) => {
      const prefix = serviceKey(s) + ' ';
      const configured = this.planned
        .filter((r) => r.key.startsWith(prefix))
        .map((r) => {
          const h = health.get(r.key);
          return {
            ...r,
            health: h ? (h.up ? 'up' : 'down') : 'unchecked',
            active: active[r.id] ?? 0,
            created: createdOf(r.id),
            last_error: h?.lastError ?? null,
          } as const;
        });
      // Removed by a reload, sessions still running: shown until they end.
      const draining = [...this.ids.drainingServers()]
        .filter(([, key]) => key.startsWith(prefix))
        .map(([id, key]) => {
          const addr = key.slice(prefix.length);
          const i = addr.lastIndexOf(':');
          return {
            id,
            key,
            service: s.name,
            address: addr.slice(0, i),
            port: Number(addr.slice(i + 1)),
            weight: 0,
            up: false,
            health: 'removed',
            active: active[id] ?? 0,
            created: createdOf(id),
            last_error: this.resetIds.has(id) ? 'removed with reset' : 'removed: draining',
          } as const;
        });
      return { name: s.name, vip: s.vip, port: s.port, protocol: s.protocol, scheduler: s.scheduler, real_servers: [...configured, ...draining] };
    });
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
    const seen = new Set<string>();
    const tick = () => {
      if (!this.running) return;
      for (const n of this.native.neighbours()) {
        const key = `${n.portIdx}/${n.ip}`;
        if (n.resolved && !seen.has(key)) {
          seen.add(key);
          this.log.info({ ip: formatIPv4(n.ip), port: this.cfg.ports[n.portIdx]?.name, mac: n.mac }, 'neighbour resolved');
        }
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
