// Config -> what the data plane runs: the start configuration (ports, lcores,
// memory) and the plan (services, real servers, scheduling tables, LIPs,
// local addresses, timeouts), with indices resolved and next hops routed.
import type { Config } from '../config/schema';
import { parseDevice } from '../config/schema';
import { inSubnet, parseCidr, parseIPv4 } from '../config/net';
import { kernelInterface } from '../config/kernel-interface';
import { CONSTANTS } from '../generated/consts';
import { TIMEOUT_ORDER, type NativePlan, type NativeStartConfig } from './contract';
import { IdRegistry, realServerKey, serviceKey } from './ids';
import { schedTable } from './sched';

const PROTO = { tcp: 6, udp: 17 } as const;
const KINDS = CONSTANTS.schedKinds;
const SCHED_KIND = { rr: KINDS.cursor, wrr: KINDS.cursor, lc: KINDS.least, wlc: KINDS.least, sh: KINDS.hash_addr, mh: KINDS.hash_addr } as const;

/** Bytes per session: native struct fn_session plus its share of hash buckets and free list, its slot in the half-open queue (rounded to a power of two) and its SYN proxy state (struct fn_sp_side); part by part in native/include/fn_consts.h. */
export const SESSION_BYTES = Object.values(CONSTANTS.sessionBytes).reduce((a, b) => a + b, 0);
/** Bytes one mbuf takes in the pool (2 KiB data room, headroom, header, pool overhead). */
export const MBUF_BYTES = 2432;
/** EAL, rings and ports' own needs, measured roughly with --no-huge. */
export const BASE_MEMORY_MB = 48;
/** Each worker's per-real-server and per-service counters (native/dp/dp.c: FN_MAX_RS × 16 + FN_MAX_SVC × 12 bytes). */
export const WORKER_COUNTERS_MB = 7;

export interface PlannedRealServer {
  id: number;
  key: string;
  service: string; // service name
  address: string;
  port: number;
  weight: number; // configured
  up: boolean; // health
}

export interface PlanOptions {
  /** Stable ids across reloads (a fresh registry when absent). */
  ids?: IdRegistry;
  /** Health verdict per real-server key; a server that is down gets no new sessions. */
  isUp?: (rsKey: string) => boolean;
  /** Real-server ids whose sessions must be reset. */
  reset?: number[];
}

export interface BuiltPlan {
  start: NativeStartConfig;
  plan: NativePlan;
  realServers: PlannedRealServer[];
  /** Total memory the data plane will ask EAL for, in MiB. */
  memoryNeededMb: number;
}

export class PlanError extends Error {}

/** Each worker's per-client session table (native/dp/clients.h): 64-byte buckets, a power of two >= sessions / 8 + 1. */
export function clientTableBytes(sessionsPerWorker: number): number {
  const want = Math.floor(sessionsPerWorker / 8) + 1;
  let nb = 1;
  while (nb < want) nb *= 2;
  return nb * 64;
}

/** Local ports of each LIP pool a FullNAT service uses: LIPs x port range. */
export function poolCapacities(cfg: Config): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of cfg.services) {
    const pool = cfg.local_addresses[s.local_addresses];
    if (s.forwarding === 'nat' || !pool) continue;
    out.set(s.local_addresses, pool.addresses.length * (pool.ports[1] - pool.ports[0] + 1));
  }
  return out;
}

/**
 * max_half_open when the config leaves it null: a quarter of sessions.max,
 * and at most half the ports of the smallest pool a FullNAT service uses.
 * Half-open sessions then never hold more than half of any pool's ports, so
 * an unanswered SYN flood meets the bound (and its oldest handshake gives
 * way) while the other half still serves established and new flows; a bound
 * above the pool's capacity let the pool empty first. Half, not all: the
 * bound counts over all pools and RSS spreads flows over workers unevenly.
 * An explicit setting stays as set: evict_oldest also runs when a pool has no
 * free port, so a bound above a pool's capacity no longer locks it out.
 */
export function defaultHalfOpenMax(cfg: Config): number {
  let bound = Math.floor(cfg.sessions.max / 4);
  for (const cap of poolCapacities(cfg).values()) bound = Math.min(bound, Math.floor(cap / 2));
  return Math.max(1, bound);
}

/** The ethdev name EAL gives a device string, or the ring name. */
export function ethdevName(device: string): { name: string; ring: boolean } {
  const d = parseDevice(device);
  if (!d) throw new PlanError(`unrecognised device "${device}"`);
  return { name: d.id, ring: d.kind === 'ring' };
}

interface Hop {
  portIdx: number;
  nexthop: number;
}

/** Connected subnets first, then the longest matching static route. */
function route(cfg: Config, ip: number, portIdx: Map<string, number>): Hop | null {
  for (const [i, p] of cfg.ports.entries()) {
    if (p.addresses.some((a) => inSubnet(ip, a))) return { portIdx: i, nexthop: ip };
  }
  let best: { len: number; hop: Hop } | null = null;
  for (const r of cfg.routes) {
    const c = parseCidr(r.to);
    if (inSubnet(ip, c) && (!best || c.prefixLen > best.len)) {
      best = { len: c.prefixLen, hop: { portIdx: portIdx.get(r.port)!, nexthop: parseIPv4(r.via) } };
    }
  }
  return best?.hop ?? null;
}

export function buildPlan(cfg: Config, opts: PlanOptions = {}): BuiltPlan {
  const ids = opts.ids ?? new IdRegistry();
  const isUp = opts.isUp ?? (() => true);
  const planned: PlannedRealServer[] = [];
  const workers = cfg.dpdk.lcores.workers.length;
  const portIdx = new Map(cfg.ports.map((p, i) => [p.name, i]));

  const start: NativeStartConfig = {
    ports: cfg.ports.map((p) => {
      const d = ethdevName(p.device);
      return {
        name: p.name,
        device: d.name,
        ring: d.ring,
        steering: p.steering,
        kernelInterface: kernelInterface(p),
        addresses: p.addresses.map((a) => {
          const c = parseCidr(a);
          return { ip: c.addr, prefix: c.prefixLen };
        }),
      };
    }),
    workerLcores: [...cfg.dpdk.lcores.workers],
    // dpdk.mbufs is per port; every RX and TX descriptor may hold one, plus
    // what is in flight in bursts and control rings.
    mbufs: Math.max(
      cfg.dpdk.mbufs * cfg.ports.length,
      cfg.ports.length * workers * (cfg.dpdk.rx_desc + cfg.dpdk.tx_desc) + workers * 2048 + 1024,
    ),
    rxDesc: cfg.dpdk.rx_desc,
    txDesc: cfg.dpdk.tx_desc,
    sessionsMax: Math.ceil(cfg.sessions.max / workers),
    idleSleepUs: cfg.dpdk.idle_sleep_us,
  };

  // LIPs and pools, in config order.
  const lips: NativePlan['lips'] = [];
  const pools: NativePlan['pools'] = [];
  const poolLips: number[] = [];
  const poolIdx = new Map<string, number>();
  for (const [name, pool] of Object.entries(cfg.local_addresses)) {
    poolIdx.set(name, pools.length);
    pools.push({ first: poolLips.length, count: pool.addresses.length });
    for (const a of pool.addresses) {
      poolLips.push(lips.length);
      lips.push({ ip: parseIPv4(a), portIdx: portIdx.get(pool.port)!, lo: pool.ports[0], hi: pool.ports[1] });
    }
  }

  const services: NativePlan['services'] = [];
  const realServers: NativePlan['realServers'] = [];
  const sched: number[] = [];
  const acl: NativePlan['acl'] = [];
  for (const s of cfg.services) {
    const base = realServers.length;
    const skey = serviceKey(s);
    const weights: number[] = [];
    for (const rs of s.real_servers) {
      const ip = parseIPv4(rs.address);
      const hop = route(cfg, ip, portIdx);
      if (!hop) throw new PlanError(`service ${s.name}: no route to real server ${rs.address}`);
      const key = realServerKey(skey, rs);
      const id = ids.realServerId(key);
      const up = isUp(key);
      const live = up ? rs.weight : 0;
      realServers.push({
        ip,
        port: rs.port,
        id,
        portIdx: hop.portIdx,
        nexthop: hop.nexthop,
        weight: s.scheduler === 'lc' ? Math.min(live, 1) : live,
        maxConn: rs.max_conn,
      });
      planned.push({ id, key, service: s.name, address: rs.address, port: rs.port, weight: rs.weight, up });
      weights.push(live);
    }
    // sh lays its table out by configured weights (see schedTable); the rest by live ones.
    let table: number[];
    try {
      table = schedTable(s.scheduler, s.scheduler === 'sh' ? s.real_servers.map((r) => r.weight) : weights, {
        names: s.real_servers.map((r) => `${r.address}:${r.port}`),
        seed: s.hash_seed,
        size: s.maglev_size,
      });
    } catch (e) {
      throw new PlanError(`service ${s.name}: ${(e as Error).message}`);
    }
    const fields = s.hash_fields ?? (s.scheduler === 'mh' ? 'flow' : 'address');
    services.push({
      vip: parseIPv4(s.vip),
      port: s.port,
      proto: PROTO[s.protocol],
      schedKind: SCHED_KIND[s.scheduler] === KINDS.hash_addr && fields === 'flow' ? KINDS.hash_flow : SCHED_KIND[s.scheduler],
      hashSeed: s.hash_seed,
      persistS: s.persistence?.timeout_s ?? 0,
      persistPrefix: s.persistence?.netmask ?? 32,
      rsFirst: base,
      rsCount: s.real_servers.length,
      nat: s.forwarding === 'nat',
      synProxy: s.syn_proxy,
      maxConn: s.max_conn,
      // Deny rules first (a denied client is never served), then allow rules.
      aclFirst: acl.length,
      aclCount: s.deny.length + s.allow.length,
      aclDefaultAllow: s.allow.length === 0,
      rsUsable: weights.filter((w) => w > 0).length,
      id: ids.serviceId(skey),
      schedFirst: sched.length,
      schedLen: table.length,
      pool: poolIdx.get(s.local_addresses)!,
    });
    // A loop, not push(...spread): a spread passes every entry as an argument,
    // and a Maglev table of a million entries overflows the call stack.
    for (const i of table) sched.push(base + i);
    for (const [list, allow] of [[s.deny, false], [s.allow, true]] as const) {
      for (const c of list) {
        const n = parseCidr(c);
        acl.push({ net: n.network, prefix: n.prefixLen, allow });
      }
    }
  }

  // Addresses the gateway owns. ARP is answered on a port for its own
  // addresses, for VIPs inside one of its subnets, and for its pool's LIPs.
  const arp = new Map<number, number>();
  const own = (ip: number, port: number | null) => arp.set(ip, (arp.get(ip) ?? 0) | (port === null ? 0 : 1 << port));
  cfg.ports.forEach((p, i) => p.addresses.forEach((a) => own(parseCidr(a).addr, i)));
  for (const s of cfg.services) {
    const vip = parseIPv4(s.vip);
    own(vip, null);
    cfg.ports.forEach((p, i) => {
      if (p.addresses.some((a) => inSubnet(vip, a))) own(vip, i);
    });
  }
  lips.forEach((l) => {
    own(l.ip, l.portIdx);
    ids.noteLip(l.ip, l.portIdx);
  });
  // LIPs a reload removed: their sessions may still be running.
  for (const [ip, portIdx] of ids.lips()) own(ip, portIdx);
  const lipSet = new Set(ids.lips().keys());
  const portAddrs = new Set(cfg.ports.flatMap((p) => p.addresses.map((a) => parseCidr(a).addr)));

  const plan: NativePlan = {
    services,
    realServers,
    sched: Uint32Array.from(sched),
    lips,
    pools,
    poolLips: Uint32Array.from(poolLips),
    // A port address that is also a LIP belongs to FullNAT, not to the kernel:
    // the kernel's own connections would collide with sessions' ports.
    locals: [...arp].map(([ip, arpPorts]) => ({ ip, arpPorts, lip: lipSet.has(ip), kernel: portAddrs.has(ip) && !lipSet.has(ip) })),
    timeouts: TIMEOUT_ORDER.map((k) => cfg.sessions.timeouts[k]),
    resetRealServers: opts.reset ?? [],
    acl,
    halfOpenMax: cfg.sessions.max_half_open ?? defaultHalfOpenMax(cfg),
    halfOpenDropNew: cfg.sessions.half_open_full === 'drop_new',
    maxPerClient: cfg.sessions.max_per_client,
    icmpRate: cfg.icmp.rate_per_s,
    icmpMinPathMtu: cfg.icmp.min_path_mtu,
    icmpHandOnRate: cfg.icmp.hand_on_rate_per_s,
    controlRate: cfg.control.rate_per_s,
    portAddrs: Uint32Array.from(cfg.ports.map((p) => (p.addresses.length ? parseCidr(p.addresses[0]!).addr : 0))),
  };

  const memoryNeededMb = Math.ceil(
    BASE_MEMORY_MB +
      workers * WORKER_COUNTERS_MB +
      (start.mbufs * MBUF_BYTES + workers * (start.sessionsMax * SESSION_BYTES + clientTableBytes(start.sessionsMax))) / (1 << 20),
  );
  return { start, plan, realServers: planned, memoryNeededMb };
}
