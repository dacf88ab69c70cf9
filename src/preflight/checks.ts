// The checks that need no DPDK: memory sizing, hugepages, PCI devices and
// their drivers, IOMMU, vdev interfaces, CPUs (online, isolated, NUMA).
// Each reads only from the injectable SysRoots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/schema';
import { parseDevice } from '../config/schema';
import { checkDevices, vdevArgs } from '../dpdk/devices';
import { MBUF_BYTES, SESSION_BYTES, BASE_MEMORY_MB, WORKER_COUNTERS_MB, type BuiltPlan } from '../plan/build';
import {
  defaultHugepageKb,
  defaultRouteInterfaces,
  formatCpuList,
  linkName,
  listDir,
  pageSizeName,
  parseCpuList,
  parseSizeKb,
  readInt,
  readMounts,
  readText,
  type SysRoots,
} from './sys';
import type { Check } from './types';

const MiB = 1 << 20;

// --- memory sizing -------------------------------------------------------------

/** dpdk.memory_mb against what the mbuf pool and the session tables need (before EAL). */
export function checkMemory(cfg: Config, built: BuiltPlan): Check {
  const workers = cfg.dpdk.lcores.workers.length;
  const mbufMb = Math.ceil((built.start.mbufs * MBUF_BYTES) / MiB);
  const sessions = workers * built.start.sessionsMax;
  const sessMb = Math.ceil((sessions * SESSION_BYTES) / MiB);
  const need = built.memoryNeededMb;
  const have = cfg.dpdk.memory_mb;
  const breakdown =
    `${built.start.mbufs} mbufs × ${MBUF_BYTES} B (${mbufMb} MiB) + ${workers} worker${workers === 1 ? '' : 's'} × ` +
    `${built.start.sessionsMax} sessions × ${SESSION_BYTES} B (${sessMb} MiB) + ${workers} × ${WORKER_COUNTERS_MB} MiB of per-server counters + ${BASE_MEMORY_MB} MiB for EAL, rings and ports`;
  const data = { memoryMb: have, neededMb: need, mbufs: built.start.mbufs, sessionsPerWorker: built.start.sessionsMax, workers };
  if (need > have) {
    return {
      group: 'memory',
      id: 'memory.sizing',
      subject: 'dpdk.memory_mb',
      status: 'error',
      message: `${have} MiB is too little: ${cfg.sessions.max} sessions and the mbuf pool need ${need} MiB`,
      details: [breakdown],
      fix: `set dpdk.memory_mb: ${need} (or more), or lower sessions.max / dpdk.mbufs`,
      data,
    };
  }
  return {
    group: 'memory',
    id: 'memory.sizing',
    subject: 'dpdk.memory_mb',
    status: 'ok',
    message: `${have} MiB configured, ${need} MiB needed`,
    details: [breakdown],
    data,
  };
}

// --- hugepages -------------------------------------------------------------------

export interface HugepageSize {
  kb: number;
  /** nr_hugepages: reserved in the pool */
  total: number;
  free: number;
  /** promised to mappings but not yet faulted in: not available */
  resv: number;
  /** hugetlbfs mount points with this page size */
  mounts: string[];
  nodes: { node: number; total: number; free: number }[];
}

export function readHugepages(sys: SysRoots): HugepageSize[] {
  const mounts = (readMounts(sys.mounts) ?? []).filter((m) => m.type === 'hugetlbfs');
  const defKb = defaultHugepageKb(sys.meminfo);
  const nodeDirs = listDir(sys.nodes).filter((n) => /^node\d+$/.test(n));
  const sizes: HugepageSize[] = [];
  for (const d of listDir(sys.hugepages)) {
    const m = /^hugepages-(\d+)kB$/.exec(d);
    if (!m) continue;
    const kb = Number(m[1]);
    const dir = path.join(sys.hugepages, d);
    const mountsOf = mounts
      .filter((mt) => {
        const opt = mt.options.find((o) => o.startsWith('pagesize='));
        const k = opt ? parseSizeKb(opt.slice('pagesize='.length)) : defKb;
        return k === kb;
      })
      .map((mt) => mt.target);
    sizes.push({
      kb,
      total: readInt(path.join(dir, 'nr_hugepages')) ?? 0,
      free: readInt(path.join(dir, 'free_hugepages')) ?? 0,
      resv: readInt(path.join(dir, 'resv_hugepages')) ?? 0,
      mounts: mountsOf,
      nodes: nodeDirs
        .map((n) => {
          const nd = path.join(sys.nodes, n, 'hugepages', d);
          const total = readInt(path.join(nd, 'nr_hugepages'));
          return total === null ? null : { node: Number(n.slice(4)), total, free: readInt(path.join(nd, 'free_hugepages')) ?? 0 };
        })
        .filter((x): x is { node: number; total: number; free: number } => x !== null),
    });
  }
  return sizes.sort((a, b) => a.kb - b.kb);
}

const sizeMb = (pages: number, kb: number) => Math.floor((pages * kb) / 1024);
const pagesFor = (mb: number, kb: number) => Math.ceil((mb * 1024) / kb);

/** A port's device with its NUMA node (from sysfs), for placement checks. */
export interface PortNode {
  port: string;
  address: string;
  node: number;
}

export interface HugepageNeed {
  /** dpdk.memory_mb: EAL reserves all of it at start (-m). */
  memoryMb: number;
  /** What the data plane's mbufs and sessions use, or null when the plan did not build. */
  neededMb: number | null;
}

export function checkHugepages(cfg: Config, need: HugepageNeed, sys: SysRoots, portNodes: PortNode[] = []): Check[] {
  if (!cfg.dpdk.hugepages) {
    return [
      {
        group: 'hugepages',
        id: 'hugepages.off',
        subject: 'hugepages',
        status: 'warning',
        message: 'dpdk.hugepages is false: EAL runs with --no-huge on ordinary 4 KiB pages (fine for tests and the demo, slow for production)',
        details: ['without hugepages every packet buffer access risks a TLB miss, and PCI NICs need DMA memory that --no-huge cannot promise'],
        fix: 'reserve hugepages (see docs/production.md, "Hugepages at boot") and set dpdk.hugepages: true',
      },
    ];
  }
  const out: Check[] = [];
  const sizes = readHugepages(sys);
  if (sizes.length === 0) {
    return [
      {
        group: 'hugepages',
        id: 'hugepages.support',
        subject: 'hugepages',
        status: 'error',
        message: `this kernel offers no hugepages (nothing in ${sys.hugepages})`,
        fix: 'run a kernel built with CONFIG_HUGETLBFS, or set dpdk.hugepages: false (slow: tests only)',
      },
    ];
  }
  const defKb = defaultHugepageKb(sys.meminfo) ?? (sizes.some((s) => s.kb === 2048) ? 2048 : sizes[0]!.kb);
  const def = sizes.find((s) => s.kb === defKb) ?? sizes[0]!;
  const mounts = readMounts(sys.mounts);
  const mounted = sizes.filter((s) => s.mounts.length > 0);
  const describe = (s: HugepageSize) => {
    const nodes = s.nodes.length > 1 ? ` (${s.nodes.map((n) => `node ${n.node}: ${n.total} reserved, ${n.free} free`).join('; ')})` : '';
    const where = s.mounts.length ? `mounted at ${s.mounts.join(', ')}` : 'not mounted';
    return `${pageSizeName(s.kb)} pages: ${s.total} reserved, ${s.free} free${s.resv ? `, ${s.resv} promised to running processes` : ''}${nodes}; ${where}`;
  };
  const details = sizes.map(describe);

  // hugetlbfs: EAL finds pages only through a mount of their size.
  if (mounts === null) {
    out.push({ group: 'hugepages', id: 'hugepages.mount', subject: 'hugetlbfs', status: 'warning', message: `cannot read ${sys.mounts}` });
  } else if (mounted.length === 0) {
    out.push({
      group: 'hugepages',
      id: 'hugepages.mount',
      subject: 'hugetlbfs',
      status: 'error',
      message: 'hugetlbfs is not mounted: EAL cannot use any hugepage',
      fix:
        `mkdir -p /dev/hugepages && mount -t hugetlbfs -o pagesize=${pageSizeName(def.kb)} nodev /dev/hugepages ` +
        `(at boot: systemd's dev-hugepages.mount does it, or an /etc/fstab line "nodev /dev/hugepages hugetlbfs pagesize=${pageSizeName(def.kb)} 0 0")`,
    });
  } else {
    out.push({
      group: 'hugepages',
      id: 'hugepages.mount',
      subject: 'hugetlbfs',
      status: 'ok',
      message: `mounted: ${mounted.map((s) => `${s.mounts.join(', ')} (${pageSizeName(s.kb)})`).join('; ')}`,
    });
    for (const s of sizes) {
      if (s.total > 0 && s.mounts.length === 0) {
        const dir = `/dev/hugepages${pageSizeName(s.kb)}`;
        out.push({
          group: 'hugepages',
          id: 'hugepages.mount',
          subject: `hugetlbfs ${pageSizeName(s.kb)}`,
          status: 'warning',
          message: `${s.total} ${pageSizeName(s.kb)} pages are reserved but no hugetlbfs with pagesize=${pageSizeName(s.kb)} is mounted: EAL will not use them`,
          fix: `mkdir -p ${dir} && mount -t hugetlbfs -o pagesize=${pageSizeName(s.kb)} nodev ${dir}`,
        });
      }
    }
  }

  // Enough free: EAL reserves all of dpdk.memory_mb at start.
  const needMb = Math.max(need.memoryMb, need.neededMb ?? 0);
  const why =
    need.neededMb !== null && need.neededMb < need.memoryMb
      ? ` (dpdk.memory_mb: EAL reserves all of it at start; mbufs and sessions use ${need.neededMb} MiB of it)`
      : need.neededMb !== null && need.neededMb > need.memoryMb
        ? ' (for mbufs and sessions)'
        : '';
  const freeMb = mounted.reduce((n, s) => n + sizeMb(Math.max(0, s.free - s.resv), s.kb), 0);
  const reservedAny = sizes.some((s) => s.total > 0);
  const target = mounted.length ? mounted.reduce((a, b) => (b.total > a.total ? b : a)) : def;
  const poolFile = `/sys/kernel/mm/hugepages/hugepages-${target.kb}kB/nr_hugepages`;
  const data = { neededMb: needMb, freeMb, sizes };
  if (!reservedAny) {
    const pages = pagesFor(needMb, target.kb);
    out.push({
      group: 'hugepages',
      id: 'hugepages.free',
      subject: 'hugepages',
      status: 'error',
      message: `no hugepages reserved: needs ${needMb} MiB${why}, 0 free`,
      details,
      fix:
        `echo ${pages} > ${poolFile} (now); at boot: "vm.nr_hugepages = ${pages}" in /etc/sysctl.d/80-fullnat.conf, ` +
        `or "hugepages=${pages}" on the kernel command line (1G pages: "default_hugepagesz=1G hugepagesz=1G hugepages=N")`,
      data,
    });
  } else if (freeMb < needMb && mounted.length === 0) {
    const heldMb = sizes.reduce((n, s) => n + sizeMb(Math.max(0, s.free - s.resv), s.kb), 0);
    out.push({
      group: 'hugepages',
      id: 'hugepages.free',
      subject: 'hugepages',
      status: 'error',
      message: `no usable hugepages: needs ${needMb} MiB${why}; ${heldMb} MiB are free but in no mounted hugetlbfs`,
      details,
      fix: heldMb >= needMb ? 'mount hugetlbfs (see above)' : `mount hugetlbfs (see above) and reserve ${pagesFor(needMb - heldMb, def.kb)} more ${pageSizeName(def.kb)} pages`,
      data,
    });
  } else if (freeMb < needMb) {
    const more = pagesFor(needMb - freeMb, target.kb);
    const stale = staleHugepageFiles(mounted.flatMap((s) => s.mounts));
    out.push({
      group: 'hugepages',
      id: 'hugepages.free',
      subject: 'hugepages',
      status: 'error',
      message: `not enough free hugepages: needs ${needMb} MiB${why}, ${freeMb} MiB free`,
      details: [...details, ...(stale.length ? [`${stale.length} DPDK page files in ${[...new Set(stale.map((f) => path.dirname(f)))].join(', ')} hold pages (a running or crashed DPDK process)`] : [])],
      fix:
        `reserve ${more} more ${pageSizeName(target.kb)} pages: echo ${target.total + more} > ${poolFile} ` +
        `(and raise it at boot, see docs/production.md); or lower dpdk.memory_mb` +
        (need.neededMb !== null && need.neededMb < need.memoryMb ? ` to no less than ${need.neededMb}` : '') +
        (stale.length ? '; page files of a crashed DPDK process can be deleted once no DPDK process runs' : ''),
      data,
    });
  } else {
    out.push({
      group: 'hugepages',
      id: 'hugepages.free',
      subject: 'hugepages',
      status: 'ok',
      message: `needs ${needMb} MiB${why}, ${freeMb} MiB free`,
      details,
      data,
    });
  }

  // NUMA: a NIC's queues and buffers belong on its own node.
  const nodes = new Set(sizes.flatMap((s) => s.nodes.map((n) => n.node)));
  if (nodes.size > 1 && need.neededMb !== null) {
    const byNode = new Map<number, string[]>();
    for (const p of portNodes) if (p.node >= 0) byNode.set(p.node, [...(byNode.get(p.node) ?? []), `${p.port} (${p.address})`]);
    for (const [node, ports] of byNode) {
      const nodeFree = mounted.reduce((n, s) => n + sizeMb(s.nodes.find((x) => x.node === node)?.free ?? 0, s.kb), 0);
      const nodeTotal = target.nodes.find((x) => x.node === node)?.total ?? 0;
      if (nodeFree < need.neededMb) {
        out.push({
          group: 'hugepages',
          id: 'hugepages.node',
          subject: `NUMA node ${node}`,
          status: 'warning',
          message:
            `node ${node} holds port ${ports.join(', ')} but only ${nodeFree} MiB of free hugepages; the data plane needs ${need.neededMb} MiB: ` +
            `buffers would live on another node and every packet would cross the interconnect`,
          fix: `echo ${nodeTotal + pagesFor(need.neededMb - nodeFree, target.kb)} > /sys/devices/system/node/node${node}/hugepages/hugepages-${target.kb}kB/nr_hugepages`,
          data: { node, freeMb: nodeFree, neededMb: need.neededMb },
        });
      } else {
        out.push({
          group: 'hugepages',
          id: 'hugepages.node',
          subject: `NUMA node ${node}`,
          status: 'ok',
          message: `node ${node} holds port ${ports.join(', ')} and has ${nodeFree} MiB of free hugepages (${need.neededMb} MiB needed)`,
        });
      }
    }
  }
  return out;
}

/** DPDK's page files (rtemap_N, <prefix>map_N) in the hugetlbfs mounts. */
function staleHugepageFiles(mounts: string[]): string[] {
  return mounts.flatMap((m) => listDir(m).filter((f) => /map_\d+$/.test(f)).map((f) => path.join(m, f)));
}

// --- PCI devices -----------------------------------------------------------------

/** Drivers through which DPDK's PMDs drive the device. */
export const DPDK_DRIVERS = ['vfio-pci', 'uio_pci_generic', 'igb_uio'];
/** Kernel drivers DPDK's PMD works beside (bifurcated: flows are split in hardware). */
export const BIFURCATED_DRIVERS = ['mlx5_core', 'mlx4_core'];

export interface PciInfo {
  address: string;
  exists: boolean;
  driver: string | null;
  numaNode: number;
  cls: string | null;
  iommuGroup: string | null;
  /** Kernel interfaces of the device (only while a kernel driver holds it). */
  interfaces: string[];
}

export function readPci(sys: SysRoots, address: string): PciInfo {
  const dir = path.join(sys.pci, address);
  const exists = fs.existsSync(dir);
  return {
    address,
    exists,
    driver: linkName(path.join(dir, 'driver')),
    numaNode: readInt(path.join(dir, 'numa_node')) ?? -1,
    cls: readText(path.join(dir, 'class')),
    iommuGroup: linkName(path.join(dir, 'iommu_group')),
    // virtio-net puts its interface one level down (virtio0/net/eth0).
    interfaces: [dir, ...listDir(dir).filter((d) => /^virtio\d+$/.test(d)).map((d) => path.join(dir, d))].flatMap((d) => listDir(path.join(d, 'net'))),
  };
}

export interface PciResult {
  checks: Check[];
  /** PCI ports whose device exists, with their NUMA node (-1 unknown). */
  nodes: PortNode[];
}

export function checkPciPorts(cfg: Config, sys: SysRoots): PciResult {
  const checks: Check[] = [];
  const nodes: PortNode[] = [];
  const infos: { port: string; pci: PciInfo }[] = [];
  cfg.ports.forEach((p, i) => {
    const d = parseDevice(p.device);
    if (d?.kind !== 'pci') return;
    const pci = readPci(sys, d.id);
    const subject = `port ${p.name}`;
    if (!pci.exists) {
      checks.push({
        group: 'devices',
        id: 'pci.device',
        subject,
        status: 'error',
        message: `no PCI device ${d.id} on this machine`,
        fix: `find the NIC's address with "lspci -D | grep -i ethernet" or "dpdk-devbind.py --status" and set ports[${i}].device`,
        data: { address: d.id },
      });
      return;
    }
    infos.push({ port: p.name, pci });
    nodes.push({ port: p.name, address: d.id, node: pci.numaNode });
    const where = pci.numaNode >= 0 ? `NUMA node ${pci.numaNode}` : 'NUMA node unknown (single node)';
    const data = { address: d.id, driver: pci.driver, numaNode: pci.numaNode, class: pci.cls, iommuGroup: pci.iommuGroup };
    if (pci.cls && !pci.cls.startsWith('0x02')) {
      checks.push({
        group: 'devices',
        id: 'pci.class',
        subject,
        status: 'warning',
        message: `${d.id} is not a network controller (PCI class ${pci.cls})`,
        fix: `check the address: "lspci -D -s ${d.id}"`,
        data,
      });
    }
    const bind = `modprobe vfio-pci && dpdk-devbind.py -b vfio-pci ${d.id}`;
    if (pci.driver && DPDK_DRIVERS.includes(pci.driver)) {
      checks.push({ group: 'devices', id: 'pci.driver', subject, status: 'ok', message: `${d.id} bound to ${pci.driver}, ${where}`, data });
    } else if (pci.driver && BIFURCATED_DRIVERS.includes(pci.driver)) {
      checks.push({
        group: 'devices',
        id: 'pci.driver',
        subject,
        status: 'ok',
        message: `${d.id} bound to ${pci.driver} (bifurcated: DPDK's mlx PMD works beside the kernel driver through rdma-core), ${where}`,
        data,
      });
    } else if (pci.driver) {
      const ifs = pci.interfaces.length ? ` (interface ${pci.interfaces.join(', ')})` : '';
      const down = pci.interfaces.map((f) => `ip link set ${f} down && `).join('');
      checks.push({
        group: 'devices',
        id: 'pci.driver',
        subject,
        status: 'error',
        message: `${d.id} is bound to the kernel driver ${pci.driver}${ifs}: DPDK cannot use it, ${where}`,
        details: pci.interfaces.length
          ? [
              `binding it to vfio-pci removes ${pci.interfaces.join(', ')} from the host: make sure nothing (management, SSH) depends on it`,
              ...pci.interfaces
                .filter((f) => defaultRouteInterfaces(sys.route).includes(f))
                .map((f) => `${f} carries this host's default route: binding it cuts the host off its network; is this the right device?`),
            ]
          : undefined,
        fix: `${down}dpdk-devbind.py -b vfio-pci ${d.id} (modprobe vfio-pci first; to keep it across reboots: driverctl set-override ${d.id} vfio-pci)`,
        data,
      });
    } else {
      checks.push({
        group: 'devices',
        id: 'pci.driver',
        subject,
        status: 'error',
        message: `${d.id} is not bound to any driver, ${where}`,
        fix: `${bind} (to keep it across reboots: driverctl set-override ${d.id} vfio-pci)`,
        data,
      });
    }
  });
  if (infos.length) checks.push(...checkIommu(sys, infos));
  return { checks, nodes };
}

function checkIommu(sys: SysRoots, infos: { port: string; pci: PciInfo }[]): Check[] {
  const out: Check[] = [];
  const groups = listDir(sys.iommuGroups);
  const noiommu = /^(Y|1)$/i.test(readText(sys.vfioNoiommu) ?? '');
  const vfio = infos.filter((i) => i.pci.driver === 'vfio-pci');
  const unbound = infos.filter((i) => !i.pci.driver || (!DPDK_DRIVERS.includes(i.pci.driver) && !BIFURCATED_DRIVERS.includes(i.pci.driver)));
  const fix =
    'enable VT-d / AMD-Vi in the firmware and boot with "intel_iommu=on iommu=pt" (AMD: "amd_iommu=on iommu=pt"); ' +
    'in a VM without a virtual IOMMU: "echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode" before binding; ' +
    'or bind uio_pci_generic instead of vfio-pci';
  if (groups.length > 0) {
    out.push({ group: 'devices', id: 'pci.iommu', subject: 'IOMMU', status: 'ok', message: `on (${groups.length} IOMMU groups): vfio-pci can be used` });
  } else if (noiommu) {
    out.push({
      group: 'devices',
      id: 'pci.iommu',
      subject: 'IOMMU',
      status: 'ok',
      message: 'no IOMMU, vfio in no-IOMMU mode (enable_unsafe_noiommu_mode=Y): vfio-pci works, without DMA isolation',
    });
  } else if (vfio.length) {
    out.push({
      group: 'devices',
      id: 'pci.iommu',
      subject: 'IOMMU',
      status: 'error',
      message: `vfio-pci needs an IOMMU and none is on (${sys.iommuGroups} is empty): port ${vfio.map((v) => v.port).join(', ')} cannot be opened`,
      fix,
    });
  } else if (unbound.length) {
    out.push({
      group: 'devices',
      id: 'pci.iommu',
      subject: 'IOMMU',
      status: 'warning',
      message: `no IOMMU (${sys.iommuGroups} is empty): binding to vfio-pci will fail`,
      fix,
    });
  } else {
    out.push({ group: 'devices', id: 'pci.iommu', subject: 'IOMMU', status: 'info', message: 'no IOMMU: not needed by the drivers in use' });
  }
  // vfio opens whole IOMMU groups: every other device of the group must be
  // bound to vfio-pci or to nothing (bridges excepted).
  if (groups.length > 0) {
    for (const { port, pci } of vfio) {
      if (!pci.iommuGroup) continue;
      const members = listDir(path.join(sys.pci, pci.address, 'iommu_group', 'devices')).filter((a) => a !== pci.address);
      const blockers = members
        .map((a) => ({ a, drv: linkName(path.join(sys.pci, a, 'driver')) }))
        .filter(({ drv }) => drv !== null && drv !== 'vfio-pci' && drv !== 'pcieport' && drv !== 'pci-stub');
      if (blockers.length) {
        out.push({
          group: 'devices',
          id: 'pci.iommu_group',
          subject: `port ${port}`,
          status: 'error',
          message:
            `IOMMU group ${pci.iommuGroup} of ${pci.address} also holds ${blockers.map((b) => `${b.a} (bound to ${b.drv})`).join(', ')}: ` +
            'vfio can only open a group whose devices are all bound to vfio-pci or unbound',
          fix: blockers.map((b) => `dpdk-devbind.py -b vfio-pci ${b.a}`).join('; ') + ' (or unbind them: dpdk-devbind.py -u ADDR)',
        });
      }
    }
  }
  return out;
}

// --- vdev ports ------------------------------------------------------------------

export function checkVdevPorts(cfg: Config, sys: SysRoots): Check[] {
  const out: Check[] = [];
  for (const p of cfg.ports) {
    const d = parseDevice(p.device);
    if (!d || d.kind === 'pci') continue;
    const subject = `port ${p.name}`;
    if (d.kind === 'ring') {
      out.push({
        group: 'devices',
        id: 'ring.device',
        subject,
        status: 'info',
        message: `${p.device} is an in-process ring port: for tests and benchmarks, it carries no traffic from outside`,
      });
      continue;
    }
    const problems = checkDevices({ ...cfg, ports: [p] } as Config, { net: sys.net, pci: sys.pci });
    if (problems.length) {
      const noIface = problems.some((m) => /does not exist in this network namespace/.test(m));
      out.push({
        group: 'devices',
        id: 'vdev.device',
        subject,
        status: 'error',
        message: problems.map((m) => m.replace(/^port [^:]+: /, '')).join('; '),
        fix: noIface
          ? `check the name with "ip link show" (in the namespace the gateway runs in) or correct iface= in ports[${cfg.ports.indexOf(p)}].device`
          : `correct ports[${cfg.ports.indexOf(p)}].device`,
      });
      continue;
    }
    const iface = vdevArgs(p.device).iface;
    if (!iface) {
      out.push({ group: 'devices', id: 'vdev.device', subject, status: 'ok', message: `vdev ${d.id}` });
      continue;
    }
    const flags = parseInt(readText(path.join(sys.net, iface, 'flags')) ?? '', 16);
    const oper = readText(path.join(sys.net, iface, 'operstate'));
    const adminUp = Number.isNaN(flags) ? null : (flags & 1) === 1;
    const kind = /^net_af_packet/.test(d.id) ? 'af_packet' : /^net_af_xdp/.test(d.id) ? 'af_xdp' : d.id;
    const details =
      kind === 'af_packet'
        ? ['af_packet goes through the kernel\'s packet socket: portable (veth, any NIC), slower than a PMD on a bound NIC']
        : undefined;
    if (adminUp === false) {
      out.push({
        group: 'devices',
        id: 'vdev.device',
        subject,
        status: 'warning',
        message: `${d.id} attaches to interface ${iface}, which is down`,
        details,
        fix: `ip link set ${iface} up`,
      });
    } else if (oper === 'down' || oper === 'lowerlayerdown') {
      out.push({
        group: 'devices',
        id: 'vdev.device',
        subject,
        status: 'warning',
        message: `${d.id} attaches to interface ${iface}, which is up but has no carrier (${oper})`,
        details,
        fix: `bring up the other end of ${iface} (its veth peer, cable or switch port)`,
      });
    } else {
      out.push({
        group: 'devices',
        id: 'vdev.device',
        subject,
        status: 'ok',
        message: `${d.id} attaches to interface ${iface}${oper ? ` (${oper})` : ''}`,
        details,
      });
    }
  }
  return out;
}

// --- CPUs ------------------------------------------------------------------------

export interface Lcore {
  role: 'main' | 'worker';
  lcore: number;
  cpu: number;
}

export function lcoresOf(cfg: Config): Lcore[] {
  const l = cfg.dpdk.lcores;
  const cpuOf = (n: number) => l.cpus?.[String(n)] ?? n;
  return [{ role: 'main' as const, lcore: l.main, cpu: cpuOf(l.main) }, ...l.workers.map((w) => ({ role: 'worker' as const, lcore: w, cpu: cpuOf(w) }))];
}

/** CPU -> NUMA node, from node<N>/cpulist. */
export function cpuNodes(sys: SysRoots): Map<number, number> {
  const out = new Map<number, number>();
  for (const n of listDir(sys.nodes)) {
    const m = /^node(\d+)$/.exec(n);
    if (!m) continue;
    for (const c of parseCpuList(readText(path.join(sys.nodes, n, 'cpulist')))) out.set(c, Number(m[1]));
  }
  return out;
}

const lcoreName = (l: Lcore) => `${l.role === 'main' ? 'main lcore' : 'worker lcore'} ${l.lcore}${l.cpu === l.lcore ? '' : ` (CPU ${l.cpu})`}`;

export function checkCpus(cfg: Config, sys: SysRoots, portNodes: PortNode[] = []): Check[] {
  const out: Check[] = [];
  const lcores = lcoresOf(cfg);
  const workers = lcores.filter((l) => l.role === 'worker');
  const workerCpus = [...new Set(workers.map((w) => w.cpu))].sort((a, b) => a - b);
  const mainCpu = lcores[0]!.cpu;
  const identity = workers.every((w) => w.cpu === w.lcore);
  const placement =
    `main lcore ${lcores[0]!.lcore} on CPU ${mainCpu}; ` +
    (identity
      ? `worker lcore${workers.length === 1 ? '' : 's'} ${workers.map((w) => w.lcore).join(', ')} on CPU${workers.length === 1 ? '' : 's'} ${workers.map((w) => w.cpu).join(', ')}`
      : workers.map((w) => `worker lcore ${w.lcore} on CPU ${w.cpu}`).join(', '));

  // Exist and online.
  const onlineText = readText(path.join(sys.cpu, 'online'));
  const online = parseCpuList(onlineText);
  const presentText = readText(path.join(sys.cpu, 'present')) ?? readText(path.join(sys.cpu, 'possible'));
  const present = presentText !== null ? parseCpuList(presentText) : online;
  if (onlineText === null) {
    out.push({ group: 'cpus', id: 'cpus.online', subject: 'lcores', status: 'warning', message: `cannot read ${path.join(sys.cpu, 'online')}: ${placement}` });
  } else {
    const missing = lcores.filter((l) => !present.includes(l.cpu));
    const offline = lcores.filter((l) => present.includes(l.cpu) && !online.includes(l.cpu));
    if (missing.length) {
      out.push({
        group: 'cpus',
        id: 'cpus.exist',
        subject: 'lcores',
        status: 'error',
        message: `${missing.map(lcoreName).join(', ')}: CPU ${formatCpuList(missing.map((m) => m.cpu))} does not exist on this machine (CPUs ${formatCpuList(present)})`,
        fix: `choose lcores among CPUs ${formatCpuList(online)}, or place lcores on CPUs with dpdk.lcores.cpus`,
      });
    }
    if (offline.length) {
      const cpus = [...new Set(offline.map((o) => o.cpu))];
      out.push({
        group: 'cpus',
        id: 'cpus.online',
        subject: 'lcores',
        status: 'error',
        message: `${offline.map(lcoreName).join(', ')}: CPU ${formatCpuList(cpus)} is offline`,
        fix: cpus.map((c) => `echo 1 > /sys/devices/system/cpu/cpu${c}/online`).join('; ') + ' (or choose online CPUs: ' + formatCpuList(online) + ')',
      });
    }
    if (!missing.length && !offline.length) {
      out.push({ group: 'cpus', id: 'cpus.online', subject: 'lcores', status: 'ok', message: `${placement}; all online (online: ${formatCpuList(online)})` });
    }
  }

  // Sharing: two pollers on one CPU take turns.
  const byCpu = new Map<number, Lcore[]>();
  for (const l of lcores) byCpu.set(l.cpu, [...(byCpu.get(l.cpu) ?? []), l]);
  const shared = [...byCpu].filter(([, ls]) => ls.length > 1 && ls.some((l) => l.role === 'worker'));
  if (shared.length) {
    out.push({
      group: 'cpus',
      id: 'cpus.shared',
      subject: 'lcores',
      status: 'warning',
      message: shared.map(([cpu, ls]) => `${ls.map((l) => `${l.role === 'main' ? 'main' : 'worker'} lcore ${l.lcore}`).join(' and ')} share CPU ${cpu}`).join('; ') +
        ': they take turns, each polls only part of the time',
      fix: 'give every worker a CPU of its own, and the main lcore another (dpdk.lcores.workers / dpdk.lcores.cpus)',
    });
  }

  // Isolation: workers poll 100% of the time; the scheduler should leave their CPUs alone.
  const isolated = parseCpuList(readText(path.join(sys.cpu, 'isolated')));
  const nohz = parseCpuList(readText(path.join(sys.cpu, 'nohz_full')));
  const notIsolated = workerCpus.filter((c) => !isolated.includes(c));
  const list = formatCpuList(workerCpus);
  const bootFix =
    `boot with "isolcpus=${list} nohz_full=${list} rcu_nocbs=${list}" (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot); ` +
    `keep the main lcore (CPU ${mainCpu}) and the rest of the system on the other CPUs`;
  if (notIsolated.length) {
    out.push({
      group: 'cpus',
      id: 'cpus.isolated',
      subject: 'worker CPUs',
      status: 'warning',
      message: `worker CPU${notIsolated.length === 1 ? ` ${notIsolated[0]} is` : `s ${formatCpuList(notIsolated)} are`} not isolated (isolated: ${isolated.length ? formatCpuList(isolated) : 'none'}): other tasks and interrupts run there, costing latency and drops at high rates`,
      fix: bootFix,
      data: { workerCpus, isolated, nohzFull: nohz },
    });
  } else {
    const noTick = workerCpus.filter((c) => !nohz.includes(c));
    out.push({
      group: 'cpus',
      id: 'cpus.isolated',
      subject: 'worker CPUs',
      status: 'ok',
      message: `worker CPU${workerCpus.length === 1 ? '' : 's'} ${list} isolated${noTick.length ? '' : ', nohz_full'}`,
      details: noTick.length ? [`CPU ${formatCpuList(noTick)} not in nohz_full: the timer tick still interrupts the workers; add "nohz_full=${list} rcu_nocbs=${list}" to the kernel command line`] : undefined,
      data: { workerCpus, isolated, nohzFull: nohz },
    });
  }

  // NUMA: every worker polls every port; they belong on the ports' node.
  const known = portNodes.filter((p) => p.node >= 0);
  if (known.length) {
    const nodeOf = cpuNodes(sys);
    const portNodeSet = [...new Set(known.map((p) => p.node))];
    const wrong = workers
      .map((w) => ({ ...w, node: nodeOf.get(w.cpu) }))
      .filter((w): w is Lcore & { node: number } => w.node !== undefined && known.some((p) => p.node !== w.node));
    const portsText = portNodeSet
      .map((n) => {
        const ps = known.filter((p) => p.node === n).map((p) => `${p.port} (${p.address})`);
        return `port${ps.length === 1 ? '' : 's'} ${ps.join(', ')} on node ${n}`;
      })
      .join(', ');
    const workerText = [...new Set(wrong.map((w) => w.node))]
      .map((n) => {
        const ws = wrong.filter((w) => w.node === n);
        return `worker lcore${ws.length === 1 ? '' : 's'} ${ws.map((w) => (w.cpu === w.lcore ? `${w.lcore}` : `${w.lcore} (CPU ${w.cpu})`)).join(', ')} on node ${n}`;
      })
      .join(', ');
    const cpusOfNode = (node: number) => formatCpuList([...nodeOf].filter(([, n]) => n === node).map(([c]) => c).filter((c) => c !== mainCpu));
    if (wrong.length) {
      out.push({
        group: 'cpus',
        id: 'cpus.numa',
        subject: 'NUMA placement',
        status: 'warning',
        message: `${workerText}, ${portsText}: every packet those workers handle crosses the interconnect between nodes`,
        fix:
          portNodeSet.length === 1
            ? `run the workers on CPUs of node ${portNodeSet[0]} (${cpusOfNode(portNodeSet[0]!) || 'none online'}) through dpdk.lcores.workers / dpdk.lcores.cpus`
            : `the ports sit on nodes ${portNodeSet.join(' and ')} and every worker polls every port: put the NICs in slots of one node, or accept the cross-node cost`,
        data: { portNodes: known, workerNodes: workers.map((w) => ({ lcore: w.lcore, cpu: w.cpu, node: nodeOf.get(w.cpu) ?? -1 })) },
      });
    } else {
      out.push({
        group: 'cpus',
        id: 'cpus.numa',
        subject: 'NUMA placement',
        status: 'ok',
        message: `workers on node ${portNodeSet.join(', ')} with port ${known.map((p) => p.port).join(', ')}`,
      });
    }
  }
  return out;
}
