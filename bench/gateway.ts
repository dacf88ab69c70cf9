// The data plane in this process on ring ports, started from a config object
// (the bench builds configs with up to 100k services: YAML would spend most
// of the run parsing them). Same steps as test/packet/harness.ts: validate,
// plan, EAL once per process, start. One gateway per bench child process.
import * as fs from 'node:fs';
import { checkConfig, configSchema, type Config, type ConfigInput } from '../src/config/schema';
import { ealArgs, removeRuntimeDir } from '../src/dpdk/eal';
import { loadNative, loadNativeTesting, type Native, type NativeTesting } from '../src/native';
import { buildPlan } from '../src/plan/build';
import { readStats, type Counters } from '../src/stats';
import { buildArp } from '../test/lib/packet';
import { PortMap } from '../test/lib/ring-ports';
import { ipStr } from './frames';

export function rssKb(): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Resident KiB of EAL's memory (the memfd of --no-huge, or hugepage files): what the data plane allocated and touched. */
export function ealResidentKb(): number {
  let kb = 0;
  for (const b of fs.readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = b.slice(0, b.indexOf('\n'));
    if (!/nohuge|rtemap|hugepages/.test(head)) continue;
    const m = /\nRss:\s+(\d+)/.exec(b);
    if (m) kb += Number(m[1]);
  }
  return kb;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function validConfig(input: ConfigInput): Config {
  const cfg = configSchema.parse(input);
  const issues = checkConfig(cfg);
  if (issues.length) throw new Error(`bench config invalid: ${issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return cfg;
}

export class BenchGateway {
  readonly native: Native = loadNative();
  /** Ring inject/drain and the pump: the addon's bench hooks. */
  readonly testing: NativeTesting = loadNativeTesting();
  private readonly ports: PortMap;
  memoryNeededMb = 0;
  /** Resident KiB once EAL is up, before the data plane allocates its tables. */
  rssAfterEalKb = 0;

  constructor(readonly cfg: Config) {
    this.ports = new PortMap(this.native, cfg.ports);
  }

  /** EAL init (once per process) and data-plane start. */
  start(l2fwd: boolean): void {
    const built = buildPlan(this.cfg);
    this.memoryNeededMb = built.memoryNeededMb;
    const prefix = `fnbench${process.pid}`;
    this.native.ealInit(ealArgs(this.cfg, built.memoryNeededMb, { defaultPrefix: prefix }));
    process.on('exit', () => {
      try {
        this.native.stop();
      } catch {
        // already stopped
      }
      this.native.ealCleanup();
      removeRuntimeDir(prefix);
    });
    this.rssAfterEalKb = rssKb();
    this.native.start({ ...built.start, l2fwd }, built.plan);
  }

  idx(port: string): number {
    return this.ports.idx(port);
  }

  mac(port: string): string {
    return this.ports.mac(port);
  }

  /** Worker 0's counters (the bench runs one worker). */
  worker(): Counters {
    return readStats(this.native).workers[0]!;
  }

  /**
   * Answers the gateway's ARP requests for `hosts` on `port` until the data
   * plane has them all resolved (the fixtures' resolveNeighbours without the
   * field-by-field checks: the packet tests prove those).
   */
  async resolve(port: string, portIp: string, hosts: { ip: number; mac: string }[], timeoutMs = 10000): Promise<void> {
    const pi = this.idx(port);
    const mac = this.mac(port);
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const done = this.native.neighbours().filter((n) => n.resolved);
      if (hosts.every((h) => done.some((n) => n.ip === h.ip && n.mac === h.mac))) {
        this.testing.ringDrain(pi, 0);
        return;
      }
      this.testing.ringDrain(pi, 0);
      const replies = hosts.map((h) =>
        buildArp({ op: 'reply', ethSrc: h.mac, ethDst: mac, senderMac: h.mac, senderIp: ipStr(h.ip), targetMac: mac, targetIp: portIp }),
      );
      this.testing.ringInject(pi, 0, replies);
      await sleep(20);
    }
    throw new Error(`neighbours on ${port} not resolved within ${timeoutMs} ms: ${JSON.stringify(this.native.neighbours())}`);
  }

  stop(): void {
    this.native.stop();
  }
}
