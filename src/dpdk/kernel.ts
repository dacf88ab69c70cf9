// The kernel side of the exception path: once the data plane has created a
// port's tap interface, give it the port's addresses and the static routes,
// so the gateway's own stack (health checks, management) reaches the same
// networks through the port. Offloads off: the tap must carry whole,
// checksummed frames, as on veth.
import { execFileSync } from 'node:child_process';
import type { Config } from '../config/schema';
import type { Logger } from '../log';
import { parseCidr, parseIPv4 } from '../config/net';
import { kernelInterface } from '../config/kernel-interface';

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): string | null {
  try {
    run(cmd, args);
    return null;
  } catch (e) {
    return (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
  }
}

/** Configure every port's kernel interface; returns the interfaces set up. */
export function setupKernelInterfaces(cfg: Config, log: Logger): string[] {
  const done: string[] = [];
  // LIPs stay with FullNAT even when listed as port addresses.
  const lips = new Set(Object.values(cfg.local_addresses).flatMap((pool) => pool.addresses.map(parseIPv4)));
  cfg.ports.forEach((p) => {
    const ifname = kernelInterface(p);
    if (!ifname) return;
    const own = p.addresses.filter((a) => !lips.has(parseCidr(a).addr));
    if (p.addresses.length && !own.length) {
      log.warn({ port: p.name, iface: ifname }, 'every address of this port is a LIP: the kernel interface gets none, so health checks cannot use it');
    }
    tryRun('sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    const offload = tryRun('ethtool', ['-K', ifname, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    if (offload) log.warn({ iface: ifname, err: offload }, 'could not turn offloads off on the kernel interface');
    run('ip', ['link', 'set', ifname, 'up']);
    for (const a of own) {
      const err = tryRun('ip', ['addr', 'replace', a, 'dev', ifname]);
      if (err) throw new Error(`port ${p.name}: cannot give ${a} to kernel interface ${ifname}: ${err}`);
    }
    done.push(ifname);
  });
  for (const r of cfg.routes) {
    const port = cfg.ports.find((p) => p.name === r.port);
    const ifname = port && kernelInterface(port);
    if (!ifname) continue;
    const err = tryRun('ip', ['route', 'replace', r.to, 'via', r.via, 'dev', ifname]);
    if (err) log.warn({ route: r, err }, 'could not add the route to the kernel');
  }
  if (done.length) log.info({ interfaces: done }, 'kernel interfaces up (exception path)');
  return done;
}
