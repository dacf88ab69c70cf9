// The only loader of the native addon, its typed surface, and an in-memory
// mock with the same surface for control-plane unit tests (no DPDK needed).
import * as path from 'node:path';
import * as fs from 'node:fs';
import { CONSTANTS, type NativeConstants } from './generated/consts';

/** One port as the data plane starts it. Addresses are host-order uint32. */
export interface NativePort {
  name: string;
  device: string; // ethdev name (vdev name or PCI address) or ring name
  ring: boolean;
  addresses: { ip: number; prefix: number }[];
  /** Reply steering requested for this port. */
  steering: 'auto' | 'flow' | 'redirect';
  /** Kernel (tap) interface for the exception path, or null for none. */
  kernelInterface: string | null;
}

/** What cannot change while running (EAL, ports, memory). */
export interface NativeStartConfig {
  ports: NativePort[];
  workerLcores: number[];
  mbufs: number;
  rxDesc: number;
  txDesc: number;
  sessionsMax: number; // per worker
  idleSleepUs: number;
  /** Bench baseline only: workers swap MACs and send back, no NAT. */
  l2fwd?: boolean;
}

/** Timeout slots, in the order the data plane expects them (fn_plan.h). */
export const TIMEOUT_ORDER = ['tcp_syn', 'tcp_established', 'tcp_fin', 'tcp_time_wait', 'tcp_close', 'udp'] as const;

/** The forwarding plan. All addresses and ports host order; indices are array positions. */
export interface NativePlan {
  services: {
    vip: number;
    port: number;
    proto: number;
    id: number;
    schedFirst: number;
    schedLen: number;
    pool: number;
    /** enum fn_sched_kind: a value of CONSTANTS.schedKinds (src/generated/consts.ts). */
    schedKind: number;
    hashSeed: number;
    persistS: number; // 0: no persistence
    persistPrefix: number;
    rsFirst: number;
    rsCount: number;
    /** NAT mode (DNAT only): the client address stays; no LIP. */
    nat: boolean;
    /** SYN proxy (TCP): handshakes answered with SYN cookies, the server connection opened after the client's ACK. */
    synProxy: boolean;
    maxConn: number; // 0: no limit
    aclFirst: number;
    aclCount: number;
    aclDefaultAllow: boolean;
  }[];
  /** weight: effective (0 when down or drained); lc/wlc compare sessions per weight. */
  realServers: { ip: number; port: number; id: number; portIdx: number; nexthop: number; weight: number; maxConn: number }[];
  /** Allow/deny rules, sliced per service; the first match decides. */
  acl: { net: number; prefix: number; allow: boolean }[];
  /** TCP sessions in SYN states over all workers; 0: no limit. */
  halfOpenMax: number;
  /** At that limit: true drops the new SYN; false ends the oldest half-open session. */
  halfOpenDropNew: boolean;
  /** ICMP errors the gateway originates (time exceeded), per second per worker; 0: none. */
  icmpRate: number;
  /** Each port's first address (source of those errors), by port index; 0: none. */
  portAddrs: Uint32Array;
  sched: Uint32Array; // indices into realServers
  lips: { ip: number; portIdx: number; lo: number; hi: number }[];
  pools: { first: number; count: number }[];
  poolLips: Uint32Array; // indices into lips
  locals: { ip: number; arpPorts: number; lip: boolean; kernel: boolean }[]; // arpPorts: bit per port index
  timeouts: number[]; // seconds, TIMEOUT_ORDER
  /** Real-server ids whose sessions end (TCP: RST to the sender) at their next packet. */
  resetRealServers?: number[];
}

/** One session as the data plane lists it; addresses and ports host order (src/control/views.ts formats it). */
export interface NativeSession {
  proto: number; // IPPROTO_TCP or IPPROTO_UDP
  cip: number; // client
  cport: number;
  vip: number;
  vport: number;
  lip: number; // local address (LIP), or the client's own in NAT mode
  lport: number;
  rip: number; // real server
  rport: number;
  /** TCP: an index into CONSTANTS.tcpStates; UDP: 255. */
  state: number;
  worker: number;
  serviceId: number;
  realServerId: number;
  expiresMs: number;
}

export interface NativePortInfo {
  portId: number;
  mac: string;
  driver: string;
  linkUp: boolean;
  linkSpeedMbps: number;
  /** Reply steering in effect: flow rules, software redirect, or none needed. */
  steering: 'flow' | 'redirect' | 'none';
  steeringReason: string;
  /** How client flows are spread over workers on this port (rss, fanout, none: ...). */
  spreading: string;
  /** DPDK port id of the kernel interface, -1 without one. */
  kernelPortId: number;
  maxRxQueues: number;
  maxTxQueues: number;
  retaSize: number;
  /** NUMA node of the device, -1 when unknown (vdevs). */
  numaNode: number;
  /** Node the port's mbufs and queues were placed on. */
  memNode: number;
  /** The port can hash flows over queues (RSS). */
  rss: boolean;
  txOffloads: string[];
  rxOffloads: string[];
}

export interface NativeNeighbour {
  ip: number;
  portIdx: number;
  resolved: boolean;
  mac: string | null;
}

export interface Native {
  /** Scheduler kinds, TCP state names and session bytes as the C side compiled them (native/include/fn_consts.h). */
  readonly constants: NativeConstants;
  ealInit(args: string[]): void;
  /** After stop(), before exit: releases EAL memory and hugepage files. */
  ealCleanup(): void;
  start(cfg: NativeStartConfig, plan: NativePlan): void;
  stop(): void;
  counterNames(): string[];
  /** threads x counters, workers first, the control thread last. */
  readCounters(): Float64Array;
  portInfo(portIdx: number): NativePortInfo | null;
  neighbours(): NativeNeighbour[];
  /** NUMA node of each worker's lcore (its session table and counters live there). */
  workerNodes(): number[];
  /** Publish a new plan; returns once no worker can still see the old one. */
  apply(plan: NativePlan): void;
  /** Active and created sessions per real-server id [0, n), summed over workers. */
  readRealServers(n: number): { active: Float64Array; created: Float64Array };
  /** Active sessions and new flows dropped for want of a local port, per service id [0, n). */
  readServices(n: number): { active: Float64Array; lportExhausted: Float64Array };
  /** Up to max sessions matching the filter (host-order addresses; absent = any). */
  sessions(filter: { vip?: number; rip?: number; cip?: number }, max: number): NativeSession[];
  ringInject(portIdx: number, queue: number, frames: Buffer[]): number;
  ringDrain(portIdx: number, queue: number, max?: number): Buffer[];
  /** Tests only: shift the SYN cookie clock by whole seconds (cookies age without waiting). */
  synProxyClockSkew(seconds: number): void;
  /** Bench: feed count frames into a ring port's RX queue from this thread while draining every TX ring. */
  benchPump(portIdx: number, queue: number, frames: Buffer[], count: number): { injected: number; drained: number; cycles: number; tscHz: number };
}

let loaded: Native | undefined;

/** Finds build/native/Release/fullnat.node from the repo root (src/ or dist/src/). */
export function addonPath(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const p = path.join(dir, 'build', 'native', 'Release', 'fullnat.node');
    if (fs.existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  throw new Error('native addon not built: run `npm run build` (expects build/native/Release/fullnat.node)');
}

export function loadNative(): Native {
  if (!loaded) loaded = require(addonPath()) as Native;
  return loaded;
}

/** In-memory stand-in: records what it was given, forwards nothing. */
export class MockNative implements Native {
  readonly constants = CONSTANTS;
  eal: string[] | null = null;
  cfg: NativeStartConfig | null = null;
  plan: NativePlan | null = null;
  counters = new Float64Array(0);
  names = ['rx_packets', 'tx_packets', 'sessions_created', 'sessions_active', 'drop_no_service'];
  ealInit(args: string[]): void {
    if (this.eal) throw new Error('EAL is already initialised in this process');
    this.eal = args;
  }
  ealCleanup(): void {
    this.eal = null;
  }
  start(cfg: NativeStartConfig, plan: NativePlan): void {
    if (this.cfg) throw new Error('data plane already running');
    this.cfg = cfg;
    this.plan = plan;
    this.counters = new Float64Array((cfg.workerLcores.length + 1) * this.names.length);
  }
  stop(): void {
    this.cfg = null;
  }
  counterNames(): string[] {
    return this.names;
  }
  readCounters(): Float64Array {
    return this.counters.slice();
  }
  portInfo(portIdx: number): NativePortInfo | null {
    if (!this.cfg || portIdx >= this.cfg.ports.length) return null;
    return {
      portId: portIdx,
      mac: `02:00:00:00:00:0${portIdx}`,
      driver: 'mock',
      linkUp: true,
      linkSpeedMbps: 10000,
      steering: this.cfg.workerLcores.length > 1 ? 'redirect' : 'none',
      steeringReason: 'mock',
      spreading: 'mock',
      kernelPortId: -1,
      maxRxQueues: 16,
      maxTxQueues: 16,
      retaSize: 0,
      numaNode: -1,
      memNode: 0,
      rss: false,
      txOffloads: [],
      rxOffloads: [],
    };
  }
  neighbours(): NativeNeighbour[] {
    return [];
  }
  workerNodes(): number[] {
    return this.cfg ? this.cfg.workerLcores.map(() => 0) : [];
  }
  applied: NativePlan[] = [];
  apply(plan: NativePlan): void {
    if (!this.cfg) throw new Error('data plane is not running');
    this.plan = plan;
    this.applied.push(plan);
  }
  rsActive = new Map<number, number>();
  readRealServers(n: number): { active: Float64Array; created: Float64Array } {
    const active = new Float64Array(n);
    for (const [id, v] of this.rsActive) if (id < n) active[id] = v;
    return { active, created: active.slice() };
  }
  sessions(): NativeSession[] {
    return [];
  }
  svcExhausted = new Map<number, number>();
  readServices(n: number): { active: Float64Array; lportExhausted: Float64Array } {
    const e = new Float64Array(n);
    for (const [id, v] of this.svcExhausted) if (id < n) e[id] = v;
    return { active: new Float64Array(n), lportExhausted: e };
  }
  ringInject(): number {
    return 0;
  }
  ringDrain(): Buffer[] {
    return [];
  }
  synProxyClockSkew(): void {}
  benchPump(): { injected: number; drained: number; cycles: number; tscHz: number } {
    return { injected: 0, drained: 0, cycles: 0, tscHz: 1 };
  }
}
