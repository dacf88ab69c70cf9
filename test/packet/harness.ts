// In-process gateway on ring ports for packet fixtures and the bench: the
// real data plane, fed and drained through the rings of net_ring ports.
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { ealArgs, removeRuntimeDir } from '../../src/dpdk/eal';
import { loadNative, loadNativeTesting, type Native, type NativeTesting } from '../../src/native';
import { buildPlan } from '../../src/plan/build';
import { IdRegistry, realServerKey, serviceKey } from '../../src/plan/ids';
import { readStats, type Counters } from '../../src/stats';
import { PortMap } from '../lib/ring-ports';

let ealDone = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RingGateway {
  readonly native: Native;
  /** Ring inject/drain: the addon's test hooks. */
  readonly testing: NativeTesting;
  cfg: Config;
  /** Stable ids across apply() calls, as the gateway keeps them. */
  readonly ids = new IdRegistry();
  private readonly ports: PortMap;

  private constructor(cfg: Config) {
    this.native = loadNative();
    this.testing = loadNativeTesting();
    this.cfg = cfg;
    this.ports = new PortMap(this.native, cfg.ports);
  }

  /** Starts the data plane from YAML text. EAL is initialised once per process. */
  static start(yaml: string, opts: { l2fwd?: boolean } = {}): RingGateway {
    const cfg = parseConfig(yaml, 'fixture.yaml');
    const gw = new RingGateway(cfg);
    const built = buildPlan(cfg, { ids: gw.ids });
    if (!ealDone) {
      const prefix = `fntest${process.pid}`;
      gw.native.ealInit(ealArgs(cfg, built.memoryNeededMb, { defaultPrefix: prefix }));
      ealDone = true;
      // Leave nothing behind: stop whatever still runs, release EAL, remove its runtime dir.
      process.on('exit', () => {
        gw.native.stop();
        gw.native.ealCleanup();
        removeRuntimeDir(prefix);
      });
    }
    gw.native.start({ ...built.start, l2fwd: opts.l2fwd === true }, built.plan);
    gw.ports.checkRingMacs();
    return gw;
  }

  private idx(port: string): number {
    return this.ports.idx(port);
  }

  mac(port: string): string {
    return this.ports.mac(port);
  }

  inject(port: string, frames: Buffer[], queue = 0): void {
    const n = this.testing.ringInject(this.idx(port), queue, frames);
    if (n !== frames.length) throw new Error(`ring port ${port}: accepted ${n} of ${frames.length} frames`);
  }

  /** Waits until n frames left `port` (or the timeout), returns all collected. */
  async collect(port: string, n: number, timeoutMs = 3000, queue = 0): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const end = Date.now() + timeoutMs;
    while (out.length < n && Date.now() < end) {
      out.push(...this.testing.ringDrain(this.idx(port), queue));
      if (out.length < n) await sleep(1);
    }
    return out;
  }

  /** Everything that leaves `port` within ms (to show that nothing does). */
  async quiet(port: string, ms = 150, queue = 0): Promise<Buffer[]> {
    await sleep(ms);
    return this.testing.ringDrain(this.idx(port), queue);
  }

  /**
   * Publish a new plan from YAML, as a reload does (same ports and EAL).
   * down: real-server keys ("VIP:port/proto address:port") health marks down;
   * reset: real-server keys whose sessions must be reset.
   */
  apply(yaml: string, opts: { down?: string[]; reset?: string[] } = {}): void {
    const cfg = parseConfig(yaml, 'fixture.yaml');
    const down = new Set(opts.down ?? []);
    const reset = (opts.reset ?? []).map((k) => this.ids.realServerId(k)); // before they retire
    this.ids.retire(cfg); // as the gateway does: a server added back gets a fresh id
    this.native.apply(buildPlan(cfg, { ids: this.ids, isUp: (k) => !down.has(k), reset }).plan);
    const { active } = this.native.readRealServers(this.ids.realServerIdLimit());
    this.ids.release((id) => active[id] ?? 0);
    this.cfg = cfg;
  }

  /** The key a real server has in plans, health and ids. */
  static rsKey(service: { vip: string; port: number; protocol: string }, rs: { address: string; port: number }): string {
    return realServerKey(serviceKey(service), rs);
  }

  counters(): Counters {
    return readStats(this.native).total;
  }

  stop(): void {
    this.native.stop();
  }
}
