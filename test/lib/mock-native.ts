// An in-memory stand-in for the native addon's product surface (`Native`):
// control-plane unit tests run the gateway against it without DPDK.
import type { Native, NativeNeighbour, NativePortInfo, NativeSession } from '../../src/native';
import type { NativePlan, NativeStartConfig } from '../../src/plan/contract';
import { CONSTANTS } from '../../src/generated/consts';

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
}
