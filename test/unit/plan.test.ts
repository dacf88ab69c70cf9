// Config -> plan: indices, routes, LIP pools and their per-worker partition,
// ARP ownership of local addresses, memory sizing, EAL arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load';
import { parseIPv4 } from '../../src/config/net';
import { ealArgs, EalError } from '../../src/dpdk/eal';
import { buildPlan } from '../../src/plan/build';
import { lportOwner, lportSliceSizes } from '../../src/plan/lports';

const BASE = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 512 }
ports:
  - { name: wan, device: "net_af_packet0,iface=gw0", addresses: [198.18.0.254/24] }
  - { name: lan, device: "0000:03:00.0", addresses: [198.19.0.254/24] }
routes:
  - { to: 198.19.8.0/21, via: 198.19.0.1, port: lan }
local_addresses:
  p1: { port: lan, addresses: [198.19.0.10, 198.19.0.11], ports: [1024, 2047] }
services:
  - name: web
    vip: 198.18.0.100
    port: 80
    protocol: tcp
    scheduler: wrr
    local_addresses: p1
    real_servers:
      - { address: 198.19.0.2, port: 8080, weight: 2 }
      - { address: 198.19.9.9, port: 8080, weight: 1 }
  - { name: dns, vip: 198.18.0.100, port: 53, protocol: udp, local_addresses: p1, real_servers: [{ address: 198.19.0.3, port: 53 }] }
`;

test('plan resolves services, schedulers, next hops and pools', () => {
  const { plan, start } = buildPlan(parseConfig(BASE, 'base.yaml'));
  assert.deepEqual(start.ports.map((p) => [p.device, p.ring]), [['net_af_packet0', false], ['0000:03:00.0', false]]);
  assert.equal(plan.services.length, 2);
  const [web, dns] = plan.services;
  assert.deepEqual([web!.proto, web!.port, dns!.proto, dns!.port], [6, 80, 17, 53]);
  // wrr 2:1 -> [0, 1, 0] as global real-server indices.
  assert.deepEqual([...plan.sched.slice(web!.schedFirst, web!.schedFirst + web!.schedLen)], [0, 1, 0]);
  assert.deepEqual([...plan.sched.slice(dns!.schedFirst, dns!.schedFirst + dns!.schedLen)], [2]);
  // Directly connected server: next hop is itself; routed one: the route's via.
  assert.equal(plan.realServers[0]!.nexthop, parseIPv4('198.19.0.2'));
  assert.equal(plan.realServers[1]!.nexthop, parseIPv4('198.19.0.1'));
  assert.equal(plan.realServers[1]!.portIdx, 1);
  assert.deepEqual(plan.lips.map((l) => [l.portIdx, l.lo, l.hi]), [[1, 1024, 2047], [1, 1024, 2047]]);
  assert.deepEqual(plan.pools, [{ first: 0, count: 2 }]);
  assert.equal(plan.timeouts.length, 6);
});

test('ARP is answered for port addresses, VIPs in a port subnet and LIPs on their port', () => {
  const { plan } = buildPlan(parseConfig(BASE, 'base.yaml'));
  const arp = new Map(plan.locals.map((l) => [l.ip, l.arpPorts]));
  assert.equal(arp.get(parseIPv4('198.18.0.254')), 0b01);
  assert.equal(arp.get(parseIPv4('198.19.0.254')), 0b10);
  assert.equal(arp.get(parseIPv4('198.18.0.100')), 0b01); // VIP on wan only
  assert.equal(arp.get(parseIPv4('198.19.0.10')), 0b10);
  assert.equal(plan.locals.length, 5); // the VIP is listed once for both services
});

test('every port of a LIP range belongs to exactly one worker; slices differ by at most one', () => {
  for (const workers of [1, 2, 3, 4, 7]) {
    for (const [lo, hi] of [[1024, 65535], [2000, 2002], [5, 5 + workers * 3 + 1]] as const) {
      const sizes = lportSliceSizes(lo, hi, workers);
      assert.equal(sizes.reduce((a, b) => a + b, 0), hi - lo + 1);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${workers} workers ${lo}-${hi}: ${sizes}`);
      for (let p = lo; p <= hi; p++) assert.ok(lportOwner(p, workers) < workers);
    }
  }
});

test('sessions.max is split across workers and sized into the memory estimate', () => {
  const small = buildPlan(parseConfig(BASE.replace('workers: [1]', 'workers: [1, 2]') + 'sessions: { max: 1000 }\n', 'x.yaml'));
  assert.equal(small.start.sessionsMax, 500);
  const big = buildPlan(parseConfig(BASE + 'sessions: { max: 20000000 }\n', 'x.yaml'));
  assert.ok(big.memoryNeededMb > small.memoryNeededMb + 1000, `${big.memoryNeededMb} vs ${small.memoryNeededMb}`);
});

test('EAL arguments: lcores, no-huge, allow-list and vdevs; clear errors before EAL', () => {
  const cfg = parseConfig(BASE, 'base.yaml');
  const args = ealArgs(cfg, 100, { cpus: 2, defaultPrefix: 'fnx' });
  const joined = args.join(' ');
  assert.match(joined, /-l 0,1 --main-lcore 0 -m 512/);
  assert.match(joined, /--file-prefix fnx --no-huge --no-shconf/);
  assert.match(joined, /-a 0000:03:00\.0/);
  assert.match(joined, /--vdev net_af_packet0,iface=gw0/);
  assert.ok(!args.includes('--no-pci'));
  assert.throws(() => ealArgs(cfg, 100, { cpus: 1 }), (e: Error) => e instanceof EalError && /CPU 1 does not exist/.test(e.message));
  assert.throws(() => ealArgs(cfg, 4096, { cpus: 2 }), /memory_mb: 512 MiB is too little.*4096 MiB/);
});

test('several workers: lcores placed on CPUs, af_packet gets a queue pair per worker', () => {
  const cfg = parseConfig(
    BASE.replace('workers: [1] }', 'workers: [1, 2, 3], cpus: { 2: 1, 3: 1 } }').replace('"0000:03:00.0"', '"net_af_packet1,iface=gw1,qpairs=4"'),
    'multi.yaml',
  );
  const joined = ealArgs(cfg, 100, { cpus: 2 }).join(' ');
  assert.match(joined, /--lcores 0@0,1@1,2@1,3@1 --main-lcore 0/);
  assert.match(joined, /--vdev net_af_packet0,iface=gw0,qpairs=3 /);
  assert.match(joined, /--vdev net_af_packet1,iface=gw1,qpairs=4 /); // the user's own count stays
  assert.throws(
    () => parseConfig(BASE.replace('workers: [1] }', 'workers: [1], cpus: { 5: 1 } }'), 'bad.yaml'),
    /bad\.yaml:2:\d+: dpdk\.lcores\.cpus\["5"\]: expected the main or a worker lcore as key/,
  );
});
