// Stable numeric ids for services and real servers, keyed by what they are
// (VIP:port/proto, and the server's address:port within its service), so
// counters and live sessions stay attached to the same thing across reloads.
// A server a reload removes is retired: its id stays reserved (its sessions
// still count against it, a reset still finds them) until no session holds
// it; configured again before that, it gets a fresh id, so old sessions and
// new ones are never confused.
import type { Config } from '../config/schema';

export const MAX_REAL_SERVER_IDS = 1 << 18; // native FN_MAX_RS
export const MAX_SERVICE_IDS = 1 << 18; // native FN_MAX_SVC

export function serviceKey(s: { vip: string; port: number; protocol: string }): string {
  return `${s.vip}:${s.port}/${s.protocol}`;
}

export function realServerKey(svc: string, rs: { address: string; port: number }): string {
  return `${svc} ${rs.address}:${rs.port}`;
}

/** Everything an IdRegistry holds, copied: what restore() puts back. */
export interface IdSnapshot {
  readonly svc: ReadonlyMap<string, number>;
  readonly rs: ReadonlyMap<string, number>;
  readonly draining: ReadonlyMap<number, string>;
  readonly reused: readonly number[];
  readonly nextSvc: number;
  readonly freeRs: readonly number[];
  readonly nextRs: number;
  readonly lipPorts: ReadonlyMap<number, number>;
}

export class IdRegistry {
  private readonly svc = new Map<string, number>();
  private readonly rs = new Map<string, number>();
  private readonly draining = new Map<number, string>();
  private reused: number[] = [];
  private nextSvc = 0;
  private freeRs: number[] = [];
  private nextRs = 0;
  private readonly lipPorts = new Map<number, number>();

  /**
   * A copy of the whole registry. A reload allocates ids, retires servers and
   * notes LIPs while it builds its plan; if the data plane then refuses the
   * plan, restore() makes all of that not have happened.
   */
  snapshot(): IdSnapshot {
    return {
      svc: new Map(this.svc),
      rs: new Map(this.rs),
      draining: new Map(this.draining),
      reused: [...this.reused],
      nextSvc: this.nextSvc,
      freeRs: [...this.freeRs],
      nextRs: this.nextRs,
      lipPorts: new Map(this.lipPorts),
    };
  }

  /** Back to a snapshot (the maps keep their identity: readers holding them see it). */
  restore(s: IdSnapshot): void {
    refill(this.svc, s.svc);
    refill(this.rs, s.rs);
    refill(this.draining, s.draining);
    refill(this.lipPorts, s.lipPorts);
    this.reused = [...s.reused];
    this.nextSvc = s.nextSvc;
    this.freeRs = [...s.freeRs];
    this.nextRs = s.nextRs;
  }

  /**
   * Every LIP ever planned, with its port: one a reload removed may still
   * carry sessions, so the gateway keeps answering ARP for it and steering
   * replies to it (the data plane keeps its port slots for the process's life).
   */
  noteLip(ip: number, portIdx: number): void {
    this.lipPorts.set(ip, portIdx);
  }

  lips(): ReadonlyMap<number, number> {
    return this.lipPorts;
  }

  serviceId(key: string): number {
    let id = this.svc.get(key);
    if (id === undefined) {
      if (this.nextSvc >= MAX_SERVICE_IDS) throw new Error(`more than ${MAX_SERVICE_IDS} services configured over this process's life`);
      this.svc.set(key, (id = this.nextSvc++));
    }
    return id;
  }

  realServerId(key: string): number {
    let id = this.rs.get(key);
    if (id === undefined) {
      const recycled = this.freeRs.pop();
      id = recycled ?? this.nextRs++;
      if (id >= MAX_REAL_SERVER_IDS) throw new Error(`more than ${MAX_REAL_SERVER_IDS} real servers configured or draining at once`);
      if (recycled !== undefined) this.reused.push(id);
      this.rs.set(key, id);
    }
    return id;
  }

  /** Services ever configured: key -> id (a service id is never reused). */
  services(): ReadonlyMap<string, number> {
    return this.svc;
  }

  /** Configured real servers: key -> id. */
  realServers(): ReadonlyMap<string, number> {
    return this.rs;
  }

  /** Removed real servers whose sessions may still run: id -> key. */
  drainingServers(): ReadonlyMap<number, string> {
    return this.draining;
  }

  /** Ids handed out again since the last call (their old counters are stale). */
  takeReused(): number[] {
    const r = this.reused;
    this.reused = [];
    return r;
  }

  /** Move servers that `cfg` no longer has to the draining set. */
  retire(cfg: Config): void {
    const configured = configuredKeys(cfg);
    for (const [key, id] of this.rs) {
      if (!configured.has(key)) {
        this.rs.delete(key);
        this.draining.set(id, key);
      }
    }
  }

  /** Highest service id handed out + 1. */
  serviceIdLimit(): number {
    return this.nextSvc;
  }

  /** Highest real-server id handed out + 1 (how many per-server counters to read). */
  realServerIdLimit(): number {
    return this.nextRs;
  }

  /** Free the ids of retired servers no session holds any more; returns them. */
  release(active: (id: number) => number): number[] {
    const freed: number[] = [];
    for (const id of this.draining.keys()) {
      if (active(id) === 0) {
        this.draining.delete(id);
        this.freeRs.push(id);
        freed.push(id);
      }
    }
    return freed;
  }
}

function refill<K, V>(m: Map<K, V>, from: ReadonlyMap<K, V>): void {
  m.clear();
  for (const [k, v] of from) m.set(k, v);
}

function configuredKeys(cfg: Config): Set<string> {
  return new Set(cfg.services.flatMap((s) => s.real_servers.map((r) => realServerKey(serviceKey(s), r))));
}
