// Network-namespace topology for the demo and the end-to-end tests: a client,
// the gateway (two arms, no kernel addresses) and a bridged LAN of real servers.
//
//   [client ns]            [gateway ns]               [lan ns]          [server ns i]
//   cl0 198.18.0.1/24 ---- gw0   (DPDK)   gw1 ---- lan-gw  br0  rsI ---- eth0 198.19.0.(1+i)/24
//
// Only 198.18.0.0/15, only inside namespaces made here, no default routes.
// Names carry the creating pid so a crashed run's leftovers can be recognised
// and removed by the next run (see sweepStale).

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const CLIENT_ADDR = '198.18.0.1';
export const CLIENT_CIDR = '198.18.0.1/24';
export const serverAddr = (i: number): string => `198.19.0.${1 + i}`;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Reject on a non-zero exit (default true). */
  check?: boolean;
  /** Kill the command after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Topology {
  /** Prefix shared by every namespace of this topology. */
  prefix: string;
  ns: {
    client: string;
    gateway: string;
    lan: string;
    /** servers[0] is rs1 (198.19.0.2), servers[1] rs2 (198.19.0.3), ... */
    servers: string[];
  };
  addresses: { client: string; servers: string[] };
  /** True once destroy() has begun (e.g. on Ctrl-C): exec and spawnIn then refuse. */
  readonly destroyed: boolean;
  /** Runs `cmd args` inside namespace `ns` and collects its output. */
  exec(ns: string, cmd: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Spawns `cmd args` inside `ns`; the process is tracked and ended by destroy(). */
  spawnIn(ns: string, cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
  /** Ends every tracked process, then deletes the namespaces (and so the links). Idempotent. */
  destroy(): Promise<void>;
}

export interface TopologyOptions {
  /** Namespace name prefix; default `fn<pid>x<random>`. */
  prefix?: string;
  /** Number of real servers (default 3, at most 200). */
  servers?: number;
}

const DEFAULT_PREFIX_RE = /^fn(\d+)x[0-9a-f]{4}-(cl|gw|lan|rs\d+)$/;

function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { check = true, timeoutMs = 60_000 } = opts;
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: opts.env, cwd: opts.cwd, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        const res: ExecResult = {
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        };
        if (e && typeof e.code === 'string') {
          // spawn failure (ENOENT...): never a "result"
          reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}`));
          return;
        }
        if (check && (res.code !== 0 || res.signal)) {
          const how = res.signal ? `signal ${res.signal}` : `exit ${res.code}`;
          reject(new Error(`${cmd} ${args.join(' ')} failed (${how}): ${res.stderr.trim() || res.stdout.trim()}`));
          return;
        }
        resolve(res);
      },
    );
  });
}

const ip = (...args: string[]): Promise<ExecResult> => run('ip', args);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n): n is string => !!n);
  } catch {
    return [];
  }
}

/** Synchronous teardown of namespaces (also used from the 'exit' hook). */
function deleteNamespacesSync(names: string[]): void {
  for (const ns of names) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .map((s) => Number(s.trim()))
        .filter((n) => n > 0);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    } catch {
      /* namespace already gone */
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

/**
 * Removes namespaces left by an earlier run of this module whose creating
 * process is dead (names `fn<pid>x<hex4>-...`). Namespaces of live processes
 * and every other name are left alone.
 */
export function sweepStale(): string[] {
  const stale = listNamespaces().filter((n) => {
    const m = DEFAULT_PREFIX_RE.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  });
  deleteNamespacesSync(stale);
  return stale;
}

// ---- process-wide cleanup on exit and signals ------------------------------

const live = new Set<TopologyImpl>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const t of live) t.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up network namespaces...\n`);
      const all = [...live].map((t) => t.destroy());
      const hard = setTimeout(() => process.exit(sig === 'SIGINT' ? 130 : 143), 15_000);
      hard.unref();
      void Promise.allSettled(all).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

class TopologyImpl implements Topology {
  readonly ns: Topology['ns'];
  readonly addresses: Topology['addresses'];
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | null = null;
  private created: string[] = [];
  /** The build in progress, awaited by destroy so no namespace appears after it. */
  building: Promise<void> | null = null;

  constructor(
    readonly prefix: string,
    servers: number,
  ) {
    this.ns = {
      client: `${prefix}-cl`,
      gateway: `${prefix}-gw`,
      lan: `${prefix}-lan`,
      servers: Array.from({ length: servers }, (_, i) => `${prefix}-rs${i + 1}`),
    };
    this.addresses = {
      client: CLIENT_ADDR,
      servers: Array.from({ length: servers }, (_, i) => serverAddr(i + 1)),
    };
  }

  allNamespaces(): string[] {
    return [this.ns.client, this.ns.gateway, this.ns.lan, ...this.ns.servers];
  }

  get destroyed(): boolean {
    return this.destroying !== null;
  }

  exec(ns: string, cmd: string, args: string[] = [], opts?: ExecOptions): Promise<ExecResult> {
    if (this.destroying) return Promise.reject(new Error(`topology ${this.prefix} is being destroyed`));
    return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  spawnIn(ns: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroying) throw new Error(`topology ${this.prefix} is being destroyed`);
    // `ip netns exec` execs the command after setns: the child's pid is the command's.
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  async build(): Promise<void> {
    const { client, gateway, lan, servers } = this.ns;
    for (const ns of this.allNamespaces()) {
      await ip('netns', 'add', ns);
      this.created.push(ns);
      // IPv6 off before any link exists: no router solicitations or DAD on the wire.
      await this.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
      await this.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }

    // Links are created directly inside their namespaces: nothing touches the host's.
    await ip('-n', client, 'link', 'add', 'cl0', 'type', 'veth', 'peer', 'name', 'gw0', 'netns', gateway);
    await ip('-n', gateway, 'link', 'add', 'gw1', 'type', 'veth', 'peer', 'name', 'lan-gw', 'netns', lan);
    await ip('-n', lan, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    const lanPorts = ['lan-gw'];
    for (let i = 0; i < servers.length; i++) {
      const peer = `rs${i + 1}`;
      await ip('-n', servers[i]!, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', peer, 'netns', lan);
      lanPorts.push(peer);
    }

    // veth + net_af_packet: offloads off on both ends, or DPDK sees partial
    // checksums and 64 KiB GSO frames and TCP breaks.
    const veths: Array<[string, string]> = [
      [client, 'cl0'],
      [gateway, 'gw0'],
      [gateway, 'gw1'],
      ...lanPorts.map((p): [string, string] => [lan, p]),
      ...servers.map((s): [string, string] => [s, 'eth0']),
    ];
    for (const [ns, dev] of veths) {
      await this.exec(ns, 'ethtool', ['-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }

    for (const p of lanPorts) {
      await ip('-n', lan, 'link', 'set', p, 'master', 'br0');
      await ip('-n', lan, 'link', 'set', p, 'up');
    }
    await ip('-n', lan, 'link', 'set', 'br0', 'up');

    await ip('-n', client, 'addr', 'add', CLIENT_CIDR, 'dev', 'cl0');
    await ip('-n', client, 'link', 'set', 'cl0', 'up');

    // The gateway's kernel gets no addresses: the DPDK ports own the IPs and
    // answer ARP themselves over af_packet; ip_forward stays 0 (the default).
    await ip('-n', gateway, 'link', 'set', 'gw0', 'up');
    await ip('-n', gateway, 'link', 'set', 'gw1', 'up');

    for (let i = 0; i < servers.length; i++) {
      await ip('-n', servers[i]!, 'addr', 'add', `${serverAddr(i + 1)}/24`, 'dev', 'eth0');
      await ip('-n', servers[i]!, 'link', 'set', 'eth0', 'up');
    }
  }

  destroy(): Promise<void> {
    if (!this.destroying) this.destroying = this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    await this.building?.catch(() => undefined);
    const children = [...this.children];
    // Graceful first (the gateway stops its workers and closes its ports on SIGTERM).
    await Promise.all(children.map((c) => endChild(c, 10_000)));
    const names = this.created;
    this.created = [];
    for (const ns of names) {
      // Anything still inside (e.g. a grandchild) would keep the links alive.
      const pids = await run('ip', ['netns', 'pids', ns], { check: false });
      for (const pid of pids.stdout.split('\n').map(Number).filter((n) => n > 0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns], { check: false });
    }
    live.delete(this);
  }

  /** Last-resort synchronous teardown from process.on('exit'). */
  destroySync(): void {
    for (const c of this.children) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    deleteNamespacesSync(this.created);
    this.created = [];
    live.delete(this);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function endChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (!child.kill('SIGTERM')) {
      clearTimeout(timer);
      resolve();
    }
  });
}

export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const servers = opts.servers ?? 3;
  if (!Number.isInteger(servers) || servers < 1 || servers > 200) {
    throw new Error(`servers must be an integer in 1..200, got ${servers}`);
  }
  sweepStale();
  const prefix = opts.prefix ?? `fn${process.pid}x${randomBytes(2).toString('hex')}`;
  const topo = new TopologyImpl(prefix, servers);
  // Delete-before-create for caller-chosen prefixes that may be left over.
  if (opts.prefix) deleteNamespacesSync(topo.allNamespaces().filter((n) => listNamespaces().includes(n)));
  installHooks();
  live.add(topo);
  try {
    topo.building = topo.build();
    await topo.building;
  } catch (e) {
    await topo.destroy();
    throw e;
  }
  return topo;
}

/** Why end-to-end runs cannot happen here, or null when they can. */
export function netnsUnavailableReason(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch (e) {
    return `\`ip netns\` unavailable: ${(e as Error).message}`;
  }
  return null;
}
