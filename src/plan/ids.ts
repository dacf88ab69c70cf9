// Stable numeric ids for services and real servers, keyed by what they are
// (VIP:port/proto, and the server's address:port within its service), so
// counters and live sessions stay attached to the same thing across reloads.
// A real-server id is only given out again once nothing refers to it: it is
// no longer configured and no session holds it.
import type { Config } from '../config/schema';

export const MAX_REAL_SERVER_IDS = 65536; // native FN_MAX_RS

export function serviceKey(s: { vip: string; port: number; protocol: string }): string {
  return `${s.vip}:${s.port}/${s.protocol}`;
}

export function realServerKey(svc: string, rs: { address: string; port: number }): string {
  return `${svc} ${rs.address}:${rs.port}`;
}

export class IdRegistry {
  private readonly svc = new Map<string, number>();
  private readonly rs = new Map<string, number>();
  private nextSvc = 0;
  private freeRs: number[] = [];
  private nextRs = 0;
  private readonly lipPorts = new Map<number, number>();

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
    if (id === undefined) this.svc.set(key, (id = this.nextSvc++));
    return id;
  }

  realServerId(key: string): number {
    let id = this.rs.get(key);
    if (id === undefined) {
      id = this.freeRs.pop() ?? this.nextRs++;
      if (id >= MAX_REAL_SERVER_IDS) throw new Error(`more than ${MAX_REAL_SERVER_IDS} real servers over the gateway's life`);
      this.rs.set(key, id);
    }
    return id;
  }

  /** Known real servers: key -> id (configured now or still draining). */
  realServers(): ReadonlyMap<string, number> {
    return this.rs;
  }

  /** Highest service id handed out + 1. */
  serviceIdLimit(): number {
    return this.nextSvc;
  }

  /** Highest real-server id handed out + 1 (how many per-server counters to read). */
  realServerIdLimit(): number {
    return this.nextRs;
  }

  /**
   * Forget real servers that are neither in `cfg` nor hold sessions
   * (`active(id)` = 0), so their ids can serve new servers.
   */
  release(cfg: Config, active: (id: number) => number): void {
    const configured = new Set(cfg.services.flatMap((s) => s.real_servers.map((r) => realServerKey(serviceKey(s), r))));
    for (const [key, id] of this.rs) {
      if (!configured.has(key) && active(id) === 0) {
        this.rs.delete(key);
        this.freeRs.push(id);
      }
    }
  }
}
