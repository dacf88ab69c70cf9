// Preflight checks against synthetic sysfs/procfs trees: every check's
// verdict and fix text, memory sizing before EAL, the probe's report through
// a stand-in data plane, exit codes, text and JSON output.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import type { NativePortInfo } from '../../src/native';
import { MockNative } from '../lib/mock-native';
import { buildPlan } from '../../src/plan/build';
import { checkCpus, checkHugepages, checkMemory, checkPciPorts, checkVdevPorts, readHugepages } from '../../src/preflight/checks';
import { formatReport, preflight, runPreflight, sysRootsUnder, type Check, type SysRoots } from '../../src/preflight';
import { probeSetup } from '../../src/preflight/probe';
import { formatCpuList, parseCpuList, parseSizeKb, readMounts } from '../../src/preflight/sys';

// --- synthetic trees ---------------------------------------------------------------

interface Host {
  present: string;
  online: string;
  isolated: string;
  nohz: string | null;
  nodes: Record<number, { cpulist: string; huge: Record<number, { total: number; free: number }> }>;
  huge: Record<number, { total: number; free: number; resv?: number }>;
  mounts: string[];
  hugeKb: number;
  pci: Record<string, { driver?: string; numa: number; cls?: string; net?: string[]; group?: string }>;
  groups: Record<string, string[]>;
  noiommu: boolean;
  net: Record<string, { up: boolean; oper: string }>;
}

/** A healthy 8-CPU, 2-node host: 2 NICs on node 0 bound to vfio-pci, IOMMU on, 1 GiB of 2M pages on node 0, workers 2-3 isolated. */
function goodHost(): Host {
  return {
    present: '0-7',
    online: '0-7',
    isolated: '1-3',
    nohz: '1-3',
    nodes: {
      0: { cpulist: '0-3', huge: { 2048: { total: 512, free: 512 }, 1048576: { total: 0, free: 0 } } },
      1: { cpulist: '4-7', huge: { 2048: { total: 0, free: 0 }, 1048576: { total: 0, free: 0 } } },
    },
    huge: { 2048: { total: 512, free: 512 }, 1048576: { total: 0, free: 0 } },
    mounts: ['sysfs /sys sysfs rw,nosuid 0 0', 'hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0'],
    hugeKb: 2048,
    pci: {
      '0000:03:00.0': { driver: 'vfio-pci', numa: 0, cls: '0x020000', group: '5' },
      '0000:03:00.1': { driver: 'vfio-pci', numa: 0, cls: '0x020000', group: '6' },
    },
    groups: { '5': ['0000:03:00.0'], '6': ['0000:03:00.1'] },
    noiommu: false,
    net: { gw0: { up: true, oper: 'up' } },
  };
}

const roots: string[] = [];
after(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text + '\n');
}

function buildTree(h: Host): SysRoots {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fn-preflight-'));
  roots.push(root);
  const sys = sysRootsUnder(root);
  write(path.join(sys.cpu, 'present'), h.present);
  write(path.join(sys.cpu, 'online'), h.online);
  write(path.join(sys.cpu, 'isolated'), h.isolated);
  if (h.nohz !== null) write(path.join(sys.cpu, 'nohz_full'), h.nohz);
  for (const [n, node] of Object.entries(h.nodes)) {
    write(path.join(sys.nodes, `node${n}`, 'cpulist'), node.cpulist);
    for (const [kb, p] of Object.entries(node.huge)) {
      const d = path.join(sys.nodes, `node${n}`, 'hugepages', `hugepages-${kb}kB`);
      write(path.join(d, 'nr_hugepages'), String(p.total));
      write(path.join(d, 'free_hugepages'), String(p.free));
    }
  }
  for (const [kb, p] of Object.entries(h.huge)) {
    const d = path.join(sys.hugepages, `hugepages-${kb}kB`);
    write(path.join(d, 'nr_hugepages'), String(p.total));
    write(path.join(d, 'free_hugepages'), String(p.free));
    write(path.join(d, 'resv_hugepages'), String(p.resv ?? 0));
    write(path.join(d, 'surplus_hugepages'), '0');
  }
  write(sys.mounts, h.mounts.join('\n'));
  write(sys.meminfo, `MemTotal:       16000000 kB\nHugepagesize:       ${h.hugeKb} kB`);
  fs.mkdirSync(sys.pci, { recursive: true });
  for (const [addr, d] of Object.entries(h.pci)) {
    const dir = path.join(sys.pci, addr);
    write(path.join(dir, 'numa_node'), String(d.numa));
    write(path.join(dir, 'class'), d.cls ?? '0x020000');
    write(path.join(dir, 'vendor'), '0x8086');
    if (d.driver) fs.symlinkSync(`../../../bus/pci/drivers/${d.driver}`, path.join(dir, 'driver'));
    for (const i of d.net ?? []) fs.mkdirSync(path.join(dir, 'net', i), { recursive: true });
    if (d.group) fs.symlinkSync(path.join(sys.iommuGroups, d.group), path.join(dir, 'iommu_group'));
  }
  fs.mkdirSync(sys.iommuGroups, { recursive: true });
  for (const [g, devs] of Object.entries(h.groups)) {
    for (const a of devs) fs.mkdirSync(path.join(sys.iommuGroups, g, 'devices', a), { recursive: true });
  }
  write(sys.vfioNoiommu, h.noiommu ? 'Y' : 'N');
  write(sys.route, 'Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0100000A\t0003\neth0\t0000000A\t00000000\t0001');
  fs.mkdirSync(sys.net, { recursive: true });
  for (const [i, n] of Object.entries(h.net)) {
    write(path.join(sys.net, i, 'flags'), n.up ? '0x1003' : '0x1002');
    write(path.join(sys.net, i, 'operstate'), n.oper);
  }
  return sys;
}

function host(edit: (h: Host) => void = () => undefined): SysRoots {
  const h = goodHost();
  edit(h);
  return buildTree(h);
}

const PCI_CONFIG = `
dpdk: { lcores: { main: 0, workers: [2, 3] }, memory_mb: 512, hugepages: true }
ports:
  - { name: wan, device: "0000:03:00.0", addresses: [198.18.0.254/24] }
  - { name: lan, device: "0000:03:00.1", addresses: [198.19.0.254/24] }
local_addresses:
  p1: { port: lan, addresses: [198.19.0.10, 198.19.0.11] }
services:
  - { name: web, vip: 198.18.0.100, port: 80, protocol: tcp, local_addresses: p1, real_servers: [{ address: 198.19.0.2, port: 8080 }] }
`;

function cfgOf(yaml: string = PCI_CONFIG, edit?: (text: string) => string): Config {
  return parseConfig(edit ? edit(yaml) : yaml, 'test.yaml');
}

function configFile(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fn-preflight-cfg-'));
  roots.push(dir);
  const f = path.join(dir, 'gw.yaml');
  fs.writeFileSync(f, yaml);
  return f;
}

const need = (cfg: Config) => ({ memoryMb: cfg.dpdk.memory_mb, neededMb: buildPlan(cfg).memoryNeededMb });
const byId = (checks: Check[], id: string) => checks.filter((c) => c.id === id);
const one = (checks: Check[], id: string): Check => {
  const found = byId(checks, id);
  assert.equal(found.length, 1, `expected one ${id} check, got ${JSON.stringify(checks, null, 1)}`);
  return found[0]!;
};

// --- readers -----------------------------------------------------------------------

describe('sysfs readers', () => {
  test('CPU lists parse and format', () => {
    assert.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList(''), []);
    assert.deepEqual(parseCpuList('(null)'), []);
    assert.equal(formatCpuList([3, 0, 1, 2, 8, 10, 11]), '0-3,8,10-11');
  });
  test('page sizes and mounts', () => {
    assert.equal(parseSizeKb('2M'), 2048);
    assert.equal(parseSizeKb('1G'), 1048576);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fn-mounts-'));
    roots.push(dir);
    fs.writeFileSync(path.join(dir, 'mounts'), 'nodev /mnt/huge\\040pages hugetlbfs rw,pagesize=1024M 0 0\n');
    assert.deepEqual(readMounts(path.join(dir, 'mounts')), [{ source: 'nodev', target: '/mnt/huge pages', type: 'hugetlbfs', options: ['rw', 'pagesize=1024M'] }]);
  });
  test('hugepage pools are read per size and per node', () => {
    const sizes = readHugepages(host());
    assert.deepEqual(
      sizes.map((s) => [s.kb, s.total, s.free, s.mounts]),
      [
        [2048, 512, 512, ['/dev/hugepages']],
        [1048576, 0, 0, []],
      ],
    );
    assert.deepEqual(sizes[0]!.nodes, [
      { node: 0, total: 512, free: 512 },
      { node: 1, total: 0, free: 0 },
    ]);
  });
});

// --- memory sizing -----------------------------------------------------------------

describe('memory sizing', () => {
  test('enough memory is ok, with the breakdown', () => {
    const cfg = cfgOf();
    const c = checkMemory(cfg, buildPlan(cfg));
    assert.equal(c.status, 'ok');
    assert.match(c.message, /^512 MiB configured, \d+ MiB needed$/);
    assert.match(c.details![0]!, /32766 mbufs × 2432 B .* 2 workers × 524288 sessions × 116 B/);
  });

  test('too many sessions for memory_mb: error naming the MiB needed', () => {
    const cfg = cfgOf(PCI_CONFIG + 'sessions: { max: 20000000 }\n');
    const built = buildPlan(cfg);
    const c = checkMemory(cfg, built);
    assert.equal(c.status, 'error');
    assert.ok(built.memoryNeededMb > 1600, `needed ${built.memoryNeededMb}`);
    assert.equal(c.message, `512 MiB is too little: 20000000 sessions and the mbuf pool need ${built.memoryNeededMb} MiB`);
    assert.equal(c.fix, `set dpdk.memory_mb: ${built.memoryNeededMb} (or more), or lower sessions.max / dpdk.mbufs`);
  });

  test('the sizing error stops preflight before EAL: the probe never runs, exit 2', async () => {
    const native = new MockNative();
    native.ealInit = () => assert.fail('EAL must not start when memory sizing fails');
    const file = configFile(PCI_CONFIG + 'sessions: { max: 20000000 }\n');
    const r = await runPreflight(file, { sys: host((h) => (h.huge[2048] = { total: 4096, free: 4096 })), native, isRoot: true });
    assert.equal(r.exitCode, 2);
    assert.equal(r.probed, false);
    assert.match(one(r.checks, 'memory.sizing').message, /need \d+ MiB/);
    assert.match(one(r.checks, 'probe.skipped').message, /not probed: EAL would fail/);
  });
});

// --- hugepages ---------------------------------------------------------------------

describe('hugepages', () => {
  test('enough free and mounted: ok, "needs N MiB, M free"', () => {
    const cfg = cfgOf();
    const checks = checkHugepages(cfg, need(cfg), host());
    assert.equal(one(checks, 'hugepages.mount').status, 'ok');
    const free = one(checks, 'hugepages.free');
    assert.equal(free.status, 'ok');
    assert.match(free.message, /^needs 512 MiB \(dpdk.memory_mb: EAL reserves all of it at start; mbufs and sessions use \d+ MiB of it\), 1024 MiB free$/);
    assert.match(free.details![0]!, /2M pages: 512 reserved, 512 free \(node 0: 512 reserved, 512 free; node 1: 0 reserved, 0 free\); mounted at \/dev\/hugepages/);
  });

  test('none reserved: error with the pages to reserve now and at boot', () => {
    const cfg = cfgOf();
    const sys = host((h) => {
      h.huge[2048] = { total: 0, free: 0 };
      h.nodes[0]!.huge[2048] = { total: 0, free: 0 };
    });
    const c = one(checkHugepages(cfg, need(cfg), sys), 'hugepages.free');
    assert.equal(c.status, 'error');
    assert.match(c.message, /^no hugepages reserved: needs 512 MiB .*, 0 free$/);
    assert.match(c.fix!, /^echo 256 > \/sys\/kernel\/mm\/hugepages\/hugepages-2048kB\/nr_hugepages \(now\); at boot: "vm.nr_hugepages = 256"/);
  });

  test('partly free: error "needs N MiB, M free" and how many more pages', () => {
    const cfg = cfgOf();
    const sys = host((h) => {
      h.huge[2048] = { total: 512, free: 150, resv: 50 };
      h.nodes[0]!.huge[2048] = { total: 512, free: 150 };
    });
    const c = one(checkHugepages(cfg, need(cfg), sys), 'hugepages.free');
    assert.equal(c.status, 'error');
    assert.match(c.message, /^not enough free hugepages: needs 512 MiB .*, 200 MiB free$/);
    assert.match(c.details![0]!, /512 reserved, 150 free, 50 promised to running processes/);
    // 312 MiB short = 156 pages of 2 MiB
    assert.match(c.fix!, /^reserve 156 more 2M pages: echo 668 > \/sys\/kernel\/mm\/hugepages\/hugepages-2048kB\/nr_hugepages/);
    assert.match(c.fix!, /or lower dpdk.memory_mb to no less than \d+/);
  });

  test('hugetlbfs not mounted: error with the mount command, and nothing counts as free', () => {
    const cfg = cfgOf();
    const checks = checkHugepages(cfg, need(cfg), host((h) => (h.mounts = ['sysfs /sys sysfs rw 0 0'])));
    const m = one(checks, 'hugepages.mount');
    assert.equal(m.status, 'error');
    assert.equal(m.message, 'hugetlbfs is not mounted: EAL cannot use any hugepage');
    assert.match(m.fix!, /^mkdir -p \/dev\/hugepages && mount -t hugetlbfs -o pagesize=2M nodev \/dev\/hugepages/);
    const f = one(checks, 'hugepages.free');
    assert.equal(f.status, 'error');
    assert.match(f.message, /^no usable hugepages: needs 512 MiB .*; 1024 MiB are free but in no mounted hugetlbfs$/);
    assert.equal(f.fix, 'mount hugetlbfs (see above)');
  });

  test('1G pages reserved without a 1G mount: warning, they do not count', () => {
    const cfg = cfgOf();
    const checks = checkHugepages(cfg, need(cfg), host((h) => (h.huge[1048576] = { total: 2, free: 2 })));
    const w = byId(checks, 'hugepages.mount').find((c) => c.status === 'warning')!;
    assert.match(w.message, /2 1G pages are reserved but no hugetlbfs with pagesize=1G is mounted/);
    assert.equal(w.fix, 'mkdir -p /dev/hugepages1G && mount -t hugetlbfs -o pagesize=1G nodev /dev/hugepages1G');
    assert.match(one(checks, 'hugepages.free').message, /1024 MiB free$/);
  });

  test('no hugepage support at all: error', () => {
    const cfg = cfgOf();
    const c = checkHugepages(cfg, need(cfg), host((h) => (h.huge = {})));
    assert.equal(c.length, 1);
    assert.equal(c[0]!.id, 'hugepages.support');
    assert.equal(c[0]!.status, 'error');
  });

  test('the NIC\'s node has no free hugepages: warning with the per-node reservation', () => {
    const cfg = cfgOf();
    const sys = host((h) => {
      h.pci['0000:03:00.0']!.numa = 1;
      h.pci['0000:03:00.1']!.numa = 1;
    });
    const pci = checkPciPorts(cfg, sys);
    const n = one(checkHugepages(cfg, need(cfg), sys, pci.nodes), 'hugepages.node');
    assert.equal(n.status, 'warning');
    assert.match(n.message, /^node 1 holds port wan \(0000:03:00.0\), lan \(0000:03:00.1\) but only 0 MiB of free hugepages/);
    assert.match(n.fix!, /^echo \d+ > \/sys\/devices\/system\/node\/node1\/hugepages\/hugepages-2048kB\/nr_hugepages$/);
  });

  test('hugepages: false is a warning naming --no-huge', () => {
    const cfg = cfgOf(PCI_CONFIG.replace('hugepages: true', 'hugepages: false'));
    const [c] = checkHugepages(cfg, need(cfg), host());
    assert.equal(c!.status, 'warning');
    assert.match(c!.message, /--no-huge .*fine for tests and the demo, slow for production/);
    assert.match(c!.fix!, /set dpdk.hugepages: true/);
  });
});

// --- PCI devices and IOMMU -----------------------------------------------------------

describe('PCI devices', () => {
  test('bound to vfio-pci with an IOMMU: ok, NUMA node named', () => {
    const r = checkPciPorts(cfgOf(), host());
    assert.deepEqual(r.checks.map((c) => [c.id, c.subject, c.status]), [
      ['pci.driver', 'port wan', 'ok'],
      ['pci.driver', 'port lan', 'ok'],
      ['pci.iommu', 'IOMMU', 'ok'],
    ]);
    assert.equal(r.checks[0]!.message, '0000:03:00.0 bound to vfio-pci, NUMA node 0');
    assert.deepEqual(r.nodes, [
      { port: 'wan', address: '0000:03:00.0', node: 0 },
      { port: 'lan', address: '0000:03:00.1', node: 0 },
    ]);
  });

  test('a device that does not exist: error naming it', () => {
    const cfg = cfgOf(PCI_CONFIG.replace('0000:03:00.1', '0000:7f:1f.7'));
    const c = checkPciPorts(cfg, host()).checks.find((x) => x.subject === 'port lan')!;
    assert.equal(c.status, 'error');
    assert.equal(c.message, 'no PCI device 0000:7f:1f.7 on this machine');
    assert.match(c.fix!, /lspci -D/);
  });

  test('bound to a kernel driver: error with the dpdk-devbind fix', () => {
    const sys = host((h) => (h.pci['0000:03:00.0'] = { driver: 'ixgbe', numa: 0, net: ['eth2'] }));
    const c = checkPciPorts(cfgOf(), sys).checks.find((x) => x.subject === 'port wan')!;
    assert.equal(c.status, 'error');
    assert.equal(c.message, '0000:03:00.0 is bound to the kernel driver ixgbe (interface eth2): DPDK cannot use it, NUMA node 0');
    assert.match(c.fix!, /^ip link set eth2 down && dpdk-devbind.py -b vfio-pci 0000:03:00.0 /);
    assert.match(c.fix!, /driverctl set-override 0000:03:00.0 vfio-pci/);
    assert.equal(c.details!.length, 1);
  });

  test('bound to the kernel driver of the interface with the default route: the warning says so', () => {
    const sys = host((h) => (h.pci['0000:03:00.0'] = { driver: 'virtio-pci', numa: -1, net: ['eth0'] }));
    const c = checkPciPorts(cfgOf(), sys).checks.find((x) => x.subject === 'port wan')!;
    assert.equal(c.status, 'error');
    assert.match(c.message, /NUMA node unknown/);
    assert.equal(c.details![1], "eth0 carries this host's default route: binding it cuts the host off its network; is this the right device?");
  });

  test('bound to no driver: error; mlx5_core: ok (bifurcated); uio_pci_generic: ok', () => {
    const sys = host((h) => {
      h.pci['0000:03:00.0'] = { numa: 0 };
      h.pci['0000:03:00.1'] = { driver: 'mlx5_core', numa: 0 };
    });
    const checks = checkPciPorts(cfgOf(), sys).checks;
    const wan = checks.find((x) => x.subject === 'port wan')!;
    assert.equal(wan.status, 'error');
    assert.match(wan.message, /not bound to any driver/);
    assert.match(wan.fix!, /dpdk-devbind.py -b vfio-pci 0000:03:00.0/);
    const lan = checks.find((x) => x.subject === 'port lan')!;
    assert.equal(lan.status, 'ok');
    assert.match(lan.message, /mlx5_core \(bifurcated/);
    const uio = checkPciPorts(cfgOf(), host((h) => (h.pci['0000:03:00.0']!.driver = 'uio_pci_generic'))).checks[0]!;
    assert.equal(uio.status, 'ok');
  });

  test('IOMMU off with vfio-pci: error with the boot parameters', () => {
    const sys = host((h) => {
      h.groups = {};
      for (const d of Object.values(h.pci)) delete d.group;
    });
    const c = one(checkPciPorts(cfgOf(), sys).checks, 'pci.iommu');
    assert.equal(c.status, 'error');
    assert.match(c.message, /vfio-pci needs an IOMMU and none is on .*port wan, lan cannot be opened/);
    assert.match(c.fix!, /intel_iommu=on iommu=pt/);
    assert.match(c.fix!, /enable_unsafe_noiommu_mode/);
  });

  test('IOMMU off but vfio no-IOMMU mode: ok', () => {
    const sys = host((h) => {
      h.groups = {};
      for (const d of Object.values(h.pci)) delete d.group;
      h.noiommu = true;
    });
    const c = one(checkPciPorts(cfgOf(), sys).checks, 'pci.iommu');
    assert.equal(c.status, 'ok');
    assert.match(c.message, /no-IOMMU mode/);
  });

  test('IOMMU off while the NICs are still on a kernel driver: warning', () => {
    const sys = host((h) => {
      h.groups = {};
      h.pci['0000:03:00.0'] = { driver: 'ixgbe', numa: 0 };
      h.pci['0000:03:00.1'] = { driver: 'ixgbe', numa: 0 };
    });
    const c = one(checkPciPorts(cfgOf(), sys).checks, 'pci.iommu');
    assert.equal(c.status, 'warning');
    assert.match(c.message, /binding to vfio-pci will fail/);
  });

  test('an IOMMU group shared with a device on a kernel driver: error', () => {
    const sys = host((h) => {
      h.pci['0000:03:00.1'] = { driver: 'ixgbe', numa: 0, group: '5' };
      h.groups = { '5': ['0000:03:00.0', '0000:03:00.1'] };
    });
    const cfg = cfgOf(PCI_CONFIG.replace('0000:03:00.1', '0000:03:00.0').replace('name: lan, device: "0000:03:00.0"', 'name: lan, device: "ring:x"'));
    const c = one(checkPciPorts(cfg, sys).checks, 'pci.iommu_group');
    assert.equal(c.status, 'error');
    assert.match(c.message, /IOMMU group 5 of 0000:03:00.0 also holds 0000:03:00.1 \(bound to ixgbe\)/);
    assert.match(c.fix!, /dpdk-devbind.py -b vfio-pci 0000:03:00.1/);
  });

  test('not a network controller: warning', () => {
    const c = checkPciPorts(cfgOf(), host((h) => (h.pci['0000:03:00.0']!.cls = '0x010802'))).checks[0]!;
    assert.equal(c.id, 'pci.class');
    assert.equal(c.status, 'warning');
  });
});

// --- vdev ports --------------------------------------------------------------------

describe('vdev ports', () => {
  const VDEV = `
dpdk: { lcores: { main: 0, workers: [1] } }
ports:
  - { name: wan, device: "net_af_packet0,iface=gw0" }
  - { name: lan, device: "net_af_packet1,iface=gw1" }
  - { name: t, device: "ring:r0" }
`;
  test('interface missing: error (checkDevices), down: warning, ring: note', () => {
    const checks = checkVdevPorts(cfgOf(VDEV), host((h) => (h.net = { gw1: { up: false, oper: 'down' } })));
    assert.deepEqual(checks.map((c) => [c.subject, c.status]), [
      ['port wan', 'error'],
      ['port lan', 'warning'],
      ['port t', 'info'],
    ]);
    assert.match(checks[0]!.message, /interface gw0 does not exist in this network namespace/);
    assert.match(checks[0]!.fix!, /ip link show/);
    assert.equal(checks[1]!.fix, 'ip link set gw1 up');
  });
  test('present and up: ok; up without carrier: warning', () => {
    const checks = checkVdevPorts(cfgOf(VDEV), host((h) => (h.net = { gw0: { up: true, oper: 'up' }, gw1: { up: true, oper: 'lowerlayerdown' } })));
    assert.equal(checks[0]!.status, 'ok');
    assert.equal(checks[0]!.message, 'net_af_packet0 attaches to interface gw0 (up)');
    assert.equal(checks[1]!.status, 'warning');
    assert.match(checks[1]!.message, /no carrier/);
  });
});

// --- CPUs --------------------------------------------------------------------------

describe('CPUs', () => {
  const nodes = (cfg: Config, sys: SysRoots) => checkPciPorts(cfg, sys).nodes;

  test('online, isolated, on the NICs\' node: all ok', () => {
    const cfg = cfgOf();
    const sys = host();
    const checks = checkCpus(cfg, sys, nodes(cfg, sys));
    assert.deepEqual(checks.map((c) => [c.id, c.status]), [
      ['cpus.online', 'ok'],
      ['cpus.isolated', 'ok'],
      ['cpus.numa', 'ok'],
    ]);
    assert.equal(checks[0]!.message, 'main lcore 0 on CPU 0; worker lcores 2, 3 on CPUs 2, 3; all online (online: 0-7)');
    assert.equal(checks[1]!.message, 'worker CPUs 2-3 isolated, nohz_full');
  });

  test('a CPU offline: error with the echo to bring it back', () => {
    const c = one(checkCpus(cfgOf(), host((h) => (h.online = '0-2,4-7'))), 'cpus.online');
    assert.equal(c.status, 'error');
    assert.equal(c.message, 'worker lcore 3: CPU 3 is offline');
    assert.match(c.fix!, /^echo 1 > \/sys\/devices\/system\/cpu\/cpu3\/online/);
  });

  test('a CPU that does not exist: error', () => {
    const c = one(checkCpus(cfgOf(), host((h) => ((h.present = '0-2'), (h.online = '0-2')))), 'cpus.exist');
    assert.equal(c.status, 'error');
    assert.match(c.message, /worker lcore 3: CPU 3 does not exist on this machine \(CPUs 0-2\)/);
  });

  test('workers not isolated: warning with isolcpus / nohz_full', () => {
    const c = one(checkCpus(cfgOf(), host((h) => ((h.isolated = ''), (h.nohz = null)))), 'cpus.isolated');
    assert.equal(c.status, 'warning');
    assert.match(c.message, /^worker CPUs 2-3 are not isolated \(isolated: none\)/);
    assert.match(c.fix!, /isolcpus=2-3 nohz_full=2-3 rcu_nocbs=2-3/);
    assert.match(c.fix!, /main lcore \(CPU 0\)/);
  });

  test('isolated without nohz_full: ok, with the hint', () => {
    const c = one(checkCpus(cfgOf(), host((h) => (h.nohz = ''))), 'cpus.isolated');
    assert.equal(c.status, 'ok');
    assert.match(c.details![0]!, /not in nohz_full/);
  });

  test('a worker on another NUMA node than the NICs: warning naming the node\'s CPUs', () => {
    const cfg = cfgOf(PCI_CONFIG.replace('workers: [2, 3]', 'workers: [2, 5]'));
    const sys = host((h) => (h.isolated = '1-7'));
    const c = one(checkCpus(cfg, sys, nodes(cfg, sys)), 'cpus.numa');
    assert.equal(c.status, 'warning');
    assert.equal(c.message, 'worker lcore 5 on node 1, ports wan (0000:03:00.0), lan (0000:03:00.1) on node 0: every packet those workers handle crosses the interconnect between nodes');
    assert.match(c.fix!, /run the workers on CPUs of node 0 \(1-3\)/);
  });

  test('workers sharing a CPU: warning', () => {
    const cfg = cfgOf(PCI_CONFIG.replace('workers: [2, 3]', 'workers: [2, 3], cpus: { 2: 2, 3: 2 }'));
    const c = one(checkCpus(cfg, host()), 'cpus.shared');
    assert.equal(c.status, 'warning');
    assert.match(c.message, /worker lcore 2 and worker lcore 3 share CPU 2/);
  });
});

// --- the whole run, with a stand-in data plane ----------------------------------------

class ProbeNative extends MockNative {
  cleaned = false;
  args: string[] = [];
  override ealInit(args: string[]): void {
    this.args = args;
    super.ealInit(args);
  }
  override ealCleanup(): void {
    this.cleaned = true;
    super.ealCleanup();
  }
  constructor(private readonly info: (i: number) => Partial<NativePortInfo>) {
    super();
  }
  override portInfo(i: number): NativePortInfo | null {
    const base = super.portInfo(i);
    return base && { ...base, ...this.info(i) };
  }
}

const afInfo = (i: number): Partial<NativePortInfo> => ({
  driver: 'net_ixgbe',
  steering: i === 1 ? 'flow' : 'none',
  steeringReason: i === 1 ? '4 rules validated and installed' : 'no local address (LIP) on this port',
  spreading: 'rss over 2 queues',
  rss: true,
  retaSize: 128,
  txOffloads: ['VLAN_INSERT', 'IPV4_CKSUM', 'UDP_CKSUM', 'TCP_CKSUM'],
  rxOffloads: ['IPV4_CKSUM', 'TCP_CKSUM'],
});

describe('preflight', () => {
  test('a ready host: exit 0, ports probed through the (stand-in) data plane', async () => {
    const native = new ProbeNative(afInfo);
    const file = configFile(PCI_CONFIG);
    const out: string[] = [];
    const code = await preflight(file, { sys: host(), native, isRoot: true, write: (s) => out.push(s), filePrefix: 'fn-unit-preflight' });
    const text = out.join('');
    assert.equal(code, 0, text);
    // The probe: a passive plan, no kernel interfaces, steering auto, a prefix of its own.
    assert.equal(native.cfg, null); // stopped
    assert.ok(native.cleaned);
    assert.equal(native.args[native.args.indexOf('--file-prefix') + 1], 'fn-unit-preflight');
    assert.match(text, /^fullnat preflight: .*gw\.yaml$/m);
    assert.match(text, /ok {7}port lan {2,}net_ixgbe, link up, 10 Gb\/s, steering flow/);
    assert.match(text, /checksum offloads: TX IPv4, UDP, TCP; RX IPv4, TCP/);
    assert.match(text, /RSS: yes, RETA size 128; spreading of client flows: rss over 2 queues/);
    assert.match(text, /Reply steering the gateway will use\n {2}wan {2}none {6}no local address \(LIP\) on this port\n {2}lan {2}flow {6}4 rules validated and installed/);
    assert.match(text, /Verdict: ready \(\d+ ok, 0 warnings, 0 errors\): exit 0\n$/);
  });

  test('the probe runs passive: no services, no ARP-answered addresses, no taps, auto steering', () => {
    const cfg = cfgOf(PCI_CONFIG.replace('addresses: [198.19.0.254/24] }', 'addresses: [198.19.0.254/24], steering: redirect }') + 'sessions: { max: 10000000 }\n');
    const built = buildPlan(cfg);
    const s = probeSetup(cfg, built);
    assert.deepEqual(s.plan.services, []);
    assert.deepEqual(s.plan.locals, []);
    assert.equal(s.plan.lips.length, 2);
    assert.ok(s.start.ports.every((p) => p.kernelInterface === null && p.steering === 'auto'));
    assert.equal(s.start.sessionsMax, 1024);
    assert.ok(s.memoryMb < built.memoryNeededMb && s.memoryMb <= cfg.dpdk.memory_mb);
  });

  test('steering: flow configured on a port that refuses the rules: error', async () => {
    const native = new ProbeNative((i) => ({
      steering: i === 1 ? 'redirect' : 'none',
      steeringReason: i === 1 ? 'fallback: the port rejects the steering rule: Function not implemented' : 'no local address (LIP) on this port',
    }));
    const file = configFile(PCI_CONFIG.replace('addresses: [198.19.0.254/24] }', 'addresses: [198.19.0.254/24], steering: flow }'));
    const r = await runPreflight(file, { sys: host(), native, isRoot: true });
    assert.equal(r.exitCode, 2);
    const lan = r.checks.find((c) => c.id === 'port.probe' && c.subject === 'port lan')!;
    assert.equal(lan.status, 'error');
    assert.match(lan.message, /steering: flow is configured but the port does not take the flow rules \(the port rejects the steering rule: Function not implemented\)/);
    assert.match(lan.fix!, /set ports\[1\]\.steering: auto/);
  });

  test('link down and no RSS with several workers: warnings, exit 1', async () => {
    const native = new ProbeNative((i) => ({ linkUp: i !== 0, spreading: 'none: net_foo offers no RSS, clients all land on worker 0' }));
    const r = await runPreflight(configFile(PCI_CONFIG), { sys: host(), native, isRoot: true, linkWaitMs: 50 });
    assert.equal(r.exitCode, 1);
    const wan = r.checks.find((c) => c.subject === 'port wan' && c.id === 'port.probe')!;
    assert.equal(wan.status, 'warning');
    assert.match(wan.message, /the link is down; client flows cannot be spread over the 2 workers/);
    assert.match(wan.fix!, /check the cable/);
  });

  test('a PCI address that does not exist: error before EAL, exit 2', async () => {
    const native = new MockNative();
    native.ealInit = () => assert.fail('EAL must not start');
    const out: string[] = [];
    const code = await preflight(configFile(PCI_CONFIG.replace('0000:03:00.1', '0000:7f:1f.7')), {
      sys: host(),
      native,
      isRoot: true,
      write: (s) => out.push(s),
    });
    assert.equal(code, 2);
    assert.match(out.join(''), /ERROR {4}port lan {2,}no PCI device 0000:7f:1f.7 on this machine/);
    assert.match(out.join(''), /Verdict: will not run as configured .*: exit 2/);
  });

  test('not root: the probe is skipped with a warning; --offline: a note', async () => {
    const file = configFile(PCI_CONFIG);
    const a = await runPreflight(file, { sys: host(), isRoot: false });
    assert.equal(a.exitCode, 1);
    assert.match(one(a.checks, 'probe.skipped').message, /needs root/);
    const b = await runPreflight(file, { sys: host(), offline: true });
    assert.equal(b.exitCode, 0);
    assert.equal(one(b.checks, 'probe.skipped').status, 'info');
  });

  test('a config with errors: exit 2, each named FILE:LINE:COL', async () => {
    const file = configFile(PCI_CONFIG.replace('protocol: tcp', 'protocol: tpc'));
    const r = await runPreflight(file, { sys: host(), offline: true });
    assert.equal(r.exitCode, 2);
    assert.match(r.checks[0]!.details![0]!, /gw\.yaml:\d+:\d+: services\[0\]\.protocol: expected one of tcp, udp/);
  });

  test('--json: the report as JSON', async () => {
    const out: string[] = [];
    const code = await preflight(configFile(PCI_CONFIG), { sys: host(), native: new ProbeNative(afInfo), isRoot: true, json: true, write: (s) => out.push(s) });
    const j = JSON.parse(out.join(''));
    assert.equal(code, 0);
    assert.equal(j.exitCode, 0);
    assert.equal(j.verdict, 'ok');
    assert.equal(j.probed, true);
    assert.deepEqual(j.ports.map((p: { name: string; info: { steering: string } }) => [p.name, p.info.steering]), [
      ['wan', 'none'],
      ['lan', 'flow'],
    ]);
    assert.ok(j.checks.every((c: Check) => ['ok', 'warning', 'error', 'info'].includes(c.status) && c.group && c.id && c.message));
  });

  test('text report: every check on a line with its verdict, the fix beneath', async () => {
    const r = await runPreflight(configFile(PCI_CONFIG), { sys: host((h) => (h.isolated = '')), offline: true });
    const text = formatReport(r);
    assert.match(text, /\nCPUs\n {2}ok {7}lcores .*\n {2}WARNING {2}worker CPUs .*not isolated.*\n +fix: boot with "isolcpus=2-3/);
    assert.match(text, /\nHugepages\n {2}ok {7}hugetlbfs/);
  });
});
