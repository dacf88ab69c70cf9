// Where preflight reads the machine from, and small readers for sysfs/procfs
// formats. Every path is injectable so unit tests run against synthetic trees.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface SysRoots {
  /** /sys/kernel/mm/hugepages: hugepages-<N>kB/{nr,free,resv,surplus}_hugepages */
  hugepages: string;
  /** /sys/devices/system/node: node<N>/{cpulist,hugepages/...} */
  nodes: string;
  /** /sys/devices/system/cpu: present, online, isolated, nohz_full */
  cpu: string;
  /** /sys/bus/pci/devices: <ADDR>/{driver,numa_node,class,iommu_group,net} */
  pci: string;
  /** /sys/class/net: interfaces of this network namespace */
  net: string;
  /** /sys/kernel/iommu_groups: non-empty when an IOMMU is on */
  iommuGroups: string;
  /** /sys/module/vfio/parameters/enable_unsafe_noiommu_mode: Y when vfio runs without an IOMMU */
  vfioNoiommu: string;
  /** /proc/mounts */
  mounts: string;
  /** /proc/meminfo (Hugepagesize: the default page size of a hugetlbfs mount without pagesize=) */
  meminfo: string;
  /** /proc/net/route: which interface carries the default route (not to be bound) */
  route: string;
}

export const SYS: SysRoots = {
  hugepages: '/sys/kernel/mm/hugepages',
  nodes: '/sys/devices/system/node',
  cpu: '/sys/devices/system/cpu',
  pci: '/sys/bus/pci/devices',
  net: '/sys/class/net',
  iommuGroups: '/sys/kernel/iommu_groups',
  vfioNoiommu: '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode',
  mounts: '/proc/mounts',
  meminfo: '/proc/meminfo',
  route: '/proc/net/route',
};

/** The same layout under another root (a synthetic tree: ROOT/sys/..., ROOT/proc/...). */
export function sysRootsUnder(root: string): SysRoots {
  const out = {} as SysRoots;
  for (const [k, v] of Object.entries(SYS) as [keyof SysRoots, string][]) out[k] = path.join(root, v);
  return out;
}

/** File contents trimmed, or null when it cannot be read. */
export function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

export function readInt(file: string): number | null {
  const t = readText(file);
  if (t === null || !/^-?\d+$/.test(t)) return null;
  return Number(t);
}

export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Basename of a symlink's target (a device's bound driver), or null. */
export function linkName(file: string): string | null {
  try {
    return path.basename(fs.readlinkSync(file));
  } catch {
    return null;
  }
}

/** "0-3,8,10-11" -> [0,1,2,3,8,10,11]; "", "(null)" or unreadable -> []. */
export function parseCpuList(text: string | null): number[] {
  const out: number[] = [];
  if (!text) return out;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** [0,1,2,3,8] -> "0-3,8". */
export function formatCpuList(cpus: Iterable<number>): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j === i ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface Mount {
  source: string;
  target: string;
  type: string;
  options: string[];
}

/** /proc/mounts, with its octal escapes (\040 for a space) decoded. */
export function readMounts(file: string): Mount[] | null {
  const t = readText(file);
  if (t === null) return null;
  const dec = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return t
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => ({ source: dec(f[0]!), target: dec(f[1]!), type: f[2]!, options: f[3]!.split(',') }));
}

/** "2M" / "1G" / "2048k" / "2097152" (bytes) -> kB. */
export function parseSizeKb(s: string): number | null {
  const m = /^(\d+)([kKmMgG]?)[bB]?$/.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  switch (m[2]!.toLowerCase()) {
    case 'k':
      return n;
    case 'm':
      return n * 1024;
    case 'g':
      return n * 1024 * 1024;
    default:
      return Math.floor(n / 1024);
  }
}

/** "2048 kB" page size -> "2M"; 1048576 -> "1G" (the spelling mount -o pagesize= takes). */
export function pageSizeName(kb: number): string {
  if (kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}G`;
  if (kb % 1024 === 0) return `${kb / 1024}M`;
  return `${kb}K`;
}

/** Default hugepage size in kB from /proc/meminfo, or null. */
export function defaultHugepageKb(meminfo: string): number | null {
  const m = /^Hugepagesize:\s+(\d+)\s*kB/m.exec(readText(meminfo) ?? '');
  return m ? Number(m[1]) : null;
}

/** Interfaces holding an IPv4 default route, from /proc/net/route. */
export function defaultRouteInterfaces(file: string): string[] {
  return (readText(file) ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 2 && f[1] === '00000000')
    .map((f) => f[0]!);
}
