// The only loader of the native addon and its typed surface: `Native` for the
// product, `NativeTesting` (the addon's `testing` group) for tests and bench.
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { NativeConstants } from './generated/consts';
import type { NativePlan, NativeStartConfig } from './plan/contract';

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
}

/**
 * Hooks only tests and the bench use; the addon exports them apart, under
 * `testing`, so product code (typed by `Native`) cannot reach them.
 */
export interface NativeTesting {
  /** Put frames on a ring port's RX queue; returns how many were accepted. */
  ringInject(portIdx: number, queue: number, frames: Buffer[]): number;
  /** Take up to max (default 1024) frames the gateway sent from a ring port's TX queue. */
  ringDrain(portIdx: number, queue: number, max?: number): Buffer[];
  /** Shift the SYN cookie clock by whole seconds (cookies age without waiting). */
  synProxyClockSkew(seconds: number): void;
  /**
   * The data plane's hash keys (native/dp/hashkey.h): 13 uint64 in host order (session 5, service 3,
   * persistence 3, local address 2). A Buffer pins those keys for the next starts (throws while the data
   * plane runs), null unpins (the next start draws fresh ones): a test can then craft real collisions.
   */
  hashKeys(set?: Buffer | null): Buffer;
  /** Feed count frames into a ring port's RX queue from this thread while draining every TX ring. */
  benchPump(portIdx: number, queue: number, frames: Buffer[], count: number): { injected: number; drained: number; cycles: number; tscHz: number };
}

/** The addon object as it is loaded. */
interface Addon extends Native {
  testing: NativeTesting;
}

let loaded: Addon | undefined;

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

function loadAddon(): Addon {
  if (!loaded) loaded = require(addonPath()) as Addon;
  return loaded;
}

export function loadNative(): Native {
  return loadAddon();
}

/** Tests and bench only (test/unit/layers.test.ts keeps it out of src/). */
export function loadNativeTesting(): NativeTesting {
  return loadAddon().testing;
}
