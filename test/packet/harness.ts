// In-process gateway on ring ports for packet fixtures and the bench: the
// real data plane, fed and drained through the rings of net_ring ports.
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { ealArgs, removeRuntimeDir } from '../../src/dpdk/eal';
import { loadNative, loadNativeTesting, type Native, type NativeTesting } from '../../src/native';
import { realServerKey, serviceKey, type IdRegistry } from '../../src/plan/ids';
import { RunningPlan, type ReloadResult, type ServiceListing } from '../../src/reload/running-plan';
import { readStats, type Counters } from '../../src/stats';
import { PortMap } from '../lib/ring-ports';

let ealDone = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RingGateway {
  readonly native: Native;
  /** Ring inject/drain: the addon's test hooks. */
  readonly testing: NativeTesting;
  /** The running config, ids and listing: the gateway's own (src/reload/running-plan.ts). */
  readonly plan: RunningPlan;
  private readonly ports: PortMap;

  private constructor(cfg: Config) {
    this.native = loadNative();
    this.testing = loadNativeTesting();
    this.plan = new RunningPlan(cfg, this.native);
    this.ports = new PortMap(this.native, cfg.ports);
  }

  get cfg(): Config {
    return this.plan.config();
  }

  /** Stable ids across apply() calls, as the gateway keeps them. */
  get ids(): IdRegistry {
    return this.plan.ids;
  }

  /** Starts the data plane from YAML text. EAL is initialised once per process. */
  static start(yaml: string, opts: { l2fwd?: boolean } = {}): RingGateway {
    const cfg = parseConfig(yaml, 'fixture.yaml');
    const gw = new RingGateway(cfg);
    gw.plan.start(
      () => true,
      (built) => {
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
      },
    );
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
   * Publish a new plan from YAML through the gateway's own reload (same ports
   * and EAL). down: real-server keys ("VIP:port/proto address:port") health
   * marks down; reset: keys of servers this reload removes whose sessions
   * must be reset. Throws the reload's errors.
   */
  apply(yaml: string, opts: { down?: string[]; reset?: string[] } = {}): void {
    const r = this.reload(yaml, opts);
    if (!r.ok) throw new Error(`reload refused: ${r.errors.join('; ')}`);
  }

  /** As apply(), returning the refusal instead of throwing it. */
  reload(yaml: string, opts: { down?: string[]; reset?: string[] } = {}): ReloadResult {
    const down = new Set(opts.down ?? []);
    return this.plan.reload(parseConfig(yaml, 'fixture.yaml'), { isUp: (k) => !down.has(k), reset: opts.reset });
  }

  /** The listing `fullnat list` shows (every server health-unchecked: the harness runs no probes). */
  list(): ServiceListing[] {
    return this.plan.list([]);
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
