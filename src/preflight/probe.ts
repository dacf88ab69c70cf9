// Opens the configured ports through DPDK, the way `start` would, and reports
// what each can do: driver, link, queues, RSS/RETA, checksum offloads, and the
// reply steering `auto` chooses (the flow rules are validated inside start).
//
// The probe is passive: its plan keeps the LIPs (flow-rule validation needs
// them) but has no services, no real servers and no local addresses to
// answer ARP for, so it sends nothing; no kernel (tap) interface is created;
// memory is sized for the queues and a small session table only; and EAL
// gets a file prefix of its own.
import type { Config } from '../config/schema';
import { parseDevice } from '../config/schema';
import { ealArgs, removeRuntimeDir } from '../dpdk/eal';
import type { Native, NativePortInfo } from '../native';
import type { NativePlan, NativeStartConfig } from '../plan/contract';
import { BASE_MEMORY_MB, MBUF_BYTES, SESSION_BYTES, type BuiltPlan } from '../plan/build';
import type { Check, PortProbe } from './types';

export interface ProbeOptions {
  native: Native;
  /** How long to wait for links that are still down (default 3000 ms). */
  linkWaitMs?: number;
  /** EAL file prefix (default fullnat-preflight-<pid>). */
  filePrefix?: string;
}

export interface ProbeResult {
  checks: Check[];
  ports: PortProbe[];
  /** The EAL arguments the probe ran with. */
  eal: string[];
}

const PROBE_SESSIONS = 1024;

/** The start config, plan and memory the probe runs with. */
export function probeSetup(cfg: Config, built: BuiltPlan): { start: NativeStartConfig; plan: NativePlan; memoryMb: number } {
  const workers = cfg.dpdk.lcores.workers.length;
  const s = built.start;
  const mbufs = Math.min(s.mbufs, s.ports.length * workers * (s.rxDesc + s.txDesc) + workers * 2048 + 1024);
  const sessionsMax = Math.min(s.sessionsMax, PROBE_SESSIONS);
  const start: NativeStartConfig = {
    ...s,
    ports: s.ports.map((p) => ({ ...p, steering: 'auto', kernelInterface: null })),
    mbufs,
    sessionsMax,
  };
  const plan: NativePlan = {
    ...built.plan,
    services: [],
    realServers: [],
    sched: new Uint32Array(0),
    locals: [],
    resetRealServers: [],
  };
  const need = Math.ceil(BASE_MEMORY_MB + 16 + (mbufs * MBUF_BYTES + workers * sessionsMax * SESSION_BYTES) / (1 << 20));
  return { start, plan, memoryMb: Math.max(64, Math.min(cfg.dpdk.memory_mb, need)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function probePorts(cfg: Config, built: BuiltPlan, opts: ProbeOptions): Promise<ProbeResult> {
  const native = opts.native;
  const setup = probeSetup(cfg, built);
  const prefix = opts.filePrefix ?? `fullnat-preflight-${process.pid}`;
  const probeCfg = { ...cfg, dpdk: { ...cfg.dpdk, memory_mb: setup.memoryMb, file_prefix: prefix } } as Config;
  // CPUs were checked against sysfs already; EAL checks again itself.
  const eal = ealArgs(probeCfg, setup.memoryMb, { cpus: Number.MAX_SAFE_INTEGER });
  const checks: Check[] = [];
  const ports: PortProbe[] = [];
  let ealUp = false;
  let started = false;
  try {
    try {
      native.ealInit(eal);
      ealUp = true;
    } catch (e) {
      checks.push({
        group: 'ports',
        id: 'probe.eal',
        subject: 'EAL',
        status: 'error',
        message: `EAL did not start: ${(e as Error).message}`,
        details: [`EAL arguments: ${eal.join(' ')}`],
        fix: 'read the lines EAL printed (on stderr); common causes: too few free hugepages, a device already opened by a running gateway, a PMD that is not installed',
      });
      return { checks, ports, eal };
    }
    try {
      native.start(setup.start, setup.plan);
      started = true;
    } catch (e) {
      const msg = (e as Error).message;
      checks.push({
        group: 'ports',
        id: 'probe.start',
        subject: 'ports',
        status: 'error',
        message: `the ports did not start: ${msg}`,
        fix: /queues/.test(msg)
          ? 'use fewer workers than the device has queues, or (vdevs) give the device more queues'
          : '`fullnat start` would fail the same way: fix the cause named above',
      });
      return { checks, ports, eal };
    }
    // Physical links take a moment to come up after the port starts.
    const deadline = Date.now() + (opts.linkWaitMs ?? 3000);
    let infos: (NativePortInfo | null)[] = cfg.ports.map((_, i) => native.portInfo(i));
    while (infos.some((x) => x && !x.linkUp) && Date.now() < deadline) {
      await sleep(100);
      infos = cfg.ports.map((_, i) => native.portInfo(i));
    }
    cfg.ports.forEach((p, i) => {
      const info = infos[i];
      if (!info) {
        checks.push({ group: 'ports', id: 'port.probe', subject: `port ${p.name}`, status: 'error', message: 'the data plane has no information on this port' });
        return;
      }
      ports.push({ name: p.name, device: p.device, configuredSteering: p.steering, info });
      checks.push(portCheck(cfg, i, info));
    });
  } finally {
    if (started) native.stop();
    if (ealUp) native.ealCleanup();
    removeRuntimeDir(prefix);
  }
  return { checks, ports, eal };
}

/** "IPV4_CKSUM" -> "IPv4"; only checksum offloads. */
function cksums(names: string[]): string {
  const out = names
    .filter((n) => /CKSUM/i.test(n))
    .map((n) => n.replace(/_?CKSUM$/i, '').replace(/^IPV4$/i, 'IPv4').replace(/^OUTER_IPV4$/i, 'outer IPv4').replace(/^OUTER_UDP$/i, 'outer UDP'));
  return out.length ? out.join(', ') : 'none';
}

function speed(mbps: number): string {
  if (!mbps) return 'speed unknown';
  return mbps >= 1000 && mbps % 1000 === 0 ? `${mbps / 1000} Gb/s` : `${mbps} Mb/s`;
}

/** The verdict on one probed port. */
export function portCheck(cfg: Config, i: number, info: NativePortInfo): Check {
  const p = cfg.ports[i]!;
  const workers = cfg.dpdk.lcores.workers.length;
  const dev = parseDevice(p.device);
  const ring = dev?.kind === 'ring';
  const warnings: { msg: string; fix: string }[] = [];
  const errors: { msg: string; fix: string }[] = [];

  const link = info.linkUp ? `link up, ${speed(info.linkSpeedMbps)}` : 'link DOWN';
  if (!info.linkUp && !ring) {
    const iface = /iface=([^,]+)/.exec(p.device)?.[1];
    warnings.push({
      msg: 'the link is down',
      fix: iface ? `ip link set ${iface} up, and bring up its peer` : 'check the cable, the transceiver and the switch port',
    });
  }
  if (workers > 1 && info.spreading.startsWith('none:') && !ring) {
    warnings.push({
      msg: `client flows cannot be spread over the ${workers} workers (${info.spreading})`,
      fix: 'use a NIC with RSS, or run one worker',
    });
  }
  const auto = `${info.steering}: ${info.steeringReason}`;
  let steering = `steering (auto): ${auto}`;
  if (p.steering === 'flow' && info.steering === 'redirect') {
    errors.push({
      msg: `steering: flow is configured but the port does not take the flow rules (${info.steeringReason.replace(/^fallback: /, '')})`,
      fix: `set ports[${i}].steering: auto (or redirect); \`fullnat start\` refuses this port as configured`,
    });
    steering = `steering: flow configured, auto would choose ${auto}`;
  } else if (p.steering !== 'auto' && info.steering !== 'none') {
    steering = `steering: ${p.steering} configured; auto would choose ${auto}`;
  }

  const details = [
    `driver ${info.driver}, MAC ${info.mac}, ${link}${info.numaNode >= 0 ? `, NUMA node ${info.numaNode}` : ''}`,
    `queues: ${workers} RX / ${workers} TX used (one per worker), device max ${info.maxRxQueues} / ${info.maxTxQueues}`,
    `RSS: ${info.rss ? `yes, RETA size ${info.retaSize}` : 'no'}; spreading of client flows: ${info.spreading}`,
    `checksum offloads: TX ${cksums(info.txOffloads)}; RX ${cksums(info.rxOffloads)}`,
    steering,
  ];
  const status = errors.length ? 'error' : warnings.length ? 'warning' : 'ok';
  const worst = [...errors, ...warnings];
  return {
    group: 'ports',
    id: 'port.probe',
    subject: `port ${p.name}`,
    status,
    message: worst.length ? worst.map((w) => w.msg).join('; ') : `${info.driver}, ${link}, steering ${info.steering}`,
    details,
    fix: worst.length ? worst.map((w) => w.fix).join('; ') : undefined,
    data: { steering: info.steering, steeringReason: info.steeringReason, configuredSteering: p.steering },
  };
}
